//! Engine behaviour tests: the API end to end, WAL disk use, corruption, checkpoints, the
//! directory lock, option validation, the async face.

use common::{FileSystem, MemFs};
use kvstore::{Db, Error, FsyncPolicy};
use std::path::Path;
use std::time::Duration;

fn mem_db(fs: &MemFs, memtable: usize) -> Db {
    Db::builder("/db")
        .memtable_size_bytes(memtable)
        .fs(fs.shared())
        .open()
        .unwrap()
}

fn scan(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iter().collect::<Result<_, _>>().unwrap()
}

#[test]
fn basic_api_flush_and_reopen() {
    let fs = MemFs::new();
    let db = Db::builder("/db")
        .fsync_policy(FsyncPolicy::Batch(Duration::from_millis(5)))
        .fs(fs.shared())
        .open()
        .unwrap();
    db.put(b"user:1", b"ada").unwrap();
    db.put(b"user:2", b"grace").unwrap();
    db.delete(b"user:1").unwrap();
    assert_eq!(db.get(b"user:1").unwrap(), None);
    assert_eq!(db.get(b"user:2").unwrap(), Some(b"grace".to_vec()));
    db.flush().unwrap();
    assert_eq!(db.stats().levels[0].files, 1);
    assert_eq!(db.get(b"user:2").unwrap(), Some(b"grace".to_vec()));
    db.put(b"user:3", b"edsger").unwrap();
    drop(db);
    let db = mem_db(&fs, 1 << 20);
    assert_eq!(
        scan(&db),
        vec![
            (b"user:2".to_vec(), b"grace".to_vec()),
            (b"user:3".to_vec(), b"edsger".to_vec())
        ]
    );
}
