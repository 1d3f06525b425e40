//! Options, their defaults, their validation, and the builder that opens a database.

use crate::db::Db;
use crate::error::{Error, Result};
use common::{FileSystem, RealFs};
pub use compaction::CompactionOptions;
use sstable::TableOptions;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use wal::FsyncPolicy;

/// Every knob of the engine. Build it with [`Db::builder`]; each field has a sensible default
/// and is checked by [`Options::validate`] at open.
#[derive(Clone)]
pub struct Options {
    /// The database directory.
    pub path: PathBuf,
    /// Create the database if the directory holds none. Default: `true`.
    pub create_if_missing: bool,
    /// A memtable this large (approximate bytes) is frozen and flushed. Under
    /// `memtable_memory_limit_bytes`, a memtable may be frozen earlier, down to half this
    /// size, when writes outpace flushes (see there). Default: 64 MiB.
    /// Allowed: 1 KiB ..= 4 GiB.
    pub memtable_size_bytes: usize,
    /// The memory all memtables together may hold (approximate bytes: the active one and the
    /// frozen ones waiting for the flush thread). A write that finds a flush running and the
    /// total at or above this waits for the flush to end. To keep writers from reaching it,
    /// memtables are then frozen early when the last memtable's write pace and the flushes'
    /// pace say that the next memtable would reach the limit while the last one flushes:
    /// at `limit / (1 + write rate x flush seconds per byte)`, between half of
    /// `memtable_size_bytes` and all of it (`Stats::memtable_freeze_bytes` shows the current
    /// point). 0: no limit beyond `max_immutable_memtables`, and every memtable is frozen at
    /// `memtable_size_bytes`. Default: 0. Allowed: 0, or at least `memtable_size_bytes`.
    pub memtable_memory_limit_bytes: usize,
    /// A log replayed at open whose records take at least this many bytes (keys, values and
    /// 40 bytes of place each) is kept where it is: a frozen memtable of places in the mapped
    /// segments, handed to the flush thread at once (see `replay.rs`). A smaller one, or one
    /// that cannot be mapped (a file system without maps, compressed records), is replayed into
    /// the active memtable, which is frozen at open only if it is full. The run counts
    /// against `memtable_memory_limit_bytes` like any frozen memtable until its flush ends, so
    /// under a limit smaller than it, writes wait for that flush. Default: 64 MiB;
    /// `usize::MAX`: never in place.
    pub recovery_flush_bytes: usize,
    /// How many frozen memtables may wait for the flush thread before writers wait.
    /// Default: 2. Allowed: 1 ..= 64.
    pub max_immutable_memtables: usize,
    /// When the WAL syncs. Default: [`FsyncPolicy::Always`] (every acknowledged write is
    /// durable; concurrent writers share fsyncs). `Batch(d)` needs 0 < d <= 10 s.
    pub fsync_policy: FsyncPolicy,
    /// The shared block cache's capacity. Default: 32 MiB; 0 turns the cache off.
    pub block_cache_bytes: usize,
    /// The WAL's segment size limit. Default: 64 MiB; at least 4 KiB. (The WAL also moves to a
    /// new segment whenever a memtable is frozen.)
    pub wal_segment_size_bytes: u64,
    /// How long a durable write waiting on another writer's fsync yields the CPU before it
    /// sleeps (see `wal::WalConfig::wait_spin`). Default: 400 us; zero sleeps at once, which
    /// leaves idle cores idle at some cost to concurrent durable writes.
    pub wal_wait_spin: std::time::Duration,
    /// The largest key + value a single write may carry. Default: 16 MiB; 1 ..= 1 GiB.
    pub max_value_bytes: u64,
    /// The manifest is rewritten as one snapshot once it grows past this. Default: 4 MiB;
    /// at least 1 KiB.
    pub max_manifest_bytes: u64,
    /// How tables are written (block size, compression, bloom bits).
    pub table: TableOptions,
    /// Background compaction threads. Default: 1; allowed 0 ..= 16. With 0 nothing compacts
    /// unless asked (`Db::compact`, `Db::compact_range`) and write flow control is off (no
    /// thread would ever lift a stop).
    pub compaction_threads: usize,
    /// Leveled compaction and write flow control (see [`CompactionOptions`]). Default: its
    /// defaults, except `level1_size_bytes_target`, which follows the advice of the
    /// compaction crate (memtable size x `level0_file_trigger`) when left at its default.
    /// `max_levels` may not exceed the manifest's 7 levels.
    pub compaction: CompactionOptions,
    /// The file system every file goes through. Default: the real one.
    pub fs: Arc<dyn FileSystem>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("path", &self.path)
            .field("create_if_missing", &self.create_if_missing)
            .field("memtable_size_bytes", &self.memtable_size_bytes)
            .field("max_immutable_memtables", &self.max_immutable_memtables)
            .field("recovery_flush_bytes", &self.recovery_flush_bytes)
            .field(
                "memtable_memory_limit_bytes",
                &self.memtable_memory_limit_bytes,
            )
            .field("fsync_policy", &self.fsync_policy)
            .field("block_cache_bytes", &self.block_cache_bytes)
            .field("wal_segment_size_bytes", &self.wal_segment_size_bytes)
            .field("wal_wait_spin", &self.wal_wait_spin)
            .field("max_value_bytes", &self.max_value_bytes)
            .field("max_manifest_bytes", &self.max_manifest_bytes)
            .field("table", &self.table)
            .field("compaction_threads", &self.compaction_threads)
            .field("compaction", &self.compaction)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// The defaults, for a database at `path`.
    pub fn new(path: impl AsRef<Path>) -> Options {
        Options {
            path: path.as_ref().to_path_buf(),
            create_if_missing: true,
            memtable_size_bytes: 64 << 20,
            max_immutable_memtables: 2,
            memtable_memory_limit_bytes: 0,
            recovery_flush_bytes: 64 << 20,
            fsync_policy: FsyncPolicy::Always,
            block_cache_bytes: 32 << 20,
            wal_segment_size_bytes: 64 << 20,
            wal_wait_spin: wal::DEFAULT_WAIT_SPIN,
            max_value_bytes: 16 << 20,
            max_manifest_bytes: 4 << 20,
            table: TableOptions::default(),
            compaction_threads: 1,
            compaction: CompactionOptions::default(),
            fs: RealFs::shared(),
        }
    }

    /// The compaction options the engine runs with: `compaction`, with
    /// `level1_size_bytes_target` = memtable size x `level0_file_trigger` if it was left at
    /// the crate's default.
    pub fn effective_compaction(&self) -> CompactionOptions {
        let mut c = self.compaction.clone();
        if c.level1_size_bytes_target == CompactionOptions::default().level1_size_bytes_target {
            c.level1_size_bytes_target =
                (self.memtable_size_bytes as u64).saturating_mul(c.level0_file_trigger as u64);
        }
        c
    }

    /// Checks every value; the first one out of range is the error.
    pub fn validate(&self) -> Result<()> {
        fn bad(name: &'static str, reason: String) -> Result<()> {
            Err(Error::InvalidOption { name, reason })
        }
        if !(1 << 10..=4 << 30).contains(&self.memtable_size_bytes) {
            return bad(
                "memtable_size_bytes",
                format!("{} is outside 1 KiB ..= 4 GiB", self.memtable_size_bytes),
            );
        }
        if !(1..=64).contains(&self.max_immutable_memtables) {
            return bad(
                "max_immutable_memtables",
                format!("{} is outside 1 ..= 64", self.max_immutable_memtables),
            );
        }
        let limit = self.memtable_memory_limit_bytes;
        if limit != 0 && limit < self.memtable_size_bytes {
            return bad(
                "memtable_memory_limit_bytes",
                format!(
                    "{limit} is below memtable_size_bytes ({}); use 0 for no limit",
                    self.memtable_size_bytes
                ),
            );
        }
        if let FsyncPolicy::Batch(d) = self.fsync_policy {
            if d.is_zero() || d > Duration::from_secs(10) {
                return bad(
                    "fsync_policy",
                    format!("Batch({d:?}): the interval must be above 0 and at most 10 s"),
                );
            }
        }
        if self.wal_segment_size_bytes < 4096 {
            return bad(
                "wal_segment_size_bytes",
                format!("{} is below 4 KiB", self.wal_segment_size_bytes),
            );
        }
        if !(1..=1 << 30).contains(&self.max_value_bytes) {
            return bad(
                "max_value_bytes",
                format!("{} is outside 1 ..= 1 GiB", self.max_value_bytes),
            );
        }
        if self.max_manifest_bytes < 1024 {
            return bad(
                "max_manifest_bytes",
                format!("{} is below 1 KiB", self.max_manifest_bytes),
            );
        }
        if self.table.block_size_bytes == 0 {
            return bad("table.block_size_bytes", "must be positive".into());
        }
        if self.compaction_threads > 16 {
            return bad(
                "compaction_threads",
                format!("{} is outside 0 ..= 16", self.compaction_threads),
            );
        }
        if self.compaction.max_levels > crate::format::NUM_LEVELS {
            return bad(
                "compaction.max_levels",
                format!(
                    "{} exceeds the manifest's {} levels",
                    self.compaction.max_levels,
                    crate::format::NUM_LEVELS
                ),
            );
        }
        if let Err(e) = self.effective_compaction().validate() {
            return bad("compaction", e.to_string());
        }
        Ok(())
    }
}

/// Opens a database: `Db::builder(path).memtable_size_bytes(..).open()`.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .open()"]
pub struct DbBuilder {
    options: Options,
}

impl DbBuilder {
    /// A builder with the default options for `path`.
    pub fn new(path: impl AsRef<Path>) -> DbBuilder {
        DbBuilder {
            options: Options::new(path),
        }
    }

    /// See [`Options::create_if_missing`].
    pub fn create_if_missing(mut self, yes: bool) -> Self {
        self.options.create_if_missing = yes;
        self
    }
    /// See [`Options::memtable_size_bytes`].
    pub fn memtable_size_bytes(mut self, bytes: usize) -> Self {
        self.options.memtable_size_bytes = bytes;
        self
    }
    /// See [`Options::max_immutable_memtables`].
    pub fn max_immutable_memtables(mut self, n: usize) -> Self {
        self.options.max_immutable_memtables = n;
        self
    }
    /// See [`Options::memtable_memory_limit_bytes`].
    pub fn memtable_memory_limit_bytes(mut self, bytes: usize) -> Self {
        self.options.memtable_memory_limit_bytes = bytes;
        self
    }
    /// See [`Options::recovery_flush_bytes`].
    pub fn recovery_flush_bytes(mut self, bytes: usize) -> Self {
        self.options.recovery_flush_bytes = bytes;
        self
    }
    /// See [`Options::fsync_policy`].
    pub fn fsync_policy(mut self, policy: FsyncPolicy) -> Self {
        self.options.fsync_policy = policy;
        self
    }
    /// See [`Options::block_cache_bytes`].
    pub fn block_cache_bytes(mut self, bytes: usize) -> Self {
        self.options.block_cache_bytes = bytes;
        self
    }
    /// See [`Options::wal_segment_size_bytes`].
    pub fn wal_segment_size_bytes(mut self, bytes: u64) -> Self {
        self.options.wal_segment_size_bytes = bytes;
        self
    }
    /// See [`Options::wal_wait_spin`].
    pub fn wal_wait_spin(mut self, spin: std::time::Duration) -> Self {
        self.options.wal_wait_spin = spin;
        self
    }
    /// See [`Options::max_value_bytes`].
    pub fn max_value_bytes(mut self, bytes: u64) -> Self {
        self.options.max_value_bytes = bytes;
        self
    }
    /// See [`Options::max_manifest_bytes`].
    pub fn max_manifest_bytes(mut self, bytes: u64) -> Self {
        self.options.max_manifest_bytes = bytes;
        self
    }
    /// See [`Options::table`].
    pub fn table_options(mut self, table: TableOptions) -> Self {
        self.options.table = table;
        self
    }
    /// See [`Options::compaction_threads`].
    pub fn compaction_threads(mut self, n: usize) -> Self {
        self.options.compaction_threads = n;
        self
    }
    /// See [`Options::compaction`].
    pub fn compaction_options(mut self, options: CompactionOptions) -> Self {
        self.options.compaction = options;
        self
    }
    /// See [`Options::fs`].
    pub fn fs(mut self, fs: Arc<dyn FileSystem>) -> Self {
        self.options.fs = fs;
        self
    }

    /// The options as set so far.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Validates the options and opens (or creates) the database.
    pub fn open(self) -> Result<Db> {
        Db::open(self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_option() {
        Options::new("/db").validate().unwrap();
        let cases: Vec<(DbBuilder, &str)> = vec![
            (
                DbBuilder::new("/db").memtable_size_bytes(10),
                "memtable_size_bytes",
            ),
            (
                DbBuilder::new("/db").max_immutable_memtables(0),
                "max_immutable_memtables",
            ),
            (
                DbBuilder::new("/db").fsync_policy(FsyncPolicy::Batch(Duration::ZERO)),
                "fsync_policy",
            ),
            (
                DbBuilder::new("/db").fsync_policy(FsyncPolicy::Batch(Duration::from_secs(60))),
                "fsync_policy",
            ),
            (
                DbBuilder::new("/db").wal_segment_size_bytes(100),
                "wal_segment_size_bytes",
            ),
            (DbBuilder::new("/db").max_value_bytes(0), "max_value_bytes"),
            (
                DbBuilder::new("/db").max_manifest_bytes(10),
                "max_manifest_bytes",
            ),
            (
                DbBuilder::new("/db").compaction_threads(17),
                "compaction_threads",
            ),
            (
                DbBuilder::new("/db").compaction_options(CompactionOptions {
                    max_levels: 8,
                    ..CompactionOptions::default()
                }),
                "compaction.max_levels",
            ),
            (
                DbBuilder::new("/db").compaction_options(CompactionOptions {
                    level0_stop_files: 2,
                    ..CompactionOptions::default()
                }),
                "compaction",
            ),
        ];
        for (b, name) in cases {
            match b.options().validate() {
                Err(Error::InvalidOption { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: expected InvalidOption, got {other:?}"),
            }
        }
    }
}
