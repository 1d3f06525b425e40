//! A private, read-only memory map of a whole file: its bytes as a slice, read with no system
//! call and no copy.
//!
//! Why: a table's blocks were read with `pread`, and on a cold `seekrandom` (a seek and a
//! 100-key scan over a table larger than the block cache) the kernel's copy out of the page
//! cache (`_copy_to_iter`, `filemap_get_read_batch`, the syscall) cost about 15% of the time.
//! Through a map the decoder reads the page-cache pages themselves; a page costs a minor fault
//! the first time this process touches it (and the kernel maps up to 16 cached neighbours
//! with it), not a copy per read.
//!
//! Where it is used: only for files that are never written again while open, which is what
//! [`FileSystem::open_read_mapped`](super::FileSystem::open_read_mapped) promises its callers
//! ask for (the engine's tables: written once, synced, then only read, and replaced by new
//! files rather than modified). Unlinking a mapped file is harmless: the map keeps its pages.
//! What a map cannot turn into an error: another process truncating the file under it, or an
//! I/O error while the kernel reads back a page it had evicted; either raises `SIGBUS` where a
//! `pread` would have failed. Both are outside what the engine defends against (its directory
//! is locked; LevelDB maps its tables by default under the same terms). A file system that
//! must report such failures (the in-memory and fault-injecting ones) does not map.
//!
//! Bound: at most [`MAX_READ_MAPS`] maps live in the process at once (each is one kernel map
//! area, and the kernel allows about 65 000 per process); a file opened past that is read with
//! `pread` instead.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The most read-only maps alive at once in the process.
pub(crate) const MAX_READ_MAPS: usize = 4096;

static LIVE_READ_MAPS: AtomicUsize = AtomicUsize::new(0);

/// The first `len` bytes of a file, mapped private and read-only.
#[derive(Debug)]
pub(crate) struct ReadMap {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapped memory is never written (PROT_READ) and lives until `drop`, so reading
// it from any thread, through shared or moved owners, is sound.
unsafe impl Send for ReadMap {}
// SAFETY: as above; `&ReadMap` only reads.
unsafe impl Sync for ReadMap {}

impl ReadMap {
    /// Maps the first `len` bytes of `file` (`len` > 0, at most the file's length). `Ok(None)`
    /// if [`MAX_READ_MAPS`] maps are alive or `len` does not fit the address space.
    pub fn new(file: &File, len: u64) -> io::Result<Option<ReadMap>> {
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        if len == 0 {
            return Ok(None);
        }
        let claimed = LIVE_READ_MAPS
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < MAX_READ_MAPS).then_some(n + 1)
            })
            .is_ok();
        if !claimed {
            return Ok(None);
        }
        // SAFETY: a fresh mapping at an address the kernel picks (no existing memory is
        // replaced); the descriptor is valid for the call; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            LIVE_READ_MAPS.fetch_sub(1, Ordering::Relaxed);
            return Err(io::Error::last_os_error());
        }
        Ok(Some(ReadMap {
            ptr: ptr.cast_const().cast(),
            len,
        }))
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes until `drop` (which needs
        // `&mut self`, so not while this borrow lives). Nothing in this process writes it
        // (PROT_READ, private). The file under it is not modified while it is open (the
        // caller's promise, see the module doc), so the bytes do not change under the slice.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for ReadMap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped once, here; no slice
        // from `bytes` outlives `self`.
        unsafe {
            libc::munmap(self.ptr.cast_mut().cast(), self.len);
        }
        LIVE_READ_MAPS.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn maps_the_files_bytes_and_refuses_nothing_to_map() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        File::create(&path).unwrap().write_all(&data).unwrap();
        let file = File::open(&path).unwrap();
        let map = ReadMap::new(&file, data.len() as u64).unwrap().unwrap();
        assert_eq!(map.bytes(), &data[..]);
        // Unlinking the file leaves the map readable.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(map.bytes()[9_999], data[9_999]);
        assert!(ReadMap::new(&file, 0).unwrap().is_none());
    }
}
