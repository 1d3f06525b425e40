//! A frozen memtable made in one go from records that already sit in memory elsewhere: a
//! sorted run of places.
//!
//! Why: reopening over a large unflushed log, building the skip list was most of the time
//! (every record's value copied into the arena, a node allocated and linked per record, and
//! the kernel clearing the ~1.85 GB those take for 1.1 GB of log), and all of it only to flush
//! the result soon after. The log's segments are mapped anyway (they are in the page cache):
//! a [`RunBuilder`] records where each record's key and value are ([`RunBytes`]: numbered
//! parts, the engine's mapped segments), 40 bytes an entry, gathered part by part in
//! [`RunPart`]s (on any thread; numbered when added, in log order), and sorts those entries
//! into internal-key order once (`bucket_sort.rs`); the [`MemTable`] it makes answers lookups
//! and cursors by binary search and takes no inserts. Measurements are in kvstore's
//! `replay.rs`.
//!
//! Order: user key ascending, then trailer (`seq << 8 | kind`) descending, as every
//! [`crate::key::KeyView`]. Each entry keeps [`prefix_of`] its key, so most comparisons (a
//! sort's, a lookup's) are one integer compare and touch no key bytes.

use crate::key::prefix_of;
use common::{SeqNo, ValueKind, MAX_SEQNO};
use std::cmp::Ordering;
use std::ops::Range;
use std::sync::Arc;

/// The bytes a run's entries point into: parts numbered from 0 (for the key-value store, the
/// log's mapped segments). A part must not change while the run lives.
pub trait RunBytes: Send + Sync + 'static {
    /// The bytes of part `i` (every `i` a [`RunBuilder::part`] was given).
    fn part(&self, i: usize) -> &[u8];
}

/// One entry: where its key and value are, and its trailer. The value starts where the key
/// ends (as in a log record's payload), so one offset serves both.
#[derive(Clone, Copy, Debug)]
struct RunEntry {
    /// [`prefix_of`] the key, high and low halves (two `u64`s keep the entry 8-aligned: 40
    /// bytes, not 48).
    prefix: [u64; 2],
    trailer: u64,
    part: u32,
    key_off: u32,
    key_len: u32,
    value_len: u32,
}

/// What one entry costs in a run beyond its key and value bytes, for the size estimate.
pub const RUN_ENTRY_BYTES: usize = std::mem::size_of::<RunEntry>();
const _: () = assert!(RUN_ENTRY_BYTES == 40);

/// The sorted entries and the bytes they point into.
pub(crate) struct Run {
    bytes: Arc<dyn RunBytes>,
    entries: Vec<RunEntry>,
}

impl Run {
    fn key_of(&self, e: &RunEntry) -> &[u8] {
        key_in(&*self.bytes, e)
    }

    fn cmp(&self, a: &RunEntry, b: &RunEntry) -> Ordering {
        cmp_entries(&*self.bytes, a, b)
    }

    /// How `e` orders against the internal key `(user_key, trailer)` of prefix `prefix`.
    fn cmp_probe(&self, e: &RunEntry, prefix: [u64; 2], user_key: &[u8], trailer: u64) -> Ordering {
        e.prefix
            .cmp(&prefix)
            .then_with(|| self.key_of(e).cmp(user_key))
            .then_with(|| trailer.cmp(&e.trailer))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The index of the first entry at or after `(user_key, trailer)` (`len()` if none).
    pub fn lower_bound(&self, user_key: &[u8], trailer: u64) -> usize {
        let prefix = split(prefix_of(user_key));
        self.entries
            .partition_point(|e| self.cmp_probe(e, prefix, user_key, trailer) == Ordering::Less)
    }

    /// The index of the first entry after `(user_key, trailer)` (`len()` if none).
    pub fn upper_bound(&self, user_key: &[u8], trailer: u64) -> usize {
        let prefix = split(prefix_of(user_key));
        self.entries
            .partition_point(|e| self.cmp_probe(e, prefix, user_key, trailer) != Ordering::Greater)
    }

    pub fn user_key(&self, i: usize) -> &[u8] {
        self.key_of(&self.entries[i])
    }

    pub fn value(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        let at = (e.key_off + e.key_len) as usize;
        &self.bytes.part(e.part as usize)[at..at + e.value_len as usize]
    }

    pub fn seq(&self, i: usize) -> SeqNo {
        self.entries[i].trailer >> 8
    }

    pub fn kind(&self, i: usize) -> ValueKind {
        kind_of(self.entries[i].trailer)
    }
}

fn kind_of(trailer: u64) -> ValueKind {
    ValueKind::from_u8(trailer as u8).expect("a run holds only the kinds it was given")
}

fn split(p: u128) -> [u64; 2] {
    [(p >> 64) as u64, p as u64]
}

fn join(p: [u64; 2]) -> u128 {
    (p[0] as u128) << 64 | p[1] as u128
}

/// Gathers a run's entries (see the module doc), part by part, then makes the memtable
/// ([`RunBuilder::finish`]). The entries of each part are gathered in a [`RunPart`] (on any
/// thread: the parts of a log's segments are gathered on two at once) and added in log order
/// ([`RunBuilder::add`]), which numbers them.
///
/// ```
/// use common::{Lookup, ValueKind};
/// use memtable::{RunBuilder, RunBytes};
/// use std::sync::Arc;
///
/// struct Log(Vec<u8>);
/// impl RunBytes for Log {
///     fn part(&self, _: usize) -> &[u8] { &self.0 }
/// }
/// // "pear" -> "green", then "apple" -> "red", key and value back to back; numbered from 1.
/// let mut b = RunBuilder::new(Arc::new(Log(b"peargreenapplered".to_vec())), 1);
/// let mut part = b.part(0);
/// assert!(part.push(0..4, 4..9, ValueKind::Put));
/// assert!(part.push(9..14, 14..17, ValueKind::Put));
/// b.add(part);
/// assert_eq!(b.next_seq(), 3);
/// let mt = b.finish(7);
/// assert_eq!(mt.get(b"apple", 9), Lookup::Found(b"red".to_vec()));
/// assert_eq!(mt.get(b"apple", 1), Lookup::Absent); // written at 2
/// assert_eq!((mt.len(), mt.min_seq(), mt.max_seq()), (2, Some(1), Some(2)));
/// ```
pub struct RunBuilder {
    /// The bytes (the entries stay empty until `finish`).
    run: Run,
    /// Each part added: its entries (numbered from 0 within the part) and the number of its
    /// first.
    parts: Vec<(Vec<RunEntry>, SeqNo)>,
    first_seq: SeqNo,
    next_seq: SeqNo,
    /// Every entry added so far came in order (a log of ascending keys needs no sort), and
    /// the last of them, numbered.
    sorted: bool,
    last: Option<RunEntry>,
    charge: usize,
    /// The smallest and largest key prefix added (bounds for the sort's buckets).
    prefix_lo: u128,
    prefix_hi: u128,
}

/// The entries of one part of a run, in the order of the log, gathered for a [`RunBuilder`]
/// ([`RunBuilder::part`]) and added to it when the parts before it were.
pub struct RunPart {
    bytes: Arc<dyn RunBytes>,
    part: usize,
    /// Trailers hold the entry's index in the part as its number until it is added.
    entries: Vec<RunEntry>,
    sorted: bool,
    charge: usize,
    prefix_lo: u128,
    prefix_hi: u128,
}

impl RunPart {
    /// Adds the next version of the part: its key is the part's bytes at `key` and its value
    /// follows at `value` (`value.start == key.end`). `false`, and nothing added, if the
    /// entry cannot be held: the value does not follow the key, or the part's number, an
    /// offset or a length passes `u32::MAX`.
    ///
    /// # Panics
    /// If a range is not within the part.
    pub fn push(&mut self, key: Range<usize>, value: Range<usize>, kind: ValueKind) -> bool {
        let fits = |x: usize| u32::try_from(x).is_ok();
        if value.start != key.end || !fits(self.part) || !fits(value.end) {
            return false;
        }
        let bytes = self.bytes.part(self.part);
        assert!(
            key.start <= key.end && value.end <= bytes.len(),
            "a range outside its part"
        );
        let prefix = prefix_of(&bytes[key.clone()]);
        (self.prefix_lo, self.prefix_hi) = (self.prefix_lo.min(prefix), self.prefix_hi.max(prefix));
        let e = RunEntry {
            prefix: split(prefix),
            trailer: ((self.entries.len() as u64) << 8) | kind as u64,
            part: self.part as u32,
            key_off: key.start as u32,
            key_len: key.len() as u32,
            value_len: value.len() as u32,
        };
        if self.sorted {
            if let Some(last) = self.entries.last() {
                self.sorted = in_order(&*self.bytes, last, &e);
            }
        }
        self.entries.push(e);
        self.charge += key.len() + value.len() + RUN_ENTRY_BYTES;
        true
    }

    /// The entries so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Whether `a` comes before `b` in a run over `bytes`.
fn in_order(bytes: &dyn RunBytes, a: &RunEntry, b: &RunEntry) -> bool {
    cmp_entries(bytes, a, b) == Ordering::Less
}

/// The order of a run over `bytes`. Inlined where it is called (the sort's inner loop): the
/// prefixes decide nearly every comparison, as one 128-bit compare; equal ones go out of line.
#[inline]
fn cmp_entries(bytes: &dyn RunBytes, a: &RunEntry, b: &RunEntry) -> Ordering {
    match join(a.prefix).cmp(&join(b.prefix)) {
        Ordering::Equal => cmp_same_prefix(bytes, a, b),
        unequal => unequal,
    }
}

#[inline(never)]
fn cmp_same_prefix(bytes: &dyn RunBytes, a: &RunEntry, b: &RunEntry) -> Ordering {
    key_in(bytes, a)
        .cmp(key_in(bytes, b))
        .then_with(|| b.trailer.cmp(&a.trailer))
}

/// `e`'s key in `bytes`.
fn key_in<'a>(bytes: &'a dyn RunBytes, e: &RunEntry) -> &'a [u8] {
    let at = e.key_off as usize;
    &bytes.part(e.part as usize)[at..at + e.key_len as usize]
}

impl RunBuilder {
    /// An empty run over `bytes`, whose first entry added will be number `first_seq`.
    pub fn new(bytes: Arc<dyn RunBytes>, first_seq: SeqNo) -> RunBuilder {
        RunBuilder {
            run: Run {
                bytes,
                entries: Vec::new(),
            },
            parts: Vec::new(),
            first_seq,
            next_seq: first_seq,
            sorted: true,
            last: None,
            charge: 0,
            prefix_lo: u128::MAX,
            prefix_hi: 0,
        }
    }

    /// An empty part for the entries whose bytes are in part `part` of the run's bytes.
    pub fn part(&self, part: usize) -> RunPart {
        RunPart {
            bytes: self.run.bytes.clone(),
            part,
            entries: Vec::new(),
            sorted: true,
            charge: 0,
            prefix_lo: u128::MAX,
            prefix_hi: 0,
        }
    }

    /// Adds `part`'s entries after those added before, numbered from [`next_seq`](Self::next_seq)
    /// on in the order they were pushed.
    ///
    /// # Panics
    /// If `part` was made by another builder, or a number would pass `MAX_SEQNO`.
    pub fn add(&mut self, part: RunPart) {
        assert!(
            Arc::ptr_eq(&part.bytes, &self.run.bytes),
            "a part of another run"
        );
        let Some(first) = part.entries.first() else {
            return;
        };
        let base = self.next_seq;
        let end = base.saturating_add(part.entries.len() as u64);
        assert!(
            end - 1 <= MAX_SEQNO,
            "sequence number {} exceeds MAX_SEQNO",
            end - 1
        );
        let numbered = |e: &RunEntry| RunEntry {
            trailer: e.trailer + (base << 8),
            ..*e
        };
        if self.sorted {
            self.sorted = part.sorted
                && self
                    .last
                    .is_none_or(|last| in_order(&*self.run.bytes, &last, &numbered(first)));
        }
        self.last = part.entries.last().map(numbered);
        self.next_seq = end;
        self.charge += part.charge;
        self.prefix_lo = self.prefix_lo.min(part.prefix_lo);
        self.prefix_hi = self.prefix_hi.max(part.prefix_hi);
        self.parts.push((part.entries, base));
    }

    /// The number the next entry added will get.
    pub fn next_seq(&self) -> SeqNo {
        self.next_seq
    }

    /// The entries added so far.
    pub fn len(&self) -> usize {
        (self.next_seq - self.first_seq) as usize
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Numbers the entries, sorts them (unless they came in order) and makes the frozen
    /// memtable `id`. Every `(key, seq)` must be unique, as in a memtable.
    pub fn finish(mut self, id: u64) -> crate::MemTable {
        let (lo, hi) = match self.is_empty() {
            true => (u64::MAX, 0),
            false => (self.first_seq, self.next_seq - 1),
        };
        let mut parts = std::mem::take(&mut self.parts);
        crate::bucket_sort::for_each_part(&mut parts, |(entries, base)| {
            for e in entries.iter_mut() {
                e.trailer += *base << 8;
            }
        });
        let parts = parts.into_iter().map(|(entries, _)| entries).collect();
        self.run.entries = if self.sorted {
            crate::bucket_sort::concat(parts)
        } else {
            let run = &self.run;
            crate::bucket_sort::sort(
                parts,
                self.prefix_lo,
                self.prefix_hi,
                |e| join(e.prefix),
                |a, b| run.cmp(a, b),
            )
        };
        crate::MemTable::from_run(id, self.run, self.charge, lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemTable;
    use common::{InternalIterator, InternalKey, Lookup};
    use proptest::prelude::*;

    struct Parts(Vec<Vec<u8>>);
    impl RunBytes for Parts {
        fn part(&self, i: usize) -> &[u8] {
            &self.0[i]
        }
    }

    /// Every entry of a cursor walk, forward.
    fn walk(mt: &Arc<MemTable>) -> Vec<(Vec<u8>, SeqNo, ValueKind, Vec<u8>)> {
        let mut it = mt.iter();
        it.seek_to_first().unwrap();
        let mut out = Vec::new();
        while it.valid() {
            out.push((
                it.user_key().to_vec(),
                it.seq(),
                it.kind(),
                it.value().to_vec(),
            ));
            it.next().unwrap();
        }
        out
    }

    fn walk_back(mt: &Arc<MemTable>) -> Vec<(Vec<u8>, SeqNo)> {
        let mut it = mt.iter();
        it.seek_to_last().unwrap();
        let mut out = Vec::new();
        while it.valid() {
            out.push((it.user_key().to_vec(), it.seq()));
            it.prev().unwrap();
        }
        out
    }

    fn at(it: &impl InternalIterator) -> Option<(Vec<u8>, SeqNo)> {
        it.valid().then(|| (it.user_key().to_vec(), it.seq()))
    }

    proptest! {
        /// A run and a skip-list memtable given the same versions (short and long keys,
        /// overwrites, deletes, in log order spread over several parts) answer every lookup,
        /// walk and seek alike.
        #[test]
        fn a_run_answers_as_the_skip_list_does(
            writes in proptest::collection::vec((0u8..40, 0usize..3, any::<bool>(), 0usize..30), 0..200),
            probes in proptest::collection::vec((0u8..42, 0u64..220), 1..40),
        ) {
            let key = |k: u8, long: usize| {
                let mut key = format!("key{k:03}").into_bytes();
                key.extend(std::iter::repeat_n(b'x', long * 10));
                key
            };
            let skip = Arc::new(MemTable::new(1));
            let mut parts = vec![Vec::new(), Vec::new(), Vec::new()];
            let mut places = Vec::new();
            for (i, &(k, long, delete, vlen)) in writes.iter().enumerate() {
                let (k, seq) = (key(k, long), i as SeqNo + 1);
                let kind = if delete { ValueKind::Delete } else { ValueKind::Put };
                let value = if delete { Vec::new() } else { vec![b'a' + (i % 26) as u8; vlen] };
                skip.insert(&k, seq, kind, &value);
                // The log's thirds in three parts (the middle one may be empty).
                let part = i * 3 / writes.len();
                let start = parts[part].len();
                parts[part].extend_from_slice(&k);
                parts[part].extend_from_slice(&value);
                let mid = start + k.len();
                places.push((part, start..mid, mid..mid + value.len(), kind));
            }
            let mut b = RunBuilder::new(Arc::new(Parts(parts)), 1);
            let mut gathered: Vec<RunPart> = (0..3).map(|p| b.part(p)).collect();
            // The last part gathered first (as by another thread); added in the log's order.
            for want in (0..3).rev() {
                for (part, k, v, kind) in places.iter().filter(|p| p.0 == want) {
                    prop_assert!(gathered[*part].push(k.clone(), v.clone(), *kind));
                }
            }
            for part in gathered {
                b.add(part);
            }
            prop_assert_eq!(b.next_seq(), writes.len() as SeqNo + 1);
            let run = Arc::new(b.finish(2));
            prop_assert_eq!(run.len(), skip.len());
            prop_assert_eq!((run.min_seq(), run.max_seq()), (skip.min_seq(), skip.max_seq()));
            prop_assert_eq!(walk(&run), walk(&skip));
            prop_assert_eq!(walk_back(&run), walk_back(&skip));
            for &(k, snap) in &probes {
                for long in 0..3 {
                    let k = key(k, long);
                    let got: Lookup = run.get(&k, snap);
                    prop_assert_eq!(got, skip.get(&k, snap));
                    let target = InternalKey::seek_key(k.clone(), snap);
                    let (mut a, mut b) = (run.iter(), skip.iter());
                    a.seek(&target).unwrap();
                    b.seek(&target).unwrap();
                    prop_assert_eq!(at(&a), at(&b));
                    if a.valid() {
                        a.next().unwrap();
                        b.next().unwrap();
                        prop_assert_eq!(at(&a), at(&b));
                    }
                    a.seek_for_prev(&target).unwrap();
                    b.seek_for_prev(&target).unwrap();
                    prop_assert_eq!(at(&a), at(&b));
                    if a.valid() {
                        a.prev().unwrap();
                        b.prev().unwrap();
                        prop_assert_eq!(at(&a), at(&b));
                    }
                }
            }
        }
    }

    #[test]
    fn entries_that_cannot_be_held_are_refused_and_a_run_takes_no_inserts() {
        let mut b = RunBuilder::new(Arc::new(Parts(vec![b"keyvalue".to_vec()])), 1);
        let mut part = b.part(0);
        assert!(
            !part.push(0..3, 4..8, ValueKind::Put),
            "the value must follow the key"
        );
        assert!(part.is_empty());
        assert!(part.push(0..3, 3..8, ValueKind::Put));
        b.add(part);
        let mt = b.finish(1);
        assert_eq!(mt.approximate_size_bytes(), 8 + RUN_ENTRY_BYTES);
        let inserted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mt.insert(b"k", 2, ValueKind::Put, b"v")
        }));
        assert!(inserted.is_err());
    }

    /// Parts each in order, but not one after another: the run is sorted, and numbered by
    /// the order the parts were added.
    #[test]
    fn parts_in_order_alone_are_sorted_together() {
        let bytes = Arc::new(Parts(vec![b"b1c2".to_vec(), b"a3d".to_vec()]));
        let mut b = RunBuilder::new(bytes.clone(), 10);
        let mut first = b.part(0);
        assert!(first.push(0..1, 1..2, ValueKind::Put) && first.push(2..3, 3..4, ValueKind::Put));
        let mut second = b.part(1);
        assert!(
            second.push(0..1, 1..2, ValueKind::Put) && second.push(2..3, 3..3, ValueKind::Delete)
        );
        b.add(first);
        b.add(second);
        let got: Vec<_> = walk(&Arc::new(b.finish(1)))
            .into_iter()
            .map(|(k, seq, kind, v)| (String::from_utf8(k).unwrap(), seq, kind, v))
            .collect();
        let want = [
            ("a", 12, ValueKind::Put, b"3".to_vec()),
            ("b", 10, ValueKind::Put, b"1".to_vec()),
            ("c", 11, ValueKind::Put, b"2".to_vec()),
            ("d", 13, ValueKind::Delete, Vec::new()),
        ];
        assert_eq!(got, want.map(|(k, s, kind, v)| (k.to_string(), s, kind, v)));
        // Ascending across parts too (the parts only joined, not sorted), an empty part
        // between them; and the same key in two parts: the later part's version is newer.
        // Parts of two one-byte keys and values each (the middle one empty), numbered from
        // `first`.
        let three_parts = |data: [&[u8]; 3], first: SeqNo| {
            let bytes = Arc::new(Parts(data.iter().map(|d| d.to_vec()).collect()));
            let mut b = RunBuilder::new(bytes, first);
            for (i, d) in data.iter().enumerate() {
                let mut part = b.part(i);
                for at in (0..d.len()).step_by(2) {
                    assert!(part.push(at..at + 1, at + 1..at + 2, ValueKind::Put));
                }
                b.add(part);
            }
            b
        };
        let b = three_parts([b"a1b2", b"", b"b3c4"], 1);
        assert!(!b.sorted, "b at 2, then b at 3: out of order");
        let mt = Arc::new(b.finish(1));
        assert_eq!(mt.get(b"b", 9), Lookup::Found(b"3".to_vec()));
        assert_eq!(mt.get(b"b", 2), Lookup::Found(b"2".to_vec()));
        let b = three_parts([b"a1b2", b"", b"c3d4"], 5);
        assert!(b.sorted, "ascending across the parts: no sort");
        let keys: Vec<_> = walk(&Arc::new(b.finish(1)))
            .into_iter()
            .map(|(k, seq, _, v)| (k, seq, v))
            .collect();
        let want: Vec<_> = [("a", 5, "1"), ("b", 6, "2"), ("c", 7, "3"), ("d", 8, "4")]
            .map(|(k, s, v)| (k.as_bytes().to_vec(), s, v.as_bytes().to_vec()))
            .into();
        assert_eq!(keys, want);
        let other = RunBuilder::new(bytes, 1).part(0);
        let mixed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            RunBuilder::new(Arc::new(Parts(vec![Vec::new()])), 1).add(other)
        }));
        assert!(mixed.is_err(), "a part of another run");
    }
}
