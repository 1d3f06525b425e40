//! The store replicated on openraft: the `wal` crate is the Raft log, `kvstore` the state
//! machine.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
mod client;
mod error;
mod files;
pub mod format;
mod log_store;
pub mod network;
mod node;
mod state_machine;
mod types;
pub mod wire;

pub use api::{ClusterStatus, MembershipChange};
pub use client::ClusterClient;
pub use error::{Error, Result};
pub use log_store::WalLogStore;
pub use node::{open_storage, status_of, Node, NodeConfig, RaftSettings};
pub use state_machine::{
    ApplyStats, KvStateMachine, LAST_APPLIED_KEY, MEMBERSHIP_KEY, RESERVED_PREFIX, SNAPSHOT_FILE,
};
pub use types::{
    Entry, LogId, NodeAddr, NodeId, Raft, Request, Snapshot, SnapshotMeta, StoredMembership,
    TypeConfig, Vote,
};
