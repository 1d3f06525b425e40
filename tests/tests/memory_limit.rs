//! `memtable_memory_limit_bytes`: while a flush runs, writers wait once the memtables hold the
//! limit, and go on when the flush ends.

use common::{DirLock, FileSystem, MemFs, RandomAccessFile, WritableFile};
use kvstore::{Db, Error, FsyncPolicy};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A `MemFs` whose `sync_dir` blocks on the flush thread while the gate is closed: the flush
/// syncs the directory after writing its table and before it installs it, so a closed gate
/// holds a flush in the middle, its frozen memtable still alive.
#[derive(Debug)]
struct GatedFs {
    inner: Arc<dyn FileSystem>,
    closed: Mutex<bool>,
    cv: Condvar,
}

impl GatedFs {
    fn set(&self, closed: bool) {
        *self.closed.lock().unwrap() = closed;
        self.cv.notify_all();
    }
}

impl FileSystem for GatedFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.inner.create(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.inner.open_append(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.inner.open_read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.inner.remove_file(path)
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.inner.is_dir(path)
    }
    fn file_size(&self, path: &Path) -> io::Result<u64> {
        self.inner.file_size(path)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        if std::thread::current().name() == Some("kvstore-flush") {
            let mut closed = self.closed.lock().unwrap();
            while *closed {
                closed = self.cv.wait(closed).unwrap();
            }
        }
        self.inner.sync_dir(path)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.hard_link(from, to)
    }
    fn lock(&self, path: &Path) -> io::Result<DirLock> {
        self.inner.lock(path)
    }
}

const MEMTABLE: usize = 64 << 10;
const LIMIT: usize = 96 << 10;

fn value(i: u64) -> Vec<u8> {
    format!("{i:0>200}").into_bytes()
}

#[test]
fn writers_wait_for_a_running_flush_at_the_memory_limit_and_then_go_on() {
    let fs = Arc::new(GatedFs {
        inner: MemFs::new().shared(),
        closed: Mutex::new(true),
        cv: Condvar::new(),
    });
    let db = Db::builder("/db")
        .fs(fs.clone())
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
    fs.set(false);
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
