//! `kv-node`: runs one replicated-store node (what `kv serve` runs). Prints one line
//! `ready id=N api=ADDR raft=ADDR` once it serves; stops cleanly on Ctrl-C or SIGTERM.
//!
//! ```text
//! kv-node --id 1 --listen 127.0.0.1:7001 --raft-listen 127.0.0.1:8001 --data-dir n1
//! kv-node --id 2 --listen 127.0.0.1:7002 --raft-listen 127.0.0.1:8002 --data-dir n2 --join 127.0.0.1:7001
//! ```

use clap::Parser;
use replication::{Node, NodeConfig};
use std::io::Write;
use std::path::PathBuf;

/// Runs one node of the replicated store.
#[derive(Parser, Debug)]
#[command(name = "kv-node", version)]
struct Args {
    /// The node's id (unique in the cluster).
    #[arg(long)]
    id: u64,
    /// Client API address (host:port; port 0 picks a free one).
    #[arg(long)]
    listen: String,
    /// Raft traffic address (host:port).
    #[arg(long)]
    raft_listen: String,
    /// Client address(es) of existing members to join through (comma-separated).
    #[arg(long, value_delimiter = ',')]
    join: Vec<String>,
    /// The node's data directory.
    #[arg(long)]
    data_dir: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut config = NodeConfig::new(args.id, args.listen, args.raft_listen, args.data_dir);
    config.join = args.join;
    let node = Node::start(config).await?;
    println!(
        "ready id={} api={} raft={}",
        node.id(),
        node.api_addr(),
        node.raft_addr()
    );
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    node.stop().await?;
    Ok(())
}
