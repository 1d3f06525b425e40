//! The names of the files in a database directory (see `docs/manifest-format.md`):
//!
//! ```text
//! DB_DIR/
//!   LOCK              held by the process that has the database open
//!   CURRENT           names the live manifest ("MANIFEST-000007\n")
//!   CURRENT.tmp       the next CURRENT while it is being written (renamed over CURRENT)
//!   MANIFEST-000007   the log of version edits
//!   000123.sst        a table
//!   wal/              the write-ahead log's segments (the `wal` crate's format)
//! ```
//! Manifests and tables draw their numbers from one counter kept by the version set.

use std::path::{Path, PathBuf};

/// The lock file's name.
pub const LOCK: &str = "LOCK";
/// The pointer to the live manifest.
pub const CURRENT: &str = "CURRENT";
/// The temporary CURRENT, renamed over CURRENT once synced.
pub const CURRENT_TMP: &str = "CURRENT.tmp";
/// The subdirectory that holds the WAL.
pub const WAL_DIR: &str = "wal";

/// What a name in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `LOCK`
    Lock,
    /// `CURRENT`
    Current,
    /// `CURRENT.tmp` or another `*.tmp` leftover
    Temp,
    /// `MANIFEST-<number>`
    Manifest(u64),
    /// `<number>.sst`
    Table(u64),
}

/// The manifest's file name for `number`: `MANIFEST-000007`.
pub fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

/// The table's file name for `number`: `000123.sst`.
pub fn table_name(number: u64) -> String {
    format!("{number:06}.sst")
}

/// The path of table `number` in `dir`.
pub fn table_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(table_name(number))
}

/// The path of manifest `number` in `dir`.
pub fn manifest_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(manifest_name(number))
}

/// Parses a name found in the database directory; `None` for names the engine does not own.
pub fn parse(name: &str) -> Option<FileKind> {
    fn number(s: &str) -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
    match name {
        LOCK => Some(FileKind::Lock),
        CURRENT => Some(FileKind::Current),
        _ => {
            if let Some(n) = name.strip_prefix("MANIFEST-") {
                number(n).map(FileKind::Manifest)
            } else if let Some(n) = name.strip_suffix(".sst") {
                number(n).map(FileKind::Table)
            } else if name.ends_with(".tmp") {
                Some(FileKind::Temp)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip_through_parse() {
        assert_eq!(parse(&manifest_name(7)), Some(FileKind::Manifest(7)));
        assert_eq!(parse(&table_name(123)), Some(FileKind::Table(123)));
        assert_eq!(
            parse(&table_name(12_345_678)),
            Some(FileKind::Table(12_345_678))
        );
        assert_eq!(parse("CURRENT"), Some(FileKind::Current));
        assert_eq!(parse("CURRENT.tmp"), Some(FileKind::Temp));
        assert_eq!(parse("LOCK"), Some(FileKind::Lock));
        assert_eq!(parse("wal"), None);
        assert_eq!(parse("x.sst"), None);
        assert_eq!(parse("MANIFEST-"), None);
        assert_eq!(parse("MANIFEST-1a"), None);
    }
}
