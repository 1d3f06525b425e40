//! Group commit under `Always` with many blocking writers: leaders hand over rounds, the rounds
//! wake exactly the waiters they cover (the first of them wakes the others: the relay), and a
//! leader that leaves wakes the next one; a round run by someone else (a rotation, a `sync()`)
//! wakes the next leader itself. A lost wake-up would hang; the watchdog turns that into a
//! failure. Every acknowledged append must be durable (in the crash image) and readable. A
//! round waits (boundedly) for the last round's group to gather first.

mod util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use util::*;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Record, WalConfig};

const THREADS: usize = 16;
const PER_THREAD: usize = 200;

/// Runs `THREADS` blocking writers of `PER_THREAD` appends each; returns every acknowledged
/// key. Fails if they have not all returned within two minutes.
fn hammer(wal: &Wal) -> Vec<Vec<u8>> {
    hammer_with(wal, |_| PER_THREAD)
}

/// [`hammer`] with writer `t` making `count(t)` appends.
fn hammer_with(wal: &Wal, count: fn(usize) -> usize) -> Vec<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (wal, tx) = (wal.clone(), tx.clone());
            std::thread::spawn(move || {
                for i in 0..count(t) {
                    let key = format!("t{t:02}-{i:04}").into_bytes();
                    wal.append(&Record::put(key.clone(), [t as u8; 60]))
                        .unwrap();
                    tx.send(key).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let total: usize = (0..THREADS).map(count).sum();
    let mut acked = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while acked.len() < total {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(k) => acked.push(k),
            Err(e) => panic!(
                "{} of {} appends returned ({e}): a waiter missed its wake-up",
                acked.len(),
                total
            ),
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    acked.sort();
    acked
}

fn keys(records: Vec<(Record, wal::Position)>) -> Vec<Vec<u8>> {
    let mut k: Vec<_> = records.into_iter().map(|(r, _)| r.key).collect();
    k.sort();
    k
}

#[test]
fn sixteen_blocking_writers_all_return_and_every_ack_survives_a_crash() {
    let fs = common::MemFs::new();
    let cfg = WalConfig {
        segment_size_bytes: 64 * 1024, // rotations in the middle of the rounds
        ..config(&fs, FsyncPolicy::Always)
    };
    let (wal, _) = Wal::open(cfg.clone()).unwrap();
    let acked = hammer(&wal);
    // No close: the crash image holds only what was fsynced.
    let crashed = fs.crash();
    let (back, info) = Wal::open(config(&crashed, FsyncPolicy::Always)).unwrap();
    assert_eq!(info.records_read as usize, acked.len());
    assert_eq!(keys(read_all(&back)), acked);
    drop(wal);
}

/// Runs [`hammer_with`] on a log in a temporary directory on the real disk, closes it, and
/// checks that a reopen reads back every acknowledged append.
fn hammer_on_a_real_disk(count: fn(usize) -> usize) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = WalConfig {
        dir: dir.path().join("wal"),
        fsync_policy: FsyncPolicy::Always,
        segment_size_bytes: 256 * 1024,
        ..Default::default()
    };
    let (wal, _) = Wal::open(cfg.clone()).unwrap();
    let acked = hammer_with(&wal, count);
    wal.close().unwrap();
    let (back, _) = Wal::open(cfg).unwrap();
    assert_eq!(keys(read_all(&back)), acked);
}

#[test]
fn sixteen_blocking_writers_on_a_real_disk() {
    // Real fdatasyncs take long enough for waiters to pile up behind a round, so leaders
    // hand over to them and relay the wake-ups through the first waiter each round covers.
    hammer_on_a_real_disk(|_| PER_THREAD);
}

#[test]
fn writers_that_stop_one_by_one_leave_no_gather_waiting_for_them() {
    // Each round waits for the last round's group to come back (a gather, bounded by a
    // deadline): here the writers stop at different times, so groups shrink under the
    // gathers' feet, on a real disk where the rounds take long enough for groups to form.
    hammer_on_a_real_disk(|t| 20 + 20 * t);
}

#[test]
fn blocking_writers_return_while_other_threads_rotate_and_sync() {
    // Rotations and `sync()` calls from a thread that appends nothing make sleepers durable
    // outside the writers' rounds: the covered ones leave without looking at the list, so
    // whoever made them durable must wake an uncovered one to lead, or it sleeps forever.
    let fs = common::MemFs::new();
    let (wal, _) = Wal::open(config(&fs, FsyncPolicy::Always)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (wal, stop) = (wal.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Acquire) {
                if n.is_multiple_of(2) {
                    wal.rotate().unwrap();
                } else {
                    wal.sync().unwrap();
                }
                n += 1;
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let acked = hammer(&wal);
    stop.store(true, Ordering::Release);
    other.join().unwrap();
    let crashed = fs.crash();
    let (back, _) = Wal::open(config(&crashed, FsyncPolicy::Always)).unwrap();
    assert_eq!(keys(read_all(&back)), acked);
    drop(wal);
}

/// `wait_durable_with` runs its work exactly once, under every policy, with 8 writers at once
/// (leaders and followers both), and also when the wait fails (a closed log): a caller that
/// keeps an index beside the log never leaves a record out of it.
#[test]
fn wait_durable_with_runs_its_work_once_whatever_the_outcome() {
    let policies = [
        FsyncPolicy::Always,
        FsyncPolicy::Batch(Duration::from_millis(2)),
        FsyncPolicy::Os,
    ];
    for policy in policies {
        let fs = common::MemFs::new();
        let (wal, _) = Wal::open(config(&fs, policy)).unwrap();
        let wal = Arc::new(wal);
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writers: Vec<_> = (0..8u32)
            .map(|t| {
                let (wal, runs) = (wal.clone(), runs.clone());
                std::thread::spawn(move || {
                    for i in 0..100u32 {
                        let mut pos = None;
                        let rec = Record::put((t * 1000 + i).to_le_bytes(), "v");
                        wal.append_for_wait_with(&[rec], |p| pos = Some(p)).unwrap();
                        let pos = pos.unwrap();
                        let before = runs.load(Ordering::SeqCst);
                        wal.wait_durable_with(pos, || {
                            runs.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                        assert!(runs.load(Ordering::SeqCst) > before, "{policy:?}");
                        if policy == FsyncPolicy::Always {
                            assert!(wal.durable_position() > pos);
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 800, "{policy:?}");
        wal.close().unwrap();
        let mut ran = 0;
        let beyond = wal::Position::new(1_000, 0);
        let r = wal.wait_durable_with(beyond, || ran += 1);
        assert!(r.is_err(), "{policy:?}: {r:?}");
        assert_eq!(ran, 1, "{policy:?}: the work runs when the wait fails");
    }
}
