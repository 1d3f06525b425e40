//! Group commit of the blocking face: the next round waits (boundedly) for the last round's
//! group to come back, so one fdatasync covers about every writer instead of half of them.
//!
//! Without it, with `n` writers each appending again as soon as its write is durable, the
//! writers split into two alternating cohorts: while one waits on the fdatasync in flight, the
//! other appends, and its first waiter leads the next round as soon as that fdatasync ends. Each
//! round then covers about `n / 2` writes (8.0-8.3 on average with 16 writers, measured), so the
//! throughput cannot pass `n / 2` writes per fdatasync, `n / 2` times that of one writer.
//!
//! With it, the round after one that served a group of `g` waiters (those it covered plus those
//! already waiting for the next) starts when `g` waiters wait for it: the first of them to find
//! nobody leading *gathers* (parks, keeping the deadline), the one that completes the group
//! leads at once without a hand-off, and the gatherer, listed as a sleeper, is covered by that
//! round like the others. The wait is bounded: after [`GATHER_FSYNCS`] times the last
//! fdatasync's duration (at most [`MAX_GATHER`]) the gatherer leads whoever came, and the next
//! group is measured from that round, so a writer that stopped costs one late round. A group
//! of one never waits: with a single writer every round starts at once, as before.
//!
//! The invariant that no waiter sleeps with nobody to start its round becomes: with nobody
//! leading, either a gatherer is parked on its deadline (`SyncState::gather`), or the waiter
//! that leaves (or the round that ran with nobody leading) wakes one to lead or gather. A round
//! started by anyone clears the gather (its gatherer is listed and covered by it).

use crate::engine::{Engine, SyncState};
use crate::sync_thread::MAX_GATHER;
use std::time::{Duration, Instant};

/// The gather's bound, in units of the last fdatasync's duration (measured: with 16 writers
/// the group is back 100-120 us after a round, 1.3-1.5 fdatasyncs; a bound of one fdatasync
/// cut 20% of the rounds short, 86k against 94k writes/s).
pub const GATHER_FSYNCS: u32 = 2;

/// A blocking durability waiter's next step (see [`Engine::turn`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Turn {
    /// Run the next round.
    Lead,
    /// Park for at most this long while the group gathers, then look again.
    Gather(Duration),
    /// Park until woken (a round covers it, or it is woken to lead).
    Sleep,
}

impl Engine {
    /// What a blocking waiter whose record is not durable yet does next (under the `sync`
    /// lock). `counted`: it needs the next round (no round in flight covers it). Taking
    /// `Lead` marks the round as led.
    pub(crate) fn turn(&self, s: &mut SyncState, counted: bool) -> Turn {
        if s.leading {
            return Turn::Sleep;
        }
        if counted && s.pending < s.group {
            let me = std::thread::current().id();
            let now = Instant::now();
            match s.gather {
                None => {
                    let wait = (s.last_fsync * GATHER_FSYNCS).min(MAX_GATHER);
                    if !wait.is_zero() {
                        s.gather = Some((now + wait, me));
                        s.gathers += 1;
                        return Turn::Gather(wait);
                    }
                }
                Some((until, who)) if now < until => {
                    return if who == me {
                        Turn::Gather(until - now)
                    } else {
                        Turn::Sleep
                    };
                }
                Some(_) => {} // the deadline passed: lead whoever came
            }
        }
        s.leading = true;
        s.gather = None;
        Turn::Lead
    }

    /// At the end of a round (under the `sync` lock): the group the next one waits for.
    pub(crate) fn measure_group(s: &mut SyncState) {
        s.group = s.last_covered + s.pending;
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::{lock, test_engine, Handoff};
    use crate::FsyncPolicy;
    use std::time::Duration;

    /// A lone writer's group is itself: no round ever waits for a gather, however long the
    /// last fdatasync took.
    #[test]
    fn a_single_writer_never_gathers() {
        let (engine, mut pos) = test_engine(FsyncPolicy::Always);
        for i in 0..100u32 {
            // A bound that is never zero (the in-memory fdatasync may take no time at all).
            lock(&engine.sync).last_fsync = Duration::from_millis(1);
            engine.wait_durable_until(pos).unwrap();
            assert!(engine.durable_position() > pos);
            engine
                .append(
                    &[crate::Record::put(i.to_le_bytes(), "v")],
                    Handoff::Timer,
                    |p| pos = p,
                )
                .unwrap();
        }
        let s = lock(&engine.sync);
        assert_eq!((s.gathers, s.group), (0, 1));
        drop(s);
        engine.close().unwrap();
    }

    /// A waiter that finds fewer waiters than the last group parks as the gatherer; when
    /// nobody else comes it leads at its deadline, and its record is durable.
    #[test]
    fn a_gather_nobody_completes_ends_at_its_deadline() {
        let (engine, pos) = test_engine(FsyncPolicy::Always);
        {
            let mut s = lock(&engine.sync);
            s.group = 3; // as if the last round had served three waiters
            s.last_fsync = Duration::from_micros(100);
        }
        engine.wait_durable_until(pos).unwrap();
        assert!(engine.durable_position() > pos);
        let s = lock(&engine.sync);
        assert_eq!(s.gathers, 1);
        assert!(s.gather.is_none() && !s.leading);
        assert_eq!(s.group, 1, "the next group is the one that came");
        drop(s);
        engine.close().unwrap();
    }

    /// Two waiters and a group of two: whichever comes second completes the group and leads
    /// (or the first leads at its deadline); both return durable.
    #[test]
    fn the_waiter_that_completes_the_group_is_served_with_the_gatherer() {
        let (engine, first) = test_engine(FsyncPolicy::Always);
        let mut second = first;
        engine
            .append(&[crate::Record::put("k2", "v2")], Handoff::Timer, |p| {
                second = p
            })
            .unwrap();
        {
            let mut s = lock(&engine.sync);
            s.group = 2;
            s.last_fsync = Duration::from_millis(200); // the bound: MAX_GATHER
        }
        let other = {
            let engine = engine.clone();
            std::thread::spawn(move || engine.wait_durable_until(first))
        };
        engine.wait_durable_until(second).unwrap();
        other.join().unwrap().unwrap();
        assert!(engine.durable_position() > second);
        let mut s = lock(&engine.sync);
        assert!(s.gather.is_none() && !s.leading && s.sleepers.take_all().is_empty());
        drop(s);
        engine.close().unwrap();
    }
}
