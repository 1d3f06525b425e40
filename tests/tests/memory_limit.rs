//! `memtable_memory_limit_bytes`: while a flush runs, writers wait once the memtables hold the
//! limit, and go on when the flush ends.

use common::{FaultyFs, FileSystem, MemFs, Op};
use kvstore::{Db, Error, FsyncPolicy};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The flush syncs the directory after writing its table and before it installs it, so a
/// held `sync_dir` on the flush thread stops a flush in the middle, its frozen memtable still
/// alive.
const FLUSH_THREAD: &str = "kvstore-flush";

const MEMTABLE: usize = 64 << 10;
const LIMIT: usize = 96 << 10;

fn value(i: u64) -> Vec<u8> {
    format!("{i:0>200}").into_bytes()
}

/// A store of `MEMTABLE`-byte memtables under a memory limit of `limit` (0: none) whose
/// flushes stop before they install their table until `fs.release(Op::SyncDir)`.
fn open_with_flushes_held(limit: usize) -> (FaultyFs, Db) {
    let fs = FaultyFs::new(MemFs::new().shared());
    fs.hold(Op::SyncDir, Some(FLUSH_THREAD));
    let db = Db::builder("/db")
        .fs(fs.shared())
        .fsync_policy(FsyncPolicy::Os)
        .memtable_size_bytes(MEMTABLE)
        .memtable_memory_limit_bytes(limit)
        .open()
        .unwrap();
    (fs, db)
}

#[test]
fn writers_wait_for_a_running_flush_at_the_memory_limit_and_then_go_on() {
    let (fs, db) = open_with_flushes_held(LIMIT);
    let done = Arc::new(AtomicU64::new(0));
    let writer = {
        let (db, done) = (db.clone(), done.clone());
        std::thread::spawn(move || {
            for i in 0..2_000u64 {
                db.put(i.to_be_bytes(), value(i)).unwrap();
                done.store(i + 1, Ordering::SeqCst);
            }
        })
    };
    // The first memtable freezes near 64 KiB and its flush stops at the gate; the writer
    // then fills the next one up to the limit and waits.
    let deadline = Instant::now() + Duration::from_secs(20);
    let stalled_at = loop {
        let before = done.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        let after = done.load(Ordering::SeqCst);
        if after == before && db.stats().memory_stalls > 0 {
            break after;
        }
        assert!(Instant::now() < deadline, "the writer never waited");
    };
    let s = db.stats();
    assert_eq!((s.flushes, s.immutable_memtables), (0, 1));
    assert!(
        stalled_at < 2_000,
        "the writer finished although the flush could not"
    );
    // Each entry charges its key, value and the per-entry overhead: the writer got past the
    // frozen memtable's ~64 KiB but not much past the limit.
    let per_entry = 8 + 200 + memtable::ENTRY_OVERHEAD_BYTES as u64;
    let held = stalled_at * per_entry;
    assert!(
        held >= (MEMTABLE as u64) + (LIMIT - MEMTABLE) as u64 / 2,
        "stalled too early: {held} bytes in memtables"
    );
    assert!(
        held <= LIMIT as u64 + per_entry,
        "wrote past the limit: {held} bytes in memtables"
    );
    fs.release(Op::SyncDir);
    writer.join().unwrap();
    let s = db.stats();
    assert!(s.flushes >= 1 && s.memory_stalls >= 1, "{s:?}");
    for i in (0..2_000u64).step_by(97) {
        assert_eq!(db.get(i.to_be_bytes()).unwrap(), Some(value(i)));
    }
}

#[test]
fn a_limit_below_the_memtable_size_is_refused() {
    let fs = MemFs::new();
    let err = Db::builder("/db")
        .fs(fs.shared())
        .memtable_size_bytes(1 << 20)
        .memtable_memory_limit_bytes(512 << 10)
        .open()
        .unwrap_err();
    match err {
        Error::InvalidOption { name, .. } => assert_eq!(name, "memtable_memory_limit_bytes"),
        other => panic!("unexpected error: {other}"),
    }
    assert!(fs.list_dir(Path::new("/db")).map_or(true, |f| f.is_empty()));
}

/// Puts `value(i)` for `i` from `from` on, one at a time, until `done(stats)`; returns the
/// next `i`. Panics after `max` puts.
fn put_until(db: &Db, from: u64, max: u64, done: impl Fn(&kvstore::Stats) -> bool) -> u64 {
    for i in from..from + max {
        db.put(i.to_be_bytes(), value(i)).unwrap();
        if done(&db.stats()) {
            return i + 1;
        }
    }
    panic!("{max} puts from {from} never got there: {:?}", db.stats());
}

/// Opens a store whose first flush takes at least a second (its directory sync is held), has
/// it flush one full memtable, and returns it with the next key to write.
fn after_one_slow_flush(limit: usize) -> (Db, u64) {
    let (fs, db) = open_with_flushes_held(limit);
    assert_eq!(db.stats().memtable_freeze_bytes, MEMTABLE as u64);
    // The first memtable freezes at its full size: no flush has been timed yet.
    let next = put_until(&db, 0, 10_000, |s| s.immutable_memtables == 1);
    assert_eq!(db.stats().memtable_freeze_bytes, MEMTABLE as u64);
    std::thread::sleep(Duration::from_secs(1));
    fs.release(Op::SyncDir);
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.stats().flushes == 0 {
        assert!(Instant::now() < deadline, "the flush never ended");
        std::thread::sleep(Duration::from_millis(5));
    }
    (db, next)
}

/// Under a memory limit, a flush slower than the writers makes the next memtable freeze
/// early (here at the floor, half the memtable size: the writer filled the first memtable in
/// far less than the second its flush took), so its flush starts before the writers reach the
/// limit.
#[test]
fn under_a_memory_limit_a_slow_flush_makes_the_next_memtable_freeze_early() {
    let (db, next) = after_one_slow_flush(MEMTABLE + MEMTABLE / 8);
    assert_eq!(db.stats().memtable_freeze_bytes, (MEMTABLE / 2) as u64);
    // The second memtable holds one put from before; it freezes at the write that finds it
    // at half the size.
    let end = put_until(&db, next, 10_000, |s| {
        s.immutable_memtables == 1 || s.flushes == 2
    });
    let per_entry = (8 + 200 + memtable::ENTRY_OVERHEAD_BYTES) as u64;
    let held = (end - next) * per_entry; // the freezing put went to the third memtable
    let half = (MEMTABLE / 2) as u64;
    assert!(
        (half..half + per_entry).contains(&held),
        "the second memtable froze at {held} bytes, not at {half}"
    );
    for i in (0..end).step_by(31) {
        assert_eq!(db.get(i.to_be_bytes()).unwrap(), Some(value(i)));
    }
}

/// Without a memory limit, memtables always freeze at `memtable_size_bytes`.
#[test]
fn without_a_memory_limit_memtables_freeze_at_their_size_however_slow_the_flush() {
    let (db, _) = after_one_slow_flush(0);
    assert_eq!(db.stats().memtable_freeze_bytes, MEMTABLE as u64);
}
