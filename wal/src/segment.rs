//! Segment files: naming, listing the directory, creating a new segment durably.

use crate::error::{Error, Result};
use crate::format::{
    encode_segment_header, parse_segment_file_name, segment_file_name, SEGMENT_HEADER_LEN,
};
use common::{FileSystem, WritableFile};
use std::path::{Path, PathBuf};

/// The name of the lock file in the log directory.
pub const LOCK_FILE: &str = "LOCK";

/// The path of segment `id` in `dir`.
pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment_file_name(id))
}

/// The ids of the segments in `dir`, ascending. Any other file but the LOCK file is an error
/// naming it: the log never shares its directory.
pub fn list_segments(fs: &dyn FileSystem, dir: &Path) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    for name in fs.list_dir(dir)? {
        if name == LOCK_FILE {
            continue;
        }
        match parse_segment_file_name(&name) {
            Some(id) => ids.push(id),
            None => {
                return Err(Error::ForeignFile {
                    file: dir.join(&name),
                    reason: "not a WAL segment name (expected 20 digits and .wal)".into(),
                })
            }
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Creates segment `id` durably: write the header, fdatasync the file, fsync the directory.
/// With `preallocate_to`, the file is first zero-filled to that length (the cursor stays after
/// the header). Returns the writer with its cursor after the header.
pub fn create_segment(
    fs: &dyn FileSystem,
    dir: &Path,
    id: u64,
    preallocate_to: Option<u64>,
    zero_fill: bool,
) -> std::io::Result<Box<dyn WritableFile>> {
    let path = segment_path(dir, id);
    let mut file = fs.create(&path)?;
    file.append(&encode_segment_header(id))?;
    if let Some(len) = preallocate_to {
        extend(&mut *file, len.max(SEGMENT_HEADER_LEN), zero_fill)?;
    }
    file.sync_all()?;
    fs.sync_dir(dir)?;
    Ok(file)
}

/// Makes a segment file at least `len` long with space that reads as zeros: written zeros
/// with `zero_fill` (see `WalConfig::zero_fill`), allocated only otherwise.
pub fn extend(file: &mut dyn WritableFile, len: u64, zero_fill: bool) -> std::io::Result<()> {
    if zero_fill {
        file.preallocate(len)
    } else {
        file.reserve(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::MemFs;

    #[test]
    fn list_and_create() {
        let fs = MemFs::new();
        let dir = Path::new("/w");
        fs.create_dir_all(dir).unwrap();
        create_segment(&fs, dir, 2, None, true).unwrap();
        create_segment(&fs, dir, 1, Some(4096), false).unwrap();
        fs.create(&dir.join(LOCK_FILE)).unwrap();
        assert_eq!(list_segments(&fs, dir).unwrap(), vec![1, 2]);
        assert_eq!(fs.file_size(&segment_path(dir, 1)).unwrap(), 4096);
        // Durable at once.
        assert_eq!(list_segments(&fs.crash(), dir).unwrap(), vec![1, 2]);
        fs.create(&dir.join("notes.txt")).unwrap();
        let err = list_segments(&fs, dir).unwrap_err();
        assert!(err.to_string().contains("notes.txt"), "{err}");
    }
}
