//! Immutable sorted tables (SSTables): the files the engine flushes memtables into and
//! compaction merges.
//!
//! A table holds entries in internal-key order (user key ascending, sequence number
//! descending) in data blocks with prefix-compressed keys and restart points, each block lz4
//! compressed where that helps and guarded by a crc32c; an index block, a bloom filter block
//! over the user keys, a properties block and a footer with magic and format version. The
//! format is specified byte by byte in `docs/sstable-format.md`.
//!
//! - [`TableBuilder`] writes a table (keys strictly increasing; the file is fsynced by
//!   [`TableBuilder::finish`]).
//! - [`Table`] reads one: point lookups at a snapshot ([`Table::get`]), a double-ended cursor
//!   ([`Table::iter`], a [`common::InternalIterator`]), and a full check ([`Table::verify`]).
//! - [`BlockCache`] is the byte-bounded block cache all tables of an engine share.
//!
//! ```
//! use common::{InternalIterator, InternalKey, Lookup, MemFs, ValueKind};
//! use sstable::{BlockCache, Table, TableBuilder, TableOptions};
//! use std::path::Path;
//!
//! let fs = MemFs::new().shared();
//! let path = Path::new("/000001.sst");
//! let mut b = TableBuilder::new(fs.clone(), path, TableOptions::default()).unwrap();
//! b.add(&InternalKey::new(*b"apple", 7, ValueKind::Put), b"red").unwrap();
//! b.add(&InternalKey::new(*b"apple", 3, ValueKind::Put), b"green").unwrap();
//! b.add(&InternalKey::new(*b"pear", 5, ValueKind::Delete), b"").unwrap();
//! let props = b.finish().unwrap();
//! assert_eq!((props.entries, props.tombstones), (3, 1));
//!
//! let cache = BlockCache::new(8 << 20);
//! let table = Table::open(fs, path, 1, Some(cache)).unwrap();
//! assert_eq!(table.get(b"apple", 10).unwrap(), Lookup::Found(b"red".to_vec()));
//! assert_eq!(table.get(b"apple", 5).unwrap(), Lookup::Found(b"green".to_vec()));
//! assert_eq!(table.get(b"pear", 9).unwrap(), Lookup::Deleted);
//! assert_eq!(table.get(b"plum", 9).unwrap(), Lookup::Absent);
//!
//! let mut it = table.iter();
//! it.seek_to_last().unwrap();
//! assert_eq!((it.user_key(), it.kind()), (&b"pear"[..], ValueKind::Delete));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod block;
pub mod block_builder;
pub mod block_iter;
mod block_sink;
pub mod cache;
mod error;
pub mod filter;
pub mod format;
pub mod fuzz;
pub mod index;
mod lz4;
pub mod properties;
pub mod table_builder;
pub mod table_iter;
pub mod table_reader;

pub use cache::BlockCache;
pub use error::{Error, Result};
pub use format::{Compression, FORMAT_VERSION, MAGIC};
pub use fuzz::{
    fuzz_decode_block, fuzz_decode_footer, fuzz_decode_index, fuzz_decode_table,
    fuzz_decode_table_edits,
};
pub use index::{Index, IndexEntry};
pub use properties::TableProperties;
pub use table_builder::{TableBuilder, TableOptions};
pub use table_iter::TableIterator;
pub use table_reader::{Table, VerifyReport};
