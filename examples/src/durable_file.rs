//! Small files replaced atomically: snapshots, consumer offsets, Raft snapshots.
//!
//! The order that makes a replacement crash-safe: write the new contents to `<name>.tmp`,
//! fsync it, rename it over `<name>`, fsync the directory. A crash at any point leaves either
//! the old file or the new one, never a mix; a leftover `.tmp` is overwritten next time.
//!
//! The file's bytes (all integers little-endian):
//! ```text
//! +-----------+-------------+--------------+------------------+
//! | magic (4) | crc32c (4)  | length (4)   | body (length)    |
//! | "WEX1"    | of the body | of the body  | JSON             |
//! +-----------+-------------+--------------+------------------+
//! ```
//! The magic carries the version (`1`); another magic is an error, as is a length that does
//! not match the file or a checksum that does not match the body.

use crate::error::{Error, Result};
use common::checksum::crc32c;
use common::FileSystem;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The first four bytes of every such file (format version 1).
pub const MAGIC: [u8; 4] = *b"WEX1";
const HEADER_LEN: usize = 12;

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Replaces the file at `path` with `body`, atomically and durably.
pub fn write_atomic(fs: &dyn FileSystem, path: &Path, body: &[u8]) -> Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| {
        Error::Invalid(format!(
            "{} bytes is too large for a small file",
            body.len()
        ))
    })?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
    bytes.extend_from_slice(&MAGIC);
    bytes.extend_from_slice(&crc32c(body).to_le_bytes());
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(body);
    let tmp = tmp_path(path);
    let mut file = fs.create(&tmp)?;
    file.append(&bytes)?;
    file.sync_all()?;
    drop(file);
    fs.rename(&tmp, path)?;
    fs.sync_dir(common::fs::parent_dir(path))?;
    Ok(())
}

/// The body of the file at `path`, or `None` if there is no such file.
pub fn read_atomic(fs: &dyn FileSystem, path: &Path) -> Result<Option<Vec<u8>>> {
    if !fs.exists(path) {
        return Ok(None);
    }
    let file = fs.open_read(path)?;
    let size = file.len()?;
    let bad = |offset: u64, reason: String| Error::Corruption {
        file: path.to_path_buf(),
        offset,
        reason,
    };
    if size < HEADER_LEN as u64 {
        return Err(bad(
            0,
            format!("{size} bytes is shorter than the 12-byte header"),
        ));
    }
    let mut bytes = vec![0u8; size as usize];
    file.read_exact_at(&mut bytes, 0)?;
    if bytes[..4] != MAGIC {
        return Err(bad(
            0,
            format!("magic {:?}, expected {:?}", &bytes[..4], MAGIC),
        ));
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (expected, len) = (word(4), word(8));
    if u64::from(len) != size - HEADER_LEN as u64 {
        return Err(bad(
            8,
            format!(
                "body length {len} but the file holds {} body bytes",
                size - 12
            ),
        ));
    }
    let body = bytes.split_off(HEADER_LEN);
    let actual = crc32c(&body);
    if actual != expected {
        return Err(Error::ChecksumMismatch {
            file: path.to_path_buf(),
            offset: HEADER_LEN as u64,
            expected,
            actual,
        });
    }
    Ok(Some(body))
}

/// [`write_atomic`] of a value as JSON.
pub fn write_json<T: Serialize>(fs: &dyn FileSystem, path: &Path, value: &T) -> Result<()> {
    let body = serde_json::to_vec(value).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(fs, path, &body)
}

/// [`read_atomic`] of a JSON value; a body that does not decode is corruption.
pub fn read_json<T: DeserializeOwned>(fs: &dyn FileSystem, path: &Path) -> Result<Option<T>> {
    match read_atomic(fs, path)? {
        None => Ok(None),
        Some(body) => serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| Error::Corruption {
                file: path.to_path_buf(),
                offset: HEADER_LEN as u64,
                reason: format!("body is not the expected JSON: {e}"),
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::MemFs;

    #[test]
    fn replace_survives_a_crash_and_damage_is_reported() {
        let fs = MemFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let p = Path::new("/d/state");
        assert_eq!(read_atomic(&fs, p).unwrap(), None);
        write_json(&fs, p, &vec![1u32, 2]).unwrap();
        write_json(&fs, p, &vec![3u32]).unwrap();
        let crashed = fs.crash();
        assert_eq!(read_json::<Vec<u32>>(&crashed, p).unwrap(), Some(vec![3]));
        let mut bytes = crashed.read_all(p).unwrap();
        *bytes.last_mut().unwrap() ^= 1;
        crashed.write_all(p, &bytes).unwrap();
        assert!(matches!(
            read_atomic(&crashed, p),
            Err(Error::ChecksumMismatch { .. })
        ));
        crashed.write_all(p, &bytes[..5]).unwrap();
        assert!(matches!(
            read_atomic(&crashed, p),
            Err(Error::Corruption { offset: 0, .. })
        ));
    }

    #[test]
    fn an_unsynced_replacement_is_not_half_there_after_a_crash() {
        let fs = MemFs::new();
        fs.create_dir_all(Path::new("/d")).unwrap();
        let p = Path::new("/d/state");
        write_json(&fs, p, &1u32).unwrap();
        // A replacement that stopped before its rename: the crash keeps the old file.
        let mut tmp = fs.create(&tmp_path(p)).unwrap();
        tmp.append(b"WEX1 half").unwrap();
        let crashed = fs.crash();
        assert_eq!(read_json::<u32>(&crashed, p).unwrap(), Some(1));
    }
}
