//! Sorting many entries (held in a few vectors, the parts of a run) into one vector on two
//! threads, with no merge at the end: split them into buckets of consecutive key ranges (by
//! the bits of a 128-bit key just below those every key shares), move each entry into its
//! bucket, and sort the buckets on their own, on whichever thread is free. A recovered run's
//! entries ([`crate::RunBuilder`]) are sorted so.
//!
//! Why: the sort of a run made from a log of scrambled keys was about 40% of a reopen's
//! samples, and the way before (two halves sorted at once, then the standard library's merge
//! of the two on one thread, into a buffer of half the entries) left one core idle during the
//! merge and sorted 4.6 million entries at a time, far outside the cache. Here a bucket holds
//! at least `len / 256` entries (1.4 MB of 40-byte entries for 9.26 million; decimal keys fill
//! fewer bins, so 94 buckets of about 100k). Measurements are in kvstore's `replay.rs`.
//!
//! Steps, for `len` entries whose keys lie in `lo..=hi` (halves: the first `len / 2` entries
//! of the parts in order, and the rest):
//! 1. **Bins**: an entry's bin is the [`BIN_BITS`] bits of its key below the leading bits
//!    that `lo` and `hi` share (so every key, being between them, shares them too). Bins
//!    follow key order. Each thread counts the bins of its half.
//! 2. **Buckets**: consecutive bins are joined into buckets of at least `len / BUCKETS`
//!    entries. When one bin alone holds half the entries (keys alike in all those bits), the
//!    buckets would not pay: the slice is sorted as two halves and one merge, as before.
//! 3. **Scatter**: each thread copies its half's entries into a new vector, bucket after
//!    bucket (in each bucket the first half's entries, then the second's).
//! 4. **Sort**: the two threads take buckets, largest first, and sort each one alone. A bucket
//!    of more than a quarter of the entries is sorted by both threads (halves and a merge).
//!
//! Memory: while entries move, the parts and the new vector are both held (twice the entries;
//! the merge before held one and a half times).
//!
//! The key must agree with the order: `key(a) < key(b)` must mean `cmp(a, b)` is `Less`
//! (entries of equal keys are put in order by `cmp` within their bucket).
// `unsafe`: one `Vec::set_len` after every slot of the new vector was written (see `scatter`).
#![allow(unsafe_code)]

use std::cmp::Ordering;
use std::mem::MaybeUninit;
use std::sync::Mutex;

/// Below this many entries a sort runs on the calling thread alone.
pub(crate) const PARALLEL_SORT_MIN: usize = 1 << 16;

/// Bits of the key that choose an entry's bin.
const BIN_BITS: u32 = 16;

/// The buckets a slice is split into (about: consecutive bins are joined until a bucket holds
/// `len / BUCKETS` entries).
const BUCKETS: usize = 256;

/// Returns the entries of `parts`, one after another, sorted by `cmp` (see the module doc);
/// `lo` and `hi` bound every `key`.
pub(crate) fn sort<T, K, C>(parts: Vec<Vec<T>>, lo: u128, hi: u128, key: K, cmp: C) -> Vec<T>
where
    T: Copy + Send + Sync,
    K: Fn(&T) -> u128 + Sync,
    C: Fn(&T, &T) -> Ordering + Sync,
{
    let n: usize = parts.iter().map(Vec::len).sum();
    let two = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if !two || n < PARALLEL_SORT_MIN {
        let mut v = concat(parts);
        v.sort_unstable_by(cmp);
        return v;
    }
    let bins = Bins::new(lo, hi);
    let (first, second) = halves(&parts, n);
    let (a, b) = both(|| bins.count(&first, &key), || bins.count(&second, &key));
    if a.iter().zip(&b).any(|(x, y)| x + y >= n / 2) {
        let mut v = concat(parts);
        sort_two(&mut v, &cmp);
        return v;
    }
    let buckets = Buckets::join(&a, &b, n / BUCKETS);
    let mut sorted = Vec::with_capacity(n);
    {
        let spare = &mut sorted.spare_capacity_mut()[..n];
        let (mut to_first, mut to_second) = (Vec::new(), Vec::new());
        let mut rest = spare;
        for &(x, y) in &buckets.sizes {
            let (head, tail) = rest.split_at_mut(x);
            let (mid, tail) = tail.split_at_mut(y);
            to_first.push(head);
            to_second.push(mid);
            rest = tail;
        }
        assert!(rest.is_empty(), "the buckets hold every entry");
        let scatter = |from: &[&[T]], mut to: Vec<&mut [MaybeUninit<T>]>| {
            for e in from.iter().flat_map(|s| s.iter()) {
                let slot = &mut to[buckets.of_bin[bins.of(key(e))] as usize];
                let (next, left) = std::mem::take(slot)
                    .split_first_mut()
                    .expect("a bucket has room for every entry counted into it");
                next.write(*e);
                *slot = left;
            }
            assert!(to.iter().all(|s| s.is_empty()), "every entry counted came");
        };
        both(|| scatter(&first, to_first), || scatter(&second, to_second));
    }
    // SAFETY: the slices given to `scatter` were split from `spare[..n]` end to end (asserted:
    // nothing rest), so every one of those `n` slots was in exactly one of them; each
    // `scatter` wrote every slot of its slices (asserted: each ended empty; a failed assertion
    // panics here, through `both`, before this line). So `sorted[..n]` is initialized.
    // Measured reason: filling the vector first (`resize`, then safe writes) added 250-310 ms
    // to a reopen over 9.26 million entries (3 interleaved pairs): one more pass over all
    // 370 MB of it, on one thread.
    unsafe { sorted.set_len(n) };
    drop(parts);

    let mut work: Vec<&mut [T]> = Vec::with_capacity(buckets.sizes.len());
    let mut rest = &mut sorted[..];
    for &(x, y) in &buckets.sizes {
        let (head, tail) = rest.split_at_mut(x + y);
        if head.len() > n / 4 {
            sort_two(head, &cmp);
        } else {
            work.push(head);
        }
        rest = tail;
    }
    work.sort_unstable_by_key(|p| p.len());
    let queue = Mutex::new(work);
    let sort_next = || loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let Some(part) = next else { return };
        part.sort_unstable_by(&cmp);
    };
    both(sort_next, sort_next);
    sorted
}

/// The entries of `parts`, one after another (moved, not copied, when there is one part).
pub(crate) fn concat<T: Copy>(parts: Vec<Vec<T>>) -> Vec<T> {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    let mut all = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        all.extend_from_slice(&part); // and drop it: the memory held grows by one part at most
    }
    all
}

/// Runs `f` on every one of `parts`, on two threads at once when they hold enough entries.
pub(crate) fn for_each_part<T: Send>(
    parts: &mut [(Vec<T>, u64)],
    f: impl Fn(&mut (Vec<T>, u64)) + Sync,
) {
    let n: usize = parts.iter().map(|p| p.0.len()).sum();
    let mut seen = 0;
    let mid = parts
        .iter()
        .position(|p| {
            seen += p.0.len();
            seen >= n / 2
        })
        .map_or(parts.len(), |i| i + 1);
    let (a, b) = parts.split_at_mut(mid);
    let run = |ps: &mut [(Vec<T>, u64)]| ps.iter_mut().for_each(&f);
    if n < PARALLEL_SORT_MIN || b.is_empty() {
        run(a);
        run(b);
    } else {
        both(|| run(a), || run(b));
    }
}

/// The entries of `parts` as two lists of slices, the first with `n / 2` of the `n`.
fn halves<T>(parts: &[Vec<T>], n: usize) -> (Vec<&[T]>, Vec<&[T]>) {
    let (mut first, mut second) = (Vec::new(), Vec::new());
    let mut left = n / 2;
    for part in parts {
        let (a, b) = part.split_at(left.min(part.len()));
        left -= a.len();
        first.push(a);
        second.push(b);
    }
    (first, second)
}

/// Which bin a key falls in: bits `[shift, shift + BIN_BITS)` of `key - lo`'s range.
struct Bins {
    base: u128,
    shift: u32,
}

impl Bins {
    fn new(lo: u128, hi: u128) -> Bins {
        let varying = 128 - (lo ^ hi).leading_zeros();
        let shift = varying.saturating_sub(BIN_BITS);
        Bins {
            base: lo >> shift,
            shift,
        }
    }

    fn of(&self, key: u128) -> usize {
        // Keys within lo..=hi share the bits above `shift + BIN_BITS`, so this is below
        // 2^BIN_BITS.
        let bin = (key >> self.shift).wrapping_sub(self.base);
        assert!(bin < 1 << BIN_BITS, "a key outside the bounds given");
        bin as usize
    }

    fn count<T>(&self, entries: &[&[T]], key: impl Fn(&T) -> u128) -> Vec<usize> {
        let mut counts = vec![0; 1 << BIN_BITS];
        for e in entries.iter().flat_map(|s| s.iter()) {
            counts[self.of(key(e))] += 1;
        }
        counts
    }
}

/// Consecutive bins joined into buckets.
struct Buckets {
    /// Each bin's bucket.
    of_bin: Vec<u16>,
    /// Each bucket's entries from the first half and from the second.
    sizes: Vec<(usize, usize)>,
}

impl Buckets {
    fn join(a: &[usize], b: &[usize], target: usize) -> Buckets {
        let mut of_bin = Vec::with_capacity(a.len());
        let mut sizes = vec![(0, 0)];
        for (&x, &y) in a.iter().zip(b) {
            let last = sizes.len() - 1;
            of_bin.push(last as u16);
            let size = &mut sizes[last];
            (size.0, size.1) = (size.0 + x, size.1 + y);
            if size.0 + size.1 >= target.max(1) && sizes.len() < u16::MAX as usize {
                sizes.push((0, 0));
            }
        }
        Buckets { of_bin, sizes }
    }
}

/// Sorts `v` as two halves at once on two threads, then merges them on this one (the standard
/// library's stable sort finds the two runs and merges them, with a buffer of half the
/// entries).
fn sort_two<T: Send>(v: &mut [T], cmp: &(impl Fn(&T, &T) -> Ordering + Sync)) {
    let mid = v.len() / 2;
    let (low, high) = v.split_at_mut(mid);
    both(|| low.sort_unstable_by(cmp), || high.sort_unstable_by(cmp));
    v.sort_by(cmp);
}

/// Runs `a` here and `b` on a thread of its own at once (both here, one after the other, when
/// no thread can be had); a panic in either is resumed here.
fn both<A: Send, B: Send>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B + Send) -> (A, B) {
    let b = Mutex::new(Some(b));
    let run_b = || {
        let b = b.lock().unwrap_or_else(|p| p.into_inner()).take();
        b.map(|b| b())
    };
    std::thread::scope(|s| {
        let other = std::thread::Builder::new()
            .name("memtable-sort".into())
            .spawn_scoped(s, run_b);
        let ra = a();
        let rb = match other {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            Err(_) => None,
        };
        let rb = rb.or_else(run_b).expect("b ran on one thread or the other");
        (ra, rb)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Entries ordered by their key, then by a tie-breaker (as a run's by trailer).
    fn check(keys: Vec<u128>) {
        let v: Vec<(u128, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i as u32))
            .collect();
        let (lo, hi) = (
            keys.iter().copied().min().unwrap_or(0),
            keys.iter().copied().max().unwrap_or(0),
        );
        let mut want = v.clone();
        want.sort();
        // As one part, and as parts of every size (one empty).
        let parts = |v: &[(u128, u32)]| {
            let (a, rest) = v.split_at(v.len() / 3);
            let (b, c) = rest.split_at(rest.len() / 5);
            vec![a.to_vec(), Vec::new(), b.to_vec(), c.to_vec()]
        };
        for parts in [vec![v.clone()], parts(&v)] {
            let got = sort(parts, lo, hi, |e| e.0, |a, b| a.cmp(b));
            assert_eq!(got, want);
        }
    }

    #[test]
    fn large_slices_of_every_shape_come_out_sorted() {
        let n = PARALLEL_SORT_MIN * 3 + 7;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Uniform 128-bit keys; decimal ASCII keys (lumpy bins); all keys alike in their top
        // 112 bits (one bin holds most: halves and a merge); one key everywhere; a few
        // distinct keys, many times each (buckets of one bin, some over a quarter).
        let uniform = (0..n)
            .map(|_| (next() as u128) << 64 | next() as u128)
            .collect();
        let decimal = (0..n)
            .map(|_| {
                u128::from_be_bytes(
                    *format!("{:016}", next() % 10_000_000)
                        .as_bytes()
                        .first_chunk()
                        .unwrap(),
                )
            })
            .collect();
        let alike = (0..n).map(|_| 7 << 100 | (next() % 3) as u128).collect();
        let one = vec![42; n];
        let few = (0..n).map(|_| (next() % 5) as u128 * (1 << 90)).collect();
        for keys in [uniform, decimal, alike, one, few] {
            check(keys);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_keys_come_out_sorted(
            keys in proptest::collection::vec(any::<u128>(), 0..300),
            repeat in 1usize..400,
        ) {
            // Repeated to pass PARALLEL_SORT_MIN now and then.
            let keys: Vec<u128> = keys.iter().copied().cycle().take(keys.len() * repeat).collect();
            check(keys);
        }
    }
}
