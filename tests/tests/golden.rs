//! The golden database: `tests/fixtures/kvstore-v1/` holds a database directory written by
//! manifest format version 1 (with its tables and WAL segments): CURRENT, a manifest naming
//! three level-0 tables, and WAL segments holding writes that were never flushed. Every later
//! version of the engine must open it and find exactly the same contents, forever.
//!
//! The fixture is copied into a `MemFs` before opening (opening writes a new manifest), so the
//! files in the repository never change. `cargo test -p tests --test golden -- --ignored`
//! regenerates it; do that only for a new format version, in a new directory.

use common::{FileSystem, MemFs};
use kvstore::manifest::{read_current, read_manifest};
use kvstore::Db;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/kvstore-v1")
}

/// The writes the fixture holds, applied to a model: three flushed rounds, then an unflushed
/// tail that only the WAL has.
fn expected() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for round in 0..4u32 {
        for i in 0..60u32 {
            let k = format!("key{:03}", (i * 7 + round * 13) % 100).into_bytes();
            if (i + round) % 9 == 0 {
                m.remove(&k);
            } else {
                m.insert(k, format!("round{round}-value{i}").into_bytes());
            }
        }
    }
    m
}

fn write_into(db: &Db) {
    for round in 0..4u32 {
        for i in 0..60u32 {
            let k = format!("key{:03}", (i * 7 + round * 13) % 100);
            if (i + round) % 9 == 0 {
                db.delete(&k).unwrap();
            } else {
                db.put(&k, format!("round{round}-value{i}")).unwrap();
            }
        }
        if round < 3 {
            db.flush().unwrap();
        }
    }
}

/// Copies a real directory tree into the in-memory file system.
fn copy_into(fs: &MemFs, from: &Path, to: &Path) {
    fs.create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_into(fs, &entry.path(), &dest);
        } else {
            let bytes = std::fs::read(entry.path()).unwrap();
            let mut f = fs.create(&dest).unwrap();
            f.append(&bytes).unwrap();
            f.sync_all().unwrap();
        }
    }
    fs.sync_dir(to).unwrap();
}

#[test]
fn the_version_1_golden_database_opens_with_its_contents() {
    let fs = MemFs::new();
    copy_into(&fs, &fixture_dir(), Path::new("/golden"));
    let shared = fs.shared();
    let number = read_current(&shared, Path::new("/golden"))
        .unwrap()
        .expect("CURRENT");
    let edits = read_manifest(
        &shared,
        &Path::new("/golden").join(kvstore::filename::manifest_name(number)),
    )
    .unwrap();
    let files: usize = edits.iter().map(|e| e.added.len()).sum();
    assert_eq!(files, 3, "the fixture's manifest names three tables");

    let db = Db::builder("/golden").fs(fs.shared()).open().unwrap();
    let got: BTreeMap<_, _> = db.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(got, expected());
    let s = db.stats();
    assert_eq!(s.levels[0].files, 3);
    assert_eq!(
        s.visible_sequence, 240,
        "sequence numbers are those the writer gave"
    );
    let back: Vec<_> = db.iter().rev().collect::<Result<_, _>>().unwrap();
    assert_eq!(back.len(), got.len());
}

#[test]
#[ignore = "regenerates the golden files; run only for a new format version"]
fn regenerate_golden_database() {
    let dir = fixture_dir();
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::builder(&dir).open().unwrap();
    write_into(&db);
    drop(db);
    // Lock files are not part of the format.
    let _ = std::fs::remove_file(dir.join("LOCK"));
    let _ = std::fs::remove_file(dir.join("wal/LOCK"));
}
