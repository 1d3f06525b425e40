//! The crate's one error type.

use crate::Position;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the log. Corruption errors name the segment file and offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation failed (the message names the file where the file system knows it).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// Bytes that are not what the format says, at `offset` of `file`.
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        /// The segment file.
        file: PathBuf,
        /// Byte offset in the file.
        offset: u64,
        /// What was expected and what was found.
        reason: String,
    },
    /// A frame whose crc32c does not match its bytes.
    #[error("checksum mismatch in {file} at offset {offset}: stored {expected:#010x}, computed {actual:#010x}")]
    ChecksumMismatch {
        /// The segment file.
        file: PathBuf,
        /// Byte offset of the frame in the file.
        offset: u64,
        /// The crc stored in the frame.
        expected: u32,
        /// The crc of the bytes as read.
        actual: u32,
    },
    /// A file in the log directory that is not a segment of this format (or the LOCK file).
    #[error("foreign file in the WAL directory: {file}: {reason}")]
    ForeignFile {
        /// The file.
        file: PathBuf,
        /// Why it is not ours.
        reason: String,
    },
    /// A segment written by a format version this code does not know.
    #[error("{file}: unsupported WAL format version {version}")]
    UnsupportedVersion {
        /// The segment file.
        file: PathBuf,
        /// The version it names.
        version: u32,
    },
    /// A record larger than `max_record_bytes`; nothing was written.
    #[error("record of {size} bytes exceeds max_record_bytes ({max}); nothing was written")]
    RecordTooLarge {
        /// Key plus value bytes.
        size: u64,
        /// The configured limit.
        max: u64,
    },
    /// Another process (or handle) holds the directory's lock.
    #[error("the WAL directory {dir} is locked by another process")]
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// A write or fsync failed earlier; the log accepts no more writes, ever.
    #[error("the WAL is poisoned by an earlier failure and accepts no more writes: {cause}")]
    Poisoned {
        /// The failure that poisoned it.
        cause: String,
    },
    /// The log was closed.
    #[error("the WAL is closed")]
    Closed,
    /// A position that names no record of this log.
    #[error("invalid position {position}: {reason}")]
    InvalidPosition {
        /// The position given.
        position: Position,
        /// Why it is invalid.
        reason: String,
    },
    /// A position in a segment that `delete_segments_before` removed.
    #[error("position {position} is in a deleted segment; the oldest readable position is {first_available}")]
    PositionDeleted {
        /// The position asked for.
        position: Position,
        /// The first position still in the log.
        first_available: Position,
    },
    /// The reader stood after a point that `truncate_after` cut away; open a new reader.
    #[error("records after {cut} were truncated while this reader stood at {position}")]
    Truncated {
        /// The reader's position.
        position: Position,
        /// The end of the kept log.
        cut: Position,
    },
    /// A configuration value out of range.
    #[error("invalid WAL configuration: {0}")]
    InvalidConfig(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
