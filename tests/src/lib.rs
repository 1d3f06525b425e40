//! Workspace-level tests: the engine's model test, crash test and power-loss tests live in
//! `tests/*.rs`; this library holds what they share: a small seeded random generator and the
//! deterministic workload the crash test's child process writes.
//!
//! ```
//! use tests::{Rng, Workload};
//!
//! let mut rng = Rng::new(7);
//! assert!(rng.below(10) < 10);
//! let w = Workload::new(3);
//! assert_eq!(w.ops(5), Workload::new(3).ops(5));
//! ```
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

/// A splitmix64 generator: tiny, seeded, the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// A seed from the environment variable `var`, or from the clock.
pub fn seed_from_env(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
}

/// A number from the environment variable `var`, or `default`.
pub fn env_or(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One operation of the crash test's workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Set a key.
    Put(Vec<u8>, Vec<u8>),
    /// Delete a key.
    Delete(Vec<u8>),
}

/// The crash test's deterministic workload: write number `i` of cycle `cycle` is always the
/// same operations, so the parent can recompute the state after any prefix of the writes.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    cycle: u64,
}

impl Workload {
    /// The workload of one cycle.
    pub fn new(cycle: u64) -> Workload {
        Workload { cycle }
    }

    /// The operations of write `i` (one, or a batch of three applied atomically).
    pub fn ops(&self, i: u64) -> Vec<Op> {
        let mut rng = Rng::new(self.cycle.wrapping_mul(1_000_003) ^ i.wrapping_mul(7919));
        let n = if i % 10 == 9 { 3 } else { 1 };
        (0..n)
            .map(|_| {
                let key = format!("key{:04}", rng.below(1500)).into_bytes();
                if rng.chance(15) {
                    Op::Delete(key)
                } else {
                    let pad = rng.below(120) as usize;
                    let value = format!("c{}-i{}-{}", self.cycle, i, "x".repeat(pad));
                    Op::Put(key, value.into_bytes())
                }
            })
            .collect()
    }

    /// Applies write `i` to a model.
    pub fn apply(&self, i: u64, model: &mut BTreeMap<Vec<u8>, Vec<u8>>) {
        for op in self.ops(i) {
            match op {
                Op::Put(k, v) => {
                    model.insert(k, v);
                }
                Op::Delete(k) => {
                    model.remove(&k);
                }
            }
        }
    }
}

/// The bytes of every file under `dir` (recursively), through the file-system seam.
pub fn dir_size(fs: &dyn common::FileSystem, dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for name in fs.list_dir(dir).unwrap_or_default() {
        let path = dir.join(&name);
        if fs.is_dir(&path) {
            total += dir_size(fs, &path);
        } else {
            total += fs.file_size(&path).unwrap_or(0);
        }
    }
    total
}

/// How many table files (`*.sst`) `dir` holds.
pub fn table_files_on_disk(fs: &dyn common::FileSystem, dir: &std::path::Path) -> usize {
    fs.list_dir(dir)
        .unwrap_or_default()
        .iter()
        .filter(|n| n.ends_with(".sst"))
        .count()
}
