//! A version: the set of live tables, per level, at one moment.
//!
//! Level 0 holds flushed tables whose key ranges may overlap, newest first (by largest
//! sequence number). Deeper levels hold tables with disjoint key ranges, sorted by key; they are
//! filled by compaction. A version is immutable: an edit makes a new one, sharing the
//! unchanged [`FileMeta`]s. A table is reference-counted through its `FileMeta`; once an edit
//! has removed it and the last version or iterator holding it lets go, its file is deleted.

use crate::filename::table_path;
use crate::format::NUM_LEVELS;
use crate::version_edit::{FileDesc, VersionEdit};
use common::ikey::compare_user_keys;
use common::FileSystem;
use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Deletes table files that no version uses any more.
#[derive(Debug)]
pub struct FileReaper {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    deleted: AtomicU64,
}

impl FileReaper {
    /// A reaper for tables in `dir`.
    pub fn new(fs: Arc<dyn FileSystem>, dir: PathBuf) -> Arc<FileReaper> {
        Arc::new(FileReaper {
            fs,
            dir,
            deleted: AtomicU64::new(0),
        })
    }

    /// How many table files it has deleted.
    pub fn deleted_files(&self) -> u64 {
        self.deleted.load(Ordering::Relaxed)
    }

    fn remove(&self, number: u64) {
        // A failure leaves an orphan, which the next open removes (it is not in the version).
        if self.fs.remove_file(&table_path(&self.dir, number)).is_ok() {
            self.deleted.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A live table: its descriptor, its open reader (opened on first use), and the duty to delete
/// its file once it is obsolete and unreferenced.
pub struct FileMeta {
    desc: FileDesc,
    obsolete: AtomicBool,
    reaper: Option<Arc<FileReaper>>,
    /// The open table, shared by every reader of this file.
    pub(crate) table: OnceLock<Arc<sstable::Table>>,
}

impl FileMeta {
    /// Wraps a descriptor; with a reaper, the file is deleted when the meta is dropped after
    /// [`FileMeta::mark_obsolete`].
    pub fn new(desc: FileDesc, reaper: Option<Arc<FileReaper>>) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            desc,
            obsolete: AtomicBool::new(false),
            reaper,
            table: OnceLock::new(),
        })
    }

    /// The descriptor.
    pub fn desc(&self) -> &FileDesc {
        &self.desc
    }

    /// Marks the file for deletion once the last reference is dropped.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, Ordering::SeqCst);
    }

    /// Whether the file's key range contains `user_key` (compared inline, without a `memcmp`
    /// call: a point read checks every level-0 file's range).
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        compare_user_keys(&self.desc.smallest.user_key, user_key).is_le()
            && compare_user_keys(user_key, &self.desc.largest.user_key).is_le()
    }

    /// Whether the file's key range meets `[lo, hi]` (`None` = unbounded).
    pub fn overlaps(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> bool {
        lo.is_none_or(|lo| lo <= self.desc.largest.user_key.as_slice())
            && hi.is_none_or(|hi| self.desc.smallest.user_key.as_slice() <= hi)
    }
}

impl Deref for FileMeta {
    type Target = FileDesc;
    fn deref(&self) -> &FileDesc {
        &self.desc
    }
}

impl fmt::Debug for FileMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMeta")
            .field("desc", &self.desc)
            .field("obsolete", &self.obsolete.load(Ordering::Relaxed))
            .finish()
    }
}

impl Drop for FileMeta {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::SeqCst) {
            if let Some(reaper) = &self.reaper {
                reaper.remove(self.desc.number);
            }
        }
    }
}

/// The live tables per level.
#[derive(Debug, Clone)]
pub struct Version {
    levels: Vec<Vec<Arc<FileMeta>>>,
}

impl Default for Version {
    fn default() -> Self {
        Version {
            levels: vec![Vec::new(); NUM_LEVELS],
        }
    }
}

/// What applying an edit produced: the new version and the files it no longer holds.
#[derive(Debug)]
pub struct Applied {
    /// The new version.
    pub version: Version,
    /// Files the edit removed (and did not re-add at another level).
    pub removed: Vec<Arc<FileMeta>>,
}

impl Version {
    /// The levels, 0 first. Level 0 is newest first; deeper levels are sorted by key.
    pub fn levels(&self) -> &[Vec<Arc<FileMeta>>] {
        &self.levels
    }

    /// The files of one level.
    pub fn files(&self, level: usize) -> &[Arc<FileMeta>] {
        &self.levels[level]
    }

    /// Every live file, level by level.
    pub fn all_files(&self) -> impl Iterator<Item = (usize, &Arc<FileMeta>)> {
        self.levels
            .iter()
            .enumerate()
            .flat_map(|(l, files)| files.iter().map(move |f| (l, f)))
    }

    /// The number of live files.
    pub fn num_files(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// The total size of a level's files.
    pub fn level_size_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|f| f.size_bytes).sum()
    }

    /// The files that may hold `user_key`, in the order a point read must consult them:
    /// level 0 newest first, then at most one file per deeper level.
    pub fn files_for_key<'a>(
        &'a self,
        user_key: &'a [u8],
    ) -> impl Iterator<Item = &'a Arc<FileMeta>> {
        let l0 = self.levels[0]
            .iter()
            .filter(move |f| f.may_contain(user_key));
        let deeper = self.levels[1..].iter().filter_map(move |files| {
            files.last()?; // an empty level (most levels of a small database)
            let i =
                files.partition_point(|f| compare_user_keys(&f.largest.user_key, user_key).is_lt());
            files.get(i).filter(|f| f.may_contain(user_key))
        });
        l0.chain(deeper)
    }

    /// Applies an edit, reusing the metas of files that stay (or move between levels) and
    /// making new ones with `make`. Fails (changing nothing) if the edit removes a file the
    /// version lacks, adds one it has, or leaves a deeper level with overlapping files.
    pub fn apply(
        &self,
        edit: &VersionEdit,
        mut make: impl FnMut(&FileDesc) -> Arc<FileMeta>,
    ) -> Result<Applied, String> {
        let mut levels = self.levels.clone();
        let mut removed: HashMap<u64, Arc<FileMeta>> = HashMap::new();
        for &(level, number) in &edit.deleted {
            let files = &mut levels[level];
            let i = files
                .iter()
                .position(|f| f.number == number)
                .ok_or_else(|| format!("edit removes file {number} absent from level {level}"))?;
            removed.insert(number, files.remove(i));
        }
        for (level, desc) in &edit.added {
            if levels.iter().flatten().any(|f| f.number == desc.number) {
                return Err(format!("edit adds file {} twice", desc.number));
            }
            let meta = match removed.remove(&desc.number) {
                Some(m) if m.desc == *desc => m,
                Some(_) => return Err(format!("file {} re-added with other bounds", desc.number)),
                None => make(desc),
            };
            levels[*level].push(meta);
        }
        levels[0].sort_by(|a, b| {
            b.largest_seq
                .cmp(&a.largest_seq)
                .then(b.number.cmp(&a.number))
        });
        for (level, files) in levels.iter_mut().enumerate().skip(1) {
            files.sort_by(|a, b| a.smallest.cmp(&b.smallest));
            for pair in files.windows(2) {
                if pair[0].largest.user_key >= pair[1].smallest.user_key {
                    return Err(format!(
                        "level {level}: files {} and {} overlap",
                        pair[0].number, pair[1].number
                    ));
                }
            }
        }
        Ok(Applied {
            version: Version { levels },
            removed: removed.into_values().collect(),
        })
    }

    /// The edit that rebuilds this version from nothing (the first record of a new manifest).
    pub fn snapshot_edit(&self) -> VersionEdit {
        VersionEdit {
            added: self.all_files().map(|(l, f)| (l, f.desc.clone())).collect(),
            ..VersionEdit::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::{InternalKey, MemFs, ValueKind};
    use std::path::Path;

    fn desc(number: u64, lo: &[u8], hi: &[u8], seq: u64) -> FileDesc {
        FileDesc {
            number,
            size_bytes: 100,
            smallest: InternalKey::new(lo, seq, ValueKind::Put),
            largest: InternalKey::new(hi, seq, ValueKind::Put),
            smallest_seq: seq,
            largest_seq: seq,
        }
    }

    fn add(level: usize, d: FileDesc) -> VersionEdit {
        VersionEdit {
            added: vec![(level, d)],
            ..VersionEdit::default()
        }
    }

    #[test]
    fn level0_is_newest_first_and_deeper_levels_are_disjoint() {
        let v = Version::default();
        let mk = |d: &FileDesc| FileMeta::new(d.clone(), None);
        let v = v
            .apply(&add(0, desc(1, b"a", b"m", 10)), mk)
            .unwrap()
            .version;
        let v = v
            .apply(&add(0, desc(2, b"c", b"z", 20)), mk)
            .unwrap()
            .version;
        assert_eq!(
            v.files(0).iter().map(|f| f.number).collect::<Vec<_>>(),
            vec![2, 1]
        );
        let v = v
            .apply(&add(1, desc(3, b"n", b"p", 5)), mk)
            .unwrap()
            .version;
        let v = v
            .apply(&add(1, desc(4, b"a", b"c", 5)), mk)
            .unwrap()
            .version;
        assert_eq!(
            v.files(1).iter().map(|f| f.number).collect::<Vec<_>>(),
            vec![4, 3]
        );
        assert!(v.apply(&add(1, desc(5, b"b", b"d", 5)), mk).is_err());
        assert!(v.apply(&add(2, desc(4, b"a", b"c", 5)), mk).is_err());
        let got: Vec<u64> = v.files_for_key(b"o").map(|f| f.number).collect();
        assert_eq!(got, vec![2, 3]);
        let got: Vec<u64> = v.files_for_key(b"b").map(|f| f.number).collect();
        assert_eq!(got, vec![1, 4]);
        let del = VersionEdit {
            deleted: vec![(0, 9)],
            ..VersionEdit::default()
        };
        assert!(v.apply(&del, mk).is_err());
    }

    #[test]
    fn obsolete_files_are_deleted_when_the_last_reference_goes() {
        let mem = MemFs::new();
        let fs = mem.shared();
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        fs.create(&table_path(dir, 1)).unwrap();
        let reaper = FileReaper::new(fs.clone(), dir.to_path_buf());
        let mk = |d: &FileDesc| FileMeta::new(d.clone(), Some(reaper.clone()));
        let v1 = Version::default()
            .apply(&add(0, desc(1, b"a", b"b", 1)), mk)
            .unwrap()
            .version;
        // Moving the file to level 1 keeps the same meta: nothing to delete.
        let mv = VersionEdit {
            deleted: vec![(0, 1)],
            added: vec![(1, desc(1, b"a", b"b", 1))],
            ..VersionEdit::default()
        };
        let moved = v1.apply(&mv, mk).unwrap();
        assert!(moved.removed.is_empty());
        assert!(Arc::ptr_eq(&moved.version.files(1)[0], &v1.files(0)[0]));
        let del = VersionEdit {
            deleted: vec![(1, 1)],
            ..VersionEdit::default()
        };
        let applied = moved.version.apply(&del, mk).unwrap();
        for f in &applied.removed {
            f.mark_obsolete();
        }
        drop(applied);
        drop(moved);
        assert!(fs.exists(&table_path(dir, 1)), "v1 still uses the file");
        drop(v1);
        assert!(!fs.exists(&table_path(dir, 1)));
        assert_eq!(reaper.deleted_files(), 1);
    }
}
