//! A file system that fails chosen operations, for testing error paths.
//!
//! Wrap any [`FileSystem`] (usually a [`MemFs`](super::mem::MemFs)), then arm faults:
//! `fs.fail(Op::SyncData, 0, FaultKind::Error)` makes the next `sync_data` fail;
//! `fs.fail(Op::Append, 2, FaultKind::ShortWrite)` lets two appends through, then writes half of
//! the third and fails it. [`FaultyFs::freeze`] makes every later operation fail, which together
//! with `MemFs::crash` models a process that died at that instant. [`FaultyFs::hold`] makes an
//! operation wait (on the threads of one name, say the engine's flush thread) until
//! [`FaultyFs::release`]: a test can stop a background job midway and look at the engine.

use super::{DirLock, FileSystem, RandomAccessFile, WritableFile};
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

/// The operations that can be failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `FileSystem::create`
    Create,
    /// `FileSystem::open_append`
    OpenAppend,
    /// `FileSystem::open_read`
    OpenRead,
    /// `RandomAccessFile::read_at`
    Read,
    /// `WritableFile::append`
    Append,
    /// `WritableFile::sync_data` and `sync_all`
    SyncData,
    /// `WritableFile::truncate` and `preallocate`
    Truncate,
    /// `FileSystem::sync_dir`
    SyncDir,
    /// `FileSystem::rename`
    Rename,
    /// `FileSystem::remove_file`
    Remove,
    /// `FileSystem::hard_link`
    HardLink,
}

/// How an armed operation fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The operation does nothing and returns an I/O error.
    Error,
    /// For `Append`: half the bytes are written, then an error is returned. Other operations
    /// treat it as `Error`.
    ShortWrite,
}

#[derive(Debug)]
struct Rule {
    op: Op,
    skip: u64,
    kind: FaultKind,
}

#[derive(Debug, Default)]
struct FaultState {
    rules: Vec<Rule>,
    counts: HashMap<Op, u64>,
    frozen: bool,
    /// Held operations, each with the thread name it holds (`None`: every thread).
    held: Vec<(Op, Option<String>)>,
}

impl FaultState {
    /// Whether `op` on the calling thread must wait.
    fn holds(&self, op: Op) -> bool {
        self.held.iter().any(|(o, name)| {
            *o == op
                && name
                    .as_deref()
                    .is_none_or(|n| std::thread::current().name() == Some(n))
        })
    }
}

/// The state every handle of one [`FaultyFs`] shares; `released` is notified when a hold ends.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<FaultState>,
    released: Condvar,
}

/// A [`FileSystem`] wrapper that injects failures.
#[derive(Debug, Clone)]
pub struct FaultyFs {
    inner: Arc<dyn FileSystem>,
    state: Arc<Shared>,
}

fn injected(op: Op) -> io::Error {
    io::Error::other(format!("injected fault: {op:?} failed"))
}

impl FaultyFs {
    /// Wraps a file system; no fault is armed.
    pub fn new(inner: Arc<dyn FileSystem>) -> Self {
        FaultyFs {
            inner,
            state: Arc::default(),
        }
    }

    /// A shared handle, as the engine's constructors take it.
    pub fn shared(&self) -> Arc<dyn FileSystem> {
        Arc::new(self.clone())
    }

    /// Arms a fault: let `skip` further operations of kind `op` succeed, then fail the next one.
    pub fn fail(&self, op: Op, skip: u64, kind: FaultKind) {
        self.lock().rules.push(Rule { op, skip, kind });
    }

    /// From now on every operation fails (the process "died" here).
    pub fn freeze(&self) {
        self.lock().frozen = true;
    }

    /// Disarms every fault and unfreezes (holds stay until [`FaultyFs::release`]).
    pub fn heal(&self) {
        let mut st = self.lock();
        st.rules.clear();
        st.frozen = false;
    }

    /// From now until [`FaultyFs::release`], operations of kind `op` on a thread named `thread`
    /// (on any thread when `None`) wait before they start; they are counted, and checked
    /// against armed faults, once released.
    pub fn hold(&self, op: Op, thread: Option<&str>) {
        self.lock().held.push((op, thread.map(str::to_owned)));
    }

    /// Ends every hold of `op`; the operations waiting on it go on.
    pub fn release(&self, op: Op) {
        self.lock().held.retain(|(o, _)| *o != op);
        self.state.released.notify_all();
    }

    /// How many operations of kind `op` were attempted so far.
    pub fn count(&self, op: Op) -> u64 {
        self.lock().counts.get(&op).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultState> {
        self.state.state.lock().unwrap()
    }

    /// Waits while `op` is held, records the attempt and says whether (and how) it must fail.
    fn check(shared: &Shared, op: Op) -> Option<FaultKind> {
        let mut st = shared.state.lock().unwrap();
        while st.holds(op) {
            st = shared.released.wait(st).unwrap();
        }
        *st.counts.entry(op).or_default() += 1;
        if st.frozen {
            return Some(FaultKind::Error);
        }
        let idx = st.rules.iter().position(|r| r.op == op)?;
        if st.rules[idx].skip > 0 {
            st.rules[idx].skip -= 1;
            return None;
        }
        Some(st.rules.remove(idx).kind)
    }

    fn guard(&self, op: Op) -> io::Result<()> {
        match Self::check(&self.state, op) {
            None => Ok(()),
            Some(_) => Err(injected(op)),
        }
    }
}

#[derive(Debug)]
struct FaultyWritable {
    inner: Box<dyn WritableFile>,
    state: Arc<Shared>,
}

impl WritableFile for FaultyWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        match FaultyFs::check(&self.state, Op::Append) {
            None => self.inner.append(data),
            Some(FaultKind::ShortWrite) => {
                self.inner.append(&data[..data.len() / 2])?;
                Err(injected(Op::Append))
            }
            Some(FaultKind::Error) => Err(injected(Op::Append)),
        }
    }
    fn sync_data(&mut self) -> io::Result<()> {
        match FaultyFs::check(&self.state, Op::SyncData) {
            None => self.inner.sync_data(),
            Some(_) => Err(injected(Op::SyncData)),
        }
    }
    fn start_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.inner.start_writeback(offset, len)
    }
    fn sync_all(&mut self) -> io::Result<()> {
        match FaultyFs::check(&self.state, Op::SyncData) {
            None => self.inner.sync_all(),
            Some(_) => Err(injected(Op::SyncData)),
        }
    }
    fn position(&self) -> u64 {
        self.inner.position()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        match FaultyFs::check(&self.state, Op::Truncate) {
            None => self.inner.truncate(len),
            Some(_) => Err(injected(Op::Truncate)),
        }
    }
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        match FaultyFs::check(&self.state, Op::Truncate) {
            None => self.inner.preallocate(len),
            Some(_) => Err(injected(Op::Truncate)),
        }
    }
}

#[derive(Debug)]
struct FaultyReadable {
    inner: Arc<dyn RandomAccessFile>,
    state: Arc<Shared>,
}

impl RandomAccessFile for FaultyReadable {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match FaultyFs::check(&self.state, Op::Read) {
            None => self.inner.read_at(buf, offset),
            Some(_) => Err(injected(Op::Read)),
        }
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

impl FileSystem for FaultyFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.guard(Op::Create)?;
        Ok(Box::new(FaultyWritable {
            inner: self.inner.create(path)?,
            state: self.state.clone(),
        }))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.guard(Op::OpenAppend)?;
        Ok(Box::new(FaultyWritable {
            inner: self.inner.open_append(path)?,
            state: self.state.clone(),
        }))
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.guard(Op::OpenRead)?;
        Ok(Arc::new(FaultyReadable {
            inner: self.inner.open_read(path)?,
            state: self.state.clone(),
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.guard(Op::Rename)?;
        self.inner.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.guard(Op::Remove)?;
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
        self.guard(Op::SyncDir)?;
        self.inner.sync_dir(path)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.guard(Op::HardLink)?;
        self.inner.hard_link(from, to)
    }
    fn lock(&self, path: &Path) -> io::Result<DirLock> {
        self.inner.lock(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::mem::MemFs;

    #[test]
    fn armed_faults_fire_once_at_the_chosen_operation() {
        let mem = MemFs::new();
        let fs = FaultyFs::new(mem.shared());
        mem.create_dir_all(Path::new("/d")).unwrap();
        let mut f = fs.create(Path::new("/d/f")).unwrap();
        fs.fail(Op::SyncData, 1, FaultKind::Error);
        f.sync_data().unwrap();
        assert!(f.sync_data().is_err());
        f.sync_data().unwrap();
        fs.fail(Op::Append, 0, FaultKind::ShortWrite);
        assert!(f.append(b"abcd").is_err());
        assert_eq!(mem.read_all(Path::new("/d/f")).unwrap(), b"ab");
        assert_eq!(fs.count(Op::SyncData), 3);
        fs.freeze();
        assert!(fs.create(Path::new("/d/g")).is_err());
        assert!(f.append(b"x").is_err());
        fs.heal();
        f.append(b"x").unwrap();
    }

    /// A held operation waits on the named thread only, until released; then it runs (and
    /// is counted) as usual.
    #[test]
    fn a_held_operation_waits_on_the_named_thread_until_released() {
        let mem = MemFs::new();
        let fs = FaultyFs::new(mem.shared());
        mem.create_dir_all(Path::new("/d")).unwrap();
        fs.hold(Op::SyncDir, Some("held-thread"));
        // Another thread (this one) is not held.
        fs.sync_dir(Path::new("/d")).unwrap();
        assert_eq!(fs.count(Op::SyncDir), 1);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let held = {
            let fs = fs.clone();
            std::thread::Builder::new()
                .name("held-thread".into())
                .spawn(move || {
                    fs.sync_dir(Path::new("/d")).unwrap();
                    done_tx.send(()).unwrap();
                })
                .unwrap()
        };
        let waited = std::time::Duration::from_millis(200);
        assert!(
            done_rx.recv_timeout(waited).is_err(),
            "the hold did not hold"
        );
        assert_eq!(
            fs.count(Op::SyncDir),
            1,
            "a waiting operation is not counted yet"
        );
        fs.release(Op::SyncDir);
        done_rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the release did not let it go on");
        held.join().unwrap();
        assert_eq!(fs.count(Op::SyncDir), 2);
    }
}
