//! The engine's shared state: what every `Db` handle, snapshot, iterator and the flush thread
//! hold an `Arc` of. The write path is in `write.rs`, the flush in `flush.rs`, the read path in
//! `read.rs`, recovery in `recovery.rs`.
//!
//! Locks, always taken in this order (never the reverse), each held briefly:
//! `writer` -> `flush` -> `read_state`, and `compact` -> `versions` -> `read_state`.
//! Writers wait on `flush_cv` (holding `writer`) only for backpressure; the flush thread never
//! takes `writer`, so it always makes progress. Writers stopped by compaction debt wait on
//! `compact_cv` holding nothing else (`flow.rs`); compaction never takes `writer` or `flush`.

use crate::error::{Error, Result};
use crate::freeze_point::ActiveSince;
use crate::inserted::InsertWatermark;
use crate::options::Options;
use crate::version::Version;
use crate::version_set::VersionSet;
use common::{DirLock, FileSystem, SeqNo};
use compaction::{BusySet, CompactionOptions};
use memtable::MemTable;
use sstable::BlockCache;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

/// What the write lock guards: the next sequence number and the memtable writes go to.
#[derive(Debug)]
pub(crate) struct Writer {
    /// The sequence number the next record gets.
    pub next_seq: SeqNo,
    /// The active memtable (also in the read state).
    pub active: Arc<MemTable>,
    /// When `active` became the active memtable (for its write pace: freeze_point.rs).
    pub active_since: ActiveSince,
}

/// What a read needs, swapped as a whole (copy on write) so a reader sees one consistent set:
/// a memtable leaves `immutables` in the same swap that puts its table into `version`.
#[derive(Debug)]
pub(crate) struct ReadState {
    /// The memtable writes go to.
    pub active: Arc<MemTable>,
    /// Frozen memtables waiting for (or in) a flush, newest first.
    pub immutables: Vec<Arc<MemTable>>,
    /// The live tables.
    pub version: Arc<Version>,
}

impl ReadState {
    /// The memtables, newest first.
    pub fn memtables(&self) -> impl Iterator<Item = &Arc<MemTable>> {
        std::iter::once(&self.active).chain(self.immutables.iter())
    }
}

/// A frozen memtable on its way to a table.
#[derive(Debug)]
pub(crate) struct Frozen {
    /// The memtable; no one inserts into it any more.
    pub mem: Arc<MemTable>,
    /// The WAL position where the records of later memtables start (a segment boundary).
    pub mark: wal::Position,
    /// The largest sequence number in `mem` (every smaller one is in it or older).
    pub last_seq: SeqNo,
}

/// The flush thread's queue. Bound: `max_immutable_memtables` entries (writers wait beyond).
#[derive(Debug, Default)]
pub(crate) struct FlushQueue {
    /// Oldest first. An entry leaves only once its table is live in the version.
    pub pending: VecDeque<Arc<Frozen>>,
    /// How many memtables were ever frozen.
    pub frozen_total: u64,
    /// How many of them are flushed.
    pub flushed_total: u64,
    /// The last handle is gone: the flush thread stops after its current job.
    pub shutdown: bool,
}

/// Counters behind `Db::stats`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub puts: AtomicU64,
    pub deletes: AtomicU64,
    pub gets: AtomicU64,
    pub batches: AtomicU64,
    pub user_bytes_written: AtomicU64,
    pub flushes: AtomicU64,
    pub flush_bytes_written: AtomicU64,
    pub write_stalls: AtomicU64,
    pub memory_stalls: AtomicU64,
    pub memory_stall_micros: AtomicU64,
    pub wal_delete_failures: AtomicU64,
    pub compactions: AtomicU64,
    pub trivial_moves: AtomicU64,
    pub compaction_bytes_read: AtomicU64,
    pub compaction_bytes_written: AtomicU64,
    pub compaction_failures: AtomicU64,
    pub stops: AtomicU64,
    pub stop_micros: AtomicU64,
    pub slowdowns: AtomicU64,
    pub slowdown_micros: AtomicU64,
}

/// What the compaction lock guards: the running tasks and the background threads' state.
#[derive(Debug, Default)]
pub(crate) struct CompactState {
    /// The tables and output ranges of running tasks (background and manual).
    pub busy: BusySet,
    /// The last handle is gone: background threads stop (running jobs are cancelled).
    pub shutdown: bool,
    /// After a failure, background threads pick nothing before this moment.
    pub retry_at: Option<std::time::Instant>,
    /// Failures since the last success (the backoff doubles with each).
    pub failures: u32,
    /// The last failure, for stats.
    pub last_error: Option<String>,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// The engine.
pub(crate) struct Engine {
    pub opts: Options,
    pub dir: PathBuf,
    pub fs: Arc<dyn FileSystem>,
    pub wal: wal::blocking::Wal,
    pub writer: Mutex<Writer>,
    pub read_state: RwLock<Arc<ReadState>>,
    /// Reads and new snapshots see sequence numbers up to this: records whose WAL append is
    /// durable (per the fsync policy) and which are in a memtable.
    pub visible_seq: AtomicU64,
    /// Which sequence numbers are in a memtable (writers insert after the writer lock).
    pub inserted: InsertWatermark,
    pub versions: Mutex<VersionSet>,
    pub flush: Mutex<FlushQueue>,
    pub flush_cv: Condvar,
    /// Live snapshots: sequence number -> how many (compaction must keep what they see).
    pub snapshots: Mutex<BTreeMap<SeqNo, usize>>,
    poison: Mutex<Option<String>>,
    pub cache: Option<Arc<BlockCache>>,
    pub counters: Counters,
    /// The compaction options in force (`Options::effective_compaction`).
    pub copts: CompactionOptions,
    pub compact: Mutex<CompactState>,
    /// Signalled after every flush and every compaction (and at shutdown or poison): wakes
    /// background threads, manual compactions waiting on busy tables, stopped writers.
    pub compact_cv: Condvar,
    /// Set at shutdown: running merge jobs stop early and remove their outputs.
    pub compact_cancel: AtomicBool,
    /// The write pressure of the current version, encoded by `flow.rs`.
    pub pressure: AtomicU64,
    /// The approximate bytes of the frozen memtables not yet flushed (see
    /// `Options::memtable_memory_limit_bytes`).
    pub frozen_bytes: AtomicUsize,
    /// The size at which the active memtable is frozen (see freeze_point.rs).
    pub freeze_at: AtomicUsize,
    /// The flushes' seconds per memtable byte (freeze_point.rs), as `f64` bits; 0 before the
    /// first flush.
    pub flush_secs_per_byte: AtomicU64,
    /// The last memtable frozen for being full: its bytes per second of writing, as `f64` bits.
    pub write_bytes_per_sec: AtomicU64,
    pub next_memtable_id: AtomicU64,
    pub _lock: DirLock,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.dir)
            .field("visible_seq", &self.visible_seq)
            .finish_non_exhaustive()
    }
}

/// Takes a mutex even if a panicking thread poisoned it (the data it guards stays consistent:
/// every critical section either completes or changes nothing).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        opts: Options,
        wal: wal::blocking::Wal,
        lock_guard: DirLock,
        versions: VersionSet,
        active: Arc<MemTable>,
        next_seq: SeqNo,
        cache: Option<Arc<BlockCache>>,
        next_memtable_id: u64,
    ) -> Engine {
        let version = versions.current();
        let copts = opts.effective_compaction();
        Engine {
            copts,
            compact: Mutex::new(CompactState::default()),
            compact_cv: Condvar::new(),
            compact_cancel: AtomicBool::new(false),
            pressure: AtomicU64::new(0),
            frozen_bytes: AtomicUsize::new(0),
            freeze_at: AtomicUsize::new(opts.memtable_size_bytes),
            flush_secs_per_byte: AtomicU64::new(0),
            write_bytes_per_sec: AtomicU64::new(0),
            dir: opts.path.clone(),
            fs: opts.fs.clone(),
            opts,
            wal,
            writer: Mutex::new(Writer {
                next_seq,
                active: active.clone(),
                active_since: ActiveSince::now(0),
            }),
            read_state: RwLock::new(Arc::new(ReadState {
                active,
                immutables: Vec::new(),
                version,
            })),
            visible_seq: AtomicU64::new(next_seq - 1),
            inserted: InsertWatermark::new(next_seq),
            versions: Mutex::new(versions),
            flush: Mutex::new(FlushQueue::default()),
            flush_cv: Condvar::new(),
            snapshots: Mutex::new(BTreeMap::new()),
            poison: Mutex::new(None),
            cache,
            counters: Counters::default(),
            next_memtable_id: AtomicU64::new(next_memtable_id),
            _lock: lock_guard,
        }
    }

    /// The current read state (a cheap `Arc` clone).
    pub fn read_state(&self) -> Arc<ReadState> {
        self.read_state
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the read state with `f(current)`.
    pub fn update_read_state(&self, f: impl FnOnce(&ReadState) -> ReadState) {
        let mut guard = self.read_state.write().unwrap_or_else(|p| p.into_inner());
        let next = f(&guard);
        *guard = Arc::new(next);
    }

    /// The sequence number reads see now.
    pub fn visible_seq(&self) -> SeqNo {
        self.visible_seq.load(Ordering::SeqCst)
    }

    /// Fails if an earlier failure poisoned the engine.
    pub fn check_poison(&self) -> Result<()> {
        match &*lock(&self.poison) {
            Some(why) => Err(Error::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// Records a failure that leaves the engine unable to write safely, wakes every waiter,
    /// and gives the error back.
    pub fn poison(&self, e: Error) -> Error {
        {
            let mut p = lock(&self.poison);
            if p.is_none() {
                *p = Some(e.to_string());
            }
        }
        {
            let _q = lock(&self.flush);
            self.flush_cv.notify_all();
        }
        let _c = lock(&self.compact);
        self.compact_cv.notify_all();
        e
    }

    /// Registers a snapshot at the visible sequence number and returns it. Taken under the
    /// snapshot list's lock, so whoever reads the oldest snapshot and then `visible_seq` (as
    /// compaction will) cannot miss one being taken.
    pub fn acquire_snapshot(&self) -> SeqNo {
        let mut snaps = lock(&self.snapshots);
        let seq = self.visible_seq();
        *snaps.entry(seq).or_default() += 1;
        seq
    }

    /// Registers one more snapshot at `seq` (a clone of a live one).
    pub fn register_snapshot(&self, seq: SeqNo) {
        *lock(&self.snapshots).entry(seq).or_default() += 1;
    }

    /// Releases a snapshot at `seq`.
    pub fn release_snapshot(&self, seq: SeqNo) {
        let mut snaps = lock(&self.snapshots);
        if let Some(n) = snaps.get_mut(&seq) {
            *n -= 1;
            if *n == 0 {
                snaps.remove(&seq);
            }
        }
    }

    /// The oldest sequence number a live snapshot reads at (what compaction must keep).
    pub fn oldest_snapshot(&self) -> Option<SeqNo> {
        lock(&self.snapshots).keys().next().copied()
    }

    /// A new, empty memtable.
    pub fn new_memtable(&self) -> Arc<MemTable> {
        Arc::new(MemTable::new(
            self.next_memtable_id.fetch_add(1, Ordering::Relaxed),
        ))
    }
}
