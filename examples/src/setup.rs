//! What the programs share: where they work and how they open a log.

use common::FileSystem;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wal::{FsyncPolicy, WalConfig};

/// The directory a program works in: its first argument, or a fresh temporary directory
/// (removed when this value is dropped).
#[derive(Debug)]
pub struct WorkDir {
    /// The directory (created by the program through its file system).
    pub path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl WorkDir {
    /// From the command line: `program [DIR]`. DIR must be empty or absent: the programs
    /// print what they do to a fresh store.
    pub fn from_args() -> std::io::Result<WorkDir> {
        match std::env::args_os().nth(1) {
            Some(dir) => {
                let path = PathBuf::from(dir);
                let fs = common::RealFs;
                if fs.is_dir(&path) && !fs.list_dir(&path)?.is_empty() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        format!(
                            "{} is not empty: give an empty or new directory",
                            path.display()
                        ),
                    ));
                }
                Ok(WorkDir { path, _temp: None })
            }
            None => {
                let temp = tempfile::tempdir()?;
                Ok(WorkDir {
                    path: temp.path().to_path_buf(),
                    _temp: Some(temp),
                })
            }
        }
    }
}

/// A log in `dir` on `fs` with the given policy and segment size, the rest default.
pub fn wal_config(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    fsync_policy: FsyncPolicy,
    segment_size_bytes: u64,
) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        fsync_policy,
        segment_size_bytes,
        fs: fs.clone(),
        ..WalConfig::default()
    }
}

/// The number of segment files in a log directory (the LOCK file aside).
pub fn segment_count(fs: &dyn FileSystem, wal_dir: &Path) -> std::io::Result<usize> {
    Ok(fs
        .list_dir(wal_dir)?
        .iter()
        .filter(|name| wal::format::parse_segment_file_name(name).is_some())
        .count())
}

/// Every record in the log at `wal_dir` on `fs`, with its position (opens the log, reads it,
/// closes it). For showing what survived a simulated crash.
pub fn read_log(
    fs: &Arc<dyn FileSystem>,
    wal_dir: &Path,
) -> wal::Result<Vec<(wal::Record, wal::Position)>> {
    let config = wal_config(fs, wal_dir, FsyncPolicy::Always, 128 << 20);
    let (log, _) = wal::blocking::Wal::open(config)?;
    let mut reader = log.read_from(wal::Position::start())?;
    let mut out = Vec::new();
    while let Some(x) = reader.next_record()? {
        out.push(x);
    }
    log.close()?;
    Ok(out)
}
