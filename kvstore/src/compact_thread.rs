//! Who runs compactions: the background threads (`Options::compaction_threads`), and the
//! caller's thread for `Db::compact` / `Db::compact_range`.
//!
//! Background loop: wait on `compact_cv` (woken after every flush and compaction) ->
//! `pick` over the current version and the busy set -> `BusySet::insert` -> run and install
//! (`compact.rs`) -> `BusySet::remove` -> wake everyone -> repeat.
//!
//! Failures, explicitly:
//! - a job failure before the manifest edit (an input unreadable, an output write or the
//!   directory sync failing) changes nothing: its outputs are removed, the error is counted
//!   (`Stats::compaction_failures`) and kept (`Stats::last_compaction_error`), and background
//!   threads pick nothing for a backoff of 100 ms doubling per consecutive failure up to 10 s.
//!   Reads and writes go on (writes may stall if the debt reaches the stop limit).
//! - a manifest write failure poisons the engine, as for flushes: what reached the manifest
//!   is unknown and only a reopen can tell.
//! - cancellation at shutdown is not a failure.

use crate::compact::{levels_of, TaskError};
use crate::engine::{lock, Counters, Engine};
use crate::error::{Error, Result};
use compaction::{pick, pick_range, ManualPick, Task};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

impl Engine {
    /// One background compaction thread; returns at shutdown or once the engine is poisoned.
    pub fn compaction_loop(self: Arc<Self>) {
        loop {
            let task = {
                let mut st = lock(&self.compact);
                loop {
                    if st.shutdown || self.check_poison().is_err() {
                        return;
                    }
                    if let Some(at) = st.retry_at {
                        let now = Instant::now();
                        if now < at {
                            st = self
                                .compact_cv
                                .wait_timeout(st, at - now)
                                .unwrap_or_else(|p| p.into_inner())
                                .0;
                            continue;
                        }
                        st.retry_at = None;
                    }
                    // A temporary: no version may stay held while this thread sleeps, or
                    // the tables it names could not be deleted.
                    let picked = match levels_of(&self.read_state().version) {
                        Ok(levels) => pick(&levels, &st.busy, &self.copts),
                        Err(e) => {
                            drop(st);
                            self.poison(e);
                            return;
                        }
                    };
                    if let Some(task) = picked {
                        if st.busy.insert(&task).is_ok() {
                            break task;
                        }
                    }
                    st = self.compact_cv.wait(st).unwrap_or_else(|p| p.into_inner());
                }
            };
            let res = self.run_task(&task);
            if !self.finish_task(&task, res) {
                return;
            }
        }
    }

    /// Releases a task's tables and records its outcome; false if the thread must stop.
    fn finish_task(&self, task: &Task, res: std::result::Result<(), TaskError>) -> bool {
        let mut st = lock(&self.compact);
        st.busy.remove(task);
        self.compact_cv.notify_all();
        match res {
            Ok(()) => {
                st.failures = 0;
                true
            }
            Err(TaskError::Cancelled) => false,
            Err(TaskError::Job(e)) => {
                Counters::add(&self.counters.compaction_failures, 1);
                let backoff = BACKOFF_MIN
                    .saturating_mul(1u32 << st.failures.min(10))
                    .min(BACKOFF_MAX);
                st.failures = st.failures.saturating_add(1);
                st.retry_at = Some(Instant::now() + backoff);
                st.last_error = Some(e.to_string());
                true
            }
            Err(TaskError::Manifest(e)) => {
                Counters::add(&self.counters.compaction_failures, 1);
                st.last_error = Some(e.to_string());
                drop(st);
                self.poison(e);
                false
            }
        }
    }

    /// Compacts every table meeting `start..=end` (`None`: unbounded) down the levels on the
    /// caller's thread, waiting for running tasks that hold tables it needs. Flushes first.
    pub(crate) fn compact_range(&self, start: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        self.flush_and_wait()?;
        let max_level = self.copts.max_levels.min(crate::format::NUM_LEVELS);
        let mut level = 0;
        while level < max_level {
            let task = {
                let mut st = lock(&self.compact);
                loop {
                    self.check_poison()?;
                    if st.shutdown {
                        return Err(Error::Closed);
                    }
                    let levels = levels_of(&self.read_state().version)?;
                    match pick_range(&levels, &st.busy, level, start, end, &self.copts) {
                        ManualPick::Task(task) if st.busy.insert(&task).is_ok() => {
                            break Some(task)
                        }
                        ManualPick::Empty => break None,
                        ManualPick::Task(_) | ManualPick::Busy => {
                            st = self.compact_cv.wait(st).unwrap_or_else(|p| p.into_inner());
                        }
                    }
                }
            };
            let Some(task) = task else {
                level += 1;
                continue;
            };
            let res = self.run_task(&task);
            {
                let mut st = lock(&self.compact);
                st.busy.remove(&task);
                self.compact_cv.notify_all();
            }
            match res {
                Ok(()) => {}
                Err(TaskError::Cancelled) => return Err(Error::Closed),
                Err(TaskError::Job(e)) => {
                    Counters::add(&self.counters.compaction_failures, 1);
                    lock(&self.compact).last_error = Some(e.to_string());
                    return Err(e);
                }
                Err(TaskError::Manifest(e)) => {
                    Counters::add(&self.counters.compaction_failures, 1);
                    return Err(self.poison(e));
                }
            }
            if task.bottommost {
                break;
            }
            level = if task.output_level > level {
                task.output_level
            } else {
                level + 1
            };
        }
        Ok(())
    }

    /// Asks the background threads to stop; running jobs are cancelled.
    pub fn shutdown_compaction(&self) {
        self.compact_cancel.store(true, Ordering::SeqCst);
        let mut st = lock(&self.compact);
        st.shutdown = true;
        self.compact_cv.notify_all();
    }
}
