//! How much memory one entry really takes: inserts N entries of K-byte keys (zero-padded
//! decimals in a scrambled order) and V-byte values (N, V and K from the command line, default
//! 300000, 100 and 16) and prints the growth of the resident set per entry next to
//! `ENTRY_OVERHEAD_BYTES`, and the time per insert. Linux only (reads /proc/self/statm).
//!
//! ```text
//! cargo run --release -p memtable --example entry_cost -- 300000 100
//! cargo run --release -p memtable --example entry_cost -- 300000 100 32
//! ```

use common::ValueKind;
use memtable::{MemTable, ENTRY_OVERHEAD_BYTES};

fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm's second field");
    pages * 4096
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let v: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let k: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(16);
    let value = vec![7u8; v];
    let mt = MemTable::new(1);
    let keys: Vec<String> = (0..n as u64)
        .map(|i| {
            let id = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000_000_000;
            format!("{id:0k$}")
        })
        .collect();
    let before = rss_bytes();
    let start = std::time::Instant::now();
    for (i, key) in keys.iter().enumerate() {
        mt.insert(key.as_bytes(), i as u64 + 1, ValueKind::Put, &value);
    }
    let took = start.elapsed();
    let grown = rss_bytes() - before;
    let per = grown as f64 / n as f64;
    println!(
        "{n} entries of {k} + {v} bytes, {:.0} ns per insert: RSS grew {:.1} MiB, {per:.1} bytes per entry, {:.1} beyond the key and value (ENTRY_OVERHEAD_BYTES = {ENTRY_OVERHEAD_BYTES}); estimate {:.1} MiB",
        took.as_nanos() as f64 / n as f64,
        grown as f64 / (1 << 20) as f64,
        per - (k + v) as f64,
        mt.approximate_size_bytes() as f64 / (1 << 20) as f64,
    );
}
