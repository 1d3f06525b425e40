//! Recovery speed: fill our engine's memtable (large enough never to flush) with
//! `--recovery-mb` of WAL, close it without a flush, and time the reopen that replays it.

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
    /// Time of the reopen.
    pub elapsed: Duration,
}

impl Recovery {
    /// WAL MB (10^6) replayed per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.wal_bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Runs the measurement in `args.dir()/recovery` (removed afterwards).
pub fn measure(args: &Args) -> benches::Result<Recovery> {
    let dir = args.dir().join("recovery");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| benches::Error::engine("harness", "mkdir", e))?;
    let target = args.recovery_mb << 20;
    let mut opts = EngineOptions::new(&dir);
    opts.write_buffer_bytes = ((target * 3).min(4 << 30) as usize).max(64 << 20);
    opts.cache_bytes = args.cache_mb << 20;
    let values = Values::new(args.value_size, args.seed);
    let per_pair = 16 + args.value_size as u64;
    let pairs = (target / per_pair).max(1);
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
    drop(engine);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Recovery {
        wal_bytes,
        user_bytes,
        pairs,
        elapsed,
    })
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recovery: reopened over {:.1} MiB of unflushed WAL ({} pairs, {:.1} MiB of keys and values) in {:.3} s: {:.0} MB/s of WAL replayed (target >= 500 MB/s)",
            self.wal_bytes as f64 / (1 << 20) as f64,
            self.pairs,
            self.user_bytes as f64 / (1 << 20) as f64,
            self.elapsed.as_secs_f64(),
            self.mb_per_sec()
        )
    }
}
