//! The file-system seam: every file the engine touches is opened through [`FileSystem`].
//!
//! Three implementations live here:
//! - [`real::RealFs`]: the operating system's files (`pwrite`/`pread`, `fdatasync`, directory fsync;
//!   read-only maps for [`FileSystem::open_read_mapped`], see `read_map.rs`).
//! - [`mem::MemFs`]: an in-memory file system that can [`crash`](mem::MemFs::crash), keeping
//!   exactly what was made durable: file bytes up to the last `sync_data`/`sync_all`, and directory
//!   entries (creations, renames, removals) up to the last `sync_dir` of their directory.
//! - [`fault::FaultyFs`]: a wrapper that fails a chosen operation (an fsync, a write, a rename, ...),
//!   optionally leaving a short write behind, to test error paths and poisoning.
//!
//! Durability rules the engine relies on (and the simulated file system enforces):
//! 1. Bytes appended to a file survive a crash only after `sync_data`/`sync_all` on that file.
//! 2. A new file's name, a rename and a removal survive a crash only after `sync_dir` on the
//!    directory that holds the name (both directories for a rename across directories).
//! 3. So creating a durable file is: create, write, sync the file, sync the directory.
//!    Replacing a file atomically is: write a temporary, sync it, rename, sync the directory.

pub mod fault;
#[cfg(unix)]
mod mapped;
pub mod mem;
#[cfg(unix)]
mod read_map;
pub mod real;
mod writeback;

use std::any::Any;
use std::fmt::Debug;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A file system: the one seam through which all file I/O of the engine passes.
pub trait FileSystem: Send + Sync + Debug + 'static {
    /// Creates a file for writing, truncating it if it exists. The write cursor starts at 0.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens an existing file for writing with the cursor at its current end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens an existing file for positioned reads; the handle may be shared between threads.
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>>;
    /// [`open_read`](FileSystem::open_read) for a file that nobody writes while it is open
    /// (a finished table): a file system that can may map it, and then
    /// [`RandomAccessFile::mapped`] lends its bytes without a read call (see `read_map.rs` for
    /// what a map cannot report). Default: `open_read`, no map.
    fn open_read_mapped(&self, path: &Path) -> io::Result<Arc<dyn RandomAccessFile>> {
        self.open_read(path)
    }
    /// Renames a file, replacing `to` if it exists. Durable after `sync_dir`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file. Durable after `sync_dir`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Lists the names of the entries of a directory, sorted.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Whether a file or directory exists.
    fn exists(&self, path: &Path) -> bool;
    /// Whether the path is a directory.
    fn is_dir(&self, path: &Path) -> bool;
    /// The length of a file in bytes.
    fn file_size(&self, path: &Path) -> io::Result<u64>;
    /// Makes the directory's entries (creations, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Creates a hard link `to` naming the same file as `from` (for checkpoints). Durable after
    /// `sync_dir` of the directory of `to`.
    fn hard_link(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Takes an exclusive lock on the file at `path` (created if missing), held until the returned
    /// guard is dropped. Fails with [`io::ErrorKind::WouldBlock`] if another holder has it.
    fn lock(&self, path: &Path) -> io::Result<DirLock>;
    /// Whether its writable files honour [`WritableFile::map_preallocated`] (default false).
    fn maps_files(&self) -> bool {
        false
    }
}

/// A file open for writing. Writes go to the cursor and advance it.
pub trait WritableFile: Send + Sync + Debug {
    /// Writes all of `data` at the cursor and advances the cursor.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes the file's data durable (`fdatasync`).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes the file's data and metadata durable (`fsync`).
    fn sync_all(&mut self) -> io::Result<()>;
    /// The write cursor: where the next `append` writes.
    fn position(&self) -> u64;
    /// Sets the file's length to `len` (cutting or zero-extending) and moves the cursor there.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Makes the file at least `len` bytes long, zero-filled past its old end, without moving
    /// the cursor. Lets a log write into space whose size is already on disk.
    fn preallocate(&mut self, len: u64) -> io::Result<()>;
    /// As [`preallocate`](WritableFile::preallocate), but the space need only be allocated
    /// and read as zeros, not written: the real file system uses `fallocate`, which costs no
    /// page-cache writes, while the first fdatasync after data lands there also commits the
    /// extents' conversion (so a log that fdatasyncs every append prefers `preallocate`).
    /// Default: `preallocate`.
    fn reserve(&mut self, len: u64) -> io::Result<()> {
        self.preallocate(len)
    }
    /// Asks that from now on an `append` inside the preallocated length be a copy into a
    /// shared memory map of the file instead of a `write` call: the same page-cache pages,
    /// so the bytes are as safe from a process crash, without a system call. Space past the
    /// preallocated length is still written by `write`. A hint: a file system without maps
    /// ignores it (the default). Errors, if any, surface in the later calls.
    fn map_preallocated(&mut self) {}
    /// Asks the operating system to start writing `[offset, offset + len)` to the device now,
    /// without waiting for it (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that a
    /// later [`sync_data`](WritableFile::sync_data) has less left to wait for. A hint and
    /// never a durability point: only `sync_data`/`sync_all` make data durable. Default:
    /// nothing.
    fn start_writeback(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let _ = (offset, len);
        Ok(())
    }
}

/// A file open for positioned reads, shareable between threads.
pub trait RandomAccessFile: Send + Sync + Debug {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read (0 at the end).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// The current length of the file.
    fn len(&self) -> io::Result<u64>;
    /// The file's bytes (as long as it was when opened), when it was opened with
    /// [`FileSystem::open_read_mapped`] and is mapped; reads may take them from here instead
    /// of calling [`read_at`](RandomAccessFile::read_at). Default: `None`.
    fn mapped(&self) -> Option<&[u8]> {
        None
    }
    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("file ends before offset {}", offset + buf.len() as u64),
                    ))
                }
                Ok(n) => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// An exclusive lock on a directory's lock file; released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _guard: Box<dyn Any + Send + Sync>,
}

impl DirLock {
    /// Wraps whatever keeps the lock held (a locked file, a registry entry, ...).
    pub fn new(guard: Box<dyn Any + Send + Sync>) -> Self {
        DirLock { _guard: guard }
    }
}

/// Returns the directory that holds `path` (`.` for a bare name).
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}
