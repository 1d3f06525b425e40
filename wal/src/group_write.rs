//! The hand-off to the operating system under `Os` and `Batch`: a group write.
//!
//! `append` encodes into the active segment's buffer (no system call); before it returns under
//! `Os` or `Batch`, the bytes must have been handed to the OS (a `write` to the segment file),
//! so a process crash (SIGKILL, a panic that aborts) loses no acknowledged append. One waiter at
//! a time is the *leader*: it writes the whole buffer, which holds its own bytes and those of
//! every appender that encoded before it took the state lock, and raises the `written`
//! watermark. The others (*followers*) wait for that round; a follower the round did not cover
//! becomes the next leader. Many concurrent appenders thus share one `write` system call.
//!
//! The `written` watermark is the exclusive end of the bytes known to be in the file; a record
//! at `p` is written once `written > p`. A round never runs while a rotation is sealing the
//! previous segment (the new segment's bytes must stay in the buffer until then), so the leader
//! waits for the seal. Lock order: `wstate` is never held while taking `state`.

use crate::engine::{lock, Engine};
use crate::error::{Error, Result};
use crate::Position;
use tokio::sync::watch;

/// The `written` watermark and who is writing.
pub(crate) struct WriteState {
    /// Every record before this position has been handed to the OS.
    pub written: Position,
    /// A leader is writing the buffer.
    pub leader: bool,
    /// Blocking followers waiting on `written_cv` (a notify with none is skipped: the
    /// condvar's wake is a system call even when nobody sleeps).
    pub sleepers: usize,
}

/// How a leader's round ended.
enum Round {
    /// The whole buffer was written and `written` raised to the log's end.
    Wrote,
    /// The log is closed: nothing is left to write.
    Closed,
    /// A rotation is sealing the previous segment (only when asked not to block): the
    /// receiver sees a change once the seal is over.
    Sealing(watch::Receiver<u64>),
}

/// The leadership of a round: ends it (wakes the followers) when dropped, also if an async
/// leader's future is dropped while it waits out a seal.
struct Leader<'a> {
    engine: &'a Engine,
    ended: bool,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.engine.mark_written(None, true);
        }
    }
}

impl Engine {
    pub(crate) fn poisoned(&self) -> Result<()> {
        match self.poison.get() {
            Some(cause) => Err(Error::Poisoned {
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Writes the active segment's buffer, raises `written` to the log's end and ends the
    /// round, all under the state lock (so that a `truncate_after`, which lowers `written`,
    /// cannot come between the write and the raise). During a seal it waits (`block`) or
    /// returns `Round::Sealing`.
    fn write_round(&self, leader: &mut Leader<'_>, block: bool) -> Result<Round> {
        let mut st = lock(&self.state);
        while st.sealing && self.poison.get().is_none() {
            if !block {
                // Subscribed under the state lock, which the seal's end takes before it
                // signals: the change cannot be missed.
                return Ok(Round::Sealing(self.written_tx.subscribe()));
            }
            st = self.seal_cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        self.poisoned()?;
        let Some(active) = st.active.as_mut() else {
            return Ok(Round::Closed);
        };
        if let Err(e) = active.flush() {
            return Err(self.poison("write to the active segment failed", e));
        }
        let end = active.end_position();
        st.unflushed_since = None;
        self.mark_written(Some(end), true);
        leader.ended = true;
        Ok(Round::Wrote)
    }

    /// Raises `written` to `p` (never lowers it) and wakes the waiters of both faces.
    pub(crate) fn mark_written(&self, p: Option<Position>, end_round: bool) {
        let mut w = lock(&self.wstate);
        if let Some(p) = p {
            if p > w.written {
                w.written = p;
            }
        }
        if end_round {
            w.leader = false;
        }
        let sleepers = w.sleepers;
        drop(w);
        if sleepers > 0 {
            self.written_cv.notify_all();
        }
        // An async follower subscribes under `wstate` before it waits (and a leader waiting
        // out a seal under `state`, before the seal's end calls this): every receiver that
        // needs this change is already counted here, and one subscribing later sees the
        // raised `written` (or the ended round) under the lock. Skipping the send with no
        // receiver saves the watch's wake-all on every write of a single writer.
        if self.written_tx.receiver_count() > 0 {
            self.written_tx.send_modify(|n| *n = n.wrapping_add(1));
        }
    }

    /// Sets `written` to `p` exactly (after `truncate_after` reused the positions past `p`).
    pub(crate) fn reset_written(&self, p: Position) {
        lock(&self.wstate).written = p;
        self.written_cv.notify_all();
        self.written_tx.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// The verdict for `p` after a leader's round (not `Sealing`).
    fn verdict(&self, round: Result<Round>, p: Position) -> Result<()> {
        match round? {
            // The whole log is written now: `p` is covered, or it is no longer in the log
            // (a `truncate_after` dropped it), and there is nothing left to wait for.
            Round::Wrote => Ok(()),
            Round::Closed | Round::Sealing(_) => {
                if lock(&self.wstate).written > p {
                    Ok(())
                } else {
                    self.poisoned()?;
                    Err(Error::Closed)
                }
            }
        }
    }

    /// The blocking leader's part: one round (waiting out a seal), then the verdict for `p`.
    fn lead(&self, p: Position) -> Result<()> {
        let mut leader = Leader {
            engine: self,
            ended: false,
        };
        let round = self.write_round(&mut leader, true);
        drop(leader);
        self.verdict(round, p)
    }

    /// The async leader's part: as [`lead`](Engine::lead), but a seal (an fdatasync) is
    /// awaited, not waited for on the runtime thread.
    async fn lead_async(&self, p: Position) -> Result<()> {
        let mut leader = Leader {
            engine: self,
            ended: false,
        };
        loop {
            match self.write_round(&mut leader, false) {
                Ok(Round::Sealing(mut rx)) => {
                    if rx.changed().await.is_err() {
                        return Err(Error::Closed);
                    }
                }
                round => {
                    drop(leader);
                    return self.verdict(round, p);
                }
            }
        }
    }

    /// Blocks until the record at `p` has been handed to the OS (`written > p`), writing the
    /// buffer itself if no other waiter is.
    pub fn wait_written(&self, p: Position) -> Result<()> {
        let mut w = lock(&self.wstate);
        loop {
            if w.written > p {
                return Ok(());
            }
            self.poisoned()?;
            if !w.leader {
                break;
            }
            w.sleepers += 1;
            w = self.written_cv.wait(w).unwrap_or_else(|e| e.into_inner());
            w.sleepers -= 1;
        }
        w.leader = true;
        drop(w);
        self.lead(p)
    }

    /// [`wait_written`](Engine::wait_written) for the async face: a follower awaits the
    /// leader's round without blocking its runtime thread; a leader writes on the caller's
    /// task (one `write` system call, never an fsync; a seal in progress is awaited).
    pub async fn wait_written_async(&self, p: Position) -> Result<()> {
        loop {
            let follow = {
                let mut w = lock(&self.wstate);
                if w.written > p {
                    return Ok(());
                }
                self.poisoned()?;
                if w.leader {
                    // Subscribed under the lock: the leader's end of round is seen as a change.
                    Some(self.written_tx.subscribe())
                } else {
                    w.leader = true;
                    None
                }
            };
            match follow {
                Some(mut rx) => {
                    if rx.changed().await.is_err() {
                        return Err(Error::Closed);
                    }
                }
                None => return self.lead_async(p).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsyncPolicy;
    use std::future::Future;
    use std::task::{Context, Waker};

    #[test]
    fn a_leader_dropped_while_a_seal_is_in_progress_hands_the_round_on() {
        let (engine, pos) = crate::engine::test_engine(FsyncPolicy::Os);
        lock(&engine.state).sealing = true; // as if a rotation were sealing
        {
            let mut fut = std::pin::pin!(engine.wait_written_async(pos));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(fut.as_mut().poll(&mut cx).is_pending());
            assert!(lock(&engine.wstate).leader, "it leads the round");
        } // dropped while it waits out the seal
        assert!(!lock(&engine.wstate).leader, "the round was handed on");
        lock(&engine.state).sealing = false;
        engine.seal_cv.notify_all();
        engine.wait_written(pos).unwrap();
        assert!(lock(&engine.wstate).written > pos);
        engine.close().unwrap();
    }
}
