//! The examples' one error type.

use std::path::PathBuf;

/// Everything the example programs can fail with. Damage names the file and offset (for a
/// record in the log: its segment file and the record's offset there).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The log failed (I/O, corruption, a closed or poisoned log).
    #[error("WAL: {0}")]
    Wal(#[from] wal::Error),
    /// A file operation outside the log failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Bytes that are not what the program wrote.
    #[error("corruption in {file} at offset {offset}: {reason}")]
    Corruption {
        /// The file.
        file: PathBuf,
        /// Byte offset in the file.
        offset: u64,
        /// What was expected and what was found.
        reason: String,
    },
    /// A checksum over a file's bytes does not match.
    #[error("checksum mismatch in {file} at offset {offset}: stored {expected:#010x}, computed {actual:#010x}")]
    ChecksumMismatch {
        /// The file.
        file: PathBuf,
        /// Where the checksummed bytes start.
        offset: u64,
        /// The stored checksum.
        expected: u32,
        /// The checksum of the bytes as read.
        actual: u32,
    },
    /// A request the program refuses (it would break the pattern's invariant).
    #[error("invalid request: {0}")]
    Invalid(String),
}

/// The examples' result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A record of the log at `at` in log directory `dir` whose value does not decode.
    pub fn bad_record(dir: &std::path::Path, at: wal::Position, reason: impl ToString) -> Error {
        Error::Corruption {
            file: dir.join(wal::format::segment_file_name(at.segment_id())),
            offset: at.offset(),
            reason: reason.to_string(),
        }
    }
}
