//! Use case 6b: Cache with `Os` and periodic snapshots.

mod support;

use common::MemFs;
use examples::persistent_cache::{run, PersistentCache};
use std::path::Path;
use std::time::Duration;

#[test]
fn after_a_power_cut_the_cache_is_as_of_its_last_snapshot() {
    let fs = MemFs::new();
    let dir = Path::new("/c");
    let cache = PersistentCache::open(fs.shared(), dir).unwrap();
    cache.put(b"a", b"1").unwrap();
    cache.put(b"b", b"2").unwrap();
    assert!(PersistentCache::open(fs.crash().shared(), dir)
        .unwrap()
        .entries()
        .is_empty());
    cache.snapshot().unwrap();
    let at_snapshot = cache.entries();
    cache.put(b"a", b"changed").unwrap();
    cache.put(b"c", b"3").unwrap();
    let after = PersistentCache::open(fs.crash().shared(), dir).unwrap();
    assert_eq!(after.entries(), at_snapshot);
    assert_eq!(after.get(b"a"), Some(b"1".to_vec()));
}

#[test]
fn the_snapshot_thread_makes_earlier_writes_durable() {
    let fs = MemFs::new();
    let dir = Path::new("/c");
    let cache = PersistentCache::open(fs.shared(), dir).unwrap();
    for i in 0..50u32 {
        cache.put(&i.to_be_bytes(), b"v").unwrap();
    }
    let expected = cache.entries();
    let taken = cache.snapshots_taken();
    let snapshots = cache.start_snapshots(Duration::from_millis(2));
    while cache.snapshots_taken() < taken + 1 {
        if !snapshots.is_running() {
            panic!("the snapshot thread stopped: {:?}", snapshots.stop());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    snapshots.stop().unwrap();
    let after = PersistentCache::open(fs.crash().shared(), dir).unwrap();
    assert_eq!(after.entries(), expected);
}

#[test]
fn the_program_logic() {
    let s = run(MemFs::new().shared(), Path::new("/prog"), &mut Vec::new()).unwrap();
    assert_eq!((s.at_snapshot, s.written, s.survived), (100, 150, 100));
    assert!(s.survivors_are_the_snapshot);
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_persistent_cache"), &[dir.path()]);
    assert_eq!(
        support::line(&out, "after a clean restart"),
        "after a clean restart: 20 pages, warm"
    );
    assert!(support::line(&out, "power cut:")
        .starts_with("power cut: the cache came back with 100 pages, exactly the snapshot: true"));
}
