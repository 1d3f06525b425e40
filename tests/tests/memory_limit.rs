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

#[test]
fn writers_wait_for_a_running_flush_at_the_memory_limit_and_then_go_on() {
    let fs = FaultyFs::new(MemFs::new().shared());
    fs.hold(Op::SyncDir, Some(FLUSH_THREAD));
    let db = Db::builder("/db")
        .fs(fs.shared())
        .fsync_policy(FsyncPolicy::Os)
        .memtable_size_bytes(MEMTABLE)
        .memtable_memory_limit_bytes(LIMIT)
        .open()
        .unwrap();
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
