//! The engine's one error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file's bytes are not what the format allows.
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        /// The file.
        file: PathBuf,
        /// Where in the file.
        offset: u64,
        /// What was expected.
        reason: String,
    },
    /// A checksum did not match the bytes it covers.
    #[error("checksum mismatch in {file} at offset {offset}: expected {expected:#010x}, found {actual:#010x}")]
    ChecksumMismatch {
        /// The file.
        file: PathBuf,
        /// Where the checksummed bytes start.
        offset: u64,
        /// The checksum stored in the file.
        expected: u32,
        /// The checksum of the bytes read.
        actual: u32,
    },
    /// A file was written by a format version this build does not know.
    #[error("{file}: unsupported format version {version}")]
    UnsupportedVersion {
        /// The file.
        file: PathBuf,
        /// The version it claims.
        version: u32,
    },
    /// An option is out of its allowed range; nothing was opened.
    #[error("invalid option {name}: {reason}")]
    InvalidOption {
        /// The option's name, as the builder spells it.
        name: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// Another process has the database open, or this one does: a `Db` handle, or an
    /// iterator or snapshot taken from one (they keep the database open after the last `Db`
    /// handle is dropped, until they are dropped too).
    #[error(
        "database at {path} is locked: another process has it open, or this one does (a Db \
         handle, or an iterator or snapshot that outlived its Db): {source}"
    )]
    Locked {
        /// The database directory.
        path: PathBuf,
        /// The error the lock returned.
        #[source]
        source: io::Error,
    },
    /// The database directory does not hold a database and `create_if_missing` is off.
    #[error("no database at {path}")]
    NotFound {
        /// The database directory.
        path: PathBuf,
    },
    /// An earlier write, flush or manifest update failed; the engine refuses further writes
    /// rather than risk acknowledging what it cannot make durable. Reopen to recover.
    #[error("database is poisoned by an earlier failure: {0}")]
    Poisoned(String),
    /// The write-ahead log failed (its error names the segment file where it knows it).
    #[error("WAL: {0}")]
    Wal(#[from] wal::Error),
    /// A table could not be written or read; the error names the table file (a checksum
    /// failure of a block is reported, never skipped).
    #[error("table: {0}")]
    Table(#[from] sstable::Error),
    /// A key plus value larger than `max_value_bytes`; nothing was written.
    #[error("write of {size} bytes exceeds max_value_bytes ({max}); nothing was written")]
    TooLarge {
        /// Key plus value bytes.
        size: u64,
        /// The configured limit.
        max: u64,
    },
    /// A checkpoint's destination already holds files.
    #[error("checkpoint destination {path} is not empty")]
    DestinationNotEmpty {
        /// The destination directory.
        path: PathBuf,
    },
    /// A compaction could not be decided or run (its error names the table where it knows it).
    #[error("compaction: {0}")]
    Compaction(#[from] compaction::Error),
    /// The database was closed (its last handle dropped) while this operation waited.
    #[error("database is closed")]
    Closed,
}

/// The engine's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A corruption error.
    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Error {
        Error::Corruption {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}
