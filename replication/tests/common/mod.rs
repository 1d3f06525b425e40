//! An in-process cluster for tests: nodes on real temp directories, Raft traffic through an
//! in-memory router (messages round-trip through serde as on the wire) that can cut links.

#![allow(dead_code)]

use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::RaftNetworkV2;
use replication::{
    open_storage, KvStateMachine, NodeAddr, NodeId, Raft, RaftSettings, Request, Snapshot,
    TypeConfig, Vote, WalLogStore,
};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a test waits for the cluster to reach a state before failing.
pub const WAIT: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Failed(String);
impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Failed {}

fn unreachable(msg: String) -> Unreachable<TypeConfig> {
    Unreachable::new(&Failed(msg))
}

fn roundtrip<T: serde::Serialize + serde::de::DeserializeOwned>(v: T) -> T {
    serde_json::from_slice(&serde_json::to_vec(&v).unwrap()).unwrap()
}

/// Which nodes are up and which can talk to which.
#[derive(Default)]
pub struct Router {
    nodes: Mutex<BTreeMap<NodeId, Raft>>,
    /// Node -> group; two nodes can talk only if in the same group (default 0).
    groups: Mutex<BTreeMap<NodeId, u32>>,
}

impl Router {
    pub fn new() -> Arc<Router> {
        Arc::new(Router::default())
    }

    fn reachable(&self, from: NodeId, to: NodeId) -> Result<Raft, Unreachable<TypeConfig>> {
        let groups = self.groups.lock().unwrap();
        let g = |n| groups.get(&n).copied().unwrap_or(0);
        if g(from) != g(to) {
            return Err(unreachable(format!("{from} -> {to}: partitioned")));
        }
        self.nodes
            .lock()
            .unwrap()
            .get(&to)
            .cloned()
            .ok_or_else(|| unreachable(format!("{to} is down")))
    }

    /// Splits the cluster: each listed set becomes its own group.
    pub fn partition(&self, sides: &[&[NodeId]]) {
        let mut groups = self.groups.lock().unwrap();
        groups.clear();
        for (i, side) in sides.iter().enumerate() {
            for n in *side {
                groups.insert(*n, i as u32 + 1);
            }
        }
    }

    /// Every node can reach every other again.
    pub fn heal(&self) {
        self.groups.lock().unwrap().clear();
    }
}

pub struct RouterNetwork {
    router: Arc<Router>,
    from: NodeId,
}

pub struct RouterPeer {
    router: Arc<Router>,
    from: NodeId,
    to: NodeId,
}

impl RaftNetworkFactory<TypeConfig> for RouterNetwork {
    type Network = RouterPeer;
    async fn new_client(&mut self, target: NodeId, _node: &NodeAddr) -> RouterPeer {
        RouterPeer {
            router: self.router.clone(),
            from: self.from,
            to: target,
        }
    }
}

impl RaftNetworkV2<TypeConfig> for RouterPeer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        let raft = self.router.reachable(self.from, self.to)?;
        let r = raft.append_entries(roundtrip(rpc)).await;
        self.router.reachable(self.to, self.from)?; // the reply crosses the same link
        r.map(roundtrip)
            .map_err(|e| RPCError::Unreachable(unreachable(e.to_string())))
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        let raft = self.router.reachable(self.from, self.to)?;
        let r = raft.vote(roundtrip(rpc)).await;
        self.router.reachable(self.to, self.from)?;
        r.map(roundtrip)
            .map_err(|e| RPCError::Unreachable(unreachable(e.to_string())))
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        _cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let raft = self.router.reachable(self.from, self.to)?;
        let snapshot = Snapshot {
            meta: roundtrip(snapshot.meta),
            snapshot: snapshot.snapshot,
        };
        let r = raft.install_full_snapshot(vote, snapshot).await;
        self.router.reachable(self.to, self.from)?;
        r.map_err(|e| StreamingError::Unreachable(unreachable(e.to_string())))
    }
}

/// One in-process node.
pub struct TestNode {
    pub id: NodeId,
    pub raft: Raft,
    pub sm: KvStateMachine,
    pub log: WalLogStore,
    pub dir: PathBuf,
}

pub fn addr(id: NodeId) -> NodeAddr {
    NodeAddr::new(format!("api-{id}"), format!("raft-{id}"))
}

/// Fast timings for tests.
pub fn settings() -> RaftSettings {
    RaftSettings {
        heartbeat_interval_ms: 50,
        election_timeout_min_ms: 300,
        election_timeout_max_ms: 600,
        wal_segment_size_bytes: 64 << 10,
        memtable_size_bytes: 256 << 10,
        ..RaftSettings::default()
    }
}

/// Opens (or reopens) node `id` on `dir` and plugs it into the router.
pub async fn start_node(
    router: &Arc<Router>,
    id: NodeId,
    dir: &Path,
    settings: &RaftSettings,
) -> TestNode {
    let (log, sm) = open_storage(dir, common::RealFs::shared(), settings)
        .await
        .unwrap();
    let network = RouterNetwork {
        router: router.clone(),
        from: id,
    };
    let raft = Raft::new(
        id,
        settings.to_config().unwrap(),
        network,
        log.clone(),
        sm.clone(),
    )
    .await
    .unwrap();
    router.nodes.lock().unwrap().insert(id, raft.clone());
    TestNode {
        id,
        raft,
        sm,
        log,
        dir: dir.to_path_buf(),
    }
}

impl TestNode {
    /// Unplugs the node and shuts it down (its directory stays, as after a clean stop).
    pub async fn stop(self, router: &Router) {
        router.nodes.lock().unwrap().remove(&self.id);
        self.raft.shutdown().await.unwrap();
        self.sm.persist().unwrap();
        self.log.close().await.unwrap();
    }

    pub fn applied_index(&self) -> u64 {
        use openraft::async_runtime::watch::WatchReceiver;
        self.raft
            .metrics()
            .borrow_watched()
            .last_applied
            .map_or(0, |l| l.index)
    }

    pub async fn wait_applied(&self, index: u64) {
        self.raft
            .wait(Some(WAIT))
            .applied_index_at_least(Some(index), "catch up")
            .await
            .unwrap_or_else(|e| panic!("node {} did not apply up to {index}: {e}", self.id));
    }
}

/// Starts nodes 1..=n in `root`, initializes node 1, adds the others as learners and makes
/// them all voters.
pub async fn three_node_cluster(
    router: &Arc<Router>,
    root: &Path,
    settings: &RaftSettings,
) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_node(router, id, &root.join(format!("n{id}")), settings).await);
    }
    nodes[0]
        .raft
        .initialize(BTreeMap::from([(1, addr(1))]))
        .await
        .unwrap();
    wait_leader(&nodes[..1]).await;
    for id in 2..=3 {
        nodes[0].raft.add_learner(id, addr(id), true).await.unwrap();
    }
    nodes[0]
        .raft
        .change_membership(BTreeSet::from([1, 2, 3]), false)
        .await
        .unwrap();
    nodes
}

/// The given nodes, by reference.
pub fn refs(nodes: &[TestNode]) -> Vec<&TestNode> {
    nodes.iter().collect()
}

/// The id of a leader among the given nodes whose leadership a quorum confirms.
pub async fn wait_leader(nodes: &[TestNode]) -> NodeId {
    wait_leader_among(&refs(nodes)).await
}

/// [`wait_leader`] over any subset.
pub async fn wait_leader_among(nodes: &[&TestNode]) -> NodeId {
    let start = tokio::time::Instant::now();
    loop {
        for n in nodes {
            if n.raft.is_leader() {
                // Leadership is confirmed once the leader's blank entry is committed.
                if n.raft
                    .ensure_linearizable(openraft::ReadPolicy::ReadIndex)
                    .await
                    .is_ok()
                {
                    return n.id;
                }
            }
        }
        assert!(
            start.elapsed() < WAIT,
            "no leader elected among {:?}",
            nodes.iter().map(|n| n.id).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn by_id(nodes: &[TestNode], id: NodeId) -> &TestNode {
    nodes.iter().find(|n| n.id == id).unwrap()
}

pub fn key(i: usize) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

pub fn value(i: usize) -> Vec<u8> {
    format!("value-{i}").into_bytes()
}

/// Writes keys `range` through the leader among `nodes` (100 in flight). A write that fails
/// because leadership moved is retried on the new leader (puts are idempotent); each key is
/// acknowledged once before this returns.
pub async fn write_keys(nodes: &[&TestNode], range: std::ops::Range<usize>) {
    let ids: Vec<usize> = range.collect();
    for chunk in ids.chunks(100) {
        let mut todo: Vec<usize> = chunk.to_vec();
        let start = tokio::time::Instant::now();
        while !todo.is_empty() {
            assert!(start.elapsed() < WAIT, "writes kept failing");
            let leader = by_id_ref(nodes, wait_leader_among(nodes).await);
            let writes = todo.iter().map(|&i| {
                leader.raft.client_write(Request::Put {
                    key: key(i),
                    value: value(i),
                })
            });
            let results = futures_util::future::join_all(writes).await;
            todo = todo
                .into_iter()
                .zip(results)
                .filter(|(_, r)| r.is_err())
                .map(|(i, _)| i)
                .collect();
        }
    }
}

fn by_id_ref<'a>(nodes: &[&'a TestNode], id: NodeId) -> &'a TestNode {
    nodes.iter().find(|n| n.id == id).unwrap()
}

/// Asserts the node's state machine holds exactly keys `range` with their values.
pub fn assert_keys(node: &TestNode, range: std::ops::Range<usize>) {
    let all = node.sm.scan(b"", None, usize::MAX).unwrap();
    let expected: Vec<(Vec<u8>, Vec<u8>)> = range.map(|i| (key(i), value(i))).collect();
    assert_eq!(
        all.len(),
        expected.len(),
        "node {} holds {} keys",
        node.id,
        all.len()
    );
    assert!(
        all == expected,
        "node {} holds other pairs than written",
        node.id
    );
}
