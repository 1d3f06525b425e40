//! The memtable: a concurrent skip list from internal keys to values.
//!
//! Writers and readers share it through `&self` without a lock: `crossbeam-skiplist` is
//! lock-free. Entries are never removed; a memtable is frozen and dropped whole once flushed.

use crate::iter::MemTableIter;
use crate::key::{KeyView, LookupKey, MemKey};
use common::{InternalKey, Lookup, SeqNo, ValueKind, MAX_SEQNO};
use crossbeam_skiplist::SkipMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// What one entry costs beyond its user key and value bytes, in bytes, for the size estimate.
///
/// Two heap blocks per entry: the skip-list node (reference count and height word, 8; the
/// `MemKey` of key.rs, 48; the value's `Arc<[u8]>` pointer, 16; a tower of 8-byte pointers,
/// 2 on average as crossbeam draws heights with p = 1/2) and the value's `Arc` block (16 bytes
/// of counts before the value), each with malloc's 8-byte header and 16-byte rounding.
/// Measured with glibc: 300,000 entries of 16-byte keys and 100-byte values grew the RSS by
/// 245 bytes per entry, 129 beyond the key and value (the estimate had said 96 here, so a
/// "64 MiB" memtable took about 74 MiB). Still an estimate used to decide when a memtable is
/// full, not an exact accounting; keys longer than the inline 22 bytes add a third block.
pub const ENTRY_OVERHEAD_BYTES: usize = 128;

/// An in-memory sorted buffer of writes, shared by many threads.
pub struct MemTable {
    id: u64,
    map: SkipMap<MemKey, Arc<[u8]>>,
    size_bytes: AtomicUsize,
    /// `u64::MAX` while empty.
    min_seq: AtomicU64,
    /// Meaningful only when not empty.
    max_seq: AtomicU64,
}

impl MemTable {
    /// An empty memtable; `id` is the engine's name for it (e.g. the WAL position it starts at).
    pub fn new(id: u64) -> MemTable {
        MemTable {
            id,
            map: SkipMap::new(),
            size_bytes: AtomicUsize::new(0),
            min_seq: AtomicU64::new(u64::MAX),
            max_seq: AtomicU64::new(0),
        }
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
        assert!(seq <= MAX_SEQNO, "sequence number {seq} exceeds MAX_SEQNO");
        let charge = user_key.len() + value.len() + ENTRY_OVERHEAD_BYTES;
        self.map
            .insert(MemKey::new(user_key, seq, kind), Arc::from(value));
        self.size_bytes.fetch_add(charge, Ordering::Relaxed);
        // `max_seq` first: a reader that sees `min_seq` set (Acquire) then sees `max_seq` too.
        self.max_seq.fetch_max(seq, Ordering::Relaxed);
        self.min_seq.fetch_min(seq, Ordering::Release);
    }

    /// The newest version of `user_key` with `seq <= snapshot`.
    pub fn get(&self, user_key: &[u8], snapshot: SeqNo) -> Lookup {
        let probe = LookupKey::new(
            user_key,
            InternalKey::seek_key(Vec::new(), snapshot).trailer(),
        );
        let probe: &dyn KeyView = &probe;
        match self.map.lower_bound(Bound::Included(probe)) {
            Some(e) if e.key().user_key() == user_key => match e.key().kind() {
                ValueKind::Put => Lookup::Found(e.value().to_vec()),
                ValueKind::Delete => Lookup::Deleted,
            },
            _ => Lookup::Absent,
        }
    }

    /// The estimated memory the entries take, in bytes: keys, values and
    /// [`ENTRY_OVERHEAD_BYTES`] per entry.
    pub fn approximate_size_bytes(&self) -> usize {
        self.size_bytes.load(Ordering::Relaxed)
    }

    /// The number of entries (versions, tombstones included).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no entry was inserted.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
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
    pub(crate) fn map(&self) -> &SkipMap<MemKey, Arc<[u8]>> {
        &self.map
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
