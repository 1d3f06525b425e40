//! The memtable: a concurrent skip list from internal keys to values.
//!
//! Writers and readers share it through `&self` without a lock: `crossbeam-skiplist` is
//! lock-free. Entries are never removed; a memtable is frozen and dropped whole once flushed.
//!
//! The map is crossbeam's `base::SkipList`, not its `SkipMap` wrapper: `SkipMap` pins the
//! epoch and takes a reference count on every entry it hands out (an atomic increment and
//! decrement per insert, lookup and cursor step). Readers here only borrow entries under an
//! epoch guard and copy what they keep (the cursor copies keys and value places): the one
//! removal, an insert of an internal key already present replacing its node, frees the old
//! node through the epoch, after every guard that could see it is gone. So no reference
//! count is needed, and [`MemTable::insert_batch`] pins once for a whole batch.

use crate::arena::{Arena, Slice};
use crate::iter::MemTableIter;
use crate::key::{KeyView, LookupKey, MemKey};
use crate::prepared::Prepared;
use crate::run::Run;
use common::{InternalKey, Lookup, SeqNo, ValueKind, MAX_SEQNO};
use crossbeam_epoch::Guard;
use crossbeam_skiplist::SkipList;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// What one entry costs beyond its user key and value bytes, in bytes, for the size estimate.
///
/// One heap block per entry, the skip-list node: reference count and height word, 8; the
/// `MemKey` of key.rs, 40; the value's place in the arena (arena.rs), 16; a tower of 8-byte
/// pointers, 2 on average as crossbeam draws heights with p = 1/2; malloc's 8-byte header and
/// 16-byte rounding (80- to 112-byte chunks). The value's bytes sit back to back in the arena's
/// 1 MiB chunks. Measured with glibc (`cargo run --release -p memtable --example entry_cost`):
/// 300,000 and 3,000,000 entries of 16-byte keys and 100-byte values grew the RSS by 190.7
/// bytes per entry, 74.7 beyond the key and value (217.3 and 101.3 with the earlier 48-byte,
/// 16-byte-aligned key; 245 and 129 when each value had its own `Arc` block). Still an
/// estimate used to decide when a memtable is full, not an exact accounting. Keys longer than
/// the inline 22 bytes add [`LONG_KEY_OVERHEAD_BYTES`] (see [`entry_charge`]).
pub const ENTRY_OVERHEAD_BYTES: usize = 75;

/// What a key longer than the inline 22 bytes (key.rs) adds beyond its bytes: its own heap
/// block (`long_key.rs`: a 4-byte length, malloc's 8-byte header, 16-byte rounding). Measured
/// as above with 1,000,000 entries of 32- and 48-byte keys and 100-byte values: 106.7 bytes
/// per entry beyond the key and value, 32 more than a short key's 74.7. (With the earlier
/// two-block long key, `Box<Box<[u8]>>`: 138.8, and the estimate, which did not count them,
/// was 24% under the RSS.)
pub const LONG_KEY_OVERHEAD_BYTES: usize = 32;

/// The size estimate's charge for one entry: its key and value bytes, [`ENTRY_OVERHEAD_BYTES`],
/// and [`LONG_KEY_OVERHEAD_BYTES`] for a key that does not fit in the node.
pub fn entry_charge(key_len: usize, value_len: usize) -> usize {
    let long = if key_len > crate::key::INLINE_KEY_BYTES {
        LONG_KEY_OVERHEAD_BYTES
    } else {
        0
    };
    key_len + value_len + ENTRY_OVERHEAD_BYTES + long
}

/// An in-memory sorted buffer of writes, shared by many threads.
pub struct MemTable {
    id: u64,
    /// A number no other memtable of this process has: which memtable a [`Prepared`] is for.
    identity: u64,
    /// Values live here; every `Slice` in `map` came from it. Declared (so dropped) before
    /// the map on purpose: dropping the skip list frees its nodes one by one (tens of
    /// milliseconds for a 64 MiB memtable) and never reads a value (`Slice` has no drop
    /// glue), so the values' chunks, about half the memory, go back to the system at once
    /// when a flushed memtable is dropped, not after every node.
    arena: Arena,
    map: SkipList<MemKey, Slice>,
    /// A memtable made from a sorted run ([`crate::RunBuilder`]) holds its entries here, and
    /// nothing in `map`; it takes no inserts.
    run: Option<Run>,
    size_bytes: AtomicUsize,
    /// `u64::MAX` while empty.
    min_seq: AtomicU64,
    /// Meaningful only when not empty.
    max_seq: AtomicU64,
}

impl MemTable {
    /// An empty memtable; `id` is the engine's name for it (e.g. the WAL position it starts at).
    pub fn new(id: u64) -> MemTable {
        static NEXT_IDENTITY: AtomicU64 = AtomicU64::new(0);
        MemTable {
            id,
            identity: NEXT_IDENTITY.fetch_add(1, Ordering::Relaxed),
            arena: Arena::new(),
            map: SkipList::new(crossbeam_epoch::default_collector().clone()),
            run: None,
            size_bytes: AtomicUsize::new(0),
            min_seq: AtomicU64::new(u64::MAX),
            max_seq: AtomicU64::new(0),
        }
    }

    /// The frozen memtable of a finished [`crate::RunBuilder`].
    pub(crate) fn from_run(id: u64, run: Run, charge: usize, lo: SeqNo, hi: SeqNo) -> MemTable {
        let mut mt = MemTable::new(id);
        mt.run = Some(run);
        mt.account(charge, lo, hi);
        mt
    }

    /// The sorted run, for a memtable made from one.
    pub(crate) fn run(&self) -> Option<&Run> {
        self.run.as_ref()
    }

    fn assert_takes_inserts(&self) {
        assert!(
            self.run.is_none(),
            "a memtable made from a sorted run takes no inserts"
        );
    }

    /// The id given to [`MemTable::new`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Adds one version of `user_key`. A tombstone is a `ValueKind::Delete` with an empty value.
    ///
    /// Sequence numbers must be unique per user key; inserting the same `(user_key, seq, kind)`
    /// twice replaces the value (and the size estimate counts both).
    ///
    /// # Panics
    /// If `seq > MAX_SEQNO` (a caller bug: it would not fit in the encoded trailer).
    pub fn insert(&self, user_key: &[u8], seq: SeqNo, kind: ValueKind, value: &[u8]) {
        self.insert_batch([(user_key, seq, kind, value)]);
    }

    /// Adds many versions, as [`MemTable::insert`] each, under one epoch pin and with one
    /// update of the size and sequence counters: a write batch, or a batch of WAL records
    /// being replayed.
    ///
    /// # Panics
    /// If a `seq > MAX_SEQNO`; the entries before it are in.
    pub fn insert_batch<'a>(
        &self,
        entries: impl IntoIterator<Item = (&'a [u8], SeqNo, ValueKind, &'a [u8])>,
    ) {
        self.assert_takes_inserts();
        let guard = &crossbeam_epoch::pin();
        let (mut charge, mut lo, mut hi) = (0, u64::MAX, 0);
        for (user_key, seq, kind, value) in entries {
            assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds MAX_SEQNO");
            charge += entry_charge(user_key.len(), value.len());
            (lo, hi) = (lo.min(seq), hi.max(seq));
            let value = self.arena.copy(value);
            self.map
                .insert(MemKey::new(user_key, seq, kind), value, guard)
                .release(guard);
        }
        self.account(charge, lo, hi);
    }

    /// An empty [`Prepared`] for this memtable.
    pub fn prepared(&self) -> Prepared {
        Prepared::new(self.identity)
    }

    /// Adds one version to `batch` for a later [`MemTable::insert_prepared`]: the value is
    /// copied into this memtable's arena now, and the entry is not visible until inserted.
    ///
    /// # Panics
    /// If `batch` was made by another memtable, or `seq > MAX_SEQNO`.
    pub fn prepare(
        &self,
        batch: &mut Prepared,
        user_key: &[u8],
        seq: SeqNo,
        kind: ValueKind,
        value: &[u8],
    ) {
        assert_eq!(batch.owner, self.identity, "a Prepared of another memtable");
        self.assert_takes_inserts();
        assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds MAX_SEQNO");
        batch.charge += entry_charge(user_key.len(), value.len());
        (batch.lo, batch.hi) = (batch.lo.min(seq), batch.hi.max(seq));
        let value = self.arena.copy(value);
        batch
            .entries
            .push((MemKey::new(user_key, seq, kind), value));
    }

    /// Inserts every entry of `batch` (in its order: [`Prepared::sort`] it first for speed) under
    /// one epoch pin and one update of the counters, and empties it for reuse.
    ///
    /// # Panics
    /// If `batch` was made by another memtable.
    pub fn insert_prepared(&self, batch: &mut Prepared) {
        assert_eq!(batch.owner, self.identity, "a Prepared of another memtable");
        let guard = &crossbeam_epoch::pin();
        for (key, value) in batch.entries.drain(..) {
            self.map.insert(key, value, guard).release(guard);
        }
        self.account(batch.charge, batch.lo, batch.hi);
        batch.clear();
    }

    /// Counts inserted entries: `charge` bytes, sequence numbers `lo ..= hi` (none when
    /// `lo == u64::MAX`).
    fn account(&self, charge: usize, lo: SeqNo, hi: SeqNo) {
        if lo == u64::MAX {
            return;
        }
        self.size_bytes.fetch_add(charge, Ordering::Relaxed);
        // `max_seq` first: a reader that sees `min_seq` set (Acquire) then sees `max_seq` too.
        if hi > self.max_seq.load(Ordering::Relaxed) {
            self.max_seq.fetch_max(hi, Ordering::Relaxed);
        }
        if lo < self.min_seq.load(Ordering::Relaxed) {
            self.min_seq.fetch_min(lo, Ordering::Release);
        }
    }

    /// The newest version of `user_key` with `seq <= snapshot`.
    #[allow(unsafe_code)]
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Lookup {
        if let Some(run) = &self.run {
            let trailer = InternalKey::seek_key(Vec::new(), snapshot).trailer();
            let i = run.lower_bound(user_key, trailer);
            if i == run.len() || run.user_key(i) != user_key {
                return Lookup::Absent;
            }
            return match run.kind(i) {
                ValueKind::Put => Lookup::Found(run.value(i).to_vec()),
                ValueKind::Delete => Lookup::Deleted,
            };
        }
        if self.map.is_empty() {
            return Lookup::Absent; // spares the epoch pin (a fence) on an empty memtable
        }
        let probe = LookupKey::new(
            user_key,
            InternalKey::seek_key(Vec::new(), snapshot).trailer(),
        );
        let probe: &dyn KeyView = &probe;
        let guard = &crossbeam_epoch::pin();
        match self.map.lower_bound(Bound::Included(probe), guard) {
            Some(e) if e.key().user_key() == user_key => match e.key().kind() {
                // SAFETY: every value in `map` came from `self.arena` (see `insert`).
                ValueKind::Put => Lookup::Found(unsafe { e.value().bytes(&self.arena) }.to_vec()),
                ValueKind::Delete => Lookup::Deleted,
            },
            _ => Lookup::Absent,
        }
    }

    /// The estimated memory the entries take, in bytes: the sum of [`entry_charge`].
    pub fn approximate_size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    /// The number of entries (versions, tombstones included).
    pub fn len(&self) -> usize {
        match &self.run {
            Some(run) => run.len(),
            None => self.map.len(),
        }
    }

    /// Whether no entry was inserted.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The smallest sequence number inserted, `None` while empty.
    pub fn min_seq(&self) -> Option<SeqNo> {
        let s = self.min_seq.load(Ordering::Acquire);
        (s != u64::MAX).then_some(s)
    }

    /// The largest sequence number inserted, `None` while empty.
    pub fn max_seq(&self) -> Option<SeqNo> {
        // `min_seq` is set after `max_seq` (see `insert`): it decides emptiness.
        self.min_seq()?;
        Some(self.max_seq.load(Ordering::Relaxed))
    }

    /// A cursor over every entry in internal-key order; it keeps the memtable alive.
    pub fn iter(self: &Arc<Self>) -> MemTableIter {
        MemTableIter::new(Arc::clone(self))
    }

    /// The underlying map, for the cursor.
    pub(crate) fn map(&self) -> &SkipList<MemKey, Slice> {
        &self.map
    }

    /// Pins the epoch for borrowing entries of [`MemTable::map`].
    pub(crate) fn pin(&self) -> Guard {
        crossbeam_epoch::pin()
    }

    /// The arena every value in [`MemTable::map`] lives in.
    pub(crate) fn arena(&self) -> &Arena {
        &self.arena
    }
}

impl std::fmt::Debug for MemTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemTable")
            .field("id", &self.id)
            .field("len", &self.len())
            .field("approximate_size_bytes", &self.approximate_size_bytes())
            .field("min_seq", &self.min_seq())
            .field("max_seq", &self.max_seq())
            .finish()
    }
}
