//! Blocking durability waiters, each parked on its own thread, and the relay that wakes them.
//!
//! A sync round wakes exactly the waiters it made durable: with a condvar's `notify_all` every
//! round also woke the waiters still short of the new watermark, and they went straight back
//! to sleep (two wasted context switches per waiter per round with 16 writers on 2 cores).
//!
//! The list lives in `SyncState` (under the `sync` lock). A waiter adds itself, releases the
//! lock and parks; a waker takes the entries it covers under the lock and unparks them after
//! releasing it. `park` may return spuriously and an `unpark` may arrive before the `park`
//! (the token makes that `park` return at once), so a woken waiter trusts only its slot's
//! `covered` flag, set under the lock by the waker that took its entry; otherwise it re-checks
//! under the lock and removes its own entry if it is still there.
//!
//! The relay: a group-commit leader must start its next fdatasync at once, and each `unpark`
//! costs it a system call (and often a preemption by the woken thread: 5-7 us each on this
//! 2-vCPU VM). So it wakes only the first waiter its round covered and hands it the others
//! (`Slot::relay`) as a binary tree: each woken waiter, which had to be woken anyway, wakes
//! two more before it returns, so that the crowd comes back to append for the next round on
//! both cores at once (a single waiter waking all of them in turn was 3% slower with 16
//! writers). The tree is built, and every member marked covered, under the `sync` lock,
//! before anyone is woken: a member that wakes early (a spurious return from `park`) finds
//! its part of the tree already there. Handing the wake-ups to the background sync thread
//! instead cost that thread a wake-up and two context switches per round.
//!
//! The spin: before it parks, a waiter yields the CPU in a loop for up to
//! `WalConfig::wait_spin`, watching its slot's `woken` flag, which every wake-up sets before
//! it unparks (a round that covered it, a call to lead, a poison). Once set, `park` returns at
//! once (the unpark's token) or as soon as the unpark lands. Parked, each waiter costs its
//! waker a system call and itself a wake-up from an idle core, at every level of the relay:
//! with 16 durable writers on 2 cores, fillsync16 went from a median of 67.0k to 79.3k
//! writes/s (ahead in 8 of 10 interleaved runs). Shorter spins gave less: in trials, 100 us
//! and 200 us gave 72.2k and 77.0k against 64.5k without; 400 us gave 94.2k against 200 us's
//! 77.3k. The process then used 1.7 cores instead of 1.0 for the same writes.

use crate::Position;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// A blocking waiter's parking slot, shared by its thread and its wakers.
#[derive(Debug)]
pub(crate) struct Slot {
    thread: Thread,
    /// Set, under `sync`, by the waker that took this waiter's entry because a round covered
    /// it (not by `take_all`: those waiters must look again). Cleared when it waits again.
    covered: AtomicBool,
    /// Set by every wake-up just before its unpark; cleared when it waits again. What a
    /// spinning waiter watches (it cannot see the unpark's token without consuming it).
    woken: AtomicBool,
    /// Covered waiters this one wakes when it wakes (its children in the relay's tree,
    /// filled before `covered` is set).
    relay: Mutex<Vec<Arc<Slot>>>,
}

thread_local! {
    static SLOT: Arc<Slot> = Arc::new(Slot {
        thread: thread::current(),
        covered: AtomicBool::new(false),
        woken: AtomicBool::new(false),
        relay: Mutex::new(Vec::new()),
    });
}

impl Slot {
    /// Wakes the slot's thread (from its spin or its park).
    pub fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Waits to be woken after [`Sleepers::add`]: yields the CPU for up to `spin` while no wake-up
/// came and no round covered it (see the module doc), then parks unless covered. May return
/// spuriously, as `park` does; a covered waiter that returns before its relay parent's unpark
/// lands keeps that unpark's token, so one later `park` of this thread returns spuriously.
pub(crate) fn wait(spin: Duration) {
    SLOT.with(|slot| {
        let woken = || slot.woken.load(Ordering::Acquire);
        let covered = || slot.covered.load(Ordering::Acquire);
        if !spin.is_zero() {
            let until = Instant::now() + spin;
            while !woken() && !covered() && Instant::now() < until {
                thread::yield_now();
            }
        }
        if woken() || !covered() {
            thread::park();
        }
    })
}

fn current() -> Arc<Slot> {
    SLOT.with(Arc::clone)
}

/// After a park: whether a round that covers this waiter took its entry (then it is durable
/// and must not touch the list again). Wakes the waiters relayed to it either way.
pub(crate) fn woken_covered() -> bool {
    SLOT.with(|slot| {
        let covered = slot.covered.load(Ordering::Acquire);
        relay_on(slot);
        covered
    })
}

/// Wakes the waiters relayed to the current thread, if any (call with no lock held).
pub(crate) fn relay() {
    SLOT.with(|slot| relay_on(slot));
}

fn relay_on(slot: &Slot) {
    let rest = std::mem::take(&mut *slot.relay.lock().unwrap_or_else(|p| p.into_inner()));
    unpark_all(rest);
}

/// The parked blocking waiters: each waits for `durable > target`.
#[derive(Default)]
pub(crate) struct Sleepers {
    list: Vec<(Position, Arc<Slot>)>,
}

impl Sleepers {
    /// Registers the current thread as waiting for `durable > target` (then park it).
    pub fn add(&mut self, target: Position) {
        let slot = current();
        slot.covered.store(false, Ordering::Relaxed);
        slot.woken.store(false, Ordering::Relaxed);
        self.list.push((target, slot));
    }

    /// Removes the current thread's entry, if a waker has not already taken it.
    pub fn remove_current(&mut self) {
        let me = thread::current().id();
        if let Some(i) = self.list.iter().position(|(_, s)| s.thread.id() == me) {
            self.list.swap_remove(i);
        }
    }

    /// Takes the sleepers `durable` covers and marks them covered, to wake once the lock is
    /// released. With `relay`, only the first is returned: the others are handed to it as a
    /// tree (see the module doc).
    pub fn take_covered(&mut self, durable: Position, relay: bool) -> Vec<Arc<Slot>> {
        let mut woken = Vec::new();
        self.list.retain(|(p, s)| {
            if durable > *p {
                woken.push(s.clone());
                false
            } else {
                true
            }
        });
        if relay && woken.len() > 1 {
            // A binary tree in heap order: the i-th wakes the (2i+1)-th and (2i+2)-th.
            for (i, s) in woken.iter().enumerate() {
                let children = woken.iter().skip(2 * i + 1).take(2);
                let mut handed = s.relay.lock().unwrap_or_else(|p| p.into_inner());
                handed.extend(children.cloned());
            }
            for s in &woken[1..] {
                s.covered.store(true, Ordering::Release);
            }
            woken.truncate(1);
        }
        for s in &woken {
            s.covered.store(true, Ordering::Release);
        }
        woken
    }

    /// Takes every sleeper (poison, shutdown, truncation: all must look again).
    pub fn take_all(&mut self) -> Vec<Arc<Slot>> {
        self.list.drain(..).map(|(_, s)| s).collect()
    }

    /// The sleeper to lead the next round when nobody leads: the one with the lowest target
    /// that `durable` does not cover. It stays listed (it removes itself when it wakes).
    pub fn next_leader(&self, durable: Position) -> Option<Arc<Slot>> {
        self.list
            .iter()
            .filter(|(p, _)| *p >= durable)
            .min_by_key(|(p, _)| *p)
            .map(|(_, s)| s.clone())
    }
}

/// Unparks the threads of `slots` (call with no lock held).
pub(crate) fn unpark_all(slots: Vec<Arc<Slot>>) {
    for s in slots {
        s.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_sleepers_are_taken_and_the_rest_stay() {
        let mut s = Sleepers::default();
        s.add(Position::new(1, 100));
        assert!(
            s.take_covered(Position::new(1, 100), false).is_empty(),
            "durable must pass the target"
        );
        assert!(s.next_leader(Position::new(1, 50)).is_some());
        assert!(s.next_leader(Position::new(1, 101)).is_none());
        assert!(!SLOT.with(|slot| slot.covered.load(Ordering::Acquire)));
        assert_eq!(s.take_covered(Position::new(2, 0), false).len(), 1);
        assert!(SLOT.with(|slot| slot.covered.load(Ordering::Acquire)));
        assert!(s.take_all().is_empty());
        s.add(Position::new(3, 0));
        assert!(
            !SLOT.with(|slot| slot.covered.load(Ordering::Acquire)),
            "waiting again clears the flag"
        );
        s.remove_current();
        assert!(
            s.take_all().is_empty(),
            "the current thread's entry was removed"
        );
    }

    /// A relayed round hands every covered waiter but the first to the tree under the first:
    /// each ends up unparked and marked covered.
    #[test]
    fn a_relay_wakes_every_covered_waiter() {
        let mut s = Sleepers::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut threads = Vec::new();
        let mut slots = Vec::new();
        for i in 0..6u64 {
            let tx = tx.clone();
            let (stx, srx) = std::sync::mpsc::channel();
            threads.push(thread::spawn(move || {
                stx.send(current()).unwrap();
                // Park until a waker marks this thread covered (spurious returns loop).
                while !woken_covered() {
                    thread::park();
                }
                tx.send(i).unwrap();
            }));
            slots.push(srx.recv().unwrap());
        }
        for (i, slot) in slots.into_iter().enumerate() {
            slot.covered.store(false, Ordering::Relaxed);
            s.list.push((Position::new(1, 10 + i as u64), slot));
        }
        s.add(Position::new(9, 0)); // this thread: not covered, stays listed
        let woken = s.take_covered(Position::new(2, 0), true);
        assert_eq!(woken.len(), 1, "only the first is woken by the waker");
        unpark_all(woken);
        let mut done: Vec<u64> = (0..6)
            .map(|_| {
                rx.recv_timeout(std::time::Duration::from_secs(60))
                    .expect("a relayed waiter was left asleep")
            })
            .collect();
        done.sort_unstable();
        assert_eq!(
            done,
            (0..6).collect::<Vec<u64>>(),
            "three levels of the tree"
        );
        for t in threads {
            t.join().unwrap();
        }
        assert!(s.next_leader(Position::start()).is_some());
    }
}
