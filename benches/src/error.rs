//! The crate's one error type.

/// What can go wrong while running a benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine under test failed an operation.
    #[error("{engine}: {op} failed: {source}")]
    Engine {
        /// The engine's name.
        engine: &'static str,
        /// The operation (`put`, `get`, `scan`, ...).
        op: &'static str,
        /// The engine's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read returned something other than what the workload wrote: the engine is wrong.
    #[error("{engine}: wrong result for key {key:?}: {reason}")]
    WrongResult {
        /// The engine's name.
        engine: &'static str,
        /// The key (lossy UTF-8).
        key: String,
        /// What was expected and what came back.
        reason: String,
    },
    /// A configuration value is out of range.
    #[error("invalid benchmark setting {name}: {reason}")]
    InvalidConfig {
        /// The setting.
        name: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// A name that is not a known workload or engine.
    #[error("unknown {what} {name:?} (known: {known})")]
    Unknown {
        /// `workload` or `engine`.
        what: &'static str,
        /// The name given.
        name: String,
        /// The known names, comma separated.
        known: String,
    },
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an engine's error.
    pub fn engine(
        engine: &'static str,
        op: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Engine {
            engine,
            op,
            source: Box::new(source),
        }
    }
}
