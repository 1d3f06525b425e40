//! The crate's error type.

use std::path::PathBuf;

/// What can go wrong in the replicated store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The Raft log (the `wal` crate) failed.
    #[error("raft log: {0}")]
    Wal(#[from] wal::Error),
    /// The state machine's store (the `kvstore` crate) failed.
    #[error("state machine store: {0}")]
    Store(#[from] kvstore::Error),
    /// A file or socket operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Bytes on disk are not what the format says (see `docs/replication.md`).
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        /// The file.
        file: PathBuf,
        /// The byte offset of the damage.
        offset: u64,
        /// What was expected.
        reason: String,
    },
    /// A checksum does not match.
    #[error("checksum mismatch in {file} at offset {offset}: expected {expected:#010x}, found {actual:#010x}")]
    ChecksumMismatch {
        /// The file.
        file: PathBuf,
        /// The byte offset of the checksummed region.
        offset: u64,
        /// The stored checksum.
        expected: u32,
        /// The computed checksum.
        actual: u32,
    },
    /// A key under the reserved prefix `\x00raft/` was given by a client.
    #[error("keys starting with \\x00raft/ are reserved for the replication metadata")]
    ReservedKey,
    /// The node asked is not the leader; `leader` is the one it knows of, if any.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader's id and client address, if known.
        leader: Option<(u64, String)>,
    },
    /// No node of the cluster could serve the request.
    #[error("no node of the cluster answered: {0}")]
    Unavailable(String),
    /// Raft refused or failed the operation.
    #[error("raft: {0}")]
    Raft(String),
    /// A message on the wire could not be decoded or was too large.
    #[error("protocol: {0}")]
    Protocol(String),
    /// Bad configuration or arguments.
    #[error("invalid: {0}")]
    Invalid(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// As an `io::Error`, the error type of openraft's storage traits.
    pub fn into_io(self) -> std::io::Error {
        match self {
            Error::Io(e) => e,
            other => std::io::Error::other(other),
        }
    }
}
