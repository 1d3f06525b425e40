//! The operating system's file system.

use super::mapped::{allocate, page_size, Mapping};
use super::read_map::ReadMap;
use super::writeback::start_writeback;
use super::{DirLock, FileSystem, RandomAccessFile, WritableFile};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The real file system (Unix: positioned reads and writes, `fdatasync`, directory fsync).
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

impl RealFs {
    /// A shared handle to the real file system.
    pub fn shared() -> Arc<dyn FileSystem> {
        Arc::new(RealFs)
    }
}

#[derive(Debug)]
struct RealWritable {
    file: File,
    path: PathBuf,
    pos: u64,
    /// `map_preallocated` was asked for.
    map_wanted: bool,
    /// The map of the preallocated range ahead of the cursor (see mapped.rs).
    map: Option<Mapping>,
}

impl RealWritable {
    fn new(file: File, path: PathBuf, pos: u64) -> RealWritable {
        RealWritable {
            file,
            path,
            pos,
            map_wanted: false,
            map: None,
        }
    }

    /// Makes the map (if wanted) cover from the cursor to `end`, the file's length.
    fn map_up_to(&mut self, end: u64) -> io::Result<()> {
        let ahead = end.saturating_sub(self.pos) as usize;
        if self.map_wanted && !self.map.as_ref().is_some_and(|m| m.covers(self.pos, ahead)) {
            self.remap(end)?;
        }
        Ok(())
    }

    /// Maps `[page of the cursor, len)` if maps are wanted and that range is not empty.
    fn remap(&mut self, len: u64) -> io::Result<()> {
        self.map = None;
        if !self.map_wanted {
            return Ok(());
        }
        let from = self.pos - self.pos % page_size();
        if len > from {
            self.map =
                Some(Mapping::new(&self.file, from, len).map_err(|e| annotate(e, &self.path))?);
        }
        Ok(())
    }
}

impl WritableFile for RealWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        match self.map.as_mut() {
            Some(m) if m.covers(self.pos, data.len()) => m.write(self.pos, data),
            _ => self
                .file
                .write_all_at(data, self.pos)
                .map_err(|e| annotate(e, &self.path))?,
        }
        self.pos += data.len() as u64;
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data().map_err(|e| annotate(e, &self.path))
    }
    fn sync_all(&mut self) -> io::Result<()> {
        self.file.sync_all().map_err(|e| annotate(e, &self.path))
    }
    fn position(&self) -> u64 {
        self.pos
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        // Unmapped first: a store into a page past the new end would fault (SIGBUS).
        self.map = None;
        self.file
            .set_len(len)
            .map_err(|e| annotate(e, &self.path))?;
        self.pos = len;
        Ok(())
    }
    fn preallocate(&mut self, len: u64) -> io::Result<()> {
        let cur = self.file.metadata()?.len();
        // Write real zeros (not a sparse hole) so later data writes plus fdatasync need not
        // allocate blocks or change the file size: the sync then flushes data only. (And a
        // store through the map never allocates at fault time.)
        const CHUNK: usize = 1 << 20;
        let zeros = if cur < len {
            vec![0u8; CHUNK]
        } else {
            Vec::new()
        };
        let mut off = cur;
        while off < len {
            let n = ((len - off) as usize).min(CHUNK);
            self.file
                .write_all_at(&zeros[..n], off)
                .map_err(|e| annotate(e, &self.path))?;
            off += n as u64;
        }
        self.map_up_to(cur.max(len))
    }
    fn reserve(&mut self, len: u64) -> io::Result<()> {
        let cur = self.file.metadata()?.len();
        // Allocated blocks (so a store through the map never allocates at fault time) that
        // read as zeros, with no page-cache writes.
        if len > cur
            && !allocate(&self.file, cur, len - cur).map_err(|e| annotate(e, &self.path))?
        {
            return self.preallocate(len);
        }
        self.map_up_to(cur.max(len))
    }
    fn map_preallocated(&mut self) {
        self.map_wanted = true;
    }
    fn start_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
        start_writeback(&self.file, offset, len).map_err(|e| annotate(e, &self.path))
    }
}

#[derive(Debug)]
struct RealReadable {
    file: File,
    path: PathBuf,
    /// The whole file, when opened by `open_read_mapped` (and a map was available).
    map: Option<ReadMap>,
}

impl RandomAccessFile for RealReadable {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file
            .read_at(buf, offset)
            .map_err(|e| annotate(e, &self.path))
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
    fn mapped(&self) -> Option<&[u8]> {
        self.map.as_ref().map(ReadMap::bytes)
    }
}

/// Adds the path to an I/O error's message so every report names its file.
fn annotate(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {}", path.display(), e))
}

impl FileSystem for RealFs {
    fn maps_files(&self) -> bool {
        true
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(|e| annotate(e, path))?;
        Ok(Box::new(RealWritable::new(file, path.to_path_buf(), 0)))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| annotate(e, path))?;
        let pos = file.metadata()?.len();
        Ok(Box::new(RealWritable::new(file, path.to_path_buf(), pos)))
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let file = File::open(path).map_err(|e| annotate(e, path))?;
        Ok(Arc::new(RealReadable {
            file,
            path: path.to_path_buf(),
            map: None,
        }))
    }
    fn open_read_mapped(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        let file = File::open(path).map_err(|e| annotate(e, path))?;
        let len = file.metadata().map_err(|e| annotate(e, path))?.len();
        // A map that cannot be made leaves the file to `pread`, which reads the same bytes.
        let map = ReadMap::new(&file, len).unwrap_or(None);
        Ok(Arc::new(RealReadable {
            file,
            path: path.to_path_buf(),
            map,
        }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to).map_err(|e| annotate(e, from))
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path).map_err(|e| annotate(e, path))
    }
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path).map_err(|e| annotate(e, path))
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| annotate(e, path))? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }
    fn file_size(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path).map_err(|e| annotate(e, path))?.len())
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path)
            .and_then(|d| d.sync_all())
            .map_err(|e| annotate(e, path))
    }
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to).map_err(|e| annotate(e, from))
    }
    fn lock(&self, path: &Path) -> io::Result<DirLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| annotate(e, path))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock::new(Box::new(file))),
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{} is held by another open of it (this process or another)",
                    path.display()
                ),
            )),
            Err(fs::TryLockError::Error(e)) => Err(annotate(e, path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends through the map of the preallocated space, past it (a `write`), after a cut
    /// (the map is dropped first) and after the next reservation (mapped again): the file
    /// reads back exactly what was appended, through another descriptor, before any sync.
    #[test]
    fn mapped_appends_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs;
        let p = dir.path().join("seg");
        let mut w = fs.create(&p).unwrap();
        w.map_preallocated();
        let mut expect = Vec::new();
        let mut put = |w: &mut Box<dyn WritableFile>, data: &[u8]| {
            w.append(data).unwrap();
            expect.extend_from_slice(data);
            expect.clone()
        };
        put(&mut w, b"header");
        w.preallocate(10_000).unwrap();
        let chunk: Vec<u8> = (0..=255u8).cycle().take(777).collect();
        let mut cur = Vec::new();
        for _ in 0..20 {
            cur = put(&mut w, &chunk); // crosses the 10,000-byte end: the tail is a write
        }
        assert_eq!(w.position(), cur.len() as u64);
        let read_all = |len: usize| {
            let r = fs.open_read(&p).unwrap();
            let mut buf = vec![0u8; len];
            r.read_exact_at(&mut buf, 0).unwrap();
            buf
        };
        assert_eq!(fs.file_size(&p).unwrap(), cur.len() as u64);
        assert_eq!(read_all(cur.len()), cur);
        w.truncate(5_000).unwrap();
        let mut cut = cur[..5_000].to_vec();
        w.append(b"after the cut").unwrap();
        cut.extend_from_slice(b"after the cut");
        w.reserve(20_000).unwrap(); // allocated, not written: reads as zeros all the same
        w.append(&chunk).unwrap();
        cut.extend_from_slice(&chunk);
        assert_eq!(fs.file_size(&p).unwrap(), 20_000, "zero-filled ahead");
        let back = read_all(20_000);
        assert_eq!(&back[..cut.len()], &cut[..]);
        assert!(back[cut.len()..].iter().all(|&b| b == 0));
        w.sync_data().unwrap();
        drop(w);
        assert_eq!(&read_all(cut.len())[..], &cut[..], "after the map is gone");
    }

    #[test]
    fn write_read_lock_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let fs = RealFs;
        let p = dir.path().join("f");
        let mut w = fs.create(&p).unwrap();
        w.append(b"hello ").unwrap();
        w.append(b"world").unwrap();
        w.sync_data().unwrap();
        assert_eq!(w.position(), 11);
        let r = fs.open_read(&p).unwrap();
        let mut buf = [0u8; 5];
        r.read_exact_at(&mut buf, 6).unwrap();
        assert_eq!(&buf, b"world");
        assert!(r.read_exact_at(&mut buf, 8).is_err());
        w.preallocate(100).unwrap();
        assert_eq!(r.len().unwrap(), 100);
        assert_eq!(w.position(), 11);
        w.truncate(3).unwrap();
        assert_eq!(fs.file_size(&p).unwrap(), 3);
        let mut w2 = fs.open_append(&p).unwrap();
        assert_eq!(w2.position(), 3);
        w2.append(b"!").unwrap();
        assert_eq!(fs.file_size(&p).unwrap(), 4);

        let lock_path = dir.path().join("LOCK");
        let l = fs.lock(&lock_path).unwrap();
        let err = fs.lock(&lock_path).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        drop(l);
        fs.lock(&lock_path).unwrap();
        assert_eq!(fs.list_dir(dir.path()).unwrap(), vec!["LOCK", "f"]);
    }
}
