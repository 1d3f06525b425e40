//! Recovery speed: fill our engine's memtable (large enough never to flush) with
//! `--recovery-mb` of WAL, close it without a flush, and time the reopen that replays it.
//!
//! The full measurement runs as after a crash: the fill in a process of its own
//! (`recovery-fill`), which exits, then three reopens, each in a fresh process
//! (`recovery-reopen`); the median counts. A reopen in the process that wrote (the earlier
//! method) reuses the heap the writer freed; a fresh reopen started while the writer still held
//! its 2+ GB heap was 30-45% slower again on this VM (memory the guest had not touched
//! recently is slow to fault in), so neither is what a restart after a crash sees.

use crate::args::{Args, KeyOrder};
use benches::{key, scrambler, write_permuted, Engine, EngineOptions, KvStoreEngine, Values};
use std::fmt;
use std::time::{Duration, Instant};

/// Fresh-process reopens timed by the full measurement.
const REOPENS: usize = 3;

/// What the reopens did.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// WAL bytes before the reopen (the engine's `stats().wal_bytes`).
    pub wal_bytes: u64,
    /// Key and value bytes in them.
    pub user_bytes: u64,
    /// Pairs written (and replayed).
    pub pairs: u64,
    /// The reopens' times, ascending.
    pub runs: Vec<Duration>,
    /// Whether each reopen ran in a fresh process after the writing process exited.
    pub fresh: bool,
    /// The order the keys were written in.
    pub order: KeyOrder,
}

impl Recovery {
    /// The median reopen.
    pub fn median(&self) -> Duration {
        self.runs[self.runs.len() / 2]
    }

    /// WAL MB (10^6) replayed per second, at the median.
    pub fn mb_per_sec(&self) -> f64 {
        self.wal_bytes as f64 / 1e6 / self.median().as_secs_f64().max(1e-9)
    }
}

/// The engine options, pair count and values of the measurement in `args.dir()/recovery`.
fn setup(args: &Args) -> (EngineOptions, u64, Values) {
    let dir = args.dir().join("recovery");
    let target = args.recovery_mb << 20;
    let mut opts = EngineOptions::new(&dir);
    opts.write_buffer_bytes = ((target * 3).min(4 << 30) as usize).max(64 << 20);
    opts.cache_bytes = args.cache_mb << 20;
    let values = Values::new(args.value_size, args.seed);
    let per_pair = 16 + args.value_size as u64;
    let pairs = (target / per_pair).max(1);
    (opts, pairs, values)
}

/// Runs the measurement in `args.dir()/recovery` (removed afterwards). With `fresh_process`,
/// as after a crash: the fill in a child process that exits, then [`REOPENS`] reopens each in
/// a fresh child process. Without: fill and one reopen in this process (for tests).
pub fn measure(args: &Args, fresh_process: bool) -> benches::Result<Recovery> {
    let (opts, pairs, _) = setup(args);
    let dir = opts.dir.clone();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| benches::Error::engine("harness", "mkdir", e))?;
    let ((wal_bytes, user_bytes), mut runs) = if fresh_process {
        let filled = parse_filled(&run_child(args, "recovery-fill")?)?;
        let runs = (0..REOPENS)
            .map(|_| parse_reopen(&run_child(args, "recovery-reopen")?))
            .collect::<benches::Result<Vec<_>>>()?;
        (filled, runs)
    } else {
        (fill(args)?, vec![reopen_timed(args)?.0])
    };
    runs.sort();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Recovery {
        wal_bytes,
        user_bytes,
        pairs,
        runs,
        fresh: fresh_process,
        order: args.recovery_order,
    })
}

/// Fills the engine in `args.dir()/recovery` with `--recovery-mb` of pairs and closes it
/// without a flush (everything stays in the WAL); returns its WAL bytes and user bytes.
pub fn fill(args: &Args) -> benches::Result<(u64, u64)> {
    let (opts, pairs, values) = setup(args);
    let engine = KvStoreEngine::open(&opts)?;
    write_permuted(&engine, pairs, &values, &*permutation(args, pairs), &|_| {})?;
    engine.sync()?;
    let stats = engine.db().stats();
    if stats.flushes > 0 {
        return Err(benches::Error::InvalidConfig {
            name: "recovery_mb",
            reason: format!("the memtable flushed {} times: too large", stats.flushes),
        });
    }
    Ok((stats.wal_bytes, stats.user_bytes_written))
}

/// Which key the fill writes `i`th, for `--recovery-order`.
fn permutation(args: &Args, pairs: u64) -> Box<dyn Fn(u64) -> u64 + Sync> {
    match args.recovery_order {
        KeyOrder::Ascending => Box::new(|i| i),
        KeyOrder::Scrambled => Box::new(scrambler(pairs)),
    }
}

/// The timed reopen (the `recovery-reopen` mode runs this in a fresh process), checking that
/// the last pair written is there; returns the time and the open engine.
///
/// The engine hands a large replayed log to its flush thread at open (kvstore's `replay.rs`),
/// which would leave the next reopen nothing to replay: `recovery-reopen` therefore ends its
/// process without closing the engine, as a crash would, before that flush can finish, and
/// this refuses to time a reopen over a log smaller than what the fill wrote.
pub fn reopen_timed(args: &Args) -> benches::Result<(Duration, KvStoreEngine)> {
    let (opts, pairs, values) = setup(args);
    let wal_dir = opts.dir.join("wal");
    let wal_bytes: u64 = std::fs::read_dir(&wal_dir)
        .map_err(|e| benches::Error::engine("harness", "read_dir", e))?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    let user_bytes = pairs * (16 + values.value(0, 0).len() as u64);
    if wal_bytes < user_bytes {
        return Err(harness(
            "recovery-reopen",
            format!("the log holds {wal_bytes} bytes, less than the {user_bytes} written: an earlier reopen flushed it"),
        ));
    }
    let at = Instant::now();
    let engine = KvStoreEngine::open(&opts)?;
    let elapsed = at.elapsed();
    let last_id = permutation(args, pairs)(pairs - 1);
    let last = engine.get(&key(last_id))?;
    if last.as_deref() != Some(values.value(last_id, 0)) {
        return Err(benches::Error::WrongResult {
            engine: "kvstore",
            key: format!("{last_id}"),
            reason: "the last pair written is not there after recovery".into(),
        });
    }
    Ok((elapsed, engine))
}

/// The line `recovery-reopen` prints: the reopen's nanoseconds.
pub const REOPEN_PREFIX: &str = "REOPEN_NANOS ";
/// The line `recovery-fill` prints: WAL bytes and user bytes.
pub const FILLED_PREFIX: &str = "FILLED ";

fn harness(op: &'static str, reason: String) -> benches::Error {
    benches::Error::engine("harness", op, std::io::Error::other(reason))
}

/// Runs this binary in `mode` with the measurement's arguments; returns its standard output.
fn run_child(args: &Args, mode: &'static str) -> benches::Result<String> {
    let exe = std::env::current_exe().map_err(|e| harness("current_exe", e.to_string()))?;
    let mut child = args.child_args(
        benches::EngineKind::KvStore,
        &crate::args::Case::ALL[0],
        &args.dir(),
    );
    child[0] = mode.into();
    let out = std::process::Command::new(&exe)
        .args(&child)
        .output()
        .map_err(|e| harness("spawn", e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(harness(
            mode,
            format!(
                "{}: {stdout}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }
    Ok(stdout)
}

fn parse_reopen(stdout: &str) -> benches::Result<Duration> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(REOPEN_PREFIX))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .map(Duration::from_nanos)
        .ok_or_else(|| harness("recovery-reopen", format!("no reopen time in {stdout:?}")))
}

fn parse_filled(stdout: &str) -> benches::Result<(u64, u64)> {
    let line = stdout.lines().find_map(|l| l.strip_prefix(FILLED_PREFIX));
    let nums: Option<Vec<u64>> =
        line.and_then(|l| l.split_whitespace().map(|n| n.parse().ok()).collect());
    match nums.as_deref() {
        Some(&[wal, user]) => Ok((wal, user)),
        _ => Err(harness(
            "recovery-fill",
            format!("no fill sizes in {stdout:?}"),
        )),
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runs: Vec<String> = self
            .runs
            .iter()
            .map(|d| format!("{:.3}", d.as_secs_f64()))
            .collect();
        write!(
            f,
            "recovery: reopened over {:.1} MiB of unflushed WAL ({} pairs in {} key order, {:.1} MiB of keys and values) {}: {} s; median {:.3} s: {:.0} MB/s of WAL replayed (target >= 500 MB/s)",
            self.wal_bytes as f64 / (1 << 20) as f64,
            self.pairs,
            self.order.name(),
            self.user_bytes as f64 / (1 << 20) as f64,
            if self.fresh {
                "each time in a fresh process after the writing process exited (as after a crash)"
            } else {
                "in the writing process"
            },
            runs.join(", "),
            self.median().as_secs_f64(),
            self.mb_per_sec()
        )
    }
}
