//! The insert watermark: which sequence numbers are in a memtable.
//!
//! A writer takes its sequence numbers and appends to the WAL under the writer lock, batch
//! after batch in sequence order, but inserts into the memtable after releasing it (inside its
//! WAL wait: see `write.rs`), at the same time as other writers (the skip list takes
//! concurrent inserts). Inserts therefore end
//! out of order, and `visible_seq` must not pass a sequence number whose insert is still
//! running: a snapshot that saw `s + 1` without `s` would see `s` appear later. The watermark
//! is the end of the prefix of sequence numbers whose inserts are done; a writer publishes its
//! last sequence number only once the watermark covers it (see `write.rs`), and a freeze waits
//! until it covers every number given out, so a frozen memtable takes no more inserts.
//!
//! Why not insert under the lock: with 16 durable writers on 2 cores the inserts (about 4 us
//! each into a 50,000-key skip list) were serialized there, and the next group commit round
//! waited for them. Out of the lock they run on both cores: fillsync16 78.1k -> 88.9k
//! writes/s (medians of 10 interleaved runs, ahead in 9).

use common::SeqNo;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// The end of the inserted prefix, and the ranges done past a gap.
pub(crate) struct InsertWatermark {
    state: Mutex<State>,
    cv: Condvar,
    /// A copy of `State::end`, read without the lock.
    end: AtomicU64,
}

struct State {
    /// Every sequence number below this is inserted.
    end: SeqNo,
    /// Inserted ranges `first..end` past the first gap (few: one per writer in flight).
    ahead: Vec<(SeqNo, SeqNo)>,
    /// Threads waiting in [`InsertWatermark::wait_covers`].
    waiters: usize,
}

/// A range of sequence numbers given out for insertion; marked inserted when dropped (also
/// when the insert unwinds, so no one waits forever for a range that will never land).
#[must_use = "the range counts as inserted when this is dropped"]
pub(crate) struct Inserting<'a> {
    mark: &'a InsertWatermark,
    first: SeqNo,
    end: SeqNo,
}

impl Drop for Inserting<'_> {
    fn drop(&mut self) {
        self.mark.done(self.first, self.end);
    }
}

impl InsertWatermark {
    /// A watermark with every number below `next_seq` inserted (what recovery left).
    pub fn new(next_seq: SeqNo) -> InsertWatermark {
        InsertWatermark {
            state: Mutex::new(State {
                end: next_seq,
                ahead: Vec::new(),
                waiters: 0,
            }),
            cv: Condvar::new(),
            end: AtomicU64::new(next_seq),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives out `first..end` for insertion. Ranges must be given out in order, without gaps
    /// (the writer lock sees to it).
    pub fn begin(&self, first: SeqNo, end: SeqNo) -> Inserting<'_> {
        Inserting {
            mark: self,
            first,
            end,
        }
    }

    /// Marks `first..end` inserted and moves the watermark past every range now joined.
    fn done(&self, first: SeqNo, end: SeqNo) {
        let mut s = self.lock();
        if first != s.end {
            s.ahead.push((first, end));
            return;
        }
        s.end = end;
        while let Some(i) = s.ahead.iter().position(|&(f, _)| f == s.end) {
            s.end = s.ahead.swap_remove(i).1;
        }
        self.end.store(s.end, Ordering::Release);
        if s.waiters > 0 {
            self.cv.notify_all();
        }
    }

    /// Whether `seq` is inserted, and every number before it.
    pub fn covers(&self, seq: SeqNo) -> bool {
        self.end.load(Ordering::Acquire) > seq
    }

    /// Blocks until [`covers`](Self::covers)`(seq)`. Only inserts given out before the call
    /// are waited for; the caller must not hold one of them.
    pub fn wait_covers(&self, seq: SeqNo) {
        if self.covers(seq) {
            return;
        }
        let mut s = self.lock();
        s.waiters += 1;
        while s.end <= seq {
            s = self.cv.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.waiters -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn out_of_order_ranges_join_once_the_gap_closes() {
        let w = InsertWatermark::new(1);
        let a = w.begin(1, 3);
        let b = w.begin(3, 4);
        let c = w.begin(4, 10);
        drop(c);
        assert!(!w.covers(1), "nothing before the first range is done");
        drop(b);
        assert!(!w.covers(2) && !w.covers(3));
        drop(a);
        assert!(w.covers(9) && !w.covers(10));
    }

    #[test]
    fn a_waiter_wakes_when_its_number_lands() {
        let w = Arc::new(InsertWatermark::new(5));
        assert!(w.covers(4));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let first = w.begin(5, 6);
            let second = w.begin(6, 8);
            let waiter = {
                let w = w.clone();
                let tx = tx.clone();
                scope.spawn(move || {
                    w.wait_covers(7);
                    tx.send(()).unwrap();
                })
            };
            drop(second);
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(rx.try_recv().is_err(), "woke before 5 was inserted");
            drop(first);
            rx.recv_timeout(std::time::Duration::from_secs(10))
                .expect("the waiter wakes");
            waiter.join().unwrap();
        });
    }

    #[test]
    fn an_unwinding_insert_still_counts() {
        let w = InsertWatermark::new(1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _t = w.begin(1, 2);
            panic!("insert failed");
        }));
        assert!(r.is_err());
        assert!(w.covers(1));
    }
}
