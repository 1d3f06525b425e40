//! A durable, segmented write-ahead log: append records, make them durable under a chosen
//! policy (with group commit), read them back from any position, tail it, recover it after a
//! crash. Async on tokio ([`Wal`]) and blocking ([`blocking::Wal`]) faces share one engine.
//!
//! - Durability: [`FsyncPolicy::Always`] (fdatasync before `append` returns, shared by
//!   concurrent appenders), [`FsyncPolicy::Batch`] (written to the OS before `append` returns, a
//!   background thread syncs within the interval), [`FsyncPolicy::Os`] (written to the OS before
//!   `append` returns, durable on `sync`, `close`, rotation). Under every policy an acknowledged
//!   append survives a process crash; a power loss keeps what the policy had fsynced (the
//!   table on [`FsyncPolicy`]). A failed write or fsync poisons the log: every later write
//!   returns [`Error::Poisoned`], and so does a wait for a record not yet durable; a wait for
//!   one made durable before the failure returns `Ok`.
//! - Format: segments of `segment_size_bytes`, each a header and crc32c-framed records;
//!   specified byte by byte in `docs/wal-format.md` (see [`mod@format`]).
//! - Recovery: a torn tail is cut back to the last whole batch; damage elsewhere is an error
//!   naming the file and offset, or skipped and reported ([`RecoveryMode`]).
//! - Replay for recovery: [`blocking::Wal::replay_from`] reads, checksums and decodes on a
//!   thread of its own and hands over [`RecordBatch`]es of borrowed [`RecordRef`]s.
//! - Replay in place: [`blocking::Wal::replay_mapped`] maps the segments and gives each
//!   record's key and value as byte ranges in them ([`MappedReplay`]), for an engine that keeps
//!   recovered records where they are.
//! - Two-phase appends for engines that order their own sequence numbers with the log:
//!   [`Wal::append_no_wait`] then [`Wal::wait_durable`] (on the blocking face,
//!   [`blocking::Wal::append_for_wait_with`] when the wait surely follows: the background
//!   thread is then not woken to write the bytes).
//!
//! ```
//! use std::time::Duration;
//! use wal::{FsyncPolicy, Position, Record, Wal, WalConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let config = WalConfig { dir: dir.path().into(), fsync_policy: FsyncPolicy::Batch(Duration::from_millis(5)), ..Default::default() };
//! let (wal, info) = Wal::open(config).await?;
//! assert_eq!(info.records_read, 0);
//! let pos = wal.append(&Record::put(b"k", b"v")).await?;
//! wal.append(&Record::delete(b"k")).await?;
//! let batch = wal.append_batch(&[Record::put(b"a", b"1"), Record::put(b"b", b"2")]).await?;
//! wal.sync().await?;
//! let mut reader = wal.read_from(Position::start()).await?;
//! let mut seen = Vec::new();
//! while let Some((record, at)) = reader.next_record().await? {
//!     seen.push((record.key, record.tombstone, at));
//! }
//! assert_eq!(seen.len(), 4);
//! assert_eq!(seen[0], (b"k".to_vec(), false, pos));
//! assert_eq!(seen[3].2, batch[1]);
//! let start = wal.rotate().await?;
//! assert_eq!(wal.current_position(), start);
//! wal.delete_segments_before(start).await?;
//! wal.close().await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blocking;
mod config;
mod engine;
mod error;
pub mod format;
mod frames;
mod gather;
mod group_write;
mod handle;
mod maintenance;
mod mapped_replay;
mod position;
mod reader;
mod record;
mod record_ref;
mod recovery;
mod replay;
mod segment;
mod sleepers;
mod sync_thread;
mod wal;
mod writer;

pub use config::{
    Compression, FsyncPolicy, RecoveryMode, WalConfig, DEFAULT_WAIT_SPIN, PREALLOCATE_STEP,
};
pub use error::{Error, Result};
pub use mapped_replay::{MappedRecord, MappedReplay, MappedStep};
pub use position::Position;
pub use record::{AsRecord, Record};
pub use record_ref::RecordRef;
pub use recovery::{RecoveryInfo, SkippedRange};
pub use replay::{RecordBatch, Replay};
pub use segment::LOCK_FILE;
pub use wal::{Reader, Wal};
