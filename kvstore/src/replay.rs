//! Replaying the WAL into the recovered memtable, on two inserting threads when there are
//! cores for them.
//!
//! The WAL's replay thread reads, checksums and decodes records into batches (wal's
//! `replay.rs`); inserting them into the skip list is the slow part (about 250 ns a record,
//! mostly the skip list's search). The skip list takes concurrent inserts, and every record's
//! sequence number is known before it is inserted (the previous batches' lengths fix it), so
//! the batches can be applied in any order and on any thread: the memtable's content is the
//! same set of (key, sequence, kind, value) entries. Batches alternate between this thread and
//! one helper; the open waits for both before it uses the memtable.
//!
//! Errors: a WAL error ends the replay with that error (the helper's queue is closed, it
//! finishes what it was given, and is joined before the error is returned); a panic on the
//! helper is resumed on the caller.

use crate::error::Result;
use common::{SeqNo, ValueKind};
use memtable::MemTable;
use std::sync::mpsc;
use wal::RecordBatch;

/// Batches queued for the helper beyond the one it is inserting.
const HELPER_QUEUE: usize = 2;

/// Inserts every record `replay` yields into `mem`, numbering them `last_seq + 1, ...` in log
/// order; returns the last number given (`last_seq` if the log was empty).
pub(crate) fn replay_into(
    replay: &mut wal::Replay,
    mem: &MemTable,
    last_seq: SeqNo,
) -> Result<SeqNo> {
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if !parallel {
        return replay_here(replay, mem, last_seq);
    }
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::sync_channel::<(RecordBatch, SeqNo)>(HELPER_QUEUE);
        let helper = std::thread::Builder::new()
            .name("kvstore-replay".into())
            .spawn_scoped(s, move || {
                for (batch, after) in rx {
                    apply(mem, &batch, after);
                }
            });
        let Ok(helper) = helper else {
            // No thread to be had: insert everything here.
            return replay_here(replay, mem, last_seq);
        };
        let mut seq = last_seq;
        let mut mine = true;
        let outcome = loop {
            let batch = match replay.next_batch() {
                Ok(Some(b)) => b,
                Ok(None) => break Ok(seq),
                Err(e) => break Err(e.into()),
            };
            let after = seq;
            seq += batch.len() as SeqNo;
            if mine {
                apply(mem, &batch, after);
            } else if let Err(mpsc::SendError((batch, after))) = tx.send((batch, after)) {
                // The helper is gone (it panicked): do its share here; the join below
                // resumes its panic.
                apply(mem, &batch, after);
            }
            mine = !mine;
        };
        drop(tx);
        if let Err(panic) = helper.join() {
            std::panic::resume_unwind(panic);
        }
        outcome
    })
}

/// [`replay_into`] on this thread alone.
fn replay_here(replay: &mut wal::Replay, mem: &MemTable, last_seq: SeqNo) -> Result<SeqNo> {
    let mut seq = last_seq;
    while let Some(batch) = replay.next_batch()? {
        apply(mem, &batch, seq);
        seq += batch.len() as SeqNo;
    }
    Ok(seq)
}

/// Inserts `batch`'s records, numbered `after + 1, after + 2, ...`.
fn apply(mem: &MemTable, batch: &RecordBatch, after: SeqNo) {
    let mut seq = after;
    mem.insert_batch(batch.iter().map(|(record, _pos)| {
        seq += 1;
        let kind = if record.tombstone {
            ValueKind::Delete
        } else {
            ValueKind::Put
        };
        (record.key, seq, kind, record.value)
    }));
}

#[cfg(test)]
mod tests {
    use crate::Db;
    use common::MemFs;

    fn open(fs: &MemFs) -> crate::Result<Db> {
        Db::builder("/db")
            .fs(fs.shared())
            .memtable_size_bytes(256 << 20)
            .wal_segment_size_bytes(256 << 10)
            .open()
    }

    /// Enough records for many replay batches (8192 records each), so both inserting threads
    /// get some, with every key overwritten across batches: the last write must win, which
    /// holds only if every record kept its log-order number whichever thread inserted it.
    #[test]
    fn a_replay_over_many_batches_keeps_the_last_write_of_every_key() {
        const WRITES: u32 = 60_000;
        const KEYS: u32 = 700;
        let fs = MemFs::new();
        {
            let db = open(&fs).unwrap();
            for i in 0..WRITES {
                let key = format!("key-{:04}", (i * 7) % KEYS);
                if i % 13 == 5 {
                    db.delete(&key).unwrap();
                } else {
                    db.put(&key, format!("value-{i}")).unwrap();
                }
            }
            assert_eq!(db.stats().flushes, 0);
        }
        let db = open(&fs).unwrap();
        let mut last = vec![None; KEYS as usize];
        for i in 0..WRITES {
            last[((i * 7) % KEYS) as usize] = (i % 13 != 5).then(|| format!("value-{i}"));
        }
        for (k, want) in last.iter().enumerate() {
            let got = db.get(format!("key-{k:04}")).unwrap();
            assert_eq!(
                got,
                want.as_ref().map(|v| v.as_bytes().to_vec()),
                "key-{k:04}"
            );
        }
        // The numbering continues after the replayed records: a new write wins.
        db.put("key-0000", "newest").unwrap();
        drop(db);
        let db = open(&fs).unwrap();
        assert_eq!(db.get("key-0000").unwrap(), Some(b"newest".to_vec()));
    }
}
