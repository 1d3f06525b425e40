//! Recovery: what `open` does to find where the log ends and whether it is whole.
//!
//! Every segment is streamed once through a bounded [`FileWindow`]; every frame's checksum and
//! the batch structure (FIRST ... LAST) are checked. Segments are scanned on a few threads
//! (the scans only read); what they found is taken in segment order, so the first damage in
//! log order is the one reported, as a scan of one segment after another would. Records count only once their batch's LAST
//! frame is read, so a batch is recovered whole or not at all. Damage is classified:
//! - a zero-filled tail (preallocated space) of the last segment: cut, not corruption;
//! - damage in the last segment after which no valid frame follows: a torn tail, cut back to the
//!   last whole batch (an error in `AbsoluteConsistency`);
//! - the *open tail* is the last segment, and also the one before it when the last holds no
//!   frame yet: a crash in the middle of a rotation (the new segment was created, the previous
//!   one not yet sealed) leaves the previous one with a torn or preallocated zero tail, which
//!   gets the last segment's rules and is cut (durably) back to its last whole batch;
//! - anything else: an error naming the file and offset, or, in `SkipCorrupted`, a skip to the
//!   next batch start, reported in [`RecoveryInfo::skipped`].

use crate::config::{RecoveryMode, WalConfig};
use crate::engine::lock;
use crate::error::{Error, Result};
use crate::format::{
    check_segment_header, max_payload_for, FrameHeader, HeaderCheck, FLAG_FIRST, FLAG_LAST,
    FRAME_HEADER_LEN, KIND_SEAL, SEGMENT_HEADER_LEN,
};
use crate::frames::{parse_frame, BadFrame, FileWindow, Parse};
use crate::segment::{create_segment, list_segments, segment_path};
use crate::writer::ActiveSegment;
use crate::Position;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What `open` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Segment files read.
    pub segments_read: u64,
    /// Whole records found (in whole batches).
    pub records_read: u64,
    /// Bytes of whole frames read.
    pub bytes_read: u64,
    /// Bytes of a torn tail cut from the last segment (partial frames, unfinished batches,
    /// garbage), or from the one before it when a crash interrupted a rotation. Zero after a
    /// clean shutdown.
    pub bytes_cut: u64,
    /// Bytes of a zero-filled (preallocated) tail cut from the last segment (or the one before
    /// it, after a crash mid-rotation); not corruption.
    pub zero_tail_bytes: u64,
    /// The position of the last whole record, if any.
    pub last_position: Option<Position>,
    /// The position the next append gets.
    pub next_position: Position,
    /// Damaged ranges skipped (`RecoveryMode::SkipCorrupted` only); readers jump over them.
    pub skipped: Vec<SkippedRange>,
}

/// A damaged range that `SkipCorrupted` recovery skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRange {
    /// The segment file.
    pub file: PathBuf,
    /// Its id.
    pub segment_id: u64,
    /// First skipped byte.
    pub from_offset: u64,
    /// First byte after the skip (the next batch start, or the end of the file).
    pub to_offset: u64,
    /// What was wrong.
    pub reason: String,
}

/// The recovered log, ready to append to.
pub(crate) struct Recovered {
    /// Every segment id with its length if sealed (`None` for the active one).
    pub segments: BTreeMap<u64, Option<u64>>,
    pub active: ActiveSegment,
    pub info: RecoveryInfo,
}

pub(crate) enum Damage {
    Checksum { expected: u32, actual: u32 },
    Other(String),
}

impl Damage {
    pub(crate) fn reason(&self) -> String {
        match self {
            Damage::Checksum { expected, actual } => {
                format!("checksum mismatch: stored {expected:#010x}, computed {actual:#010x}")
            }
            Damage::Other(s) => s.clone(),
        }
    }
    fn into_error(self, file: &Path, offset: u64) -> Error {
        match self {
            Damage::Checksum { expected, actual } => Error::ChecksumMismatch {
                file: file.to_path_buf(),
                offset,
                expected,
                actual,
            },
            Damage::Other(reason) => Error::Corruption {
                file: file.to_path_buf(),
                offset,
                reason,
            },
        }
    }
}

struct SegScan {
    /// Where the valid log of this segment ends (the cut point of the last segment).
    end: u64,
    len: u64,
    header_incomplete: bool,
    /// The header was damaged and the whole segment skipped (`SkipCorrupted`).
    header_skipped: bool,
}

/// Whether segment `id` has no frame: it ends at its header or only zeros follow it.
fn holds_no_frame(config: &WalConfig, id: u64) -> Result<bool> {
    let file = config.fs.open_read(&segment_path(&config.dir, id))?;
    let len = file.len()?;
    if len <= SEGMENT_HEADER_LEN {
        return Ok(true);
    }
    Ok(FileWindow::new(file, len).zero_from(SEGMENT_HEADER_LEN)?)
}

/// Recovers the log in `config.dir` (the directory exists and is locked).
pub(crate) fn recover(config: &WalConfig) -> Result<Recovered> {
    let fs = &*config.fs;
    let dir = &config.dir;
    let mut info = RecoveryInfo::default();
    let ids = list_segments(fs, dir)?;
    let prealloc = config.new_segment_len();
    let step = config.preallocate_step();
    let mut segments = BTreeMap::new();
    if ids.is_empty() {
        let file = create_segment(fs, dir, 1, prealloc, config.zero_fill())?;
        let active = ActiveSegment::new(fs, segment_path(dir, 1), 1, file, config)?;
        segments.insert(1, None);
        info.next_position = Position::new(1, SEGMENT_HEADER_LEN);
        return Ok(Recovered {
            segments,
            active,
            info,
        });
    }
    for w in ids.windows(2) {
        if w[1] != w[0] + 1 {
            let missing = segment_path(dir, w[0] + 1);
            if config.recovery_mode != RecoveryMode::SkipCorrupted {
                return Err(Error::Corruption {
                    file: missing,
                    offset: 0,
                    reason: format!(
                        "segment file missing: the log has segments {} and {} but none between",
                        w[0], w[1]
                    ),
                });
            }
            info.skipped.push(SkippedRange {
                file: missing,
                segment_id: w[0] + 1,
                from_offset: 0,
                to_offset: 0,
                reason: format!("segments {} to {} are missing", w[0] + 1, w[1] - 1),
            });
        }
    }
    let last_id = *ids.last().unwrap_or(&1);
    // A crash mid-rotation: the newest segment holds no frame, the one before was not sealed.
    let unsealed = if ids.len() >= 2 && holds_no_frame(config, last_id)? {
        Some(ids[ids.len() - 2])
    } else {
        None
    };
    let jobs: Vec<(u64, bool)> = ids
        .iter()
        .map(|&id| (id, id == last_id || unsealed == Some(id)))
        .collect();
    let mut last = None;
    for (&(id, open_tail), scanned) in jobs.iter().zip(scan_segments(config, &jobs)) {
        let is_last = id == last_id;
        let (scan, found) = scanned?;
        merge_info(&mut info, found);
        if is_last {
            last = Some(scan);
        } else if open_tail && scan.end < scan.len {
            let path = segment_path(dir, id);
            if scan.header_incomplete || scan.header_skipped {
                return Err(Error::Corruption {
                    file: path,
                    offset: 0,
                    reason: "segment header missing or damaged before a later segment".into(),
                });
            }
            // Cut it as the rotation would have sealed it.
            let mut f = fs.open_append(&path)?;
            f.truncate(scan.end)?;
            f.sync_all()?;
            segments.insert(id, Some(scan.end));
        } else {
            segments.insert(id, Some(scan.len));
        }
    }
    let mut scan = last.expect("the last segment was scanned");
    let mut last_id = last_id;
    if scan.header_skipped {
        // Its header is damaged (SkipCorrupted): keep it as a sealed, skipped segment and
        // append to a fresh one, so later records never fall inside the reported skip.
        segments.insert(last_id, Some(scan.len));
        last_id += 1;
        create_segment(fs, dir, last_id, prealloc, config.zero_fill())?;
        let len = fs.file_size(&segment_path(dir, last_id))?;
        scan = SegScan {
            end: SEGMENT_HEADER_LEN.min(len),
            len, // with its preallocated zeros, cut (and re-preallocated) below
            header_incomplete: false,
            header_skipped: false,
        };
    }
    let path = segment_path(dir, last_id);
    let file = if scan.header_incomplete {
        // A segment whose creation was torn: no record was ever written to it. Start it again.
        let f = fs.open_read(&path)?;
        let mut win = FileWindow::new(f, scan.len);
        if win.zero_from(0)? {
            info.zero_tail_bytes += scan.len;
        } else {
            info.bytes_cut += scan.len;
        }
        fs.remove_file(&path)?;
        create_segment(fs, dir, last_id, prealloc, config.zero_fill())?
    } else {
        let mut f = fs.open_append(&path)?;
        if scan.end < scan.len {
            f.truncate(scan.end)?;
        }
        if step > 0 {
            crate::segment::extend(&mut *f, scan.end + step, config.zero_fill())?;
        }
        // What was recovered may have been in the page cache only (a process crash under
        // `Os` or `Batch`): make it durable before the watermark says so.
        f.sync_all()?;
        f
    };
    segments.insert(last_id, None);
    let active = ActiveSegment::new(fs, path, last_id, file, config)?;
    info.next_position = active.end_position();
    Ok(Recovered {
        segments,
        active,
        info,
    })
}

/// What scanning one segment found, or why it failed.
type Scanned = Result<(SegScan, RecoveryInfo)>;

/// At most this many threads scan segments at open (the machine's cores permitting).
const MAX_SCAN_THREADS: usize = 4;

/// Scans each `(id, open_tail)` segment, on a few threads when there are several; the
/// results in the order given. Scans only read, so scanning segments after a damaged one
/// (which the caller reports, in order, without looking further) changes nothing.
fn scan_segments(config: &WalConfig, jobs: &[(u64, bool)]) -> Vec<Scanned> {
    let scan = |&(id, open_tail): &(u64, bool)| {
        let mut found = RecoveryInfo::default();
        scan_segment(config, id, open_tail, &mut found).map(|s| (s, found))
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_SCAN_THREADS)
        .min(jobs.len());
    if threads <= 1 {
        return jobs.iter().map(scan).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<Scanned>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(job) = jobs.get(i) else { return };
        *lock(&slots[i]) = Some(scan(job));
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            // A helper that cannot be started leaves its share to the others.
            let _ = std::thread::Builder::new()
                .name("wal-scan".into())
                .spawn_scoped(s, work);
        }
        work();
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| {
                    // Every index below `jobs.len()` was taken by a thread that filled it (a
                    // panicking one would have ended the scope with its panic).
                    Err(Error::Io(std::io::Error::other(
                        "a segment scan did not run",
                    )))
                })
        })
        .collect()
}

/// Adds what one segment's scan found to what the segments before it did.
fn merge_info(into: &mut RecoveryInfo, from: RecoveryInfo) {
    let RecoveryInfo {
        segments_read,
        records_read,
        bytes_read,
        bytes_cut,
        zero_tail_bytes,
        last_position,
        next_position: _,
        skipped,
    } = from;
    into.segments_read += segments_read;
    into.records_read += records_read;
    into.bytes_read += bytes_read;
    into.bytes_cut += bytes_cut;
    into.zero_tail_bytes += zero_tail_bytes;
    if last_position.is_some() {
        into.last_position = last_position;
    }
    into.skipped.extend(skipped);
}

fn scan_segment(
    config: &WalConfig,
    id: u64,
    is_last: bool,
    info: &mut RecoveryInfo,
) -> Result<SegScan> {
    let path = segment_path(&config.dir, id);
    let file = config.fs.open_read(&path)?;
    let len = file.len()?;
    let mode = config.recovery_mode;
    let max_payload = max_payload_for(config.max_record_bytes);
    let mut win = FileWindow::new(file, len);
    let head = win.bytes_at(0, SEGMENT_HEADER_LEN as usize)?;
    let head = &head[..head.len().min(SEGMENT_HEADER_LEN as usize)];
    let header_damage = match check_segment_header(head) {
        HeaderCheck::Valid(h) if h == id => None,
        HeaderCheck::Valid(h) => Some(format!(
            "segment header names segment {h}, the file name {id}"
        )),
        HeaderCheck::Incomplete if is_last => {
            return Ok(SegScan {
                end: 0,
                len,
                header_incomplete: true,
                header_skipped: false,
            });
        }
        HeaderCheck::Incomplete => Some("segment header missing or cut short".to_string()),
        HeaderCheck::Foreign => {
            return Err(Error::ForeignFile {
                file: path,
                reason: "does not start with the WAL segment magic".into(),
            })
        }
        HeaderCheck::UnknownVersion(version) => {
            return Err(Error::UnsupportedVersion {
                file: path,
                version,
            })
        }
        HeaderCheck::Corrupt(reason) => Some(reason),
    };
    if let Some(reason) = header_damage {
        if mode != RecoveryMode::SkipCorrupted {
            return Err(Error::Corruption {
                file: path,
                offset: 0,
                reason,
            });
        }
        info.skipped.push(SkippedRange {
            file: path,
            segment_id: id,
            from_offset: 0,
            to_offset: len,
            reason,
        });
        return Ok(SegScan {
            end: len,
            len,
            header_incomplete: false,
            header_skipped: true,
        });
    }
    info.segments_read += 1;

    let mut off = SEGMENT_HEADER_LEN;
    let mut batch_start: Option<u64> = None;
    let mut batch_records = 0u64;
    let mut batch_bytes = 0u64;
    let mut batch_last = None;
    loop {
        // A valid frame starting a batch at `off` itself (its predecessor never finished).
        let mut restart_here = false;
        let damage = if off >= len {
            match batch_start {
                None => {
                    return Ok(SegScan {
                        end: off,
                        len,
                        header_incomplete: false,
                        header_skipped: false,
                    })
                }
                Some(bs) => Damage::Other(format!(
                    "the batch starting at offset {bs} has no LAST frame"
                )),
            }
        } else {
            let parsed = frame_at(&mut win, off, max_payload)?;
            match parsed {
                Err(d) => d,
                Ok((h, total)) => {
                    let first = h.flags & FLAG_FIRST != 0;
                    let lastf = h.flags & FLAG_LAST != 0;
                    let structural = if h.kind == KIND_SEAL {
                        batch_start
                            .is_none()
                            .then(|| "seal frame outside a batch".to_string())
                    } else if first && batch_start.is_some() {
                        restart_here = true;
                        Some(format!(
                            "a batch starts while the batch at {} is unfinished",
                            batch_start.unwrap_or(0)
                        ))
                    } else if !first && batch_start.is_none() {
                        Some("a record continues a batch that never began".to_string())
                    } else {
                        None
                    };
                    match structural {
                        Some(r) => Damage::Other(r),
                        None => {
                            if first {
                                batch_start = Some(off);
                                batch_records = 0;
                                batch_bytes = 0;
                            }
                            if h.kind != KIND_SEAL {
                                batch_records += 1;
                                batch_last = Some(Position::new(id, off));
                            }
                            batch_bytes += total;
                            off += total;
                            if lastf {
                                batch_start = None;
                                info.records_read += batch_records;
                                info.bytes_read += batch_bytes;
                                batch_records = 0;
                                if batch_last.is_some() {
                                    info.last_position = batch_last;
                                }
                            }
                            continue;
                        }
                    }
                }
            }
        };
        // Damage at `off`; an unfinished batch before it goes with it.
        let from = batch_start.unwrap_or(off);
        let zero_header = {
            let b = win.bytes_at(off, FRAME_HEADER_LEN)?;
            b[..b.len().min(FRAME_HEADER_LEN)].iter().all(|&x| x == 0)
        };
        if is_last && off < len && zero_header && win.zero_from(off)? {
            if mode == RecoveryMode::AbsoluteConsistency && from < off {
                return Err(damage_at(
                    &path,
                    from,
                    "unfinished batch before a zero tail",
                ));
            }
            info.zero_tail_bytes += len - off;
            info.bytes_cut += off - from;
            return Ok(SegScan {
                end: from,
                len,
                header_incomplete: false,
                header_skipped: false,
            });
        }
        let resync = if restart_here {
            Some(off)
        } else if off < len {
            win.next_valid_frame(off, max_payload)?
        } else {
            None
        };
        if is_last && resync.is_none() {
            if mode == RecoveryMode::AbsoluteConsistency {
                return Err(damage.into_error(&path, off));
            }
            info.bytes_cut += len - from;
            return Ok(SegScan {
                end: from,
                len,
                header_incomplete: false,
                header_skipped: false,
            });
        }
        if mode != RecoveryMode::SkipCorrupted {
            return Err(damage.into_error(&path, off));
        }
        // Skip to the next frame that starts a batch.
        let mut to = resync.unwrap_or(len);
        while to < len {
            match frame_at(&mut win, to, max_payload)? {
                Ok((h, _)) if h.flags & FLAG_FIRST != 0 && h.kind != KIND_SEAL => break,
                Ok((_, total)) => to += total,
                Err(_) => to = win.next_valid_frame(to, max_payload)?.unwrap_or(len),
            }
        }
        info.skipped.push(SkippedRange {
            file: path.clone(),
            segment_id: id,
            from_offset: from,
            to_offset: to,
            reason: damage.reason(),
        });
        batch_start = None;
        batch_records = 0;
        off = to;
    }
}

fn damage_at(path: &Path, offset: u64, reason: &str) -> Error {
    Error::Corruption {
        file: path.to_path_buf(),
        offset,
        reason: reason.to_string(),
    }
}

/// The frame at `off`: its header and total length, or what is wrong with it. Reads at most
/// one frame (bounded by `max_payload`) into the window.
pub(crate) fn frame_at(
    win: &mut FileWindow,
    off: u64,
    max_payload: u64,
) -> std::io::Result<std::result::Result<(FrameHeader, u64), Damage>> {
    let mut need = FRAME_HEADER_LEN;
    let len = win.len;
    loop {
        let b = win.bytes_at(off, need)?;
        return Ok(match parse_frame(b, max_payload) {
            Parse::NeedMore(n) if off + b.len() as u64 >= len => Err(Damage::Other(format!(
                "frame cut short: needs {n} bytes, the file ends after {}",
                b.len()
            ))),
            Parse::NeedMore(n) => {
                need = n;
                continue;
            }
            Parse::Bad(BadFrame::Checksum { expected, actual }) => {
                Err(Damage::Checksum { expected, actual })
            }
            Parse::Bad(BadFrame::Implausible(r)) => Err(Damage::Other(r)),
            Parse::Frame { header, total } => Ok((header, total as u64)),
        });
    }
}
