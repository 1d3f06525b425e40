//! A running node: its Raft, its log and state machine in a data directory, and two HTTP
//! listeners (client API and Raft traffic). What `kv serve` runs.

use crate::api::ClusterStatus;
use crate::client::ClusterClient;
use crate::error::{Error, Result};
use crate::log_store::WalLogStore;
use crate::network::HttpNetwork;
use crate::raft_service::serve_raft;
use crate::service::{serve_api, status_of};
use crate::state_machine::KvStateMachine;
use crate::types::{NodeAddr, NodeId, Raft};
use common::{FileSystem, RealFs};
use openraft::{Config, SnapshotPolicy};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How to start a node. Build with [`NodeConfig::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// The node's id (unique in the cluster, never reused).
    pub id: NodeId,
    /// Client API address to bind (`127.0.0.1:0`: any free port).
    pub listen: String,
    /// Raft traffic address to bind.
    pub raft_listen: String,
    /// Client addresses of existing members to join through; empty: a node that starts a
    /// new single-node cluster if its data directory holds none.
    pub join: Vec<String>,
    /// The node's data directory (created if missing).
    pub data_dir: PathBuf,
    /// Raft timing and snapshot settings.
    pub raft: RaftSettings,
}

/// Raft timing and log-compaction settings.
#[derive(Clone, Debug)]
pub struct RaftSettings {
    /// Leader heartbeat interval (default 100 ms).
    pub heartbeat_interval_ms: u64,
    /// Election timeout range (default 400..800 ms).
    pub election_timeout_min_ms: u64,
    /// Upper end of the election timeout range.
    pub election_timeout_max_ms: u64,
    /// A snapshot is built after this many applied entries (default 10,000).
    pub snapshot_after_logs: u64,
    /// Entries kept in the log behind the snapshot for lagging followers (default 1,000).
    pub keep_logs_after_snapshot: u64,
    /// Raft log WAL segment size, the unit purge frees (default 16 MiB).
    pub wal_segment_size_bytes: u64,
    /// State machine memtable size (default 16 MiB).
    pub memtable_size_bytes: usize,
}

impl Default for RaftSettings {
    fn default() -> Self {
        RaftSettings {
            heartbeat_interval_ms: 100,
            election_timeout_min_ms: 400,
            election_timeout_max_ms: 800,
            snapshot_after_logs: 10_000,
            keep_logs_after_snapshot: 1_000,
            wal_segment_size_bytes: 16 << 20,
            memtable_size_bytes: 16 << 20,
        }
    }
}

impl RaftSettings {
    /// openraft's configuration from these settings.
    pub fn to_config(&self) -> Result<Arc<Config>> {
        let config = Config {
            cluster_name: "kv".to_string(),
            heartbeat_interval: self.heartbeat_interval_ms,
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_after_logs),
            max_in_snapshot_log_to_keep: self.keep_logs_after_snapshot,
            ..Config::default()
        };
        Ok(Arc::new(
            config
                .validate()
                .map_err(|e| Error::Invalid(e.to_string()))?,
        ))
    }
}

impl NodeConfig {
    /// A node with default Raft settings that joins nobody.
    pub fn new(
        id: NodeId,
        listen: impl Into<String>,
        raft_listen: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> NodeConfig {
        NodeConfig {
            id,
            listen: listen.into(),
            raft_listen: raft_listen.into(),
            join: Vec::new(),
            data_dir: data_dir.into(),
            raft: RaftSettings::default(),
        }
    }
}

/// Opens a node's log store and state machine in `data_dir` (`raft-log/`, `sm.*`,
/// `SM_CURRENT`, `SNAPSHOT`).
pub async fn open_storage(
    data_dir: &std::path::Path,
    fs: Arc<dyn FileSystem>,
    settings: &RaftSettings,
) -> Result<(WalLogStore, KvStateMachine)> {
    fs.create_dir_all(data_dir)?;
    let log = WalLogStore::open(
        data_dir.join("raft-log"),
        fs.clone(),
        settings.wal_segment_size_bytes,
    )
    .await?;
    let sm = KvStateMachine::open(data_dir, fs, settings.memtable_size_bytes)?;
    Ok((log, sm))
}

/// A running node. Stop it with [`Node::stop`].
#[derive(Debug)]
pub struct Node {
    id: NodeId,
    raft: Raft,
    sm: KvStateMachine,
    log: WalLogStore,
    addr: NodeAddr,
    api_addr: SocketAddr,
    raft_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Node {
    /// Binds both listeners, opens the data directory, starts Raft and serves. A node without
    /// `join` and without state initializes a one-node cluster; a node with `join` asks the
    /// cluster (in the background, until it succeeds) to add it as a learner and then a voter.
    pub async fn start(config: NodeConfig) -> Result<Node> {
        let api_listener = TcpListener::bind(&config.listen).await?;
        let raft_listener = TcpListener::bind(&config.raft_listen).await?;
        let api_addr = api_listener.local_addr()?;
        let raft_addr = raft_listener.local_addr()?;
        let addr = NodeAddr::new(api_addr.to_string(), raft_addr.to_string());
        let (log, sm) = open_storage(&config.data_dir, RealFs::shared(), &config.raft).await?;
        let raft = Raft::new(
            config.id,
            config.raft.to_config()?,
            HttpNetwork,
            log.clone(),
            sm.clone(),
        )
        .await
        .map_err(|e| Error::Raft(e.to_string()))?;
        let mut tasks = vec![
            tokio::spawn(serve_raft(raft_listener, raft.clone())),
            tokio::spawn(serve_api(api_listener, raft.clone(), sm.clone())),
        ];
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        if config.join.is_empty() {
            if !initialized {
                let members = BTreeMap::from([(config.id, addr.clone())]);
                raft.initialize(members)
                    .await
                    .map_err(|e| Error::Raft(e.to_string()))?;
            }
        } else {
            tasks.push(tokio::spawn(join_until_done(
                config.id,
                addr.clone(),
                config.join.clone(),
            )));
        }
        Ok(Node {
            id: config.id,
            raft,
            sm,
            log,
            addr,
            api_addr,
            raft_addr,
            tasks,
        })
    }

    /// The node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The bound client API address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The bound Raft address.
    pub fn raft_addr(&self) -> SocketAddr {
        self.raft_addr
    }

    /// Both addresses as the cluster records them.
    pub fn addr(&self) -> &NodeAddr {
        &self.addr
    }

    /// The Raft handle.
    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    /// The local state machine (reads here are as stale as this node is).
    pub fn state_machine(&self) -> &KvStateMachine {
        &self.sm
    }

    /// This node's view of the cluster.
    pub fn status(&self) -> ClusterStatus {
        status_of(&self.raft)
    }

    /// Stops serving, shuts Raft down, makes the state durable and releases the directory.
    pub async fn stop(self) -> Result<()> {
        for t in &self.tasks {
            t.abort();
        }
        self.raft
            .shutdown()
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        self.sm.persist()?;
        self.log.close().await?;
        Ok(())
    }
}

async fn join_until_done(id: NodeId, addr: NodeAddr, seeds: Vec<String>) {
    let client = ClusterClient::new(seeds).with_deadline(Duration::from_secs(30));
    while client.join(id, addr.clone()).await.is_err() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
