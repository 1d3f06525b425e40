//! The bloom filter over a table's user keys (`docs/sstable-format.md`, "Filter block").
//!
//! The hash reaches the disk, so it is defined here byte by byte and never taken from
//! `std::hash`: `bloom_hash(key) = fmix64(fnv1a64(key))`, FNV-1a 64 (offset basis
//! `0xcbf29ce484222325`, prime `0x100000001b3`) followed by MurmurHash3's 64-bit finalizer to
//! spread FNV's weak low bits. Probe `i` (of `k`) sets bit `(h1 + i * h2) mod m` where `h1` and
//! `h2` are the low and high 32 bits of the hash (Kirsch–Mitzenmacher double hashing, computed
//! in 64 bits so nothing wraps). Bit `j` lives in byte `j / 8` at bit `j % 8` (least significant
//! first). The block is the bit array followed by one byte `k`. An empty block means "no
//! filter": every key may be present.

/// FNV-1a 64-bit offset basis.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// The most probes a filter may ask for; more is corruption.
pub const MAX_PROBES: u8 = 30;

/// The stable 64-bit hash of a user key that the filter uses.
pub fn bloom_hash(key: &[u8]) -> u64 {
    let mut h = FNV_OFFSET_BASIS;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

/// MurmurHash3's 64-bit finalizer.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

/// The number of probes for `bits_per_key`: round(bits_per_key * 0.69), within 1..=30.
pub fn num_probes(bits_per_key: usize) -> u8 {
    (bits_per_key.saturating_mul(69).saturating_add(50) / 100).clamp(1, MAX_PROBES as usize) as u8
}

fn probes(hash: u64, k: u8, m_bits: u64) -> impl Iterator<Item = u64> {
    let h1 = hash & 0xffff_ffff;
    let h2 = hash >> 32;
    (0..u64::from(k)).map(move |i| (h1 + i * h2) % m_bits)
}

/// Builds the filter block from the hashes of a table's distinct user keys.
pub fn build_filter(hashes: &[u64], bits_per_key: usize) -> Vec<u8> {
    if bits_per_key == 0 {
        return Vec::new();
    }
    let bits = hashes.len().saturating_mul(bits_per_key).max(64);
    let bytes = bits.div_ceil(8);
    let m_bits = (bytes * 8) as u64;
    let k = num_probes(bits_per_key);
    let mut out = vec![0u8; bytes + 1];
    for &h in hashes {
        for bit in probes(h, k, m_bits) {
            out[(bit / 8) as usize] |= 1 << (bit % 8);
        }
    }
    out[bytes] = k;
    out
}

/// A decoded filter block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BloomFilter {
    bits: Vec<u8>,
    k: u8,
}

impl BloomFilter {
    /// Decodes a filter block. Errors name what is wrong; the caller adds file and offset.
    pub fn decode(block: &[u8]) -> Result<BloomFilter, String> {
        let Some((&k, bits)) = block.split_last() else {
            return Ok(BloomFilter {
                bits: Vec::new(),
                k: 0,
            });
        };
        if k == 0 || k > MAX_PROBES {
            return Err(format!(
                "filter asks for {k} probes (1 to {MAX_PROBES} allowed)"
            ));
        }
        if bits.is_empty() {
            return Err("filter has a probe count but no bits".to_string());
        }
        Ok(BloomFilter {
            bits: bits.to_vec(),
            k,
        })
    }

    /// Whether the filter is the empty "no filter" one.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// False only if `user_key` is certainly not in the table.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.may_contain_hash(bloom_hash(user_key))
    }

    /// As [`BloomFilter::may_contain`], given the key's [`bloom_hash`].
    ///
    /// The probes are those of [`build_filter`], `(h1 + i * h2) mod m`, walked as
    /// `h1 mod m` plus `i` steps of `h2 mod m` (each sum below `2m`, so one subtraction
    /// reduces it): two divisions per query instead of one per probe. The first two bits are
    /// read together, with no branch between them: most keys a filter rejects are rejected by
    /// one of those two (about three in four at 10 bits per key), and the two loads, usually
    /// misses in the CPU caches, then overlap instead of the second waiting on the first.
    pub fn may_contain_hash(&self, hash: u64) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let m_bits = self.bits.len() as u64 * 8;
        let step = (hash >> 32) % m_bits;
        let next = |bit: u64| {
            let b = bit + step;
            if b >= m_bits {
                b - m_bits
            } else {
                b
            }
        };
        let bit_at = |bit: u64| (self.bits[(bit / 8) as usize] >> (bit % 8)) & 1;
        let first = (hash & 0xffff_ffff) % m_bits;
        if self.k == 1 {
            return bit_at(first) != 0;
        }
        let mut bit = next(first);
        if bit_at(first) & bit_at(bit) == 0 {
            return false;
        }
        for _ in 2..self.k {
            bit = next(bit);
            if bit_at(bit) == 0 {
                return false;
            }
        }
        true
    }

    /// The filter's size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.bits.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vectors: these values are on disk in every filter ever written. They must never
    /// change (see also the golden-file test).
    #[test]
    fn hash_is_stable() {
        // FNV-1a 64 of these inputs is the published test vector (cbf29ce484222325,
        // af63dc4c8601ec8c, 85944171f73967e8); the right column is after fmix64.
        let vectors: [(&[u8], u64); 5] = [
            (b"", 0xefd0_1f60_ba99_2926),
            (b"a", 0x82a2_a958_a9be_ce5b),
            (b"foobar", 0x2c22_1949_22d1_672b),
            (b"user00000042", 0x3e9b_d9ae_be3a_6c8c),
            (&[0x00, 0xff, 0x80], 0xfbf9_4870_7efe_a51b),
        ];
        for (k, h) in vectors {
            assert_eq!(bloom_hash(k), h, "hash of {k:?}");
        }
        assert_eq!(fmix64(0xcbf2_9ce4_8422_2325), 0xefd0_1f60_ba99_2926);
    }

    /// splitmix64: a fixed-seed generator for the statistical test below.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn no_false_negatives_and_low_fpr_at_10_bits() {
        let mut seed = 42;
        for (n, shape) in [(10_000usize, "seq"), (10_000, "random"), (100, "seq")] {
            let keys: Vec<Vec<u8>> = (0..n)
                .map(|i| match shape {
                    "seq" => format!("user{i:08}").into_bytes(),
                    _ => splitmix(&mut seed).to_le_bytes()[..5].to_vec(),
                })
                .collect();
            let hashes: Vec<u64> = keys.iter().map(|k| bloom_hash(k)).collect();
            let f = BloomFilter::decode(&build_filter(&hashes, 10)).unwrap();
            for k in &keys {
                assert!(f.may_contain(k), "false negative for {k:?}");
            }
            let probes = 20_000;
            let fp = (0..probes)
                .filter(|i| f.may_contain(format!("absent{i:08}").as_bytes()))
                .count();
            let rate = fp as f64 / probes as f64;
            eprintln!("{shape} keys, n={n}: measured false-positive rate {rate:.4}");
            assert!(rate < 0.02, "{shape} n={n}: false-positive rate {rate}");
        }
    }

    /// The query walks the probes incrementally and reads the first two together; it must
    /// answer exactly as the probe formula that built the filter, for every probe count and
    /// for filters of sizes that are and are not powers of two, half full and nearly full.
    #[test]
    fn queries_match_the_probe_formula() {
        let mut seed = 7;
        for bytes in [8usize, 13, 64, 1000, 4099] {
            for fill in [2u64, 8] {
                // Random bits, about one in `fill` clear (a real filter is about half full).
                let bits: Vec<u8> = (0..bytes)
                    .map(|_| {
                        let mut b = 0u8;
                        for j in 0..8 {
                            if !splitmix(&mut seed).is_multiple_of(fill) {
                                b |= 1 << j;
                            }
                        }
                        b
                    })
                    .collect();
                for k in 1..=MAX_PROBES {
                    let mut block = bits.clone();
                    block.push(k);
                    let f = BloomFilter::decode(&block).unwrap();
                    let m_bits = bytes as u64 * 8;
                    for _ in 0..500 {
                        let h = splitmix(&mut seed);
                        let want = probes(h, k, m_bits)
                            .all(|bit| bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0);
                        assert_eq!(
                            f.may_contain_hash(h),
                            want,
                            "{bytes} bytes, k {k}, hash {h:#x}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn empty_and_bad_blocks() {
        assert!(BloomFilter::decode(&[]).unwrap().may_contain(b"x"));
        assert!(build_filter(&[1, 2], 0).is_empty());
        assert!(BloomFilter::decode(&[0]).is_err());
        assert!(BloomFilter::decode(&[0xff, 31]).is_err());
        assert!(BloomFilter::decode(&[7]).is_err());
        assert_eq!(num_probes(10), 7);
        assert_eq!(num_probes(0), 1);
        assert_eq!(num_probes(1000), 30);
    }
}
