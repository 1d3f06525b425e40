//! [`MergingIterator`]: one cursor over many sorted sources, in internal-key order.
//!
//! The engine's read path merges the memtables and the tables; compaction merges its input
//! tables. Both hand the children newest source first. Two children never hold the same internal
//! key in practice (sequence numbers are unique), but if they do, the entry of the child with the
//! smaller index comes first going forward (and last going backward), so the order is total and
//! deterministic: `(internal key, child index)`.
//!
//! The child with the current entry is held apart; the other valid children sit in a binary
//! heap keyed by their current entries: a min-heap while moving forward, a max-heap while moving
//! backward. A step moves the current child and compares its new entry with the heap's top
//! only: while one child stays ahead of all the others (a run of keys from one source, as in
//! tables written in key order) a step costs one comparison and no heap work; otherwise the two
//! trade places and the old current child sifts down, `O(log n)` comparisons. Changing
//! direction follows LevelDB's
//! `MergingIterator`: every child but the current one is repositioned relative to the current
//! key (forward: to the first entry after it, backward: to the last entry before it), then the
//! heap is rebuilt.
//!
//! A child's error is returned at once and leaves the merge invalid: no entry is ever skipped.
//!
//! Also here, for composing children: `Box<I>` is an [`InternalIterator`] when `I` is, and
//! [`MapErr`] converts a child's error type (e.g. a memtable's `Infallible`) to the merge's.

use crate::ikey::{InternalKey, SeqNo, ValueKind};
use crate::iter::InternalIterator;
use std::cmp::Ordering;

/// Which way the children are positioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Backward,
}

/// A cursor over the union of its children, in `(internal key, child index)` order.
pub struct MergingIterator<E> {
    children: Vec<Box<dyn InternalIterator<Error = E>>>,
    /// The child holding the current entry: it comes before every child in `heap` in the
    /// current direction. `None` when the merge is not valid (also after an error).
    current: Option<usize>,
    /// Indices of the other valid children, a heap ordered by [`MergingIterator::above`].
    /// Empty when the merge is not valid.
    heap: Vec<usize>,
    direction: Direction,
}

impl<E> MergingIterator<E> {
    /// A merge of `children`, newest source first. It is not positioned: seek first.
    pub fn new(children: Vec<Box<dyn InternalIterator<Error = E>>>) -> Self {
        MergingIterator {
            current: None,
            heap: Vec::with_capacity(children.len()),
            children,
            direction: Direction::Forward,
        }
    }

    /// The number of children.
    pub fn num_children(&self) -> usize {
        self.children.len()
    }

    /// The children, given back (e.g. to reuse them).
    pub fn into_children(self) -> Vec<Box<dyn InternalIterator<Error = E>>> {
        self.children
    }

    /// Which child the current entry comes from (requires `valid()`).
    pub fn current_child(&self) -> usize {
        self.top()
    }

    fn top(&self) -> usize {
        self.current.expect("MergingIterator used while not valid")
    }

    /// The total order of the merge: internal key, then child index.
    fn cmp_children(&self, a: usize, b: usize) -> Ordering {
        let (x, y) = (&self.children[a], &self.children[b]);
        x.user_key()
            .cmp(y.user_key())
            .then_with(|| trailer(y.as_ref()).cmp(&trailer(x.as_ref())))
            .then_with(|| a.cmp(&b))
    }

    /// Whether child `a` belongs above child `b` in the heap for the current direction.
    fn above(&self, a: usize, b: usize) -> bool {
        let ord = self.cmp_children(a, b);
        match self.direction {
            Direction::Forward => ord == Ordering::Less,
            Direction::Backward => ord == Ordering::Greater,
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        let len = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= len {
                return;
            }
            let right = left + 1;
            let mut best = left;
            if right < len && self.above(self.heap[right], self.heap[left]) {
                best = right;
            }
            if !self.above(self.heap[best], self.heap[pos]) {
                return;
            }
            self.heap.swap(best, pos);
            pos = best;
        }
    }

    /// Rebuilds the heap and the current child from the valid children, for the current
    /// direction.
    fn rebuild(&mut self) {
        self.heap.clear();
        self.heap
            .extend((0..self.children.len()).filter(|&i| self.children[i].valid()));
        for pos in (0..self.heap.len() / 2).rev() {
            self.sift_down(pos);
        }
        self.current = self.pop_heap();
    }

    /// Takes the heap's top out of the heap.
    fn pop_heap(&mut self) -> Option<usize> {
        if self.heap.is_empty() {
            return None;
        }
        let top = self.heap.swap_remove(0);
        self.sift_down(0);
        Some(top)
    }

    /// After the current child moved: it stays current while it still comes before the
    /// heap's top (one comparison); otherwise the top takes its place and it goes into the
    /// heap (or leaves it, when it ran out).
    fn fix_current(&mut self) {
        let cur = self.top();
        if !self.children[cur].valid() {
            self.current = self.pop_heap();
        } else if let Some(&next) = self.heap.first() {
            if self.above(next, cur) {
                self.heap[0] = cur;
                self.sift_down(0);
                self.current = Some(next);
            }
        }
    }

    /// Runs `op`; on error the merge becomes invalid and the error is returned.
    fn guard(&mut self, op: impl FnOnce(&mut Self) -> Result<(), E>) -> Result<(), E> {
        let r = op(self);
        if r.is_err() {
            self.heap.clear();
            self.current = None;
        }
        r
    }

    fn reposition_all(
        &mut self,
        direction: Direction,
        mut f: impl FnMut(&mut dyn InternalIterator<Error = E>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.guard(|m| {
            for child in &mut m.children {
                f(child.as_mut())?;
            }
            m.direction = direction;
            m.rebuild();
            Ok(())
        })
    }

    fn current_key(&self) -> InternalKey {
        InternalKey::new(self.user_key(), self.seq(), self.kind())
    }

    fn next_inner(&mut self) -> Result<(), E> {
        let cur = self.top();
        if self.direction == Direction::Backward {
            // Every other child sits before the current entry; move each to the first entry
            // after it in the merge's order.
            let key = self.current_key();
            for (i, child) in self.children.iter_mut().enumerate() {
                if i == cur {
                    continue;
                }
                child.seek(&key)?;
                if i < cur && child.valid() && is_at(child.as_ref(), &key) {
                    child.next()?;
                }
            }
            self.direction = Direction::Forward;
            self.children[cur].next()?;
            self.rebuild();
        } else {
            self.children[cur].next()?;
            self.fix_current();
        }
        Ok(())
    }

    fn prev_inner(&mut self) -> Result<(), E> {
        let cur = self.top();
        if self.direction == Direction::Forward {
            // Every other child sits after the current entry; move each to the last entry
            // before it in the merge's order.
            let key = self.current_key();
            for (i, child) in self.children.iter_mut().enumerate() {
                if i == cur {
                    continue;
                }
                child.seek_for_prev(&key)?;
                if i > cur && child.valid() && is_at(child.as_ref(), &key) {
                    child.prev()?;
                }
            }
            self.direction = Direction::Backward;
            self.children[cur].prev()?;
            self.rebuild();
        } else {
            self.children[cur].prev()?;
            self.fix_current();
        }
        Ok(())
    }
}

fn trailer<I: InternalIterator + ?Sized>(it: &I) -> u64 {
    (it.seq() << 8) | it.kind() as u64
}

/// Whether `it` is on exactly `key`.
fn is_at<I: InternalIterator + ?Sized>(it: &I, key: &InternalKey) -> bool {
    it.seq() == key.seq && it.kind() == key.kind && it.user_key() == key.user_key.as_slice()
}

impl<E> InternalIterator for MergingIterator<E> {
    type Error = E;

    fn valid(&self) -> bool {
        self.current.is_some()
    }

    fn seek_to_first(&mut self) -> Result<(), E> {
        self.reposition_all(Direction::Forward, |c| c.seek_to_first())
    }

    fn seek_to_last(&mut self) -> Result<(), E> {
        self.reposition_all(Direction::Backward, |c| c.seek_to_last())
    }

    fn seek(&mut self, target: &InternalKey) -> Result<(), E> {
        self.reposition_all(Direction::Forward, |c| c.seek(target))
    }

    fn seek_for_prev(&mut self, target: &InternalKey) -> Result<(), E> {
        self.reposition_all(Direction::Backward, |c| c.seek_for_prev(target))
    }

    fn next(&mut self) -> Result<(), E> {
        assert!(self.valid(), "MergingIterator::next while not valid");
        self.guard(Self::next_inner)
    }

    fn prev(&mut self) -> Result<(), E> {
        assert!(self.valid(), "MergingIterator::prev while not valid");
        self.guard(Self::prev_inner)
    }

    fn user_key(&self) -> &[u8] {
        self.children[self.top()].user_key()
    }

    fn seq(&self) -> SeqNo {
        self.children[self.top()].seq()
    }

    fn kind(&self) -> ValueKind {
        self.children[self.top()].kind()
    }

    fn value(&self) -> &[u8] {
        self.children[self.top()].value()
    }
}

impl<I: InternalIterator + ?Sized> InternalIterator for Box<I> {
    type Error = I::Error;

    fn valid(&self) -> bool {
        (**self).valid()
    }
    fn seek_to_first(&mut self) -> Result<(), Self::Error> {
        (**self).seek_to_first()
    }
    fn seek_to_last(&mut self) -> Result<(), Self::Error> {
        (**self).seek_to_last()
    }
    fn seek(&mut self, target: &InternalKey) -> Result<(), Self::Error> {
        (**self).seek(target)
    }
    fn seek_for_prev(&mut self, target: &InternalKey) -> Result<(), Self::Error> {
        (**self).seek_for_prev(target)
    }
    fn next(&mut self) -> Result<(), Self::Error> {
        (**self).next()
    }
    fn prev(&mut self) -> Result<(), Self::Error> {
        (**self).prev()
    }
    fn user_key(&self) -> &[u8] {
        (**self).user_key()
    }
    fn seq(&self) -> SeqNo {
        (**self).seq()
    }
    fn kind(&self) -> ValueKind {
        (**self).kind()
    }
    fn value(&self) -> &[u8] {
        (**self).value()
    }
}

/// A child whose errors are converted by `f`. For example,
/// `MapErr::new(memtable_iter, |e: Infallible| -> MyError { match e {} })` turns an
/// `Infallible` cursor into one with the engine's error type.
pub struct MapErr<I, F> {
    inner: I,
    f: F,
}

impl<I, F> MapErr<I, F> {
    /// Wraps `inner`, converting its errors with `f`.
    pub fn new(inner: I, f: F) -> Self {
        MapErr { inner, f }
    }

    /// The wrapped cursor.
    pub fn into_inner(self) -> I {
        self.inner
    }
}

impl<I, F, E> InternalIterator for MapErr<I, F>
where
    I: InternalIterator,
    F: Fn(I::Error) -> E + Send,
{
    type Error = E;

    fn valid(&self) -> bool {
        self.inner.valid()
    }
    fn seek_to_first(&mut self) -> Result<(), E> {
        self.inner.seek_to_first().map_err(&self.f)
    }
    fn seek_to_last(&mut self) -> Result<(), E> {
        self.inner.seek_to_last().map_err(&self.f)
    }
    fn seek(&mut self, target: &InternalKey) -> Result<(), E> {
        self.inner.seek(target).map_err(&self.f)
    }
    fn seek_for_prev(&mut self, target: &InternalKey) -> Result<(), E> {
        self.inner.seek_for_prev(target).map_err(&self.f)
    }
    fn next(&mut self) -> Result<(), E> {
        self.inner.next().map_err(&self.f)
    }
    fn prev(&mut self) -> Result<(), E> {
        self.inner.prev().map_err(&self.f)
    }
    fn user_key(&self) -> &[u8] {
        self.inner.user_key()
    }
    fn seq(&self) -> SeqNo {
        self.inner.seq()
    }
    fn kind(&self) -> ValueKind {
        self.inner.kind()
    }
    fn value(&self) -> &[u8] {
        self.inner.value()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! A vector-backed cursor that can fail on a chosen move, and the merge's model tests.
    use super::*;
    use proptest::prelude::*;
    use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
    use std::sync::Arc;

    /// The error a [`VecIter`] returns.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Boom;

    /// A cursor over sorted entries that fails on its `fail_at`-th move (seeks included),
    /// counting each failure in `failures`.
    pub(crate) struct VecIter {
        entries: Vec<(InternalKey, Vec<u8>)>,
        pos: Option<usize>,
        moves: usize,
        fail_at: Option<usize>,
        failures: Arc<AtomicUsize>,
    }

    impl VecIter {
        pub(crate) fn new(mut entries: Vec<(InternalKey, Vec<u8>)>) -> VecIter {
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            VecIter {
                entries,
                pos: None,
                moves: 0,
                fail_at: None,
                failures: Arc::new(AtomicUsize::new(0)),
            }
        }

        pub(crate) fn failing(mut self, fail_at: usize, failures: Arc<AtomicUsize>) -> VecIter {
            self.fail_at = Some(fail_at);
            self.failures = failures;
            self
        }

        fn moved(&mut self, pos: Option<usize>) -> Result<(), Boom> {
            self.moves += 1;
            if self.fail_at == Some(self.moves) {
                self.pos = None;
                self.failures.fetch_add(1, AtomicOrdering::SeqCst);
                return Err(Boom);
            }
            self.pos = pos.filter(|&p| p < self.entries.len());
            Ok(())
        }
    }

    impl InternalIterator for VecIter {
        type Error = Boom;
        fn valid(&self) -> bool {
            self.pos.is_some()
        }
        fn seek_to_first(&mut self) -> Result<(), Boom> {
            self.moved(Some(0))
        }
        fn seek_to_last(&mut self) -> Result<(), Boom> {
            self.moved(self.entries.len().checked_sub(1))
        }
        fn seek(&mut self, target: &InternalKey) -> Result<(), Boom> {
            let p = self.entries.partition_point(|(k, _)| k < target);
            self.moved(Some(p))
        }
        fn seek_for_prev(&mut self, target: &InternalKey) -> Result<(), Boom> {
            let p = self.entries.partition_point(|(k, _)| k <= target);
            self.moved(p.checked_sub(1))
        }
        fn next(&mut self) -> Result<(), Boom> {
            let p = self.pos.expect("next while not valid");
            self.moved(Some(p + 1))
        }
        fn prev(&mut self) -> Result<(), Boom> {
            let p = self.pos.expect("prev while not valid");
            self.moved(p.checked_sub(1))
        }
        fn user_key(&self) -> &[u8] {
            &self.entries[self.pos.unwrap()].0.user_key
        }
        fn seq(&self) -> SeqNo {
            self.entries[self.pos.unwrap()].0.seq
        }
        fn kind(&self) -> ValueKind {
            self.entries[self.pos.unwrap()].0.kind
        }
        fn value(&self) -> &[u8] {
            &self.entries[self.pos.unwrap()].1
        }
    }

    pub(crate) fn kind(delete: bool) -> ValueKind {
        if delete {
            ValueKind::Delete
        } else {
            ValueKind::Put
        }
    }

    /// Short keys over a 3-letter alphabet (the empty key included).
    pub(crate) fn user_key() -> impl Strategy<Value = Vec<u8>> + Clone {
        proptest::collection::vec(0u8..3, 0..3)
    }

    fn entry(it: &impl InternalIterator) -> (InternalKey, Vec<u8>) {
        (
            InternalKey::new(it.user_key(), it.seq(), it.kind()),
            it.value().to_vec(),
        )
    }

    #[derive(Debug, Clone)]
    enum Op {
        First,
        Last,
        Seek(InternalKey),
        SeekForPrev(InternalKey),
        Next,
        Prev,
    }

    fn op() -> impl Strategy<Value = Op> {
        let target = || {
            (user_key(), 0u64..12, any::<bool>())
                .prop_map(|(k, s, d)| InternalKey::new(k, s, kind(d)))
        };
        prop_oneof![
            1 => Just(Op::First),
            1 => Just(Op::Last),
            2 => target().prop_map(Op::Seek),
            2 => target().prop_map(Op::SeekForPrev),
            6 => Just(Op::Next),
            6 => Just(Op::Prev),
        ]
    }

    /// Children as sets of `(key, seq, delete)`; the same internal key may sit in two children
    /// to exercise the tie-break. Each value names its child.
    fn children() -> impl Strategy<Value = Vec<Vec<(InternalKey, Vec<u8>)>>> {
        proptest::collection::vec(
            proptest::collection::btree_set((user_key(), 0u64..12, any::<bool>()), 0..12),
            0..5,
        )
        .prop_map(|cs| {
            cs.into_iter()
                .enumerate()
                .map(|(i, set)| {
                    set.into_iter()
                        .map(|(k, s, d)| (InternalKey::new(k, s, kind(d)), vec![i as u8]))
                        .collect()
                })
                .collect()
        })
    }

    /// The merge's order: internal key, then child index (held in the value).
    fn model(children: &[Vec<(InternalKey, Vec<u8>)>]) -> Vec<(InternalKey, Vec<u8>)> {
        let mut all: Vec<_> = children.iter().flatten().cloned().collect();
        all.sort();
        all
    }

    /// A merge over `children` (newest first); with `failing`, child `.0` fails at step `.1`.
    pub(crate) fn merge_of(
        children: &[Vec<(InternalKey, Vec<u8>)>],
        failing: Option<(usize, usize, Arc<AtomicUsize>)>,
    ) -> MergingIterator<Boom> {
        let boxed = children
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut it = VecIter::new(c.clone());
                if let Some((child, at, failures)) = &failing {
                    if *child == i {
                        it = it.failing(*at, Arc::clone(failures));
                    }
                }
                Box::new(it) as Box<dyn InternalIterator<Error = Boom>>
            })
            .collect();
        MergingIterator::new(boxed)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Random seeks and steps with direction switches, against a sorted vector; a child
        /// failing on a random move makes exactly that operation fail and the merge invalid.
        #[test]
        fn merge_matches_model(
            children in children(),
            ops in proptest::collection::vec(op(), 0..60),
            fail in proptest::option::of((0usize..5, 1usize..200)),
        ) {
            let all = model(&children);
            let failures = Arc::new(AtomicUsize::new(0));
            let failing = fail.map(|(c, at)| (c, at, Arc::clone(&failures)));
            let mut m = merge_of(&children, failing);
            prop_assert_eq!(m.num_children(), children.len());
            let mut pos: Option<usize> = None;
            for op in &ops {
                let before = failures.load(AtomicOrdering::SeqCst);
                let (r, want) = match op {
                    Op::First => (m.seek_to_first(), (!all.is_empty()).then_some(0)),
                    Op::Last => (m.seek_to_last(), all.len().checked_sub(1)),
                    Op::Seek(t) => (m.seek(t), {
                        let p = all.partition_point(|(k, _)| k < t);
                        (p < all.len()).then_some(p)
                    }),
                    Op::SeekForPrev(t) => {
                        (m.seek_for_prev(t), all.partition_point(|(k, _)| k <= t).checked_sub(1))
                    }
                    Op::Next | Op::Prev if pos.is_none() => continue,
                    Op::Next => {
                        let p = pos.unwrap() + 1;
                        (m.next(), (p < all.len()).then_some(p))
                    }
                    Op::Prev => (m.prev(), pos.unwrap().checked_sub(1)),
                };
                if failures.load(AtomicOrdering::SeqCst) > before {
                    prop_assert_eq!(r, Err(Boom));
                    prop_assert!(!m.valid());
                    pos = None;
                    continue;
                }
                prop_assert_eq!(r, Ok(()));
                pos = want;
                match pos {
                    None => prop_assert!(!m.valid()),
                    Some(p) => {
                        prop_assert!(m.valid());
                        prop_assert_eq!(&entry(&m), &all[p]);
                        prop_assert_eq!(m.current_child(), all[p].1[0] as usize);
                    }
                }
            }
        }

        /// Full scans both ways equal the sorted union.
        #[test]
        fn merge_full_scans(children in children()) {
            let all = model(&children);
            let mut m = merge_of(&children, None);
            m.seek_to_first().unwrap();
            let mut fwd = Vec::new();
            while m.valid() {
                fwd.push(entry(&m));
                m.next().unwrap();
            }
            prop_assert_eq!(&fwd, &all);
            m.seek_to_last().unwrap();
            let mut bwd = Vec::new();
            while m.valid() {
                bwd.push(entry(&m));
                m.prev().unwrap();
            }
            bwd.reverse();
            prop_assert_eq!(&bwd, &all);
        }
    }

    fn put(k: &str, seq: SeqNo, child: u8) -> (InternalKey, Vec<u8>) {
        (
            InternalKey::new(k.as_bytes(), seq, ValueKind::Put),
            vec![child],
        )
    }

    /// Switching direction in the middle of interleaved children (LevelDB's classic bug area:
    /// the non-current children must be repositioned around the current key).
    #[test]
    fn direction_switch_repositions_every_child() {
        let children = vec![
            vec![put("a", 9, 0), put("c", 9, 0), put("e", 9, 0)],
            vec![put("b", 5, 1), put("d", 5, 1), put("f", 5, 1)],
            vec![put("c", 3, 2), put("c", 1, 2)],
        ];
        let mut m = merge_of(&children, None);
        m.seek(&InternalKey::seek_key(*b"c", 100)).unwrap();
        assert_eq!((m.user_key(), m.seq()), (&b"c"[..], 9));
        m.next().unwrap();
        assert_eq!((m.user_key(), m.seq()), (&b"c"[..], 3));
        m.prev().unwrap();
        assert_eq!((m.user_key(), m.seq()), (&b"c"[..], 9));
        m.prev().unwrap();
        assert_eq!(m.user_key(), b"b");
        m.next().unwrap();
        m.next().unwrap();
        m.next().unwrap();
        assert_eq!((m.user_key(), m.seq()), (&b"c"[..], 1));
        m.next().unwrap();
        assert_eq!(m.user_key(), b"d");
    }

    /// One child well ahead of the others: it stays current step after step, hands over to
    /// the heap's top when passed, and takes over again; the same both ways.
    #[test]
    fn a_run_from_one_child_hands_over_and_takes_back() {
        let children = vec![
            vec![
                put("a", 9, 0),
                put("b", 9, 0),
                put("c", 9, 0),
                put("d", 9, 0),
                put("e", 9, 0),
            ],
            vec![put("x", 5, 1), put("y", 5, 1)],
            vec![put("c", 3, 2)],
        ];
        let want = [
            ("a", 0),
            ("b", 0),
            ("c", 0),
            ("c", 2),
            ("d", 0),
            ("e", 0),
            ("x", 1),
            ("y", 1),
        ];
        let at = |m: &MergingIterator<Boom>| {
            (
                String::from_utf8(m.user_key().to_vec()).unwrap(),
                m.current_child(),
            )
        };
        let mut m = merge_of(&children, None);
        m.seek_to_first().unwrap();
        let mut fwd = Vec::new();
        while m.valid() {
            fwd.push(at(&m));
            m.next().unwrap();
        }
        m.seek_to_last().unwrap();
        let mut bwd = Vec::new();
        while m.valid() {
            bwd.push(at(&m));
            m.prev().unwrap();
        }
        bwd.reverse();
        let want: Vec<_> = want.iter().map(|(k, c)| (k.to_string(), *c)).collect();
        assert_eq!(fwd, want);
        assert_eq!(bwd, want);
    }

    /// An error from a child stops the scan and is returned; the merge is then invalid.
    #[test]
    fn child_error_is_returned_not_skipped() {
        let failures = Arc::new(AtomicUsize::new(0));
        let children = vec![
            vec![put("a", 1, 0), put("c", 1, 0)],
            vec![put("b", 1, 1), put("d", 1, 1)],
        ];
        // Child 1: move 1 is the seek, move 2 the step from "b" to "d".
        let mut m = merge_of(&children, Some((1, 2, failures)));
        m.seek_to_first().unwrap();
        assert_eq!(m.user_key(), b"a");
        m.next().unwrap();
        assert_eq!(m.user_key(), b"b");
        assert_eq!(m.next(), Err(Boom));
        assert!(!m.valid());
    }

    #[test]
    fn map_err_converts_the_error() {
        let failures = Arc::new(AtomicUsize::new(0));
        let child = VecIter::new(vec![put("a", 1, 0)]).failing(2, failures);
        let mut it = MapErr::new(child, |Boom| "boom");
        it.seek_to_first().unwrap();
        assert_eq!(it.user_key(), b"a");
        assert_eq!(it.next(), Err("boom"));
        assert!(!it.valid());
    }
}
