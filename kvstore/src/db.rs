//! [`Db`]: the handle users hold. Cloning it is cheap; every clone is the same engine. When the
//! last handle goes, the flush thread stops (after its current flush) and the WAL is synced.

use crate::batch::WriteBatch;
use crate::engine::{lock, Engine};
use crate::error::{Error, Result};
use crate::options::{DbBuilder, Options};
use crate::read::{prefix_range, DbIter, KeyRange};
use crate::snapshot::Snapshot;
use crate::stats::Stats;
use crate::write::WriteOp;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// An open database. `Send + Sync + Clone`: share it between threads freely.
///
/// Dropping the last handle stops the background threads and syncs the WAL. Iterators and
/// snapshots taken from it keep working after that, and keep the database's files and its
/// lock: the directory can be opened again once they are dropped too ([`Error::Locked`]
/// until then).
#[derive(Clone)]
pub struct Db {
    handle: Arc<Handle>,
}

struct Handle {
    engine: Arc<Engine>,
    flusher: Mutex<Option<JoinHandle<()>>>,
    compactors: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.engine.shutdown();
        self.engine.shutdown_compaction();
        if let Some(t) = lock(&self.flusher).take() {
            let _ = t.join();
        }
        for t in lock(&self.compactors).drain(..) {
            let _ = t.join();
        }
        // A clean close leaves every acknowledged write durable whatever the fsync policy.
        let _ = self.engine.wal.sync();
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.handle.engine.dir)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// A builder with default options for the database at `path`.
    pub fn builder(path: impl AsRef<Path>) -> DbBuilder {
        DbBuilder::new(path)
    }

    /// Opens (or creates) the database `options` describe.
    pub fn open(options: Options) -> Result<Db> {
        crate::recovery::open(options)
    }

    /// Starts the flush thread and the compaction threads of a recovered engine.
    pub(crate) fn start(engine: Arc<Engine>) -> Result<Db> {
        engine.refresh_pressure();
        let worker = engine.clone();
        let thread = std::thread::Builder::new()
            .name("kvstore-flush".into())
            .spawn(move || worker.flush_loop())
            .map_err(|e| Error::io(&engine.dir, e))?;
        // From here on the handle stops and joins whatever was started, even on an error.
        let handle = Arc::new(Handle {
            engine: engine.clone(),
            flusher: Mutex::new(Some(thread)),
            compactors: Mutex::new(Vec::new()),
        });
        for i in 0..engine.opts.compaction_threads {
            let worker = engine.clone();
            let thread = std::thread::Builder::new()
                .name(format!("kvstore-compact-{i}"))
                .spawn(move || worker.compaction_loop())
                .map_err(|e| Error::io(&engine.dir, e))?;
            lock(&handle.compactors).push(thread);
        }
        Ok(Db { handle })
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.handle.engine
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.handle.engine.dir
    }

    /// Sets `key` to `value`. Returns once the write is durable per the fsync policy.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let op = wal::RecordRef {
            key: key.as_ref(),
            value: value.as_ref(),
            tombstone: false,
        };
        self.engine().write(&[op])
    }

    /// Deletes `key` (a tombstone; deleting an absent key is not an error).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let op = wal::RecordRef {
            key: key.as_ref(),
            value: &[],
            tombstone: true,
        };
        self.engine().write(&[op])
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        self.engine().get_latest(key.as_ref())
    }

    /// A new, empty write batch; [`WriteBatch::commit`] applies it atomically.
    pub fn batch(&self) -> WriteBatch {
        WriteBatch::new(self.clone())
    }

    /// The pairs whose keys lie in `range`, in key order; `.rev()` for descending.
    pub fn range(&self, range: impl KeyRange) -> DbIter {
        self.engine().iter_latest(range.into_bounds())
    }

    /// The pairs whose keys start with `prefix`, in key order; `.rev()` for descending.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> DbIter {
        self.engine().iter_latest(prefix_range(prefix.as_ref()))
    }

    /// Every pair, in key order.
    pub fn iter(&self) -> DbIter {
        self.range(..)
    }

    /// A frozen view of the database as it is now; later writes do not show through it.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.engine().clone())
    }

    /// Makes every write acknowledged so far durable (an fsync of the WAL), whatever the
    /// fsync policy.
    pub fn persist(&self) -> Result<()> {
        let engine = self.engine();
        engine.check_poison()?;
        engine.wal.sync().map_err(|e| engine.poison(e.into()))
    }

    /// Writes the memtable to a level-0 table now and waits until it (and every memtable
    /// frozen before it) is flushed. Afterwards the WAL holds nothing older.
    pub fn flush(&self) -> Result<()> {
        self.engine().flush_and_wait()
    }

    /// Flushes the memtable, then compacts the whole database down the levels on the calling
    /// thread (waiting for background tasks that hold tables it needs): afterwards each key
    /// has only the versions live snapshots need, and tombstones that hide nothing are gone.
    pub fn compact(&self) -> Result<()> {
        self.engine().compact_range(None, None)
    }

    /// [`Db::compact`] limited to the tables meeting `range` (its bounds taken inclusively).
    pub fn compact_range(&self, range: impl KeyRange) -> Result<()> {
        let (lo, hi) = range.into_bounds();
        let key = |b: &std::ops::Bound<Vec<u8>>| match b {
            std::ops::Bound::Included(k) | std::ops::Bound::Excluded(k) => Some(k.clone()),
            std::ops::Bound::Unbounded => None,
        };
        let (lo, hi) = (key(&lo), key(&hi));
        self.engine().compact_range(lo.as_deref(), hi.as_deref())
    }

    /// Writes a consistent, openable copy of the database to `dest` (which must be absent or
    /// empty): flushes, then hard-links the live tables (copying where links fail) and writes
    /// a manifest naming exactly them.
    pub fn checkpoint(&self, dest: impl AsRef<Path>) -> Result<()> {
        self.engine().checkpoint(dest.as_ref())
    }

    /// Counts, sizes and rates (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        Stats::collect(self.engine())
    }

    /// [`Db::put`] for async code: runs on tokio's blocking pool, so the fsync never blocks a
    /// runtime worker. Needs a tokio runtime.
    pub async fn put_async(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let op = WriteOp::put(key, value);
        let engine = self.engine().clone();
        blocking(move || engine.write(&[op])).await
    }

    /// [`Db::delete`] for async code (see [`Db::put_async`]).
    pub async fn delete_async(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let op = WriteOp::delete(key);
        let engine = self.engine().clone();
        blocking(move || engine.write(&[op])).await
    }

    /// [`Db::get`] for async code: a read may touch table files, so it too runs on the
    /// blocking pool.
    pub async fn get_async(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>> {
        let key = key.as_ref().to_vec();
        let db = self.clone();
        blocking(move || db.get(key)).await
    }

    /// [`Db::persist`] for async code.
    pub async fn persist_async(&self) -> Result<()> {
        let db = self.clone();
        blocking(move || db.persist()).await
    }

    /// [`Db::flush`] for async code.
    pub async fn flush_async(&self) -> Result<()> {
        let db = self.clone();
        blocking(move || db.flush()).await
    }
}

/// Runs `f` on tokio's blocking pool and waits for it without blocking the worker.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(Error::Closed),
        },
    }
}

// `Db` is shared between threads; snapshots and iterators may move to other threads.
const _: () = {
    const fn shareable<T: Send + Sync + Clone>() {}
    const fn sendable<T: Send>() {}
    shareable::<Db>();
    sendable::<crate::Snapshot>();
    sendable::<DbIter>();
    sendable::<WriteBatch>();
};
