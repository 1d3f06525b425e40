//! The engine-agnostic face every store under test wears, and how to open one by name.
//!
//! Peers (fjall, sled, redb, rocksdb) are each behind a cargo feature of the same name, as
//! another [`EngineKind`] variant and a file in `peers/` implementing [`Engine`]; the
//! workloads never change.

use crate::error::{Error, Result};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// What a workload needs from a key-value store. Object-safe and shared between the
/// benchmark's threads.
pub trait Engine: Send + Sync {
    /// A short name for reports (`kvstore`, later `sled`, ...).
    fn name(&self) -> &'static str;
    /// Sets `key` to `value` (durable per the [`EngineOptions::sync_writes`] it was opened with).
    fn put(&self, key: &[u8], value: &[u8]) -> Result<()>;
    /// The value of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Removes `key`.
    fn delete(&self, key: &[u8]) -> Result<()>;
    /// Calls `visit` on up to `limit` pairs whose keys are `>= start`, in key order; returns
    /// how many it visited.
    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize>;
    /// Makes every write so far durable.
    fn sync(&self) -> Result<()>;
    /// Moves buffered writes to the engine's on-disk structure (a memtable flush), so that
    /// read workloads read from disk rather than memory. Engines without one make it `sync`.
    fn flush(&self) -> Result<()>;
    /// Writes `pairs` as one atomic batch, durable before it returns when the engine was
    /// opened with [`EngineOptions::sync_writes`] (one durable commit for the whole batch).
    /// The default puts each pair (correct, but one commit per pair); engines with a native
    /// batch override it.
    fn write_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        for (k, v) in pairs {
            self.put(k, v)?;
        }
        Ok(())
    }
    /// Compacts everything it can (after `flush`), so that the disk size afterwards counts
    /// live data rather than shadowed versions. Engines without a compaction make it `flush`.
    fn compact(&self) -> Result<()> {
        self.flush()
    }
    /// Bytes written to disk per byte users wrote, for engines that count it.
    fn write_amplification(&self) -> Option<f64> {
        None
    }
    /// The settings it was opened with, in words (durability, compression, cache), for
    /// reports.
    fn settings(&self) -> String;
}

/// How to open an engine for a run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The directory the engine keeps its files in (created if missing).
    pub dir: PathBuf,
    /// Every write is durable before it returns (db_bench's `sync=true`, the `fillsync`
    /// workload); otherwise writes are durable once the OS writes them or on `sync`.
    pub sync_writes: bool,
    /// The block/page cache size.
    pub cache_bytes: usize,
    /// The write buffer (memtable) size, for engines that have one.
    pub write_buffer_bytes: usize,
}

impl EngineOptions {
    /// Whether an `open` with these options makes each write (or batch) durable.
    pub fn durability(&self) -> &'static str {
        if self.sync_writes {
            "durable per write"
        } else {
            "durable on sync"
        }
    }

    /// Defaults for `dir`: no per-write sync, a 32 MiB cache, a 64 MiB write buffer.
    pub fn new(dir: impl Into<PathBuf>) -> EngineOptions {
        EngineOptions {
            dir: dir.into(),
            sync_writes: false,
            cache_bytes: 32 << 20,
            write_buffer_bytes: 64 << 20,
        }
    }
}

/// The engines this build can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineKind {
    /// This workspace's engine (`kvstore`).
    KvStore,
    /// fjall 3.x (an LSM tree in Rust), with the `fjall` feature.
    #[cfg(feature = "fjall")]
    Fjall,
    /// sled 0.34 (a Bw-tree-like log-structured store), with the `sled` feature.
    #[cfg(feature = "sled")]
    Sled,
    /// redb (copy-on-write B+trees), with the `redb` feature.
    #[cfg(feature = "redb")]
    Redb,
    /// RocksDB through the `rocksdb` crate, with the `rocksdb` feature.
    #[cfg(feature = "rocksdb")]
    RocksDb,
}

impl EngineKind {
    /// Every engine compiled into this build.
    pub const ALL: &'static [EngineKind] = &[
        EngineKind::KvStore,
        #[cfg(feature = "fjall")]
        EngineKind::Fjall,
        #[cfg(feature = "sled")]
        EngineKind::Sled,
        #[cfg(feature = "redb")]
        EngineKind::Redb,
        #[cfg(feature = "rocksdb")]
        EngineKind::RocksDb,
    ];

    /// The engine's name, as [`FromStr`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::KvStore => "kvstore",
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => "fjall",
            #[cfg(feature = "sled")]
            EngineKind::Sled => "sled",
            #[cfg(feature = "redb")]
            EngineKind::Redb => "redb",
            #[cfg(feature = "rocksdb")]
            EngineKind::RocksDb => "rocksdb",
        }
    }

    /// Opens (or creates) the engine with `options`.
    pub fn open(self, options: &EngineOptions) -> Result<Box<dyn Engine>> {
        match self {
            EngineKind::KvStore => Ok(Box::new(crate::kvstore_engine::KvStoreEngine::open(
                options,
            )?)),
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => Ok(Box::new(crate::peers::fjall::FjallEngine::open(options)?)),
            #[cfg(feature = "sled")]
            EngineKind::Sled => Ok(Box::new(crate::peers::sled::SledEngine::open(options)?)),
            #[cfg(feature = "redb")]
            EngineKind::Redb => Ok(Box::new(crate::peers::redb::RedbEngine::open(options)?)),
            #[cfg(feature = "rocksdb")]
            EngineKind::RocksDb => Ok(Box::new(crate::peers::rocksdb::RocksDbEngine::open(
                options,
            )?)),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<EngineKind> {
        EngineKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Unknown {
                what: "engine",
                name: s.to_string(),
                known: EngineKind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
