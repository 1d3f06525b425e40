//! The crate's one error type. Every error met while reading names the file and the byte offset
//! (of the block, or of the footer) where the bad bytes are.

use common::InternalKey;
use std::io;
use std::path::PathBuf;

/// What can go wrong writing or reading a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation on `file` failed.
    #[error("{}: I/O error ({op}): {source}", file.display())]
    Io {
        /// The table file.
        file: PathBuf,
        /// What was being done: "create", "append", "sync", "read block at 4096", ...
        op: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Bytes that passed their checksum (or have none) do not decode as the format says.
    #[error("{}: corruption at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The table file.
        file: PathBuf,
        /// Byte offset in the file of the bad bytes (or of the block holding them).
        offset: u64,
        /// What was expected and what was found.
        reason: String,
    },
    /// A block's (or the footer's) stored crc32c does not match its bytes.
    #[error(
        "{}: checksum mismatch in the {block} at offset {block_offset}: stored {expected:#010x}, computed {actual:#010x}",
        file.display()
    )]
    ChecksumMismatch {
        /// The table file.
        file: PathBuf,
        /// Which block: "data block", "index block", "filter block", "properties block", "footer".
        block: &'static str,
        /// Byte offset of the block in the file.
        block_offset: u64,
        /// The crc32c stored in the file.
        expected: u32,
        /// The crc32c computed over the bytes read.
        actual: u32,
    },
    /// The footer's magic number is wrong: not a table, or a truncated one.
    #[error(
        "{}: bad magic {found:#018x} at offset {offset} (not an sstable, or truncated)",
        file.display()
    )]
    BadMagic {
        /// The table file.
        file: PathBuf,
        /// Byte offset of the magic number.
        offset: u64,
        /// The eight bytes found there, read little-endian.
        found: u64,
    },
    /// The footer names a format version this code does not know.
    #[error("{}: unknown format version {version} (this code reads version {})", file.display(), crate::format::FORMAT_VERSION)]
    UnknownVersion {
        /// The table file.
        file: PathBuf,
        /// The version found.
        version: u32,
    },
    /// The builder was given a key not strictly greater than the previous one. Nothing was
    /// written for it.
    #[error("{}: key {key:?} added after {previous:?}: keys must be strictly increasing in internal-key order", file.display())]
    OutOfOrder {
        /// The table being built.
        file: PathBuf,
        /// The last key added.
        previous: InternalKey,
        /// The rejected key.
        key: InternalKey,
    },
    /// A caller error that is not about the file's bytes: a sequence number over 56 bits,
    /// finishing a table with no entries, using a builder after a failed write.
    #[error("{}: {reason}", file.display())]
    InvalidArgument {
        /// The table concerned.
        file: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Whether the error says the file's bytes are bad (as opposed to an I/O failure or a
    /// caller error).
    pub fn is_corruption(&self) -> bool {
        matches!(
            self,
            Error::Corruption { .. }
                | Error::ChecksumMismatch { .. }
                | Error::BadMagic { .. }
                | Error::UnknownVersion { .. }
        )
    }

    /// The file the error is about.
    pub fn file(&self) -> &std::path::Path {
        match self {
            Error::Io { file, .. }
            | Error::Corruption { file, .. }
            | Error::ChecksumMismatch { file, .. }
            | Error::BadMagic { file, .. }
            | Error::UnknownVersion { file, .. }
            | Error::OutOfOrder { file, .. }
            | Error::InvalidArgument { file, .. } => file,
        }
    }
}
