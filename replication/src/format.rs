//! Byte layouts of what this crate writes: Raft-log records (inside `wal` records), the
//! snapshot file and the state-machine pointer file. Specified byte by byte
//! in `docs/replication.md` (section "Formats"); all integers are little-endian except the
//! log index in an entry record's key, which is big-endian so that keys sort by index.

use crate::error::{Error, Result};
use crate::types::SnapshotMeta;
use common::checksum::crc32c;
use common::coding::{put_u32, put_u64, Reader};
use std::path::Path;

/// Length of an entry record's key: the log index, 8 bytes big-endian.
pub const ENTRY_KEY_LEN: usize = 8;
/// Key of a vote record (value: the vote, JSON).
pub const VOTE_KEY: &[u8] = b"!vote";
/// Key of a purge marker (value: the last purged log id, JSON).
pub const PURGED_KEY: &[u8] = b"!purged";
/// Key of a truncation record (value: the last kept log id or `null`, JSON): every entry
/// after it that precedes this record in the log is void.
pub const TRUNCATE_KEY: &[u8] = b"!truncate";

/// First bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"RKVSNAP\0";
/// The snapshot format version this code writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;
/// Name of the file naming the live state-machine directory.
pub const SM_POINTER_FILE: &str = "SM_CURRENT";
/// The two state-machine directories; an install builds the one not live.
pub const SM_SLOTS: [&str; 2] = ["sm.0", "sm.1"];

/// The WAL key of the entry at `index`.
pub fn entry_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// The index in an entry record's key, or `None` if the key is not an entry key.
pub fn entry_index(key: &[u8]) -> Option<u64> {
    let b: [u8; 8] = key.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

/// Encodes a snapshot file: header, metadata, every pair, checksum.
pub fn encode_snapshot(meta: &SnapshotMeta, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<Vec<u8>> {
    let meta_json = serde_json::to_vec(meta).map_err(|e| Error::Protocol(e.to_string()))?;
    let mut buf = Vec::with_capacity(64 + meta_json.len());
    buf.extend_from_slice(SNAPSHOT_MAGIC);
    put_u32(&mut buf, SNAPSHOT_VERSION);
    put_u32(&mut buf, len_u32(meta_json.len())?);
    buf.extend_from_slice(&meta_json);
    put_u64(&mut buf, pairs.len() as u64);
    for (k, v) in pairs {
        put_u32(&mut buf, len_u32(k.len())?);
        buf.extend_from_slice(k);
        put_u32(&mut buf, len_u32(v.len())?);
        buf.extend_from_slice(v);
    }
    let crc = crc32c(&buf);
    put_u32(&mut buf, crc);
    Ok(buf)
}

fn len_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Invalid(format!("{n} bytes exceed a 4-byte length")))
}

/// A decoded snapshot file: its metadata and its pairs in order.
#[derive(Debug)]
pub struct DecodedSnapshot {
    /// The metadata as written.
    pub meta: SnapshotMeta,
    /// The key-value pairs, ascending by key.
    pub pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Decodes a snapshot file; any damage is an error naming `file` and the offset.
pub fn decode_snapshot(bytes: &[u8], file: &Path) -> Result<DecodedSnapshot> {
    let corrupt = |offset: usize, reason: &str| Error::Corruption {
        file: file.to_path_buf(),
        offset: offset as u64,
        reason: reason.to_string(),
    };
    if bytes.len() < SNAPSHOT_MAGIC.len() + 4 + 4 + 8 + 4 {
        return Err(corrupt(0, "shorter than the smallest snapshot"));
    }
    let body_len = bytes.len() - 4;
    let mut stored = [0u8; 4];
    stored.copy_from_slice(&bytes[body_len..]);
    let expected = u32::from_le_bytes(stored);
    let actual = crc32c(&bytes[..body_len]);
    if expected != actual {
        return Err(Error::ChecksumMismatch {
            file: file.to_path_buf(),
            offset: 0,
            expected,
            actual,
        });
    }
    let mut r = Reader::new(&bytes[..body_len]);
    if r.bytes(8) != Some(&SNAPSHOT_MAGIC[..]) {
        return Err(corrupt(0, "bad magic (not a snapshot file)"));
    }
    let version = r.u32().ok_or_else(|| corrupt(8, "truncated version"))?;
    if version != SNAPSHOT_VERSION {
        return Err(corrupt(8, &format!("unknown snapshot version {version}")));
    }
    let meta_len = r
        .u32()
        .ok_or_else(|| corrupt(12, "truncated metadata length"))? as usize;
    let meta_bytes = r
        .bytes(meta_len)
        .ok_or_else(|| corrupt(16, "truncated metadata"))?;
    let meta: SnapshotMeta = serde_json::from_slice(meta_bytes)
        .map_err(|e| corrupt(16, &format!("metadata is not valid: {e}")))?;
    let at = r.position();
    let count = r.u64().ok_or_else(|| corrupt(at, "truncated pair count"))?;
    let mut pairs = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let at = r.position();
        let k_len = r.u32().ok_or_else(|| corrupt(at, "truncated key length"))? as usize;
        let k = r.bytes(k_len).ok_or_else(|| corrupt(at, "truncated key"))?;
        let at = r.position();
        let v_len = r
            .u32()
            .ok_or_else(|| corrupt(at, "truncated value length"))? as usize;
        let v = r
            .bytes(v_len)
            .ok_or_else(|| corrupt(at, "truncated value"))?;
        pairs.push((k.to_vec(), v.to_vec()));
    }
    if !r.is_empty() {
        return Err(corrupt(r.position(), "bytes after the last pair"));
    }
    Ok(DecodedSnapshot { meta, pairs })
}

/// Encodes the pointer file's content: the live slot's name and a newline.
pub fn encode_pointer(slot: usize) -> Vec<u8> {
    format!("{}\n", SM_SLOTS[slot]).into_bytes()
}

/// Decodes the pointer file's content into a slot number.
pub fn decode_pointer(bytes: &[u8], file: &Path) -> Result<usize> {
    SM_SLOTS
        .iter()
        .position(|s| bytes.strip_suffix(b"\n") == Some(s.as_bytes()))
        .ok_or_else(|| Error::Corruption {
            file: file.to_path_buf(),
            offset: 0,
            reason: format!("expected \"sm.0\\n\" or \"sm.1\\n\", found {bytes:?}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::StoredMembership;

    fn meta() -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: None,
            last_membership: StoredMembership::default(),
        }
    }

    #[test]
    fn entry_keys_sort_by_index() {
        assert!(entry_key(2) < entry_key(256));
        assert_eq!(entry_index(&entry_key(77)), Some(77));
        assert_eq!(entry_index(VOTE_KEY), None);
        assert_eq!(entry_index(PURGED_KEY), None);
        assert_eq!(entry_index(TRUNCATE_KEY), None);
    }

    #[test]
    fn snapshot_round_trip_and_every_flip_detected() {
        let pairs = [(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), vec![])];
        let bytes = encode_snapshot(&meta(), &pairs).unwrap();
        let d = decode_snapshot(&bytes, Path::new("s")).unwrap();
        assert_eq!(d.meta, meta());
        assert_eq!(d.pairs, pairs);
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x20;
            assert!(decode_snapshot(&b, Path::new("s")).is_err(), "flip at {i}");
        }
        for n in 0..bytes.len() {
            assert!(decode_snapshot(&bytes[..n], Path::new("s")).is_err());
        }
    }

    #[test]
    fn golden_empty_snapshot_layout() {
        let bytes = encode_snapshot(&meta(), &[]).unwrap();
        assert_eq!(&bytes[..8], b"RKVSNAP\0");
        assert_eq!(&bytes[8..12], &[1, 0, 0, 0]);
        let meta_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        assert_eq!(&bytes[16 + meta_len..24 + meta_len], &[0u8; 8]);
        assert_eq!(bytes.len(), 16 + meta_len + 8 + 4);
    }

    #[test]
    fn pointer_round_trip() {
        assert_eq!(
            decode_pointer(&encode_pointer(1), Path::new("p")).unwrap(),
            1
        );
        assert_eq!(encode_pointer(0), b"sm.0\n");
        assert!(decode_pointer(b"sm.2\n", Path::new("p")).is_err());
        assert!(decode_pointer(b"", Path::new("p")).is_err());
    }
}
