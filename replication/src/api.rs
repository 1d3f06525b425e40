//! The messages: the client API (`kv --cluster ...` to a node, `POST /api`) and the head of
//! a snapshot RPC between nodes. They travel as JSON bodies over HTTP (see [`crate::wire`]).

use crate::types::{LogId, NodeAddr, NodeId, SnapshotMeta, Vote};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A request to a node's client API.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ApiRequest {
    /// Replicated write (leader only).
    Put {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Replicated delete (leader only).
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// Read one key: linearizable on the leader, or the local state if `stale_ok`.
    Get {
        /// The key.
        key: Vec<u8>,
        /// Read this node's state without asking the leader.
        stale_ok: bool,
    },
    /// Read up to `limit` pairs with `start <= key < end`.
    Scan {
        /// First key (inclusive).
        start: Vec<u8>,
        /// End (exclusive); `None`: to the last key.
        end: Option<Vec<u8>>,
        /// At most this many pairs.
        limit: usize,
        /// Read this node's state without asking the leader.
        stale_ok: bool,
    },
    /// This node's view of the cluster.
    Status,
    /// Add a learner (leader only); returns once it has caught up.
    AddLearner {
        /// The new node's id.
        id: NodeId,
        /// Its addresses.
        addr: NodeAddr,
    },
    /// Change the voters (leader only); returns once the change is committed.
    ChangeMembership {
        /// The change.
        change: MembershipChange,
        /// Keep removed voters as learners.
        retain: bool,
    },
}

/// How to change the set of voters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    /// Promote these (already learners) to voters.
    AddVoters(BTreeSet<NodeId>),
    /// Demote or remove these voters.
    RemoveVoters(BTreeSet<NodeId>),
    /// Make exactly these the voters.
    ReplaceVoters(BTreeSet<NodeId>),
}

/// A node's reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum ApiReply {
    /// Done.
    Ok,
    /// The value read.
    Value(Option<Vec<u8>>),
    /// The pairs read.
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    /// The node's view of the cluster.
    Status(Box<ClusterStatus>),
    /// Ask the leader instead: its id and client address, if known.
    NotLeader(Option<(NodeId, String)>),
    /// The node cannot serve it now (no quorum, shutting down): try another or later.
    Retry(String),
    /// The request failed and would fail again.
    Error(String),
}

/// One node's view of the cluster (`kv cluster status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// The node answering.
    pub id: NodeId,
    /// Leader, Follower, Candidate or Learner.
    pub state: String,
    /// Its current term.
    pub term: u64,
    /// The leader it knows of.
    pub leader: Option<NodeId>,
    /// The last log id in its log.
    pub last_log_index: Option<u64>,
    /// The last committed log id it knows.
    pub committed: Option<LogId>,
    /// The last applied log id.
    pub last_applied: Option<LogId>,
    /// The last log id in its snapshot.
    pub snapshot: Option<LogId>,
    /// The last purged log id.
    pub purged: Option<LogId>,
    /// The voters of the effective membership.
    pub voters: BTreeSet<NodeId>,
    /// The learners of the effective membership.
    pub learners: BTreeSet<NodeId>,
    /// Every member's addresses.
    pub nodes: BTreeMap<NodeId, NodeAddr>,
    /// Per member, the last log id the leader knows it has (leader only).
    pub replication: BTreeMap<NodeId, Option<LogId>>,
}

/// The JSON head of a `POST /raft/snapshot` body; the snapshot file's bytes follow it (see
/// [`crate::wire::snapshot_body`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct InstallSnapshot {
    /// The sender's vote.
    pub vote: Vote,
    /// The snapshot's metadata.
    pub meta: SnapshotMeta,
}
