//! The on-disk format of WAL segments: constants, encoding and decoding.
//!
//! Specified byte by byte in `docs/wal-format.md`; this file is its executable form. All integers
//! are little-endian. A segment is a 32-byte [header](encode_segment_header) followed by frames:
//!
//! ```text
//! frame = crc32c:u32 | length:u32 | kind:u8 | flags:u8 | payload[length]
//!         crc32c covers bytes 4..10 of the frame header and the payload
//! payload (kind Put/Delete, not compressed) = varint(key_len) | key | value
//! payload (FLAG_COMPRESSED)                 = u32 uncompressed_len | lz4 block
//! ```

use crate::config::Compression;
use crate::record::{AsRecord, Record};
use common::checksum::crc32c;
use common::coding::{get_u32, get_u64, get_varint, put_varint};

/// The 8 bytes every segment file starts with.
pub const SEGMENT_MAGIC: [u8; 8] = *b"KVWALSEG";
/// The segment format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Length of the segment header; the first frame starts here.
pub const SEGMENT_HEADER_LEN: u64 = 32;
/// Length of a frame header (crc, length, kind, flags).
pub const FRAME_HEADER_LEN: usize = 10;

/// Frame kind: a put record.
pub const KIND_PUT: u8 = 1;
/// Frame kind: a delete (tombstone) record.
pub const KIND_DELETE: u8 = 2;
/// Frame kind: a seal, closing a batch cut short by `truncate_after`; carries no record.
pub const KIND_SEAL: u8 = 3;

/// Flag: the first record of a batch (a lone record is FIRST | LAST).
pub const FLAG_FIRST: u8 = 0x01;
/// Flag: the last record of a batch; the batch is committed once this frame is whole.
pub const FLAG_LAST: u8 = 0x02;
/// Flag: the payload is lz4-compressed.
pub const FLAG_COMPRESSED: u8 = 0x04;
const KNOWN_FLAGS: u8 = FLAG_FIRST | FLAG_LAST | FLAG_COMPRESSED;

/// The largest payload a frame can describe (its length is a `u32`), minus headroom.
pub const MAX_FRAME_PAYLOAD: u64 = u32::MAX as u64 - 64;

/// The file name of segment `id`: 20 decimal digits and `.wal`, so names sort like ids.
pub fn segment_file_name(id: u64) -> String {
    format!("{id:020}.wal")
}

/// The id of a segment file name, if `name` is one.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Encodes the 32-byte segment header: magic, version, reserved flags, id, reserved, crc32c.
pub fn encode_segment_header(id: u64) -> [u8; SEGMENT_HEADER_LEN as usize] {
    let mut h = [0u8; SEGMENT_HEADER_LEN as usize];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    // 12..16 reserved flags, 24..28 reserved: zero.
    h[16..24].copy_from_slice(&id.to_le_bytes());
    let crc = crc32c(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What a segment header says.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderCheck {
    /// A valid header of this format version naming this segment id.
    Valid(u64),
    /// All zeros or cut short while matching what we write: a segment whose creation was torn.
    Incomplete,
    /// Not a segment of ours (wrong magic).
    Foreign,
    /// Our magic, another version.
    UnknownVersion(u32),
    /// Our magic and version but a failed checksum or reserved bits set.
    Corrupt(String),
}

/// Checks the header bytes at the start of a segment (`bytes` may be shorter than a header if
/// the file is).
pub fn check_segment_header(bytes: &[u8]) -> HeaderCheck {
    let n = bytes.len().min(SEGMENT_HEADER_LEN as usize);
    let bytes = &bytes[..n];
    if bytes.iter().all(|&b| b == 0) {
        return HeaderCheck::Incomplete;
    }
    let m = n.min(8);
    if bytes[..m] != SEGMENT_MAGIC[..m] {
        return HeaderCheck::Foreign;
    }
    if n < SEGMENT_HEADER_LEN as usize {
        return HeaderCheck::Incomplete;
    }
    let version = get_u32(bytes, 8).unwrap_or(0);
    if version != FORMAT_VERSION {
        return HeaderCheck::UnknownVersion(version);
    }
    let stored = get_u32(bytes, 28).unwrap_or(0);
    let actual = crc32c(&bytes[0..28]);
    if stored != actual {
        return HeaderCheck::Corrupt(format!(
            "segment header checksum mismatch: stored {stored:#010x}, computed {actual:#010x}"
        ));
    }
    if get_u32(bytes, 12) != Some(0) || get_u32(bytes, 24) != Some(0) {
        return HeaderCheck::Corrupt("segment header reserved bytes are not zero".into());
    }
    HeaderCheck::Valid(get_u64(bytes, 16).unwrap_or(0))
}

/// A frame header as decoded, before its checksum is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The stored crc32c.
    pub crc: u32,
    /// Payload length in bytes.
    pub len: u32,
    /// `KIND_PUT`, `KIND_DELETE` or `KIND_SEAL`.
    pub kind: u8,
    /// `FLAG_*` bits.
    pub flags: u8,
}

impl FrameHeader {
    /// Decodes the first `FRAME_HEADER_LEN` bytes of `b`; `None` if `b` is shorter.
    pub fn decode(b: &[u8]) -> Option<FrameHeader> {
        let b = b.get(..FRAME_HEADER_LEN)?;
        Some(FrameHeader {
            crc: u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            len: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            kind: b[8],
            flags: b[9],
        })
    }

    /// Why this header cannot start a frame, judged without the payload; `None` if plausible.
    pub fn implausible(&self, max_payload: u64) -> Option<String> {
        match self.kind {
            KIND_PUT | KIND_DELETE => {}
            KIND_SEAL => {
                if self.len != 0 || self.flags != FLAG_LAST {
                    return Some("malformed seal frame".into());
                }
            }
            k => return Some(format!("unknown frame kind {k}")),
        }
        if self.flags & !KNOWN_FLAGS != 0 {
            return Some(format!("unknown frame flags {:#04x}", self.flags));
        }
        if self.len as u64 > max_payload {
            return Some(format!(
                "frame length {} exceeds the limit {max_payload} (max_record_bytes plus framing)",
                self.len
            ));
        }
        None
    }
}

/// The crc32c a frame must carry: over header bytes 4..10 and the payload.
pub fn frame_crc(frame: &[u8]) -> u32 {
    crc32c(&frame[4..])
}

/// The frame payload limit for a given `max_record_bytes`: key, value, key-length varint and
/// lz4 overhead (compressed payloads are only stored when smaller than the plain payload).
pub fn max_payload_for(max_record_bytes: u64) -> u64 {
    (max_record_bytes + 16).min(MAX_FRAME_PAYLOAD)
}

/// Appends one record frame to `buf`. `scratch` is reused for compression.
pub fn encode_record(
    buf: &mut Vec<u8>,
    record: &impl AsRecord,
    flags: u8,
    compression: Compression,
    scratch: &mut Vec<u8>,
) {
    let record = record.as_record();
    let start = buf.len();
    let kind = if record.tombstone {
        KIND_DELETE
    } else {
        KIND_PUT
    };
    let raw_len = record.key.len() + record.value.len();
    let mut flags = flags;
    buf.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    let mut compressed = false;
    if let Compression::Lz4 { min_bytes } = compression {
        if raw_len >= min_bytes.max(1) {
            scratch.clear();
            put_varint(scratch, record.key.len() as u64);
            scratch.extend_from_slice(record.key);
            scratch.extend_from_slice(record.value);
            let packed = lz4_flex::block::compress_prepend_size(scratch);
            if packed.len() < scratch.len() {
                buf.extend_from_slice(&packed);
                flags |= FLAG_COMPRESSED;
                compressed = true;
            }
        }
    }
    if !compressed {
        put_varint(buf, record.key.len() as u64);
        buf.extend_from_slice(record.key);
        buf.extend_from_slice(record.value);
    }
    let len = (buf.len() - start - FRAME_HEADER_LEN) as u32;
    finish_frame(&mut buf[start..], len, kind, flags);
}

/// Appends a seal frame (closes a batch cut short by `truncate_after`).
pub fn encode_seal(buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.extend_from_slice(&[0u8; FRAME_HEADER_LEN]);
    finish_frame(&mut buf[start..], 0, KIND_SEAL, FLAG_LAST);
}

fn finish_frame(frame: &mut [u8], len: u32, kind: u8, flags: u8) {
    frame[4..8].copy_from_slice(&len.to_le_bytes());
    frame[8] = kind;
    frame[9] = flags;
    let crc = frame_crc(frame);
    frame[0..4].copy_from_slice(&crc.to_le_bytes());
}

/// Decodes the record of a checksum-verified Put/Delete frame. Errors say what is wrong.
pub fn decode_record(
    header: &FrameHeader,
    payload: &[u8],
    max_record_bytes: u64,
) -> Result<Record, String> {
    let tombstone = header.kind == KIND_DELETE;
    let inflated;
    let body: &[u8] = if header.flags & FLAG_COMPRESSED != 0 {
        let size = get_u32(payload, 0).ok_or("compressed payload shorter than its size prefix")?;
        if size as u64 > max_record_bytes + 10 {
            return Err(format!(
                "compressed record claims {size} bytes, over max_record_bytes {max_record_bytes}"
            ));
        }
        inflated = lz4_flex::block::decompress_size_prepended(payload)
            .map_err(|e| format!("lz4 payload does not decompress: {e}"))?;
        &inflated
    } else {
        payload
    };
    let (key_len, n) = get_varint(body).ok_or("key length varint is malformed")?;
    let rest = &body[n..];
    if key_len > rest.len() as u64 {
        return Err(format!(
            "key length {key_len} exceeds the {} payload bytes left",
            rest.len()
        ));
    }
    let (key, value) = rest.split_at(key_len as usize);
    Ok(Record {
        key: key.to_vec(),
        value: value.to_vec(),
        tombstone,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sort() {
        assert_eq!(segment_file_name(1), "00000000000000000001.wal");
        assert_eq!(
            parse_segment_file_name("00000000000000000042.wal"),
            Some(42)
        );
        assert_eq!(parse_segment_file_name("42.wal"), None);
        assert_eq!(parse_segment_file_name("0000000000000000004x.wal"), None);
        assert!(segment_file_name(9) < segment_file_name(10));
    }

    #[test]
    fn header_checks() {
        let h = encode_segment_header(7);
        assert_eq!(check_segment_header(&h), HeaderCheck::Valid(7));
        assert_eq!(check_segment_header(&h[..5]), HeaderCheck::Incomplete);
        assert_eq!(check_segment_header(&[0; 32]), HeaderCheck::Incomplete);
        assert_eq!(
            check_segment_header(b"hello world, not a wal segment!!"),
            HeaderCheck::Foreign
        );
        let mut v2 = h;
        v2[8] = 2;
        assert_eq!(check_segment_header(&v2), HeaderCheck::UnknownVersion(2));
        let mut bad = h;
        bad[17] ^= 1;
        assert!(matches!(
            check_segment_header(&bad),
            HeaderCheck::Corrupt(_)
        ));
    }

    #[test]
    fn record_frames_round_trip_plain_and_compressed() {
        let mut scratch = Vec::new();
        for compression in [Compression::None, Compression::Lz4 { min_bytes: 8 }] {
            let rec = Record::put(b"key", vec![b'a'; 300]);
            let mut buf = Vec::new();
            encode_record(
                &mut buf,
                &rec,
                FLAG_FIRST | FLAG_LAST,
                compression,
                &mut scratch,
            );
            let h = FrameHeader::decode(&buf).unwrap();
            assert_eq!(h.len as usize, buf.len() - FRAME_HEADER_LEN);
            assert_eq!(h.crc, frame_crc(&buf));
            assert_eq!(h.implausible(1000), None);
            let compressed = h.flags & FLAG_COMPRESSED != 0;
            assert_eq!(compressed, compression != Compression::None);
            let back = decode_record(&h, &buf[FRAME_HEADER_LEN..], 1000).unwrap();
            assert_eq!(back, rec);
        }
        let mut buf = Vec::new();
        encode_record(
            &mut buf,
            &Record::delete(b"k"),
            FLAG_FIRST | FLAG_LAST,
            Compression::None,
            &mut scratch,
        );
        let h = FrameHeader::decode(&buf).unwrap();
        assert_eq!(h.kind, KIND_DELETE);
        assert!(
            decode_record(&h, &buf[FRAME_HEADER_LEN..], 10)
                .unwrap()
                .tombstone
        );
    }

    #[test]
    fn bad_payloads_are_errors_not_panics() {
        let h = FrameHeader {
            crc: 0,
            len: 3,
            kind: KIND_PUT,
            flags: 0,
        };
        assert!(decode_record(&h, &[0x80], 10).is_err());
        assert!(decode_record(&h, &[5, 1], 10).is_err());
        let c = FrameHeader {
            flags: FLAG_COMPRESSED,
            ..h
        };
        assert!(decode_record(&c, &[1, 0, 0, 0, 0xff], 10).is_err());
        assert!(decode_record(&c, &[0xff, 0xff, 0xff, 0x7f], 10).is_err());
        let seal = FrameHeader {
            crc: 0,
            len: 0,
            kind: KIND_SEAL,
            flags: FLAG_LAST,
        };
        assert_eq!(seal.implausible(0), None);
        assert!(FrameHeader { kind: 9, ..seal }.implausible(0).is_some());
        assert!(FrameHeader { flags: 0x80, ..h }.implausible(10).is_some());
        assert!(FrameHeader { len: 11, ..h }.implausible(10).is_some());
    }
}
