//! A frozen memtable made in one go from records that already sit in memory elsewhere: a
//! sorted run of places.
//!
//! Why: reopening over a large unflushed log, building the skip list was most of the time
//! (every record's value copied into the arena, a node allocated and linked per record, and
//! the kernel clearing the ~1.85 GB those take for 1.1 GB of log), and all of it only to flush
//! the result soon after. The log's segments are mapped anyway (they are in the page cache):
//! a [`RunBuilder`] records where each record's key and value are ([`RunBytes`]: numbered
//! parts, the engine's mapped segments), 40 bytes an entry, and sorts those entries into
//! internal-key order once; the [`MemTable`] it makes answers lookups and cursors by binary
//! search and takes no inserts. Measurements are in kvstore's `replay.rs`.
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
    /// The bytes of part `i` (every `i` a [`RunBuilder::push`] was given).
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
        let at = e.key_off as usize;
        &self.bytes.part(e.part as usize)[at..at + e.key_len as usize]
    }

    fn cmp(&self, a: &RunEntry, b: &RunEntry) -> Ordering {
        a.prefix
            .cmp(&b.prefix)
            .then_with(|| self.key_of(a).cmp(self.key_of(b)))
            .then_with(|| b.trailer.cmp(&a.trailer))
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

/// Below this many entries a sort runs on the calling thread alone.
const PARALLEL_SORT_MIN: usize = 1 << 16;

/// Sorts `entries` into `run`'s order: the two halves at once on two threads (when there are
/// two CPUs), then one merge of the two sorted runs (the standard library's stable sort finds
/// them and merges, with a buffer of half the entries). Over 9.26 million entries of a
/// scrambled log on the 2-vCPU VM: see kvstore's `replay.rs`.
fn sort(run: &Run, entries: &mut [RunEntry]) {
    let cmp = |a: &RunEntry, b: &RunEntry| run.cmp(a, b);
    let two = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if !two || entries.len() < PARALLEL_SORT_MIN {
        entries.sort_unstable_by(cmp);
        return;
    }
    let mid = entries.len() / 2;
    let high_sorted = std::thread::scope(|s| {
        let (low, high) = entries.split_at_mut(mid);
        let other = std::thread::Builder::new()
            .name("memtable-sort".into())
            .spawn_scoped(s, move || high.sort_unstable_by(cmp));
        low.sort_unstable_by(cmp);
        match other {
            Ok(h) => match h.join() {
                Ok(()) => true,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => false, // no thread to be had
        }
    });
    if !high_sorted {
        entries[mid..].sort_unstable_by(cmp);
    }
    entries.sort_by(cmp);
}

fn kind_of(trailer: u64) -> ValueKind {
    ValueKind::from_u8(trailer as u8).expect("a run holds only the kinds it was given")
}

fn split(p: u128) -> [u64; 2] {
    [(p >> 64) as u64, p as u64]
}

/// Gathers a run's entries (see the module doc), then makes the memtable
/// ([`RunBuilder::finish`]).
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
/// // "pear" -> "green", then "apple" -> "red", key and value back to back.
/// let mut b = RunBuilder::new(Arc::new(Log(b"peargreenapplered".to_vec())));
/// assert!(b.push(0, 0..4, 4..9, 1, ValueKind::Put));
/// assert!(b.push(0, 9..14, 14..17, 2, ValueKind::Put));
/// let mt = b.finish(7);
/// assert_eq!(mt.get(b"apple", 9), Lookup::Found(b"red".to_vec()));
/// assert_eq!(mt.get(b"apple", 1), Lookup::Absent); // written at 2
/// assert_eq!((mt.len(), mt.min_seq(), mt.max_seq()), (2, Some(1), Some(2)));
/// ```
pub struct RunBuilder {
    run: Run,
    /// The entries so far are in order (checked as they come: a log of ascending keys needs
    /// no sort).
    sorted: bool,
    charge: usize,
    lo: SeqNo,
    hi: SeqNo,
}

impl RunBuilder {
    /// An empty run over `bytes`.
    pub fn new(bytes: Arc<dyn RunBytes>) -> RunBuilder {
        RunBuilder {
            run: Run {
                bytes,
                entries: Vec::new(),
            },
            sorted: true,
            charge: 0,
            lo: u64::MAX,
            hi: 0,
        }
    }

    /// Adds a version whose key is `part`'s bytes at `key` and whose value follows it at
    /// `value` (`value.start == key.end`). `false`, and nothing added, if the entry cannot be
    /// held: the value does not follow the key, or an offset or length passes `u32::MAX`.
    ///
    /// # Panics
    /// If `seq > MAX_SEQNO`, or a range is not within the part.
    pub fn push(
        &mut self,
        part: usize,
        key: Range<usize>,
        value: Range<usize>,
        seq: SeqNo,
        kind: ValueKind,
    ) -> bool {
        assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds MAX_SEQNO");
        let fits = |x: usize| u32::try_from(x).is_ok();
        if value.start != key.end || !fits(part) || !fits(value.end) {
            return false;
        }
        let bytes = self.run.bytes.part(part);
        assert!(
            key.start <= key.end && value.end <= bytes.len(),
            "a range outside its part"
        );
        let e = RunEntry {
            prefix: split(prefix_of(&bytes[key.clone()])),
            trailer: (seq << 8) | kind as u64,
            part: part as u32,
            key_off: key.start as u32,
            key_len: key.len() as u32,
            value_len: value.len() as u32,
        };
        if self.sorted {
            if let Some(last) = self.run.entries.last() {
                self.sorted = self.run.cmp(last, &e) == Ordering::Less;
            }
        }
        self.run.entries.push(e);
        self.charge += key.len() + value.len() + RUN_ENTRY_BYTES;
        (self.lo, self.hi) = (self.lo.min(seq), self.hi.max(seq));
        true
    }

    /// The entries so far.
    pub fn len(&self) -> usize {
        self.run.entries.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.run.entries.is_empty()
    }

    /// Sorts the entries (unless they came in order) and makes the frozen memtable `id`.
    /// Every `(key, seq)` must be unique, as in a memtable.
    pub fn finish(mut self, id: u64) -> crate::MemTable {
        if !self.sorted {
            let mut entries = std::mem::take(&mut self.run.entries);
            sort(&self.run, &mut entries);
            self.run.entries = entries;
        }
        crate::MemTable::from_run(id, self.run, self.charge, self.lo, self.hi)
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
                let part = i % 3;
                let start = parts[part].len();
                parts[part].extend_from_slice(&k);
                parts[part].extend_from_slice(&value);
                let mid = start + k.len();
                places.push((part, start..mid, mid..mid + value.len(), seq, kind));
            }
            let mut b = RunBuilder::new(Arc::new(Parts(parts)));
            for (part, k, v, seq, kind) in places {
                prop_assert!(b.push(part, k, v, seq, kind));
            }
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
        let mut b = RunBuilder::new(Arc::new(Parts(vec![b"keyvalue".to_vec()])));
        assert!(
            !b.push(0, 0..3, 4..8, 1, ValueKind::Put),
            "the value must follow the key"
        );
        assert!(b.is_empty());
        assert!(b.push(0, 0..3, 3..8, 1, ValueKind::Put));
        let mt = b.finish(1);
        assert_eq!(mt.approximate_size_bytes(), 8 + RUN_ENTRY_BYTES);
        let inserted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            mt.insert(b"k", 2, ValueKind::Put, b"v")
        }));
        assert!(inserted.is_err());
    }
}
