//! The memtable's cursor: [`MemTableIter`], a double-ended [`InternalIterator`].
//!
//! The cursor owns an `Arc<MemTable>`, so it is `'static` and can outlive the engine's lock on
//! the memtable list. A skip-list entry borrows the map, so the cursor cannot hold one; instead it
//! copies a small window of consecutive entries (key copy, and the value's place in the memtable's arena) into a buffer and
//! walks the buffer. When it walks off either end, it refills from the skip list starting just
//! past the window's edge key (`lower_bound(Excluded(last))` forward, `upper_bound(Excluded(first))`
//! backward). The window starts at [`MIN_WINDOW`] entries after a seek and doubles with every
//! refill in the same walk up to [`MAX_WINDOW`], so a seek followed by one read copies little and a
//! long scan pays one skip-list search per [`MAX_WINDOW`] entries.
//!
//! Entries inserted while a cursor walks are seen if they fall beyond the current window and not
//! otherwise; either way the cursor yields entries in strictly increasing (or decreasing) order.
//!
//! A memtable made from a sorted run (run.rs) has no skip list: its cursor is an index into
//! the run's sorted entries, moved by binary search on a seek and by one on a step, and
//! `pos == usize::MAX` when not valid (the window stays empty).

use crate::arena::Slice;
use crate::key::{KeyView, LookupKey, MemKey};
use crate::memtable::MemTable;
use crate::run::Run;
use common::{InternalIterator, InternalKey, SeqNo, ValueKind};
use std::convert::Infallible;
use std::ops::Bound;
use std::sync::Arc;

/// Entries copied by a seek.
pub const MIN_WINDOW: usize = 2;
/// The most entries copied by one refill.
pub const MAX_WINDOW: usize = 128;

// The engine keeps cursors across threads and past its locks: checked at compile time.
const _: () = {
    const fn send_static<T: Send + 'static>() {}
    const fn send_sync<T: Send + Sync>() {}
    send_static::<MemTableIter>();
    send_sync::<MemTable>();
};

/// A cursor over a memtable's entries in internal-key order. Moving never fails.
pub struct MemTableIter {
    table: Arc<MemTable>,
    /// A run of consecutive entries, ascending.
    window: Vec<(MemKey, Slice)>,
    /// The current entry in `window`; the cursor is valid iff `pos < window.len()`.
    pos: usize,
    /// How many entries the next refill copies.
    next_window: usize,
    /// The table is a sorted run: `pos` indexes its entries.
    run: bool,
}

impl MemTableIter {
    pub(crate) fn new(table: Arc<MemTable>) -> MemTableIter {
        MemTableIter {
            run: table.run().is_some(),
            table,
            window: Vec::new(),
            pos: usize::MAX,
            next_window: MIN_WINDOW,
        }
    }

    /// The memtable this cursor walks.
    pub fn table(&self) -> &Arc<MemTable> {
        &self.table
    }

    fn current(&self) -> &(MemKey, Slice) {
        assert!(self.valid(), "MemTableIter used while not valid");
        &self.window[self.pos]
    }

    /// Refills the window with up to `n` entries at or after `from`, ascending.
    fn fill_forward(&mut self, from: Bound<&dyn KeyView>, n: usize) {
        self.window.clear();
        self.pos = 0;
        let guard = &self.table.pin();
        let mut entry = self.table.map().lower_bound(from, guard);
        while let Some(e) = entry {
            self.window.push((e.key().clone(), *e.value()));
            if self.window.len() == n {
                break;
            }
            entry = e.next();
        }
    }

    /// Refills the window with up to `n` entries at or before `from`, and puts the cursor on
    /// the last of them.
    fn fill_backward(&mut self, from: Bound<&dyn KeyView>, n: usize) {
        self.window.clear();
        let guard = &self.table.pin();
        let mut entry = self.table.map().upper_bound(from, guard);
        while let Some(e) = entry {
            self.window.push((e.key().clone(), *e.value()));
            if self.window.len() == n {
                break;
            }
            entry = e.prev();
        }
        self.window.reverse();
        self.pos = self.window.len().saturating_sub(1);
    }

    fn run(&self) -> &Run {
        self.table.run().expect("a run cursor walks a run")
    }

    /// Puts a run cursor on entry `i` (not valid unless `i < len`).
    fn run_at(&mut self, i: usize) {
        self.pos = if i < self.run().len() { i } else { usize::MAX };
    }

    fn grow(&mut self) -> usize {
        let n = self.next_window;
        self.next_window = (n * 2).min(MAX_WINDOW);
        n
    }
}

fn view(k: &MemKey) -> &dyn KeyView {
    k
}

impl InternalIterator for MemTableIter {
    type Error = Infallible;

    fn valid(&self) -> bool {
        if self.run {
            return self.pos != usize::MAX;
        }
        self.pos < self.window.len()
    }

    fn seek_to_first(&mut self) -> Result<(), Infallible> {
        if self.run {
            self.run_at(0);
            return Ok(());
        }
        self.next_window = MIN_WINDOW;
        let n = self.grow();
        self.fill_forward(Bound::Unbounded, n);
        Ok(())
    }

    fn seek_to_last(&mut self) -> Result<(), Infallible> {
        if self.run {
            self.run_at(self.run().len().wrapping_sub(1));
            return Ok(());
        }
        self.next_window = MIN_WINDOW;
        let n = self.grow();
        self.fill_backward(Bound::Unbounded, n);
        Ok(())
    }

    fn seek(&mut self, target: &InternalKey) -> Result<(), Infallible> {
        if self.run {
            let i = self.run().lower_bound(&target.user_key, target.trailer());
            self.run_at(i);
            return Ok(());
        }
        self.next_window = MIN_WINDOW;
        let n = self.grow();
        let probe = LookupKey::new(&target.user_key, target.trailer());
        self.fill_forward(Bound::Included(&probe), n);
        Ok(())
    }

    fn seek_for_prev(&mut self, target: &InternalKey) -> Result<(), Infallible> {
        if self.run {
            let i = self.run().upper_bound(&target.user_key, target.trailer());
            self.run_at(i.wrapping_sub(1));
            return Ok(());
        }
        self.next_window = MIN_WINDOW;
        let n = self.grow();
        let probe = LookupKey::new(&target.user_key, target.trailer());
        self.fill_backward(Bound::Included(&probe), n);
        Ok(())
    }

    fn next(&mut self) -> Result<(), Infallible> {
        assert!(self.valid(), "MemTableIter::next while not valid");
        if self.run {
            self.run_at(self.pos + 1);
            return Ok(());
        }
        if self.pos + 1 < self.window.len() {
            self.pos += 1;
            return Ok(());
        }
        // The window is refilled anyway: take its last key instead of cloning it.
        let (last, _) = self.window.swap_remove(self.pos);
        let n = self.grow();
        self.fill_forward(Bound::Excluded(view(&last)), n);
        Ok(())
    }

    fn prev(&mut self) -> Result<(), Infallible> {
        assert!(self.valid(), "MemTableIter::prev while not valid");
        if self.run {
            self.run_at(self.pos.wrapping_sub(1));
            return Ok(());
        }
        if self.pos > 0 {
            self.pos -= 1;
            return Ok(());
        }
        let (first, _) = self.window.swap_remove(0);
        let n = self.grow();
        self.fill_backward(Bound::Excluded(view(&first)), n);
        Ok(())
    }

    fn user_key(&self) -> &[u8] {
        if self.run {
            assert!(self.valid(), "MemTableIter used while not valid");
            return self.run().user_key(self.pos);
        }
        self.current().0.user_key()
    }

    fn seq(&self) -> SeqNo {
        if self.run {
            assert!(self.valid(), "MemTableIter used while not valid");
            return self.run().seq(self.pos);
        }
        self.current().0.seq()
    }

    fn kind(&self) -> ValueKind {
        if self.run {
            assert!(self.valid(), "MemTableIter used while not valid");
            return self.run().kind(self.pos);
        }
        self.current().0.kind()
    }

    #[allow(unsafe_code)]
    fn value(&self) -> &[u8] {
        if self.run {
            assert!(self.valid(), "MemTableIter used while not valid");
            return self.run().value(self.pos);
        }
        // SAFETY: the window's slices were copied from `self.table`'s map, whose values all
        // come from its arena; `self.table` (an `Arc`) keeps the arena alive for this borrow.
        unsafe { self.current().1.bytes(self.table.arena()) }
    }
}
