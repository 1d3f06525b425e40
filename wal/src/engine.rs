//! The engine under both faces: one synchronous core, shared by `Wal` (async) and
//! `blocking::Wal`.
//!
//! Locks, always taken in this order: `admin` (rotate, truncate, delete, close, a sync round)
//! -> `state` (the active segment's buffer and the segment list) -> `sync` (the durability
//! watermark). Appends take only `state`, briefly: encode into the buffer, maybe write the
//! buffer. No fsync ever runs under `state`, except in the rare `truncate_after`.
//!
//! Hand-off to the OS: `wstate.written` is the exclusive end of the bytes written to the file;
//! under `Os` and `Batch` an append waits for it (a group write, see `group_write.rs`).
//!
//! Durability: `sync.durable` is the exclusive end of the bytes known to be on stable storage;
//! a record at `p` is durable once `durable > p`. A blocking waiter raises it by running the
//! sync round itself (group commit: every waiter that arrives while an fsync runs is served by
//! the next one, see `wait_durable_until`); the background thread (see `sync_thread.rs`) does
//! on request of the async face, on the `Batch` timer, and at rotation; close does at the end.

use crate::config::{FsyncPolicy, WalConfig};
use crate::error::{Error, Result};
use crate::gather::Turn;
use crate::group_write::WriteState;
use crate::recovery::{recover, RecoveryInfo, SkippedRange};
use crate::segment::LOCK_FILE;
use crate::sleepers::{self, unpark_all, Sleepers};
use crate::writer::ActiveSegment;
use crate::{AsRecord, Position};
use common::DirLock;
use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// Under `Always`, an append whose own records encode to at least this many bytes writes
/// the buffer at once and has the background thread start a sync round (see `append`).
/// 4 KiB: one page. A 100-record batch of 100-byte values (~13 KB) is synced ahead; a single
/// small record is not, so the one-writer durable path keeps one wake-up-free round per write.
const EARLY_SYNC_BYTES: usize = 4096;

/// Locks a mutex, ignoring poisoning (no code panics while holding these locks; if it did, the
/// data is still consistent enough to report errors).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub(crate) struct State {
    /// `None` once closed.
    pub active: Option<ActiveSegment>,
    /// Every live segment: its length once sealed, `None` for the active one.
    pub segments: BTreeMap<u64, Option<u64>>,
    /// The previous segment is being sealed: the new one's bytes stay in the buffer until it is.
    pub sealing: bool,
    /// Blocking readers waiting for a new append.
    pub tail_waiters: usize,
    /// When the buffer last went from empty to non-empty.
    pub unflushed_since: Option<Instant>,
    /// When the first append after the last sync round happened.
    pub unsynced_since: Option<Instant>,
    /// The active segment reached `segment_size_bytes`; the sync thread will rotate.
    pub rotate_pending: bool,
    /// Every `truncate_after` so far: (epoch, end of the kept log).
    pub truncations: Vec<(u64, Position)>,
    scratch: Vec<u8>,
    lock: Option<DirLock>,
}

pub(crate) struct SyncState {
    pub durable: Position,
    pub in_flight: Position,
    pub requested: bool,
    pub kicked: bool,
    /// A large `Always` batch was written: the sync thread starts its round at once, while
    /// the appender does its own work (see `append`).
    pub early: bool,
    pub shutdown: bool,
    /// The sync thread sleeps with no timer: a new buffered append must wake it.
    pub idle: bool,
    /// Waiters that need the next round (arrived after the current one captured its target).
    pub pending: usize,
    /// How many waiters the last round served, and how long its fsync took: the sync thread
    /// gives that crowd a moment (a fraction of an fsync) to come back before the next round.
    pub last_covered: usize,
    pub last_fsync: Duration,
    /// A blocking waiter is running a sync round itself (see `wait_durable_until`).
    pub leading: bool,
    /// The group the next blocking round waits for: the waiters the last round served plus
    /// those already waiting for the next one (see `gather.rs`).
    pub group: usize,
    /// The deadline of the group being gathered and the waiter parked on it (only while
    /// nobody leads).
    pub gather: Option<(Instant, ThreadId)>,
    /// How many gathers began (a count for tests and debugging).
    pub gathers: u64,
    /// Blocking waiters, parked until a round covers them (see `sleepers.rs`).
    pub sleepers: Sleepers,
}

/// Who wakes the blocking waiters a sync round made durable.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WakeBy {
    /// The thread that ran the round.
    Caller,
    /// The first of them, which wakes the others (the relay, see `sleepers.rs`): a
    /// group-commit leader then starts its next fdatasync after one wake-up, not one per
    /// sleeper.
    Relay,
}

/// What `wait_durable(pos)` waits for under the policy.
pub(crate) enum Wait {
    /// An fdatasync covering `pos` (`Always`).
    Durable(Position),
    /// A write to the file covering `pos` (`Os`, `Batch`; the `Batch` timer does the rest).
    Written(Position),
}

/// Who hands an append's bytes to the OS (a `write` to the segment), when nothing else does
/// first (a full buffer, a sync round, a rotation, close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handoff {
    /// The background thread, `FLUSH_INTERVAL` (`sync_thread.rs`) after the first unwritten
    /// append, woken for it if it sleeps: for appends that nobody may wait for.
    Timer,
    /// The wait the caller makes next (`wait_durable`, which writes the buffer itself under
    /// every policy): the background thread is left asleep. Waking it (it then armed a 1 ms
    /// timer, found the bytes written, and slept again) took 8,896 futex calls per 20,000
    /// durable writes of one writer and 1,821 per 300,000 writes under `Os` (21 and 26
    /// without); fillsync1 median 15.6k -> 15.9k/s (6 interleaved pairs). A later `Timer`
    /// append's bytes carry these with them; a caller that never waits leaves them for the
    /// next hand-off of any kind.
    Waiter,
}

pub(crate) struct Engine {
    pub config: WalConfig,
    pub state: Mutex<State>,
    pub tail_cv: Condvar,
    pub tail_notify: Notify,
    pub tail_async_waiters: AtomicUsize,
    pub sync: Mutex<SyncState>,
    /// Wakes the sync thread.
    pub sync_cv: Condvar,
    /// Wakes async durability waiters (value: the durable watermark).
    pub durable_tx: watch::Sender<Position>,
    /// The `written` watermark and the group write's leader flag.
    pub wstate: Mutex<WriteState>,
    /// Wakes blocking followers of a group write.
    pub written_cv: Condvar,
    /// Wakes async followers of a group write (value: a round counter).
    pub written_tx: watch::Sender<u64>,
    /// Signalled (with `state`) when a rotation's seal ends.
    pub seal_cv: Condvar,
    pub poison: OnceLock<String>,
    pub closed: AtomicBool,
    pub admin: Mutex<()>,
    /// Bumped by each `truncate_after`; readers compare.
    pub epoch: AtomicU64,
    pub skips: Arc<[SkippedRange]>,
    /// The log's end as the open found it: the open's scan verified the checksum of every
    /// frame before it (but those in `skips`). Valid while `epoch` is 0 (no `truncate_after`
    /// reused positions before it).
    pub verified_end: Position,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Engine {
    /// Opens (creating if needed) and recovers the log, and starts its background thread.
    pub fn open(config: WalConfig) -> Result<(Arc<Engine>, RecoveryInfo)> {
        config.validate()?;
        let fs = config.fs.clone();
        let dir = config.dir.clone();
        let existed = fs.is_dir(&dir);
        fs.create_dir_all(&dir)?;
        if !existed {
            fs.sync_dir(common::fs::parent_dir(&dir))?;
        }
        let dir_lock = fs.lock(&dir.join(LOCK_FILE)).map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                Error::Locked { dir: dir.clone() }
            } else {
                Error::Io(e)
            }
        })?;
        let rec = recover(&config)?;
        let start = rec.active.end_position();
        let (durable_tx, _) = watch::channel(start);
        let engine = Arc::new(Engine {
            skips: rec.info.skipped.clone().into(),
            verified_end: start,
            state: Mutex::new(State {
                active: Some(rec.active),
                segments: rec.segments,
                sealing: false,
                tail_waiters: 0,
                unflushed_since: None,
                unsynced_since: None,
                rotate_pending: false,
                truncations: Vec::new(),
                scratch: Vec::new(),
                lock: Some(dir_lock),
            }),
            config,
            tail_cv: Condvar::new(),
            tail_notify: Notify::new(),
            tail_async_waiters: AtomicUsize::new(0),
            sync: Mutex::new(SyncState {
                durable: start,
                in_flight: start,
                requested: false,
                pending: 0,
                last_covered: 1,
                last_fsync: Duration::ZERO,
                leading: false,
                group: 1,
                gather: None,
                gathers: 0,
                sleepers: Sleepers::default(),
                kicked: false,
                early: false,
                shutdown: false,
                idle: false,
            }),
            wstate: Mutex::new(WriteState {
                written: start,
                leader: false,
                sleepers: 0,
            }),
            written_cv: Condvar::new(),
            written_tx: watch::channel(0).0,
            seal_cv: Condvar::new(),
            sync_cv: Condvar::new(),
            durable_tx,
            poison: OnceLock::new(),
            closed: AtomicBool::new(false),
            admin: Mutex::new(()),
            epoch: AtomicU64::new(0),
            thread: Mutex::new(None),
        });
        let bg = engine.clone();
        let handle = std::thread::Builder::new()
            .name("wal-sync".into())
            .spawn(move || bg.sync_thread())?;
        *lock(&engine.thread) = Some(handle);
        Ok((engine, rec.info))
    }

    /// Err if the log cannot take writes.
    pub fn check_writable(&self) -> Result<()> {
        if let Some(cause) = self.poison.get() {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Marks the log poisoned (first cause wins) and wakes every waiter; returns the error.
    pub fn poison(&self, what: &str, e: io::Error) -> Error {
        let _ = self.poison.set(format!("{what}: {e}"));
        let sleepers = lock(&self.sync).sleepers.take_all();
        unpark_all(sleepers);
        self.durable_tx.send_modify(|_| {});
        drop(lock(&self.wstate));
        self.written_cv.notify_all();
        self.written_tx.send_modify(|_| {});
        Error::Poisoned {
            cause: self.poison.get().cloned().unwrap_or_default(),
        }
    }

    /// Appends `records` as one atomic batch; calls `out` with each record's position.
    /// `handoff` says who writes the bytes to the OS (see [`Handoff`]).
    pub fn append(
        &self,
        records: &[impl AsRecord],
        handoff: Handoff,
        mut out: impl FnMut(Position),
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let max = self.config.max_record_bytes;
        for r in records {
            let size = r.as_record().size_bytes();
            if size > max {
                return Err(Error::RecordTooLarge { size, max });
            }
        }
        let mut kick = false;
        let mut wake_idle = false;
        let mut early = false;
        {
            let mut guard = lock(&self.state);
            self.check_writable()?;
            let st = &mut *guard;
            let active = st.active.as_mut().ok_or(Error::Closed)?;
            let before = active.logical_end();
            active.encode_batch(records, self.config.compression, &mut st.scratch, &mut out);
            let encoded = active.logical_end() - before;
            // The timers start with the first append after a hand-off (and a sync round). A
            // `Waiter` append starts no flush timer, so the clock is read only when a timer
            // starts: under `Os` with waiting writers that is about never (it was once per
            // append: 0.7% of fillrandom's perf samples; callgrind, 50,000 puts: 597 -> 572
            // instructions per append).
            let arm_flush = st.unflushed_since.is_none() && handoff == Handoff::Timer;
            let arm_sync = st.unsynced_since.is_none();
            if arm_flush || arm_sync {
                let now = Instant::now();
                if arm_flush {
                    st.unflushed_since = Some(now);
                    wake_idle = true;
                }
                if arm_sync {
                    st.unsynced_since = Some(now);
                    kick |= matches!(self.config.fsync_policy, FsyncPolicy::Batch(_));
                }
            }
            // A large batch under `Always` is written now, and the background thread
            // fdatasyncs it (below, once the lock is released), so the whole round runs while
            // the caller does its own work (a store's memtable inserts: about 200 us for 100
            // puts) before it waits, and the wait often finds it durable. fillbatch (100-put
            // batches, one writer), 8 interleaved pairs against starting writeback
            // (`sync_file_range`) here and leaving the fdatasync to the wait: median 224k ->
            // 241k puts/s, ahead in 7 of 8 (one pair under `perf stat`: p50 per batch 350 ->
            // 257 us, 2.3 more futex calls and 2.4 more context switches per batch). Small
            // appends skip this, even when many of them add up (group commit): for them a
            // wake-up costs more than the work it would overlap.
            let large = self.config.fsync_policy == FsyncPolicy::Always
                && encoded >= EARLY_SYNC_BYTES as u64;
            if (active.buffer_full() || large) && !st.sealing {
                if let Err(e) = active.flush() {
                    return Err(self.poison("write to the active segment failed", e));
                }
                st.unflushed_since = None;
                early = large;
            }
            if active.logical_end() >= self.config.segment_size_bytes && !st.rotate_pending {
                st.rotate_pending = true;
                kick = true;
            }
            if st.tail_waiters > 0 {
                self.tail_cv.notify_all();
            }
        }
        if self.tail_async_waiters.load(Ordering::SeqCst) > 0 {
            self.tail_notify.notify_waiters();
        }
        if early || kick {
            self.kick(early);
        } else if wake_idle {
            // The sync thread's flush timer hands buffered bytes nobody waits for (from
            // `append_no_wait`) to the OS; a thread already on a timer sees them when it wakes.
            let mut s = lock(&self.sync);
            if s.idle {
                s.kicked = true;
                drop(s);
                self.sync_cv.notify_one();
            }
        }
        Ok(())
    }

    /// Wakes the sync thread to look at the timers and flags; with `early`, to start a sync
    /// round at once (it covers a large batch just written, see `append`).
    fn kick(&self, early: bool) {
        let mut s = lock(&self.sync);
        s.early |= early;
        s.kicked = true;
        drop(s);
        self.sync_cv.notify_one();
    }

    /// Registers a wait for `durable > p`: `Ok(true)` if already satisfied.
    fn request_durable(&self, p: Position) -> Result<bool> {
        let mut s = lock(&self.sync);
        if let Some(done) = self.wait_outcome(s.durable, p, s.shutdown) {
            return done.map(|()| true);
        }
        if s.in_flight <= p {
            s.requested = true;
            s.pending += 1;
            drop(s);
            self.sync_cv.notify_one();
        }
        Ok(false)
    }

    /// Blocks until `durable > p` (or poisoned / closed).
    ///
    /// Leader-based group commit: a waiter that finds no round running runs one itself
    /// ([`Engine::sync_round`], serialized with the sync thread's rounds and with rotation by
    /// the `admin` lock); waiters arriving meanwhile sleep, and when the round ends one of
    /// those not yet covered leads the next, whose fdatasync covers every append made before
    /// it, while those it covered are woken through a relay (see `sleepers.rs`). A round
    /// starts once the last round's group waits for it, or a bounded time after the first of
    /// them came (see `gather.rs`): the waiter that completes the group leads it. Handing the
    /// round to the sync thread instead costs two thread switches per durable write. (The
    /// async face still asks the sync thread: it must not block.)
    pub fn wait_durable_until(&self, p: Position) -> Result<()> {
        self.wait_durable_until_with(p, || {})
    }

    /// [`Engine::wait_durable_until`], running `work` once on the way: after this waiter
    /// counts for the next round, and when it does not lead that round, after it yields
    /// the CPU once (see `Wal::wait_durable_with`).
    pub fn wait_durable_until_with(&self, p: Position, work: impl FnOnce()) -> Result<()> {
        let mut work = Some(work);
        let mut s = lock(&self.sync);
        let mut counted = false;
        let result = loop {
            if let Some(done) = self.wait_outcome(s.durable, p, s.shutdown) {
                break done;
            }
            if !counted && s.in_flight <= p {
                // Not covered by a round in flight: this waiter needs the next one.
                s.pending += 1;
                counted = true;
            }
            let turn = self.turn(&mut s, counted);
            if turn == Turn::Lead {
                drop(s);
                if let Some(f) = work.take() {
                    f();
                }
                let round = self.lead_round();
                s = lock(&self.sync);
                s.leading = false;
                if let Err(e) = round {
                    // The round's own fdatasync may have covered `p` before a later step
                    // of it failed.
                    break if s.durable > p { Ok(()) } else { Err(e) };
                }
                if s.durable <= p && self.closed.load(Ordering::Acquire) {
                    break Err(Error::Closed); // closed under us: nothing left to sync
                }
                continue;
            }
            s.sleepers.add(p);
            drop(s);
            if let Some(f) = work.take() {
                std::thread::yield_now();
                f();
            }
            match turn {
                Turn::Gather(wait) => std::thread::park_timeout(wait),
                Turn::Sleep | Turn::Lead => sleepers::wait(self.config.wait_spin),
            }
            if sleepers::woken_covered() {
                // A round covering `p` took this entry: durable, and whoever ran it (a
                // leader, or `mark_durable_waking` with nobody leading) sees to the next
                // leader. No need to take the lock again.
                return Ok(());
            }
            s = lock(&self.sync);
            s.sleepers.remove_current();
        };
        self.leave(s);
        // Waiters relayed to this one while it was not looking (see `sleepers.rs`).
        sleepers::relay();
        if let Some(f) = work.take() {
            f();
        }
        result
    }

    /// A blocking waiter's exit. Whoever leaves with nobody leading and nobody gathering
    /// wakes one waiter the watermark does not cover yet, to lead (or gather) the next round
    /// (a leader ending its rounds with a waiter that came in after its last check, or a
    /// waiter that a round covered before it could lead): no waiter is left asleep without a
    /// leader or a gatherer parked on its deadline. A gatherer leaving ends its gather.
    fn leave(&self, mut s: MutexGuard<'_, SyncState>) {
        if s.gather
            .is_some_and(|(_, who)| who == std::thread::current().id())
        {
            s.gather = None;
        }
        let next = if s.leading || s.gather.is_some() {
            None
        } else {
            s.sleepers.next_leader(s.durable)
        };
        drop(s);
        if let Some(t) = next {
            t.wake();
        }
    }

    /// A blocking leader's round: the one covering `p`. It does not run more rounds for the
    /// waiters that arrived during its fdatasync: one of them leads the next (a waiter that
    /// arrives now that nobody leads, or the one `leave` wakes). Chaining up to three more
    /// rounds on the same thread, as this did while the sync thread woke the covered
    /// waiters, now costs 10%: the hand-over takes a little longer than the leader's next
    /// round would to start, but the waiters the round covered come back to append in that
    /// time and the next round covers more of them (8.3 writes per round instead of 7.2
    /// with 16 writers; fillsync16 76k -> 84k/s).
    fn lead_round(&self) -> Result<()> {
        // A full segment is rotated first, as the sync thread would before its round (the
        // seal makes the old segment durable; the round, what followed).
        self.rotate_if_due()?;
        self.sync_round_waking(WakeBy::Relay)
    }

    /// Awaits `durable > p` without blocking a runtime thread.
    pub async fn wait_durable_until_async(&self, p: Position) -> Result<()> {
        if self.request_durable(p)? {
            return Ok(());
        }
        let mut rx = self.durable_tx.subscribe();
        let closed = &self.closed;
        let poison = &self.poison;
        let _ = rx
            .wait_for(|d| *d > p || poison.get().is_some() || closed.load(Ordering::Acquire))
            .await;
        let durable = *rx.borrow();
        // Woken: done, poisoned or closed.
        self.wait_outcome(durable, p, true)
            .unwrap_or(Err(Error::Closed))
    }

    /// What a waiter for `durable > p` is told now, if it is done: `Ok` once `durable` covers
    /// `p`, whatever failed after (a record a round made durable stays so, and its writer is
    /// told so, not told that it failed, when a later round or a segment deletion's directory
    /// fsync poisons the log); else the poison; else, if `closed`, `Closed`.
    fn wait_outcome(&self, durable: Position, p: Position, closed: bool) -> Option<Result<()>> {
        if durable > p {
            return Some(Ok(()));
        }
        if let Err(e) = self.poisoned() {
            return Some(Err(e));
        }
        closed.then_some(Err(Error::Closed))
    }

    /// The wait `wait_durable(pos)` does under the policy. Each wait reports a poisoned log
    /// only for a record it has not already made durable (or written, under `Batch` and `Os`).
    pub fn durable_target(&self, pos: Position) -> Wait {
        match self.config.fsync_policy {
            FsyncPolicy::Always => Wait::Durable(pos),
            FsyncPolicy::Batch(_) | FsyncPolicy::Os => Wait::Written(pos),
        }
    }

    /// The target of `sync()`: everything appended so far.
    pub fn sync_target(&self) -> Result<Position> {
        self.check_writable()?;
        let end = self.current_position();
        // durable > (seg, end - 1) <=> durable >= (seg, end); end is past the header.
        Ok(Position::new(end.segment_id(), end.offset() - 1))
    }

    /// The position the next append gets.
    pub fn current_position(&self) -> Position {
        let st = lock(&self.state);
        match &st.active {
            Some(a) => a.end_position(),
            None => {
                let (&id, _) = st.segments.iter().next_back().unwrap_or((&0, &None));
                Position::new(id, st.segments.get(&id).copied().flatten().unwrap_or(0))
            }
        }
    }

    /// The durable watermark: every record before it is on stable storage.
    pub fn durable_position(&self) -> Position {
        lock(&self.sync).durable
    }

    /// Raises the durable watermark to `p` and wakes waiters.
    pub fn mark_durable(&self, p: Position) {
        self.mark_durable_waking(p, WakeBy::Caller)
    }

    /// [`mark_durable`](Engine::mark_durable), with the blocking sleepers woken by `wake`.
    fn mark_durable_waking(&self, p: Position, wake: WakeBy) {
        let mut s = lock(&self.sync);
        if p > s.durable {
            s.durable = p;
        }
        if p > s.in_flight {
            s.in_flight = p;
        }
        let d = s.durable;
        Engine::measure_group(&mut s);
        // A sleeper is listed under `sync` before it parks: none can be missed.
        let woken = s.sleepers.take_covered(d, wake == WakeBy::Relay);
        // The woken leave without looking at the list again: with nobody leading (a round
        // of the sync thread, a rotation, close), wake one that is not covered to lead.
        let next = if s.leading {
            None
        } else {
            s.gather = None; // its gatherer may be covered: the one woken takes over
            s.sleepers.next_leader(d)
        };
        drop(s);
        // Durable bytes are written bytes.
        self.mark_written(Some(d), false);
        unpark_all(woken);
        if let Some(t) = next {
            t.wake();
        }
        // The value is stored without a wake-up, then receivers (async waiters) are woken only
        // if there are any: one that subscribes after the count is taken reads the new value
        // before it waits (`wait_for` checks first), so none is missed, and a lone blocking
        // writer does not pay the watch's wake-all on every durable write.
        let mut changed = false;
        self.durable_tx.send_if_modified(|v| {
            changed = *v != d;
            *v = d;
            false
        });
        if changed && self.durable_tx.receiver_count() > 0 {
            self.durable_tx.send_modify(|_| {});
        }
    }

    /// One group-commit round: write the buffer, fdatasync outside the state lock, raise the
    /// watermark.
    pub fn sync_round(&self) -> Result<()> {
        self.sync_round_waking(WakeBy::Caller)
    }

    /// [`sync_round`](Engine::sync_round), with the sleepers it covers woken by `wake`.
    fn sync_round_waking(&self, wake: WakeBy) -> Result<()> {
        let _admin = lock(&self.admin);
        let (target, handle) = {
            let mut st = lock(&self.state);
            if self.poison.get().is_some() {
                return self.check_writable();
            }
            let Some(active) = st.active.as_mut() else {
                return Ok(());
            };
            if let Err(e) = active.flush() {
                return Err(self.poison("write to the active segment failed", e));
            }
            let target = Position::new(active.id, active.file_end);
            let handle = active.sync_handle.clone();
            st.unflushed_since = None;
            st.unsynced_since = None;
            let mut s = lock(&self.sync);
            s.requested = false;
            let covered = std::mem::take(&mut s.pending);
            s.last_covered = covered.max(1);
            if target > s.in_flight {
                s.in_flight = target;
            }
            let already = s.durable >= target;
            drop(s);
            if already {
                return Ok(());
            }
            (target, handle)
        };
        let started = Instant::now();
        if let Err(e) = lock(&handle).sync_data() {
            return Err(self.poison("fdatasync of the active segment failed", e));
        }
        lock(&self.sync).last_fsync = started.elapsed();
        self.mark_durable_waking(target, wake);
        Ok(())
    }

    /// Writes the buffer to the file (no fsync): the `Os` hand-off to the operating system.
    pub fn flush_round(&self) -> Result<()> {
        let _admin = lock(&self.admin);
        let mut st = lock(&self.state);
        if st.sealing || self.poison.get().is_some() {
            return Ok(());
        }
        st.unflushed_since = None;
        if let Some(active) = st.active.as_mut() {
            if let Err(e) = active.flush() {
                return Err(self.poison("write to the active segment failed", e));
            }
        }
        Ok(())
    }

    /// Stops the background thread and waits for it.
    pub fn stop_thread(&self) {
        let sleepers = {
            let mut s = lock(&self.sync);
            s.shutdown = true;
            s.sleepers.take_all()
        };
        self.sync_cv.notify_all();
        unpark_all(sleepers);
        let handle = lock(&self.thread).take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
    }

    /// Closes: writes and fsyncs everything, stops the thread, releases the directory lock.
    pub fn close(&self) -> Result<()> {
        let result = {
            let _admin = lock(&self.admin);
            let mut st = lock(&self.state);
            if self.closed.swap(true, Ordering::AcqRel) {
                return Ok(());
            }
            let result = match st.active.take() {
                Some(mut active) if self.poison.get().is_none() => {
                    let end = active.end_position();
                    let sealed_len = active.logical_end();
                    st.segments.insert(active.id, Some(sealed_len));
                    match active.trim().and_then(|()| active.flush_and_sync()) {
                        Ok(()) => {
                            self.mark_durable(end);
                            Ok(())
                        }
                        Err(e) => Err(self.poison("fdatasync at close failed", e)),
                    }
                }
                Some(active) => {
                    st.segments.insert(active.id, Some(active.file_end));
                    self.check_writable().and(Ok(()))
                }
                None => Ok(()),
            };
            st.lock = None;
            self.tail_cv.notify_all();
            result
        };
        self.tail_notify.notify_waiters();
        self.durable_tx.send_modify(|_| {});
        self.stop_thread();
        match result {
            Err(Error::Closed) => Ok(()),
            r => r,
        }
    }
}

/// An engine on a fresh `MemFs` under `policy`, with one record appended: (engine, its
/// position). For the unit tests of the engine's parts.
#[cfg(test)]
pub(crate) fn test_engine(policy: FsyncPolicy) -> (Arc<Engine>, Position) {
    test_engine_spinning(policy, crate::DEFAULT_WAIT_SPIN)
}

/// [`test_engine`] with [`WalConfig::wait_spin`] set.
#[cfg(test)]
pub(crate) fn test_engine_spinning(
    policy: FsyncPolicy,
    wait_spin: std::time::Duration,
) -> (Arc<Engine>, Position) {
    let config = WalConfig {
        dir: "/w".into(),
        fs: common::MemFs::new().shared(),
        fsync_policy: policy,
        wait_spin,
        ..Default::default()
    };
    let (engine, _) = Engine::open(config).unwrap();
    let mut pos = Position::start();
    engine
        .append(&[crate::Record::put("k", "v")], Handoff::Timer, |p| pos = p)
        .unwrap();
    (engine, pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::Receiver;
    use std::thread::JoinHandle;
    use std::time::Duration;

    /// An engine whose sync state says a leader is running (as if one were between its last
    /// round and its exit), and a thread waiting for the engine's one record, asleep behind
    /// that "leader" (parked, or spinning for up to `spin`): (engine, the record's position,
    /// the waiter's verdict, the waiter).
    fn waiter_asleep_behind_a_leader(
        spin: Duration,
    ) -> (Arc<Engine>, Position, Receiver<Result<()>>, JoinHandle<()>) {
        let (engine, pos) = test_engine_spinning(FsyncPolicy::Always, spin);
        lock(&engine.sync).leading = true;
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let engine = engine.clone();
            std::thread::spawn(move || tx.send(engine.wait_durable_until(pos)).unwrap())
        };
        while lock(&engine.sync)
            .sleepers
            .next_leader(Position::start())
            .is_none()
        {
            std::thread::yield_now(); // until the waiter is asleep behind the "leader"
        }
        (engine, pos, rx, waiter)
    }

    /// The waiter was woken (within 60 s) and its record is durable.
    fn expect_woken_and_durable(
        engine: &Arc<Engine>,
        pos: Position,
        rx: Receiver<Result<()>>,
        waiter: JoinHandle<()>,
    ) {
        let verdict = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the uncovered waiter was left asleep with nobody leading");
        verdict.unwrap();
        waiter.join().unwrap();
        assert!(engine.durable_position() > pos);
        engine.close().unwrap();
    }

    /// A waiter that went to sleep behind a leader which then left without covering it
    /// (the leader checked for later arrivals just before this one came) is woken by the
    /// leader's exit and leads its own round.
    #[test]
    fn a_leaving_leader_wakes_a_waiter_it_did_not_cover() {
        // Parked, and spinning: a spinning waiter must see the call to lead at once, not
        // when its hour of spin runs out.
        for spin in [Duration::ZERO, Duration::from_secs(3600)] {
            let (engine, pos, rx, waiter) = waiter_asleep_behind_a_leader(spin);
            let mut s = lock(&engine.sync);
            s.leading = false;
            engine.leave(s);
            expect_woken_and_durable(&engine, pos, rx, waiter);
        }
    }

    /// Waiters a round covers leave without looking at the list, so a round run with nobody
    /// leading (a rotation, a `sync()` of the sync thread) wakes an uncovered waiter to lead:
    /// here the leader left after waking a waiter that such a round then covered.
    #[test]
    fn a_round_with_nobody_leading_wakes_a_waiter_it_did_not_cover() {
        for spin in [Duration::ZERO, Duration::from_secs(3600)] {
            let (engine, pos, rx, waiter) = waiter_asleep_behind_a_leader(spin);
            lock(&engine.sync).leading = false; // gone, without a look at the list
            engine.mark_durable(engine.durable_position()); // a round that covers nobody
            expect_woken_and_durable(&engine, pos, rx, waiter);
        }
    }

    /// Many writers waiting on rounds (some spinning, some parked after a short spin) each
    /// see their round end: every append is durable when its wait returns.
    #[test]
    fn spinning_and_parked_waiters_all_see_their_rounds() {
        for spin in [
            Duration::ZERO,
            Duration::from_micros(50),
            Duration::from_secs(3600),
        ] {
            let (engine, _) = test_engine_spinning(FsyncPolicy::Always, spin);
            let (tx, rx) = std::sync::mpsc::channel();
            for t in 0..8u32 {
                let engine = engine.clone();
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..200u32 {
                        let mut pos = Position::start();
                        let key = (t * 1000 + i).to_le_bytes();
                        engine
                            .append(&[crate::Record::put(key, "v")], Handoff::Waiter, |p| {
                                pos = p
                            })
                            .unwrap();
                        engine.wait_durable_until(pos).unwrap();
                        assert!(engine.durable_position() > pos);
                    }
                    tx.send(()).unwrap();
                });
            }
            for _ in 0..8 {
                rx.recv_timeout(Duration::from_secs(120))
                    .expect("a writer was left waiting");
            }
            engine.close().unwrap();
        }
    }
}
