//! The background thread: group commit, the `Batch` timer, the buffer hand-off, rotation.
//!
//! It sleeps on `Engine::sync_cv` until one of these is due:
//! - a durability request (an `Always` append or a `sync()` waiting): one sync round, covering
//!   every append made before it started; waiters arriving meanwhile share the next round;
//! - a large `Always` append (4 KiB or more, see `Engine::append`): one sync round at once,
//!   without the gather, while the appender does its own work before it waits;
//! - `Batch(d)`: `d / 2` after the first unsynced append, a sync round, so every record is
//!   durable within `d` of its append even if no append follows;
//! - the write buffer has held bytes for [`FLUSH_INTERVAL`]: they are written to the file
//!   (handed to the OS) without an fsync. (Appends that wait do this themselves before they
//!   return, see `group_write.rs`; this covers `append_no_wait` bytes nobody waits for.)
//! - the active segment reached its size: rotation.

use crate::config::FsyncPolicy;
use crate::engine::{lock, Engine};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest appended bytes wait in the process's buffer before the background thread hands
/// them to the operating system.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(1);

/// The longest a round waits for a group to gather before an fsync (the sync thread's, and a
/// blocking leader's, see `gather.rs`).
pub const MAX_GATHER: Duration = Duration::from_micros(500);

impl Engine {
    /// Group commit: before a requested round, give the waiters the last round served a moment
    /// (a quarter of the last fsync, at most [`MAX_GATHER`]) to append again and join it. With
    /// one appender this never waits; with many it keeps rounds full instead of alternating
    /// between a round of one and a round of the rest.
    fn gather_group(&self) {
        let mut s = lock(&self.sync);
        let want = s.last_covered;
        let deadline = Instant::now() + (s.last_fsync / 4).min(MAX_GATHER);
        while s.pending < want && !s.shutdown {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            s = self
                .sync_cv
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    pub(crate) fn sync_thread(self: Arc<Self>) {
        let batch = match self.config.fsync_policy {
            FsyncPolicy::Batch(d) => Some(d / 2),
            _ => None,
        };
        loop {
            // What is due, and when the next timer fires.
            let (rotate, sync_due, flush_due, deadline) = {
                let st = lock(&self.state);
                let now = Instant::now();
                let sync_at = batch.and_then(|half| st.unsynced_since.map(|t| t + half));
                let flush_at = st.unflushed_since.map(|t| t + FLUSH_INTERVAL);
                let deadline = [sync_at, flush_at].into_iter().flatten().min();
                (
                    st.rotate_pending,
                    sync_at.is_some_and(|t| t <= now),
                    flush_at.is_some_and(|t| t <= now),
                    deadline,
                )
            };
            let (requested, early) = {
                let mut s = lock(&self.sync);
                if s.shutdown {
                    return;
                }
                if !(rotate || sync_due || flush_due || s.requested || s.kicked) {
                    s.idle = deadline.is_none();
                    s = match deadline {
                        Some(t) => {
                            let wait = t.saturating_duration_since(Instant::now());
                            self.sync_cv
                                .wait_timeout(s, wait)
                                .unwrap_or_else(|e| e.into_inner())
                                .0
                        }
                        None => self.sync_cv.wait(s).unwrap_or_else(|e| e.into_inner()),
                    };
                }
                s.idle = false;
                if s.shutdown {
                    return;
                }
                s.kicked = false;
                (s.requested, std::mem::take(&mut s.early))
            };
            // Errors poison the log inside these calls; the thread carries on serving waiters,
            // which then see the poison.
            if rotate {
                let _ = self.rotate_if_due();
            }
            if requested && !early {
                self.gather_group();
            }
            if requested || sync_due || early {
                let _ = self.sync_round();
            } else if flush_due {
                let _ = self.flush_round();
            }
            if self.poison.get().is_some() {
                // Nothing more can be made durable; idle until shutdown.
                let mut s = lock(&self.sync);
                while !s.shutdown {
                    s = self.sync_cv.wait(s).unwrap_or_else(|e| e.into_inner());
                }
                return;
            }
        }
    }
}
