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
    /// The size at which the active memtable will be frozen: `memtable_size_bytes`, or less
    /// under `memtable_memory_limit_bytes` when writes outpace flushes (see
    /// `Options::memtable_memory_limit_bytes`).
    pub memtable_freeze_bytes: u64,
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
    /// Times a writer had to wait for the flush thread (too many frozen memtables); stops for
    /// compaction are counted in `stops`.
    pub write_stalls: u64,
    /// Times a writer waited for a flush because the memtables held
    /// `memtable_memory_limit_bytes`, and the microseconds those waits took.
    pub memory_stalls: u64,
    pub memory_stall_micros: u64,
    /// WAL segment deletions that failed (retried by the next flush).
    pub wal_delete_failures: u64,
    /// Table files deleted after they became obsolete.
    pub tables_deleted: u64,
    /// Snapshots alive now.
    pub live_snapshots: usize,
    /// The sequence number of the oldest live snapshot (what compaction must preserve).
    pub oldest_snapshot: Option<u64>,
    /// Compactions that merged tables (trivial moves not counted).
    pub compactions: u64,
    /// Tables moved to a deeper level by a manifest edit alone.
    pub trivial_moves: u64,
    /// Table bytes compactions read.
    pub compaction_bytes_read: u64,
    /// Table bytes compactions wrote.
    pub compaction_bytes_written: u64,
    /// Compactions that failed (each retried after a backoff; see `compact_thread.rs`).
    pub compaction_failures: u64,
    /// The last compaction failure's message.
    pub last_compaction_error: Option<String>,
    /// Compactions running now.
    pub running_compactions: usize,
    /// The estimated bytes compaction must still rewrite (the compaction crate's
    /// `compaction_debt`); writes slow down and stop on it.
    pub pending_compaction_bytes: u64,
    /// Times a writer was stopped until compaction caught up.
    pub stops: u64,
    /// Total time writers spent stopped, in microseconds.
    pub stop_micros: u64,
    /// Writes delayed because compaction fell behind.
    pub slowdowns: u64,
    /// Total delay of slowed-down writes, in microseconds.
    pub slowdown_micros: u64,
}

impl Stats {
    /// Write amplification: bytes written to disk per byte users wrote, counting the WAL (as
    /// the user bytes it received) and the tables flushes and compactions wrote. 0 before any
    /// write.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        (self.user_bytes_written + self.flush_bytes_written + self.compaction_bytes_written) as f64
            / self.user_bytes_written as f64
    }

    /// Table write amplification, the LSM measure: (flush + compaction bytes written) / user
    /// bytes written, without the WAL. 0 before any write.
    pub fn table_write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        (self.flush_bytes_written + self.compaction_bytes_written) as f64
            / self.user_bytes_written as f64
    }

    /// Bytes of all live tables.
    pub fn live_table_bytes(&self) -> u64 {
        self.levels.iter().map(|l| l.size_bytes).sum()
    }

    /// Space amplification estimate, RocksDB's: live table bytes over the bytes of the deepest
    /// non-empty level, which holds nearly all live data once compaction has caught up (and
    /// counts shadowed versions and tombstones there as live: it is a lower bound). The exact
    /// measure needs the live key+value bytes, which the engine does not track. 0 when there
    /// are no tables.
    pub fn space_amplification_estimate(&self) -> f64 {
        match self.levels.iter().rev().find(|l| l.size_bytes > 0) {
            Some(last) => self.live_table_bytes() as f64 / last.size_bytes as f64,
            None => 0.0,
        }
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
        let pending_compaction_bytes = crate::compact::levels_of(&rs.version)
            .map(|l| compaction::compaction_debt(&l, &engine.copts))
            .unwrap_or(0);
        let (running_compactions, last_compaction_error) = {
            let st = lock(&engine.compact);
            (st.busy.task_count(), st.last_error.clone())
        };
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
            memtable_freeze_bytes: engine.freeze_at() as u64,
            wal_bytes,
            wal_segments,
            block_cache_hits: hits,
            block_cache_misses: misses,
            block_cache_bytes: cached,
            user_bytes_written: get(&c.user_bytes_written),
            flush_bytes_written: get(&c.flush_bytes_written),
            flushes: get(&c.flushes),
            write_stalls: get(&c.write_stalls),
            memory_stalls: get(&c.memory_stalls),
            memory_stall_micros: get(&c.memory_stall_micros),
            wal_delete_failures: get(&c.wal_delete_failures),
            tables_deleted,
            live_snapshots,
            oldest_snapshot: engine.oldest_snapshot(),
            compactions: get(&c.compactions),
            trivial_moves: get(&c.trivial_moves),
            compaction_bytes_read: get(&c.compaction_bytes_read),
            compaction_bytes_written: get(&c.compaction_bytes_written),
            compaction_failures: get(&c.compaction_failures),
            last_compaction_error,
            running_compactions,
            pending_compaction_bytes,
            stops: get(&c.stops),
            stop_micros: get(&c.stop_micros),
            slowdowns: get(&c.slowdowns),
            slowdown_micros: get(&c.slowdown_micros),
        }
    }
}
