//! Read-only views of a store's files for `verify` and `dump`: the manifest's live files, and
//! the WAL as the `wal` crate's own recovery and reader see it, run over an in-memory copy so
//! that recovery's repairs (cutting a torn tail) never touch the real files.

use crate::failure::{Failure, Outcome};
use crate::store::fs;
use common::{FileSystem, MemFs};
use kvstore::version_edit::{FileDesc, VersionEdit};
use kvstore::{filename, manifest};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the live manifest says.
pub struct ManifestView {
    /// The manifest file.
    pub path: PathBuf,
    /// Its edits, in order.
    pub edits: Vec<VersionEdit>,
    /// The live tables by number: (level, description).
    pub live: BTreeMap<u64, (usize, FileDesc)>,
    /// Where unflushed WAL records start.
    pub log_start: wal::Position,
    /// The last sequence number in a table.
    pub last_sequence: u64,
}

/// Reads CURRENT and the manifest it names, and replays the edits into the live file set.
pub fn read_manifest(dir: &Path) -> kvstore::Result<ManifestView> {
    let fs = fs();
    let number = manifest::read_current(&fs, dir)?.ok_or_else(|| kvstore::Error::Corruption {
        file: dir.join(filename::CURRENT),
        offset: 0,
        reason: "CURRENT is missing".into(),
    })?;
    let path = filename::manifest_path(dir, number);
    let edits = manifest::read_manifest(&fs, &path)?;
    let mut live = BTreeMap::new();
    let mut log_start = wal::Position::start();
    let mut last_sequence = 0;
    for e in &edits {
        for (_, n) in &e.deleted {
            live.remove(n);
        }
        for (level, f) in &e.added {
            live.insert(f.number, (*level, f.clone()));
        }
        if let Some(m) = e.log_start {
            log_start = wal::Position::from_bytes(m);
        }
        if let Some(s) = e.last_sequence {
            last_sequence = s;
        }
    }
    Ok(ManifestView {
        path,
        edits,
        live,
        log_start,
        last_sequence,
    })
}

/// The WAL's segment files, in id order.
pub fn wal_segments(dir: &Path) -> Outcome<Vec<(u64, PathBuf)>> {
    let wal_dir = dir.join(filename::WAL_DIR);
    let fs = fs();
    if !fs.is_dir(&wal_dir) {
        return Ok(Vec::new());
    }
    let names = fs
        .list_dir(&wal_dir)
        .map_err(|e| Failure::storage(format!("cannot list {}: {e}", wal_dir.display())))?;
    let mut segs: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|n| wal::format::parse_segment_file_name(n).map(|id| (id, wal_dir.join(n))))
        .collect();
    segs.sort();
    Ok(segs)
}

/// The WAL opened over an in-memory copy of its segments with `mode`, and what its recovery
/// found. Paths inside the copy are the real ones, so errors name the real files.
pub fn open_wal_copy(
    dir: &Path,
    mode: wal::RecoveryMode,
) -> Outcome<Option<(wal::blocking::Wal, wal::RecoveryInfo)>> {
    let segments = wal_segments(dir)?;
    if segments.is_empty() {
        return Ok(None);
    }
    let wal_dir = dir.join(filename::WAL_DIR);
    let real = fs();
    let mem = MemFs::new();
    let memfs: Arc<dyn FileSystem> = mem.shared();
    let copy_err =
        |p: &Path, e: std::io::Error| Failure::storage(format!("cannot read {}: {e}", p.display()));
    memfs
        .create_dir_all(&wal_dir)
        .map_err(|e| copy_err(&wal_dir, e))?;
    for (_, path) in &segments {
        let src = real.open_read(path).map_err(|e| copy_err(path, e))?;
        let len = src.len().map_err(|e| copy_err(path, e))?;
        let mut bytes = vec![0u8; len as usize];
        src.read_exact_at(&mut bytes, 0)
            .map_err(|e| copy_err(path, e))?;
        let mut dst = memfs.create(path).map_err(|e| copy_err(path, e))?;
        dst.append(&bytes).map_err(|e| copy_err(path, e))?;
        dst.sync_all().map_err(|e| copy_err(path, e))?;
    }
    let config = wal::WalConfig {
        dir: wal_dir,
        fsync_policy: wal::FsyncPolicy::Os,
        recovery_mode: mode,
        fs: memfs,
        ..wal::WalConfig::default()
    };
    match wal::blocking::Wal::open(config) {
        Ok(pair) => Ok(Some(pair)),
        Err(e) => Err(Failure::storage(e.to_string())),
    }
}
