//! The store replicated on [openraft](https://docs.rs/openraft): the `wal` crate is the Raft
//! log ([`WalLogStore`]), `kvstore` is the state machine ([`KvStateMachine`]), nodes and
//! clients talk JSON over HTTP/1.1 ([`wire`]: `POST /api`, `GET /status`, `POST /raft/...`).
//! A [`Node`] is what `kv serve` runs; a
//! [`ClusterClient`] is what `kv --cluster ...` and `kv cluster ...` use. Guarantees, disk
//! layout, formats and limits: `docs/replication.md`.
//!
//! - Writes go through the leader and return once committed by a majority and applied.
//! - Reads are linearizable (read index on the leader) unless `stale_ok`, which reads the
//!   answering node's own state.
//! - Membership: [`ClusterClient::add_learner`], [`ClusterClient::change_membership`];
//!   a node started with `join` adds itself.
//!
//! ```
//! use replication::{ClusterClient, Node, NodeConfig};
//!
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), replication::Error> {
//! let dir = tempfile::tempdir()?;
//! // A one-node cluster on free loopback ports; more nodes would pass `join`.
//! let node = Node::start(NodeConfig::new(1, "127.0.0.1:0", "127.0.0.1:0", dir.path())).await?;
//! let client = ClusterClient::new([node.api_addr().to_string()]);
//! client.put(b"greeting", b"hello").await?;
//! assert_eq!(client.get(b"greeting", false).await?, Some(b"hello".to_vec()));
//! client.delete(b"greeting").await?;
//! assert_eq!(client.get(b"greeting", true).await?, None);
//! let status = client.status().await?;
//! assert_eq!((status.leader, status.voters.len()), (Some(1), 1));
//! node.stop().await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
mod client;
mod error;
mod files;
pub mod format;
mod http_client;
mod log_store;
pub mod network;
mod node;
mod raft_service;
mod server;
mod service;
mod state_machine;
mod types;
pub mod wire;

pub use api::{ClusterStatus, MembershipChange};
pub use client::ClusterClient;
pub use error::{Error, Result};
pub use log_store::WalLogStore;
pub use node::{open_storage, Node, NodeConfig, RaftSettings};
pub use service::status_of;
pub use state_machine::{
    ApplyStats, KvStateMachine, LAST_APPLIED_KEY, MAX_ENTRY_BYTES, MEMBERSHIP_KEY, RESERVED_PREFIX,
    SNAPSHOT_FILE,
};
pub use types::{
    Entry, LogId, NodeAddr, NodeId, Raft, Request, Snapshot, SnapshotMeta, StoredMembership,
    TypeConfig, Vote,
};
