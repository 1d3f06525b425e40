//! Parsing frames out of a byte window, and a bounded window over a segment file.
//!
//! Recovery, readers and `truncate_after` all find frames the same way: [`parse_frame`] on the
//! bytes from a frame's offset onwards says "here is a whole, checksum-verified frame", "I need
//! this many bytes", or "these bytes cannot be a frame". [`FileWindow`] streams a file through a
//! buffer of bounded size (it grows only to hold one frame, itself bounded by
//! `max_record_bytes`).

use crate::format::{frame_crc, FrameHeader, FRAME_HEADER_LEN};
use common::RandomAccessFile;
use std::io;
use std::sync::Arc;

/// Bytes read from a file at a time.
pub(crate) const CHUNK_BYTES: usize = 256 << 10;

/// Why bytes are not a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadFrame {
    /// The header is impossible (kind, flags, length).
    Implausible(String),
    /// The crc32c does not match.
    Checksum { expected: u32, actual: u32 },
}

/// The outcome of looking for a frame at the start of some bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parse {
    /// A whole frame whose checksum matches, `total` bytes long including its header.
    Frame { header: FrameHeader, total: usize },
    /// At least this many bytes (from the frame's start) are needed to decide.
    NeedMore(usize),
    /// Not a frame.
    Bad(BadFrame),
}

/// Looks for a frame at the start of `bytes`.
pub(crate) fn parse_frame(bytes: &[u8], max_payload: u64) -> Parse {
    parse_frame_checking(bytes, max_payload, true)
}

/// [`parse_frame`], with the checksum left unchecked unless `check_crc`: for bytes whose
/// checksums this process verified already and which have not changed since (the frames the
/// open's scan read, replayed in place right after it; see `mapped_replay.rs`). The header is
/// still checked for plausibility and the frame must still fit in `bytes`.
pub(crate) fn parse_frame_checking(bytes: &[u8], max_payload: u64, check_crc: bool) -> Parse {
    let Some(header) = FrameHeader::decode(bytes) else {
        return Parse::NeedMore(FRAME_HEADER_LEN);
    };
    if let Some(reason) = header.implausible(max_payload) {
        return Parse::Bad(BadFrame::Implausible(reason));
    }
    let total = FRAME_HEADER_LEN + header.len as usize;
    if bytes.len() < total {
        return Parse::NeedMore(total);
    }
    if !check_crc {
        return Parse::Frame { header, total };
    }
    let actual = frame_crc(&bytes[..total]);
    if actual != header.crc {
        return Parse::Bad(BadFrame::Checksum {
            expected: header.crc,
            actual,
        });
    }
    Parse::Frame { header, total }
}

/// A bounded read window over a file of known length.
#[derive(Debug)]
pub(crate) struct FileWindow {
    file: Arc<dyn RandomAccessFile>,
    /// The file length considered (bytes past it are ignored).
    pub len: u64,
    buf: Vec<u8>,
    start: u64,
}

impl FileWindow {
    pub fn new(file: Arc<dyn RandomAccessFile>, len: u64) -> FileWindow {
        FileWindow {
            file,
            len,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// The bytes from `offset` to the end of the window, making sure at least `need` of them
    /// are there unless the file ends first.
    pub fn bytes_at(&mut self, offset: u64, need: usize) -> io::Result<&[u8]> {
        let end = self.start + self.buf.len() as u64;
        let have = if offset >= self.start && offset <= end {
            (end - offset) as usize
        } else {
            0
        };
        let want_end = (offset + need as u64).min(self.len);
        if offset >= self.start && offset + have as u64 >= want_end && have > 0 {
            let from = (offset - self.start) as usize;
            return Ok(&self.buf[from..]);
        }
        let read = (self.len.saturating_sub(offset)).min(need.max(CHUNK_BYTES) as u64) as usize;
        if self.buf.capacity() > 4 * CHUNK_BYTES && read <= CHUNK_BYTES {
            self.buf = Vec::new();
        }
        self.buf.resize(read, 0);
        self.file.read_exact_at(&mut self.buf, offset)?;
        self.start = offset;
        Ok(&self.buf[..])
    }

    /// Whether every byte from `offset` to the end is zero.
    pub fn zero_from(&mut self, mut offset: u64) -> io::Result<bool> {
        while offset < self.len {
            let b = self.bytes_at(offset, CHUNK_BYTES)?;
            if b.iter().any(|&x| x != 0) {
                return Ok(false);
            }
            offset += b.len() as u64;
        }
        Ok(true)
    }

    /// The offset of the first whole, checksum-valid frame after `from`, if any: the way to
    /// tell a torn tail (nothing valid follows) from damage in the middle, and to resync.
    pub fn next_valid_frame(&mut self, from: u64, max_payload: u64) -> io::Result<Option<u64>> {
        let mut off = from + 1;
        let len = self.len;
        while off + FRAME_HEADER_LEN as u64 <= len {
            let b = self.bytes_at(off, FRAME_HEADER_LEN)?;
            let blen = b.len();
            // Fast reject on the header alone, for every offset the window holds.
            let mut k = 0;
            let mut candidate = None;
            while let Some(h) = FrameHeader::decode(&b[k..]) {
                if h.implausible(max_payload).is_none()
                    && off + k as u64 + FRAME_HEADER_LEN as u64 + h.len as u64 <= len
                {
                    candidate = Some(off + k as u64);
                    break;
                }
                k += 1;
            }
            match candidate {
                None => {
                    off += (blen - FRAME_HEADER_LEN + 1).max(1) as u64;
                }
                Some(c) => {
                    let total = match FrameHeader::decode(self.bytes_at(c, FRAME_HEADER_LEN)?) {
                        Some(h) => FRAME_HEADER_LEN + h.len as usize,
                        None => FRAME_HEADER_LEN,
                    };
                    let b = self.bytes_at(c, total)?;
                    if let Parse::Frame { .. } = parse_frame(b, max_payload) {
                        return Ok(Some(c));
                    }
                    off = c + 1;
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Compression;
    use crate::format::{encode_record, FLAG_FIRST, FLAG_LAST};
    use crate::Record;
    use common::{FileSystem, MemFs};
    use std::path::Path;

    fn frame(v: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        encode_record(
            &mut b,
            &Record::put(b"k", v),
            FLAG_FIRST | FLAG_LAST,
            Compression::None,
            &mut Vec::new(),
        );
        b
    }

    #[test]
    fn parse_outcomes() {
        let f = frame(b"value");
        assert!(matches!(parse_frame(&f, 100), Parse::Frame { total, .. } if total == f.len()));
        assert_eq!(parse_frame(&f[..4], 100), Parse::NeedMore(FRAME_HEADER_LEN));
        assert_eq!(parse_frame(&f[..12], 100), Parse::NeedMore(f.len()));
        let mut bad = f.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(
            parse_frame(&bad, 100),
            Parse::Bad(BadFrame::Checksum { .. })
        ));
        assert!(matches!(
            parse_frame(&[0u8; 10], 100),
            Parse::Bad(BadFrame::Implausible(_))
        ));
    }

    #[test]
    fn window_finds_the_next_valid_frame_and_zero_tails() {
        let fs = MemFs::new();
        let mut bytes = vec![7u8; 1000];
        let f = frame(&[1u8; 400_000]);
        bytes.extend_from_slice(&f);
        bytes.extend_from_slice(&[0u8; 50]);
        let mut w = fs.create(Path::new("/f")).unwrap();
        w.append(&bytes).unwrap();
        let r = fs.open_read(Path::new("/f")).unwrap();
        let mut win = FileWindow::new(r, bytes.len() as u64);
        assert_eq!(win.next_valid_frame(0, 1 << 20).unwrap(), Some(1000));
        assert_eq!(win.next_valid_frame(1000, 1 << 20).unwrap(), None);
        assert!(win.zero_from(1000 + f.len() as u64).unwrap());
        assert!(!win.zero_from(999).unwrap());
        assert!(win.bytes_at(1000, f.len()).unwrap().len() >= f.len());
    }
}
