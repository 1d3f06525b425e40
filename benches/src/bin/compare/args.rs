//! The command line, and the cases (workload, threads, size) one comparison runs.

use benches::{EngineKind, Workload};
use clap::{Parser, ValueEnum};
use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Every case on every engine (each in its own child process), the machine's limits and
    /// the recovery measurement, then the ratio tables.
    All,
    /// Only the machine's limits (sequential write, 4 KiB append+fdatasync, 4 KiB
    /// overwrite-in-place+fdatasync).
    Limits,
    /// Only the recovery measurement (our engine).
    Recovery,
    /// Internal: runs one `--case` of one engine and prints one `RESULT` line.
    Child,
    /// Internal: the fill of `recovery`, in its own process.
    RecoveryFill,
    /// Internal: the timed reopen of `recovery`, in its own process.
    RecoveryReopen,
}

/// The order the recovery measurement writes its keys in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyOrder {
    /// Keys 0, 1, 2, ... (a sequential fill: each replayed insert lands at the end).
    Ascending,
    /// The same keys in a scrambled order (as random writes leave the log).
    Scrambled,
}

impl KeyOrder {
    /// How the report names it.
    pub fn name(self) -> &'static str {
        match self {
            KeyOrder::Ascending => "ascending",
            KeyOrder::Scrambled => "scrambled",
        }
    }
}

/// Runs the same db_bench-style workloads on this engine and its peers and prints each peer's
/// figures as a ratio to ours.
#[derive(Debug, Clone, Parser)]
#[command(name = "compare")]
pub struct Args {
    /// What to run.
    #[arg(value_enum, default_value = "all")]
    pub mode: Mode,
    /// Engines, comma separated (default: every engine this build has).
    #[arg(long, value_delimiter = ',', value_parser = parse_engine)]
    pub engines: Vec<EngineKind>,
    /// Cases, comma separated (default: all of them, see `Case::ALL`).
    #[arg(long, value_delimiter = ',', value_parser = parse_case)]
    pub cases: Vec<&'static Case>,
    /// Keys (and operations) of the non-durable cases.
    #[arg(long, default_value_t = 1_000_000)]
    pub num: u64,
    /// Operations of the fillsync cases (every write durable). 50,000: 10,000 took about
    /// 0.13 s at 16 threads, short enough for start-up and the last stragglers to move the
    /// 16-thread / 1-thread ratio by 10% between runs.
    #[arg(long, default_value_t = 50_000)]
    pub sync_num: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Puts per durable commit in fillbatch.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Block/page cache of every engine, MiB.
    #[arg(long, default_value_t = 64)]
    pub cache_mb: usize,
    /// Write buffer (memtable) of the engines that have one, MiB.
    #[arg(long, default_value_t = 64)]
    pub write_buffer_mb: usize,
    /// Where the databases and the limit files go (on the disk to measure).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Bytes of the sequential-write limit test, MiB.
    #[arg(long, default_value_t = 512)]
    pub limits_mb: u64,
    /// fdatasyncs of each 4 KiB limit loop.
    #[arg(long, default_value_t = 3000)]
    pub limits_ops: u64,
    /// Unflushed WAL to replay in the recovery measurement, MiB (the target is
    /// stated for 1024).
    #[arg(long, default_value_t = 256)]
    pub recovery_mb: u64,
    /// Key order of the recovery measurement's fill (`all` measures both).
    #[arg(long, value_enum, default_value = "ascending")]
    pub recovery_order: KeyOrder,
    /// Runs of each engine's case in `all` (round by round, every engine in turn); the
    /// tables report each engine's median run by ops/s (see `median.rs`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,
    /// Skip the limits in `all`.
    #[arg(long)]
    pub no_limits: bool,
    /// Skip the recovery measurement in `all`.
    #[arg(long)]
    pub no_recovery: bool,
    /// Seed for keys and values.
    #[arg(long, default_value_t = 301)]
    pub seed: u64,
    /// Internal (child mode): `engine:case`.
    #[arg(long, hide = true)]
    pub case: Option<String>,
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    s.parse().map_err(|e: benches::Error| e.to_string())
}

fn parse_case(s: &str) -> Result<&'static Case, String> {
    Case::by_name(s)
}

impl Args {
    /// The engines to run: the ones asked for, or every one this build has.
    pub fn engines(&self) -> Vec<EngineKind> {
        if self.engines.is_empty() {
            EngineKind::ALL.to_vec()
        } else {
            self.engines.clone()
        }
    }

    /// The cases to run: the ones asked for, or all.
    pub fn cases(&self) -> Vec<&'static Case> {
        if self.cases.is_empty() {
            Case::ALL.iter().collect()
        } else {
            self.cases.clone()
        }
    }

    /// The working directory.
    pub fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("kv-compare"))
    }

    /// The arguments a child needs to repeat this run's settings for `engine:case` in `dir`.
    pub fn child_args(
        &self,
        engine: EngineKind,
        case: &Case,
        dir: &std::path::Path,
    ) -> Vec<String> {
        vec![
            "child".into(),
            format!("--case={}:{}", engine.name(), case.name),
            format!("--num={}", self.num),
            format!("--sync-num={}", self.sync_num),
            format!("--value-size={}", self.value_size),
            format!("--batch-size={}", self.batch_size),
            format!("--cache-mb={}", self.cache_mb),
            format!("--write-buffer-mb={}", self.write_buffer_mb),
            format!("--seed={}", self.seed),
            format!("--recovery-mb={}", self.recovery_mb),
            format!("--recovery-order={}", self.recovery_order.name()),
            format!("--dir={}", dir.display()),
        ]
    }

    /// The child's `--case`, split and parsed.
    pub fn child_case(&self) -> Result<(EngineKind, &'static Case), String> {
        let spec = self
            .case
            .as_deref()
            .ok_or("child mode needs --case engine:case")?;
        let (engine, case) = spec
            .split_once(':')
            .ok_or_else(|| format!("--case {spec:?} is not engine:case"))?;
        Ok((parse_engine(engine)?, Case::by_name(case)?))
    }
}

/// One row of the comparison: a workload with its thread count and size.
#[derive(Debug, PartialEq)]
pub struct Case {
    /// The name in reports and on the command line.
    pub name: &'static str,
    /// The workload.
    pub workload: Workload,
    /// Threads.
    pub threads: usize,
    /// Whether it runs `--sync-num` operations rather than `--num`.
    pub small: bool,
    /// The target: our figure over the best peer's at least this.
    pub target: f64,
}

impl Case {
    /// Every case, in report order.
    pub const ALL: &'static [Case] = &[
        Case::new("fillseq", Workload::FillSeq, 1, false, 1.2),
        Case::new("fillrandom", Workload::FillRandom, 1, false, 1.2),
        Case::new("readrandom", Workload::ReadRandom, 1, false, 1.0),
        Case::new("readmissing", Workload::ReadMissing, 1, false, 1.0),
        Case::new("seekrandom", Workload::Scan, 1, false, 1.0),
        Case::new("overwrite", Workload::Overwrite, 1, false, 1.2),
        Case::new("fillsync1", Workload::FillSync, 1, true, 1.0),
        Case::new("fillsync16", Workload::FillSync, 16, true, 1.0),
        Case::new("fillbatch", Workload::FillBatch, 1, false, 1.2),
        Case::new("mixed", Workload::Mixed, 2, false, 0.0),
    ];

    const fn new(
        name: &'static str,
        workload: Workload,
        threads: usize,
        small: bool,
        target: f64,
    ) -> Case {
        Case {
            name,
            workload,
            threads,
            small,
            target,
        }
    }

    /// The case called `name`.
    pub fn by_name(name: &str) -> Result<&'static Case, String> {
        Case::ALL.iter().find(|c| c.name == name).ok_or_else(|| {
            let known: Vec<_> = Case::ALL.iter().map(|c| c.name).collect();
            format!("unknown case {name:?} (known: {})", known.join(", "))
        })
    }

    /// Whether the case's durable figures mean something different for sled (see
    /// `benches::peers::sled::SLED_NOTE`).
    pub fn durable(&self) -> bool {
        self.workload.sync_writes()
    }
}
