//! Blocking durability waiters, each parked on its own thread.
//!
//! A sync round wakes exactly the waiters it made durable: one `unpark` each. With a condvar's
//! `notify_all` every round also woke the waiters still short of the new watermark, and they
//! went straight back to sleep: with 16 writers that was two wasted context switches per
//! waiter per round, and a `notify_all` of about 40 us on the leader's path to its next
//! fdatasync (2 cores).
//!
//! The list lives in `SyncState` (under the `sync` lock). A waiter adds itself, releases the
//! lock and parks; a waker takes the entries it covers under the lock and unparks them after
//! releasing it. `park` may return spuriously and an `unpark` may arrive before the `park`
//! (the token makes that `park` return at once), so a waiter always re-checks under the lock
//! and removes its own entry if it is still there.

use crate::Position;
use std::thread::{self, Thread};

/// The parked blocking waiters: each waits for `durable > target`.
#[derive(Default)]
pub(crate) struct Sleepers {
    list: Vec<(Position, Thread)>,
}

impl Sleepers {
    /// Registers the current thread as waiting for `durable > target` (then park it).
    pub fn add(&mut self, target: Position) {
        self.list.push((target, thread::current()));
    }

    /// Removes the current thread's entry, if a waker has not already taken it.
    pub fn remove_current(&mut self) {
        let me = thread::current().id();
        if let Some(i) = self.list.iter().position(|(_, t)| t.id() == me) {
            self.list.swap_remove(i);
        }
    }

    /// How many sleepers the watermark `durable` covers.
    pub fn covered(&self, durable: Position) -> usize {
        self.list.iter().filter(|(p, _)| durable > *p).count()
    }

    /// Takes the sleepers `durable` covers, to unpark once the lock is released.
    pub fn take_covered(&mut self, durable: Position) -> Vec<Thread> {
        let mut woken = Vec::new();
        self.list.retain(|(p, t)| {
            if durable > *p {
                woken.push(t.clone());
                false
            } else {
                true
            }
        });
        woken
    }

    /// Takes every sleeper (poison, shutdown, truncation: all must look again).
    pub fn take_all(&mut self) -> Vec<Thread> {
        self.list.drain(..).map(|(_, t)| t).collect()
    }

    /// The sleeper to lead the next round when nobody leads: the one with the lowest target
    /// that `durable` does not cover. It stays listed (it removes itself when it wakes).
    pub fn next_leader(&self, durable: Position) -> Option<Thread> {
        self.list
            .iter()
            .filter(|(p, _)| *p >= durable)
            .min_by_key(|(p, _)| *p)
            .map(|(_, t)| t.clone())
    }
}

/// Unparks `threads` (call with no lock held).
pub(crate) fn unpark_all(threads: Vec<Thread>) {
    for t in threads {
        t.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_sleepers_are_taken_and_the_rest_stay() {
        let mut s = Sleepers::default();
        s.add(Position::new(1, 100));
        assert_eq!(
            s.covered(Position::new(1, 100)),
            0,
            "durable must pass the target"
        );
        assert_eq!(s.covered(Position::new(1, 101)), 1);
        assert!(s.next_leader(Position::new(1, 50)).is_some());
        assert!(s.next_leader(Position::new(1, 101)).is_none());
        assert!(s.take_covered(Position::new(1, 100)).is_empty());
        assert_eq!(s.take_covered(Position::new(2, 0)).len(), 1);
        assert!(s.take_all().is_empty());
        s.add(Position::new(3, 0));
        s.remove_current();
        assert!(
            s.take_all().is_empty(),
            "the current thread's entry was removed"
        );
    }
}
