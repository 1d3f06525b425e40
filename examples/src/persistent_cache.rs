//! Use case 6b: Cache with persistence: `FsyncPolicy::Os` plus a periodic snapshot.
//!
//! **When:** a cache that is expensive to warm up and should come back after a restart, but
//! whose content can always be recomputed from the source of truth.
//!
//! **FsyncPolicy:** `Os`: `put` costs a memcpy; the bytes reach the OS within about a
//! millisecond and the disk when the OS decides. Durability comes from the periodic snapshot
//! (the [`crate::kv_store`] compaction: seal the log with an fsync, write the snapshot
//! durably, delete the segments it covers). **What it trades away:** after a power cut the
//! cache is guaranteed only as of the last snapshot; writes after it may or may not be there
//! (on the simulated disk, which keeps only synced bytes, they are gone). A process crash
//! without a power cut loses only the appends of about the last millisecond, still in the
//! log's buffer.

use crate::error::{Error, Result};
use crate::kv_store::{Compacted, KvStore};
use common::FileSystem;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use wal::FsyncPolicy;

/// A cache: the `kv_store` map with `Os` durability and a snapshot thread.
#[derive(Debug, Clone)]
pub struct PersistentCache {
    store: Arc<Mutex<KvStore>>,
    snapshots: Arc<Mutex<u64>>,
}

/// The running snapshot thread; [`stop`](Snapshotter::stop) it before dropping the cache.
#[derive(Debug)]
pub struct Snapshotter {
    stop: Sender<()>,
    thread: JoinHandle<Result<()>>,
}

impl Snapshotter {
    /// Whether the thread still runs (it stops at its first error).
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// Stops the thread; returns its first error, if any.
    pub fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        self.thread
            .join()
            .map_err(|_| Error::Invalid("the snapshot thread panicked".into()))?
    }
}

impl PersistentCache {
    /// Opens the cache in `dir` (snapshot, then the log's tail).
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<PersistentCache> {
        let (store, _) = KvStore::open(fs, dir, FsyncPolicy::Os, 64 << 20)?;
        Ok(PersistentCache {
            store: Arc::new(Mutex::new(store)),
            snapshots: Arc::new(Mutex::new(0)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, KvStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Caches a value (no fsync).
    pub fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.lock().put(key, value)
    }

    /// A cached value.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lock().get(key).map(<[u8]>::to_vec)
    }

    /// Every entry.
    pub fn entries(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.lock().entries().clone()
    }

    /// Takes a snapshot now: everything cached so far survives a power cut from here on.
    pub fn snapshot(&self) -> Result<Compacted> {
        let done = self.lock().compact()?;
        *self.snapshots.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Ok(done)
    }

    /// Snapshots taken so far.
    pub fn snapshots_taken(&self) -> u64 {
        *self.snapshots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a thread that takes a snapshot every `period` (in a server: minutes).
    pub fn start_snapshots(&self, period: Duration) -> Snapshotter {
        let (stop, stopped) = channel();
        let cache = self.clone();
        let thread = std::thread::spawn(move || loop {
            match stopped.recv_timeout(period) {
                Err(RecvTimeoutError::Timeout) => {
                    cache.snapshot()?;
                }
                _ => return Ok(()),
            }
        });
        Snapshotter { stop, thread }
    }
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Entries at the snapshot.
    pub at_snapshot: usize,
    /// Entries written in all.
    pub written: usize,
    /// Entries after the power cut.
    pub survived: usize,
    /// Whether the survivors are exactly the snapshot's entries.
    pub survivors_are_the_snapshot: bool,
}

/// The program: a cache in `dir` on `fs` across a clean restart, then a power cut on a
/// simulated disk (`common::MemFs`), since only a simulated disk can lose its cache on demand.
pub fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    writeln!(
        out,
        "persistent_cache in {} (FsyncPolicy::Os + snapshots)",
        dir.display()
    )?;
    let cache = PersistentCache::open(fs.clone(), dir)?;
    let snapshots = cache.start_snapshots(Duration::from_secs(3600));
    for i in 0..20 {
        cache.put(format!("page:{i:03}").as_bytes(), b"<html>cached</html>")?;
    }
    snapshots.stop()?;
    drop(cache); // closing the log syncs it
    let cache = PersistentCache::open(fs, dir)?;
    writeln!(
        out,
        "after a clean restart: {} pages, warm",
        cache.entries().len()
    )?;
    drop(cache);
    writeln!(out, "now on a simulated disk, to cut the power:")?;
    let mem = common::MemFs::new();
    let dir = Path::new("/sim");
    let cache = PersistentCache::open(mem.shared(), dir)?;
    for i in 0..100 {
        cache.put(
            format!("page:{i:03}").as_bytes(),
            format!("<html>{i}</html>").as_bytes(),
        )?;
    }
    let snap = cache.snapshot()?;
    let at_snapshot = cache.entries();
    writeln!(
        out,
        "cached 100 pages, snapshot taken (log now starts at {})",
        snap.replay_from
    )?;
    for i in 100..150 {
        cache.put(format!("page:{i:03}").as_bytes(), b"<html>late</html>")?;
    }
    writeln!(out, "cached 50 more pages, no snapshot since")?;
    let crashed = mem.crash();
    let after = PersistentCache::open(crashed.shared(), dir)?.entries();
    let survivors_are_the_snapshot = after == at_snapshot;
    writeln!(
        out,
        "power cut: the cache came back with {} pages, exactly the snapshot: {survivors_are_the_snapshot}; the 50 later pages are gone (on a real disk they may or may not be)",
        after.len()
    )?;
    Ok(Summary {
        at_snapshot: at_snapshot.len(),
        written: 150,
        survived: after.len(),
        survivors_are_the_snapshot,
    })
}
