//! What the order of inserts costs: inserts N distinct 16-byte keys (a scrambled permutation
//! of 0..N) with 100-byte values into one memtable, either in that scrambled order or sorted
//! in runs of R (N and R from the command line; R = 0 for no sorting), and prints the time
//! per insert. Keys are formatted before the clock starts.
//!
//! ```text
//! cargo run --release -p memtable --example insert_order -- 4000000 0
//! cargo run --release -p memtable --example insert_order -- 4000000 1048576
//! ```

use common::ValueKind;
use memtable::MemTable;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(4_000_000);
    let run: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let value = [7u8; 100];
    // An odd multiplier coprime with n scrambles 0..n without repeats.
    let mut a = 2_654_435_761u64;
    while gcd(a, n) != 1 {
        a += 2;
    }
    let mut keys: Vec<(String, u64)> = (0..n)
        .map(|i| {
            (
                format!("{:016}", (i as u128 * a as u128 % n as u128) as u64),
                i + 1,
            )
        })
        .collect();
    let mt = MemTable::new(1);
    let start = Instant::now();
    let mut sorting = 0.0;
    if run == 0 {
        for (k, seq) in &keys {
            mt.insert(k.as_bytes(), *seq, ValueKind::Put, &value);
        }
    } else {
        for part in keys.chunks_mut(run) {
            let t = Instant::now();
            part.sort_unstable();
            sorting += t.elapsed().as_secs_f64();
            mt.insert_batch(
                part.iter()
                    .map(|(k, seq)| (k.as_bytes(), *seq, ValueKind::Put, &value[..])),
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} inserts, sorted runs of {run}: {secs:.2} s, {:.0} ns an insert ({sorting:.2} s of it sorting)",
        secs * 1e9 / n as f64
    );
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
