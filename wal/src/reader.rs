//! Reading the log from a position: a streaming cursor over segments with a bounded buffer.
//!
//! A reader reads sealed segments and the active segment's written bytes from the file, and the
//! active segment's not-yet-written tail straight from the writer's buffer (so a record is
//! readable as soon as `append` returned). It holds one window of [`CHUNK_BYTES`] (or one
//! frame, if larger). It jumps over ranges that `SkipCorrupted` recovery reported, skips seal
//! frames, and fails with `Error::Truncated` if `truncate_after` cut the log before it. Records
//! are decoded in place: [`ReaderCore::step_ref`] lends them (the replay thread's way, see
//! replay.rs), [`ReaderCore::step`] copies them into a [`Record`].

use crate::engine::{lock, Engine, State};
use crate::error::{Error, Result};
use crate::format::{
    max_payload_for, FrameHeader, FRAME_HEADER_LEN, KIND_SEAL, SEGMENT_HEADER_LEN,
};
use crate::frames::{parse_frame, BadFrame, Parse, CHUNK_BYTES};
use crate::record_ref::{decode_payload, Decoded, RecordRef};
use crate::segment::segment_path;
use crate::{Position, Record};
use common::RandomAccessFile;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What one step of a reader produced.
pub(crate) enum Step {
    Record(Record, Position),
    /// A file read is needed (only when I/O was not allowed).
    NeedIo,
    /// Nothing more for now.
    End,
}

/// What one step of a reader produced, the record borrowed from the reader's buffer.
pub(crate) enum StepRef<'a> {
    Record(RecordRef<'a>, Position),
    /// A file read is needed (only when I/O was not allowed).
    NeedIo,
    /// Nothing more for now.
    End,
}

/// The next record frame: its header, where it starts in the buffer, its length (with the
/// header) and its position.
enum FrameStep {
    Frame {
        header: FrameHeader,
        at: usize,
        total: usize,
        pos: Position,
    },
    NeedIo,
    End,
}

/// A segment's readable extent as the reader sees it.
struct View {
    /// Bytes in the file.
    file_end: u64,
    /// Bytes readable (file plus writer buffer).
    end: u64,
    sealed: bool,
}

/// The reader shared by both faces.
#[derive(Debug)]
pub(crate) struct ReaderCore {
    engine: Arc<Engine>,
    seg: u64,
    offset: u64,
    epoch: u64,
    file: Option<Arc<dyn RandomAccessFile>>,
    /// The last extent seen of a sealed segment (kept if the segment is deleted meanwhile).
    sealed_len: Option<u64>,
    /// The read window: `buf[..buf_len]` holds the log's bytes from `buf_start` on (`buf`
    /// only grows, so a refill does not zero it again).
    buf: Vec<u8>,
    buf_len: usize,
    buf_start: u64,
    /// A compressed record, inflated (what [`StepRef::Record`] borrows for one).
    scratch: Record,
    max_payload: u64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("dir", &self.config.dir)
            .finish_non_exhaustive()
    }
}

/// The end of the log: where the next append goes (or the end of the last segment once closed).
pub(crate) fn log_end(st: &State) -> Position {
    match &st.active {
        Some(a) => a.end_position(),
        None => match st.segments.iter().next_back() {
            Some((&id, len)) => Position::new(id, len.unwrap_or(SEGMENT_HEADER_LEN)),
            None => Position::start(),
        },
    }
}

impl ReaderCore {
    /// A reader whose first record is the one at `pos` (`Position::start()`: the oldest).
    pub fn new(engine: Arc<Engine>, pos: Position) -> Result<ReaderCore> {
        let (seg, offset) = {
            let st = lock(&engine.state);
            let first = st.segments.keys().next().copied().unwrap_or(1);
            let invalid = |reason: &str| Error::InvalidPosition {
                position: pos,
                reason: reason.into(),
            };
            if pos == Position::start() {
                (first, SEGMENT_HEADER_LEN)
            } else if pos.segment_id() < first {
                return Err(Error::PositionDeleted {
                    position: pos,
                    first_available: Position::new(first, SEGMENT_HEADER_LEN),
                });
            } else if !st.segments.contains_key(&pos.segment_id()) {
                return Err(invalid("no such segment"));
            } else {
                let end = match st.segments[&pos.segment_id()] {
                    Some(len) => len,
                    None => log_end(&st).offset(),
                };
                if pos.offset() > end {
                    return Err(invalid("past the end of its segment"));
                }
                (pos.segment_id(), pos.offset().max(SEGMENT_HEADER_LEN))
            }
        };
        Ok(ReaderCore {
            epoch: engine.epoch.load(Ordering::Acquire),
            max_payload: max_payload_for(engine.config.max_record_bytes),
            engine,
            seg,
            offset,
            file: None,
            sealed_len: None,
            buf: Vec::new(),
            buf_len: 0,
            buf_start: 0,
            scratch: Record::default(),
        })
    }

    /// The position of the next record this reader returns.
    pub fn position(&self) -> Position {
        Position::new(self.seg, self.offset)
    }

    fn path(&self) -> std::path::PathBuf {
        segment_path(&self.engine.config.dir, self.seg)
    }

    /// The index in `buf` of the byte at `offset` (`buf_len`, i.e. nothing, if not buffered).
    fn buffered_at(&self) -> usize {
        let end = self.buf_start + self.buf_len as u64;
        if self.offset >= self.buf_start && self.offset <= end {
            (self.offset - self.buf_start) as usize
        } else {
            self.buf_len
        }
    }

    /// The next record, reading as needed; `None` at the end of the log for now.
    pub fn next_record(&mut self) -> Result<Option<(Record, Position)>> {
        match self.step(true)? {
            Step::Record(r, p) => Ok(Some((r, p))),
            Step::End | Step::NeedIo => Ok(None),
        }
    }

    /// Blocks until a record follows, or returns `None` once the log is closed and read to its end.
    pub fn wait_next(&mut self) -> Result<Option<(Record, Position)>> {
        loop {
            if let Some(x) = self.next_record()? {
                return Ok(Some(x));
            }
            let engine = self.engine.clone();
            let mut st = lock(&engine.state);
            loop {
                if log_end(&st) > self.position() {
                    break;
                }
                if st.active.is_none() {
                    return Ok(None);
                }
                st.tail_waiters += 1;
                st = engine.tail_cv.wait(st).unwrap_or_else(|e| e.into_inner());
                st.tail_waiters -= 1;
            }
        }
    }

    /// One step: a record, the end, or (if `allow_io` is false) the need for a file read.
    pub fn step(&mut self, allow_io: bool) -> Result<Step> {
        Ok(match self.next_frame(allow_io)? {
            FrameStep::Frame {
                header,
                at,
                total,
                pos,
            } => match self.decode(&header, at, total, pos)? {
                Decoded::Inflated => Step::Record(std::mem::take(&mut self.scratch), pos),
                d => Step::Record(
                    d.record(self.payload(at, total), &self.scratch).to_record(),
                    pos,
                ),
            },
            FrameStep::NeedIo => Step::NeedIo,
            FrameStep::End => Step::End,
        })
    }

    /// As [`step`](Self::step), with the record borrowed from the reader's buffer (no copy).
    pub fn step_ref(&mut self, allow_io: bool) -> Result<StepRef<'_>> {
        Ok(match self.next_frame(allow_io)? {
            FrameStep::Frame {
                header,
                at,
                total,
                pos,
            } => {
                let d = self.decode(&header, at, total, pos)?;
                StepRef::Record(d.record(self.payload(at, total), &self.scratch), pos)
            }
            FrameStep::NeedIo => StepRef::NeedIo,
            FrameStep::End => StepRef::End,
        })
    }

    /// The payload of the frame at `at` of the buffer, `total` bytes long with its header.
    fn payload(&self, at: usize, total: usize) -> &[u8] {
        &self.buf[at + FRAME_HEADER_LEN..at + total]
    }

    /// Decodes the record frame at `at` of the buffer (found at `pos`).
    fn decode(
        &mut self,
        header: &FrameHeader,
        at: usize,
        total: usize,
        pos: Position,
    ) -> Result<Decoded> {
        let max_record = self.engine.config.max_record_bytes;
        let payload = &self.buf[at + FRAME_HEADER_LEN..at + total];
        decode_payload(header, payload, max_record, &mut self.scratch).map_err(|reason| {
            Error::Corruption {
                file: self.path(),
                offset: pos.offset(),
                reason,
            }
        })
    }

    /// Finds the next record frame (checksum verified; seal frames and skipped ranges are
    /// passed over) and moves past it.
    fn next_frame(&mut self, allow_io: bool) -> Result<FrameStep> {
        loop {
            let e = self.engine.epoch.load(Ordering::Acquire);
            if e != self.epoch {
                self.on_truncation(e)?;
            }
            if let Some(skip) = self.engine.skips.iter().find(|s| {
                s.segment_id == self.seg
                    && s.from_offset <= self.offset
                    && self.offset < s.to_offset
            }) {
                self.offset = skip.to_offset;
                continue;
            }
            let offset = self.offset;
            let at = self.buffered_at();
            match parse_frame(&self.buf[at..self.buf_len], self.max_payload) {
                Parse::Frame { header, total } => {
                    self.offset += total as u64;
                    if header.kind == KIND_SEAL {
                        continue;
                    }
                    let pos = Position::new(self.seg, offset);
                    return Ok(FrameStep::Frame {
                        header,
                        at,
                        total,
                        pos,
                    });
                }
                Parse::Bad(BadFrame::Checksum { expected, actual }) => {
                    return Err(Error::ChecksumMismatch {
                        file: self.path(),
                        offset,
                        expected,
                        actual,
                    })
                }
                Parse::Bad(BadFrame::Implausible(reason)) => {
                    return Err(Error::Corruption {
                        file: self.path(),
                        offset,
                        reason,
                    })
                }
                Parse::NeedMore(n) => {
                    if !allow_io {
                        return Ok(FrameStep::NeedIo);
                    }
                    if !self.refill(n)? {
                        return Ok(FrameStep::End);
                    }
                }
            }
        }
    }

    fn on_truncation(&mut self, epoch: u64) -> Result<()> {
        let cuts: Vec<Position> = lock(&self.engine.state)
            .truncations
            .iter()
            .filter(|(e, _)| *e > self.epoch)
            .map(|(_, c)| *c)
            .collect();
        for cut in cuts {
            if self.position() > cut {
                return Err(Error::Truncated {
                    position: self.position(),
                    cut,
                });
            }
        }
        self.epoch = epoch;
        self.buf_len = 0;
        self.file = None;
        self.sealed_len = None;
        Ok(())
    }

    fn view(&mut self) -> Option<View> {
        let st = lock(&self.engine.state);
        match st.segments.get(&self.seg) {
            Some(Some(len)) => {
                self.sealed_len = Some(*len);
                Some(View {
                    file_end: *len,
                    end: *len,
                    sealed: true,
                })
            }
            Some(None) => {
                let a = st.active.as_ref()?;
                Some(View {
                    file_end: a.file_end,
                    end: a.logical_end(),
                    sealed: false,
                })
            }
            None => self.sealed_len.map(|len| View {
                file_end: len,
                end: len,
                sealed: true,
            }),
        }
    }

    /// Makes at least `need` bytes from the current offset available, moving to the next
    /// segment at the end of a sealed one. `false` at the end of the log.
    fn refill(&mut self, need: usize) -> Result<bool> {
        loop {
            let Some(v) = self.view() else {
                let first = lock(&self.engine.state)
                    .segments
                    .keys()
                    .next()
                    .copied()
                    .unwrap_or(0);
                return Err(Error::PositionDeleted {
                    position: self.position(),
                    first_available: Position::new(first, SEGMENT_HEADER_LEN),
                });
            };
            if self.offset >= v.end {
                if !v.sealed {
                    return Ok(false);
                }
                let next = lock(&self.engine.state)
                    .segments
                    .range(self.seg + 1..)
                    .next()
                    .map(|(&id, _)| id);
                match next {
                    Some(id) => {
                        self.seg = id;
                        self.offset = SEGMENT_HEADER_LEN;
                        self.file = None;
                        self.sealed_len = None;
                        self.buf_len = 0;
                        return Ok(true);
                    }
                    None => return Ok(false),
                }
            }
            if self.offset + need as u64 > v.end {
                return Err(Error::Corruption {
                    file: self.path(),
                    offset: self.offset,
                    reason: format!(
                        "a frame of {need} bytes runs past the end of the segment ({})",
                        v.end
                    ),
                });
            }
            let want = (v.end - self.offset).min(need.max(CHUNK_BYTES) as u64) as usize;
            if self.buf.len() > 4 * CHUNK_BYTES && want <= CHUNK_BYTES {
                self.buf = Vec::new(); // a large frame has passed: give the memory back
            }
            self.buf_len = 0;
            self.buf_start = self.offset;
            if self.offset < v.file_end {
                let n = ((v.file_end - self.offset) as usize).min(want);
                if self.file.is_none() {
                    self.file = Some(self.engine.config.fs.open_read(&self.path())?);
                }
                if self.buf.len() < n {
                    self.buf.resize(n, 0);
                }
                if let Some(f) = &self.file {
                    f.read_exact_at(&mut self.buf[..n], self.offset)?;
                }
                self.buf_len = n;
                if n >= need {
                    return Ok(true);
                }
            }
            // The rest is in the writer's buffer (or was flushed meanwhile: then retry).
            let from = self.offset + self.buf_len as u64;
            let mut tail = Vec::new();
            let copied = {
                let st = lock(&self.engine.state);
                match &st.active {
                    Some(a) if a.id == self.seg => {
                        a.copy_buffered(from, want - self.buf_len, &mut tail)
                    }
                    _ => false,
                }
            };
            if copied {
                let end = self.buf_len + tail.len();
                if self.buf.len() < end {
                    self.buf.resize(end, 0);
                }
                self.buf[self.buf_len..end].copy_from_slice(&tail);
                self.buf_len = end;
                return Ok(true);
            }
        }
    }
}
