//! Preallocated segments and power cuts: in the middle of a rotation (the next segment exists,
//! created durably and maybe preallocated, but the previous one was not sealed yet, so its
//! unsynced tail is torn or a preallocated zero tail), and with zero-filled space ahead of the
//! writer. Recovery keeps every synced record, cuts the zeros and opens the log.

mod util;

use common::{FaultKind, FaultyFs, FileSystem, MemFs, Op};
use std::time::Duration;
use util::*;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Record, WalConfig};

/// A policy under which `preallocate` applies, whose timer never fires during a test.
const POLICY: FsyncPolicy = FsyncPolicy::Batch(Duration::from_secs(60));

fn crash_mid_rotation(preallocate: bool) {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    let cfg = WalConfig {
        fs: faulty.shared(),
        preallocate,
        segment_size_bytes: 1 << 20,
        ..config(&mem, POLICY)
    };
    let (wal, _) = Wal::open(cfg).unwrap();
    for i in 0..10 {
        wal.append(&rec(i, 50)).unwrap();
    }
    wal.sync().unwrap();
    for i in 10..20 {
        wal.append(&rec(i, 50)).unwrap();
    }
    // Rotation: the new segment's creation syncs (file, directory) pass, the seal of the old
    // one fails; the power goes.
    faulty.fail(Op::SyncData, 1, FaultKind::Error);
    assert!(wal.rotate().is_err());
    faulty.freeze();
    drop(wal);
    let crashed = mem.crash();
    let (wal, info) = Wal::open(WalConfig {
        preallocate,
        segment_size_bytes: 1 << 20,
        ..config(&crashed, POLICY)
    })
    .unwrap();
    let keys: Vec<Vec<u8>> = read_all(&wal).into_iter().map(|(r, _)| r.key).collect();
    assert_eq!(keys.len(), 10, "{info:?}");
    wal.append(&Record::put("after", "1")).unwrap();
    wal.close().unwrap();
}

#[test]
fn a_crash_between_creating_a_segment_and_sealing_the_previous_one() {
    crash_mid_rotation(false);
}

#[test]
fn a_crash_mid_rotation_with_preallocated_segments() {
    crash_mid_rotation(true);
}

#[test]
fn zero_filled_space_ahead_of_the_writer_is_cut_after_a_crash_and_trimmed_at_close() {
    let mem = MemFs::new();
    let cfg = |fs: &MemFs| WalConfig {
        segment_size_bytes: 1 << 20,
        ..config(fs, FsyncPolicy::Always)
    };
    let (wal, _) = Wal::open(cfg(&mem)).unwrap();
    // Several preallocation steps' worth, all synced.
    let n = 3 * wal::PREALLOCATE_STEP as usize / 600;
    for i in 0..n {
        wal.append(&rec(i, 500)).unwrap();
    }
    let len = mem.file_size(&seg_path(1)).unwrap();
    let end = wal.current_position().offset();
    assert!(len > end, "zero-filled space ahead: {len} > {end}");
    // A power cut: the synced zeros are there; recovery cuts them, not as damage.
    let crashed = mem.crash();
    let (wal2, info) = Wal::open(cfg(&crashed)).unwrap();
    assert_eq!(info.records_read, n as u64);
    assert_eq!(info.bytes_cut, 0);
    assert!(info.zero_tail_bytes > 0);
    assert_eq!(read_all(&wal2).len(), n);
    wal2.append(&Record::put("after", "1")).unwrap();
    wal2.close().unwrap();
    let (wal3, info) = Wal::open(cfg(&crashed)).unwrap();
    assert_eq!(info.records_read, n as u64 + 1);
    assert_eq!(info.zero_tail_bytes, 0, "close trims the zeros");
    drop(wal3);
    // A clean close of the original log trims too.
    wal.close().unwrap();
    assert_eq!(mem.file_size(&seg_path(1)).unwrap(), end);
}
