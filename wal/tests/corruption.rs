//! Damaged logs: torn tails at every byte offset, bit flips in every field, zero tails,
//! missing segments, and what each recovery mode does with them.

mod util;

use common::{FileSystem, MemFs};
use std::path::Path;
use util::*;
use wal::blocking::Wal;
use wal::{Error, FsyncPolicy, Position, Record, RecoveryInfo, RecoveryMode, WalConfig};

/// A one-segment log: 12 single records, a batch of 4, then 2 single records.
/// Returns the segment bytes and each record with its position and "unit" (batch) end.
fn build() -> (Vec<u8>, Vec<(Record, Position)>, Vec<u64>) {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let mut recs = Vec::new();
    for i in 0..12 {
        let r = rec(i, 20);
        recs.push((r.clone(), wal.append(&r).unwrap()));
    }
    let batch: Vec<Record> = (12..16).map(|i| rec(i, 9)).collect();
    for (r, p) in batch.iter().zip(wal.append_batch(&batch).unwrap()) {
        recs.push((r.clone(), p));
    }
    for i in 16..18 {
        let r = rec(i, 20);
        recs.push((r.clone(), wal.append(&r).unwrap()));
    }
    wal.close().unwrap();
    let bytes = fs.read_all(&seg_path(1)).unwrap();
    // The offset at which each record's batch is complete.
    let mut unit_end = Vec::new();
    for i in 0..recs.len() {
        let batch_last = if (12..16).contains(&i) { 15 } else { i };
        let end = recs
            .get(batch_last + 1)
            .map(|(_, p)| p.offset())
            .unwrap_or(bytes.len() as u64);
        unit_end.push(end);
    }
    (bytes, recs, unit_end)
}

fn open_bytes(
    bytes: &[u8],
    mode: RecoveryMode,
) -> wal::Result<(Vec<(Record, Position)>, RecoveryInfo)> {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new(DIR)).unwrap();
    fs.create(&seg_path(1)).unwrap();
    fs.write_all(&seg_path(1), bytes).unwrap();
    let (wal, info) = Wal::open(WalConfig {
        recovery_mode: mode,
        ..config(&fs, FsyncPolicy::Os)
    })?;
    let got = read_all(&wal);
    // The recovered log takes appends after the cut and keeps them.
    let p = wal.append(&Record::put("after", "recovery")).unwrap();
    assert_eq!(p, info.next_position);
    Ok((got, info))
}

#[test]
fn torn_tail_at_every_offset_recovers_exactly_the_whole_batches_before_it() {
    let (bytes, recs, unit_end) = build();
    let from = recs[10].1.offset() as usize;
    for cut in from..=bytes.len() {
        let (got, info) = open_bytes(&bytes[..cut], RecoveryMode::TolerateCorruptTail).unwrap();
        let expect: Vec<_> = recs
            .iter()
            .zip(&unit_end)
            .filter(|(_, &end)| end <= cut as u64)
            .map(|(r, _)| r.clone())
            .collect();
        assert_eq!(got, expect, "cut at {cut}");
        let kept = expect
            .last()
            .map(|(_, p)| unit_end[recs.iter().position(|r| r.1 == *p).unwrap()])
            .unwrap();
        assert_eq!(info.bytes_cut, cut as u64 - kept, "cut at {cut}");
        assert_eq!(info.records_read, expect.len() as u64);
        assert_eq!(info.last_position, expect.last().map(|x| x.1));
        assert_eq!(info.next_position, Position::new(1, kept));

        // The same cut followed by preallocated zeros: the same records; at a batch boundary
        // the zeros are not corruption (and AbsoluteConsistency accepts them).
        let mut zeroed = bytes[..cut].to_vec();
        zeroed.resize(cut + 777, 0);
        let (got, info) = open_bytes(&zeroed, RecoveryMode::TolerateCorruptTail).unwrap();
        assert_eq!(got, expect, "zero tail after cut at {cut}");
        assert_eq!(
            info.bytes_cut + info.zero_tail_bytes,
            zeroed.len() as u64 - kept
        );
        let strict = open_bytes(&zeroed, RecoveryMode::AbsoluteConsistency);
        if cut as u64 == kept {
            assert_eq!(info.zero_tail_bytes, 777);
            assert_eq!(info.bytes_cut, 0);
            assert_eq!(strict.unwrap().0, expect);
            assert_eq!(
                open_bytes(&bytes[..cut], RecoveryMode::AbsoluteConsistency)
                    .unwrap()
                    .0,
                expect
            );
        } else {
            let err = strict.unwrap_err();
            assert!(
                err.to_string().contains("00000000000000000001.wal"),
                "{err}"
            );
            assert!(open_bytes(&bytes[..cut], RecoveryMode::AbsoluteConsistency).is_err());
        }
    }
}

#[test]
fn a_bit_flip_in_any_field_of_a_middle_record_is_an_error_naming_file_and_offset() {
    let (bytes, recs, _) = build();
    // A single record (5) and a record inside the batch (13).
    for victim in [5usize, 13] {
        let off = recs[victim].1.offset() as usize;
        let end = recs[victim + 1].1.offset() as usize;
        let batch = if victim == 13 {
            12..16
        } else {
            victim..victim + 1
        };
        let survivors: Vec<_> = recs
            .iter()
            .enumerate()
            .filter(|(i, _)| !batch.contains(i))
            .map(|(_, r)| r.clone())
            .collect();
        for byte in off..end {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[byte] ^= 1 << bit;
                let err = open_bytes(&b, RecoveryMode::TolerateCorruptTail).unwrap_err();
                match &err {
                    Error::ChecksumMismatch { file, offset, .. }
                    | Error::Corruption { file, offset, .. } => {
                        assert_eq!(*file, seg_path(1));
                        assert_eq!(*offset, off as u64, "flip at byte {byte} bit {bit}: {err}");
                    }
                    other => panic!("flip at byte {byte} bit {bit}: unexpected {other}"),
                }
                assert!(err.to_string().contains(&format!("offset {off}")), "{err}");
                // SkipCorrupted: everything but the damaged batch, and the skip reported.
                let (got, info) = open_bytes(&b, RecoveryMode::SkipCorrupted).unwrap();
                assert_eq!(got, survivors, "flip at byte {byte} bit {bit}");
                assert_eq!(info.skipped.len(), 1);
                assert_eq!(info.skipped[0].from_offset, recs[batch.start].1.offset());
                assert_eq!(info.skipped[0].to_offset, recs[batch.end].1.offset());
                assert_eq!(info.skipped[0].file, seg_path(1));
            }
        }
    }
}

#[test]
fn a_bit_flip_in_the_last_record_is_a_torn_tail_and_never_returned() {
    let (bytes, recs, _) = build();
    let off = recs[17].1.offset() as usize;
    for byte in off..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[byte] ^= 1 << bit;
            let (got, info) = open_bytes(&b, RecoveryMode::TolerateCorruptTail).unwrap();
            assert_eq!(got, recs[..17], "flip at byte {byte} bit {bit}");
            assert_eq!(info.bytes_cut, (bytes.len() - off) as u64);
            assert!(open_bytes(&b, RecoveryMode::AbsoluteConsistency).is_err());
        }
    }
}

#[test]
fn a_bit_flip_in_the_segment_header_is_an_error() {
    let (bytes, _, _) = build();
    for byte in 0..32 {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[byte] ^= 1 << bit;
            let err = open_bytes(&b, RecoveryMode::TolerateCorruptTail).unwrap_err();
            assert!(
                err.to_string().contains("00000000000000000001.wal"),
                "byte {byte} bit {bit}: {err}"
            );
        }
    }
}

#[test]
fn damage_in_a_sealed_segment_is_never_a_tail_and_a_missing_segment_is_a_hole() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let a = wal.append(&Record::put("a", "1")).unwrap();
    let b = wal.append(&Record::put("b", "2")).unwrap();
    wal.rotate().unwrap();
    wal.append(&Record::put("c", "3")).unwrap();
    wal.rotate().unwrap();
    wal.append(&Record::put("d", "4")).unwrap();
    wal.close().unwrap();
    let good = fs.read_all(&seg_path(1)).unwrap();

    // The last record of sealed segment 1 torn: an error, not a cut.
    let mut torn = good.clone();
    torn.truncate(torn.len() - 3);
    fs.write_all(&seg_path(1), &torn).unwrap();
    let err = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap_err();
    assert!(
        matches!(&err, Error::Corruption { file, offset, .. } if *file == seg_path(1) && *offset == b.offset()),
        "{err}"
    );
    let (wal, info) = Wal::open(WalConfig {
        recovery_mode: RecoveryMode::SkipCorrupted,
        ..config(&fs, FsyncPolicy::Os)
    })
    .unwrap();
    assert_eq!(info.skipped.len(), 1);
    let keys: Vec<_> = read_all(&wal).into_iter().map(|(r, _)| r.key).collect();
    assert_eq!(keys, vec![b"a".to_vec(), b"c".to_vec(), b"d".to_vec()]);
    drop(wal);
    fs.write_all(&seg_path(1), &good).unwrap();

    // A hole: segment 2 missing.
    fs.remove_file(&seg_path(2)).unwrap();
    let err = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap_err();
    assert!(
        err.to_string().contains("00000000000000000002.wal"),
        "{err}"
    );
    let (wal, info) = Wal::open(WalConfig {
        recovery_mode: RecoveryMode::SkipCorrupted,
        ..config(&fs, FsyncPolicy::Os)
    })
    .unwrap();
    assert_eq!(info.skipped.len(), 1);
    assert_eq!(info.skipped[0].segment_id, 2);
    assert_eq!(read_all(&wal).len(), 3);
    assert_eq!(read_all(&wal)[0].1, a);
}

#[test]
fn skip_corrupted_with_a_damaged_last_header_appends_to_a_fresh_segment() {
    let (mut bytes, _, _) = build();
    bytes[20] ^= 0x10; // the segment id field: the header crc fails
    let fs = MemFs::new();
    fs.create_dir_all(Path::new(DIR)).unwrap();
    fs.create(&seg_path(1)).unwrap();
    fs.write_all(&seg_path(1), &bytes).unwrap();
    let cfg = WalConfig {
        recovery_mode: RecoveryMode::SkipCorrupted,
        ..config(&fs, FsyncPolicy::Os)
    };
    let (wal, info) = Wal::open(cfg.clone()).unwrap();
    assert_eq!(info.skipped.len(), 1);
    assert_eq!(
        (info.skipped[0].from_offset, info.skipped[0].to_offset),
        (0, bytes.len() as u64)
    );
    assert!(read_all(&wal).is_empty());
    let p = wal.append(&Record::put("new", "1")).unwrap();
    assert_eq!(p, Position::new(2, 32));
    wal.close().unwrap();
    let (wal, info) = Wal::open(cfg).unwrap();
    assert_eq!(info.skipped.len(), 1);
    assert_eq!(read_all(&wal), vec![(Record::put("new", "1"), p)]);
}

#[test]
fn an_unfinished_batch_followed_by_a_new_one_is_damage_and_skip_keeps_the_new_one() {
    use wal::format::{encode_record, encode_segment_header, FLAG_FIRST, FLAG_LAST};
    use wal::Compression;
    let mut bytes = encode_segment_header(1).to_vec();
    let mut scratch = Vec::new();
    encode_record(
        &mut bytes,
        &Record::put("a", "1"),
        FLAG_FIRST,
        Compression::None,
        &mut scratch,
    );
    let second = bytes.len() as u64;
    for key in ["k", "z"] {
        encode_record(
            &mut bytes,
            &Record::put(key, "v"),
            FLAG_FIRST | FLAG_LAST,
            Compression::None,
            &mut scratch,
        );
    }
    let err = open_bytes(&bytes, RecoveryMode::TolerateCorruptTail).unwrap_err();
    assert!(
        matches!(err, Error::Corruption { offset, .. } if offset == second),
        "{err}"
    );
    let (got, info) = open_bytes(&bytes, RecoveryMode::SkipCorrupted).unwrap();
    let keys: Vec<_> = got.into_iter().map(|(r, _)| r.key).collect();
    assert_eq!(keys, vec![b"k".to_vec(), b"z".to_vec()]);
    assert_eq!(
        (info.skipped[0].from_offset, info.skipped[0].to_offset),
        (32, second)
    );
}

mod arbitrary_bytes {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        /// Any bytes after a valid header, or a valid log with random bytes overwritten:
        /// recovery and readers return records or errors, never panic, in every mode.
        #[test]
        fn recovery_never_panics(
            garbage in prop::collection::vec(any::<u8>(), 0..400),
            at in 0usize..2000,
            mode in prop_oneof![
                Just(RecoveryMode::TolerateCorruptTail),
                Just(RecoveryMode::AbsoluteConsistency),
                Just(RecoveryMode::SkipCorrupted),
            ],
        ) {
            let mut raw = wal::format::encode_segment_header(1).to_vec();
            raw.extend_from_slice(&garbage);
            let _ = open_bytes(&raw, mode);
            let (mut bytes, recs, _) = build();
            let at = at % bytes.len();
            for (i, g) in garbage.iter().take(8).enumerate() {
                if at + i < bytes.len() {
                    bytes[at + i] = *g;
                }
            }
            if let Ok((got, _)) = open_bytes(&bytes, mode) {
                // Whatever comes back is a subsequence of what was written.
                let mut it = recs.iter();
                for r in &got {
                    prop_assert!(it.any(|x| x == r), "record not written: {:?}", r);
                }
            }
        }
    }
}
