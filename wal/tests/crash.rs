//! Power cuts through the simulated file system (a crash keeps only synced bytes and synced
//! directory entries) and failing operations (FaultyFs): each policy's promise, and poisoning.

mod util;

use common::{FaultKind, FaultyFs, MemFs, Op};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::*;
use wal::blocking::Wal;
use wal::{Error, FsyncPolicy, Position, Record, WalConfig};

fn keys_after_crash(fs: &MemFs, policy: FsyncPolicy) -> Vec<Vec<u8>> {
    let crashed = fs.crash();
    let (wal, _) = Wal::open(config(&crashed, policy)).unwrap();
    read_all(&wal).into_iter().map(|(r, _)| r.key).collect()
}

/// Polls (without a deadline in the assertion) until `f` holds; panics only if it never does.
fn eventually(mut f: impl FnMut() -> bool) {
    for _ in 0..10_000 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("condition never became true");
}

#[test]
fn always_every_acknowledged_append_survives_a_crash_mid_flight() {
    let fs = MemFs::new();
    let cfg = WalConfig {
        segment_size_bytes: 8192,
        ..config(&fs, FsyncPolicy::Always)
    };
    let (wal, _) = Wal::open(cfg).unwrap();
    let acked = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let wal = wal.clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                for i in 0..150 {
                    let key = format!("{t}-{i}").into_bytes();
                    wal.append(&Record::put(&key, [1u8; 40])).unwrap();
                    acked.lock().unwrap().push(key);
                }
            })
        })
        .collect();
    // Crash while the appenders run: everything acknowledged before the cut must be there.
    eventually(|| acked.lock().unwrap().len() >= 200);
    let before: Vec<Vec<u8>> = acked.lock().unwrap().clone();
    let crashed = fs.crash();
    for t in threads {
        t.join().unwrap();
    }
    let (recovered, info) = Wal::open(config(&crashed, FsyncPolicy::Always)).unwrap();
    let got: BTreeSet<Vec<u8>> = read_all(&recovered)
        .into_iter()
        .map(|(r, _)| r.key)
        .collect();
    assert!(info.segments_read > 1, "the crash spans rotated segments");
    for k in &before {
        assert!(
            got.contains(k),
            "acknowledged {} lost",
            String::from_utf8_lossy(k)
        );
    }
    // And after the run, all 600.
    drop(recovered);
    assert_eq!(keys_after_crash(&fs, FsyncPolicy::Always).len(), 600);
}

#[test]
fn batch_makes_records_durable_without_a_further_append() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Batch(Duration::from_millis(5)))).unwrap();
    let mut last = Position::start();
    for i in 0..100 {
        last = wal.append(&rec(i, 30)).unwrap();
    }
    // No sync, no further append: the background flusher makes them durable.
    eventually(|| wal.durable_position() > last);
    assert_eq!(keys_after_crash(&fs, FsyncPolicy::Os).len(), 100);
}

#[test]
fn os_is_durable_after_sync_rotation_and_close_and_a_crash_keeps_a_prefix() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let all: Vec<Vec<u8>> = (0..50).map(|i| rec(i, 10).key).collect();
    for i in 0..50 {
        wal.append(&rec(i, 10)).unwrap();
    }
    let got = keys_after_crash(&fs, FsyncPolicy::Os);
    assert_eq!(got, all[..got.len()], "a crash keeps a prefix");
    wal.sync().unwrap();
    assert_eq!(keys_after_crash(&fs, FsyncPolicy::Os), all);
    for i in 50..60 {
        wal.append(&rec(i, 10)).unwrap();
    }
    wal.rotate().unwrap();
    assert_eq!(keys_after_crash(&fs, FsyncPolicy::Os).len(), 60);
    wal.append(&rec(60, 10)).unwrap();
    wal.close().unwrap();
    assert_eq!(keys_after_crash(&fs, FsyncPolicy::Os).len(), 61);
}

#[test]
fn a_failed_fsync_poisons_the_log_forever() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    let cfg = WalConfig {
        fs: faulty.shared(),
        ..config(&mem, FsyncPolicy::Always)
    };
    let (wal, _) = Wal::open(cfg).unwrap();
    let ok = wal.append(&Record::put("a", "1")).unwrap();
    faulty.fail(Op::SyncData, 0, FaultKind::Error);
    let err = wal.append(&Record::put("b", "2")).unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err}");
    assert!(err.to_string().contains("fdatasync"), "{err}");
    faulty.heal();
    for _ in 0..3 {
        assert!(matches!(
            wal.append(&Record::put("c", "3")),
            Err(Error::Poisoned { .. })
        ));
        assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
        assert!(matches!(wal.rotate(), Err(Error::Poisoned { .. })));
        assert!(matches!(
            wal.append_no_wait(&[Record::put("d", "4")]),
            Err(Error::Poisoned { .. })
        ));
        // A record made durable before the failure stays acknowledged.
        wal.wait_durable(ok).unwrap();
    }
    assert!(wal.durable_position() > ok);
    assert!(wal.close().is_err());
    // What was acknowledged survives.
    assert_eq!(
        keys_after_crash(&mem, FsyncPolicy::Always),
        vec![b"a".to_vec()]
    );
}

#[test]
fn a_failed_background_fsync_poisons_batch_and_os_writers() {
    for policy in [
        FsyncPolicy::Batch(Duration::from_millis(2)),
        FsyncPolicy::Os,
    ] {
        let mem = MemFs::new();
        let faulty = FaultyFs::new(mem.shared());
        let (wal, _) = Wal::open(WalConfig {
            fs: faulty.shared(),
            ..config(&mem, policy)
        })
        .unwrap();
        faulty.fail(Op::SyncData, 0, FaultKind::Error);
        wal.append(&Record::put("a", "1")).unwrap();
        if policy == FsyncPolicy::Os {
            assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
        }
        eventually(|| wal.append(&Record::put("x", "y")).is_err());
        assert!(matches!(
            wal.append(&Record::put("x", "y")),
            Err(Error::Poisoned { .. })
        ));
    }
}

#[test]
fn a_failed_write_poisons_and_a_torn_batch_is_dropped_whole() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    let cfg = WalConfig {
        fs: faulty.shared(),
        ..config(&mem, FsyncPolicy::Os)
    };
    let (wal, _) = Wal::open(cfg).unwrap();
    wal.append(&Record::put("before", "1")).unwrap();
    wal.sync().unwrap();
    // The buffer write of the batch is cut in half; the process "dies" there.
    faulty.fail(Op::Append, 0, FaultKind::ShortWrite);
    let batch: Vec<Record> = (0..6)
        .map(|i| Record::put(format!("b{i}"), [9u8; 100]))
        .collect();
    // Under `Os` the append hands its bytes to the OS before it returns: the failed write
    // is its own error, never an acknowledgement.
    assert!(matches!(
        wal.append_batch(&batch),
        Err(Error::Poisoned { .. })
    ));
    assert!(matches!(wal.sync(), Err(Error::Poisoned { .. })));
    assert!(matches!(
        wal.append(&Record::put("x", "y")),
        Err(Error::Poisoned { .. })
    ));
    drop(wal);
    // The half-written batch is on "disk" (process death keeps the page cache): recovery
    // drops it whole.
    let (wal, info) = Wal::open(config(&mem, FsyncPolicy::Os)).unwrap();
    assert!(info.bytes_cut > 0);
    let keys: Vec<_> = read_all(&wal).into_iter().map(|(r, _)| r.key).collect();
    assert_eq!(keys, vec![b"before".to_vec()]);
}

#[test]
fn a_batch_is_all_or_nothing_at_every_crash_point() {
    // Sync after each of several batches; crash snapshots in between keep whole batches only.
    let fs = MemFs::new();
    let (wal, _) = Wal::open(WalConfig {
        write_buffer_bytes: 64,
        ..config(&fs, FsyncPolicy::Os)
    })
    .unwrap();
    for b in 0..20usize {
        let batch: Vec<Record> = (0..1 + b % 5)
            .map(|i| Record::put(format!("{b}-{i}"), vec![b as u8; 30 * i]))
            .collect();
        wal.append_batch(&batch).unwrap();
        let got = keys_after_crash(&fs, FsyncPolicy::Os);
        // Group the recovered keys by batch: each batch present entirely or not at all.
        for k in 0..=b {
            let n = got
                .iter()
                .filter(|key| key.starts_with(format!("{k}-").as_bytes()))
                .count();
            assert!(n == 0 || n == 1 + k % 5, "batch {k} partly recovered ({n})");
        }
        if b % 3 == 0 {
            wal.sync().unwrap();
        }
    }
}

#[test]
fn what_recovery_finds_after_a_process_crash_is_made_durable() {
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    let cfg = WalConfig {
        fs: faulty.shared(),
        write_buffer_bytes: 16,
        ..config(&mem, FsyncPolicy::Os)
    };
    let (wal, _) = Wal::open(cfg).unwrap();
    for i in 0..10 {
        wal.append(&rec(i, 10)).unwrap();
    }
    // The process dies: its writes reached the OS (the file) but were never synced.
    faulty.freeze();
    drop(wal);
    assert!(keys_after_crash(&mem, FsyncPolicy::Os).is_empty());
    let (wal, info) = Wal::open(config(&mem, FsyncPolicy::Os)).unwrap();
    assert_eq!(info.records_read, 10);
    wal.sync().unwrap(); // claims everything is durable: it must be
    assert_eq!(keys_after_crash(&mem, FsyncPolicy::Os).len(), 10);
}
