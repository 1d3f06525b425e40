//! Use case 1: Key-value store: replay with tombstones, compaction by snapshot, crashes at each step.

mod support;

use common::{FaultKind, FaultyFs, FileSystem, MemFs, Op};
use examples::kv_store::{run, KvStore};
use examples::setup::segment_count;
use std::collections::BTreeMap;
use std::path::Path;
use wal::FsyncPolicy;

const DIR: &str = "/kv";

fn open(fs: &MemFs) -> (KvStore, examples::kv_store::Recovered) {
    KvStore::open(fs.shared(), Path::new(DIR), FsyncPolicy::Always, 4096).unwrap()
}

fn fill(kv: &mut KvStore, n: u32) {
    for i in 0..n {
        let key = format!("key{:02}", i % 30);
        kv.put(
            key.as_bytes(),
            format!("value {i} {}", "v".repeat(80)).as_bytes(),
        )
        .unwrap();
    }
}

#[test]
fn replay_applies_puts_and_tombstones_in_log_order() {
    let fs = MemFs::new();
    let (mut kv, rec) = open(&fs);
    assert_eq!((rec.snapshot_entries, rec.replayed_records), (0, 0));
    kv.put(b"a", b"1").unwrap();
    kv.put(b"b", b"2").unwrap();
    kv.delete(b"a").unwrap();
    kv.put(b"a", b"3").unwrap();
    kv.delete(b"b").unwrap();
    kv.delete(b"never-there").unwrap();
    // Always: every acknowledged write survives a power cut taken right now.
    let (kv2, rec) = open(&fs.crash());
    assert_eq!(rec.replayed_records, 6);
    let expected: BTreeMap<Vec<u8>, Vec<u8>> = [(b"a".to_vec(), b"3".to_vec())].into();
    assert_eq!(kv2.entries(), &expected);
    assert_eq!(kv.entries(), &expected);
}

#[test]
fn compaction_deletes_covered_segments_and_recovery_replays_only_the_tail() {
    let fs = MemFs::new();
    let (mut kv, _) = open(&fs);
    fill(&mut kv, 150);
    let wal_dir = Path::new(DIR).join("wal");
    let before = segment_count(&fs, &wal_dir).unwrap();
    assert!(
        before >= 3,
        "150 records of ~100 bytes fill several 4 KiB segments"
    );
    let done = kv.compact().unwrap();
    assert_eq!(done.segments_deleted, before);
    assert_eq!(segment_count(&fs, &wal_dir).unwrap(), 1);
    kv.put(b"key00", b"new").unwrap();
    kv.delete(b"key01").unwrap();
    kv.put(b"zzz", b"tail").unwrap();
    let (kv2, rec) = open(&fs.crash());
    assert_eq!(rec.snapshot_entries, 30);
    assert_eq!(rec.replayed_records, 3);
    assert_eq!(kv2.entries(), kv.entries());
    assert_eq!(kv2.get(b"key00"), Some(&b"new"[..]));
    assert_eq!(kv2.get(b"key01"), None);
    // Compacting again moves the snapshot forward; nothing is lost.
    let second = fs.crash();
    let (mut kv3, _) = open(&second);
    fill(&mut kv3, 40);
    kv3.compact().unwrap();
    let (kv4, rec) = open(&second.crash());
    assert_eq!(rec.replayed_records, 0);
    assert_eq!(kv4.entries(), kv3.entries());
}

/// A crash in the middle of a compaction, after `rotate` but before the snapshot's rename, or
/// after the snapshot but before the segments are deleted: every write is still there.
#[test]
fn a_crash_at_any_step_of_compaction_loses_nothing() {
    // (step that fails, keys from the snapshot, records replayed after it)
    for (op, step, from_snapshot, replayed) in [
        (Op::Rename, "snapshot rename", 0, 120),
        (Op::Remove, "segment deletion", 30, 0),
    ] {
        let mem = MemFs::new();
        let faulty = FaultyFs::new(mem.shared());
        let (mut kv, _) =
            KvStore::open(faulty.shared(), Path::new(DIR), FsyncPolicy::Always, 4096).unwrap();
        fill(&mut kv, 120);
        faulty.fail(op, 0, FaultKind::Error);
        assert!(kv.compact().is_err(), "the {step} fails");
        let (kv2, rec) = open(&mem.crash());
        assert_eq!(kv2.entries(), kv.entries(), "crash at {step}");
        assert_eq!(
            (rec.snapshot_entries, rec.replayed_records),
            (from_snapshot, replayed),
            "crash at {step}"
        );
    }
}

#[test]
fn a_damaged_snapshot_is_an_error_naming_the_file() {
    let fs = MemFs::new();
    let (mut kv, _) = open(&fs);
    fill(&mut kv, 10);
    kv.compact().unwrap();
    let path = Path::new(DIR).join(examples::kv_store::SNAPSHOT_FILE);
    let mut bytes = fs.read_all(&path).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    let crashed = fs.crash();
    crashed.write_all(&path, &bytes).unwrap();
    let err =
        KvStore::open(crashed.shared(), Path::new(DIR), FsyncPolicy::Always, 4096).unwrap_err();
    assert!(err.to_string().contains("SNAPSHOT"), "{err}");
}

#[test]
fn the_program_logic() {
    let fs = MemFs::new();
    let mut out = Vec::new();
    let s = run(fs.shared(), Path::new("/prog"), &mut out).unwrap();
    assert_eq!(s.first_reopen.replayed_records, 5);
    assert!(s.compacted.segments_deleted >= 2);
    assert_eq!(s.second_reopen.replayed_records, 2);
    assert_eq!(s.second_reopen.snapshot_entries, 42);
    assert_eq!(s.entries.len(), 42);
    assert_eq!(s.entries.get(&b"apple"[..]), Some(&b"green".to_vec()));
    assert!(!s.entries.contains_key(&b"cherry"[..]));
    assert!(!fs.list_dir(Path::new("/prog")).unwrap().is_empty());
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_kv_store"), &[dir.path()]);
    assert_eq!(
        support::line(&out, "reopened: replayed"),
        "reopened: replayed 5 records, 2 keys, banana deleted: true"
    );
    assert_eq!(
        support::line(&out, "reopened: 42 keys"),
        "reopened: 42 keys from the snapshot, then replayed only 2 records of the log's tail"
    );
    assert!(dir.path().join("SNAPSHOT").exists());
}

#[test]
fn the_program_refuses_a_directory_that_is_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("something"), b"x").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kv_store"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"));
}
