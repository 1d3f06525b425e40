//! The internal-key comparison of the block cursor's hot loops, inlined: the same order as
//! [`common::ikey::compare_encoded`] (user key bytewise ascending, then trailer descending), with
//! the user keys compared eight bytes at a time as big-endian words (which order like the bytes)
//! so that the short keys typical of a table cost no `memcmp` call.

use common::ikey::compare_encoded;
use std::cmp::Ordering;

/// Compares two encoded internal keys in internal-key order (as `compare_encoded`).
#[inline]
pub(crate) fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    if a.len() < 8 || b.len() < 8 {
        return compare_encoded(a, b);
    }
    let (ua, ta) = a.split_at(a.len() - 8);
    let (ub, tb) = b.split_at(b.len() - 8);
    compare_bytes(ua, ub).then_with(|| word_le(tb).cmp(&word_le(ta)))
}

/// Bytewise comparison, eight bytes at a time.
#[inline]
fn compare_bytes(a: &[u8], b: &[u8]) -> Ordering {
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
