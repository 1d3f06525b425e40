//! The command line, as clap parses it. `kv --help` shows it all, exit codes included.

use benches::{EngineKind, Workload};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Keys and values are bytes. Without --hex, KEY and VALUE arguments are taken literally and output
escapes every byte that is not printable ASCII: \\xNN, with \\\\ for a backslash and \\t, \\n, \\r
for tab, newline and carriage return, so each `key<TAB>value` line stays one parseable line
(`kv load` reads that same escaped form back). With --hex, arguments, input and output are hex.

Exit codes:
  0  success
  1  not found (`kv get` of a missing key)
  2  usage error: unknown command or flag, missing argument, invalid hex, --dir that is a file,
     malformed input; nothing was written
  3  storage error: no store, store locked by another process, I/O error, corruption (run
     `kv verify`), a verify that found problems, a crash demo that lost data; with --cluster:
     no node answered, no leader was reachable in time, or the cluster refused the request

A replicated cluster: start nodes with `kv serve --dir D --id N --listen ADDR --raft-listen ADDR
[--join ADDR]`, then `kv --cluster ADDR[,ADDR...] put|get|delete|scan` (writes and reads go
through the leader; --stale-ok reads any node's own, possibly older, state) and
`kv --cluster ADDR cluster status|add-learner|change-membership`. See docs/replication.md.

New here? Run `kv tour`.";

/// kv: use, inspect, verify, benchmark and demo an embedded LSM key-value store.
#[derive(Debug, Parser)]
#[command(name = "kv", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// The store's directory.
    #[arg(
        long,
        global = true,
        env = "KV_DIR",
        default_value = "./kv-data",
        value_name = "PATH"
    )]
    pub dir: PathBuf,
    /// Read keys and values as hex and print them as hex.
    #[arg(long, global = true)]
    pub hex: bool,
    /// Talk to a replicated cluster at these client addresses instead of the local store
    /// (put, get, delete, scan and `cluster ...`).
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        value_name = "ADDR[,ADDR...]"
    )]
    pub cluster: Vec<String>,
    /// With --cluster: read the answering node's own state, which may lag the leader's,
    /// instead of a linearizable read through the leader.
    #[arg(long, global = true)]
    pub stale_ok: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Set KEY to VALUE (VALUE `-` reads the value from stdin, byte for byte).
    Put {
        /// The key.
        key: OsString,
        /// The value, or `-` for stdin.
        value: OsString,
    },
    /// Print KEY's value; a missing key prints `not found` on stderr and exits 1.
    Get {
        /// The key.
        key: OsString,
        /// Print {"key": .., "value": ..} (non-UTF-8 bytes as "key_hex"/"value_hex").
        #[arg(long)]
        json: bool,
    },
    /// Delete KEY (deleting a missing key is not an error).
    Delete {
        /// The key.
        key: OsString,
    },
    /// Print `key<TAB>value` lines, in key order.
    Scan(ScanArgs),
    /// Import `key<TAB>value` lines (as `kv scan` prints them) or JSON lines, in batches.
    Load(LoadArgs),
    /// Levels, memtable, WAL, cache hit rate, amplification and stalls, as a table.
    Stats {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Write the memtable to a level-0 table now.
    Flush,
    /// Compact the whole store (or the tables meeting --from..--to) down the levels, now.
    Compact {
        /// Only tables holding keys at or after this one.
        #[arg(long, value_name = "KEY")]
        from: Option<OsString>,
        /// Only tables holding keys up to this one.
        #[arg(long, value_name = "KEY")]
        to: Option<OsString>,
    },
    /// Write a consistent, openable copy of the store to DEST (absent or empty).
    Checkpoint {
        /// Where the copy goes.
        dest: PathBuf,
    },
    /// Check every WAL segment, SSTable and the manifest; exit 0 only when all is sound.
    Verify,
    /// Show an on-disk file in readable form.
    #[command(subcommand)]
    Dump(DumpCommand),
    /// Run a db_bench-style workload in a fresh store (a temporary one unless --dir is given).
    Bench(BenchArgs),
    /// Kill a writer process with SIGKILL at random moments and check what survives.
    CrashDemo(CrashDemoArgs),
    /// A guided tour for newcomers: puts, gets, scans, flushes, stats, verify, a crash demo.
    Tour,
    /// Run one node of a replicated cluster, its data in --dir, until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Inspect or change a replicated cluster (needs --cluster).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// The writer child of `crash-demo` (not for direct use).
    #[command(hide = true)]
    CrashWriter(CrashWriterArgs),
}

/// `kv serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The node's id: unique in the cluster, never reused.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub id: u64,
    /// Client API address to listen on (host:port; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// Raft traffic address to listen on (host:port).
    #[arg(long, value_name = "ADDR")]
    pub raft_listen: String,
    /// Client address(es) of running members to join through; without it, a node with an
    /// empty --dir starts a new one-node cluster.
    #[arg(long, value_delimiter = ',', value_name = "ADDR[,ADDR...]")]
    pub join: Vec<String>,
}

/// `kv cluster`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Members, leader, term and log positions, as the leader sees them.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Add a node (already running `kv serve`) as a learner; returns once it has caught up.
    AddLearner {
        /// The new node's id.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        id: u64,
        /// Its client API address.
        #[arg(long, value_name = "ADDR")]
        api: String,
        /// Its Raft address.
        #[arg(long, value_name = "ADDR")]
        raft: String,
    },
    /// Change the voters: exactly --voters, or --add learners as voters, or --remove voters.
    #[command(group(clap::ArgGroup::new("change").required(true).args(["voters", "add", "remove"])))]
    ChangeMembership {
        /// Make exactly these the voters.
        #[arg(long, value_delimiter = ',', value_name = "ID[,ID...]", conflicts_with_all = ["add", "remove"])]
        voters: Vec<u64>,
        /// Promote these learners to voters.
        #[arg(
            long,
            value_delimiter = ',',
            value_name = "ID[,ID...]",
            conflicts_with = "remove"
        )]
        add: Vec<u64>,
        /// Remove these voters.
        #[arg(long, value_delimiter = ',', value_name = "ID[,ID...]")]
        remove: Vec<u64>,
        /// Drop removed voters from the cluster entirely instead of keeping them as learners.
        #[arg(long)]
        no_retain: bool,
    },
}

/// `kv scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Start at this key (inclusive).
    #[arg(long, value_name = "KEY")]
    pub from: Option<OsString>,
    /// Stop before this key (exclusive).
    #[arg(long, value_name = "KEY")]
    pub to: Option<OsString>,
    /// Only keys starting with this.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<OsString>,
    /// At most this many pairs.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Descending key order.
    #[arg(long)]
    pub reverse: bool,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

/// `kv load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The input file, or `-` for stdin.
    pub file: PathBuf,
    /// Input is JSON lines: {"key": "..", "value": ".."} (or "key_hex"/"value_hex").
    #[arg(long)]
    pub json: bool,
    /// Records per atomic write batch.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch_size: u64,
}

/// `kv dump`.
#[derive(Debug, Subcommand)]
pub enum DumpCommand {
    /// Every record of every WAL segment, with its position.
    Wal,
    /// A table's properties, index and entries.
    Sst {
        /// The table file.
        file: PathBuf,
    },
    /// The live manifest's version edits.
    Manifest,
}

/// `kv bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The workload.
    #[arg(long, default_value = "fillrandom", value_parser = parse_workload)]
    pub workload: Workload,
    /// Operations (and keys filled first, for workloads that read).
    #[arg(long, default_value_t = 100_000)]
    pub num: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seed for keys and values.
    #[arg(long, default_value_t = 301)]
    pub seed: u64,
    /// The engine to run it on (this build has: kvstore).
    #[arg(long, default_value = "kvstore", value_parser = parse_engine)]
    pub engine: EngineKind,
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    s.parse().map_err(|e: benches::Error| e.to_string())
}

fn parse_workload(s: &str) -> Result<Workload, String> {
    s.parse().map_err(|e: benches::Error| e.to_string())
}

/// When the crash demo's writer makes writes durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// fsync before each write is acknowledged: every acknowledged write must survive.
    Always,
    /// fsync in the background every 20 ms: a consistent prefix must survive.
    Batch,
    /// leave it to the OS: a consistent prefix must survive.
    Os,
}

/// `kv crash-demo`.
#[derive(Debug, Args)]
pub struct CrashDemoArgs {
    /// How many kill-and-recover cycles.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub cycles: u32,
    /// The writer's fsync policy.
    #[arg(long, value_enum, default_value_t = Policy::Always)]
    pub policy: Policy,
    /// Seed for the kill times (default: from the clock; printed so a run can be repeated).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// `kv crash-writer` (hidden).
#[derive(Debug, Args)]
pub struct CrashWriterArgs {
    /// The fsync policy.
    #[arg(long, value_enum)]
    pub policy: Policy,
    /// The cycle number: keys are `c<cycle>/<index>`.
    #[arg(long)]
    pub cycle: u32,
}
