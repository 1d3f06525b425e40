//! The engine-agnostic face every store under test wears, and how to open one by name.
//!
//! Peers (fjall, sled, redb, rocksdb) are added later, each behind a cargo feature, as another
//! [`EngineKind`] variant and another file implementing [`Engine`]; the workloads never change.

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
}

impl EngineKind {
    /// Every engine compiled into this build.
    pub const ALL: &'static [EngineKind] = &[EngineKind::KvStore];

    /// The engine's name, as [`FromStr`] accepts it.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::KvStore => "kvstore",
        }
    }

    /// Opens (or creates) the engine with `options`.
    pub fn open(self, options: &EngineOptions) -> Result<Box<dyn Engine>> {
        match self {
            EngineKind::KvStore => Ok(Box::new(crate::kvstore_engine::KvStoreEngine::open(
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
