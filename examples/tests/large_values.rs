//! Use case 7: Large values beside the log: the blob is durable before its record; orphans are removed;
//! the wrong order leaves a dangling reference.

mod support;

use common::{FileSystem, MemFs};
use examples::large_values::{pattern, run, BlobStore};
use examples::Error;
use std::path::Path;

const DIR: &str = "/b";

fn open(fs: &MemFs) -> (BlobStore, examples::large_values::Opened) {
    BlobStore::open(fs.shared(), Path::new(DIR)).unwrap()
}

#[test]
fn blobs_survive_a_power_cut_and_are_checked_on_read() {
    let fs = MemFs::new();
    let (mut store, _) = open(&fs);
    let big = pattern(9, 1 << 20);
    store.put("a", &big).unwrap();
    store.put("b", b"small").unwrap();
    store.put("b", b"replaced").unwrap();
    assert!(store.delete("a").unwrap());
    store.put("a", &big[..1000]).unwrap();
    let crashed = fs.crash();
    let (after, opened) = open(&crashed);
    assert_eq!(opened.blobs, 2);
    assert_eq!(after.get("a").unwrap(), Some(big[..1000].to_vec()));
    assert_eq!(after.get("b").unwrap(), Some(b"replaced".to_vec()));
    assert!(
        store.log_bytes().unwrap() < 1000,
        "the log holds references only"
    );
    // A flipped byte in a blob is caught by its crc32c, naming the file.
    let path = Path::new(DIR).join("blobs").join(&after.index()["b"].file);
    let mut bytes = crashed.read_all(&path).unwrap();
    bytes[0] ^= 1;
    crashed.write_all(&path, &bytes).unwrap();
    match after.get("b") {
        Err(Error::ChecksumMismatch { file, .. }) => assert_eq!(file, path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_crash_between_blob_and_record_leaves_an_orphan_that_open_removes() {
    let fs = MemFs::new();
    let (mut store, _) = open(&fs);
    store.put("kept", b"k").unwrap();
    let blob = store.write_blob(&pattern(1, 5000)).unwrap(); // steps 1-3, then the power cut
    let crashed = fs.crash();
    let blobs = Path::new(DIR).join("blobs");
    assert!(crashed.exists(&blobs.join(&blob.file)));
    let (after, opened) = open(&crashed);
    assert_eq!((opened.blobs, opened.orphans_removed), (1, 1));
    assert!(!crashed.exists(&blobs.join(&blob.file)));
    assert_eq!(after.get("kept").unwrap(), Some(b"k".to_vec()));
    // The store goes on: a new blob (its number may be the orphan's, now free) is stored.
    drop(after);
    let (mut again, _) = open(&crashed);
    again.put("new", b"x").unwrap();
    let (last, _) = open(&crashed.crash());
    assert_eq!(last.get("new").unwrap(), Some(b"x".to_vec()));
    assert_eq!(last.index().len(), 2);
}

#[test]
fn the_wrong_order_leaves_a_record_naming_a_missing_blob() {
    let fs = MemFs::new();
    let (mut store, _) = open(&fs);
    store
        .put_record_first("video", &pattern(2, 10_000))
        .unwrap();
    let (after, _) = open(&fs.crash());
    match after.get("video") {
        Err(Error::Corruption { file, reason, .. }) => {
            assert!(
                file.starts_with(Path::new(DIR).join("blobs")),
                "{}",
                file.display()
            );
            assert!(reason.contains("missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_program_logic() {
    let fs = MemFs::new();
    let s = run(fs.shared(), Path::new("/prog"), &mut Vec::new()).unwrap();
    assert_eq!(s.blob_bytes, 3 << 20);
    assert!(
        s.log_bytes < 4096,
        "{} bytes of log for {} bytes of blobs",
        s.log_bytes,
        s.blob_bytes
    );
    assert_eq!((s.reopened.blobs, s.reopened.orphans_removed), (1, 0));
    let blobs = fs.list_dir(&Path::new("/prog").join("blobs")).unwrap();
    assert_eq!(
        blobs.len(),
        1,
        "the replaced and deleted blobs are gone: {blobs:?}"
    );
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_large_values"), &[dir.path()]);
    assert!(support::line(&out, "the log holds 4 records").ends_with("the blobs stay beside it"));
    assert!(support::line(&out, "after a restart").ends_with("true"));
}
