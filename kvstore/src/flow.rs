//! Write flow control from compaction debt (the compaction crate's [`write_pressure`]).
//!
//! The pressure of the current version is computed whenever the version changes (after each
//! flush and each compaction) and kept in one atomic, so a write pays one load:
//! - none: write at full speed;
//! - slowdown: sleep the given delay before writing (counted: `Stats::slowdowns`,
//!   `Stats::slowdown_micros`);
//! - stop: wait on `compact_cv` until compaction lowers the pressure (counted: `Stats::stops`,
//!   `Stats::stop_micros`).
//!
//! A writer waits before it takes the write lock or appends anything, so a stopped writer holds
//! no record that compaction might wait to become visible (see `compact.rs`), and no lock.
//! With `compaction_threads = 0` there is no flow control: no thread would lift a stop.

use crate::compact::levels_of;
use crate::engine::{lock, Counters, Engine};
use crate::error::{Error, Result};
use compaction::{write_pressure, WritePressure};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The encoding of "stop" in `Engine::pressure` (0 is "none", anything else a delay in µs).
const STOP: u64 = u64::MAX;

impl Engine {
    /// Recomputes the write pressure from the current version. Call after installing a
    /// version, then wake `compact_cv` (under its lock) so stopped writers look again.
    ///
    /// Runs under the version set's lock, like every install: two refreshes racing with an
    /// install cannot store their results out of order (a stale "stop" stored after a fresher
    /// "none" would stop writers with nothing left for compaction to do). Callers must not
    /// hold `versions`.
    pub(crate) fn refresh_pressure(&self) {
        let _versions = lock(&self.versions);
        let version = self.read_state().version.clone();
        let code = match levels_of(&version) {
            Ok(levels) => match write_pressure(&levels, &self.copts) {
                WritePressure::None => 0,
                WritePressure::Slowdown { delay_micros } => delay_micros.clamp(1, STOP - 1),
                WritePressure::Stop => STOP,
            },
            Err(_) => 0, // an impossible shape; compaction reports it
        };
        self.pressure.store(code, Ordering::SeqCst);
    }

    /// Slows down or stops the calling writer per the current pressure.
    pub(crate) fn throttle(&self) -> Result<()> {
        if self.opts.compaction_threads == 0 {
            return Ok(());
        }
        match self.pressure.load(Ordering::SeqCst) {
            0 => Ok(()),
            STOP => self.wait_for_compaction(),
            delay => {
                std::thread::sleep(Duration::from_micros(delay));
                Counters::add(&self.counters.slowdowns, 1);
                Counters::add(&self.counters.slowdown_micros, delay);
                Ok(())
            }
        }
    }

    fn wait_for_compaction(&self) -> Result<()> {
        let start = Instant::now();
        Counters::add(&self.counters.stops, 1);
        let mut st = lock(&self.compact);
        let res = loop {
            if let Err(e) = self.check_poison() {
                break Err(e);
            }
            if st.shutdown {
                break Err(Error::Closed);
            }
            // Recomputed rather than only loaded: the wait never rests on a stale value.
            self.refresh_pressure();
            if self.pressure.load(Ordering::SeqCst) != STOP {
                break Ok(());
            }
            // The timeout only guards against a missed wake-up; every install wakes us.
            st = self
                .compact_cv
                .wait_timeout(st, Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        };
        drop(st);
        Counters::add(
            &self.counters.stop_micros,
            start.elapsed().as_micros() as u64,
        );
        res
    }
}
