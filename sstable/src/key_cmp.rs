//! The internal-key comparison of the block cursor's hot loops, inlined: the same order as
//! [`common::ikey::compare_encoded`] (user key bytewise ascending, then trailer descending), with
//! the user keys compared eight bytes at a time ([`common::ikey::compare_user_keys`]) so that
//! the short keys typical of a table cost no `memcmp` call.

use common::ikey::{compare_encoded, compare_user_keys};
use std::cmp::Ordering;

/// Compares two encoded internal keys in internal-key order (as `compare_encoded`).
#[inline]
pub(crate) fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    if a.len() < 8 || b.len() < 8 {
        return compare_encoded(a, b);
    }
    let (ua, ta) = a.split_at(a.len() - 8);
    let (ub, tb) = b.split_at(b.len() - 8);
    compare_user_keys(ua, ub).then_with(|| word_le(tb).cmp(&word_le(ta)))
}

#[inline]
fn word_le(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(b'a'), Just(0xff), any::<u8>()],
            0..40,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn agrees_with_compare_encoded(a in bytes(), b in bytes(), shared in 0usize..40) {
            // Pairs that share a prefix, as keys in one block do.
            let mut b2 = a[..shared.min(a.len())].to_vec();
            b2.extend_from_slice(&b);
            for (x, y) in [(&a, &b), (&a, &b2), (&b2, &a), (&a, &a)] {
                prop_assert_eq!(compare_keys(x, y), compare_encoded(x, y));
            }
        }
    }
}
