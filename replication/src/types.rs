//! The Raft type configuration: what a log entry carries, how nodes are addressed, and the
//! short aliases the rest of the crate uses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's identity in the cluster.
pub type NodeId = u64;

/// A state-machine command: one entry in the replicated log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Set `key` to `value`.
    Put {
        /// The key (never under the reserved prefix, see [`crate::RESERVED_PREFIX`]).
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Put { key, value } => write!(
                f,
                "put {} ({} bytes)",
                String::from_utf8_lossy(key),
                value.len()
            ),
            Request::Delete { key } => write!(f, "delete {}", String::from_utf8_lossy(key)),
        }
    }
}

/// Where a node listens: its client API and its Raft traffic (both `host:port`, HTTP/1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAddr {
    /// The client API (`kv --cluster` talks to this).
    pub api_addr: String,
    /// Raft RPCs between nodes.
    pub raft_addr: String,
}

impl NodeAddr {
    /// Both addresses.
    pub fn new(api_addr: impl Into<String>, raft_addr: impl Into<String>) -> NodeAddr {
        NodeAddr {
            api_addr: api_addr.into(),
            raft_addr: raft_addr.into(),
        }
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "api={} raft={}", self.api_addr, self.raft_addr)
    }
}

openraft::declare_raft_types!(
    /// The replicated store's Raft types: [`Request`] entries, `()` responses, `u64` node ids,
    /// [`NodeAddr`] nodes, tokio.
    pub TypeConfig:
        D = Request,
        R = (),
        NodeId = NodeId,
        Node = NodeAddr,
);

/// A log id (leader id and index).
pub type LogId = openraft::type_config::alias::LogIdOf<TypeConfig>;
/// A vote.
pub type Vote = openraft::type_config::alias::VoteOf<TypeConfig>;
/// A log entry.
pub type Entry = openraft::type_config::alias::EntryOf<TypeConfig>;
/// A membership config with the log id that set it.
pub type StoredMembership = openraft::type_config::alias::StoredMembershipOf<TypeConfig>;
/// A snapshot's metadata.
pub type SnapshotMeta = openraft::type_config::alias::SnapshotMetaOf<TypeConfig>;
/// A snapshot: metadata and the encoded data (see `docs/replication.md`, "snapshot file").
pub type Snapshot = openraft::type_config::alias::SnapshotOf<TypeConfig, Vec<u8>>;
/// The Raft handle of this store.
pub type Raft = openraft::Raft<TypeConfig, crate::KvStateMachine>;
