//! How much memory one entry really takes: inserts N entries of 16-byte keys and V-byte
//! values (N and V from the command line, default 300000 and 100) and prints the growth of the
//! resident set per entry next to `ENTRY_OVERHEAD_BYTES`. Linux only (reads /proc/self/statm).
//!
//! ```text
//! cargo run --release -p memtable --example entry_cost -- 300000 100
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
    let value = vec![7u8; v];
    let mt = MemTable::new(1);
    let before = rss_bytes();
    for i in 0..n as u64 {
        let key = format!(
            "{:016}",
            i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000_000_000
        );
        mt.insert(key.as_bytes(), i + 1, ValueKind::Put, &value);
    }
    let grown = rss_bytes() - before;
    let per = grown as f64 / n as f64;
    println!(
        "{n} entries of 16 + {v} bytes: RSS grew {:.1} MiB, {per:.1} bytes per entry, {:.1} beyond the key and value (ENTRY_OVERHEAD_BYTES = {ENTRY_OVERHEAD_BYTES}); estimate {:.1} MiB",
        grown as f64 / (1 << 20) as f64,
        per - (16 + v) as f64,
        mt.approximate_size_bytes() as f64 / (1 << 20) as f64,
    );
}
