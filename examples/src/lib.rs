//! The WAL guide's use cases as small, complete, tested programs. Each module is one pattern,
//! with a doc comment saying when to use it and which [`wal::FsyncPolicy`] fits and why; each
//! has a thin binary in `src/bin/` (`cargo run -p examples --bin <name> [DIR]`) and tests in
//! `tests/`. `docs/when-to-use.md` ties them together.
//!
//! | module | pattern | policy |
//! |---|---|---|
//! | [`kv_store`] | map rebuilt by replay, tombstones, snapshot + log compaction | `Always` |
//! | [`event_sourcing`] | typed events, two projections, time travel | `Always` |
//! | [`job_queue`] | producers, consumers with durable offsets, no polling, retention | `Always` |
//! | [`tx_log`] | multi-record transactions, all or nothing after a crash | `Always` |
//! | [`raft_log`] | term + index, conflicting suffix truncated, snapshot, restart | `Always` |
//! | [`session_store`] | frequent small updates, the last 10 ms may go | `Batch(10ms)` |
//! | [`persistent_cache`] | cache that survives restarts as of its last snapshot | `Os` |
//! | [`metrics_log`] | samples, one fsync per batch | `Os` + `sync()` |
//! | [`large_values`] | blobs beside the log, small records naming them | `Always` |
//!
//! Shared pieces: [`durable_file`] (small files replaced by write-temp, fsync, rename,
//! fsync-dir) and [`setup`]. All file I/O goes through `common::FileSystem`, so the tests run
//! every program on `common::MemFs` and cut the power with `MemFs::crash`.
//!
//! ```
//! use examples::kv_store::KvStore;
//! use common::MemFs;
//! use std::path::Path;
//! use wal::FsyncPolicy;
//!
//! let fs = MemFs::new();
//! let (mut kv, _) = KvStore::open(fs.shared(), Path::new("/kv"), FsyncPolicy::Always, 4096)?;
//! kv.put(b"k", b"v")?;
//! let crashed = fs.crash(); // a power cut: only synced bytes remain
//! let (kv, recovered) = KvStore::open(crashed.shared(), Path::new("/kv"), FsyncPolicy::Always, 4096)?;
//! assert_eq!((kv.get(b"k"), recovered.replayed_records), (Some(&b"v"[..]), 1));
//! # Ok::<(), examples::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod durable_file;
mod error;
pub mod event_sourcing;
pub mod job_queue;
pub mod kv_store;
pub mod large_values;
pub mod metrics_log;
pub mod persistent_cache;
pub mod raft_log;
pub mod session_store;
pub mod setup;
pub mod tx_log;

pub use error::{Error, Result};
