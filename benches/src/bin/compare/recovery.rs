//! Recovery speed: fill our engine's memtable (large enough never to flush) with
//! `--recovery-mb` of WAL, close it without a flush, and time the reopen that replays it, in
//! a fresh process as after a crash.

use crate::args::Args;
use benches::{key, Engine, EngineOptions, KvStoreEngine, Values};
use std::fmt;
use std::time::{Duration, Instant};

/// What the reopen did.
#[derive(Debug, Clone, Copy)]
pub struct Recovery {
    /// WAL bytes before the reopen (the engine's `stats().wal_bytes`).
    pub wal_bytes: u64,
    /// Key and value bytes in them.
    pub user_bytes: u64,
    /// Pairs written (and replayed).
    pub pairs: u64,
    /// Time of the reopen in this process, right after the writing engine was dropped.
    pub elapsed: Duration,
    /// Time of the same reopen in a fresh process (as after a crash), if measured.
    pub fresh: Option<Duration>,
}

impl Recovery {
    /// WAL MB (10^6) replayed per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.wal_bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The same for the fresh-process reopen.
    pub fn fresh_mb_per_sec(&self) -> Option<f64> {
        self.fresh
            .map(|d| self.wal_bytes as f64 / 1e6 / d.as_secs_f64().max(1e-9))
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

/// Runs the measurement in `args.dir()/recovery` (removed afterwards): the reopen is timed
/// in this process, right after the writing engine was dropped, and with `fresh_process`
/// first in a new process too (this binary's `recovery-reopen` mode), as after a crash.
/// The two differ in the heap: here the reopened memtable reuses the memory the writing
/// engine's memtable freed (after glibc merges its millions of small blocks,
/// `malloc_consolidate`, about 0.55 s at 1 GiB, timed with the reopen); a fresh process
/// faults in every page of a memtable of about 2.3 GB for 1 GiB of pairs.
pub fn measure(args: &Args, fresh_process: bool) -> benches::Result<Recovery> {
    let (opts, pairs, values) = setup(args);
    let dir = opts.dir.clone();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| benches::Error::engine("harness", "mkdir", e))?;
    let (wal_bytes, user_bytes);
    {
        let engine = KvStoreEngine::open(&opts)?;
        let mut i = 0;
        while i < pairs {
            let hi = (i + 1000).min(pairs);
            let keys: Vec<[u8; 16]> = (i..hi).map(key).collect();
            let batch: Vec<(&[u8], &[u8])> = keys
                .iter()
                .zip(i..hi)
                .map(|(k, j)| (&k[..], values.value(j, 0)))
                .collect();
            engine.write_batch(&batch)?;
            i = hi;
        }
        engine.sync()?;
        let stats = engine.db().stats();
        wal_bytes = stats.wal_bytes;
        user_bytes = stats.user_bytes_written;
        if stats.flushes > 0 {
            return Err(benches::Error::InvalidConfig {
                name: "recovery_mb",
                reason: format!("the memtable flushed {} times: too large", stats.flushes),
            });
        }
    } // closed without a flush: everything is in the WAL
    let fresh = if fresh_process {
        Some(reopen_in_child(args)?)
    } else {
        None
    };
    let elapsed = reopen_timed(args)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Recovery {
        wal_bytes,
        user_bytes,
        pairs,
        elapsed,
        fresh,
    })
}

/// The timed reopen (the `recovery-reopen` mode runs this in a fresh process), checking that
/// the last pair written is there.
pub fn reopen_timed(args: &Args) -> benches::Result<Duration> {
    let (opts, pairs, values) = setup(args);
    let at = Instant::now();
    let engine = KvStoreEngine::open(&opts)?;
    let elapsed = at.elapsed();
    let last = engine.get(&key(pairs - 1))?;
    if last.as_deref() != Some(values.value(pairs - 1, 0)) {
        return Err(benches::Error::WrongResult {
            engine: "kvstore",
            key: format!("{}", pairs - 1),
            reason: "the last pair written is not there after recovery".into(),
        });
    }
    Ok(elapsed)
}

/// The line `recovery-reopen` prints: the reopen's nanoseconds.
pub const REOPEN_PREFIX: &str = "REOPEN_NANOS ";

fn reopen_in_child(args: &Args) -> benches::Result<Duration> {
    let harness = |op: &'static str, reason: String| {
        benches::Error::engine("harness", op, std::io::Error::other(reason))
    };
    let exe = std::env::current_exe().map_err(|e| harness("current_exe", e.to_string()))?;
    let mut child = args.child_args(
        benches::EngineKind::KvStore,
        &crate::args::Case::ALL[0],
        &args.dir(),
    );
    child[0] = "recovery-reopen".into();
    let out = std::process::Command::new(&exe)
        .args(&child)
        .output()
        .map_err(|e| harness("spawn", e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let nanos = stdout
        .lines()
        .find_map(|l| l.strip_prefix(REOPEN_PREFIX))
        .and_then(|n| n.trim().parse::<u64>().ok());
    match nanos {
        Some(n) if out.status.success() => Ok(Duration::from_nanos(n)),
        _ => Err(harness(
            "recovery-reopen",
            format!(
                "{}: {}{}",
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            ),
        )),
    }
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recovery: reopened over {:.1} MiB of unflushed WAL ({} pairs, {:.1} MiB of keys and values) in {:.3} s: {:.0} MB/s of WAL replayed (target >= 500 MB/s; in the writing process, reusing its freed heap)",
            self.wal_bytes as f64 / (1 << 20) as f64,
            self.pairs,
            self.user_bytes as f64 / (1 << 20) as f64,
            self.elapsed.as_secs_f64(),
            self.mb_per_sec()
        )?;
        if let (Some(d), Some(rate)) = (self.fresh, self.fresh_mb_per_sec()) {
            write!(
                f,
                "\nrecovery in a fresh process (as after a crash): {:.3} s: {rate:.0} MB/s",
                d.as_secs_f64()
            )?;
        }
        Ok(())
    }
}
