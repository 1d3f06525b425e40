//! A version edit: one change to the set of live files, as one manifest record carries it.
//!
//! Encoding (`docs/manifest-format.md`, "Version edit"): a sequence of fields, each a varint
//! tag followed by its body, in this order: log start, last sequence, next file number, the
//! deleted files, the added files. Every field is optional; a tag may repeat only for files.

use crate::format::{tag, NUM_LEVELS};
use common::coding::{put_length_prefixed, put_varint, Reader};
use common::{InternalKey, SeqNo};

/// The WAL position where unflushed records start, in the `wal` crate's 16-byte form.
pub type LogMark = [u8; 16];

/// What the manifest knows of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDesc {
    /// The file number: the table is `<number>.sst`.
    pub number: u64,
    /// The file's length in bytes.
    pub size_bytes: u64,
    /// The smallest internal key in the table.
    pub smallest: InternalKey,
    /// The largest internal key in the table.
    pub largest: InternalKey,
    /// The smallest sequence number in the table.
    pub smallest_seq: SeqNo,
    /// The largest sequence number in the table.
    pub largest_seq: SeqNo,
}

/// One change to the version: files added and removed per level, and the log marks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionEdit {
    /// Records at or after this WAL position are not yet in any table.
    pub log_start: Option<LogMark>,
    /// Every record with a sequence number up to this one is in a table.
    pub last_sequence: Option<SeqNo>,
    /// The next unused file number.
    pub next_file_number: Option<u64>,
    /// Files removed: (level, file number).
    pub deleted: Vec<(usize, u64)>,
    /// Files added: (level, file).
    pub added: Vec<(usize, FileDesc)>,
}

impl VersionEdit {
    /// Appends the encoded edit to `buf`.
    pub fn encode_into(&self, buf: &mut Vec<u8>) {
        if let Some(mark) = &self.log_start {
            put_varint(buf, tag::LOG_START);
            buf.extend_from_slice(mark);
        }
        if let Some(seq) = self.last_sequence {
            put_varint(buf, tag::LAST_SEQUENCE);
            put_varint(buf, seq);
        }
        if let Some(n) = self.next_file_number {
            put_varint(buf, tag::NEXT_FILE_NUMBER);
            put_varint(buf, n);
        }
        for &(level, number) in &self.deleted {
            put_varint(buf, tag::DELETE_FILE);
            put_varint(buf, level as u64);
            put_varint(buf, number);
        }
        for (level, f) in &self.added {
            put_varint(buf, tag::ADD_FILE);
            put_varint(buf, *level as u64);
            put_varint(buf, f.number);
            put_varint(buf, f.size_bytes);
            put_length_prefixed(buf, &f.smallest.encode());
            put_length_prefixed(buf, &f.largest.encode());
            put_varint(buf, f.smallest_seq);
            put_varint(buf, f.largest_seq);
        }
    }

    /// The encoded edit.
    pub fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.encode_into(&mut buf);
        buf
    }

    /// Decodes an edit. On failure returns the offset within `payload` and what was wrong;
    /// never panics.
    pub fn decode(payload: &[u8]) -> Result<VersionEdit, (usize, String)> {
        let mut r = Reader::new(payload);
        let mut edit = VersionEdit::default();
        while !r.is_empty() {
            let at = r.position();
            let short = |what: &str| (at, format!("truncated {what}"));
            let t = r.varint().ok_or_else(|| short("field tag"))?;
            match t {
                tag::LOG_START => {
                    let b = r.bytes(16).ok_or_else(|| short("log start"))?;
                    let mut mark = [0u8; 16];
                    mark.copy_from_slice(b);
                    edit.log_start = Some(mark);
                }
                tag::LAST_SEQUENCE => {
                    edit.last_sequence = Some(r.varint().ok_or_else(|| short("last sequence"))?)
                }
                tag::NEXT_FILE_NUMBER => {
                    edit.next_file_number =
                        Some(r.varint().ok_or_else(|| short("next file number"))?)
                }
                tag::DELETE_FILE => {
                    let level = level(&mut r).map_err(|e| (at, e))?;
                    let number = r.varint().ok_or_else(|| short("deleted file number"))?;
                    edit.deleted.push((level, number));
                }
                tag::ADD_FILE => {
                    let level = level(&mut r).map_err(|e| (at, e))?;
                    let number = r.varint().ok_or_else(|| short("file number"))?;
                    let size_bytes = r.varint().ok_or_else(|| short("file size"))?;
                    let smallest = ikey(&mut r).ok_or_else(|| short("smallest key"))?;
                    let largest = ikey(&mut r).ok_or_else(|| short("largest key"))?;
                    let smallest_seq = r.varint().ok_or_else(|| short("smallest seq"))?;
                    let largest_seq = r.varint().ok_or_else(|| short("largest seq"))?;
                    if smallest > largest || smallest_seq > largest_seq {
                        return Err((at, format!("file {number}: bounds out of order")));
                    }
                    edit.added.push((
                        level,
                        FileDesc {
                            number,
                            size_bytes,
                            smallest,
                            largest,
                            smallest_seq,
                            largest_seq,
                        },
                    ));
                }
                other => return Err((at, format!("unknown field tag {other}"))),
            }
        }
        Ok(edit)
    }
}

fn level(r: &mut Reader<'_>) -> Result<usize, String> {
    let level = r.varint().ok_or("truncated level")?;
    if level >= NUM_LEVELS as u64 {
        return Err(format!(
            "level {level} out of range (max {})",
            NUM_LEVELS - 1
        ));
    }
    Ok(level as usize)
}

fn ikey(r: &mut Reader<'_>) -> Option<InternalKey> {
    InternalKey::decode(r.length_prefixed()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ValueKind;
    use proptest::prelude::*;

    pub(crate) fn desc(number: u64, lo: &[u8], hi: &[u8], seqs: (u64, u64)) -> FileDesc {
        FileDesc {
            number,
            size_bytes: 1000 + number,
            smallest: InternalKey::new(lo, seqs.1, ValueKind::Put),
            largest: InternalKey::new(hi, seqs.0, ValueKind::Delete),
            smallest_seq: seqs.0,
            largest_seq: seqs.1,
        }
    }

    #[test]
    fn worked_example_from_the_spec() {
        // docs/manifest-format.md, "Worked example": the edit a flush of table 5 writes.
        let edit = VersionEdit {
            log_start: Some([0x11; 16]),
            last_sequence: Some(300),
            next_file_number: Some(6),
            deleted: vec![],
            added: vec![(
                0,
                FileDesc {
                    number: 5,
                    size_bytes: 4096,
                    smallest: InternalKey::new(*b"a", 1, ValueKind::Put),
                    largest: InternalKey::new(*b"z", 300, ValueKind::Put),
                    smallest_seq: 1,
                    largest_seq: 300,
                },
            )],
        };
        let bytes = edit.encode();
        let mut expect = vec![0x01];
        expect.extend_from_slice(&[0x11; 16]);
        expect.extend_from_slice(&[0x02, 0xac, 0x02, 0x03, 0x06]);
        expect.extend_from_slice(&[0x04, 0x00, 0x05, 0x80, 0x20]);
        expect.extend_from_slice(&[0x09, b'a', 0x01, 0x01, 0, 0, 0, 0, 0, 0]);
        expect.extend_from_slice(&[0x09, b'z', 0x01, 0x2c, 0x01, 0, 0, 0, 0, 0]);
        expect.extend_from_slice(&[0x01, 0xac, 0x02]);
        assert_eq!(bytes, expect);
        assert_eq!(bytes.len(), 50);
        assert_eq!(VersionEdit::decode(&bytes), Ok(edit));
    }

    #[test]
    fn rejects_bad_levels_tags_and_bounds() {
        assert!(VersionEdit::decode(&[0x05, 0x07, 0x01]).is_err());
        assert!(VersionEdit::decode(&[0x09]).is_err());
        assert!(VersionEdit::decode(&[0x02]).is_err());
        let mut e = VersionEdit::default();
        e.added.push((1, desc(3, b"m", b"c", (1, 2))));
        assert!(VersionEdit::decode(&e.encode()).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn roundtrip(
            last in proptest::option::of(0..common::MAX_SEQNO),
            next in proptest::option::of(any::<u64>()),
            mark in proptest::option::of(any::<[u8; 16]>()),
            deleted in proptest::collection::vec((0..NUM_LEVELS, any::<u64>()), 0..4),
            added in proptest::collection::vec((0..NUM_LEVELS, 0..1000u64, 0..100u64), 0..4),
        ) {
            let edit = VersionEdit {
                log_start: mark,
                last_sequence: last,
                next_file_number: next,
                deleted,
                added: added
                    .into_iter()
                    .map(|(l, n, s)| (l, desc(n, b"a", b"b", (s, s + 5))))
                    .collect(),
            };
            prop_assert_eq!(VersionEdit::decode(&edit.encode()), Ok(edit));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = VersionEdit::decode(&bytes);
        }
    }
}
