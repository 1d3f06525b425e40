//! `blocking::Wal::replay_from`: the same records, positions and errors as a reader from the
//! same position, through batches read ahead on another thread; torn tails, damage found only
//! by the replay, records that do not decode, skipped ranges, big and compressed records.

mod util;

use common::{FileSystem, MemFs};
use std::path::Path;
use util::*;
use wal::blocking::Wal;
use wal::format::{frame_crc, FRAME_HEADER_LEN};
use wal::{Compression, Error, FsyncPolicy, Position, Record, RecoveryMode, WalConfig};

/// Everything a reader returns from `from`, and the error that stopped it, if any.
fn read_from(wal: &Wal, from: Position) -> (Vec<(Record, Position)>, Option<String>) {
    let mut r = wal.read_from(from).unwrap();
    let mut out = Vec::new();
    loop {
        match r.next_record() {
            Ok(Some(x)) => out.push(x),
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

/// Everything a replay returns from `from` (through `next_record`), and its error, if any.
fn replay_from(wal: &Wal, from: Position) -> (Vec<(Record, Position)>, Option<Error>) {
    let mut r = wal.replay_from(from).unwrap();
    let mut out = Vec::new();
    loop {
        match r.next_record() {
            Ok(Some((rec, pos))) => out.push((rec.to_record(), pos)),
            Ok(None) => return (out, None),
            Err(e) => {
                // The replay stays failed.
                assert!(r.next_batch().is_err());
                return (out, Some(e));
            }
        }
    }
}

/// The same through `next_batch`.
fn replay_batches(wal: &Wal, from: Position) -> Vec<(Record, Position)> {
    let mut r = wal.replay_from(from).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_batch().unwrap() {
        assert!(!b.is_empty());
        for i in 0..b.len() {
            let (rec, pos) = b.get(i).unwrap();
            out.push((rec.to_record(), pos));
        }
        assert!(b.get(b.len()).is_none());
    }
    out
}

/// A one-segment log of 30 records (a batch of 4 among them); its bytes and the records.
fn build() -> (Vec<u8>, Vec<(Record, Position)>) {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let mut recs = Vec::new();
    for i in 0..30 {
        if i == 10 {
            let batch: Vec<Record> = (10..14).map(|j| rec(j, 9)).collect();
            for (r, p) in batch.iter().zip(wal.append_batch(&batch).unwrap()) {
                recs.push((r.clone(), p));
            }
        } else if !(10..14).contains(&i) {
            let r = rec(i, 20);
            recs.push((r.clone(), wal.append(&r).unwrap()));
        }
    }
    wal.close().unwrap();
    (fs.read_all(&seg_path(1)).unwrap(), recs)
}

fn open_bytes(fs: &MemFs, bytes: &[u8], mode: RecoveryMode) -> wal::Result<Wal> {
    fs.create_dir_all(Path::new(DIR)).unwrap();
    fs.create(&seg_path(1)).unwrap();
    fs.write_all(&seg_path(1), bytes).unwrap();
    let (wal, _) = Wal::open(WalConfig {
        recovery_mode: mode,
        ..config(fs, FsyncPolicy::Os)
    })?;
    Ok(wal)
}

#[test]
fn a_torn_tail_cut_at_open_is_never_replayed() {
    let (bytes, recs) = build();
    let from = recs[9].1.offset() as usize;
    for cut in from..=bytes.len() {
        let fs = MemFs::new();
        let wal = open_bytes(&fs, &bytes[..cut], RecoveryMode::TolerateCorruptTail).unwrap();
        let (want, err) = read_from(&wal, Position::start());
        assert_eq!(err, None);
        // Whole batches only: the batch 10..14 is there entirely or not at all.
        let n = want.len();
        assert!(!(11..14).contains(&n), "cut at {cut}: {n} records");
        assert_eq!(want[..], recs[..n], "cut at {cut}");
        let (got, err) = replay_from(&wal, Position::start());
        assert!(err.is_none(), "cut at {cut}: {err:?}");
        assert_eq!(got, want, "cut at {cut}");
    }
}

#[test]
fn damage_found_by_the_replay_ends_it_with_the_readers_error_after_the_records_before_it() {
    let (bytes, recs) = build();
    let fs = MemFs::new();
    let wal = open_bytes(&fs, &bytes, RecoveryMode::AbsoluteConsistency).unwrap();
    // The log was whole at open; then a bit of record 20 rots.
    let off = recs[20].1.offset() as usize;
    let end = recs[21].1.offset() as usize;
    for byte in [off, off + 5, off + FRAME_HEADER_LEN + 2, end - 1] {
        let mut b = bytes.clone();
        b[byte] ^= 0x10;
        fs.write_all(&seg_path(1), &b).unwrap();
        let (want, want_err) = read_from(&wal, Position::start());
        let (got, err) = replay_from(&wal, Position::start());
        assert_eq!(got, want, "flip at {byte}");
        assert_eq!(got[..], recs[..20], "flip at {byte}");
        let err = err.expect("an error");
        assert_eq!(Some(err.to_string()), want_err);
        match err {
            Error::ChecksumMismatch { file, offset, .. }
            | Error::Corruption { file, offset, .. } => {
                assert_eq!((file, offset), (seg_path(1), off as u64), "flip at {byte}");
            }
            other => panic!("flip at {byte}: {other}"),
        }
    }
}

#[test]
fn a_frame_with_a_good_checksum_and_a_bad_record_is_a_corruption_error() {
    let (mut bytes, recs) = build();
    // Record 7's key-length varint claims more bytes than the payload has; crc recomputed.
    let off = recs[7].1.offset() as usize;
    let end = recs[8].1.offset() as usize;
    bytes[off + FRAME_HEADER_LEN] = 0x7f;
    let crc = frame_crc(&bytes[off..end]);
    bytes[off..off + 4].copy_from_slice(&crc.to_le_bytes());
    let fs = MemFs::new();
    let wal = open_bytes(&fs, &bytes, RecoveryMode::AbsoluteConsistency).unwrap();
    let (want, want_err) = read_from(&wal, Position::start());
    let (got, err) = replay_from(&wal, Position::start());
    assert_eq!((got.as_slice(), want.as_slice()), (&recs[..7], &recs[..7]));
    let err = err.expect("an error");
    assert_eq!(Some(err.to_string()), want_err);
    match err {
        Error::Corruption {
            file,
            offset,
            reason,
        } => {
            assert_eq!((file, offset), (seg_path(1), off as u64));
            assert!(reason.contains("key length 127 exceeds"), "{reason}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn ranges_skipped_at_open_are_skipped_by_the_replay() {
    let (mut bytes, recs) = build();
    let off = recs[12].1.offset() as usize; // inside the batch 10..14
    bytes[off + FRAME_HEADER_LEN + 3] ^= 1;
    let fs = MemFs::new();
    let wal = open_bytes(&fs, &bytes, RecoveryMode::SkipCorrupted).unwrap();
    let (want, err) = read_from(&wal, Position::start());
    assert_eq!(err, None);
    let survivors: Vec<_> = recs[..10].iter().chain(&recs[14..]).cloned().collect();
    assert_eq!(want, survivors);
    assert_eq!(replay_from(&wal, Position::start()).0, want);
    assert_eq!(replay_batches(&wal, Position::start()), want);
}

/// Incompressible bytes (xorshift64).
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn many_segments_big_and_compressed_records_and_a_start_in_the_middle() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(WalConfig {
        segment_size_bytes: 256 << 10,
        max_record_bytes: 4 << 20,
        compression: Compression::Lz4 { min_bytes: 64 },
        ..config(&fs, FsyncPolicy::Os)
    })
    .unwrap();
    let mut all = Vec::new();
    for i in 0..3000usize {
        // Mostly small records; some compressible ones; a few larger than a read chunk
        // and a replay batch.
        let r = match i % 500 {
            0 => Record::put(format!("big-{i}"), vec![(i % 13) as u8; 3 << 20]),
            1 => Record::put(format!("noise-{i}"), noise(i as u64, 700_000)),
            _ => rec(i, i % 300),
        };
        all.push((r.clone(), wal.append_no_wait(&[r]).unwrap()[0]));
    }
    let mid = all[1234].1;
    wal.close().unwrap();
    let (wal, info) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    assert!(info.segments_read > 5, "{info:?}");
    let (got, err) = replay_from(&wal, Position::start());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got, all);
    assert_eq!(replay_batches(&wal, mid), all[1234..]);
    // A position in a deleted segment is refused up front, as by `read_from`.
    let first_kept = all[2000].1;
    wal.delete_segments_before(first_kept).unwrap();
    // `start` means the oldest record still there.
    assert!(wal.replay_from(Position::start()).is_ok());
    assert!(matches!(
        wal.replay_from(all[0].1),
        Err(Error::PositionDeleted { .. })
    ));
    assert_eq!(
        replay_from(&wal, Position::start()).0,
        read_from(&wal, Position::start()).0
    );
}
