//! The manifest's on-disk format: constants, the file header and the record framing.
//!
//! Specified byte by byte in `docs/manifest-format.md`; this file and that document must agree.
//! All integers are little-endian; varints are LEB128 (`common::coding`).
//!
//! ```text
//! manifest file = header record*
//! header        = magic "KVMANIFS" (8) | format version u32 (4) | crc32c(bytes 0..12) u32 (4)
//! record        = length u32 (4) | crc32c(length bytes ++ payload) u32 (4) | payload (length)
//! payload       = one version edit (see `version_edit.rs`)
//! ```

use common::checksum::crc32c;
use common::coding::{get_u32, put_u32};

/// The first 8 bytes of every manifest.
pub const MAGIC: &[u8; 8] = b"KVMANIFS";
/// The manifest format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes in the file header.
pub const HEADER_LEN: usize = 16;
/// Bytes in a record's header (length, checksum).
pub const RECORD_HEADER_LEN: usize = 8;
/// The largest payload a record may carry; a larger length is corruption.
pub const MAX_RECORD_BYTES: u32 = 64 << 20;
/// The number of levels a version has (level 0 plus six deeper levels).
pub const NUM_LEVELS: usize = 7;

/// Field tags of a version edit.
pub mod tag {
    /// 16 bytes: the WAL position where unflushed records start.
    pub const LOG_START: u64 = 1;
    /// varint: the largest sequence number whose record is in a table.
    pub const LAST_SEQUENCE: u64 = 2;
    /// varint: the next unused file number.
    pub const NEXT_FILE_NUMBER: u64 = 3;
    /// A file added to a level.
    pub const ADD_FILE: u64 = 4;
    /// A file removed from a level.
    pub const DELETE_FILE: u64 = 5;
}

/// The 16-byte file header.
pub fn encode_header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32c(&h[..12]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What is wrong with a header, if anything.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// Fewer than 16 bytes.
    Short,
    /// The magic does not match.
    BadMagic,
    /// The header checksum does not match.
    Checksum { expected: u32, actual: u32 },
    /// A version this build does not know.
    Version(u32),
}

/// Checks a file header.
pub fn check_header(bytes: &[u8]) -> Result<(), HeaderError> {
    if bytes.len() < HEADER_LEN {
        return Err(HeaderError::Short);
    }
    if &bytes[..8] != MAGIC {
        return Err(HeaderError::BadMagic);
    }
    let expected = get_u32(bytes, 12).ok_or(HeaderError::Short)?;
    let actual = crc32c(&bytes[..12]);
    if expected != actual {
        return Err(HeaderError::Checksum { expected, actual });
    }
    let version = get_u32(bytes, 8).ok_or(HeaderError::Short)?;
    if version != FORMAT_VERSION {
        return Err(HeaderError::Version(version));
    }
    Ok(())
}

/// Frames a payload as one record: length, checksum, payload.
pub fn frame_record(payload: &[u8]) -> Vec<u8> {
    assert!(
        payload.len() <= MAX_RECORD_BYTES as usize,
        "manifest record too large"
    );
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    put_u32(&mut out, len);
    put_u32(&mut out, record_crc(len, payload));
    out.extend_from_slice(payload);
    out
}

/// The checksum of a record: crc32c over the 4 length bytes followed by the payload.
pub fn record_crc(len: u32, payload: &[u8]) -> u32 {
    common::checksum::crc32c_extend(crc32c(&len.to_le_bytes()), payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_rejections() {
        let h = encode_header();
        assert_eq!(check_header(&h), Ok(()));
        assert_eq!(check_header(&h[..15]), Err(HeaderError::Short));
        let mut bad = h;
        bad[0] ^= 1;
        assert_eq!(check_header(&bad), Err(HeaderError::BadMagic));
        let mut v2 = h;
        v2[8] = 2;
        let crc = crc32c(&v2[..12]);
        v2[12..16].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(check_header(&v2), Err(HeaderError::Version(2)));
        let mut flipped = h;
        flipped[9] ^= 0x40;
        assert!(matches!(
            check_header(&flipped),
            Err(HeaderError::Checksum { .. })
        ));
    }

    #[test]
    fn record_frame_layout() {
        let r = frame_record(b"abc");
        assert_eq!(&r[..4], &3u32.to_le_bytes());
        assert_eq!(get_u32(&r, 4), Some(record_crc(3, b"abc")));
        assert_eq!(&r[8..], b"abc");
    }
}
