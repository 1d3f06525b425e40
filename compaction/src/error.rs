//! The crate's one error type.

/// What can go wrong deciding or running a compaction.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An option is out of its allowed range.
    #[error("invalid compaction option {field}: {reason}")]
    InvalidOptions {
        /// The option's field name.
        field: &'static str,
        /// Why the value was refused.
        reason: String,
    },
    /// A level shape breaks the invariants of [`crate::Levels`].
    #[error("invalid levels: {reason}")]
    InvalidLevels {
        /// Which invariant, and where.
        reason: String,
    },
    /// A task does not fit the tree or the call it was given to.
    #[error("invalid compaction task: {reason}")]
    InvalidTask {
        /// What did not fit.
        reason: String,
    },

    /// The job's cancel flag was set; its outputs were removed.
    #[error("compaction cancelled")]
    Cancelled,
    /// Reading an input table, or writing an output table, failed.
    #[error(transparent)]
    Table(#[from] sstable::Error),
    /// An input table yielded entries out of internal-key order (or one internal key twice):
    /// its bytes are wrong, and nothing was written.
    #[error("{}: entries out of order: {key:?} after {previous:?}", file.display())]
    InputOutOfOrder {
        /// The input table the later entry came from.
        file: std::path::PathBuf,
        /// The entry before (its kind is not tracked and shown as a put).
        previous: common::InternalKey,
        /// The entry that does not sort after it.
        key: common::InternalKey,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
