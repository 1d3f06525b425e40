//! The skip list's key, [`MemKey`], and borrowed lookups into it.
//!
//! A skip-list search touches one node per step, and a key whose bytes live in a separate heap
//! block costs a second cache miss per step (the profile of a random fill showed the search and
//! its `memcmp` at 30% of the time). [`MemKey`] therefore keeps a user key of up to
//! [`INLINE_KEY_BYTES`] bytes inside the node itself, and compares the first 16 of them as one
//! big-endian `u128` ([`prefix_of`]), so most comparisons are one integer compare. (8 bytes
//! were not enough: db_bench-style keys are zero-padded decimals, `"0000000000123456"`, whose
//! first 8 bytes are all alike.) A longer key keeps its first bytes inline too, and the whole
//! key in one heap block, read only when the first 16 bytes tie.
//!
//! A point lookup or a seek only has a `&[u8]`; every [`MemKey`] borrows as `dyn KeyView`, and
//! [`LookupKey`] is a `KeyView` made of a slice and a trailer, so the skip list can be searched
//! without building a key. `dyn KeyView` orders exactly as [`common::InternalKey`] does (user
//! key ascending, trailer descending); the tests check that.

use crate::long_key::LongKey;
use common::{SeqNo, ValueKind};
use std::borrow::Borrow;
use std::cmp::Ordering;

/// User keys up to this many bytes are stored inside the skip-list node.
pub const INLINE_KEY_BYTES: usize = 22;

/// The first 16 bytes of `key` as a big-endian integer, zero-padded. Comparing two prefixes
/// orders two keys as comparing the keys does, except that equal prefixes say nothing (the
/// keys may still differ after byte 16, or in length: `"a"` and `"a\0"` share a prefix).
pub fn prefix_of(key: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = key.len().min(16);
    b[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(b)
}

/// An internal key seen through borrowed parts.
pub trait KeyView {
    /// The user key.
    fn user_key(&self) -> &[u8];
    /// `(seq << 8) | kind`, as [`common::InternalKey::trailer`].
    fn trailer(&self) -> u64;
    /// [`prefix_of`] the user key.
    fn prefix(&self) -> u128;
}

/// A skip-list key: the user key's first [`INLINE_KEY_BYTES`] bytes inside the node
/// (zero-padded; the first 16 are the [`prefix_of`] bytes), the trailer, and a key longer than
/// that in a heap block of its own.
///
/// Layout, 40 bytes at 8-byte alignment (a node of crossbeam's skip list holds this, the
/// value's 16-byte `Slice`, an 8-byte count and the tower). An earlier layout kept the prefix
/// as a `u128` field beside the inline bytes: 48 bytes at 16-byte alignment, which padded the
/// node so that glibc served it from 112- and 128-byte chunks (about 117 bytes an entry on
/// average) against about 91 now, for the same one-integer compare.
#[derive(Clone)]
pub struct MemKey {
    trailer: u64,
    /// The first `min(len, INLINE_KEY_BYTES)` bytes of the user key, zero-padded.
    bytes: [u8; INLINE_KEY_BYTES],
    /// The user key's length when it is inline; [`SPILLED`] when it is in `spill`.
    len: u8,
    /// The whole user key when it is longer than [`INLINE_KEY_BYTES`], in one heap block
    /// behind an 8-byte pointer (`long_key.rs`); read only when the first 16 bytes tie.
    spill: Option<LongKey>,
}

/// [`MemKey::len`] of a key kept in `spill`.
const SPILLED: u8 = u8::MAX;

impl MemKey {
    /// The key of `user_key` at `seq` with `kind`.
    pub fn new(user_key: &[u8], seq: SeqNo, kind: ValueKind) -> MemKey {
        let mut bytes = [0u8; INLINE_KEY_BYTES];
        let n = user_key.len().min(INLINE_KEY_BYTES);
        bytes[..n].copy_from_slice(&user_key[..n]);
        let (len, spill) = if user_key.len() <= INLINE_KEY_BYTES {
            (user_key.len() as u8, None)
        } else {
            (SPILLED, Some(LongKey::new(user_key)))
        };
        MemKey {
            trailer: (seq << 8) | kind as u64,
            bytes,
            len,
            spill,
        }
    }

    /// The sequence number.
    pub fn seq(&self) -> SeqNo {
        self.trailer >> 8
    }

    /// The kind.
    pub fn kind(&self) -> ValueKind {
        ValueKind::from_u8(self.trailer as u8).expect("MemKey::new stores a valid kind")
    }

    /// [`prefix_of`] the user key, read from the inline bytes (zero-padded as `prefix_of` pads).
    #[inline]
    fn inline_prefix(&self) -> u128 {
        let mut b = [0u8; 16];
        b.copy_from_slice(&self.bytes[..16]);
        u128::from_be_bytes(b)
    }
}

impl KeyView for MemKey {
    fn user_key(&self) -> &[u8] {
        match &self.spill {
            Some(key) => key.bytes(),
            None => &self.bytes[..self.len as usize],
        }
    }
    fn trailer(&self) -> u64 {
        self.trailer
    }
    fn prefix(&self) -> u128 {
        self.inline_prefix()
    }
}

/// A search key: a borrowed user key, its prefix and a trailer.
pub struct LookupKey<'a> {
    user_key: &'a [u8],
    prefix: u128,
    trailer: u64,
}

impl<'a> LookupKey<'a> {
    /// The search key for `user_key` with `trailer` ([`common::InternalKey::trailer`]).
    pub fn new(user_key: &'a [u8], trailer: u64) -> LookupKey<'a> {
        LookupKey {
            user_key,
            prefix: prefix_of(user_key),
            trailer,
        }
    }
}

impl KeyView for LookupKey<'_> {
    fn user_key(&self) -> &[u8] {
        self.user_key
    }
    fn trailer(&self) -> u64 {
        self.trailer
    }
    fn prefix(&self) -> u128 {
        self.prefix
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for MemKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.prefix()
            .cmp(&other.prefix())
            .then_with(|| {
                let (a, b) = (self.user_key(), other.user_key());
                if a.len() <= 16 && b.len() <= 16 {
                    // Equal zero-padded prefixes: the shorter key is a prefix of the longer.
                    a.len().cmp(&b.len())
                } else {
                    a.cmp(b)
                }
            })
            .then_with(|| other.trailer().cmp(&self.trailer()))
    }
}

impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for dyn KeyView + '_ {}

impl Ord for MemKey {
    /// Orders as `dyn KeyView` does, with the common case (different 16-byte prefixes) one
    /// integer compare inlined into the skip list's search; an insert compares about 40 keys.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        match self.inline_prefix().cmp(&other.inline_prefix()) {
            Ordering::Equal => (self as &dyn KeyView).cmp(other as &dyn KeyView),
            unequal => unequal,
        }
    }
}

impl PartialOrd for MemKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for MemKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for MemKey {}

#[cfg(test)]
mod tests {
    use super::*;
    use common::{InternalKey, MAX_SEQNO};
    use proptest::prelude::*;

    fn kind(d: bool) -> ValueKind {
        if d {
            ValueKind::Delete
        } else {
            ValueKind::Put
        }
    }

    // Keys around the inline limit and the 16-byte prefix, with zero bytes (where the prefix's
    // padding could be confused with key bytes).
    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(0u8..3, 0..20),
            proptest::collection::vec(0u8..3, 20..26),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn key_view_order_matches_internal_key(
            ka in key(), sa in 0..MAX_SEQNO, da: bool,
            kb in key(), sb in 0..MAX_SEQNO, db: bool,
        ) {
            let a = InternalKey::new(ka.clone(), sa, kind(da));
            let b = InternalKey::new(kb.clone(), sb, kind(db));
            let ma = MemKey::new(&ka, sa, kind(da));
            let mb = MemKey::new(&kb, sb, kind(db));
            let lb = LookupKey::new(&kb, b.trailer());
            let va: &dyn KeyView = &ma;
            let vb: &dyn KeyView = &lb;
            prop_assert_eq!(va.cmp(vb), a.cmp(&b));
            prop_assert_eq!(ma.cmp(&mb), a.cmp(&b));
            prop_assert_eq!((ma.user_key(), ma.seq(), ma.kind()), (&ka[..], sa, kind(da)));
            prop_assert_eq!(ma.trailer(), a.trailer());
        }
    }

    /// The node-size arithmetic in [`MemKey`]'s documentation (and `ENTRY_OVERHEAD_BYTES`)
    /// rests on this layout.
    #[test]
    fn a_key_is_40_bytes_at_8_byte_alignment() {
        assert_eq!(std::mem::size_of::<MemKey>(), 40);
        assert_eq!(std::mem::align_of::<MemKey>(), 8);
    }

    #[test]
    fn short_keys_are_inline_and_long_ones_are_not() {
        let short = MemKey::new(&[7; INLINE_KEY_BYTES], 1, ValueKind::Put);
        let long = MemKey::new(&[7; INLINE_KEY_BYTES + 1], 1, ValueKind::Put);
        assert!(short.spill.is_none());
        assert!(long.spill.is_some());
        assert_eq!(long.user_key(), &[7; INLINE_KEY_BYTES + 1]);
    }
}
