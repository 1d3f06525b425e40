//! [`VisibleIter`]: what a user sees through a cursor at a snapshot, in a key range.
//!
//! An [`InternalIterator`] yields every version of every key. A read at snapshot `s` must see,
//! for each user key, only the newest version with `seq <= s`, and must not see the key at all
//! if that version is a tombstone. [`VisibleIter`] turns a cursor (usually a
//! [`crate::MergingIterator`] over memtables and tables) into a Rust double-ended iterator of
//! `(user key, value)` pairs doing exactly that, limited to a user-key range.
//!
//! Forward, the first version met of each user key with `seq <= s` is the newest visible one.
//! Backward, versions of a key are met oldest first, so the whole group of the key is walked and
//! the last visible version met wins (LevelDB's `DBIter::FindPrevUserEntry`).
//!
//! Both ends may be consumed in turn (`next` and `next_back` interleaved); they stop where they
//! meet. The cursor serves the end last used; switching ends re-seeks it past the last key that
//! end yielded. A cursor error is yielded once as `Some(Err(_))`, after which the iterator is
//! finished: no entry is skipped silently.

use crate::ikey::{InternalKey, SeqNo, ValueKind, MAX_SEQNO};
use crate::iter::InternalIterator;
use std::iter::FusedIterator;
use std::ops::Bound;

/// A user key and its value, as [`VisibleIter`] yields them.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A user key and its value lent by the cursor, as [`VisibleIter::next_ref`] yields them.
pub type KeyValueRef<'a> = (&'a [u8], &'a [u8]);

/// Which end the cursor is positioned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Nowhere,
    Front,
    Back,
}

/// The visible `(user key, value)` pairs of a cursor at a snapshot, within user-key bounds.
pub struct VisibleIter<I> {
    inner: I,
    snapshot: SeqNo,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// The last key `next` yielded; after it, the front end resumes.
    front: Option<Vec<u8>>,
    /// The last key `next_back` yielded; before it, the back end resumes.
    back: Option<Vec<u8>>,
    at: At,
    done: bool,
    /// Scratch: the user key being skipped or collected.
    key_buf: Vec<u8>,
}

impl<I: InternalIterator> VisibleIter<I> {
    /// The pairs of `inner` visible at `snapshot` whose user keys lie within `lower..upper`
    /// (each bound inclusive, exclusive or unbounded). `inner` need not be positioned.
    pub fn new(inner: I, snapshot: SeqNo, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> Self {
        VisibleIter {
            inner,
            snapshot,
            lower,
            upper,
            front: None,
            back: None,
            at: At::Nowhere,
            done: false,
            key_buf: Vec::new(),
        }
    }

    /// The snapshot this iterator reads at.
    pub fn snapshot(&self) -> SeqNo {
        self.snapshot
    }

    /// The cursor, given back.
    pub fn into_inner(self) -> I {
        self.inner
    }

    /// Whether `user_key` is past the upper end still to be yielded.
    fn past_upper(&self, user_key: &[u8]) -> bool {
        let over_bound = match &self.upper {
            Bound::Unbounded => false,
            Bound::Included(u) => user_key > u.as_slice(),
            Bound::Excluded(u) => user_key >= u.as_slice(),
        };
        over_bound || self.back.as_deref().is_some_and(|b| user_key >= b)
    }

    /// Whether `user_key` is before the lower end still to be yielded.
    fn before_lower(&self, user_key: &[u8]) -> bool {
        let under_bound = match &self.lower {
            Bound::Unbounded => false,
            Bound::Included(l) => user_key < l.as_slice(),
            Bound::Excluded(l) => user_key <= l.as_slice(),
        };
        under_bound || self.front.as_deref().is_some_and(|f| user_key <= f)
    }

    /// Moves `inner`, which is on an entry of `user_key`, forward past every entry of that key
    /// (a buffer of the caller's, so the cursor's key is compared in place, never copied).
    /// The first step is taken without a look: in a scan of keys with one version each, that
    /// comparison of equal keys was one mispredicted branch per key (callgrind, seekrandom).
    fn skip_forward_past(inner: &mut I, user_key: &[u8]) -> Result<(), I::Error> {
        debug_assert!(inner.valid() && inner.user_key() == user_key);
        loop {
            inner.next()?;
            if !(inner.valid() && inner.user_key() == user_key) {
                return Ok(());
            }
        }
    }

    /// Puts the cursor on the first entry the front end may yield.
    fn position_front(&mut self) -> Result<(), I::Error> {
        let start = match &self.front {
            Some(f) => Bound::Excluded(f),
            None => self.lower.as_ref(),
        };
        match start {
            Bound::Unbounded => self.inner.seek_to_first(),
            Bound::Included(k) => {
                // Versions newer than the snapshot are invisible: start at the newest visible.
                let target = InternalKey::seek_key(k.as_slice(), self.snapshot);
                self.inner.seek(&target)
            }
            Bound::Excluded(k) => {
                // The largest internal key of `k`. Only an entry equal to it, a tombstone at
                // sequence 0, can stop the seek on `k`, and a tombstone is never yielded.
                self.inner
                    .seek(&InternalKey::new(k.as_slice(), 0, ValueKind::Delete))
            }
        }
    }

    /// Puts the cursor on the last entry (the oldest version of the last key) the back end
    /// may yield.
    fn position_back(&mut self) -> Result<(), I::Error> {
        let end = match &self.back {
            Some(b) => Bound::Excluded(b),
            None => self.upper.as_ref(),
        };
        match end {
            Bound::Unbounded => self.inner.seek_to_last(),
            Bound::Included(k) => {
                // The largest internal key of `k`.
                self.inner
                    .seek_for_prev(&InternalKey::new(k.as_slice(), 0, ValueKind::Delete))
            }
            Bound::Excluded(k) => {
                // The smallest internal key of `k`, then step off `k` entirely.
                let target = InternalKey::new(k.as_slice(), MAX_SEQNO, ValueKind::Put);
                self.key_buf.clear();
                self.key_buf.extend_from_slice(k);
                self.inner.seek_for_prev(&target)?;
                while self.inner.valid() && self.inner.user_key() == self.key_buf.as_slice() {
                    self.inner.prev()?;
                }
                Ok(())
            }
        }
    }

    /// Puts the cursor on the newest visible version of the next user key the front end
    /// yields, and records that key as the front's; `false` when there is none.
    fn advance_front(&mut self) -> Result<bool, I::Error> {
        if self.at != At::Front {
            self.position_front()?;
            self.at = At::Front;
        } else if let Some(f) = &self.front {
            // The cursor is on the entry last yielded: step past the rest of its versions.
            Self::skip_forward_past(&mut self.inner, f)?;
        }
        loop {
            if !self.inner.valid() {
                return Ok(false);
            }
            // The cursor's key, borrowed once for every look at this entry.
            let key = self.inner.user_key();
            if self.past_upper(key) {
                return Ok(false);
            }
            if self.inner.seq() > self.snapshot {
                self.inner.next()?;
                continue;
            }
            // The newest visible version of this user key.
            match self.inner.kind() {
                ValueKind::Put => {
                    let front = self.front.get_or_insert_with(Vec::new);
                    front.clear();
                    front.extend_from_slice(key);
                    return Ok(true);
                }
                ValueKind::Delete => {
                    self.key_buf.clear();
                    self.key_buf.extend_from_slice(key);
                    Self::skip_forward_past(&mut self.inner, &self.key_buf)?;
                }
            }
        }
    }

    fn step_forward(&mut self) -> Result<Option<KeyValue>, I::Error> {
        // Exactly-sized copies: the pair is the caller's to keep.
        Ok(self
            .advance_front()?
            .then(|| (self.inner.user_key().to_vec(), self.inner.value().to_vec())))
    }

    /// The next pair from the front, like [`Iterator::next`], but lent from the cursor rather
    /// than copied: no allocation per pair. The slices live until the iterator moves again.
    /// It mixes freely with `next` and `next_back` (it is `next` without the copies).
    pub fn next_ref(&mut self) -> Option<Result<KeyValueRef<'_>, I::Error>> {
        if self.done {
            return None;
        }
        match self.advance_front() {
            Ok(true) => Some(Ok((self.inner.user_key(), self.inner.value()))),
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    fn step_backward(&mut self) -> Result<Option<KeyValue>, I::Error> {
        if self.at != At::Back {
            self.position_back()?;
            self.at = At::Back;
        }
        // The cursor is on the oldest version of a user key (or invalid).
        loop {
            if !self.inner.valid() || self.before_lower(self.inner.user_key()) {
                return Ok(None);
            }
            self.key_buf.clear();
            self.key_buf.extend_from_slice(self.inner.user_key());
            // Walk the key's versions, oldest first; the last visible one met is the newest.
            let mut newest: Option<Option<Vec<u8>>> = None;
            while self.inner.valid() && self.inner.user_key() == self.key_buf.as_slice() {
                if self.inner.seq() <= self.snapshot {
                    newest = Some(match self.inner.kind() {
                        ValueKind::Put => Some(self.inner.value().to_vec()),
                        ValueKind::Delete => None,
                    });
                }
                self.inner.prev()?;
            }
            if let Some(Some(value)) = newest {
                let key = self.key_buf.clone();
                let back = self.back.get_or_insert_with(Vec::new);
                back.clear();
                back.extend_from_slice(&key);
                return Ok(Some((key, value)));
            }
        }
    }

    fn finish(
        &mut self,
        step: Result<Option<KeyValue>, I::Error>,
    ) -> Option<Result<KeyValue, I::Error>> {
        match step {
            Ok(Some(kv)) => Some(Ok(kv)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<I: InternalIterator> Iterator for VisibleIter<I> {
    type Item = Result<KeyValue, I::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step_forward();
        self.finish(step)
    }
}

impl<I: InternalIterator> DoubleEndedIterator for VisibleIter<I> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let step = self.step_backward();
        self.finish(step)
    }
}

impl<I: InternalIterator> FusedIterator for VisibleIter<I> {}

/// The user-key bounds of every key starting with `prefix`: `Included(prefix)` to the first key
/// after all of them (`Excluded`), or `Unbounded` when there is none (an empty prefix, or one of
/// only `0xff` bytes).
pub fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = Bound::Included(prefix.to_vec());
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return (lower, Bound::Excluded(end));
        }
    }
    (lower, Bound::Unbounded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::tests::{kind, merge_of, user_key, Boom};
    use crate::MergingIterator;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A write: user key, tombstone or not, value, and which child (source) holds it.
    type Write = (Vec<u8>, bool, Vec<u8>, usize);

    fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
        prop_oneof![
            1 => Just(Bound::Unbounded),
            2 => user_key().prop_map(Bound::Included),
            2 => user_key().prop_map(Bound::Excluded),
        ]
    }

    fn in_bounds(k: &[u8], lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
        (match lower {
            Bound::Unbounded => true,
            Bound::Included(l) => k >= l.as_slice(),
            Bound::Excluded(l) => k > l.as_slice(),
        }) && (match upper {
            Bound::Unbounded => true,
            Bound::Included(u) => k <= u.as_slice(),
            Bound::Excluded(u) => k < u.as_slice(),
        })
    }

    /// Write `i` gets sequence number `i` (0 included: the smallest trailer), so the children together hold unique sequence
    /// numbers, as the engine's sources do.
    fn children_of(writes: &[Write], n: usize) -> Vec<Vec<(InternalKey, Vec<u8>)>> {
        let mut children = vec![Vec::new(); n];
        for (i, (k, del, v, c)) in writes.iter().enumerate() {
            let v = if *del { Vec::new() } else { v.clone() };
            children[c % n].push((InternalKey::new(k.clone(), i as u64, kind(*del)), v));
        }
        children
    }

    /// What a reader at `snapshot` sees in the bounds, from the writes alone.
    fn model(
        writes: &[Write],
        snapshot: SeqNo,
        lower: &Bound<Vec<u8>>,
        upper: &Bound<Vec<u8>>,
    ) -> Vec<KeyValue> {
        let mut latest: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for (i, (k, del, v, _)) in writes.iter().enumerate() {
            if i as u64 <= snapshot {
                latest.insert(k.clone(), (!del).then(|| v.clone()));
            }
        }
        latest
            .into_iter()
            .filter(|(k, _)| in_bounds(k, lower, upper))
            .filter_map(|(k, v)| Some((k, v?)))
            .collect()
    }

    fn visible(
        children: &[Vec<(InternalKey, Vec<u8>)>],
        snapshot: SeqNo,
        lower: &Bound<Vec<u8>>,
        upper: &Bound<Vec<u8>>,
        failing: Option<(usize, usize, Arc<AtomicUsize>)>,
    ) -> VisibleIter<MergingIterator<Boom>> {
        VisibleIter::new(
            merge_of(children, failing),
            snapshot,
            lower.clone(),
            upper.clone(),
        )
    }

    fn writes() -> impl Strategy<Value = Vec<Write>> {
        proptest::collection::vec(
            (
                user_key(),
                proptest::bool::weighted(0.3),
                proptest::collection::vec(any::<u8>(), 0..3),
                0usize..4,
            ),
            0..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Forward, backward, and both ends interleaved, against the model.
        #[test]
        fn visible_matches_model(
            writes in writes(),
            n_children in 1usize..5,
            snap_frac in 0.0f64..1.2,
            lower in bound(),
            upper in bound(),
            ends in proptest::collection::vec(any::<bool>(), 0..60),
        ) {
            let snapshot = (writes.len() as f64 * snap_frac) as SeqNo;
            let snapshot = snapshot.saturating_sub(1);
            let children = children_of(&writes, n_children);
            let want = model(&writes, snapshot, &lower, &upper);

            let fwd: Vec<_> = visible(&children, snapshot, &lower, &upper, None)
                .collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(&fwd, &want);

            let mut bwd: Vec<_> = visible(&children, snapshot, &lower, &upper, None)
                .rev().collect::<Result<_, _>>().unwrap();
            bwd.reverse();
            prop_assert_eq!(&bwd, &want);

            // Take from either end as `ends` says, then drain the front.
            let mut it = visible(&children, snapshot, &lower, &upper, None);
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for from_front in &ends {
                let item = if *from_front { it.next() } else { it.next_back() };
                match item {
                    Some(kv) if *from_front => front.push(kv.unwrap()),
                    Some(kv) => back.push(kv.unwrap()),
                    None => break,
                }
            }
            for kv in it.by_ref() {
                front.push(kv.unwrap());
            }
            prop_assert!(it.next_back().is_none());
            back.reverse();
            front.extend(back);
            prop_assert_eq!(&front, &want);
        }

        /// A child failing on any move: the error is yielded (once, last), never skipped, and
        /// what came before it is a correct prefix (or suffix, backward).
        #[test]
        fn visible_returns_child_errors(
            writes in writes(),
            n_children in 1usize..5,
            snapshot in 0u64..45,
            fail_child in 0usize..5,
            fail_at in 1usize..60,
            backward: bool,
        ) {
            let children = children_of(&writes, n_children);
            let want = model(&writes, snapshot, &Bound::Unbounded, &Bound::Unbounded);
            let failures = Arc::new(AtomicUsize::new(0));
            let failing = Some((fail_child, fail_at, Arc::clone(&failures)));
            let it = visible(&children, snapshot, &Bound::Unbounded, &Bound::Unbounded, failing);
            let items: Vec<_> = if backward { it.rev().collect() } else { it.collect() };
            let failed = failures.load(Ordering::SeqCst) > 0;
            let mut oks: Vec<_> = items.iter().filter_map(|r| r.as_ref().ok().cloned()).collect();
            if backward {
                oks.reverse();
            }
            let errs = items.iter().filter(|r| r.is_err()).count();
            prop_assert_eq!(errs, usize::from(failed));
            if failed {
                prop_assert!(items.last().unwrap().is_err());
                if backward {
                    prop_assert!(want.ends_with(&oks));
                } else {
                    prop_assert!(want.starts_with(&oks));
                }
            } else {
                prop_assert_eq!(&oks, &want);
            }
        }
    }

    /// How a step is taken in [`next_ref_matches_the_model`].
    #[derive(Debug, Clone, Copy)]
    enum Step {
        Next,
        NextRef,
        NextBack,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![Just(Step::Next), Just(Step::NextRef), Just(Step::NextBack)]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `next_ref` lends what `next` would give, mixed with `next` and `next_back` in any
        /// order; a child's error comes through it once, last, after a correct prefix.
        #[test]
        fn next_ref_matches_the_model(
            writes in writes(),
            n_children in 1usize..5,
            snap_frac in 0.0f64..1.2,
            lower in bound(),
            upper in bound(),
            steps in proptest::collection::vec(step(), 0..60),
            fail in proptest::option::of((0usize..5, 1usize..60)),
        ) {
            let snapshot = ((writes.len() as f64 * snap_frac) as SeqNo).saturating_sub(1);
            let children = children_of(&writes, n_children);
            let want = model(&writes, snapshot, &lower, &upper);
            let failures = Arc::new(AtomicUsize::new(0));
            let failing = fail.map(|(c, at)| (c, at, Arc::clone(&failures)));
            let mut it = visible(&children, snapshot, &lower, &upper, failing);
            let (mut front, mut back) = (Vec::new(), Vec::new());
            let mut errors = 0;
            let mut ended_with_error = false;
            let mut drain = steps.iter().copied().chain(std::iter::repeat(Step::NextRef));
            loop {
                let item = match drain.next().unwrap() {
                    Step::Next => it.next().map(|r| r.map(|kv| (true, kv))),
                    Step::NextBack => it.next_back().map(|r| r.map(|kv| (false, kv))),
                    Step::NextRef => it
                        .next_ref()
                        .map(|r| r.map(|(k, v)| (true, (k.to_vec(), v.to_vec())))),
                };
                match item {
                    None => break,
                    Some(Ok((true, kv))) => front.push(kv),
                    Some(Ok((false, kv))) => back.push(kv),
                    Some(Err(Boom)) => {
                        errors += 1;
                        ended_with_error = true;
                        break;
                    }
                }
            }
            prop_assert!(it.next().is_none() && it.next_ref().is_none());
            prop_assert_eq!(errors, failures.load(Ordering::SeqCst).min(1));
            back.reverse();
            if ended_with_error {
                // What came from each end is where it belongs in the model.
                prop_assert!(want.starts_with(&front));
                prop_assert!(want.ends_with(&back));
            } else {
                front.extend(back);
                prop_assert_eq!(&front, &want);
            }
        }
    }

    fn w(k: &str, del: bool, v: &str) -> Write {
        (k.as_bytes().to_vec(), del, v.as_bytes().to_vec(), 0)
    }

    fn kv(k: &str, v: &str) -> KeyValue {
        (k.as_bytes().to_vec(), v.as_bytes().to_vec())
    }

    /// Backward, the newest visible version of a key is met last: the older ones must not win.
    #[test]
    fn backward_takes_newest_visible_version() {
        let writes = vec![
            w("a", false, "a1"),
            w("b", false, "b1"),
            w("a", false, "a2"),
            w("b", true, ""),
            w("a", false, "a3"),
        ];
        let children = children_of(&writes, 1);
        let all = (Bound::Unbounded, Bound::Unbounded);
        let rev = |snap| {
            visible(&children, snap, &all.0, &all.1, None)
                .rev()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        assert_eq!(rev(4), vec![kv("a", "a3")]);
        assert_eq!(rev(3), vec![kv("a", "a2")]);
        assert_eq!(rev(2), vec![kv("b", "b1"), kv("a", "a2")]);
        assert_eq!(rev(0), vec![kv("a", "a1")]);
    }

    #[test]
    fn prefix_bounds_cover_exactly_the_prefix() {
        assert_eq!(
            prefix_bounds(b"ab"),
            (
                Bound::Included(b"ab".to_vec()),
                Bound::Excluded(b"ac".to_vec())
            )
        );
        assert_eq!(
            prefix_bounds(b"a\xff\xff"),
            (
                Bound::Included(b"a\xff\xff".to_vec()),
                Bound::Excluded(b"b".to_vec())
            )
        );
        assert_eq!(
            prefix_bounds(b"\xff"),
            (Bound::Included(b"\xff".to_vec()), Bound::Unbounded)
        );
        assert_eq!(
            prefix_bounds(b""),
            (Bound::Included(Vec::new()), Bound::Unbounded)
        );
    }
}
