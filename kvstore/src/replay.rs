//! Replaying the WAL into the recovered memtable: the records are prepared and sorted in
//! large chunks on this thread and inserted on another.
//!
//! The WAL's replay thread reads, checksums and decodes records into batches (wal's
//! `replay.rs`). Here each record's value is copied into the memtable's arena and its key
//! built ([`MemTable::prepare`]), a chunk at a time (from [`FIRST_CHUNK_RECORDS`], doubling up
//! to [`CHUNK_RECORDS`]: small chunks start the inserter early, and while the memtable is
//! small they are as good for its cache as large ones); the chunk is sorted
//! by key ([`Prepared::sort`], one pass when the log's keys already ascend) and handed to an
//! inserting thread while this one prepares the next; once a chunk had to be sorted, a second
//! inserting thread joins (scattered inserts wait on memory, and two of them overlap). Sorting is what makes a log of random
//! keys fast to replay: a skip-list insert at a random place of a large memtable misses the
//! cache at nearly every level, while inserts in key order find the path of the previous one
//! in cache (memtable's `prepared.rs` has the measurements). Order does not change the
//! memtable's contents: every record gets its number from its place in the log (the records
//! before it fix it) whatever thread inserts it and when.
//!
//! Measured on the 2-core VM of 2026-11-28, reopening over 1121 MiB of WAL (9.26 million
//! 16-byte keys, 100-byte values) in fresh processes, interleaved with the design before (each
//! 8192-record batch inserted in log order, batches alternating between two threads): keys
//! written in ascending order 3.46-5.10 s before, 3.01-3.39 s after; in a scrambled order
//! 15.3-17.3 s before, 4.5-5.3 s after. One inserting thread for ascending keys: on this VM
//! log-order inserts of ascending keys were faster on one than on two (3.12-3.26 s against
//! 3.40-3.86 s), and the CPUs are busy anyway (the WAL's reader, this thread, page faults).
//! A second one once keys come out of order: scrambled keys, 6 interleaved pairs, median 6.0 ->
//! 5.0 s (faster in 5 of 6); ascending keys unchanged (no second thread is started).
//!
//! Errors: a WAL error ends the replay with that error (the inserter's queue is closed, it
//! finishes what it was given, and is joined before the error is returned); a panic on the
//! inserter is resumed on the caller.

use crate::error::Result;
use common::{SeqNo, ValueKind};
use memtable::{MemTable, Prepared};
use std::sync::{mpsc, Arc, Mutex};
use wal::RecordBatch;

/// Records per sorted chunk: 2^19 entries hold 28 MiB of keys and value places (the values
/// themselves are already in the memtable's arena); at most four chunks exist at a time (one
/// filling, one queued, one per inserter).
/// Measured (1121 MiB of WAL, interleaved pairs): 2^20 was no faster with ascending keys and
/// 3-8% slower with scrambled ones, and held 115 MB more at the peak; 2^18 was 10-17% slower
/// with scrambled keys.
const CHUNK_RECORDS: usize = 1 << 19;

/// Records of the first chunk; each next one doubles, up to [`CHUNK_RECORDS`]. Measured over
/// 70 MiB of WAL (578k records), compare's median of three fresh reopens: 270 -> 316 MB/s with
/// ascending keys, 221 -> 248 MB/s with scrambled ones (a first chunk of 2^19 was prepared
/// whole before any insert began); over 1121 MiB, no slower.
const FIRST_CHUNK_RECORDS: usize = 1 << 14;

/// Inserts every record `replay` yields into `mem`, numbering them `last_seq + 1, ...` in log
/// order; returns the last number given (`last_seq` if the log was empty).
pub(crate) fn replay_into(
    replay: &mut wal::Replay,
    mem: &MemTable,
    last_seq: SeqNo,
) -> Result<SeqNo> {
    replay_in_chunks(replay, mem, last_seq, CHUNK_RECORDS)
}

/// [`replay_into`] with chunks of `chunk_records`.
fn replay_in_chunks(
    replay: &mut wal::Replay,
    mem: &MemTable,
    last_seq: SeqNo,
    chunk_records: usize,
) -> Result<SeqNo> {
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if !parallel {
        return replay_here(replay, mem, last_seq, chunk_records);
    }
    std::thread::scope(|s| {
        // Chunks to insert go one way (to whichever inserter is free); emptied ones come back
        // to be filled again.
        let (full_tx, full_rx) = mpsc::sync_channel::<Prepared>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<Prepared>();
        let full_rx = Arc::new(Mutex::new(full_rx));
        let insert_chunks = move || loop {
            let next = full_rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
            let Ok(mut chunk) = next else {
                return; // the preparing side is done (or failed)
            };
            mem.insert_prepared(&mut chunk);
            // The preparing side may be gone (it failed): nothing to give back then.
            let _ = empty_tx.send(chunk);
        };
        let spawn = |name: &str| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn_scoped(s, insert_chunks.clone())
        };
        let Ok(inserter) = spawn("kvstore-replay") else {
            // No thread to be had: insert everything here.
            return replay_here(replay, mem, last_seq, chunk_records);
        };
        let mut inserters = vec![inserter];
        let mut seq = last_seq;
        let mut chunk = mem.prepared();
        let mut limit = FIRST_CHUNK_RECORDS.min(chunk_records);
        let outcome = loop {
            let batch = match replay.next_batch() {
                Ok(Some(b)) => b,
                Ok(None) => break Ok(seq),
                Err(e) => break Err(e.into()),
            };
            prepare(mem, &mut chunk, &batch, seq);
            seq += batch.len() as SeqNo;
            if chunk.len() >= limit {
                limit = (limit * 2).min(chunk_records);
                if chunk.sort() && inserters.len() == 1 {
                    // Keys out of order: inserts land all over the memtable, and a second
                    // inserter pays (see the module doc). One that cannot start is no loss.
                    inserters.extend(spawn("kvstore-replay-2"));
                }
                let next = empty_rx.try_recv().unwrap_or_else(|_| mem.prepared());
                if let Err(mpsc::SendError(mut back)) =
                    full_tx.send(std::mem::replace(&mut chunk, next))
                {
                    // Every inserter is gone (they panicked): insert here; the joins below
                    // resume the panic.
                    mem.insert_prepared(&mut back);
                }
            }
        };
        if outcome.is_ok() && !chunk.is_empty() {
            // The last chunk, here, while the inserters finish the ones before.
            chunk.sort();
            mem.insert_prepared(&mut chunk);
        }
        drop(full_tx);
        for inserter in inserters {
            if let Err(panic) = inserter.join() {
                std::panic::resume_unwind(panic);
            }
        }
        outcome
    })
}

/// [`replay_into`] on this thread alone.
fn replay_here(
    replay: &mut wal::Replay,
    mem: &MemTable,
    last_seq: SeqNo,
    chunk_records: usize,
) -> Result<SeqNo> {
    let mut seq = last_seq;
    let mut chunk = mem.prepared();
    while let Some(batch) = replay.next_batch()? {
        prepare(mem, &mut chunk, &batch, seq);
        seq += batch.len() as SeqNo;
        if chunk.len() >= chunk_records {
            chunk.sort();
            mem.insert_prepared(&mut chunk);
        }
    }
    chunk.sort();
    mem.insert_prepared(&mut chunk);
    Ok(seq)
}

/// Prepares `batch`'s records into `chunk`, numbered `after + 1, after + 2, ...`.
fn prepare(mem: &MemTable, chunk: &mut Prepared, batch: &RecordBatch, after: SeqNo) {
    for (i, (record, _pos)) in batch.iter().enumerate() {
        let kind = if record.tombstone {
            ValueKind::Delete
        } else {
            ValueKind::Put
        };
        let seq = after + 1 + i as SeqNo;
        mem.prepare(chunk, record.key, seq, kind, record.value);
    }
}

#[cfg(test)]
mod tests {
    use crate::Db;
    use common::{Lookup, MemFs};
    use memtable::MemTable;

    /// Keys in a scrambled order with overwrites and deletes, replayed in chunks far smaller
    /// than a WAL batch and than the log, on the inserting thread and here: every key must
    /// end with its last write, and every version keep its log-order number.
    #[test]
    fn a_chunked_replay_of_scrambled_keys_matches_the_log() {
        const WRITES: u64 = 30_000;
        const KEYS: u64 = 5_003;
        let fs = MemFs::new();
        let config = wal::WalConfig {
            dir: "/wal".into(),
            fs: fs.shared(),
            segment_size_bytes: 64 << 10,
            ..wal::WalConfig::default()
        };
        let key = |i: u64| format!("k{:06}", (i * 7_919) % KEYS);
        let deleted = |i: u64| i % 11 == 3;
        {
            let (wal, _) = wal::blocking::Wal::open(config.clone()).unwrap();
            for i in 0..WRITES {
                let k = key(i);
                let r = if deleted(i) {
                    wal::Record::delete(k.as_bytes())
                } else {
                    wal::Record::put(k.as_bytes(), format!("v{i}").as_bytes())
                };
                wal.append(&r).unwrap();
            }
        }
        for chunk in [1, 977, 1 << 20] {
            let (wal, _) = wal::blocking::Wal::open(config.clone()).unwrap();
            let mut replay = wal.replay_from(wal::Position::start()).unwrap();
            let mem = MemTable::new(1);
            let last = super::replay_in_chunks(&mut replay, &mem, 100, chunk).unwrap();
            assert_eq!(last, 100 + WRITES, "chunk {chunk}");
            assert_eq!(mem.len() as u64, WRITES, "chunk {chunk}");
            assert_eq!(
                (mem.min_seq(), mem.max_seq()),
                (Some(101), Some(100 + WRITES))
            );
            // The version numbered 100 + i + 1 is write i: look each up at its own number.
            for i in (0..WRITES).step_by(7) {
                let want = if deleted(i) {
                    Lookup::Deleted
                } else {
                    Lookup::Found(format!("v{i}").into_bytes())
                };
                assert_eq!(
                    mem.get(key(i).as_bytes(), 100 + i + 1),
                    want,
                    "chunk {chunk}, write {i}"
                );
            }
        }
    }

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
