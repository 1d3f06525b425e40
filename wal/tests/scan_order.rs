//! Open scans segments on several threads: what it reports must not depend on that. Damage
//! in several segments is reported for the first one (file and offset), skipped ranges come
//! in log order, and the counts and last position add up over every segment.

mod util;

use common::MemFs;
use util::*;
use wal::blocking::Wal;
use wal::{Error, FsyncPolicy, Position, Record, RecoveryMode, WalConfig};

const SEGMENTS: u64 = 8;
const PER_SEGMENT: usize = 25;

/// A closed log of `SEGMENTS` sealed segments plus an empty active one.
fn build(fs: &MemFs) -> Vec<(Record, Position)> {
    let (wal, _) = Wal::open(config(fs, FsyncPolicy::Os)).unwrap();
    let mut recs = Vec::new();
    for s in 0..SEGMENTS as usize {
        for i in 0..PER_SEGMENT {
            let r = rec(s * PER_SEGMENT + i, 40);
            recs.push((r.clone(), wal.append(&r).unwrap()));
        }
        wal.rotate().unwrap();
    }
    wal.close().unwrap();
    recs
}

fn flip(fs: &MemFs, pos: Position) {
    let path = seg_path(pos.segment_id());
    let mut b = fs.read_all(&path).unwrap();
    b[pos.offset() as usize + 12] ^= 0x04;
    fs.write_all(&path, &b).unwrap();
}

fn open(fs: &MemFs, mode: RecoveryMode) -> wal::Result<(Wal, wal::RecoveryInfo)> {
    Wal::open(WalConfig {
        recovery_mode: mode,
        ..config(fs, FsyncPolicy::Os)
    })
}

#[test]
fn a_whole_log_is_counted_over_every_segment() {
    let fs = MemFs::new();
    let recs = build(&fs);
    let (wal, info) = open(&fs, RecoveryMode::AbsoluteConsistency).unwrap();
    assert_eq!(info.segments_read, SEGMENTS + 1);
    assert_eq!(info.records_read, recs.len() as u64);
    assert_eq!(info.last_position, recs.last().map(|r| r.1));
    assert_eq!(info.next_position, Position::new(SEGMENTS + 1, 32));
    assert!(info.skipped.is_empty());
    assert_eq!(read_all(&wal), recs);
}

#[test]
fn damage_in_several_segments_is_reported_for_the_first_and_skipped_in_order() {
    let fs = MemFs::new();
    let recs = build(&fs);
    // A record in segment 3, two in segment 6 (the later one flipped first), one in
    // segment 8.
    let victims = [
        2 * PER_SEGMENT + 4,
        5 * PER_SEGMENT + 9,
        5 * PER_SEGMENT + 1,
        7 * PER_SEGMENT + 10,
    ];
    for &v in &victims {
        flip(&fs, recs[v].1);
    }
    for mode in [
        RecoveryMode::AbsoluteConsistency,
        RecoveryMode::TolerateCorruptTail,
    ] {
        match open(&fs, mode).err() {
            Some(Error::ChecksumMismatch { file, offset, .. }) => {
                assert_eq!((file, offset), (seg_path(3), recs[victims[0]].1.offset()));
            }
            other => panic!("{mode:?}: unexpected {other:?}"),
        }
    }
    let (wal, info) = open(&fs, RecoveryMode::SkipCorrupted).unwrap();
    let mut order = victims;
    order.sort_unstable();
    let skipped: Vec<_> = info
        .skipped
        .iter()
        .map(|s| (s.segment_id, s.from_offset))
        .collect();
    let want: Vec<_> = order
        .iter()
        .map(|&v| (recs[v].1.segment_id(), recs[v].1.offset()))
        .collect();
    assert_eq!(skipped, want);
    let survivors: Vec<_> = recs
        .iter()
        .enumerate()
        .filter(|(i, _)| !victims.contains(i))
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(info.records_read, survivors.len() as u64);
    assert_eq!(info.segments_read, SEGMENTS + 1);
    assert_eq!(info.last_position, survivors.last().map(|r| r.1));
    assert_eq!(read_all(&wal), survivors);
}
