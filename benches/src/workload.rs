//! The db_bench workloads, their keys and their values.

use crate::error::{Error, Result};
use crate::rng::Rng;
use std::fmt;
use std::str::FromStr;

/// One db_bench-style workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    /// `num` puts of keys 0, 1, 2, ... in order.
    FillSeq,
    /// `num` puts of keys drawn at random from `0..num` (repeats allowed, as in db_bench).
    FillRandom,
    /// `num` gets of random existing keys (after an untimed sequential fill and flush);
    /// every value read is checked.
    ReadRandom,
    /// Reads every key in order with one forward scan (after the fill).
    ReadSeq,
    /// `num` puts over random existing keys (after the fill).
    Overwrite,
    /// `fillrandom` with every write durable before it returns (fsync per write, shared by
    /// concurrent writers).
    FillSync,
    /// `num / scan_length` seeks to random existing keys, each reading `scan_length` pairs
    /// (after the fill): db_bench's `seekrandom` with a scan after each seek.
    Scan,
    /// `num` gets of keys that do not exist but fall between existing ones
    /// ([`missing_key`]), after the fill: what a bloom filter saves.
    ReadMissing,
    /// `num` puts of random keys in batches of `batch_size`, each batch one durable commit.
    FillBatch,
    /// `num` operations over the filled keys, 90% checked gets and 10% overwrites, shared by
    /// the threads (the comparison runs it with 2).
    Mixed,
}

impl Workload {
    /// Every workload, in the order db_bench lists them.
    pub const ALL: &'static [Workload] = &[
        Workload::FillSeq,
        Workload::FillRandom,
        Workload::ReadRandom,
        Workload::ReadSeq,
        Workload::Overwrite,
        Workload::FillSync,
        Workload::Scan,
        Workload::ReadMissing,
        Workload::FillBatch,
        Workload::Mixed,
    ];

    /// The name [`FromStr`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::ReadRandom => "readrandom",
            Workload::ReadSeq => "readseq",
            Workload::Overwrite => "overwrite",
            Workload::FillSync => "fillsync",
            Workload::Scan => "scan",
            Workload::ReadMissing => "readmissing",
            Workload::FillBatch => "fillbatch",
            Workload::Mixed => "mixed",
        }
    }

    /// Whether the store must hold keys `0..num` before the timed part starts.
    pub fn needs_fill(self) -> bool {
        matches!(
            self,
            Workload::ReadRandom
                | Workload::ReadSeq
                | Workload::Overwrite
                | Workload::Scan
                | Workload::ReadMissing
                | Workload::Mixed
        )
    }

    /// Whether the engine must be opened with a durable write per put (or per batch).
    pub fn sync_writes(self) -> bool {
        matches!(self, Workload::FillSync | Workload::FillBatch)
    }

    /// Whether the workload writes.
    pub fn writes(self) -> bool {
        matches!(
            self,
            Workload::FillSeq
                | Workload::FillRandom
                | Workload::Overwrite
                | Workload::FillSync
                | Workload::FillBatch
                | Workload::Mixed
        )
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = Error;
    fn from_str(s: &str) -> Result<Workload> {
        Workload::ALL
            .iter()
            .copied()
            .find(|w| w.name() == s)
            .ok_or_else(|| Error::Unknown {
                what: "workload",
                name: s.to_string(),
                known: Workload::ALL
                    .iter()
                    .map(|w| w.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Key number `i`: 16 ASCII digits, zero-padded, so byte order is numeric order (db_bench's
/// `%016d`).
pub fn key(i: u64) -> [u8; 16] {
    let mut k = [b'0'; 16];
    let mut x = i;
    for b in k.iter_mut().rev() {
        *b = b'0' + (x % 10) as u8;
        x /= 10;
    }
    k
}

/// A key that no fill writes but that sorts between written ones: [`key`]`(i)` with its last
/// digit replaced by `x` (after `...i9`, before the next ten), 16 bytes like every key.
pub fn missing_key(i: u64) -> [u8; 16] {
    let mut k = key(i);
    k[15] = b'x';
    k
}

/// Values of a fixed size cut from one pre-generated buffer (half random bytes, half a
/// repeated byte, so compression has about as much to do as in db_bench's 0.5 ratio). The
/// value of key `i` in generation `g` is fixed, so reads can check what they get.
#[derive(Debug, Clone)]
pub struct Values {
    buf: Vec<u8>,
    size: usize,
}

impl Values {
    /// A source of `size`-byte values.
    pub fn new(size: usize, seed: u64) -> Values {
        let len = (1 << 20).max(size * 4);
        let mut rng = Rng::new(seed);
        let mut buf = Vec::with_capacity(len);
        while buf.len() < len {
            let run = 1 + rng.below(32) as usize;
            if rng.below(2) == 0 {
                buf.extend((0..run).map(|_| rng.next_u64() as u8));
            } else {
                let b = b'a' + rng.below(26) as u8;
                buf.extend(std::iter::repeat_n(b, run));
            }
        }
        buf.truncate(len);
        Values { buf, size }
    }

    /// The value of key `i` in generation `generation` (0 for fills, 1 for overwrites).
    pub fn value(&self, i: u64, generation: u64) -> &[u8] {
        let span = (self.buf.len() - self.size) as u64 + 1;
        let at = (i
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(generation.wrapping_mul(7919))
            % span) as usize;
        &self.buf[at..at + self.size]
    }

    /// The size of every value.
    pub fn size(&self) -> usize {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_numerically_and_names_roundtrip() {
        assert_eq!(&key(42), b"0000000000000042");
        assert!(key(9) < key(10));
        assert!(key(49) < missing_key(41) && missing_key(41) < key(50));
        for w in Workload::ALL {
            assert_eq!(w.name().parse::<Workload>().unwrap(), *w);
        }
        let err = "nope".parse::<Workload>().unwrap_err().to_string();
        assert!(err.contains("fillseq") && err.contains("nope"), "{err}");
    }

    #[test]
    fn values_have_the_size_asked_and_depend_on_key_and_generation() {
        let v = Values::new(100, 1);
        assert_eq!(v.value(5, 0).len(), 100);
        assert_ne!(v.value(5, 0), v.value(6, 0));
        assert_ne!(v.value(5, 0), v.value(5, 1));
        assert_eq!(v.value(5, 0), Values::new(100, 1).value(5, 0));
        let big = Values::new(3 << 20, 2);
        assert_eq!(big.value(u64::MAX, 1).len(), 3 << 20);
    }
}
