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

#[test]
fn wal_disk_use_stays_bounded() {
    // Write 10x the memtable size; at every point the WAL holds at most the unflushed
    // memtables' segments (max_immutable_memtables + the active one + a fresh one).
    let fs = MemFs::new();
    let memtable = 8 << 10;
    let db = Db::builder("/db")
        .memtable_size_bytes(memtable)
        .max_immutable_memtables(2)
        .fs(fs.shared())
        .open()
        .unwrap();
    let value = vec![b'v'; 100];
    let mut written = 0;
    let mut i = 0u64;
    let (mut max_segments, mut max_bytes) = (0, 0);
    while written < 10 * memtable {
        db.put(format!("key{i:08}"), &value).unwrap();
        written += 111;
        i += 1;
        if i.is_multiple_of(20) {
            let s = db.stats();
            max_segments = max_segments.max(s.wal_segments);
            max_bytes = max_bytes.max(s.wal_bytes);
        }
    }
    let s = db.stats();
    println!(
        "after {written} bytes: {} flushes, WAL max {max_segments} segments / {max_bytes} bytes",
        s.flushes
    );
    assert!(s.flushes >= 8, "{} flushes", s.flushes);
    assert!(max_segments <= 4, "WAL grew to {max_segments} segments");
    // The active segment may carry the WAL's zero-filled preallocated tail (one step).
    assert!(
        max_bytes <= 5 * memtable as u64 + wal::PREALLOCATE_STEP,
        "WAL grew to {max_bytes} bytes for a {memtable}-byte memtable"
    );
    db.flush().unwrap();
    assert!(db.stats().wal_segments <= 2);
}

#[test]
fn a_flipped_byte_in_a_table_fails_reads_with_an_error_naming_the_file() {
    let fs = MemFs::new();
    let keys: Vec<String> = (0..400).map(|i| format!("key{i:04}")).collect();
    {
        let db = mem_db(&fs, 1 << 20);
        for k in &keys {
            db.put(k, format!("value-of-{k}-{}", "x".repeat(50)))
                .unwrap();
        }
        db.flush().unwrap();
    }
    let table = fs
        .list_dir(Path::new("/db"))
        .unwrap()
        .into_iter()
        .find(|n| n.ends_with(".sst"))
        .expect("a table");
    let path = Path::new("/db").join(&table);
    let mut bytes = fs.read_all(&path).unwrap();
    bytes[200] ^= 0x10; // inside the first data block
    fs.write_all(&path, &bytes).unwrap();

    let db = mem_db(&fs, 1 << 20);
    let mut errors = 0;
    for k in &keys {
        match db.get(k) {
            Ok(Some(v)) => assert_eq!(v, format!("value-of-{k}-{}", "x".repeat(50)).into_bytes()),
            Ok(None) => panic!("{k}: silently missing"),
            Err(e) => {
                assert!(
                    e.to_string().contains(&table),
                    "error does not name {table}: {e}"
                );
                errors += 1;
            }
        }
    }
    assert!(errors > 0, "no read noticed the flipped byte");
    let scan: Vec<_> = db.iter().collect();
    let err = scan
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("the scan must fail");
    assert!(err.to_string().contains(&table), "{err}");
    assert!(matches!(err, Error::Table(_)));
    let back: Vec<_> = db.iter().rev().collect();
    assert!(
        back.iter().any(|r| r.is_err()),
        "the reverse scan must fail too"
    );
}

#[test]
fn checkpoint_opens_with_the_same_contents() {
    for real in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let mem = MemFs::new();
        let fs: std::sync::Arc<dyn FileSystem> = if real {
            common::RealFs::shared()
        } else {
            mem.shared()
        };
        let (src, dst) = if real {
            (tmp.path().join("db"), tmp.path().join("copy"))
        } else {
            (
                Path::new("/db").to_path_buf(),
                Path::new("/copy").to_path_buf(),
            )
        };
        let db = Db::builder(&src)
            .memtable_size_bytes(4096)
            .fs(fs.clone())
            .open()
            .unwrap();
        for i in 0..500 {
            db.put(format!("k{i:04}"), format!("v{i}")).unwrap();
        }
        for i in (0..500).step_by(7) {
            db.delete(format!("k{i:04}")).unwrap();
        }
        let want = scan(&db);
        db.checkpoint(&dst).unwrap();
        db.put(b"k0001", b"changed after").unwrap();
        db.put(b"zzz", b"new after").unwrap();
        assert!(matches!(
            db.checkpoint(&dst),
            Err(Error::DestinationNotEmpty { .. })
        ));
        let copy = Db::builder(&dst).fs(fs.clone()).open().unwrap();
        assert_eq!(scan(&copy), want, "real fs: {real}");
        copy.put(b"only", b"in the copy").unwrap();
        assert_eq!(db.get(b"only").unwrap(), None);
        assert_eq!(db.get(b"zzz").unwrap(), Some(b"new after".to_vec()));
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let mem = MemFs::new();
    let _db = mem_db(&mem, 1 << 20);
    let second = Db::builder("/db").fs(mem.shared()).open();
    assert!(matches!(second, Err(Error::Locked { .. })), "{second:?}");

    let tmp = tempfile::tempdir().unwrap();
    let _db = Db::builder(tmp.path()).open().unwrap();
    let second = Db::builder(tmp.path()).open();
    assert!(matches!(second, Err(Error::Locked { .. })), "{second:?}");
}

/// An iterator or a snapshot keeps the database open (its files and its lock) after the last
/// `Db` handle is dropped: it goes on reading, a reopen is refused until it is dropped too.
#[test]
fn iterators_and_snapshots_keep_the_database_open_until_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::builder(tmp.path()).open().unwrap();
    for i in 0..100u32 {
        db.put(format!("k{i:03}"), b"v").unwrap();
    }
    db.flush().unwrap();
    db.put(b"k100", b"in the memtable").unwrap();
    let mut it = db.iter();
    let snap = db.snapshot();
    drop(db);

    let refused = Db::builder(tmp.path()).open();
    let Err(e @ Error::Locked { .. }) = refused else {
        panic!("a reopen while an iterator lives: {refused:?}");
    };
    let message = e.to_string();
    assert!(message.contains("iterator or snapshot"), "{message}");
    assert_eq!(it.next().unwrap().unwrap().0, b"k000".to_vec());
    assert_eq!(it.count(), 100, "the rest, memtable included");
    assert_eq!(
        snap.get(b"k100").unwrap(),
        Some(b"in the memtable".to_vec())
    );

    let refused = Db::builder(tmp.path()).open();
    assert!(
        matches!(refused, Err(Error::Locked { .. })),
        "the snapshot still lives"
    );
    drop(snap);
    let db = Db::builder(tmp.path()).open().unwrap();
    assert_eq!(db.get(b"k100").unwrap(), Some(b"in the memtable".to_vec()));
}

#[test]
fn bad_options_and_missing_databases_are_clear_errors() {
    let mem = MemFs::new();
    let e = Db::builder("/db")
        .memtable_size_bytes(3)
        .fs(mem.shared())
        .open()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InvalidOption {
                name: "memtable_size_bytes",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        !mem.exists(Path::new("/db")),
        "nothing is created for bad options"
    );
    let e = Db::builder("/db")
        .create_if_missing(false)
        .fs(mem.shared())
        .open()
        .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    let db = mem_db(&mem, 1 << 10);
    let e = db.put(vec![0u8; 20 << 20], b"").unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
    db.put(b"still", b"works").unwrap();
}

#[test]
fn snapshots_see_a_frozen_view_across_flushes_and_sequence_numbers_survive_reopen() {
    let fs = MemFs::new();
    let db = mem_db(&fs, 2048);
    for i in 0..100 {
        db.put(format!("k{i:03}"), b"old").unwrap();
    }
    let snap = db.snapshot();
    let seq = snap.seq();
    for i in 0..100 {
        if i % 2 == 0 {
            db.put(format!("k{i:03}"), b"new").unwrap();
        } else {
            db.delete(format!("k{i:03}")).unwrap();
        }
    }
    db.flush().unwrap();
    // Many memtables were flushed under the snapshot (where their tables sit now depends on
    // the background compaction's timing, so count flushes, not level-0 files).
    assert!(db.stats().flushes > 1, "{:?}", db.stats().flushes);
    assert_eq!(db.stats().live_snapshots, 1);
    let seen: Vec<_> = snap.iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(seen.len(), 100);
    assert!(seen.iter().all(|(_, v)| v == b"old"));
    assert_eq!(snap.get(b"k001").unwrap(), Some(b"old".to_vec()));
    assert_eq!(db.get(b"k001").unwrap(), None);
    let rev: Vec<_> = snap.prefix(b"k09").rev().collect::<Result<_, _>>().unwrap();
    assert_eq!(rev.first().unwrap().0, b"k099");
    drop(snap);
    assert_eq!(db.stats().live_snapshots, 0);
    let before = db.stats().visible_sequence;
    assert_eq!(before, seq + 100);
    drop(db);
    let db = mem_db(&fs, 2048);
    assert_eq!(db.stats().visible_sequence, before);
    assert_eq!(db.iter().count(), 50);
}

/// The key of a [`spawn_writers`] thread's `i`-th write.
fn writer_key(t: usize, i: usize) -> String {
    format!("t{t}-{i:05}")
}

/// Four threads, each making `writes` writes of keys of its own ([`writer_key`]); every
/// `batch_every`-th is a batch of two puts, the key and the key with `b` appended, so a thread
/// writes `writes + writes / batch_every` keys.
fn spawn_writers(db: &Db, writes: usize, batch_every: usize) -> Vec<std::thread::JoinHandle<()>> {
    (0..4)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..writes {
                    let k = writer_key(t, i);
                    if i % batch_every == 0 {
                        let mut b = db.batch();
                        b.put(&k, b"1").put(format!("{k}b"), b"2");
                        b.commit().unwrap();
                    } else {
                        db.put(&k, format!("{i}")).unwrap();
                    }
                }
            })
        })
        .collect()
}

#[test]
fn concurrent_writers_and_readers() {
    let fs = MemFs::new();
    let db = Db::builder("/db")
        .memtable_size_bytes(4096)
        .fs(fs.shared())
        .open()
        .unwrap();
    let writers = spawn_writers(&db, 300, 10);
    let reader = {
        let db = db.clone();
        std::thread::spawn(move || {
            let mut last = 0;
            for _ in 0..50 {
                let all: std::collections::BTreeMap<_, _> =
                    db.iter().collect::<Result<_, _>>().unwrap();
                // A batch's two keys appear together or not at all.
                for t in 0..4 {
                    for i in (0..300).step_by(10) {
                        let a = writer_key(t, i).into_bytes();
                        let b = format!("{}b", writer_key(t, i)).into_bytes();
                        assert_eq!(
                            all.contains_key(&a),
                            all.contains_key(&b),
                            "batch {t}/{i} seen half-applied"
                        );
                    }
                }
                assert!(all.len() >= last, "visible data went backwards");
                last = all.len();
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    assert_eq!(db.iter().count(), 4 * (300 + 30));
    assert!(db.stats().flushes > 0);
}

/// Writers insert into the memtable after the writer lock, so inserts end out of order; a
/// snapshot must still hold every write up to its sequence number, none missing. Every write
/// here puts a key of its own, so a snapshot at `seq` holds exactly `seq - base` keys. A small
/// memtable adds freezes and flushes while inserts are in flight.
#[test]
fn a_snapshot_holds_every_write_up_to_its_sequence_number() {
    let fs = MemFs::new();
    let db = Db::builder("/db")
        .memtable_size_bytes(16 << 10)
        .fsync_policy(FsyncPolicy::Os)
        .fs(fs.shared())
        .open()
        .unwrap();
    let base = db.stats().visible_sequence;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = spawn_writers(&db, 2000, 50);
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut checked = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) || checked == 0 {
                    let snap = db.snapshot();
                    let n = snap.iter().collect::<Result<Vec<_>, _>>().unwrap().len() as u64;
                    assert_eq!(n, snap.seq() - base, "a snapshot misses writes before it");
                    checked += 1;
                }
                checked
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert_eq!(db.iter().count(), 4 * (2000 + 40));
    assert!(db.stats().flushes > 0);
    drop(db);
    let db = mem_db(&fs, 16 << 10);
    assert_eq!(db.iter().count(), 4 * (2000 + 40), "after reopen");
}

#[test]
fn the_async_face_works_on_a_tokio_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let fs = MemFs::new();
    let db = mem_db(&fs, 4096);
    rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let db = db.clone();
                tokio::spawn(async move {
                    for i in 0..50 {
                        db.put_async(format!("a{t}-{i:02}"), b"x").await.unwrap();
                    }
                    db.delete_async(format!("a{t}-00")).await.unwrap();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let mut b = db.batch();
        b.put(b"batch", b"async");
        b.commit_async().await.unwrap();
        db.flush_async().await.unwrap();
        db.persist_async().await.unwrap();
        assert_eq!(
            db.get_async(b"batch").await.unwrap(),
            Some(b"async".to_vec())
        );
        assert_eq!(db.get_async(b"a3-00").await.unwrap(), None);
    });
    assert_eq!(db.iter().count(), 8 * 49 + 1);
}

#[test]
fn a_recovered_memtable_over_the_size_limit_is_flushed() {
    let fs = MemFs::new();
    let mut want = Vec::new();
    {
        let db = mem_db(&fs, 1 << 20);
        for i in 0..1000 {
            let (k, v) = (format!("k{i:04}").into_bytes(), vec![b'v'; 60]);
            db.put(&k, &v).unwrap();
            want.push((k, v));
        }
        assert_eq!(db.stats().flushes, 0);
    }
    // Reopen with a memtable far smaller than what the WAL holds.
    let db = mem_db(&fs, 4096);
    assert_eq!(scan(&db), want);
    db.flush().unwrap();
    let s = db.stats();
    assert!(
        s.flushes >= 1 && s.levels.iter().any(|l| l.files > 0),
        "{s:?}"
    );
    assert!(s.wal_segments <= 2, "{s:?}");
    assert_eq!(scan(&db), want);
    drop(db);
    let db = mem_db(&fs, 4096);
    assert_eq!(scan(&db), want);
    assert_eq!(db.stats().visible_sequence, 1000);
}

#[test]
fn a_batch_keeps_the_order_of_its_operations_whatever_the_order_of_its_keys() {
    // The engine inserts a batch into the memtable in key order (cheaper skip-list searches);
    // each operation keeps the sequence number of its place in the batch, so the batch's last
    // write to a key wins, before and after a flush and a reopen.
    let fs = MemFs::new();
    let check = |db: &Db| {
        assert_eq!(db.get(b"k").unwrap(), Some(b"third".to_vec()));
        assert_eq!(db.get(b"gone").unwrap(), None);
        assert_eq!(db.get(b"back").unwrap(), Some(b"again".to_vec()));
        assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    };
    {
        let db = mem_db(&fs, 1 << 20);
        let mut b = db.batch();
        // Enough operations that an unstable sort would reorder the equal keys.
        for i in 0..40 {
            b.put(format!("f{i:02}"), b"filler");
            b.put(b"k", b"zeroth");
        }
        b.put(b"k", b"first");
        b.put(b"z", b"26");
        b.put(b"gone", b"x");
        b.put(b"k", b"second");
        b.delete(b"back");
        b.put(b"a", b"1");
        b.delete(b"gone");
        b.put(b"back", b"again");
        b.put(b"k", b"third");
        b.commit().unwrap();
        check(&db);
        db.flush().unwrap();
        check(&db);
    }
    let db = mem_db(&fs, 1 << 20);
    check(&db);
}
