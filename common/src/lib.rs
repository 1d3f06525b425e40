//! The shared base of the engine: what more than one crate needs, and nothing more.
//!
//! - [`fs`]: the file-system seam. All file I/O of `wal`, `sstable` and `kvstore` goes through
//!   [`FileSystem`], so tests can swap the real disk ([`RealFs`]) for a simulated one that keeps
//!   only synced bytes across a "crash" ([`MemFs`]), or one that fails a chosen operation
//!   ([`FaultyFs`]).
//! - [`coding`]: little-endian fixed-width integers and LEB128 varints.
//! - [`checksum`]: crc32c, as every on-disk format of the engine uses it.
//! - [`ikey`]: the internal key (user key, sequence number, kind) and its ordering.
//! - [`iter`]: the double-ended cursor over internal keys that memtables, tables and merges share.
//! - [`merge`]: the k-way [`MergingIterator`] over cursors (the read path and compaction).
//! - [`visible`]: [`VisibleIter`], user-level `(key, value)` pairs at a snapshot within bounds.
//!
//! ```
//! use common::{FileSystem, MemFs};
//! use std::path::Path;
//!
//! let fs = MemFs::new();
//! fs.create_dir_all(Path::new("/db")).unwrap();
//! let mut f = fs.create(Path::new("/db/a")).unwrap();
//! f.append(b"hello").unwrap();
//! f.sync_data().unwrap();
//! fs.sync_dir(Path::new("/db")).unwrap();
//! let crashed = fs.crash();                       // what a power cut leaves
//! let r = crashed.open_read(Path::new("/db/a")).unwrap();
//! assert_eq!(r.len().unwrap(), 5);
//! ```
#![deny(unsafe_code)]

pub mod checksum;
pub mod coding;
pub mod fs;
pub mod ikey;
pub mod iter;
pub mod merge;
pub mod visible;

pub use fs::{
    fault::{FaultKind, FaultyFs, Op},
    mem::MemFs,
    real::RealFs,
    DirLock, FileSystem, RandomAccessFile, WritableFile,
};
pub use ikey::{InternalKey, SeqNo, ValueKind, MAX_SEQNO};
pub use iter::{InternalIterator, Lookup};
pub use merge::MergingIterator;
pub use visible::VisibleIter;
