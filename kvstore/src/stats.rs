//! [`Stats`]: what the engine has done and holds.

use crate::engine::{lock, Engine};
use crate::filename::WAL_DIR;
use crate::format::NUM_LEVELS;
use std::sync::atomic::{AtomicU64, Ordering};

/// One level's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// How many tables.
    pub files: usize,
    /// Their total size.
    pub size_bytes: u64,
}

/// A snapshot of the engine's counters and sizes.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Puts applied (each batch operation counts).
    pub puts: u64,
    /// Deletes applied.
    pub deletes: u64,
    /// Point reads served.
    pub gets: u64,
    /// Batches of more than one operation committed.
    pub batches: u64,
    /// The sequence number reads see now.
    pub visible_sequence: u64,
    /// Per level, 0 first.
    pub levels: Vec<LevelStats>,
    /// Bytes in the active and frozen memtables (approximate).
    pub memtable_bytes: u64,
    /// Frozen memtables waiting for or in a flush.
    pub immutable_memtables: usize,
    /// Bytes in the WAL directory.
    pub wal_bytes: u64,
    /// Segment files in the WAL directory.
    pub wal_segments: usize,
    /// Block cache hits.
    pub block_cache_hits: u64,
    /// Block cache misses.
    pub block_cache_misses: u64,
    /// Bytes the block cache holds.
    pub block_cache_bytes: u64,
    /// Key and value bytes users wrote.
    pub user_bytes_written: u64,
    /// Table bytes flushes wrote.
    pub flush_bytes_written: u64,
    /// Flushes completed.
    pub flushes: u64,
    /// Times a writer had to wait for the flush thread (too many frozen memtables).
    pub write_stalls: u64,
    /// WAL segment deletions that failed (retried by the next flush).
    pub wal_delete_failures: u64,
    /// Table files deleted after they became obsolete.
    pub tables_deleted: u64,
    /// Snapshots alive now.
    pub live_snapshots: usize,
    /// The sequence number of the oldest live snapshot (what compaction must preserve).
    pub oldest_snapshot: Option<u64>,
}

impl Stats {
    /// Write amplification: bytes written to disk per byte users wrote, counting the WAL (as
    /// the user bytes it received) and the tables flushes wrote. 0 before any write.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        (self.user_bytes_written + self.flush_bytes_written) as f64 / self.user_bytes_written as f64
    }

    /// Total tables over all levels.
    pub fn table_files(&self) -> usize {
        self.levels.iter().map(|l| l.files).sum()
    }

    pub(crate) fn collect(engine: &Engine) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let c = &engine.counters;
        let rs = engine.read_state();
        let levels = (0..NUM_LEVELS)
            .map(|l| LevelStats {
                files: rs.version.files(l).len(),
                size_bytes: rs.version.level_size_bytes(l),
            })
            .collect();
        let wal_dir = engine.dir.join(WAL_DIR);
        let (mut wal_bytes, mut wal_segments) = (0, 0);
        for name in engine.fs.list_dir(&wal_dir).unwrap_or_default() {
            if name == "LOCK" {
                continue;
            }
            if let Ok(n) = engine.fs.file_size(&wal_dir.join(&name)) {
                wal_bytes += n;
                wal_segments += 1;
            }
        }
        let (hits, misses, cached) = match &engine.cache {
            Some(cache) => (cache.hits(), cache.misses(), cache.usage_bytes() as u64),
            None => (0, 0, 0),
        };
        let live_snapshots = lock(&engine.snapshots).values().sum();
        let tables_deleted = lock(&engine.versions).reaper().deleted_files();
        Stats {
            puts: get(&c.puts),
            deletes: get(&c.deletes),
            gets: get(&c.gets),
            batches: get(&c.batches),
            visible_sequence: engine.visible_seq(),
            levels,
            memtable_bytes: rs
                .memtables()
                .map(|m| m.approximate_size_bytes() as u64)
                .sum(),
            immutable_memtables: rs.immutables.len(),
            wal_bytes,
            wal_segments,
            block_cache_hits: hits,
            block_cache_misses: misses,
            block_cache_bytes: cached,
            user_bytes_written: get(&c.user_bytes_written),
            flush_bytes_written: get(&c.flush_bytes_written),
            flushes: get(&c.flushes),
            write_stalls: get(&c.write_stalls),
            wal_delete_failures: get(&c.wal_delete_failures),
            tables_deleted,
            live_snapshots,
            oldest_snapshot: engine.oldest_snapshot(),
        }
    }
}
