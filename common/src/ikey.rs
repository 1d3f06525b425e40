//! The internal key: what the memtable, the SSTables and compaction sort by.
//!
//! An internal key is a user key plus a sequence number and a kind. Order: user key ascending
//! (bytewise), then sequence number descending, then kind descending, so the newest version of a
//! key comes first. A read at snapshot `s` seeks to `(key, s, Put)` and takes the first entry at
//! or after it with the same user key: the newest version with `seq <= s`.
//!
//! Encoded form (used inside SSTables, see `docs/sstable-format.md`): the user key's bytes, then an
//! 8-byte little-endian trailer `(seq << 8) | kind`.

use std::cmp::Ordering;

/// A sequence number. Only the low 56 bits are used.
pub type SeqNo = u64;

/// The largest sequence number that fits in a trailer.
pub const MAX_SEQNO: SeqNo = (1 << 56) - 1;

/// What an entry says about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum ValueKind {
    /// The key was deleted at this sequence number (a tombstone; the value is empty).
    Delete = 0,
    /// The key was set to the entry's value.
    Put = 1,
}

impl ValueKind {
    /// Decodes the kind byte; `None` for an unknown kind.
    pub fn from_u8(b: u8) -> Option<ValueKind> {
        match b {
            0 => Some(ValueKind::Delete),
            1 => Some(ValueKind::Put),
            _ => None,
        }
    }
}

/// A user key with its sequence number and kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InternalKey {
    /// The key as the user gave it.
    pub user_key: Vec<u8>,
    /// When it was written; larger is newer.
    pub seq: SeqNo,
    /// Put or delete.
    pub kind: ValueKind,
}

impl InternalKey {
    /// A new internal key.
    pub fn new(user_key: impl Into<Vec<u8>>, seq: SeqNo, kind: ValueKind) -> Self {
        debug_assert!(seq <= MAX_SEQNO);
        InternalKey {
            user_key: user_key.into(),
            seq,
            kind,
        }
    }

    /// The smallest internal key for `user_key` visible at `snapshot`: seek here to find the
    /// newest version with `seq <= snapshot`.
    pub fn seek_key(user_key: impl Into<Vec<u8>>, snapshot: SeqNo) -> Self {
        InternalKey::new(user_key, snapshot.min(MAX_SEQNO), ValueKind::Put)
    }

    /// The 8-byte trailer: `(seq << 8) | kind`.
    pub fn trailer(&self) -> u64 {
        (self.seq << 8) | self.kind as u64
    }

    /// Appends the encoded form (user key, then the trailer little-endian) to `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.user_key);
        buf.extend_from_slice(&self.trailer().to_le_bytes());
    }

    /// The encoded form.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.user_key.len() + 8);
        self.encode_into(&mut b);
        b
    }

    /// Decodes an encoded internal key; `None` if it is shorter than 8 bytes or its kind is
    /// unknown.
    pub fn decode(encoded: &[u8]) -> Option<InternalKey> {
        let (user_key, seq, kind) = split_encoded(encoded)?;
        Some(InternalKey::new(user_key, seq, kind))
    }
}

/// Splits an encoded internal key into (user key, seq, kind) without copying.
pub fn split_encoded(encoded: &[u8]) -> Option<(&[u8], SeqNo, ValueKind)> {
    let cut = encoded.len().checked_sub(8)?;
    let trailer = u64::from_le_bytes(encoded[cut..].try_into().ok()?);
    let kind = ValueKind::from_u8((trailer & 0xff) as u8)?;
    Some((&encoded[..cut], trailer >> 8, kind))
}

/// Compares two user keys bytewise, as `a.cmp(b)` does, eight bytes at a time as big-endian
/// words (which order like the bytes), inlined: the short keys typical of an engine then cost
/// no `memcmp` call, which for 16-byte keys is most of a comparison's cost (the block cursor's
/// hot loops, and a point read's check of each file's key range).
#[inline]
pub fn compare_user_keys(a: &[u8], b: &[u8]) -> Ordering {
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let (x, y) = (word_be(x), word_be(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    // At least one side has fewer than 8 bytes left; the chunks compared so far are equal.
    let done = a.len().min(b.len()) / 8 * 8;
    let (ra, rb) = (&a[done..], &b[done..]);
    for (x, y) in ra.iter().zip(rb) {
        if x != y {
            return x.cmp(y);
        }
    }
    ra.len().cmp(&rb.len())
}

#[inline]
fn word_be(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().unwrap_or([0; 8]))
}

/// Compares two encoded internal keys in internal-key order (user key bytewise ascending, then
/// trailer descending), inlined, the user keys through [`compare_user_keys`]: the block
/// cursor's hot loops compare this way. Keys too short to hold a trailer compare bytewise
/// (decoders reject them before they reach a comparison).
#[inline]
pub fn compare_encoded(a: &[u8], b: &[u8]) -> Ordering {
    if a.len() < 8 || b.len() < 8 {
        return a.cmp(b);
    }
    let (ua, ta) = a.split_at(a.len() - 8);
    let (ub, tb) = b.split_at(b.len() - 8);
    compare_user_keys(ua, ub).then_with(|| {
        let ta = u64::from_le_bytes(ta.try_into().unwrap_or([0; 8]));
        let tb = u64::from_le_bytes(tb.try_into().unwrap_or([0; 8]));
        tb.cmp(&ta)
    })
}

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.user_key
            .cmp(&other.user_key)
            .then_with(|| other.trailer().cmp(&self.trailer()))
    }
}

impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newest_version_first() {
        let a5 = InternalKey::new(*b"a", 5, ValueKind::Put);
        let a3 = InternalKey::new(*b"a", 3, ValueKind::Delete);
        let b9 = InternalKey::new(*b"b", 9, ValueKind::Put);
        let mut v = vec![b9.clone(), a3.clone(), a5.clone()];
        v.sort();
        assert_eq!(v, vec![a5.clone(), a3.clone(), b9]);
        // A snapshot at 4 seeks past a5 and lands on a3.
        let s = InternalKey::seek_key(*b"a", 4);
        assert!(a5 < s && s <= a3);
    }

    /// Bytes that make words tie, differ only in the sign bit, or run out mid-word.
    fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(b'0'), Just(0x80), Just(0xff), any::<u8>()],
            0..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The word-wise comparisons order exactly as the slices' own `cmp` (user keys) and as
        /// that `cmp` followed by the trailer descending (encoded keys), for keys that share a
        /// prefix of any length, as keys in one block do (ties in whole words, then a
        /// difference or an end).
        #[test]
        fn word_wise_comparisons_agree_with_slice_order(a in key_bytes(), b in key_bytes(), shared in 0usize..40) {
            let mut b2 = a[..shared.min(a.len())].to_vec();
            b2.extend_from_slice(&b);
            let by_slices = |x: &[u8], y: &[u8]| {
                if x.len() < 8 || y.len() < 8 {
                    return x.cmp(y);
                }
                let (ux, tx) = x.split_at(x.len() - 8);
                let (uy, ty) = y.split_at(y.len() - 8);
                ux.cmp(uy).then_with(|| ty.iter().rev().cmp(tx.iter().rev()))
            };
            for (x, y) in [(&a, &b), (&a, &b2), (&b2, &a), (&a, &a)] {
                prop_assert_eq!(compare_user_keys(x, y), x.cmp(y));
                prop_assert_eq!(compare_encoded(x, y), by_slices(x, y));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn encoded_order_matches_struct_order(
            ka in proptest::collection::vec(any::<u8>(), 0..4), sa in 0..MAX_SEQNO, da: bool,
            kb in proptest::collection::vec(any::<u8>(), 0..4), sb in 0..MAX_SEQNO, db: bool,
        ) {
            let kind = |d| if d { ValueKind::Delete } else { ValueKind::Put };
            let a = InternalKey::new(ka, sa, kind(da));
            let b = InternalKey::new(kb, sb, kind(db));
            prop_assert_eq!(compare_encoded(&a.encode(), &b.encode()), a.cmp(&b));
            prop_assert_eq!(InternalKey::decode(&a.encode()), Some(a));
        }
    }
}
