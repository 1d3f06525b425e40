//! The table file's layout: constants, block handles, the block trailer and the footer.
//!
//! The format is specified byte by byte in `docs/sstable-format.md` (format version 1); this
//! module is its code. In short, all integers little-endian:
//!
//! ```text
//! [data block 0][trailer] ... [data block n-1][trailer]
//! [filter block][trailer] [properties block][trailer] [index block][trailer]
//! [footer: 64 bytes]
//! trailer = compression type (u8: 0 none, 1 lz4) | crc32c (u32) of (stored bytes ++ type byte)
//! footer  = filter handle | properties handle | index handle   (each: offset u64, size u64)
//!         | crc32c (u32) of the 48 handle bytes | format version (u32) | magic (8 bytes "KVLSMSST")
//! ```

use crate::error::{Error, Result};
use common::checksum::{crc32c, crc32c_extend};
use common::coding::{get_u32, get_u64, get_varint, put_u32, put_u64, put_varint};
use std::path::Path;

/// The magic number closing every table: the bytes `KVLSMSST`, read as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"KVLSMSST");
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The footer's size in bytes.
pub const FOOTER_SIZE: usize = 64;
/// The block trailer's size in bytes: compression type (1) and crc32c (4).
pub const BLOCK_TRAILER_SIZE: usize = 5;
/// Compression type byte: stored as is.
pub const COMPRESSION_NONE: u8 = 0;
/// Compression type byte: u32 uncompressed length, then one lz4 block (no frame).
pub const COMPRESSION_LZ4: u8 = 1;
/// The restart interval of the index block (every index entry is a restart point).
pub const INDEX_RESTART_INTERVAL: usize = 1;
/// The largest ratio of uncompressed to compressed lz4 bytes that is possible (each lz4 byte
/// expands to at most 255 bytes), plus slack: a larger stated length is corruption, and this
/// bound keeps a corrupt length from allocating more than 256 times the block's stored size.
const LZ4_MAX_RATIO: usize = 256;

/// How data blocks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Stored as is.
    None,
    /// lz4 block compression, per block, kept only when it makes the block smaller.
    #[default]
    Lz4,
}

/// Where a block is: its offset in the file and its stored size (excluding the trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHandle {
    /// Byte offset of the block's first byte.
    pub offset: u64,
    /// Stored (possibly compressed) size of the block in bytes, trailer excluded.
    pub size: u64,
}

impl BlockHandle {
    /// Appends the varint form used in index entries: offset, then size.
    pub fn encode_varint(&self, buf: &mut Vec<u8>) {
        put_varint(buf, self.offset);
        put_varint(buf, self.size);
    }

    /// Decodes the varint form, which must use every byte of `bytes`.
    pub fn decode_varint(bytes: &[u8]) -> Option<BlockHandle> {
        let (offset, n) = get_varint(bytes)?;
        let (size, m) = get_varint(bytes.get(n..)?)?;
        (n + m == bytes.len()).then_some(BlockHandle { offset, size })
    }

    /// The offset just past the block's trailer; `None` on overflow.
    pub fn end(&self) -> Option<u64> {
        self.offset
            .checked_add(self.size)?
            .checked_add(BLOCK_TRAILER_SIZE as u64)
    }

    /// Whether the block and its trailer fit in `[start, limit)`.
    pub fn within(&self, start: u64, limit: u64) -> bool {
        self.offset >= start && self.end().is_some_and(|e| e <= limit)
    }
}

/// The footer: where the filter, properties and index blocks are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The bloom filter block.
    pub filter: BlockHandle,
    /// The properties block.
    pub properties: BlockHandle,
    /// The index block.
    pub index: BlockHandle,
}

impl Footer {
    /// The 64-byte encoded footer.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(FOOTER_SIZE);
        for h in [self.filter, self.properties, self.index] {
            put_u64(&mut b, h.offset);
            put_u64(&mut b, h.size);
        }
        let crc = crc32c(&b);
        put_u32(&mut b, crc);
        put_u32(&mut b, FORMAT_VERSION);
        put_u64(&mut b, MAGIC);
        debug_assert_eq!(b.len(), FOOTER_SIZE);
        b
    }

    /// Decodes and checks the footer of a file of `file_len` bytes whose last 64 bytes are
    /// `bytes`: magic, then version, then checksum, then that every handle lies between the
    /// start of the file and the footer, in the order filter, properties, index, back to back.
    pub fn decode(file: &Path, bytes: &[u8], file_len: u64) -> Result<Footer> {
        let corrupt = |offset: u64, reason: String| Error::Corruption {
            file: file.to_path_buf(),
            offset,
            reason,
        };
        if bytes.len() != FOOTER_SIZE || file_len < FOOTER_SIZE as u64 {
            return Err(corrupt(
                0,
                format!(
                    "file is {file_len} bytes, too short to hold the {FOOTER_SIZE}-byte footer (truncated?)"
                ),
            ));
        }
        let start = file_len - FOOTER_SIZE as u64;
        let magic = get_u64(bytes, 56).unwrap_or(0);
        if magic != MAGIC {
            return Err(Error::BadMagic {
                file: file.to_path_buf(),
                offset: start + 56,
                found: magic,
            });
        }
        let version = get_u32(bytes, 52).unwrap_or(0);
        if version != FORMAT_VERSION {
            return Err(Error::UnknownVersion {
                file: file.to_path_buf(),
                version,
            });
        }
        let expected = get_u32(bytes, 48).unwrap_or(0);
        let actual = crc32c(&bytes[..48]);
        if expected != actual {
            return Err(Error::ChecksumMismatch {
                file: file.to_path_buf(),
                block: "footer",
                block_offset: start,
                expected,
                actual,
            });
        }
        let handle = |i: usize| BlockHandle {
            offset: get_u64(bytes, i * 16).unwrap_or(0),
            size: get_u64(bytes, i * 16 + 8).unwrap_or(0),
        };
        let footer = Footer {
            filter: handle(0),
            properties: handle(1),
            index: handle(2),
        };
        // The meta blocks follow one another with no gap, the index ending where the footer
        // starts, so every byte of the file is under a checksum.
        let in_order = footer.filter.end() == Some(footer.properties.offset)
            && footer.properties.end() == Some(footer.index.offset)
            && footer.index.end() == Some(start);
        if !in_order {
            return Err(corrupt(
                start,
                format!(
                    "footer handles out of range or order for a {file_len}-byte file: {footer:?}"
                ),
            ));
        }
        Ok(footer)
    }
}

/// Turns a block's contents into its stored form and trailer: lz4-compressed when asked and
/// smaller, raw otherwise. Returns (stored bytes, trailer).
pub fn encode_stored_block(
    contents: &[u8],
    compression: Compression,
) -> (Vec<u8>, [u8; BLOCK_TRAILER_SIZE]) {
    let mut stored = Vec::new();
    let mut kind = COMPRESSION_NONE;
    if compression == Compression::Lz4 {
        if let Ok(len) = u32::try_from(contents.len()) {
            let compressed = lz4_flex::block::compress(contents);
            if compressed.len() + 4 < contents.len() {
                put_u32(&mut stored, len);
                stored.extend_from_slice(&compressed);
                kind = COMPRESSION_LZ4;
            }
        }
    }
    if kind == COMPRESSION_NONE {
        stored.extend_from_slice(contents);
    }
    let crc = crc32c_extend(crc32c(&stored), &[kind]);
    let mut trailer = [0u8; BLOCK_TRAILER_SIZE];
    trailer[0] = kind;
    trailer[1..].copy_from_slice(&crc.to_le_bytes());
    (stored, trailer)
}

/// Why stored bytes do not decode; the caller adds the file and offset.
pub type DecodeError = String;

/// Checks the trailer of a stored block (`stored ++ trailer`) and returns its stored bytes and
/// compression type, or the (expected, actual) checksums on a mismatch.
pub fn check_trailer(raw: &[u8]) -> std::result::Result<(&[u8], u8), (u32, u32)> {
    let cut = raw.len().saturating_sub(BLOCK_TRAILER_SIZE);
    let (stored, trailer) = raw.split_at(cut);
    let kind = trailer.first().copied().unwrap_or(0);
    let expected = get_u32(trailer, 1).unwrap_or(0);
    let actual = crc32c_extend(crc32c(stored), &[kind]);
    if trailer.len() != BLOCK_TRAILER_SIZE || expected != actual {
        return Err((expected, actual));
    }
    Ok((stored, kind))
}

/// Undoes the compression of a block's stored bytes.
pub fn decompress(stored: &[u8], kind: u8) -> std::result::Result<Vec<u8>, DecodeError> {
    decompress_reusing(stored, kind, Vec::new())
}

/// [`decompress`] into `buf`, a spare buffer whose old contents are overwritten (its
/// allocation is reused if it fits the block within a quarter, so that the block's memory
/// stays close to its size). An lz4 block is decoded by our own decoder (`lz4.rs`), into the
/// buffer cleared and zero-filled to the block's length; on success every byte of the result
/// was written by the decompression: nothing of the old contents remains.
pub fn decompress_reusing(
    stored: &[u8],
    kind: u8,
    buf: Vec<u8>,
) -> std::result::Result<Vec<u8>, DecodeError> {
    let fitted = |buf: Vec<u8>, len: usize| {
        if buf.capacity() < len || buf.capacity() > len + len / 4 {
            Vec::with_capacity(len)
        } else {
            buf
        }
    };
    match kind {
        COMPRESSION_NONE => {
            let mut buf = fitted(buf, stored.len());
            buf.clear();
            buf.extend_from_slice(stored);
            Ok(buf)
        }
        COMPRESSION_LZ4 => {
            let len = get_u32(stored, 0).ok_or("lz4 block shorter than its 4-byte length")?;
            let len = len as usize;
            let body = &stored[4..];
            if len > body.len().saturating_mul(LZ4_MAX_RATIO) {
                return Err(format!(
                    "lz4 block claims {len} bytes from {} compressed bytes",
                    body.len()
                ));
            }
            let mut buf = fitted(buf, len);
            crate::lz4::decompress_into(body, len, &mut buf).map_err(|e| e.to_string())?;
            Ok(buf)
        }
        other => Err(format!("unknown compression type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_roundtrip_and_checks() {
        let f = Footer {
            filter: BlockHandle {
                offset: 100,
                size: 20,
            },
            properties: BlockHandle {
                offset: 125,
                size: 30,
            },
            index: BlockHandle {
                offset: 160,
                size: 40,
            },
        };
        let bytes = f.encode();
        let len = 205 + FOOTER_SIZE as u64;
        let p = Path::new("t.sst");
        assert_eq!(Footer::decode(p, &bytes, len).unwrap(), f);
        let mut bad = bytes.clone();
        bad[60] ^= 1;
        assert!(
            matches!(Footer::decode(p, &bad, len), Err(Error::BadMagic { offset, .. }) if offset == 205 + 56)
        );
        let mut bad = bytes.clone();
        bad[52] = 9;
        assert!(matches!(
            Footer::decode(p, &bad, len),
            Err(Error::UnknownVersion { version: 9, .. })
        ));
        let mut bad = bytes.clone();
        bad[3] ^= 1;
        assert!(matches!(
            Footer::decode(p, &bad, len),
            Err(Error::ChecksumMismatch {
                block: "footer",
                ..
            })
        ));
        // A file too short for its handles.
        assert!(matches!(
            Footer::decode(p, &bytes, 150 + FOOTER_SIZE as u64),
            Err(Error::Corruption { .. })
        ));
    }

    #[test]
    fn stored_block_roundtrip() {
        let compressible = vec![7u8; 1000];
        for (contents, c) in [
            (&compressible[..], Compression::Lz4),
            (&b"abc"[..], Compression::Lz4),
            (&compressible[..], Compression::None),
        ] {
            let (mut stored, trailer) = encode_stored_block(contents, c);
            stored.extend_from_slice(&trailer);
            let (s, kind) = check_trailer(&stored).unwrap();
            assert_eq!(decompress(s, kind).unwrap(), contents);
            let mut fits = vec![9u8; contents.len() + 1];
            fits.truncate(2);
            for spare in [vec![7u8; 3], vec![9u8; contents.len() * 2 + 10], fits] {
                let out = decompress_reusing(s, kind, spare).unwrap();
                assert_eq!(out, contents);
                // The buffer stays close to the block's size (what the cache charges).
                assert!(out.capacity() <= contents.len() + contents.len() / 4 + 1);
            }
            stored[0] ^= 0x40;
            assert!(check_trailer(&stored).is_err());
        }
        let (stored, trailer) = encode_stored_block(&compressible, Compression::Lz4);
        assert_eq!(trailer[0], COMPRESSION_LZ4);
        assert!(stored.len() < 100);
    }

    #[test]
    fn handle_varint_uses_all_bytes() {
        let h = BlockHandle {
            offset: 300,
            size: 5,
        };
        let mut b = Vec::new();
        h.encode_varint(&mut b);
        assert_eq!(BlockHandle::decode_varint(&b), Some(h));
        b.push(0);
        assert_eq!(BlockHandle::decode_varint(&b), None);
    }
}
