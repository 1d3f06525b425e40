//! Use case 6c: Metrics: `FsyncPolicy::Os` and an explicit `sync()` after each batch.
//!
//! **When:** high-rate measurements where a lost sample is tolerable but a lost batch is not
//! (a scrape, a flush interval, a file import), and where the data is read back sequentially
//! (aggregation), never by key.
//!
//! **FsyncPolicy:** `Os` with `sync()` at the end of each batch: one fsync per batch instead of
//! one per sample. **What it trades away:** a power cut keeps every batch whose `sync()`
//! returned and nothing promised of the batch in progress (on the simulated disk it is gone
//! entirely; on a real one, any prefix of it may be there).

use crate::error::{Error, Result};
use crate::setup::wal_config;
use common::FileSystem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wal::{FsyncPolicy, Position, Record, Wal};

/// One sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// What was measured.
    pub name: String,
    /// The value.
    pub value: f64,
    /// When (ms since the epoch).
    pub at_ms: u64,
}

/// The metrics log.
#[derive(Debug, Clone)]
pub struct MetricsLog {
    wal: Wal,
    wal_dir: PathBuf,
}

impl MetricsLog {
    /// Opens the log in `dir`.
    pub async fn open(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<MetricsLog> {
        let wal_dir = dir.join("metrics");
        let (wal, _) = Wal::open(wal_config(&fs, &wal_dir, FsyncPolicy::Os, 64 << 20)).await?;
        Ok(MetricsLog { wal, wal_dir })
    }

    /// Records one sample (no fsync).
    pub async fn record(&self, metric: &Metric) -> Result<Position> {
        let value = serde_json::to_vec(metric).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(self
            .wal
            .append(&Record::put(metric.name.as_bytes(), value))
            .await?)
    }

    /// Records a batch, then makes it durable with one `sync()`.
    pub async fn record_batch(&self, metrics: &[Metric]) -> Result<()> {
        for m in metrics {
            self.record(m).await?;
        }
        Ok(self.wal.sync().await?)
    }

    /// Per name: (samples, sum), from a sequential read of the whole log.
    pub async fn aggregate(&self) -> Result<BTreeMap<String, (u64, f64)>> {
        let mut out: BTreeMap<String, (u64, f64)> = BTreeMap::new();
        let mut reader = self.wal.read_from(Position::start()).await?;
        while let Some((r, at)) = reader.next_record().await? {
            let m: Metric = serde_json::from_slice(&r.value)
                .map_err(|e| Error::bad_record(&self.wal_dir, at, e))?;
            let e = out.entry(m.name).or_default();
            e.0 += 1;
            e.1 += m.value;
        }
        Ok(out)
    }

    /// Closes the log.
    pub async fn close(&self) -> Result<()> {
        Ok(self.wal.close().await?)
    }
}

/// The samples of batch `b`: `n` of them.
pub fn batch(b: u64, n: u64) -> Vec<Metric> {
    (0..n)
        .map(|i| Metric {
            name: ["cpu", "mem", "disk"][(i % 3) as usize].to_string(),
            value: (b * 100 + i) as f64,
            at_ms: 1_700_000_000_000 + b * 1000 + i,
        })
        .collect()
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Samples per batch: the two synced ones, then the one in progress.
    pub batches: [u64; 3],
    /// Samples after the power cut.
    pub survived: u64,
    /// Per name after the cut.
    pub aggregate: BTreeMap<String, (u64, f64)>,
}

/// The program: metrics in `dir` on `fs` across a clean restart, then a power cut on a
/// simulated disk (`common::MemFs`), since only a simulated disk can lose its cache on demand.
pub async fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    writeln!(
        out,
        "metrics_log in {} (FsyncPolicy::Os + sync() per batch)",
        dir.display()
    )?;
    let log = MetricsLog::open(fs.clone(), dir).await?;
    log.record_batch(&batch(0, 12)).await?;
    log.close().await?;
    let log = MetricsLog::open(fs, dir).await?;
    let n: u64 = log.aggregate().await?.values().map(|(n, _)| n).sum();
    writeln!(out, "after a clean restart: {n} samples")?;
    log.close().await?;
    writeln!(out, "now on a simulated disk, to cut the power:")?;
    let mem = common::MemFs::new();
    let dir = Path::new("/sim");
    let log = MetricsLog::open(mem.shared(), dir).await?;
    log.record_batch(&batch(0, 30)).await?;
    log.record_batch(&batch(1, 30)).await?;
    writeln!(
        out,
        "2 batches of 30 samples recorded, each followed by sync()"
    )?;
    for m in batch(2, 20) {
        log.record(&m).await?;
    }
    writeln!(out, "20 samples of a third batch recorded, not yet synced")?;
    let crashed = mem.crash();
    let after = MetricsLog::open(crashed.shared(), dir).await?;
    let aggregate = after.aggregate().await?;
    let survived = aggregate.values().map(|(n, _)| n).sum();
    writeln!(
        out,
        "power cut: {survived} samples survived (the 2 synced batches); the unsynced batch is gone"
    )?;
    for (name, (n, sum)) in &aggregate {
        writeln!(out, "  {name}: {n} samples, mean {:.1}", sum / *n as f64)?;
    }
    after.close().await?;
    log.close().await?;
    Ok(Summary {
        batches: [30, 30, 20],
        survived,
        aggregate,
    })
}
