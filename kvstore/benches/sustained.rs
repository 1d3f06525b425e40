//! Sustained random writes, long enough for several levels: does throughput hold, or stall?
//! Prints throughput per interval, then write amplification and space amplification.
//!
//! `cargo bench -p kvstore --bench sustained`; sizes from the environment:
//! - `KV_SUSTAINED_KEYS`: writes (default 2,000,000)
//! - `KV_SUSTAINED_KEYSPACE`: distinct keys drawn from (default: the number of writes / 2)
//! - `KV_SUSTAINED_VALUE`: value bytes, random so they do not compress (default 100)
//! - `KV_SUSTAINED_MEMTABLE`: memtable bytes (default 4 MiB)
//!
//! Real file system (a temp dir), `FsyncPolicy::Os`, one compaction thread. Space
//! amplification is exact: the bench knows which keys it wrote, so live data = distinct keys x
//! (key + value bytes), against every byte in the database directory (tables, WAL, manifest).

use common::{FileSystem, RealFs};
use kvstore::{Db, FsyncPolicy};
use std::path::Path;
use std::time::{Duration, Instant};

fn env(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: fast enough not to show in the numbers.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn dir_bytes(fs: &dyn FileSystem, dir: &Path) -> u64 {
    let mut total = 0;
    for name in fs.list_dir(dir).unwrap_or_default() {
        let p = dir.join(name);
        total += if fs.is_dir(&p) {
            dir_bytes(fs, &p)
        } else {
            fs.file_size(&p).unwrap_or(0)
        };
    }
    total
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` probes every bench binary
    }
    let writes = env("KV_SUSTAINED_KEYS", 2_000_000);
    let keyspace = env("KV_SUSTAINED_KEYSPACE", (writes / 2).max(1));
    let value_len = env("KV_SUSTAINED_VALUE", 100) as usize;
    let memtable = env("KV_SUSTAINED_MEMTABLE", 4 << 20) as usize;
    let fs = RealFs::shared();
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("db");
    let db = Db::builder(&path)
        .memtable_size_bytes(memtable)
        .fsync_policy(FsyncPolicy::Os)
        .open()
        .expect("open");
    println!(
        "sustained random writes: {writes} puts over {keyspace} keys, {value_len}-byte random \
         values, memtable {memtable} bytes"
    );
    println!("   time   puts/s(interval)  L0  levels(files)            stops  slowdowns  pending");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = vec![false; keyspace as usize];
    let mut value = vec![0u8; value_len];
    let start = Instant::now();
    let (mut last_t, mut last_n) = (start, 0u64);
    let mut min_rate = f64::MAX;
    for n in 1..=writes {
        let k = rng.next() % keyspace;
        written[k as usize] = true;
        for chunk in value.chunks_mut(8) {
            let r = rng.next().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
        db.put(format!("key{k:012}"), &value).expect("put");
        if n % 1024 == 0 && last_t.elapsed() >= Duration::from_secs(1) {
            let rate = (n - last_n) as f64 / last_t.elapsed().as_secs_f64();
            min_rate = min_rate.min(rate);
            let s = db.stats();
            let files: Vec<usize> = s.levels.iter().map(|l| l.files).collect();
            println!(
                "{:>6.1}s  {:>15.0}  {:>3}  {:<24} {:>6}  {:>9}  {:>7}",
                start.elapsed().as_secs_f64(),
                rate,
                s.levels[0].files,
                format!("{files:?}"),
                s.stops,
                s.slowdowns,
                s.pending_compaction_bytes
            );
            (last_t, last_n) = (Instant::now(), n);
        }
    }
    let elapsed = start.elapsed();
    let live = written.iter().filter(|&&w| w).count() as u64 * (15 + value_len as u64);
    let s = db.stats();
    let disk = dir_bytes(fs.as_ref(), &path);
    println!(
        "\n{writes} puts in {:.1} s: {:.0} puts/s on average, slowest interval {:.0} puts/s",
        elapsed.as_secs_f64(),
        writes as f64 / elapsed.as_secs_f64(),
        if min_rate == f64::MAX { 0.0 } else { min_rate }
    );
    println!(
        "stalls: {} stops ({:.2} s), {} slowdowns ({:.2} s); {} compactions, {} trivial moves, \
         {} failures",
        s.stops,
        s.stop_micros as f64 / 1e6,
        s.slowdowns,
        s.slowdown_micros as f64 / 1e6,
        s.compactions,
        s.trivial_moves,
        s.compaction_failures
    );
    println!(
        "write amplification: {:.2} with the WAL, {:.2} tables only (flush + compaction bytes / \
         user bytes)",
        s.write_amplification(),
        s.table_write_amplification()
    );
    println!(
        "space amplification at the end: {:.3} (disk {disk} bytes / live {live} bytes); \
         estimate from levels {:.3}; levels {:?}",
        disk as f64 / live as f64,
        s.space_amplification_estimate(),
        s.levels.iter().map(|l| l.size_bytes).collect::<Vec<_>>()
    );
    db.compact().expect("compact");
    let disk = dir_bytes(fs.as_ref(), &path);
    println!(
        "after db.compact(): space amplification {:.3} (disk {disk} bytes)",
        disk as f64 / live as f64
    );
}
