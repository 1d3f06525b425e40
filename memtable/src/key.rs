//! Borrowed lookups into the skip list without building an owned [`InternalKey`].
//!
//! The skip list is keyed by [`InternalKey`], whose user key is a `Vec<u8>`. A point lookup or a
//! seek only has a `&[u8]`; allocating an owned key for every `get` would cost one heap
//! allocation per read. Instead every [`InternalKey`] borrows as `dyn KeyView`, and
//! [`LookupKey`] is a `KeyView` made of a slice and a trailer, so the skip list can be searched
//! with it directly. `dyn KeyView` orders exactly as [`InternalKey`] does (user key ascending,
//! trailer descending); the `key_view_order_matches_internal_key` test checks that.

use common::InternalKey;
use std::borrow::Borrow;
use std::cmp::Ordering;

/// An internal key seen through borrowed parts.
pub trait KeyView {
    /// The user key.
    fn user_key(&self) -> &[u8];
    /// `(seq << 8) | kind`, as [`InternalKey::trailer`].
    fn trailer(&self) -> u64;
}

impl KeyView for InternalKey {
    fn user_key(&self) -> &[u8] {
        &self.user_key
    }
    fn trailer(&self) -> u64 {
        InternalKey::trailer(self)
    }
}

/// A search key: a borrowed user key and a trailer.
pub struct LookupKey<'a> {
    pub user_key: &'a [u8],
    pub trailer: u64,
}

impl KeyView for LookupKey<'_> {
    fn user_key(&self) -> &[u8] {
        self.user_key
    }
    fn trailer(&self) -> u64 {
        self.trailer
    }
}

impl<'a> Borrow<dyn KeyView + 'a> for InternalKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.user_key()
            .cmp(other.user_key())
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

#[cfg(test)]
mod tests {
    use super::*;
    use common::{ValueKind, MAX_SEQNO};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn key_view_order_matches_internal_key(
            ka in proptest::collection::vec(any::<u8>(), 0..3), sa in 0..MAX_SEQNO, da: bool,
            kb in proptest::collection::vec(any::<u8>(), 0..3), sb in 0..MAX_SEQNO, db: bool,
        ) {
            let kind = |d| if d { ValueKind::Delete } else { ValueKind::Put };
            let a = InternalKey::new(ka, sa, kind(da));
            let b = InternalKey::new(kb, sb, kind(db));
            let lb = LookupKey { user_key: &b.user_key, trailer: b.trailer() };
            let va: &dyn KeyView = &a;
            let vb: &dyn KeyView = &lb;
            prop_assert_eq!(va.cmp(vb), a.cmp(&b));
        }
    }
}
