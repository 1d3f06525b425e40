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
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;
