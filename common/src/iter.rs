//! The cursor that the memtable, SSTables and the engine's merging iterator share.
//!
//! Entries come in internal-key order (see [`crate::ikey`]): user key ascending, then sequence
//! number descending. A cursor is either positioned on one entry (`valid()`) or not. Moving can
//! fail (an SSTable block fails its checksum); after an error the cursor is invalid and the
//! error must be reported, never skipped.

use crate::ikey::{InternalKey, SeqNo, ValueKind};

/// A double-ended cursor over entries in internal-key order.
pub trait InternalIterator: Send {
    /// The error a move can return.
    type Error;
    /// Whether the cursor is on an entry.
    fn valid(&self) -> bool;
    /// Moves to the first entry.
    fn seek_to_first(&mut self) -> Result<(), Self::Error>;
    /// Moves to the last entry.
    fn seek_to_last(&mut self) -> Result<(), Self::Error>;
    /// Moves to the first entry whose internal key is `>= target`.
    fn seek(&mut self, target: &InternalKey) -> Result<(), Self::Error>;
    /// Moves to the last entry whose internal key is `<= target`.
    fn seek_for_prev(&mut self, target: &InternalKey) -> Result<(), Self::Error>;
    /// Moves to the next entry (requires `valid()`).
    fn next(&mut self) -> Result<(), Self::Error>;
    /// Moves to the previous entry (requires `valid()`).
    fn prev(&mut self) -> Result<(), Self::Error>;
    /// The current entry's user key (requires `valid()`).
    fn user_key(&self) -> &[u8];
    /// The current entry's sequence number (requires `valid()`).
    fn seq(&self) -> SeqNo;
    /// The current entry's kind (requires `valid()`).
    fn kind(&self) -> ValueKind;
    /// The current entry's value; empty for a tombstone (requires `valid()`).
    fn value(&self) -> &[u8];
}

/// What a point lookup at a snapshot found in one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The newest visible version is a put with this value.
    Found(Vec<u8>),
    /// The newest visible version is a tombstone: stop looking in older sources.
    Deleted,
    /// This source holds no visible version: look in older sources.
    Absent,
}
