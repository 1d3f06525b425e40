//! A table's decoded index (`docs/sstable-format.md`, "Index block"), laid out for fast binary
//! search: one entry per data block, the blocks' last keys back to back in one buffer, and beside
//! each a fixed 8-byte key prefix that a probe compares first.
//!
//! The prefix of an entry is the 8 bytes of its user key that follow the `common` prefix all the
//! table's user keys share (zero-padded, read big-endian). Keys sorted by bytes have their
//! prefixes sorted too, and a strictly smaller prefix means a strictly smaller user key, so a
//! probe costs one load from a dense `u64` array and usually no memcmp; only equal prefixes fall
//! back to comparing the whole key. Skipping the shared prefix matters for keys like zero-padded
//! numbers, whose first 8 bytes are often the same in every key of a table.

use crate::block::{Block, BlockError};
use crate::format::BlockHandle;
use std::cmp::Ordering;
use std::sync::Arc;

/// One index entry, borrowed from an [`Index`]: the last key of a data block and where the block
/// is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry<'a> {
    /// The encoded internal key of the block's last entry.
    pub last_key: &'a [u8],
    /// The block's handle.
    pub handle: BlockHandle,
}

/// The decoded index of a table: at least one entry, keys strictly increasing, handles tiling
/// the data area (checked by [`decode_index`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// The encoded last keys, back to back.
    keys: Vec<u8>,
    /// `keys[ends[i - 1]..ends[i]]` is entry i's key (`ends[-1]` = 0).
    ends: Vec<usize>,
    /// Entry i's search prefix (see the module doc).
    prefixes: Vec<u64>,
    handles: Vec<BlockHandle>,
    /// The length of the user-key prefix all entries share (`keys[..common]`).
    common: usize,
}

/// The 8 bytes of `rest` (zero-padded) as a big-endian number: numeric order is byte order.
fn prefix_of(rest: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = rest.len().min(8);
    b[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(b)
}

/// Splits an encoded key into user key and trailer; keys are checked to hold a trailer.
fn split(key: &[u8]) -> (&[u8], u64) {
    let cut = key.len().saturating_sub(8);
    let mut t = [0u8; 8];
    t[..key.len() - cut].copy_from_slice(&key[cut..]);
    (&key[..cut], u64::from_le_bytes(t))
}

impl Index {
    /// Builds an index from (encoded last key, handle) pairs in increasing key order, each key
    /// at least 8 bytes (the decoder checks both).
    fn build(keys: Vec<u8>, ends: Vec<usize>, handles: Vec<BlockHandle>) -> Index {
        let mut index = Index {
            keys,
            ends,
            prefixes: Vec::new(),
            handles,
            common: 0,
        };
        if let (Some(first), Some(last)) = (index.entry_key(0), index.last().map(|e| e.last_key)) {
            let (a, b) = (split(first).0, split(last).0);
            index.common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        }
        let common = index.common;
        index.prefixes = (0..index.len())
            .map(|i| {
                let user = split(index.entry_key(i).unwrap_or_default()).0;
                prefix_of(user.get(common..).unwrap_or_default())
            })
            .collect();
        index
    }

    /// The number of entries (data blocks).
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether there is no entry (never true for the index of an open table).
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    fn entry_key(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.keys.get(start..end)
    }

    /// Entry `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<IndexEntry<'_>> {
        Some(IndexEntry {
            last_key: self.entry_key(i)?,
            handle: *self.handles.get(i)?,
        })
    }

    /// The last entry.
    pub fn last(&self) -> Option<IndexEntry<'_>> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The handle of block `i` (`i < len()`).
    pub fn handle(&self, i: usize) -> BlockHandle {
        self.handles[i]
    }

    /// The entries in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = IndexEntry<'_>> + ExactSizeIterator {
        (0..self.len()).map(|i| IndexEntry {
            last_key: self.entry_key(i).unwrap_or_default(),
            handle: self.handles[i],
        })
    }

    /// The first block whose last key is `>=` the internal key (`user_key`, `trailer`): the only
    /// block that can hold that key or the next one after it; `len()` if every block's last key
    /// is smaller. (`trailer` is `(seq << 8) | kind`, as in the encoded key.)
    pub fn find(&self, user_key: &[u8], trailer: u64) -> usize {
        let n = self.len();
        let c = self.common;
        // Place the target against the prefix every entry shares first.
        let head = &user_key[..user_key.len().min(c)];
        match head.cmp(&self.keys[..head.len()]) {
            Ordering::Less => return 0,
            Ordering::Greater => return n,
            // A proper prefix of every user key sorts before all of them.
            Ordering::Equal if user_key.len() < c => return 0,
            Ordering::Equal => {}
        }
        let rest = &user_key[c..];
        let target = prefix_of(rest);
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let less = match self.prefixes[mid].cmp(&target) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => {
                    let (user, t) = split(self.entry_key(mid).unwrap_or_default());
                    // Both share the common prefix; compare what follows, then trailers
                    // (a larger trailer is a newer version and sorts first).
                    let user = user.get(c..).unwrap_or_default();
                    user.cmp(rest).then(trailer.cmp(&t)) == Ordering::Less
                }
            };
            if less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// [`Index::find`] for an encoded internal key (one shorter than its 8-byte trailer is
    /// compared as a user key with the smallest trailer).
    pub fn find_encoded(&self, target: &[u8]) -> usize {
        if target.len() < 8 {
            return self.find(target, 0);
        }
        let (user, trailer) = split(target);
        self.find(user, trailer)
    }
}

/// Decodes an index block's entries and checks them against the data area `[0, data_end)`: at
/// least one entry, keys strictly increasing (checked by the block cursor), and handles that
/// tile the data area exactly, in order, with no gap. Errors carry the offset within the block.
pub fn decode_index(block: Block, data_end: u64) -> std::result::Result<Index, BlockError> {
    let block = Arc::new(block);
    let mut it = block.iter();
    it.seek_to_first()?;
    let mut keys = Vec::new();
    let mut ends = Vec::new();
    let mut handles: Vec<BlockHandle> = Vec::new();
    let mut expect_offset = 0u64;
    while it.valid() {
        let handle = BlockHandle::decode_varint(it.value()).ok_or_else(|| {
            BlockError::new(
                0,
                format!("index entry {} has a malformed handle", handles.len()),
            )
        })?;
        if handle.offset != expect_offset || !handle.within(expect_offset, data_end) {
            return Err(BlockError::new(
                0,
                format!(
                    "index entry {} points at {handle:?}; expected a block at {expect_offset} ending by {data_end}",
                    handles.len()
                ),
            ));
        }
        expect_offset = handle.end().unwrap_or(u64::MAX);
        // The cursor checked that the key holds an 8-byte trailer with a known kind.
        keys.extend_from_slice(it.key());
        ends.push(keys.len());
        handles.push(handle);
        it.next()?;
    }
    if handles.is_empty() || expect_offset != data_end {
        return Err(BlockError::new(
            0,
            format!("index covers data up to {expect_offset}, but data ends at {data_end}"),
        ));
    }
    Ok(Index::build(keys, ends, handles))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_builder::BlockBuilder;
    use common::ikey::compare_encoded;
    use common::{InternalKey, ValueKind};
    use proptest::prelude::*;

    /// An index over `keys` (sorted, deduplicated internal keys), blocks of 10 bytes each (15
    /// with their trailers).
    fn index_of(keys: &[InternalKey]) -> Index {
        let mut b = BlockBuilder::new(1);
        let mut value = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            value.clear();
            BlockHandle {
                offset: 15 * i as u64,
                size: 10,
            }
            .encode_varint(&mut value);
            b.add(&k.encode(), &value);
        }
        decode_index(Block::new(b.finish()).unwrap(), 15 * keys.len() as u64).unwrap()
    }

    /// What `find` must return: the partition point by the full comparison.
    fn reference(index: &Index, target: &InternalKey) -> usize {
        let t = target.encode();
        let entries: Vec<_> = index.iter().collect();
        entries.partition_point(|e| compare_encoded(e.last_key, &t) == Ordering::Less)
    }

    fn ik(k: &[u8], seq: u64) -> InternalKey {
        InternalKey::new(k, seq, ValueKind::Put)
    }

    #[test]
    fn shared_prefixes_short_keys_and_versions() {
        let keys = vec![
            ik(b"user0000000001", 9),
            ik(b"user0000000001", 3),
            ik(b"user00000000010", 5),
            ik(b"user0000000002", 1),
            ik(b"user000000000200000000", 4),
            ik(b"user0000000003", 7),
        ];
        let index = index_of(&keys);
        assert_eq!(index.common, 13);
        assert_eq!(index.len(), 6);
        assert_eq!(index.last().unwrap().last_key, &keys[5].encode()[..]);
        assert_eq!(index.get(1).unwrap().handle.offset, 15);
        assert!(index.get(6).is_none());
        let mut targets: Vec<InternalKey> = Vec::new();
        for k in &keys {
            for seq in [0, 1, 3, 4, 5, 7, 9, 100] {
                targets.push(ik(&k.user_key, seq));
            }
        }
        for u in [
            &b""[..],
            b"a",
            b"user",
            b"user000000000",
            b"user0000000000",
            b"user00000000010\0",
            b"user0000000001\0",
            b"user0000000004",
            b"user1",
            b"zzz",
        ] {
            targets.push(ik(u, 5));
        }
        for t in &targets {
            assert_eq!(
                index.find(&t.user_key, t.trailer()),
                reference(&index, t),
                "{t:?}"
            );
            assert_eq!(index.find_encoded(&t.encode()), reference(&index, t));
        }
    }

    #[test]
    fn one_entry_and_identical_user_keys() {
        let index = index_of(&[ik(b"k", 5)]);
        assert_eq!(index.common, 1);
        assert_eq!(index.find(b"k", ik(b"k", 6).trailer()), 0);
        assert_eq!(index.find(b"k", ik(b"k", 4).trailer()), 1);
        assert_eq!(index.find(b"", 0), 0);
        let index = index_of(&[ik(b"k", 5), ik(b"k", 2)]);
        assert_eq!(index.find(b"k", ik(b"k", 3).trailer()), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn find_agrees_with_the_full_comparison(
            raw in proptest::collection::btree_set(
                (proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), any::<u8>()], 0..14), 0u64..4),
                1..40),
            targets in proptest::collection::vec(
                (proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), any::<u8>()], 0..14), 0u64..5),
                1..40),
        ) {
            let mut keys: Vec<InternalKey> = raw.into_iter().map(|(k, s)| ik(&k, s)).collect();
            keys.sort();
            keys.dedup();
            let index = index_of(&keys);
            for (u, s) in targets.iter().map(|(u, s)| (u.as_slice(), *s)).chain(keys.iter().map(|k| (&k.user_key[..], k.seq))) {
                let t = ik(u, s);
                prop_assert_eq!(index.find(&t.user_key, t.trailer()), reference(&index, &t));
            }
        }
    }
}
