//! Why a command failed, and the exit code each reason gets (documented in `kv --help`).

use std::fmt;
use std::path::Path;

/// A failed command: one line for stderr and an exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit 1: the key is not there.
    NotFound,
    /// Exit 2: the command line or the input is wrong; nothing was changed.
    Usage(String),
    /// Exit 3: the store could not do it (missing, locked, I/O, corrupt, unsound, data lost).
    Storage(String),
    /// Exit 0, silently: the reader of our output went away (`kv scan | head`).
    OutputClosed,
}

/// A failed write to stdout: a closed pipe ends the command quietly, anything else is an error.
pub fn out_err(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::OutputClosed
    } else {
        Failure::storage(format!("cannot write to stdout: {e}"))
    }
}

/// The CLI's result type.
pub type Outcome<T = ()> = Result<T, Failure>;

impl Failure {
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::OutputClosed => 0,
            Failure::NotFound => 1,
            Failure::Usage(_) => 2,
            Failure::Storage(_) => 3,
        }
    }

    /// A usage failure.
    pub fn usage(msg: impl Into<String>) -> Failure {
        Failure::Usage(msg.into())
    }

    /// A storage failure.
    pub fn storage(msg: impl Into<String>) -> Failure {
        Failure::Storage(msg.into())
    }

    /// An engine error met while working on the store in `dir`, in words a user can act on.
    pub fn from_db(dir: &Path, e: kvstore::Error) -> Failure {
        use kvstore::Error as E;
        let corrupt = match &e {
            E::Corruption { .. } | E::ChecksumMismatch { .. } | E::UnsupportedVersion { .. } => {
                true
            }
            E::Table(t) => t.is_corruption(),
            E::Wal(w) => matches!(
                w,
                wal::Error::Corruption { .. }
                    | wal::Error::ChecksumMismatch { .. }
                    | wal::Error::ForeignFile { .. }
                    | wal::Error::UnsupportedVersion { .. }
            ),
            _ => false,
        };
        if let E::TooLarge { .. } | E::InvalidOption { .. } = &e {
            return Failure::Usage(e.to_string());
        }
        let msg = match &e {
            E::Locked { path, .. } => format!(
                "store {} is locked by another process (it is open elsewhere; close that first)",
                path.display()
            ),
            E::Wal(wal::Error::Locked { dir }) => format!(
                "store {} is locked by another process (its WAL {} is held)",
                dir.parent().unwrap_or(dir).display(),
                dir.display()
            ),
            E::NotFound { path } => format!("no store at {}", path.display()),
            _ if corrupt => format!(
                "store {} is corrupt: {e}; run `kv verify --dir {}` for a full report",
                dir.display(),
                dir.display()
            ),
            _ => format!("store {}: {e}", dir.display()),
        };
        Failure::Storage(msg)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NotFound => f.write_str("not found"),
            Failure::OutputClosed => Ok(()),
            Failure::Usage(m) | Failure::Storage(m) => f.write_str(m),
        }
    }
}
