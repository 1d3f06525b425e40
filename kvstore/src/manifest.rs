//! The manifest log (a file of crc-framed version edits) and the CURRENT pointer.
//!
//! Write order, so that a crash at any instant leaves an openable database:
//! - a new manifest is created, its header and a snapshot edit written and synced, and the
//!   directory synced; only then does CURRENT move to it;
//! - CURRENT moves by writing `CURRENT.tmp`, syncing it, renaming it over `CURRENT`, and
//!   syncing the directory; the old manifest is removed only after that;
//! - every later edit is appended and synced before anyone acts on it (deleting WAL segments).
//!
//! A torn last record (the file ends inside it, or its checksum fails and nothing follows it)
//! is the mark of a crash during an append whose sync never returned: no one acted on that
//! edit, so reading stops before it. A bad record with more bytes after it is corruption.

use crate::error::{Error, Result};
use crate::filename::{manifest_name, CURRENT, CURRENT_TMP};
use crate::format::{
    check_header, encode_header, frame_record, record_crc, HeaderError, HEADER_LEN,
    MAX_RECORD_BYTES, RECORD_HEADER_LEN,
};
use crate::version_edit::VersionEdit;
use common::coding::get_u32;
use common::{FileSystem, WritableFile};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Appends version edits to one manifest file.
#[derive(Debug)]
pub struct ManifestWriter {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    poisoned: bool,
}

impl ManifestWriter {
    /// Creates the manifest at `path` and writes its header (not yet synced).
    pub fn create(fs: &Arc<dyn FileSystem>, path: &Path) -> Result<ManifestWriter> {
        let mut file = fs.create(path).map_err(|e| Error::io(path, e))?;
        file.append(&encode_header())
            .map_err(|e| Error::io(path, e))?;
        Ok(ManifestWriter {
            file,
            path: path.to_path_buf(),
            poisoned: false,
        })
    }

    /// Appends one edit and syncs the file. After a failure the writer refuses further
    /// edits: what reached the disk is unknown, so the caller must start a new manifest.
    pub fn append_synced(&mut self, edit: &VersionEdit) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned(format!(
                "{}: an earlier manifest write failed",
                self.path.display()
            )));
        }
        let rec = frame_record(&edit.encode());
        let res = self.file.append(&rec).and_then(|()| self.file.sync_data());
        if let Err(e) = res {
            self.poisoned = true;
            return Err(Error::io(&self.path, e));
        }
        Ok(())
    }

    /// The manifest's size in bytes so far.
    pub fn size_bytes(&self) -> u64 {
        self.file.position()
    }

    /// The manifest's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every edit of a manifest, stopping before a torn last record (see the module doc).
pub fn read_manifest(fs: &Arc<dyn FileSystem>, path: &Path) -> Result<Vec<VersionEdit>> {
    let file = fs.open_read(path).map_err(|e| Error::io(path, e))?;
    let len = file.len().map_err(|e| Error::io(path, e))?;
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, 0)
        .map_err(|e| Error::io(path, e))?;
    decode_manifest(path, &bytes)
}

/// Decodes a manifest's bytes (see [`read_manifest`]).
pub fn decode_manifest(path: &Path, bytes: &[u8]) -> Result<Vec<VersionEdit>> {
    match check_header(bytes) {
        Ok(()) => {}
        Err(HeaderError::Short) => {
            return Err(Error::corruption(
                path,
                0,
                "manifest shorter than its header",
            ))
        }
        Err(HeaderError::BadMagic) => {
            return Err(Error::corruption(path, 0, "not a manifest (bad magic)"))
        }
        Err(HeaderError::Checksum { expected, actual }) => {
            return Err(Error::ChecksumMismatch {
                file: path.to_path_buf(),
                offset: 0,
                expected,
                actual,
            })
        }
        Err(HeaderError::Version(version)) => {
            return Err(Error::UnsupportedVersion {
                file: path.to_path_buf(),
                version,
            })
        }
    }
    let mut edits = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let rest = bytes.len() - at;
        if rest < RECORD_HEADER_LEN {
            break; // torn record header at the end
        }
        let len = get_u32(bytes, at).unwrap_or(0);
        let stored = get_u32(bytes, at + 4).unwrap_or(0);
        if len > MAX_RECORD_BYTES {
            if rest < RECORD_HEADER_LEN + len as usize {
                break; // a torn length field reaching past the end
            }
            return Err(Error::corruption(
                path,
                at as u64,
                format!("record length {len} exceeds the maximum {MAX_RECORD_BYTES}"),
            ));
        }
        let end = at + RECORD_HEADER_LEN + len as usize;
        if end > bytes.len() {
            break; // torn payload at the end
        }
        let payload = &bytes[at + RECORD_HEADER_LEN..end];
        let actual = record_crc(len, payload);
        if actual != stored {
            if end == bytes.len() {
                break; // torn last record
            }
            return Err(Error::ChecksumMismatch {
                file: path.to_path_buf(),
                offset: at as u64,
                expected: stored,
                actual,
            });
        }
        let edit = VersionEdit::decode(payload).map_err(|(off, reason)| {
            Error::corruption(path, (at + RECORD_HEADER_LEN + off) as u64, reason)
        })?;
        edits.push(edit);
        at = end;
    }
    Ok(edits)
}

/// Reads CURRENT: the number of the live manifest, or `None` if there is no CURRENT.
pub fn read_current(fs: &Arc<dyn FileSystem>, dir: &Path) -> Result<Option<u64>> {
    let path = dir.join(CURRENT);
    if !fs.exists(&path) {
        return Ok(None);
    }
    let file = fs.open_read(&path).map_err(|e| Error::io(&path, e))?;
    let len = file.len().map_err(|e| Error::io(&path, e))?;
    if len > 64 {
        return Err(Error::corruption(
            &path,
            0,
            format!("CURRENT is {len} bytes long"),
        ));
    }
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, 0)
        .map_err(|e| Error::io(&path, e))?;
    let text = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .and_then(|s| s.strip_prefix("MANIFEST-"))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u64>().ok());
    match text {
        Some(n) => Ok(Some(n)),
        None => Err(Error::corruption(
            &path,
            0,
            "CURRENT does not hold \"MANIFEST-<number>\\n\"",
        )),
    }
}

/// Points CURRENT at manifest `number`: write `CURRENT.tmp`, sync it, rename it over
/// `CURRENT`, sync the directory.
pub fn set_current(fs: &Arc<dyn FileSystem>, dir: &Path, number: u64) -> Result<()> {
    let tmp = dir.join(CURRENT_TMP);
    let mut f = fs.create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let text = format!("{}\n", manifest_name(number));
    f.append(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    let current = dir.join(CURRENT);
    fs.rename(&tmp, &current)
        .map_err(|e| Error::io(&current, e))?;
    fs.sync_dir(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::MemFs;

    fn edit(seq: u64) -> VersionEdit {
        VersionEdit {
            last_sequence: Some(seq),
            ..VersionEdit::default()
        }
    }

    fn setup() -> (MemFs, Arc<dyn FileSystem>, PathBuf) {
        let mem = MemFs::new();
        let fs = mem.shared();
        fs.create_dir_all(Path::new("/db")).unwrap();
        (mem, fs, PathBuf::from("/db/MANIFEST-000001"))
    }

    #[test]
    fn edits_roundtrip_and_torn_tails_are_cut() {
        let (mem, fs, path) = setup();
        let mut w = ManifestWriter::create(&fs, &path).unwrap();
        for s in 1..=3 {
            w.append_synced(&edit(s)).unwrap();
        }
        let got = read_manifest(&fs, &path).unwrap();
        assert_eq!(got, vec![edit(1), edit(2), edit(3)]);
        let full = mem.read_all(&path).unwrap();
        // Cut at every length inside the last record: the first two edits remain.
        let last_start = full.len() - frame_record(&edit(3).encode()).len();
        for cut in last_start..full.len() {
            assert_eq!(
                decode_manifest(&path, &full[..cut]).unwrap(),
                vec![edit(1), edit(2)],
                "cut at {cut}"
            );
        }
        // A flipped byte in the last record: torn, cut.
        let mut torn = full.clone();
        *torn.last_mut().unwrap() ^= 1;
        assert_eq!(decode_manifest(&path, &torn).unwrap().len(), 2);
        // A flipped byte in a middle record: corruption naming the file and offset.
        let mut bad = full.clone();
        bad[HEADER_LEN + RECORD_HEADER_LEN] ^= 1;
        match decode_manifest(&path, &bad) {
            Err(Error::ChecksumMismatch { file, offset, .. }) => {
                assert_eq!(file, path);
                assert_eq!(offset, HEADER_LEN as u64);
            }
            other => panic!("expected a checksum mismatch, got {other:?}"),
        }
    }

    #[test]
    fn bad_headers_are_errors() {
        let (_mem, _fs, path) = setup();
        assert!(matches!(
            decode_manifest(&path, b"short"),
            Err(Error::Corruption { .. })
        ));
        let mut h = encode_header().to_vec();
        h[0] = b'X';
        assert!(matches!(
            decode_manifest(&path, &h),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn current_swap_survives_crashes_at_every_step() {
        let (mem, fs, _) = setup();
        let dir = Path::new("/db");
        assert_eq!(read_current(&fs, dir).unwrap(), None);
        set_current(&fs, dir, 1).unwrap();
        assert_eq!(read_current(&fs, dir).unwrap(), Some(1));
        // Freeze the file system after k operations of the next swap; the crashed image
        // must name manifest 1 or manifest 2, never anything else.
        for k in 0..6 {
            let faulty = common::FaultyFs::new(mem.shared());
            let ffs = faulty.shared();
            let ops = [
                common::Op::Create,
                common::Op::Append,
                common::Op::SyncData,
                common::Op::Rename,
                common::Op::SyncDir,
            ];
            // Allow the first k operations of the swap, then freeze.
            let mut allowed = k;
            for op in ops {
                if allowed == 0 {
                    faulty.fail(op, 0, common::FaultKind::Error);
                    break;
                }
                allowed -= 1;
            }
            let res = set_current(&ffs, dir, 2);
            assert_eq!(res.is_ok(), k >= 5, "k = {k}");
            let crashed: Arc<dyn FileSystem> = mem.crash().shared();
            let n = read_current(&crashed, dir).unwrap();
            assert!(n == Some(1) || n == Some(2), "k = {k}: {n:?}");
            if k >= 5 {
                assert_eq!(n, Some(2));
            }
            set_current(&fs, dir, 1).unwrap();
        }
        mem.write_all(&dir.join(CURRENT), b"MANIFEST-12").unwrap();
        assert!(matches!(
            read_current(&fs, dir),
            Err(Error::Corruption { .. })
        ));
    }
}
