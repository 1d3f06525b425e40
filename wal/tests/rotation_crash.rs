//! A power cut in the middle of a rotation: the next segment exists (created durably, maybe
//! preallocated) but the previous one was not sealed yet, so its unsynced tail is torn or a
//! preallocated zero tail. Recovery keeps every synced record and opens the log.

mod util;

use common::{FaultKind, FaultyFs, MemFs, Op};
use util::*;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Record, WalConfig};

fn crash_mid_rotation(preallocate: bool) {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    let cfg = WalConfig {
        fs: faulty.shared(),
        preallocate,
        segment_size_bytes: 1 << 20,
        ..config(&mem, FsyncPolicy::Os)
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
        ..config(&crashed, FsyncPolicy::Os)
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
