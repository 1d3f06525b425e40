//! Running a workload: the untimed fill some workloads need, the timed part split over
//! threads, and the report (ops/s, MB/s, latency percentiles).

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::histogram::Histogram;
use crate::rng::Rng;
use crate::workload::{key, missing_key, Values, Workload};
use std::fmt;
use std::time::{Duration, Instant};

/// How often (in operations) a thread reports progress.
const PROGRESS_EVERY: u64 = 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The workload.
    pub workload: Workload,
    /// Operations (and, for workloads that need a fill, keys filled first).
    pub num: u64,
    /// Bytes per value.
    pub value_size: usize,
    /// Threads sharing the operations.
    pub threads: usize,
    /// Seed for key choice and values: the same seed repeats the same run.
    pub seed: u64,
    /// Pairs each `scan` operation reads.
    pub scan_length: usize,
    /// Puts per durable commit in `fillbatch`.
    pub batch_size: usize,
}

/// Puts per batch of the untimed fill.
const FILL_BATCH: u64 = 1000;

impl BenchConfig {
    /// db_bench-like defaults: 100,000 operations, 100-byte values, one thread.
    pub fn new(workload: Workload) -> BenchConfig {
        BenchConfig {
            workload,
            num: 100_000,
            value_size: 100,
            threads: 1,
            seed: 301,
            scan_length: 100,
            batch_size: 100,
        }
    }

    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: String| Err(Error::InvalidConfig { name, reason });
        if self.num == 0 {
            return bad("num", "must be at least 1".into());
        }
        if !(1..=1024).contains(&self.threads) {
            return bad("threads", format!("{} is outside 1 ..= 1024", self.threads));
        }
        if self.value_size > 64 << 20 {
            return bad("value_size", format!("{} is above 64 MiB", self.value_size));
        }
        if self.scan_length == 0 {
            return bad("scan_length", "must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        Ok(())
    }

    /// How many timed operations the run does (the progress bar's length).
    pub fn ops(&self) -> u64 {
        match self.workload {
            Workload::Scan => (self.num / self.scan_length as u64).max(1),
            _ => self.num,
        }
    }
}

/// The outcome of one timed run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The engine's name.
    pub engine: &'static str,
    /// The workload.
    pub workload: Workload,
    /// Threads used.
    pub threads: usize,
    /// Operations done (a `readseq` operation is one pair read, a `fillbatch` operation one
    /// put; its latencies are per batch).
    pub ops: u64,
    /// Key and value bytes written or read.
    pub bytes: u64,
    /// Reads that found their key (reads only).
    pub found: u64,
    /// Wall-clock time of the timed part.
    pub elapsed: Duration,
    /// One latency per operation.
    pub latency: Histogram,
}

impl BenchReport {
    /// Operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Megabytes (10^6 bytes) per second of key and value data.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn micros(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1000.0
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<11} {}: {} ops in {:.3} s, {} thread(s): {:.0} ops/s, {:.2} MB/s; latency us: p50 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}",
            self.workload.name(),
            self.engine,
            self.ops,
            self.elapsed.as_secs_f64(),
            self.threads,
            self.ops_per_sec(),
            self.mb_per_sec(),
            micros(self.latency.percentile(0.50)),
            micros(self.latency.percentile(0.99)),
            micros(self.latency.percentile(0.999)),
            micros(self.latency.max()),
        )?;
        if !self.workload.writes() && self.workload != Workload::ReadSeq
            || self.workload == Workload::Mixed
        {
            write!(f, " ({} of {} found)", self.found, self.ops)?;
        }
        if self.workload == Workload::FillBatch {
            write!(f, " (latency per batch)")?;
        }
        Ok(())
    }
}

/// Writes keys `0..num` in order with their generation-0 `values`, in batches of 1000
/// ([`Engine::write_batch`]), without a flush or a sync; `progress` is called with the
/// number of keys written since its last call.
pub fn write_in_order(
    engine: &dyn Engine,
    num: u64,
    values: &Values,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    write_permuted(engine, num, values, &|i| i, progress)
}

/// As [`write_in_order`], but the `i`th pair written is key `permute(i)` with its value:
/// `permute` must map `0..num` onto itself one to one (see [`scrambler`]).
pub fn write_permuted(
    engine: &dyn Engine,
    num: u64,
    values: &Values,
    permute: &dyn Fn(u64) -> u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<()> {
    let mut lo = 0;
    while lo < num {
        let hi = (lo + FILL_BATCH).min(num);
        let ids: Vec<u64> = (lo..hi).map(permute).collect();
        let keys: Vec<[u8; 16]> = ids.iter().map(|&i| key(i)).collect();
        let pairs: Vec<(&[u8], &[u8])> = keys
            .iter()
            .zip(&ids)
            .map(|(k, &i)| (&k[..], values.value(i, 0)))
            .collect();
        engine.write_batch(&pairs)?;
        progress(hi - lo);
        lo = hi;
    }
    Ok(())
}

/// A one-to-one scrambling of `0..num`: `i` times an odd multiplier coprime with `num`,
/// modulo `num`. Consecutive `i` land far apart, as in a workload of random keys.
pub fn scrambler(num: u64) -> impl Fn(u64) -> u64 + Sync {
    let mut a: u64 = 2_654_435_761;
    while num > 1 && gcd(a, num) > 1 {
        a += 2;
    }
    let n = num.max(1) as u128;
    move |i| (i as u128 * a as u128 % n) as u64
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Writes keys `0..cfg.num` in order with their generation-0 values, in batches of 1000
/// ([`Engine::write_batch`]), and flushes: the untimed setup of the workloads that read or
/// overwrite existing keys. `progress` is called with the number of keys written since its
/// last call.
pub fn fill(engine: &dyn Engine, cfg: &BenchConfig, progress: &(dyn Fn(u64) + Sync)) -> Result<()> {
    cfg.validate()?;
    let values = Values::new(cfg.value_size, cfg.seed);
    write_in_order(engine, cfg.num, &values, progress)?;
    engine.flush()
}

#[derive(Default)]
struct ThreadResult {
    latency: Histogram,
    bytes: u64,
    found: u64,
    ops: u64,
}

/// Runs the timed part of `cfg.workload` (call [`fill`] first when
/// [`Workload::needs_fill`]). `progress` is called with operations done since its last call,
/// from any of the threads.
pub fn run(
    engine: &dyn Engine,
    cfg: &BenchConfig,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<BenchReport> {
    cfg.validate()?;
    let values = Values::new(cfg.value_size, cfg.seed);
    let threads = cfg.threads;
    let start = Instant::now();
    let results: Vec<Result<ThreadResult>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let values = &values;
                s.spawn(move || run_thread(engine, cfg, values, t, progress))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let elapsed = start.elapsed();
    if cfg.workload.writes() {
        engine.sync()?;
    }
    let mut report = BenchReport {
        engine: engine.name(),
        workload: cfg.workload,
        threads,
        ops: 0,
        bytes: 0,
        found: 0,
        elapsed,
        latency: Histogram::new(),
    };
    for r in results {
        let r = r?;
        report.latency.merge(&r.latency);
        report.bytes += r.bytes;
        report.found += r.found;
        report.ops += r.ops;
    }
    Ok(report)
}

/// Checks that a read of `k` found one of the values `allowed`; returns its length.
fn check_read(
    engine: &dyn Engine,
    k: &[u8],
    got: Option<Vec<u8>>,
    allowed: &[&[u8]],
) -> Result<usize> {
    let reason = match got {
        Some(v) if allowed.contains(&v.as_slice()) => return Ok(v.len()),
        Some(v) => format!("a {}-byte value that is not the one written", v.len()),
        None => "not found, but the fill wrote it".into(),
    };
    Err(Error::WrongResult {
        engine: engine.name(),
        key: String::from_utf8_lossy(k).into_owned(),
        reason,
    })
}

/// The share `0..total` of thread `t` of `n`: a contiguous slice.
pub(crate) fn share(total: u64, t: usize, n: usize) -> (u64, u64) {
    let (t, n) = (t as u64, n as u64);
    (total * t / n, total * (t + 1) / n)
}

fn run_thread(
    engine: &dyn Engine,
    cfg: &BenchConfig,
    values: &Values,
    t: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ThreadResult> {
    let mut rng = Rng::new(cfg.seed ^ (0xA5A5_0000 + t as u64));
    let mut r = ThreadResult::default();
    let mut pending = 0u64;
    let mut tick = |r: &mut ThreadResult, n: u64| {
        r.ops += n;
        pending += n;
        if pending >= PROGRESS_EVERY {
            progress(pending);
            pending = 0;
        }
    };
    let (lo, hi) = share(cfg.ops(), t, cfg.threads);
    let vsize = values.size() as u64;
    match cfg.workload {
        Workload::FillSeq | Workload::FillRandom | Workload::FillSync | Workload::Overwrite => {
            let generation = u64::from(cfg.workload == Workload::Overwrite);
            for op in lo..hi {
                let i = if cfg.workload == Workload::FillSeq {
                    op
                } else {
                    rng.below(cfg.num)
                };
                let k = key(i);
                let at = Instant::now();
                engine.put(&k, values.value(i, generation))?;
                r.latency.record(at.elapsed());
                r.bytes += 16 + vsize;
                tick(&mut r, 1);
            }
        }
        Workload::ReadRandom => {
            for _ in lo..hi {
                let i = rng.below(cfg.num);
                let k = key(i);
                let at = Instant::now();
                let got = engine.get(&k)?;
                r.latency.record(at.elapsed());
                let v = check_read(engine, &k, got, &[values.value(i, 0)])?;
                r.found += 1;
                r.bytes += 16 + v as u64;
                tick(&mut r, 1);
            }
        }
        Workload::FillBatch => {
            let mut op = lo;
            while op < hi {
                let end = (op + cfg.batch_size as u64).min(hi);
                let idx: Vec<u64> = (op..end).map(|_| rng.below(cfg.num)).collect();
                let keys: Vec<[u8; 16]> = idx.iter().map(|&i| key(i)).collect();
                let pairs: Vec<(&[u8], &[u8])> = keys
                    .iter()
                    .zip(&idx)
                    .map(|(k, &i)| (&k[..], values.value(i, 0)))
                    .collect();
                let at = Instant::now();
                engine.write_batch(&pairs)?;
                r.latency.record(at.elapsed());
                r.bytes += (end - op) * (16 + vsize);
                tick(&mut r, end - op);
                op = end;
            }
        }
        Workload::ReadMissing => {
            for _ in lo..hi {
                let k = missing_key(rng.below(cfg.num));
                let at = Instant::now();
                let got = engine.get(&k)?;
                r.latency.record(at.elapsed());
                if let Some(v) = got {
                    return Err(Error::WrongResult {
                        engine: engine.name(),
                        key: String::from_utf8_lossy(&k).into_owned(),
                        reason: format!("a {}-byte value for a key never written", v.len()),
                    });
                }
                r.bytes += 16;
                tick(&mut r, 1);
            }
        }
        Workload::Mixed => {
            for _ in lo..hi {
                let i = rng.below(cfg.num);
                let k = key(i);
                if rng.below(10) == 0 {
                    let at = Instant::now();
                    engine.put(&k, values.value(i, 1))?;
                    r.latency.record(at.elapsed());
                    r.bytes += 16 + vsize;
                } else {
                    let at = Instant::now();
                    let got = engine.get(&k)?;
                    r.latency.record(at.elapsed());
                    let v = check_read(engine, &k, got, &[values.value(i, 0), values.value(i, 1)])?;
                    r.found += 1;
                    r.bytes += 16 + v as u64;
                }
                tick(&mut r, 1);
            }
        }
        Workload::ReadSeq => {
            let mut last = Instant::now();
            let mut bytes = 0u64;
            let mut latency = Histogram::new();
            let mut count = 0u64;
            let mut since = 0u64;
            let n = engine.scan(&key(lo), (hi - lo) as usize, &mut |k, v| {
                let now = Instant::now();
                latency.record(now - last);
                last = now;
                bytes += (k.len() + v.len()) as u64;
                count += 1;
                since += 1;
                if since == PROGRESS_EVERY {
                    progress(since);
                    since = 0;
                }
            })?;
            progress(since);
            r.latency = latency;
            r.bytes = bytes;
            r.ops = n as u64;
            r.found = count;
            return Ok(r);
        }
        Workload::Scan => {
            for _ in lo..hi {
                let i = rng.below(cfg.num);
                let mut bytes = 0u64;
                let at = Instant::now();
                let n = engine.scan(&key(i), cfg.scan_length, &mut |k, v| {
                    bytes += (k.len() + v.len()) as u64;
                })?;
                r.latency.record(at.elapsed());
                r.bytes += bytes;
                if n > 0 {
                    r.found += 1;
                }
                tick(&mut r, 1);
            }
        }
    }
    progress(pending);
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_scrambler_maps_0_to_n_onto_itself_one_to_one() {
        for n in [1u64, 2, 10, 1000, 3 * 9973, 1 << 12] {
            let f = super::scrambler(n);
            let mut seen: Vec<u64> = (0..n).map(&f).collect();
            assert!(seen.iter().all(|&x| x < n), "n {n}");
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len() as u64, n, "n {n}");
        }
        let f = super::scrambler(1_000_000);
        assert!(f(1).abs_diff(f(2)) > 1000, "neighbours stay apart");
    }

    use super::*;

    #[test]
    fn shares_cover_everything_once() {
        for n in 1..6 {
            let mut next = 0;
            for t in 0..n {
                let (lo, hi) = share(103, t, n);
                assert_eq!(lo, next);
                next = hi;
            }
            assert_eq!(next, 103);
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let mut c = BenchConfig::new(Workload::FillSeq);
        c.threads = 0;
        assert!(c.validate().is_err());
        c.threads = 1;
        c.num = 0;
        assert!(c.validate().is_err());
    }
}
