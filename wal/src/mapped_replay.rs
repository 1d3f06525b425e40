//! Replaying the log in place: where each record's key and value are in the segment files,
//! mapped, instead of copies of them.
//!
//! [`Replay`](crate::Replay) copies every key and value out of the file (a read into its
//! window, then into a batch), and an engine that applies the records copies them once more
//! into its memtable. An engine that can keep the records where they are (a frozen table of
//! pointers into the log, flushed soon after) needs only their places: a [`MappedReplay`] maps
//! the segments (read-only, through [`FileSystem::open_read_mapped`]), checks the crc32c of
//! every frame the open's scan did not check (those appended since the open; the scan checked
//! all the others, in this process, moments before a store's replay), and yields
//! [`MappedRecord`]s: a segment index, the key's and the
//! value's byte ranges in that segment, the tombstone flag and the position. The segment maps
//! are lent out ([`MappedReplay::segments`]) so the caller can keep them as long as it keeps
//! the places.
//!
//! It is an all-or-nothing fast path for recovery, taken only where it can be exact:
//! - [`blocking::Wal::replay_mapped`](crate::blocking::Wal::replay_mapped) returns `None` when
//!   a segment cannot be mapped (a file system without maps, such as the in-memory one, or the
//!   process's map budget spent) or the active segment has bytes not yet in the file;
//! - a compressed record has no place in the file to point at:
//!   [`MappedStep::Compressed`] says so, and the caller replays the classic way instead.
//!
//! The records, their order and their errors are those of a reader from the same position
//! (seal frames and `SkipCorrupted` ranges passed over; a damaged frame is an error naming the
//! segment and offset), as the tests check, with one exception: bytes that another process
//! changes, after the open checked them, in a segment this log holds locked, are seen by a
//! reader but not by a mapped replay. The places stay valid while the segments are only
//! read: appends after the snapshot go past its end, but a `truncate_after` back into the
//! snapshot would reuse the bytes, so a caller that keeps places must not truncate there (the
//! key-value store never truncates its log).

use crate::engine::{lock, Engine};
use crate::error::{Error, Result};
use crate::format::{max_payload_for, FLAG_COMPRESSED, KIND_SEAL, SEGMENT_HEADER_LEN};
use crate::frames::{parse_frame_checking, BadFrame, Parse};
use crate::record_ref::{decode_payload, Decoded};
use crate::segment::segment_path;
use crate::{Position, Record};
use common::RandomAccessFile;
use std::ops::Range;
use std::sync::Arc;

/// One record, by place: its key and value are `segments()[segment]`'s bytes at `key` and
/// `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRecord {
    /// Index into [`MappedReplay::segments`].
    pub segment: usize,
    /// The key's bytes in that segment.
    pub key: Range<usize>,
    /// The value's bytes in that segment (empty for a delete).
    pub value: Range<usize>,
    /// A delete.
    pub tombstone: bool,
    /// The record's position in the log.
    pub position: Position,
}

/// What [`MappedReplay::next_step`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappedStep {
    /// The next record.
    Record(MappedRecord),
    /// The record at this position is compressed: its bytes are not in the file as such.
    /// The replay cannot go on in place (replay the classic way).
    Compressed(Position),
    /// The end of the log as it stood when the replay began.
    End,
}

/// A replay of the log by place, made by
/// [`blocking::Wal::replay_mapped`](crate::blocking::Wal::replay_mapped). See the module doc.
#[derive(Debug)]
pub struct MappedReplay {
    engine: Arc<Engine>,
    /// The segments from the start position on: id, map, and the end of their records.
    /// (Shared by the replays [`MappedReplay::split`] makes.)
    ids: Arc<[u64]>,
    maps: Arc<[Arc<dyn RandomAccessFile>]>,
    ends: Arc<[u64]>,
    /// The current segment (index) and offset in it.
    seg: usize,
    offset: u64,
    /// The segment (index) where this replay ends: `ids.len()`, or the next one for a replay
    /// made by [`MappedReplay::split`].
    until: usize,
    max_payload: u64,
    /// Frames before this position were checksum-verified by the open's scan (see
    /// `Engine::verified_end`); `Position::start()` if the log was truncated since.
    verified_end: Position,
    scratch: Record,
}

impl MappedReplay {
    /// `Ok(None)` where the replay cannot be done in place (see the module doc).
    pub(crate) fn start(engine: Arc<Engine>, from: Position) -> Result<Option<MappedReplay>> {
        // The segments to read and where their records end, as the log stands now.
        let spans: Vec<(u64, u64)> = {
            let st = lock(&engine.state);
            let first = st.segments.keys().next().copied().unwrap_or(1);
            let start_id = if from == Position::start() {
                first
            } else {
                if from.segment_id() < first {
                    return Err(Error::PositionDeleted {
                        position: from,
                        first_available: Position::new(first, SEGMENT_HEADER_LEN),
                    });
                }
                if !st.segments.contains_key(&from.segment_id()) {
                    return Err(Error::InvalidPosition {
                        position: from,
                        reason: "no such segment".into(),
                    });
                }
                from.segment_id()
            };
            let mut spans = Vec::new();
            for (&id, len) in st.segments.range(start_id..) {
                let end = match len {
                    Some(len) => *len,
                    None => match &st.active {
                        // Bytes still in the writer's buffer are not in the file to map.
                        Some(a) if a.buf.is_empty() => a.file_end,
                        _ => return Ok(None),
                    },
                };
                spans.push((id, end));
            }
            spans
        };
        let fs = &engine.config.fs;
        let (mut ids, mut maps, mut ends) = (Vec::new(), Vec::new(), Vec::new());
        for (id, end) in spans {
            let path = segment_path(&engine.config.dir, id);
            let file = fs.open_read_mapped(&path).map_err(Error::Io)?;
            match file.mapped() {
                Some(bytes) if bytes.len() as u64 >= end => {}
                _ => return Ok(None),
            }
            ids.push(id);
            maps.push(file);
            ends.push(end);
        }
        let offset = if from == Position::start() || ids.first() != Some(&from.segment_id()) {
            SEGMENT_HEADER_LEN
        } else {
            if from.offset() > ends[0] {
                return Err(Error::InvalidPosition {
                    position: from,
                    reason: "past the end of its segment".into(),
                });
            }
            from.offset().max(SEGMENT_HEADER_LEN)
        };
        let verified_end = if engine.epoch.load(std::sync::atomic::Ordering::Acquire) == 0 {
            engine.verified_end
        } else {
            Position::start()
        };
        Ok(Some(MappedReplay {
            max_payload: max_payload_for(engine.config.max_record_bytes),
            verified_end,
            engine,
            maps: maps.into(),
            ends: ends.into(),
            seg: 0,
            offset,
            until: ids.len(),
            ids: ids.into(),
            scratch: Record::default(),
        }))
    }

    /// The mapped segments the records' places refer to, in log order. Each is mapped
    /// ([`RandomAccessFile::mapped`] is `Some`); keeping one keeps its map.
    pub fn segments(&self) -> &[Arc<dyn RandomAccessFile>] {
        &self.maps
    }

    /// The bytes of segment `i` (as mapped).
    pub fn segment_bytes(&self, i: usize) -> &[u8] {
        self.maps[i]
            .mapped()
            .expect("only mapped segments are kept")
    }

    /// This replay as one replay per segment left, in log order, to be run on as many
    /// threads: the first goes on from where this one stands, each other starts at its
    /// segment's first frame, and each ends at its segment's end, so their records one after
    /// another are this replay's records (and their errors, segment by segment). Each lends
    /// all the segments ([`segments`](Self::segments)): a record's `segment` index means the
    /// same in all of them.
    pub fn split(self) -> Vec<MappedReplay> {
        (self.seg..self.until)
            .map(|seg| MappedReplay {
                engine: self.engine.clone(),
                ids: self.ids.clone(),
                maps: self.maps.clone(),
                ends: self.ends.clone(),
                seg,
                offset: if seg == self.seg {
                    self.offset
                } else {
                    SEGMENT_HEADER_LEN
                },
                until: seg + 1,
                max_payload: self.max_payload,
                verified_end: self.verified_end,
                scratch: Record::default(),
            })
            .collect()
    }

    /// The next record's place, the end, or the news that a record is compressed. A damaged
    /// frame is an error naming the segment file and the frame's offset.
    pub fn next_step(&mut self) -> Result<MappedStep> {
        loop {
            if self.seg >= self.until {
                return Ok(MappedStep::End);
            }
            let end = self.ends[self.seg];
            let id = self.ids[self.seg];
            if let Some(skip) = self.engine.skips.iter().find(|s| {
                s.segment_id == id && s.from_offset <= self.offset && self.offset < s.to_offset
            }) {
                self.offset = skip.to_offset;
                continue;
            }
            if self.offset >= end {
                self.seg += 1;
                self.offset = SEGMENT_HEADER_LEN;
                continue;
            }
            let offset = self.offset;
            let bytes = &self.maps[self.seg]
                .mapped()
                .expect("only mapped segments are kept")[offset as usize..end as usize];
            let path = || segment_path(&self.engine.config.dir, id);
            // The open's scan checked these frames' checksums moments ago (the same bytes:
            // the directory is locked and only appends came since); frames after it are
            // checked here. Checking them twice: crc32c was 14% of a store's reopen over
            // 1.1 GB of log (perf); without the second check, fresh-process reopens
            // (`compare recovery-reopen`, interleaved) went 2.14-2.69 -> 1.89-2.45 s with
            // scrambled keys (ahead in 5 of 5) and 1.13-1.61 -> 0.96-1.34 s ascending (3 of 4).
            let checked = Position::new(id, offset) >= self.verified_end;
            let (header, total) = match parse_frame_checking(bytes, self.max_payload, checked) {
                Parse::Frame { header, total } => (header, total),
                Parse::Bad(BadFrame::Checksum { expected, actual }) => {
                    return Err(Error::ChecksumMismatch {
                        file: path(),
                        offset,
                        expected,
                        actual,
                    })
                }
                Parse::Bad(BadFrame::Implausible(reason)) => {
                    return Err(Error::Corruption {
                        file: path(),
                        offset,
                        reason,
                    })
                }
                Parse::NeedMore(need) => {
                    return Err(Error::Corruption {
                        file: path(),
                        offset,
                        reason: format!(
                            "a frame of {need} bytes runs past the end of the segment ({end})"
                        ),
                    })
                }
            };
            self.offset += total as u64;
            if header.kind == KIND_SEAL {
                continue;
            }
            let position = Position::new(id, offset);
            if header.flags & FLAG_COMPRESSED != 0 {
                return Ok(MappedStep::Compressed(position));
            }
            let payload = &bytes[crate::format::FRAME_HEADER_LEN..total];
            let max_record = self.engine.config.max_record_bytes;
            let decoded = decode_payload(&header, payload, max_record, &mut self.scratch).map_err(
                |reason| Error::Corruption {
                    file: path(),
                    offset,
                    reason,
                },
            )?;
            let Decoded::Plain {
                key,
                value,
                tombstone,
            } = decoded
            else {
                unreachable!("a frame without FLAG_COMPRESSED decodes in place");
            };
            let base = offset as usize + crate::format::FRAME_HEADER_LEN;
            return Ok(MappedStep::Record(MappedRecord {
                segment: self.seg,
                key: base + key.start..base + key.end,
                value: base + value.start..base + value.end,
                tombstone,
                position,
            }));
        }
    }
}

impl crate::blocking::Wal {
    /// Replays the log from `pos` (`Position::start()`: the oldest record) to its end as it
    /// stands now, by place: the segments mapped and each record's key and value given as
    /// byte ranges in them (see [`MappedReplay`]). `Ok(None)` when that cannot be done here
    /// (a file system without maps, or bytes not yet written to the file): use
    /// [`replay_from`](Self::replay_from) then.
    pub fn replay_mapped(&self, pos: Position) -> Result<Option<MappedReplay>> {
        MappedReplay::start(self.handle.0.clone(), pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocking::Wal;
    use crate::{Compression, RecoveryMode, WalConfig};
    use common::MemFs;

    fn config(dir: &std::path::Path) -> WalConfig {
        WalConfig {
            dir: dir.into(),
            segment_size_bytes: 16 << 10,
            ..WalConfig::default()
        }
    }

    /// Everything a classic reader returns from `pos`, and the same from a mapped replay.
    type Records = Vec<(Record, Position)>;

    fn both(wal: &Wal, pos: Position) -> (Records, Records) {
        let mut classic = Vec::new();
        let mut r = wal.read_from(pos).unwrap();
        while let Some(x) = r.next_record().unwrap() {
            classic.push(x);
        }
        let replay = || {
            wal.replay_mapped(pos)
                .unwrap()
                .expect("a real file system maps")
        };
        let mut mapped = Vec::new();
        drain(&mut replay(), &mut mapped);
        // Split by segment, the replays one after another (the last one first, as another
        // thread might) give the same records.
        let mut parts: Vec<Records> = replay()
            .split()
            .into_iter()
            .rev()
            .map(|mut m| {
                let mut records = Vec::new();
                drain(&mut m, &mut records);
                records
            })
            .collect();
        parts.reverse();
        assert_eq!(parts.concat(), mapped, "split from {pos:?}");
        (classic, mapped)
    }

    fn drain(m: &mut MappedReplay, into: &mut Records) {
        loop {
            match m.next_step().unwrap() {
                MappedStep::Record(r) => {
                    let bytes = m.segment_bytes(r.segment);
                    let rec = Record {
                        key: bytes[r.key.clone()].to_vec(),
                        value: bytes[r.value.clone()].to_vec(),
                        tombstone: r.tombstone,
                    };
                    into.push((rec, r.position));
                }
                MappedStep::Compressed(p) => panic!("compressed at {p:?}"),
                MappedStep::End => break,
            }
        }
    }

    fn fill(wal: &Wal, n: u32) -> Vec<Position> {
        let mut positions = Vec::new();
        for i in 0..n {
            if i % 500 == 499 {
                wal.rotate().unwrap(); // segments regardless of the sync thread's timing
            }
            let key = format!("key-{:05}", (i * 7919) % 1000);
            if i % 9 == 4 {
                positions.push(wal.append(&Record::delete(key.as_bytes())).unwrap());
            } else if i % 13 == 6 {
                let batch = [
                    Record::put(key.as_bytes(), format!("b1-{i}").as_bytes()),
                    Record::put(b"other", vec![i as u8; (i % 300) as usize]),
                ];
                positions.extend(wal.append_batch(&batch).unwrap());
            } else {
                let value = format!("value-{i}-{}", "x".repeat((i % 97) as usize));
                positions.push(
                    wal.append(&Record::put(key.as_bytes(), value.as_bytes()))
                        .unwrap(),
                );
            }
        }
        positions
    }

    /// Over many segments, from the start and from positions inside: the same records at the
    /// same positions as a reader, also after a reopen (the recovered log).
    #[test]
    fn places_match_what_a_reader_returns() {
        let dir = tempfile::tempdir().unwrap();
        let positions = {
            let (wal, _) = Wal::open(config(dir.path())).unwrap();
            let positions = fill(&wal, 3000);
            let (classic, mapped) = both(&wal, Position::start());
            assert_eq!(classic.len(), positions.len());
            assert_eq!(classic, mapped);
            positions
        };
        let (wal, _) = Wal::open(config(dir.path())).unwrap();
        assert!(
            positions.last().unwrap().segment_id() > 1,
            "{:?}",
            positions.last()
        );
        for p in [
            Position::start(),
            positions[1],
            positions[1777],
            *positions.last().unwrap(),
        ] {
            let (classic, mapped) = both(&wal, p);
            assert!(!classic.is_empty());
            assert_eq!(classic, mapped, "from {p:?}");
        }
    }

    /// A flipped byte in a sealed segment: the same error as a reader's, naming the file and
    /// offset; under SkipCorrupted the skipped range is passed over as a reader does.
    #[test]
    fn damage_is_an_error_and_a_skipped_range_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (wal, _) = Wal::open(config(dir.path())).unwrap();
            assert!(fill(&wal, 2000).last().unwrap().segment_id() > 1);
        }
        let victim = segment_path(dir.path(), 1);
        let mut bytes = std::fs::read(&victim).unwrap();
        bytes[5000] ^= 0x10;
        std::fs::write(&victim, &bytes).unwrap();
        let (wal, info) = Wal::open(WalConfig {
            recovery_mode: RecoveryMode::SkipCorrupted,
            ..config(dir.path())
        })
        .unwrap();
        assert_eq!(info.skipped.len(), 1);
        let (classic, mapped) = both(&wal, Position::start());
        assert_eq!(classic, mapped);
        // Damage after the open, to a record appended after it: the replay checks what the
        // open's scan did not, and reports it where the reader does. (The frames the scan
        // checked are not checked again: see `Engine::verified_end`.)
        drop(wal);
        let (wal, _) = Wal::open(WalConfig {
            recovery_mode: RecoveryMode::SkipCorrupted,
            ..config(dir.path())
        })
        .unwrap();
        let late = wal.append(&Record::put(b"late", vec![b'v'; 200])).unwrap();
        wal.sync().unwrap();
        {
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(segment_path(dir.path(), late.segment_id()))
                .unwrap();
            let at = late.offset() + 100; // inside the value
            let mut b = [0u8; 1];
            f.read_exact_at(&mut b, at).unwrap();
            f.write_all_at(&[b[0] ^ 0x10], at).unwrap();
        }
        let mut r = wal.read_from(Position::start()).unwrap();
        let classic_err = loop {
            match r.next_record() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the reader missed the damage"),
                Err(e) => break e.to_string(),
            }
        };
        let mut m = wal.replay_mapped(Position::start()).unwrap().unwrap();
        let mapped_err = loop {
            match m.next_step() {
                Ok(MappedStep::Record(_)) => {}
                Ok(other) => panic!("the mapped replay missed the damage: {other:?}"),
                Err(e) => break e.to_string(),
            }
        };
        assert_eq!(classic_err, mapped_err);
        let name = format!("{:020}.wal", late.segment_id());
        assert!(mapped_err.contains(&name), "{mapped_err}");
    }

    #[test]
    fn a_compressed_record_is_reported_and_a_memory_file_system_declines() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(WalConfig {
            compression: Compression::Lz4 { min_bytes: 64 },
            ..config(dir.path())
        })
        .unwrap();
        wal.append(&Record::put(b"short", b"v")).unwrap();
        let big = wal.append(&Record::put(b"long", vec![b'a'; 4096])).unwrap();
        let mut m = wal.replay_mapped(Position::start()).unwrap().unwrap();
        assert!(matches!(m.next_step().unwrap(), MappedStep::Record(_)));
        assert_eq!(m.next_step().unwrap(), MappedStep::Compressed(big));

        let fs = MemFs::new();
        let (wal, _) = Wal::open(WalConfig {
            dir: "/wal".into(),
            fs: fs.shared(),
            ..WalConfig::default()
        })
        .unwrap();
        wal.append(&Record::put(b"k", b"v")).unwrap();
        assert!(wal.replay_mapped(Position::start()).unwrap().is_none());
    }
}
