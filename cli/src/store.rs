//! Finding and opening the store a command works on, after its input has been checked.

use crate::failure::{Failure, Outcome};
use common::{DirLock, FileSystem, RealFs};
use kvstore::Db;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The real file system, through the workspace's seam.
pub fn fs() -> Arc<dyn FileSystem> {
    RealFs::shared()
}

/// Refuses a `--dir` that exists but is not a directory.
pub fn check_not_file(dir: &Path) -> Outcome {
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::usage(format!(
            "--dir {} is a file, not a store directory",
            dir.display()
        )));
    }
    Ok(())
}

/// Refuses a `--dir` that is not a directory, or that is a replicated node's (`kv serve`):
/// its data is reached through the cluster, and a local store must not be made inside it.
pub fn check_dir(dir: &Path) -> Outcome {
    check_not_file(dir)?;
    if is_node_dir(dir) {
        return Err(Failure::usage(format!(
            "--dir {} belongs to a replicated node (`kv serve`); reach its data with `kv --cluster ADDR ...`",
            dir.display()
        )));
    }
    Ok(())
}

/// Whether `dir` holds a replicated node's state (its Raft log or state-machine pointer).
pub fn is_node_dir(dir: &Path) -> bool {
    dir.join("raft-log").is_dir() || dir.join(replication::format::SM_POINTER_FILE).is_file()
}

/// Whether `dir` holds a store (it has a CURRENT file).
pub fn has_store(dir: &Path) -> bool {
    dir.join(kvstore::filename::CURRENT).is_file()
}

fn require_store(dir: &Path) -> Outcome {
    check_dir(dir)?;
    if !has_store(dir) {
        return Err(Failure::storage(format!(
            "no store at {} (`kv put` or `kv load` creates one; --dir or KV_DIR chooses where)",
            dir.display()
        )));
    }
    Ok(())
}

/// Opens the store in `dir`, which must exist.
pub fn open_existing(dir: &Path) -> Outcome<Db> {
    require_store(dir)?;
    Db::builder(dir)
        .create_if_missing(false)
        .open()
        .map_err(|e| Failure::from_db(dir, e))
}

/// Opens the store in `dir`, creating it if needed.
pub fn open_or_create(dir: &Path) -> Outcome<Db> {
    check_dir(dir)?;
    Db::builder(dir)
        .open()
        .map_err(|e| Failure::from_db(dir, e))
}

/// Takes the store's lock without opening it (no recovery, nothing written), for commands
/// that only read its files: another process writing meanwhile would make them see a moving
/// target.
pub fn lock_quiet(dir: &Path) -> Outcome<DirLock> {
    require_store(dir)?;
    let path = dir.join(kvstore::filename::LOCK);
    fs().lock(&path).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            Failure::storage(format!(
                "store {} is locked by another process (it is open elsewhere; close that first)",
                dir.display()
            ))
        } else {
            Failure::storage(format!("cannot lock {}: {e}", path.display()))
        }
    })
}

/// A directory for a command that makes its own store (bench, crash-demo, tour): `dir` when
/// the user chose it (it must then be absent or empty, so no data of theirs is touched), else
/// a new temporary directory, removed when the returned guard drops.
pub fn fresh_dir(
    dir: &Path,
    explicit: bool,
    what: &str,
) -> Outcome<(PathBuf, Option<tempfile::TempDir>)> {
    if !explicit {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("kv-{what}-"))
            .tempdir()
            .map_err(|e| Failure::storage(format!("cannot make a temporary directory: {e}")))?;
        return Ok((tmp.path().to_path_buf(), Some(tmp)));
    }
    check_dir(dir)?;
    if dir.is_dir() {
        let mut entries = std::fs::read_dir(dir)
            .map_err(|e| Failure::storage(format!("cannot list {}: {e}", dir.display())))?;
        if entries.next().is_some() {
            return Err(Failure::usage(format!(
                "`kv {what}` makes its own store and needs an empty --dir; {} is not empty \
                 (leave out --dir to use a temporary directory)",
                dir.display()
            )));
        }
    }
    Ok((dir.to_path_buf(), None))
}

/// What is on disk now: (table files, their bytes, WAL bytes), from the directory listing.
pub fn disk_usage(dir: &Path) -> (usize, u64, u64) {
    let fs = fs();
    let (mut tables, mut table_bytes) = (0, 0);
    for name in fs.list_dir(dir).unwrap_or_default() {
        if let Some(kvstore::filename::FileKind::Table(_)) = kvstore::filename::parse(&name) {
            tables += 1;
            table_bytes += fs.file_size(&dir.join(&name)).unwrap_or(0);
        }
    }
    let wal_dir = dir.join(kvstore::filename::WAL_DIR);
    let wal_bytes = fs
        .list_dir(&wal_dir)
        .unwrap_or_default()
        .iter()
        .filter(|n| wal::format::parse_segment_file_name(n).is_some())
        .map(|n| fs.file_size(&wal_dir.join(n)).unwrap_or(0))
        .sum();
    (tables, table_bytes, wal_bytes)
}
