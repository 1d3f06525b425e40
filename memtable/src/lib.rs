//! The memtable: the engine's in-memory write buffer.
//!
//! A [`MemTable`] maps internal keys (user key, sequence number, kind) to values in a lock-free
//! skip list (`crossbeam-skiplist`), so many threads insert and read at once without a global
//! lock. It keeps an estimate of its size in bytes ([`MemTable::approximate_size_bytes`]: keys,
//! values and [`ENTRY_OVERHEAD_BYTES`] per entry, more for long keys: [`entry_charge`]) so the engine can tell when it is full.
//!
//! - [`MemTable::get`] answers a point lookup at a snapshot: found, deleted, or absent.
//! - [`RunBuilder`] makes a frozen memtable at once from records that sit in memory already
//!   (a recovered log's mapped segments): sorted places, no copies, no inserts.
//! - [`MemTable::iter`] gives a [`MemTableIter`], a double-ended
//!   [`common::InternalIterator`] that owns an `Arc` of the table and never fails.
//!
//! The memtable has no fallible operation and so no error type; its cursor's error type is
//! [`std::convert::Infallible`].
//!
//! ```
//! use common::{InternalIterator, Lookup, ValueKind};
//! use memtable::MemTable;
//! use std::sync::Arc;
//!
//! let mt = Arc::new(MemTable::new(1));
//! mt.insert(b"apple", 1, ValueKind::Put, b"red");
//! mt.insert(b"apple", 3, ValueKind::Delete, b"");
//! mt.insert(b"pear", 2, ValueKind::Put, b"green");
//!
//! assert_eq!(mt.get(b"apple", 2), Lookup::Found(b"red".to_vec()));
//! assert_eq!(mt.get(b"apple", 3), Lookup::Deleted);
//! assert_eq!(mt.get(b"plum", 9), Lookup::Absent);
//! assert_eq!((mt.len(), mt.min_seq(), mt.max_seq()), (3, Some(1), Some(3)));
//!
//! // Every version, newest first within a key; then backward from the end.
//! let mut it = mt.iter();
//! it.seek_to_first().unwrap();
//! let mut seen = Vec::new();
//! while it.valid() {
//!     seen.push((it.user_key().to_vec(), it.seq()));
//!     it.next().unwrap();
//! }
//! assert_eq!(seen, [(b"apple".to_vec(), 3), (b"apple".to_vec(), 1), (b"pear".to_vec(), 2)]);
//! it.seek_to_last().unwrap();
//! assert_eq!(it.user_key(), b"pear");
//! ```
// `unsafe` only in arena.rs (the values' bump arena; see its safety model and measurements),
// long_key.rs (a long key in one heap block behind a thin pointer; measured there) and
// bucket_sort.rs (one `set_len` over slots all written; measured there).
#![deny(unsafe_code)]

mod arena;
mod bucket_sort;
mod iter;
mod key;
mod long_key;
mod memtable;
mod prepared;
mod run;

pub use iter::{MemTableIter, MAX_WINDOW, MIN_WINDOW};
pub use memtable::{entry_charge, MemTable, ENTRY_OVERHEAD_BYTES, LONG_KEY_OVERHEAD_BYTES};
pub use prepared::Prepared;
pub use run::{RunBuilder, RunBytes, RunPart, RUN_ENTRY_BYTES};
