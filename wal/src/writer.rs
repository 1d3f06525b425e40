//! The active segment's writer: an in-memory buffer in front of the segment file.
//!
//! Appends are encoded (framing + crc32c) into `buf` under the log's state lock: a memcpy and a
//! checksum, no system call. The buffer is written to the file when it fills, when the
//! background thread flushes it, and before every fsync. Every batch is encoded whole into the
//! buffer and the buffer is written whole, so the file always ends at a batch boundary.

use crate::config::{Compression, WalConfig};
use crate::format::{encode_record, encode_seal, FLAG_FIRST, FLAG_LAST};
use crate::{AsRecord, Position};
use common::{FileSystem, WritableFile};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Under `Os` and `Batch`, written bytes are handed to [`WritableFile::start_writeback`] in
/// steps of this size (RocksDB's `wal_bytes_per_sync`), so the device writes the segment while
/// it fills instead of all at its next fdatasync: a rotation's seal (an fdatasync of the whole
/// segment, on the writer's path) and `sync` then wait for the last step only.
/// Measured in `compare child --case=kvstore:fillrandom` (2-vCPU VM, 2026-11-28, `strace -T`):
/// the seals' and the final `sync`'s fdatasyncs took 34.9-44.7 ms without, at most 0.95 ms
/// with. Puts/s did not move beyond the runs' spread (9 interleaved pairs, faster in 5 and
/// slower in 4).
pub(crate) const WRITEBACK_STEP: u64 = 1 << 20;

/// The page size assumed for writeback ranges: only whole 4 KiB pages behind the cursor are
/// asked for. (On a system with larger pages the kernel rounds the range out to its pages,
/// which may take in the page being written; a store into a page under writeback waits for
/// it only where the device requires stable pages.)
const WRITEBACK_PAGE: u64 = 4096;

/// The segment being appended to.
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    /// Segment id.
    pub id: u64,
    file: Box<dyn WritableFile>,
    /// A second handle to the same file, used by the sync thread to fdatasync without holding
    /// the state lock (an fsync covers the file, whichever descriptor issues it).
    pub sync_handle: Arc<Mutex<Box<dyn WritableFile>>>,
    /// Bytes of the file written so far (the buffer continues from here).
    pub file_end: u64,
    /// Encoded frames not yet written to the file.
    pub buf: Vec<u8>,
    write_buffer_bytes: usize,
    /// Zero-filled space is kept this far ahead of the writer (0: none).
    prealloc_step: u64,
    /// Written bytes from here on have not been handed to [`WritableFile::start_writeback`]
    /// (see [`WRITEBACK_STEP`]); `None` under `Always`, whose every round fdatasyncs anyway.
    writeback_from: Option<u64>,
    /// The file's length: the end of the zero-filled space, or `file_end`.
    prealloc_end: u64,
    /// Preallocate by writing zeros, not only allocating (see `WalConfig::zero_fill`).
    zero_fill: bool,
}

impl ActiveSegment {
    /// Wraps an open segment file whose cursor is at `file_end`.
    pub fn new(
        fs: &dyn FileSystem,
        path: PathBuf,
        id: u64,
        file: Box<dyn WritableFile>,
        config: &WalConfig,
    ) -> io::Result<ActiveSegment> {
        let write_buffer_bytes = config.write_buffer_bytes;
        let prealloc_step = config.preallocate_step();
        let mapped = config.maps();
        let zero_fill = config.zero_fill();
        let mut file = file;
        let prealloc_end = fs.file_size(&path)?;
        if mapped && prealloc_step > 0 {
            // From here on, flushes inside the zero-filled space are copies into a map of it
            // (`WritableFile::map_preallocated`); this call maps what is there already.
            file.map_preallocated();
            file.preallocate(prealloc_end)?;
        }
        let sync_handle = Arc::new(Mutex::new(fs.open_append(&path)?));
        Ok(ActiveSegment {
            prealloc_step,
            prealloc_end,
            zero_fill,
            id,
            writeback_from: config.writeback_behind().then(|| file.position()),
            file_end: file.position(),
            file,
            sync_handle,
            buf: Vec::with_capacity(write_buffer_bytes + (write_buffer_bytes >> 2)),
            write_buffer_bytes,
        })
    }

    /// The offset the next frame gets.
    pub fn logical_end(&self) -> u64 {
        self.file_end + self.buf.len() as u64
    }

    /// The position the next frame gets.
    pub fn end_position(&self) -> Position {
        Position::new(self.id, self.logical_end())
    }

    /// Encodes `records` as one batch (FIRST on the first, LAST on the last) into the buffer and
    /// reports each record's position.
    pub fn encode_batch(
        &mut self,
        records: &[impl AsRecord],
        compression: Compression,
        scratch: &mut Vec<u8>,
        out: &mut impl FnMut(Position),
    ) {
        let n = records.len();
        for (i, r) in records.iter().enumerate() {
            let mut flags = 0;
            if i == 0 {
                flags |= FLAG_FIRST;
            }
            if i + 1 == n {
                flags |= FLAG_LAST;
            }
            let pos = Position::new(self.id, self.logical_end());
            encode_record(&mut self.buf, r, flags, compression, scratch);
            out(pos);
        }
    }

    /// Encodes a seal frame (closes a batch that `truncate_after` cut short).
    pub fn encode_seal(&mut self) {
        encode_seal(&mut self.buf);
    }

    /// Whether the buffer has reached its size.
    pub fn buffer_full(&self) -> bool {
        self.buf.len() >= self.write_buffer_bytes
    }

    /// Writes the buffer to the file (first zero-filling the next step if it would pass the
    /// preallocated end).
    pub fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let end = self.logical_end();
        if self.prealloc_step > 0 && end > self.prealloc_end {
            let to = end + self.prealloc_step;
            crate::segment::extend(&mut *self.file, to, self.zero_fill)?;
            self.prealloc_end = to;
        }
        self.file.append(&self.buf)?;
        self.file_end += self.buf.len() as u64;
        self.buf.clear();
        self.start_background_writeback();
        if self.buf.capacity() > 4 * self.write_buffer_bytes {
            self.buf = Vec::with_capacity(self.write_buffer_bytes + (self.write_buffer_bytes >> 2));
        }
        Ok(())
    }

    /// Under `Os` and `Batch`: once [`WRITEBACK_STEP`] bytes or more were written since the
    /// last call, asks the OS to start writing back the whole pages among them (a hint, see
    /// `WritableFile::start_writeback`). The page the cursor is in is left out: the next
    /// appends store into it again. A failed hint is ignored: it is never a durability point,
    /// and the fdatasync that does make these bytes durable reports any real error (failing
    /// here would poison the log over a hint).
    fn start_background_writeback(&mut self) {
        let Some(from) = self.writeback_from else {
            return;
        };
        let to = self.file_end - self.file_end % WRITEBACK_PAGE;
        if to < from + WRITEBACK_STEP {
            return;
        }
        self.writeback_from = Some(to);
        let _ = self.file.start_writeback(from, to - from);
    }

    /// Flushes, then cuts the file to `len` (at or before the flushed end).
    pub fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.flush()?;
        self.file.truncate(len)?;
        self.file_end = len;
        self.prealloc_end = len;
        self.writeback_from = self.writeback_from.map(|w| w.min(len));
        Ok(())
    }

    /// Flushes and cuts the preallocated zero tail, if any (before a seal or a close).
    pub fn trim(&mut self) -> io::Result<()> {
        self.flush()?;
        if self.prealloc_end > self.file_end {
            self.truncate(self.file_end)?;
        }
        Ok(())
    }

    /// Flushes and fdatasyncs through the main handle.
    pub fn flush_and_sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.file.sync_data()
    }

    /// Copies buffered (not yet written) bytes starting at segment offset `offset`, at most
    /// `max`, into `out`. `false` if `offset` is not in the buffer.
    pub fn copy_buffered(&self, offset: u64, max: usize, out: &mut Vec<u8>) -> bool {
        if offset < self.file_end || offset > self.logical_end() {
            return false;
        }
        let from = (offset - self.file_end) as usize;
        let to = self.buf.len().min(from + max);
        out.clear();
        out.extend_from_slice(&self.buf[from..to]);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsyncPolicy;
    use common::MemFs;
    use std::path::Path;
    use std::time::Duration;

    /// A segment file that records the writeback hints it gets.
    #[derive(Debug)]
    struct Recording {
        inner: Box<dyn WritableFile>,
        hints: Arc<Mutex<Vec<(u64, u64)>>>,
    }

    impl WritableFile for Recording {
        fn append(&mut self, data: &[u8]) -> io::Result<()> {
            self.inner.append(data)
        }
        fn sync_data(&mut self) -> io::Result<()> {
            self.inner.sync_data()
        }
        fn sync_all(&mut self) -> io::Result<()> {
            self.inner.sync_all()
        }
        fn position(&self) -> u64 {
            self.inner.position()
        }
        fn truncate(&mut self, len: u64) -> io::Result<()> {
            self.inner.truncate(len)
        }
        fn preallocate(&mut self, len: u64) -> io::Result<()> {
            self.inner.preallocate(len)
        }
        fn start_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
            self.hints.lock().unwrap().push((offset, len));
            Ok(())
        }
    }

    /// Writes `chunks` buffers of `chunk` bytes through a segment under `policy`; returns the
    /// hints and the file's end.
    fn hints_for(policy: FsyncPolicy, chunks: usize, chunk: usize) -> (Vec<(u64, u64)>, u64) {
        let fs = MemFs::new();
        let path = Path::new("/seg");
        let mut file = fs.create(path).unwrap();
        file.append(&[0u8; 33]).unwrap(); // an unaligned start, as after a segment header
        let hints = Arc::new(Mutex::new(Vec::new()));
        let recording = Box::new(Recording {
            inner: file,
            hints: hints.clone(),
        });
        let config = WalConfig {
            fsync_policy: policy,
            fs: fs.shared(),
            ..WalConfig::default()
        };
        let mut seg = ActiveSegment::new(&fs, path.into(), 1, recording, &config).unwrap();
        for i in 0..chunks {
            seg.buf.extend(std::iter::repeat_n(i as u8, chunk));
            seg.flush().unwrap();
        }
        let got = hints.lock().unwrap().clone();
        (got, seg.file_end)
    }

    #[test]
    fn os_and_batch_start_writeback_behind_the_writer_in_whole_pages() {
        for policy in [
            FsyncPolicy::Os,
            FsyncPolicy::Batch(Duration::from_millis(5)),
        ] {
            let (hints, end) = hints_for(policy, 50, 100_003);
            assert!(hints.len() >= 3, "{policy:?}: {hints:?}");
            let mut next = 33; // where the first hint starts: the cursor at open
            for &(offset, len) in &hints {
                assert_eq!(offset, next, "{policy:?}: contiguous, nothing asked twice");
                assert!(len >= WRITEBACK_STEP, "{policy:?}: steps of at least 1 MiB");
                next = offset + len;
                assert_eq!(
                    next % WRITEBACK_PAGE,
                    0,
                    "{policy:?}: ends on a page boundary"
                );
            }
            assert!(
                next <= end - end % WRITEBACK_PAGE,
                "never the page being written"
            );
            assert!(
                end - next < WRITEBACK_STEP + WRITEBACK_PAGE,
                "at most a step is left"
            );
        }
    }

    #[test]
    fn always_leaves_writeback_to_its_fdatasyncs() {
        let (hints, end) = hints_for(FsyncPolicy::Always, 50, 100_003);
        assert!(end > 4 << 20);
        assert!(hints.is_empty(), "{hints:?}");
    }
}
