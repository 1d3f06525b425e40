//! An in-memory file system that can crash, keeping only what was made durable.
//!
//! Model: every file is an inode with its current bytes and its synced bytes (a copy taken at
//! each `sync_data`/`sync_all`). Every directory has its current entries and its durable entries
//! (a copy taken at each `sync_dir`). [`MemFs::crash`] returns a new file system made of the
//! durable entries pointing at the synced bytes: exactly what a power cut would leave on a
//! strictly POSIX file system. Directories themselves are durable once created (the engine
//! creates its directories once, at open, and syncs their parents).

use super::{parent_dir, DirLock, FileSystem, RandomAccessFile, WritableFile};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

type Inode = Arc<Mutex<FileData>>;

#[derive(Debug, Default, Clone)]
struct FileData {
    data: Vec<u8>,
    synced: Vec<u8>,
}

#[derive(Debug, Default)]
struct Dir {
    current: BTreeMap<String, Inode>,
    durable: BTreeMap<String, Inode>,
}

#[derive(Debug, Default)]
struct State {
    dirs: BTreeMap<PathBuf, Dir>,
    locks: BTreeSet<PathBuf>,
}

/// The simulated file system. Cloning gives another handle to the same files.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file or directory", path.display()),
    )
}

/// Normalises a path (drops `.` components) so `a/./b` and `a/b` name one entry.
fn norm(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let path = norm(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?
        .to_string_lossy()
        .into_owned();
    Ok((norm(parent_dir(&path)), name))
}

impl MemFs {
    /// An empty file system with only the root directory.
    pub fn new() -> Self {
        let fs = MemFs::default();
        fs.lock_state()
            .dirs
            .insert(PathBuf::from("/"), Dir::default());
        fs.lock_state()
            .dirs
            .insert(PathBuf::from("."), Dir::default());
        fs
    }

    /// A shared handle, as the engine's constructors take it.
    pub fn shared(&self) -> Arc<dyn FileSystem> {
        Arc::new(self.clone())
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What a power cut leaves: a new, independent file system holding the durable directory
    /// entries, each file cut back to its last synced bytes. Locks are released. Handles to the
    /// old file system keep working on the old one, so a test can drop them at leisure.
    pub fn crash(&self) -> MemFs {
        let st = self.lock_state();
        let mut dirs = BTreeMap::new();
        for (path, dir) in &st.dirs {
            let mut entries = BTreeMap::new();
            for (name, inode) in &dir.durable {
                let synced = inode
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .synced
                    .clone();
                let fresh = Arc::new(Mutex::new(FileData {
                    data: synced.clone(),
                    synced,
                }));
                entries.insert(name.clone(), fresh);
            }
            dirs.insert(
                path.clone(),
                Dir {
                    current: entries.clone(),
                    durable: entries,
                },
            );
        }
        MemFs {
            state: Arc::new(Mutex::new(State {
                dirs,
                locks: BTreeSet::new(),
            })),
        }
    }

    /// A copy of a file's current bytes (for tests that flip bits or inspect files).
    pub fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        Ok(self.inode(path)?.lock().unwrap().data.clone())
    }

    /// Overwrites a file's bytes, current and synced alike (for corruption tests).
    pub fn write_all(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let inode = self.inode(path)?;
        let mut f = inode.lock().unwrap();
        f.data = bytes.to_vec();
        f.synced = bytes.to_vec();
        Ok(())
    }

    fn inode(&self, path: &Path) -> io::Result<Inode> {
        let (dir, name) = split(path)?;
        let st = self.lock_state();
        st.dirs
            .get(&dir)
            .and_then(|d| d.current.get(&name))
            .cloned()
            .ok_or_else(|| not_found(path))
    }
}

#[derive(Debug)]
struct MemWritable {
    inode: Inode,
    pos: u64,
}

impl MemWritable {
    fn data(&self) -> MutexGuard<'_, FileData> {
        self.inode.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl WritableFile for MemWritable {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        let pos = self.pos as usize;
        {
            let mut f = self.data();
            if f.data.len() < pos + buf.len() {
                f.data.resize(pos + buf.len(), 0);
            }
            f.data[pos..pos + buf.len()].copy_from_slice(buf);
        }
        self.pos += buf.len() as u64;
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        let mut f = self.data();
        f.synced = f.data.clone();
        Ok(())
    }
    fn sync_all(&mut self) -> io::Result<()> {
        self.sync_data()
    }
    fn position(&self) -> u64 {
        self.pos
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.data().data.resize(len as usize, 0);
        self.pos = len;
        Ok(())
    }
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let mut f = self.data();
        if (f.data.len() as u64) < len {
            f.data.resize(len as usize, 0);
        }
        Ok(())
    }
}

#[derive(Debug)]
struct MemReadable {
    inode: Inode,
}

impl RandomAccessFile for MemReadable {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let f = self.inode.lock().unwrap_or_else(|p| p.into_inner());
        let len = f.data.len() as u64;
        if offset >= len {
            return Ok(0);
        }
        let n = ((len - offset) as usize).min(buf.len());
        buf[..n].copy_from_slice(&f.data[offset as usize..offset as usize + n]);
        Ok(n)
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self
            .inode
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .data
            .len() as u64)
    }
}

#[derive(Debug)]
struct MemLockGuard {
    state: Arc<Mutex<State>>,
    path: PathBuf,
}

impl Drop for MemLockGuard {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.locks.remove(&self.path);
    }
}

impl FileSystem for MemFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let (dir, name) = split(path)?;
        let mut st = self.lock_state();
        let d = st.dirs.get_mut(&dir).ok_or_else(|| not_found(&dir))?;
        let inode = match d.current.get(&name) {
            Some(inode) => {
                inode.lock().unwrap_or_else(|p| p.into_inner()).data.clear();
                inode.clone()
            }
            None => {
                let inode: Inode = Arc::default();
                d.current.insert(name, inode.clone());
                inode
            }
        };
        Ok(Box::new(MemWritable { inode, pos: 0 }))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let inode = self.inode(path)?;
        let pos = inode.lock().unwrap().data.len() as u64;
        Ok(Box::new(MemWritable { inode, pos }))
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        Ok(Arc::new(MemReadable {
            inode: self.inode(path)?,
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let (fdir, fname) = split(from)?;
        let (tdir, tname) = split(to)?;
        let mut st = self.lock_state();
        if !st.dirs.contains_key(&tdir) {
            return Err(not_found(&tdir));
        }
        let inode = st
            .dirs
            .get_mut(&fdir)
            .and_then(|d| d.current.remove(&fname))
            .ok_or_else(|| not_found(from))?;
        st.dirs.get_mut(&tdir).unwrap().current.insert(tname, inode);
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let (dir, name) = split(path)?;
        let mut st = self.lock_state();
        st.dirs
            .get_mut(&dir)
            .and_then(|d| d.current.remove(&name))
            .map(|_| ())
            .ok_or_else(|| not_found(path))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        let path = norm(path);
        let mut st = self.lock_state();
        let mut cur = PathBuf::new();
        for c in path.components() {
            cur.push(c.as_os_str());
            st.dirs.entry(cur.clone()).or_default();
        }
        Ok(())
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let path = norm(path);
        let st = self.lock_state();
        if !st.dirs.contains_key(&path) {
            return Err(not_found(&path));
        }
        let mut names: BTreeSet<String> = st.dirs[&path].current.keys().cloned().collect();
        // Subdirectories are entries too.
        for sub in st.dirs.keys() {
            if sub != &path && norm(parent_dir(sub)) == path {
                if let Some(n) = sub.file_name() {
                    names.insert(n.to_string_lossy().into_owned());
                }
            }
        }
        Ok(names.into_iter().collect())
    }
    fn exists(&self, path: &Path) -> bool {
        self.is_dir(path) || self.inode(path).is_ok()
    }
    fn is_dir(&self, path: &Path) -> bool {
        self.lock_state().dirs.contains_key(&norm(path))
    }
    fn file_size(&self, path: &Path) -> io::Result<u64> {
        Ok(self.inode(path)?.lock().unwrap().data.len() as u64)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        let path = norm(path);
        let mut st = self.lock_state();
        let d = st.dirs.get_mut(&path).ok_or_else(|| not_found(&path))?;
        d.durable = d.current.clone();
        Ok(())
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        let inode = self.inode(from)?;
        let (tdir, tname) = split(to)?;
        let mut st = self.lock_state();
        let d = st.dirs.get_mut(&tdir).ok_or_else(|| not_found(&tdir))?;
        if d.current.contains_key(&tname) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists", to.display()),
            ));
        }
        d.current.insert(tname, inode);
        Ok(())
    }
    fn lock(&self, path: &Path) -> io::Result<DirLock> {
        let path = norm(path);
        if self.inode(&path).is_err() {
            self.create(&path)?;
        }
        let mut st = self.lock_state();
        if !st.locks.insert(path.clone()) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is held by another open of it (this process or another)",
                    path.display()
                ),
            ));
        }
        Ok(DirLock::new(Box::new(MemLockGuard {
            state: self.state.clone(),
            path,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    #[test]
    fn crash_keeps_only_synced_bytes_and_synced_entries() {
        let fs = MemFs::new();
        fs.create_dir_all(p("/db")).unwrap();
        let mut a = fs.create(p("/db/a")).unwrap();
        a.append(b"durable").unwrap();
        a.sync_data().unwrap();
        a.append(b" lost").unwrap();
        fs.sync_dir(p("/db")).unwrap();
        let mut b = fs.create(p("/db/b")).unwrap(); // never made durable in the directory
        b.append(b"x").unwrap();
        b.sync_data().unwrap();

        let c = fs.crash();
        assert_eq!(c.read_all(p("/db/a")).unwrap(), b"durable");
        assert!(!c.exists(p("/db/b")));
        assert_eq!(c.list_dir(p("/db")).unwrap(), vec!["a"]);
        // The old handles still see the old file system.
        assert_eq!(fs.read_all(p("/db/a")).unwrap(), b"durable lost");
    }

    #[test]
    fn rename_and_remove_are_durable_only_after_sync_dir() {
        let fs = MemFs::new();
        fs.create_dir_all(p("/d")).unwrap();
        let mut t = fs.create(p("/d/tmp")).unwrap();
        t.append(b"v2").unwrap();
        t.sync_all().unwrap();
        fs.sync_dir(p("/d")).unwrap();
        fs.rename(p("/d/tmp"), p("/d/CURRENT")).unwrap();
        let c = fs.crash();
        assert!(c.exists(p("/d/tmp")) && !c.exists(p("/d/CURRENT")));
        fs.sync_dir(p("/d")).unwrap();
        let c = fs.crash();
        assert!(!c.exists(p("/d/tmp")));
        assert_eq!(c.read_all(p("/d/CURRENT")).unwrap(), b"v2");
        fs.remove_file(p("/d/CURRENT")).unwrap();
        assert!(fs.crash().exists(p("/d/CURRENT")));
        fs.sync_dir(p("/d")).unwrap();
        assert!(!fs.crash().exists(p("/d/CURRENT")));
    }

    #[test]
    fn locks_are_exclusive_and_released_on_drop_and_crash() {
        let fs = MemFs::new();
        fs.create_dir_all(p("/d")).unwrap();
        let l = fs.lock(p("/d/LOCK")).unwrap();
        assert_eq!(
            fs.lock(p("/d/LOCK")).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let c = fs.crash();
        c.lock(p("/d/LOCK")).unwrap();
        drop(l);
        fs.lock(p("/d/LOCK")).unwrap();
    }

    #[test]
    fn readers_see_appends_and_hard_links_share_bytes() {
        let fs = MemFs::new();
        fs.create_dir_all(p("/d/sub")).unwrap();
        let mut w = fs.create(p("/d/f")).unwrap();
        let r = fs.open_read(p("/d/f")).unwrap();
        w.append(b"abc").unwrap();
        assert_eq!(r.len().unwrap(), 3);
        fs.hard_link(p("/d/f"), p("/d/sub/g")).unwrap();
        w.append(b"d").unwrap();
        assert_eq!(fs.read_all(p("/d/sub/g")).unwrap(), b"abcd");
        assert_eq!(fs.list_dir(p("/d")).unwrap(), vec!["f", "sub"]);
        w.preallocate(10).unwrap();
        assert_eq!(fs.file_size(p("/d/f")).unwrap(), 10);
        w.append(b"e").unwrap();
        assert_eq!(&fs.read_all(p("/d/f")).unwrap()[..5], b"abcde");
    }
}
