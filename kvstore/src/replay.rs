//! Replaying the WAL at open: in place when the log is large, otherwise into the recovered
//! memtable (records prepared and sorted in large chunks on this thread, inserted on another).
//!
//! **In place** ([`replay_in_place`]): the WAL maps its segments and gives each record's key
//! and value as byte ranges in them (wal's `MappedReplay`, which checks the crc32c of every
//! frame the WAL's open did not already check). The segments are walked on two threads at
//! once (`MappedReplay::split`: one replay a segment), each gathering its segment's places
//! into a [`RunPart`], 40 bytes a record; the parts are added to a [`RunBuilder`] in log
//! order, which numbers the records, sorts the places once (no sort when the log's keys
//! ascend; memtable's `bucket_sort.rs` otherwise) and makes a frozen memtable that reads the
//! keys and values from the maps. Nothing is copied and no skip list is built. The open then
//! hands that memtable to the flush thread like any full one (the WAL is rotated first, so
//! its segments are never written again; they are deleted once the flush is in the
//! manifest, the maps keep their pages until the memtable is dropped). Recovery.rs takes
//! this path when the records hold `Options::recovery_flush_bytes` or more (64 MiB by
//! default) and the file system maps files; a smaller log is copied from the run into the
//! active memtable, which goes on taking writes; a log with a compressed record, or on a file
//! system without maps (the in-memory one of the tests), is replayed the classic way below.
//!
//! Measured on the 2-vCPU VM of 2026-11-29, fresh-process reopens over 1121 MiB of WAL (9.26
//! million 16-byte keys, 100-byte values; `compare recovery-reopen`): ascending keys 3.03 s
//! (3.03-3.62, classic) -> 1.12-1.24 s in place; scrambled keys 1.59-1.76 s in place (2.32-2.47
//! s with a one-thread sort). What the open no longer does has moved, in part, to the flush
//! thread: the whole log becomes a level-0 table right after the open, while before, a log
//! smaller than the memtable stayed in it (see the figures in benches' README).
//!
//! Two gathering threads and the bucket sort (same VM, 2026-11-29 session 9, 4 interleaved
//! pairs against the one-thread walk and the sort of two halves and a merge): scrambled keys
//! 2.59-2.87 -> 1.70-1.94 s, ascending 1.13-1.53 -> 1.11-1.32 s (ahead in 4 of 4 each). With
//! scrambled keys the walk went from about 1.1 s to 0.5 s and the sort from about 1.1-1.3 s
//! to 0.75-0.95 s (numbering the parts 25-30 ms, bins 40-50 ms, moving entries to their
//! buckets 170-260 ms, sorting the buckets 0.5-0.6 s).
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
use common::{InternalIterator, RandomAccessFile, SeqNo, ValueKind};
use memtable::{MemTable, Prepared, RunBuilder, RunBytes, RunPart};
use std::sync::{mpsc, Arc, Mutex};
use wal::{MappedReplay, MappedStep, RecordBatch};

/// The log's mapped segments, as the parts a recovered run's places point into.
struct MappedSegments(Vec<Arc<dyn RandomAccessFile>>);

impl RunBytes for MappedSegments {
    fn part(&self, i: usize) -> &[u8] {
        self.0[i]
            .mapped()
            .expect("wal's MappedReplay lends only mapped segments")
    }
}

/// Replays the log from `from` in place: a frozen memtable `id` of places in the mapped
/// segments ([`RunBuilder`]), numbering the records `last_seq + 1, ...` in log order; returns
/// it and the last number given. The segments are walked on two threads at once (each
/// segment's places gathered into a [`RunPart`], added in log order). `Ok(None)` when the
/// log cannot be replayed so (no maps, a compressed record, a record the run cannot hold):
/// replay it with [`replay_into`]. Errors are the log's, as `replay_into`'s: the first one
/// in log order.
pub(crate) fn replay_in_place(
    wal: &wal::blocking::Wal,
    from: wal::Position,
    last_seq: SeqNo,
    id: u64,
) -> Result<Option<(MemTable, SeqNo)>> {
    let Some(replay) = wal.replay_mapped(from)? else {
        return Ok(None);
    };
    let mut run = RunBuilder::new(
        Arc::new(MappedSegments(replay.segments().to_vec())),
        last_seq + 1,
    );
    let segments = replay.split();
    let many = segments.len() > 1;
    let queue = Mutex::new(segments.into_iter().enumerate());
    // Each thread takes the next segment until none is left; returns what it gathered, by
    // segment index.
    let work = || {
        let mut done = Vec::new();
        loop {
            let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
            let Some((i, mut segment)) = next else {
                return done;
            };
            done.push((i, gather(&run, &mut segment)));
        }
    };
    let two = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    let mut gathered = std::thread::scope(|s| {
        // A helper that cannot be started leaves its share to this thread.
        let helper = (two && many)
            .then(|| {
                std::thread::Builder::new()
                    .name("kvstore-replay".into())
                    .spawn_scoped(s, work)
                    .ok()
            })
            .flatten();
        let mut done = work();
        if let Some(h) = helper {
            done.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        done
    });
    gathered.sort_unstable_by_key(|&(i, _)| i);
    for (_, part) in gathered {
        match part? {
            Some(part) => run.add(part),
            None => return Ok(None),
        }
    }
    let seq = run.next_seq() - 1;
    Ok(Some((run.finish(id), seq)))
}

/// The places of every record `replay` (one segment's) yields; `None` if one cannot be
/// replayed in place.
fn gather(run: &RunBuilder, replay: &mut MappedReplay) -> Result<Option<RunPart>> {
    let mut part: Option<RunPart> = None;
    loop {
        match replay.next_step()? {
            MappedStep::Record(r) => {
                let kind = if r.tombstone {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                let part = part.get_or_insert_with(|| run.part(r.segment));
                if !part.push(r.key, r.value, kind) {
                    return Ok(None);
                }
            }
            MappedStep::Compressed(_) => return Ok(None),
            // No record in the segment: an empty part.
            MappedStep::End => return Ok(Some(part.unwrap_or_else(|| run.part(0)))),
        }
    }
}

/// A memtable `id` that takes writes, holding every version of `run` (inserted in key order).
pub(crate) fn copy_run(run: MemTable, id: u64) -> MemTable {
    let mem = MemTable::new(id);
    let mut it = Arc::new(run).iter();
    let Ok(()) = it.seek_to_first();
    while it.valid() {
        mem.insert(it.user_key(), it.seq(), it.kind(), it.value());
        let Ok(()) = it.next();
    }
    mem
}

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

    /// A log of overwrites, deletes and batches over many segments, written by a database
    /// that never flushed, then reopened over the real file system three ways: in place (a
    /// run of places in the mapped segments, flushed at open), small enough to be copied into
    /// the active memtable, and replayed classically. All three must read alike, snapshots and
    /// scans included, take new writes numbered after the replayed ones, and read alike again
    /// after the run's flush and another reopen (its segments deleted by then). The records
    /// (more than memtable's `PARALLEL_SORT_MIN`, 65,536, in about 70 segments) are gathered
    /// on two threads and sorted by buckets, as a large log's are.
    #[test]
    fn a_replay_in_place_reads_as_a_classic_replay() {
        use std::collections::BTreeMap;
        const WRITES: u32 = 70_000;
        let dir = tempfile::tempdir().unwrap();
        let open = |path: &std::path::Path, flush_at: usize| {
            Db::builder(path)
                .memtable_size_bytes(256 << 20)
                .wal_segment_size_bytes(64 << 10)
                .fsync_policy(wal::FsyncPolicy::Os)
                .recovery_flush_bytes(flush_at)
                .open()
                .unwrap()
        };
        let mut model = BTreeMap::new();
        {
            let db = open(dir.path(), usize::MAX);
            for i in 0..WRITES {
                let key = format!("key-{:05}", (i * 7_919) % 3_001).into_bytes();
                match i % 17 {
                    3 => {
                        db.delete(&key).unwrap();
                        model.remove(&key);
                    }
                    5 => {
                        let mut b = db.batch();
                        let v = format!("batch-{i}").into_bytes();
                        b.put(&key, &v)
                            .delete("key-00000")
                            .put(&key, b"second in batch");
                        b.commit().unwrap();
                        model.remove(b"key-00000".as_slice());
                        model.insert(key, b"second in batch".to_vec());
                    }
                    _ => {
                        let v = format!("value-{i}-{}", "v".repeat((i % 50) as usize)).into_bytes();
                        db.put(&key, &v).unwrap();
                        model.insert(key, v);
                    }
                }
            }
            assert_eq!(db.stats().flushes, 0);
            assert!(db.stats().wal_segments > 3);
        }
        let scan = |db: &Db| db.iter().map(|r| r.unwrap()).collect::<Vec<_>>();
        let want: Vec<_> = model.clone().into_iter().collect();
        let copies: Vec<_> = [0, 1 << 30, usize::MAX]
            .into_iter()
            .map(|flush_at| {
                let copy = tempfile::tempdir().unwrap();
                for entry in walk(dir.path()) {
                    let to = copy.path().join(entry.strip_prefix(dir.path()).unwrap());
                    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                    std::fs::copy(&entry, &to).unwrap();
                }
                (flush_at, copy)
            })
            .collect();
        for (flush_at, copy) in &copies {
            let db = open(copy.path(), *flush_at);
            let in_place = *flush_at == 0;
            assert_eq!(
                db.stats().immutable_memtables + db.stats().flushes as usize > 0,
                in_place
            );
            let snap = db.snapshot();
            assert_eq!(scan(&db), want, "flush_at {flush_at}");
            for k in (0..3_001).step_by(13) {
                let key = format!("key-{k:05}").into_bytes();
                assert_eq!(db.get(&key).unwrap(), model.get(&key).cloned(), "{k}");
            }
            // New writes win over replayed ones; the snapshot still sees the old state.
            db.put("key-00001", "newest").unwrap();
            db.delete("key-00002").unwrap();
            assert_eq!(db.get("key-00001").unwrap(), Some(b"newest".to_vec()));
            assert_eq!(db.get("key-00002").unwrap(), None);
            assert_eq!(
                snap.get("key-00001").unwrap(),
                model.get(b"key-00001".as_slice()).cloned()
            );
            drop(snap);
            db.flush().unwrap();
            drop(db);
            let db = open(copy.path(), *flush_at);
            let mut after = model.clone();
            after.insert(b"key-00001".to_vec(), b"newest".to_vec());
            after.remove(b"key-00002".as_slice());
            assert_eq!(
                scan(&db),
                after.into_iter().collect::<Vec<_>>(),
                "flush_at {flush_at}"
            );
            assert!(
                db.stats().wal_segments <= 2,
                "the replayed segments are gone: {:?}",
                (flush_at, db.stats().wal_segments, db.stats().wal_bytes)
            );
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p.file_name().unwrap() != "LOCK" {
                out.push(p);
            }
        }
        out
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
