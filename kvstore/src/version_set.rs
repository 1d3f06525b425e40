//! The version set: the current version, the manifest that records how it came to be, the
//! file-number counter and the log marks, and the recovery of all of them at open.
//!
//! Invariants:
//! - `last_sequence`: every record with a sequence number up to it is in a table of the
//!   current version; `log_start`: every WAL record at or after it is not (yet) in a table.
//! - The manifest on disk, read from the start, rebuilds exactly the current version; an edit
//!   is in memory only after it is durable in the manifest.
//! - File numbers only grow; a number is never reused, even after a crash (recovery moves the
//!   counter past every number it sees on disk).

use crate::error::{Error, Result};
use crate::filename::{self, manifest_path, FileKind};
use crate::manifest::{read_current, read_manifest, set_current, ManifestWriter};
use crate::version::{FileMeta, FileReaper, Version};
use crate::version_edit::{FileDesc, LogMark, VersionEdit};
use common::{FileSystem, SeqNo};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The version set of one open database.
#[derive(Debug)]
pub struct VersionSet {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    current: Arc<Version>,
    manifest: ManifestWriter,
    manifest_number: u64,
    next_file_number: u64,
    last_sequence: SeqNo,
    log_start: LogMark,
    reaper: Arc<FileReaper>,
    max_manifest_bytes: u64,
    poisoned: Option<String>,
}

/// A consistent copy of the version set's state, for checkpoints and stats.
#[derive(Debug, Clone)]
pub struct VersionState {
    /// The current version.
    pub version: Arc<Version>,
    /// Every sequence number up to this one is in the version's tables.
    pub last_sequence: SeqNo,
    /// The next unused file number.
    pub next_file_number: u64,
    /// The WAL position where unflushed records start.
    pub log_start: LogMark,
    /// The live manifest's number.
    pub manifest_number: u64,
}

impl VersionSet {
    /// Opens the version set of the database in `dir`: replays the manifest CURRENT names, or
    /// creates an empty database when there is none (if `create_if_missing`). Either way it
    /// then writes a fresh manifest holding one snapshot edit and points CURRENT at it, so the
    /// manifest does not grow across reopens and a torn tail is never appended to.
    ///
    /// `initial_log_start` is the WAL's start position, recorded for a new database.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        create_if_missing: bool,
        initial_log_start: LogMark,
        max_manifest_bytes: u64,
    ) -> Result<VersionSet> {
        let reaper = FileReaper::new(fs.clone(), dir.to_path_buf());
        let names = fs.list_dir(dir).map_err(|e| Error::io(dir, e))?;
        let max_seen = names
            .iter()
            .filter_map(|n| match filename::parse(n) {
                Some(FileKind::Table(x)) | Some(FileKind::Manifest(x)) => Some(x),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let old_manifest = read_current(&fs, dir)?;
        let (version, last_sequence, log_start, recorded_next) = match old_manifest {
            Some(number) => {
                let path = manifest_path(dir, number);
                let edits = read_manifest(&fs, &path)?;
                replay(&path, &edits, &reaper)?
            }
            None => {
                let has_tables = names
                    .iter()
                    .any(|n| matches!(filename::parse(n), Some(FileKind::Table(_))));
                if has_tables {
                    return Err(Error::corruption(
                        dir.join(filename::CURRENT),
                        0,
                        "CURRENT is missing but the directory holds tables",
                    ));
                }
                if !create_if_missing {
                    return Err(Error::NotFound {
                        path: dir.to_path_buf(),
                    });
                }
                (Version::default(), 0, initial_log_start, 1)
            }
        };
        let manifest_number = recorded_next.max(max_seen + 1);
        let next_file_number = manifest_number + 1;
        let manifest = write_snapshot_manifest(
            &fs,
            dir,
            manifest_number,
            &version,
            last_sequence,
            log_start,
            next_file_number,
        )?;
        if let Some(old) = old_manifest {
            // A leftover old manifest is harmless: the next open removes it.
            let _ = fs.remove_file(&manifest_path(dir, old));
        }
        Ok(VersionSet {
            fs,
            dir: dir.to_path_buf(),
            current: Arc::new(version),
            manifest,
            manifest_number,
            next_file_number,
            last_sequence,
            log_start,
            reaper,
            max_manifest_bytes,
            poisoned: None,
        })
    }

    /// The current version.
    pub fn current(&self) -> Arc<Version> {
        self.current.clone()
    }

    /// The state as one consistent copy.
    pub fn state(&self) -> VersionState {
        VersionState {
            version: self.current.clone(),
            last_sequence: self.last_sequence,
            next_file_number: self.next_file_number,
            log_start: self.log_start,
            manifest_number: self.manifest_number,
        }
    }

    /// Every sequence number up to this one is in a table.
    pub fn last_sequence(&self) -> SeqNo {
        self.last_sequence
    }

    /// WAL records at or after this position are not yet in a table.
    pub fn log_start(&self) -> LogMark {
        self.log_start
    }

    /// The deleter of obsolete tables (for stats).
    pub fn reaper(&self) -> &Arc<FileReaper> {
        &self.reaper
    }

    /// Takes a fresh file number for a new table.
    pub fn new_file_number(&mut self) -> u64 {
        let n = self.next_file_number;
        self.next_file_number += 1;
        n
    }

    /// Makes an edit durable in the manifest, then installs the version it produces. Files the
    /// edit removes are deleted once no version or iterator holds them. On failure nothing
    /// changes in memory, and the version set refuses every later edit: what reached the disk
    /// (a half-written record, a renamed but not yet durable CURRENT) is unknown, and only a
    /// reopen, which reads what is really there, can go on safely.
    pub fn log_and_apply(&mut self, mut edit: VersionEdit) -> Result<Arc<Version>> {
        if let Some(why) = &self.poisoned {
            return Err(Error::Poisoned(why.clone()));
        }
        let reaper = self.reaper.clone();
        let applied = self
            .current
            .apply(&edit, |d| FileMeta::new(d.clone(), Some(reaper.clone())))
            .map_err(|reason| Error::corruption(self.manifest.path(), 0, reason))?;
        if let Some(seq) = edit.last_sequence {
            assert!(seq >= self.last_sequence, "last_sequence went backwards");
        }
        let prev = (self.current.clone(), self.last_sequence, self.log_start);
        self.current = Arc::new(applied.version);
        self.last_sequence = edit.last_sequence.unwrap_or(self.last_sequence);
        self.log_start = edit.log_start.unwrap_or(self.log_start);
        let res = if self.manifest.size_bytes() >= self.max_manifest_bytes {
            self.roll_manifest()
        } else {
            edit.next_file_number = Some(self.next_file_number);
            self.manifest.append_synced(&edit)
        };
        if let Err(e) = res {
            (self.current, self.last_sequence, self.log_start) = prev;
            self.poisoned = Some(format!("a manifest update failed: {e}"));
            return Err(e);
        }
        for f in &applied.removed {
            f.mark_obsolete();
        }
        Ok(self.current.clone())
    }

    /// Writes the current state to a new manifest and points CURRENT at it; then removes the
    /// old manifest.
    fn roll_manifest(&mut self) -> Result<()> {
        let number = self.new_file_number();
        let writer = write_snapshot_manifest(
            &self.fs,
            &self.dir,
            number,
            &self.current,
            self.last_sequence,
            self.log_start,
            self.next_file_number,
        )?;
        let old = std::mem::replace(&mut self.manifest, writer);
        let old_number = std::mem::replace(&mut self.manifest_number, number);
        drop(old);
        // A leftover old manifest is harmless: the next open removes it.
        let _ = self.fs.remove_file(&manifest_path(&self.dir, old_number));
        Ok(())
    }

    /// Removes what the version does not know: tables left by a crash mid-flush, old
    /// manifests, temporary files. Call only while no table is being written.
    pub fn remove_orphans(&self) -> Result<usize> {
        let names = self
            .fs
            .list_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        let live: std::collections::HashSet<u64> =
            self.current.all_files().map(|(_, f)| f.number).collect();
        let mut removed = 0;
        for name in names {
            let orphan = match filename::parse(&name) {
                Some(FileKind::Table(n)) => !live.contains(&n),
                Some(FileKind::Manifest(n)) => n != self.manifest_number,
                Some(FileKind::Temp) => true,
                _ => false,
            };
            if orphan {
                let path = self.dir.join(&name);
                self.fs
                    .remove_file(&path)
                    .map_err(|e| Error::io(&path, e))?;
                removed += 1;
            }
        }
        if removed > 0 {
            self.fs
                .sync_dir(&self.dir)
                .map_err(|e| Error::io(&self.dir, e))?;
        }
        Ok(removed)
    }
}

/// Creates manifest `number` in `dir` holding one snapshot edit of `version`, syncs it and the
/// directory, and points CURRENT at it. Used by the version set and by checkpoints.
pub fn write_snapshot_manifest(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
    number: u64,
    version: &Version,
    last_sequence: SeqNo,
    log_start: LogMark,
    next_file_number: u64,
) -> Result<ManifestWriter> {
    let mut edit = version.snapshot_edit();
    edit.last_sequence = Some(last_sequence);
    edit.log_start = Some(log_start);
    edit.next_file_number = Some(next_file_number);
    let path = manifest_path(dir, number);
    let mut writer = ManifestWriter::create(fs, &path)?;
    writer.append_synced(&edit)?;
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))?;
    set_current(fs, dir, number)?;
    Ok(writer)
}

/// Folds a manifest's edits into a version; the result must carry every mark.
fn replay(
    path: &Path,
    edits: &[VersionEdit],
    reaper: &Arc<FileReaper>,
) -> Result<(Version, SeqNo, LogMark, u64)> {
    let mut version = Version::default();
    let (mut last_sequence, mut log_start, mut next) = (None, None, None);
    for (i, edit) in edits.iter().enumerate() {
        let make = |d: &FileDesc| FileMeta::new(d.clone(), Some(reaper.clone()));
        version = version
            .apply(edit, make)
            .map_err(|reason| Error::corruption(path, 0, format!("edit {i}: {reason}")))?
            .version;
        last_sequence = edit.last_sequence.or(last_sequence);
        log_start = edit.log_start.or(log_start);
        next = edit.next_file_number.or(next);
    }
    match (last_sequence, log_start, next) {
        (Some(s), Some(l), Some(n)) => Ok((version, s, l, n)),
        _ => Err(Error::corruption(
            path,
            0,
            "manifest lacks the last sequence, log start or next file number",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filename::table_path;
    use common::{FaultKind, FaultyFs, InternalKey, MemFs, Op, ValueKind};

    fn desc(number: u64, seq: u64) -> FileDesc {
        FileDesc {
            number,
            size_bytes: 10,
            smallest: InternalKey::new(*b"a", seq, ValueKind::Put),
            largest: InternalKey::new(*b"z", seq, ValueKind::Put),
            smallest_seq: seq,
            largest_seq: seq,
        }
    }

    fn flush_edit(number: u64, seq: u64) -> VersionEdit {
        VersionEdit {
            log_start: Some([seq as u8; 16]),
            last_sequence: Some(seq),
            added: vec![(0, desc(number, seq))],
            ..VersionEdit::default()
        }
    }

    fn open(fs: &Arc<dyn FileSystem>) -> Result<VersionSet> {
        VersionSet::open(fs.clone(), Path::new("/db"), true, [0; 16], 1 << 20)
    }

    fn make_table(fs: &Arc<dyn FileSystem>, number: u64) {
        let mut f = fs.create(&table_path(Path::new("/db"), number)).unwrap();
        f.sync_all().unwrap();
        fs.sync_dir(Path::new("/db")).unwrap();
    }

    #[test]
    fn state_survives_reopen_and_orphans_go() {
        let mem = MemFs::new();
        let fs = mem.shared();
        fs.create_dir_all(Path::new("/db")).unwrap();
        let mut vs = open(&fs).unwrap();
        for seq in [10, 20] {
            let n = vs.new_file_number();
            make_table(&fs, n);
            vs.log_and_apply(flush_edit(n, seq)).unwrap();
        }
        let orphan = vs.new_file_number();
        make_table(&fs, orphan);
        let before = vs.state();
        drop(vs);
        let vs = open(&fs).unwrap();
        let after = vs.state();
        assert_eq!(after.last_sequence, 20);
        assert_eq!(after.log_start, [20; 16]);
        assert!(after.next_file_number > orphan, "numbers are never reused");
        let files = |v: &Version| v.files(0).iter().map(|f| f.number).collect::<Vec<_>>();
        assert_eq!(files(&after.version), files(&before.version));
        assert_eq!(vs.remove_orphans().unwrap(), 1);
        assert!(!fs.exists(&table_path(Path::new("/db"), orphan)));
        let manifests: Vec<String> = fs
            .list_dir(Path::new("/db"))
            .unwrap()
            .into_iter()
            .filter(|n| n.starts_with("MANIFEST"))
            .collect();
        assert_eq!(manifests.len(), 1);
    }

    #[test]
    fn removed_files_are_deleted_and_manifest_rolls() {
        let mem = MemFs::new();
        let fs = mem.shared();
        fs.create_dir_all(Path::new("/db")).unwrap();
        let mut vs = VersionSet::open(fs.clone(), Path::new("/db"), true, [0; 16], 200).unwrap();
        let mut numbers = vec![];
        for seq in 1..=20 {
            let n = vs.new_file_number();
            make_table(&fs, n);
            vs.log_and_apply(flush_edit(n, seq)).unwrap();
            numbers.push(n);
        }
        let first_manifest = vs.state().manifest_number;
        let held = vs.current();
        let del = VersionEdit {
            deleted: numbers[..10].iter().map(|&n| (0, n)).collect(),
            ..VersionEdit::default()
        };
        vs.log_and_apply(del).unwrap();
        assert!(fs.exists(&table_path(Path::new("/db"), numbers[0])));
        drop(held);
        assert!(!fs.exists(&table_path(Path::new("/db"), numbers[0])));
        assert!(
            vs.state().manifest_number > first_manifest,
            "a small limit rolls the manifest"
        );
        drop(vs);
        let vs = open(&fs).unwrap();
        assert_eq!(vs.current().num_files(), 10);
        assert_eq!(vs.last_sequence(), 20);
    }

    #[test]
    fn power_loss_at_every_step_of_an_edit_keeps_old_or_new_state() {
        // Fail one file-system operation of an edit (max_manifest_bytes = 1, so every edit
        // writes a new manifest and swaps CURRENT), freeze, crash: the image must open with
        // either the old state or the new one.
        let ops = [
            Op::Create,
            Op::Append,
            Op::SyncData,
            Op::SyncDir,
            Op::Rename,
            Op::Remove,
        ];
        let (mut saw_old, mut saw_new) = (false, false);
        for op in ops {
            for skip in 0..3 {
                let mem = MemFs::new();
                let faulty = FaultyFs::new(mem.shared());
                let fs = faulty.shared();
                fs.create_dir_all(Path::new("/db")).unwrap();
                let mut vs =
                    VersionSet::open(fs.clone(), Path::new("/db"), true, [0; 16], 1).unwrap();
                let n = vs.new_file_number();
                make_table(&fs, n);
                faulty.fail(op, skip, FaultKind::Error);
                let res = vs.log_and_apply(flush_edit(n, 5));
                faulty.freeze();
                drop(vs);
                let crashed = mem.crash().shared();
                let vs = open(&crashed).unwrap_or_else(|e| panic!("{op:?}/{skip}: {e}"));
                let files = vs.current().num_files();
                let seq = vs.last_sequence();
                if res.is_ok() {
                    assert_eq!(
                        (files, seq),
                        (1, 5),
                        "{op:?}/{skip}: acknowledged edit lost"
                    );
                }
                match (files, seq) {
                    (0, 0) => saw_old = true,
                    (1, 5) => saw_new = true,
                    other => panic!("{op:?}/{skip}: unexpected state {other:?}"),
                }
            }
        }
        assert!(saw_old && saw_new);
    }
}
