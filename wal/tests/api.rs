//! The public API, end to end, on both faces.

mod util;

use common::{FileSystem, MemFs};
use std::time::Duration;
use util::*;
use wal::blocking::Wal;
use wal::{Compression, Error, FsyncPolicy, Position, Record, WalConfig};

#[test]
fn append_read_reopen_across_segments() {
    let fs = MemFs::new();
    // Always: each append waits for a sync round, and the background thread rotates before it
    // syncs, so segments rotate promptly.
    let cfg = WalConfig {
        segment_size_bytes: 4096,
        ..config(&fs, FsyncPolicy::Always)
    };
    let (wal, info) = Wal::open(cfg.clone()).unwrap();
    assert_eq!(info.records_read, 0);
    assert_eq!(info.next_position, wal.current_position());
    let mut expect = Vec::new();
    for i in 0..300 {
        let r = rec(i, i % 50);
        let before = wal.current_position();
        let p = wal.append(&r).unwrap();
        assert!(p >= before);
        expect.push((r, p));
    }
    let batch: Vec<Record> = (300..310).map(|i| rec(i, 10)).collect();
    let ps = wal.append_batch(&batch).unwrap();
    expect.extend(batch.into_iter().zip(ps));
    assert!(expect.windows(2).all(|w| w[0].1 < w[1].1));
    assert!(
        expect.last().unwrap().1.segment_id() > 2,
        "segments rotated"
    );
    assert_eq!(read_all(&wal), expect);
    // read_from any returned position, across segment boundaries.
    for k in [0, 1, 77, 150, 299, 305, 309] {
        let mut r = wal.read_from(expect[k].1).unwrap();
        let mut got = Vec::new();
        while let Some(x) = r.next_record().unwrap() {
            got.push(x);
        }
        assert_eq!(got, expect[k..]);
    }
    // At the end: nothing, then what comes next.
    let mut tail = wal.read_from(wal.current_position()).unwrap();
    assert_eq!(tail.next_record().unwrap(), None);
    let p = wal.append(&Record::put("x", "y")).unwrap();
    assert_eq!(
        tail.next_record().unwrap(),
        Some((Record::put("x", "y"), p))
    );
    expect.push((Record::put("x", "y"), p));
    wal.close().unwrap();
    assert!(matches!(
        wal.append(&Record::put("a", "b")),
        Err(Error::Closed)
    ));

    let (wal, info) = Wal::open(cfg).unwrap();
    assert_eq!(info.records_read, expect.len() as u64);
    assert_eq!(info.bytes_cut, 0);
    assert_eq!(info.last_position, Some(p));
    assert_eq!(info.segments_read, expect.last().unwrap().1.segment_id());
    assert_eq!(read_all(&wal), expect);
}

#[test]
fn rotate_delete_and_truncate() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Always)).unwrap();
    let a = wal.append(&Record::put("a", "1")).unwrap();
    let start2 = wal.rotate().unwrap();
    assert_eq!(wal.current_position(), start2);
    let b = wal.append(&Record::put("b", "2")).unwrap();
    assert_eq!(b, start2);
    let start3 = wal.rotate().unwrap();
    let c = wal.append(&Record::put("c", "3")).unwrap();
    assert_eq!(c, start3);
    // Never deletes the active segment; deletes whole segments before the position.
    assert_eq!(wal.delete_segments_before(b).unwrap(), 1);
    assert!(!fs.exists(&seg_path(1)));
    assert!(matches!(
        wal.read_from(a),
        Err(Error::PositionDeleted { .. })
    ));
    assert_eq!(wal.delete_segments_before(Position::new(99, 0)).unwrap(), 1);
    assert_eq!(read_all(&wal).len(), 1);
    assert!(fs.crash().exists(&seg_path(3)) && !fs.crash().exists(&seg_path(2)));

    // truncate_after keeps the record at the position, drops the rest; a mid-batch cut stays valid.
    let ps = wal
        .append_batch(&[
            Record::put("d", "4"),
            Record::put("e", "5"),
            Record::put("f", "6"),
        ])
        .unwrap();
    wal.truncate_after(ps[0]).unwrap();
    let got: Vec<_> = read_all(&wal).into_iter().map(|(r, _)| r.key).collect();
    assert_eq!(got, vec![b"c".to_vec(), b"d".to_vec()]);
    let g = wal.append(&Record::put("g", "7")).unwrap();
    assert!(g > ps[0]);
    drop(wal);
    let crashed = fs.crash();
    let (wal, info) = Wal::open(config(&crashed, FsyncPolicy::Always)).unwrap();
    assert_eq!(info.records_read, 3);
    let got: Vec<_> = read_all(&wal).into_iter().map(|(r, _)| r.key).collect();
    assert_eq!(got, vec![b"c".to_vec(), b"d".to_vec(), b"g".to_vec()]);
    // Truncating back into an older segment removes the later ones.
    let p = wal.rotate().unwrap();
    wal.append(&Record::put("h", "8")).unwrap();
    assert_eq!(p.segment_id(), 4);
    wal.truncate_after(c).unwrap();
    assert_eq!(read_all(&wal).len(), 1);
    assert!(!fs.exists(&seg_path(4)) || !crashed.exists(&seg_path(4)));
    assert_eq!(wal.current_position().segment_id(), 3);
    wal.truncate_after(Position::start()).unwrap();
    assert!(read_all(&wal).is_empty());
    assert!(matches!(
        wal.truncate_after(Position::new(3, 5)),
        Err(Error::InvalidPosition { .. })
    ));
}

#[test]
fn a_reader_past_a_truncation_is_told() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let a = wal.append(&Record::put("a", "1")).unwrap();
    wal.append(&Record::put("b", "2")).unwrap();
    let mut behind = wal.read_from(a).unwrap();
    let mut ahead = wal.read_from(a).unwrap();
    ahead.next_record().unwrap();
    ahead.next_record().unwrap();
    wal.truncate_after(a).unwrap();
    let c = wal.append(&Record::put("c", "3")).unwrap();
    assert!(matches!(ahead.next_record(), Err(Error::Truncated { .. })));
    assert_eq!(behind.next_record().unwrap().unwrap().1, a);
    assert_eq!(
        behind.next_record().unwrap(),
        Some((Record::put("c", "3"), c))
    );
}

#[test]
fn oversized_records_are_refused_and_nothing_is_written() {
    let fs = MemFs::new();
    let cfg = WalConfig {
        max_record_bytes: 100,
        ..config(&fs, FsyncPolicy::Always)
    };
    let (wal, _) = Wal::open(cfg).unwrap();
    wal.append(&Record::put("k", [0u8; 99])).unwrap();
    let before = wal.current_position();
    let size = fs.file_size(&seg_path(1)).unwrap();
    let err = wal.append(&Record::put("k", [0u8; 100])).unwrap_err();
    assert!(
        matches!(
            err,
            Error::RecordTooLarge {
                size: 101,
                max: 100
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("max_record_bytes"));
    let err = wal
        .append_batch(&[Record::put("a", "b"), Record::put("k", [0u8; 200])])
        .unwrap_err();
    assert!(matches!(err, Error::RecordTooLarge { .. }));
    wal.sync().unwrap();
    assert_eq!(wal.current_position(), before);
    assert_eq!(fs.file_size(&seg_path(1)).unwrap(), size);
    assert_eq!(read_all(&wal).len(), 1);
    // The log is not poisoned by a refusal.
    wal.append(&Record::put("ok", "")).unwrap();
}

#[test]
fn the_lock_refuses_a_second_open_until_close() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let err = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    wal.close().unwrap();
    Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
}

#[test]
fn foreign_files_and_unknown_versions_are_named() {
    let fs = MemFs::new();
    fs.create_dir_all(std::path::Path::new(DIR)).unwrap();
    let mut f = fs
        .create(&std::path::Path::new(DIR).join("notes.txt"))
        .unwrap();
    f.append(b"hello").unwrap();
    let err = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap_err();
    assert!(
        matches!(&err, Error::ForeignFile { file, .. } if file.ends_with("notes.txt")),
        "{err}"
    );
    fs.remove_file(&std::path::Path::new(DIR).join("notes.txt"))
        .unwrap();

    // A segment with our name but not our magic.
    let mut f = fs.create(&seg_path(1)).unwrap();
    f.append(b"PK\x03\x04 this is a zip file, not a wal segment")
        .unwrap();
    let err = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap_err();
    assert!(
        matches!(&err, Error::ForeignFile { file, .. } if *file == seg_path(1)),
        "{err}"
    );

    // A segment of a future version.
    let mut header = wal::format::encode_segment_header(1);
    header[8] = 9;
    fs.write_all(&seg_path(1), &header).unwrap();
    let err = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap_err();
    assert!(
        matches!(&err, Error::UnsupportedVersion { file, version: 9 } if *file == seg_path(1)),
        "{err}"
    );
    assert!(err.to_string().contains("00000000000000000001.wal"));
}

#[test]
fn compression_round_trips_and_shrinks() {
    let fs = MemFs::new();
    let cfg = WalConfig {
        compression: Compression::Lz4 { min_bytes: 64 },
        ..config(&fs, FsyncPolicy::Os)
    };
    let (wal, _) = Wal::open(cfg.clone()).unwrap();
    let big = Record::put("big", vec![b'z'; 100_000]);
    let small = Record::put("small", "v");
    wal.append(&big).unwrap();
    wal.append(&small).unwrap();
    wal.close().unwrap();
    assert!(fs.file_size(&seg_path(1)).unwrap() < 10_000);
    let (wal, info) = Wal::open(cfg).unwrap();
    assert_eq!(info.records_read, 2);
    let got: Vec<_> = read_all(&wal).into_iter().map(|(r, _)| r).collect();
    assert_eq!(got, vec![big, small]);
}

#[test]
fn large_records_stream_through_readers() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let big = Record::put("k", vec![7u8; 3 << 20]);
    let p = wal.append(&big).unwrap();
    let q = wal.append(&Record::put("after", "x")).unwrap();
    let got = read_all(&wal);
    assert_eq!(got, vec![(big, p), (Record::put("after", "x"), q)]);
}

#[test]
fn blocking_tail_reader_wakes_on_append_and_ends_on_close() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let mut reader = wal.read_from(Position::start()).unwrap();
    let t = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Some((r, _)) = reader.wait_next().unwrap() {
            got.push(r.key);
        }
        got
    });
    for i in 0..50 {
        wal.append(&Record::put(format!("{i}"), "v")).unwrap();
        if i % 10 == 0 {
            std::thread::yield_now();
        }
    }
    wal.close().unwrap();
    let got = t.join().unwrap();
    assert_eq!(got.len(), 50);
    assert_eq!(got[49], b"49");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_face_tails_and_shares_the_engine() {
    let fs = MemFs::new();
    let (wal, info) = wal::Wal::open(config(&fs, FsyncPolicy::Batch(Duration::from_millis(2))))
        .await
        .unwrap();
    assert_eq!(info.records_read, 0);
    let mut reader = wal.read_from(Position::start()).await.unwrap();
    let waiter = tokio::spawn(async move {
        let first = reader.wait_next().await.unwrap();
        (first, reader)
    });
    // Give the reader time to park (the test passes either way; this exercises the wake-up).
    tokio::time::sleep(Duration::from_millis(20)).await;
    let p = wal.append(&Record::put("hello", "world")).await.unwrap();
    let (got, reader) = waiter.await.unwrap();
    assert_eq!(got, Some((Record::put("hello", "world"), p)));

    // Many tasks append at once; positions are unique and all readable.
    let mut tasks = Vec::new();
    for t in 0..8 {
        let wal = wal.clone();
        tasks.push(tokio::spawn(async move {
            let mut ps = Vec::new();
            for i in 0..50 {
                ps.push(
                    wal.append(&Record::put(format!("{t}-{i}"), "v"))
                        .await
                        .unwrap(),
                );
            }
            ps
        }));
    }
    let mut all = vec![p];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 401);
    let blocking = wal.blocking();
    assert_eq!(read_all(&blocking).len(), 401);
    // Two-phase append on the async face.
    let ps = wal
        .append_no_wait(&[Record::put("x", "1"), Record::put("y", "2")])
        .unwrap();
    wal.wait_durable(ps[1]).await.unwrap();
    wal.sync().await.unwrap();
    assert!(wal.durable_position() > ps[1]);
    wal.truncate_after(ps[0]).await.unwrap();
    let start = wal.rotate().await.unwrap();
    assert_eq!(wal.delete_segments_before(start).await.unwrap(), 1);
    drop(reader); // it stood in the deleted segment
    let mut reader = wal.read_from(Position::start()).await.unwrap();
    for i in 0..3 {
        wal.append(&Record::put(format!("t{i}"), "v"))
            .await
            .unwrap();
    }
    let tail = tokio::spawn(async move {
        let mut n = 0;
        while reader.wait_next().await.unwrap().is_some() {
            n += 1;
        }
        n
    });
    wal.close().await.unwrap();
    assert!(matches!(wal.sync().await, Err(Error::Closed)));
    // The tailing reader drains what is left, then ends with the log.
    assert_eq!(tail.await.unwrap(), 3);
}

#[test]
fn errors_work_with_box_dyn_error() {
    fn open_twice() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let fs = MemFs::new();
        let (_a, _) = Wal::open(config(&fs, FsyncPolicy::Os))?;
        let (_b, _) = Wal::open(config(&fs, FsyncPolicy::Os))?;
        Ok(())
    }
    assert!(open_twice().unwrap_err().to_string().contains("locked"));
}

#[test]
fn real_files_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = WalConfig {
        dir: dir.path().join("log"),
        fsync_policy: FsyncPolicy::Always,
        preallocate: true,
        segment_size_bytes: 64 << 10,
        ..Default::default()
    };
    let (wal, _) = Wal::open(cfg.clone()).unwrap();
    for i in 0..200 {
        wal.append(&rec(i, 500)).unwrap();
    }
    assert!(matches!(Wal::open(cfg.clone()), Err(Error::Locked { .. })));
    drop(wal);
    let (wal, info) = Wal::open(cfg).unwrap();
    assert_eq!(info.records_read, 200);
    assert!(info.segments_read > 1);
    assert_eq!(read_all(&wal).len(), 200);
}

#[test]
fn handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<wal::Wal>();
    send_sync::<Wal>();
    send::<wal::Reader>();
    send::<wal::blocking::Reader>();
    send_sync::<Error>();
}

#[test]
fn two_phase_appends_on_the_blocking_face() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Always)).unwrap();
    let ps = wal
        .append_no_wait(&[Record::put("a", "1"), Record::put("b", "2")])
        .unwrap();
    assert!(ps[0] < ps[1]);
    wal.wait_durable(ps[1]).unwrap();
    assert!(wal.durable_position() > ps[1]);
    let crashed = fs.crash();
    let (back, info) = Wal::open(config(&crashed, FsyncPolicy::Always)).unwrap();
    assert_eq!(info.records_read, 2);
    assert_eq!(read_all(&back).len(), 2);
    assert!(wal.append_no_wait(&[] as &[Record]).unwrap().is_empty());
    let bytes = Position::new(7, 99).to_bytes();
    assert_eq!(Position::from_bytes(bytes), Position::new(7, 99));
}

/// Regression: a failed segment removal used to drop the segment from the in-memory list
/// first, so a retry returned Ok(0) and left the files on disk.
#[test]
fn failed_segment_removal_is_retried() {
    use common::{FaultKind, FaultyFs, Op};
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    let cfg = WalConfig {
        dir: DIR.into(),
        fs: faulty.shared(),
        fsync_policy: FsyncPolicy::Always,
        segment_size_bytes: 4096,
        ..Default::default()
    };
    let (wal, _) = Wal::open(cfg).unwrap();
    for i in 0..100 {
        wal.append(&rec(i, 100)).unwrap();
    }
    let p = wal.rotate().unwrap();
    let before = mem.list_dir(std::path::Path::new(DIR)).unwrap().len();
    faulty.fail(Op::Remove, 1, FaultKind::Error);
    assert!(wal.delete_segments_before(p).is_err());
    let after_fail = mem.list_dir(std::path::Path::new(DIR)).unwrap().len();
    assert_eq!(
        after_fail,
        before - 1,
        "the first removal succeeded, the second failed"
    );
    let retried = wal.delete_segments_before(p).unwrap();
    assert!(retried >= 1);
    let segments: Vec<_> = mem
        .list_dir(std::path::Path::new(DIR))
        .unwrap()
        .into_iter()
        .filter(|n| n.ends_with(".wal"))
        .collect();
    assert_eq!(
        segments.len(),
        1,
        "only the active segment is left: {segments:?}"
    );
}

/// A record made durable stays acknowledged when the log is poisoned after it: here by the
/// directory fsync of a segment deletion (which a store's flush thread runs while its writers
/// wait). Waiting for it again, on either face, returns Ok; a record not yet durable, and
/// every later append, fail. (The waits used to check the poison before the durable
/// watermark: a store then failed a write whose record survived the crash.)
#[test]
fn a_durable_record_stays_acknowledged_after_a_later_failure_poisons_the_log() {
    use common::{FaultKind, FaultyFs, Op};
    let mem = MemFs::new();
    let faulty = FaultyFs::new(mem.shared());
    for policy in [FsyncPolicy::Always, FsyncPolicy::Os] {
        let cfg = WalConfig {
            dir: format!("{DIR}-{policy:?}").into(),
            fs: faulty.shared(),
            fsync_policy: policy,
            ..Default::default()
        };
        let (wal, _) = Wal::open(cfg).unwrap();
        wal.append(&rec(0, 10)).unwrap();
        let p = wal.rotate().unwrap();
        let durable = wal.append(&rec(1, 10)).unwrap();
        assert!(durable >= p);
        let pending = wal.append_no_wait(&[rec(2, 10)]).unwrap()[0];
        faulty.fail(Op::SyncDir, 0, FaultKind::Error);
        assert!(wal.delete_segments_before(p).is_err());
        assert!(matches!(
            wal.append(&rec(3, 10)),
            Err(Error::Poisoned { .. })
        ));
        wal.wait_durable(durable)
            .unwrap_or_else(|e| panic!("{policy:?}: a durable record reported failed: {e}"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(wal.to_async().wait_durable(durable))
            .unwrap_or_else(|e| panic!("{policy:?}, async: a durable record reported failed: {e}"));
        if policy == FsyncPolicy::Always {
            // Written but never synced: the poison is its answer.
            assert!(matches!(
                wal.wait_durable(pending),
                Err(Error::Poisoned { .. })
            ));
        }
        faulty.heal();
    }
}

/// Blocking threads and async tasks append at once while another thread keeps rotating
/// (seals a leader must wait out): under `Os` they share group writes, under `Always` group
/// commits (blocking waiters lead the rounds, async ones ask the sync thread). Every append
/// returns, and every record is in the log. A lost wake-up would hang; the watchdog turns
/// that into a failure instead of a stuck CI run.
#[test]
fn mixed_faces_share_group_writes_across_rotations_without_losing_a_wakeup() {
    mixed_faces_with_rotations(FsyncPolicy::Os);
}

#[test]
fn mixed_faces_share_group_commits_across_rotations_without_losing_a_wakeup() {
    mixed_faces_with_rotations(FsyncPolicy::Always);
}

fn mixed_faces_with_rotations(policy: FsyncPolicy) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, policy)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // The rotator rotates once per append that returned since its last rotation: seals stay
    // as dense as the appends, and bounded. (Rotating flat out made this test starve: every
    // rotation syncs MemFs's directory, a copy of all its files, so a rotation took longer
    // with each segment left behind, and the rotator, taking the rotation lock back at once,
    // kept the round leaders from it; at 20,000 segments the appends had not finished in
    // two minutes.)
    let appended = Arc::new(AtomicUsize::new(0));
    let rotator = {
        let (wal, stop, appended) = (wal.clone(), stop.clone(), appended.clone());
        std::thread::spawn(move || {
            let (mut rotations, mut seen) = (0, 0);
            while !stop.load(Ordering::Relaxed) {
                let now = appended.load(Ordering::Relaxed);
                if now == seen {
                    std::thread::yield_now();
                    continue;
                }
                seen = now;
                wal.rotate().unwrap();
                rotations += 1;
            }
            rotations
        })
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let worker = {
        let wal = wal.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let async_wal = wal.to_async();
            let tasks: Vec<_> = (0..4)
                .map(|t| {
                    let (w, appended) = (async_wal.clone(), appended.clone());
                    rt.spawn(async move {
                        for i in 0..300 {
                            w.append(&Record::put(format!("a{t}-{i}"), [7u8; 40]))
                                .await
                                .unwrap();
                            appended.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let (w, appended) = (wal.clone(), appended.clone());
                    std::thread::spawn(move || {
                        for i in 0..300 {
                            w.append(&Record::put(format!("b{t}-{i}"), [9u8; 40]))
                                .unwrap();
                            appended.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            rt.block_on(async {
                for t in tasks {
                    t.await.unwrap();
                }
            });
            done_tx.send(()).unwrap();
        })
    };
    done_rx
        .recv_timeout(Duration::from_secs(120))
        .expect("appends hung: a waiter missed the end of a group write");
    worker.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(rotator.join().unwrap() > 0);
    assert_eq!(read_all(&wal).len(), 2400);
    wal.close().unwrap();
}

/// `append_for_wait_with` leaves the writing to the caller's wait: the background thread is
/// not woken for it, so without the wait the bytes stay in the log's buffer; the wait writes
/// them. An append nobody waits for is written by the background thread's timer, and takes
/// the earlier bytes of a caller that never waited with it.
#[test]
fn bytes_reach_the_os_through_the_wait_or_the_timer() {
    let fs = MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Os)).unwrap();
    let mut pos = Position::start();
    wal.append_for_wait_with(&[Record::put("a", "written-by-the-wait")], |p| pos = p)
        .unwrap();
    // Ten times the background thread's flush interval (1 ms): it was not asked.
    std::thread::sleep(Duration::from_millis(10));
    assert!(!file_has(&fs, b"written-by-the-wait"));
    wal.wait_durable(pos).unwrap();
    assert!(file_has(&fs, b"written-by-the-wait"));

    wal.append_for_wait_with(&[Record::put("b", "never-waited-for")], |_| {})
        .unwrap();
    wal.append_no_wait(&[Record::put("c", "nobody-waits")])
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if file_has(&fs, b"never-waited-for") && file_has(&fs, b"nobody-waits") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the background thread did not write bytes nobody waits for"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    wal.close().unwrap();
}
