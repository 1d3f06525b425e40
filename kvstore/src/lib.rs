//! `kvstore`: the embeddable LSM key-value engine.
//!
//! Writes go to the write-ahead log (the `wal` crate, with group commit) and then to a
//! memtable; a full memtable is frozen and a background thread flushes it to a level-0
//! SSTable, recorded in a manifest, after which the WAL segments behind it are deleted.
//! Background threads compact the levels (leveled compaction, the `compaction` crate's picker
//! and merge job), and writes slow down or stop when compaction falls behind. Reads look at
//! the memtable, the frozen memtables, level 0 newest first, then deeper levels; range reads
//! merge all of them at a snapshot. Open replays the manifest, then the WAL.
//!
//! Read the write path top to bottom in `write.rs` -> `flush.rs` -> `version_set.rs`,
//! compaction in `compact_thread.rs` -> `compact.rs` (flow control in `flow.rs`), the read
//! path in `read.rs` and `level_iter.rs`, recovery in `recovery.rs`; the manifest format is
//! in `docs/manifest-format.md`.
//!
//! ```
//! use kvstore::{Db, FsyncPolicy};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let db = Db::builder(dir.path())
//!     .memtable_size_bytes(1 << 20)
//!     .fsync_policy(FsyncPolicy::Batch(Duration::from_millis(5)))
//!     .open()?;
//! db.put(b"user:1", b"ada")?;
//! db.put(b"user:2", b"grace")?;
//! db.delete(b"user:1")?;
//! let mut batch = db.batch();
//! batch.put(b"user:3", b"edsger").delete(b"user:2");
//! batch.commit()?;                                   // atomic
//!
//! let snap = db.snapshot();                          // a frozen view
//! db.put(b"user:4", b"barbara")?;
//! assert_eq!(snap.get(b"user:4")?, None);
//!
//! db.flush()?;                                       // memtable -> level-0 table
//! let keys: Vec<Vec<u8>> = db.prefix(b"user:").rev().map(|r| r.map(|(k, _)| k)).collect::<Result<_, _>>()?;
//! assert_eq!(keys, [b"user:4".to_vec(), b"user:3".to_vec()]);
//! for item in db.range(b"user:3".as_slice()..b"user:9".as_slice()) {
//!     let (_key, _value) = item?;
//! }
//! db.persist()?;                                     // durable now, whatever the policy
//! assert_eq!(db.stats().levels[0].files, 1);
//! db.compact()?;                                     // or compact_range(a..b); usually left
//! assert_eq!(db.stats().levels[0].files, 0);         // to the background threads
//! # Ok::<(), kvstore::Error>(())
//! ```
#![forbid(unsafe_code)]

mod batch;
mod checkpoint;
mod compact;
mod compact_thread;
mod db;
mod engine;
mod error;
pub mod filename;
mod flow;
mod flush;
pub mod format;
mod freeze_point;
mod inserted;
mod level_iter;
pub mod manifest;
mod options;
mod read;
mod recovery;
mod replay;
mod snapshot;
mod stats;
pub mod version;
pub mod version_edit;
pub mod version_set;
mod write;

pub use batch::WriteBatch;
pub use db::Db;
pub use error::{Error, Result};
pub use options::{CompactionOptions, DbBuilder, FsyncPolicy, Options};
pub use read::{DbIter, KeyRange};
pub use snapshot::Snapshot;
pub use sstable::TableOptions;
pub use stats::{LevelStats, Stats};

/// The README's Rust examples (the engine and the WAL quickstarts), compiled and run as doctests
/// so the first page a user reads never rots.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
