//! A shared, writable memory map of a file's allocated range: appends by `memcpy`.
//!
//! Why: under the `Os` policy a log must hand every acknowledged append to the operating
//! system before it returns (so a process crash loses nothing), and a `pwrite` of ~130
//! bytes cost about 20% of a single writer's time (the profile of `fillseq`: the syscall
//! entry, `ext4_da_write_begin`/`_end`, `filemap_get_entry`, dirty-page accounting). A store
//! into a `MAP_SHARED` mapping lands in the same page-cache page a `write` would fill, so it
//! survives the process exactly as the `write` does, with no system call; `fdatasync` on any
//! descriptor of the file writes back pages dirtied through the map as well.
//!
//! Where it is used: only over a range the file already has, zero-filled by real writes
//! (`WritableFile::preallocate`), so a store never extends the file or allocates a block at
//! fault time (no `SIGBUS` for a full disk; the space was reserved by the zero-filling
//! `write`). The remaining ways a store can fault fatally are another process truncating the
//! file, and an I/O error while reading back a page the kernel had evicted; both are outside
//! what the log defends against with or without the map, and the log's directory is locked.

#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;

/// `len` bytes of a file from `offset` (page-aligned), mapped shared and writable.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: *mut u8,
    offset: u64,
    len: usize,
}

// SAFETY: the mapping is owned by one `Mapping` and only written through `&mut self`; the
// pointer is not shared, so moving or sharing the owner between threads is sound.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` exposes no access to the memory (only its bounds).
unsafe impl Sync for Mapping {}

/// Allocates `[offset, offset + len)` of `file` (reads as zeros, extends the file), with
/// `fallocate`; `Ok(false)` if the file system does not support it.
pub(crate) fn allocate(file: &File, offset: u64, len: u64) -> io::Result<bool> {
    let (Ok(off), Ok(n)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "range too large",
        ));
    };
    // SAFETY: fallocate takes a descriptor and integers; the descriptor is valid for the call.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, off, n) };
    if r == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(false),
        _ => Err(e),
    }
}

/// The system's page size.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 on error, handled below.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

impl Mapping {
    /// Maps `[offset, end)` of `file`; `offset` must be a multiple of the page size and the
    /// file at least `end` bytes long.
    pub fn new(file: &File, offset: u64, end: u64) -> io::Result<Mapping> {
        debug_assert!(offset.is_multiple_of(page_size()) && end > offset);
        let len = usize::try_from(end - offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "mapping too large"))?;
        let off = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        // SAFETY: a fresh mapping at an address the kernel picks (no existing memory is
        // replaced); the descriptor is valid for the call; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                off,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            offset,
            len,
        })
    }

    /// Whether `[at, at + n)` of the file lies inside the mapping.
    pub fn covers(&self, at: u64, n: usize) -> bool {
        at >= self.offset && at - self.offset + n as u64 <= self.len as u64
    }

    /// Copies `data` to file offset `at` (which [`covers`](Mapping::covers) must accept), in
    /// ascending order, so that a process killed in the middle leaves a prefix of `data`.
    ///
    /// That order is the point: an interrupted `write` leaves a prefix too, and recovery
    /// tells a torn tail from damage by it (a bad frame with no valid frame after it). A
    /// libc `memcpy` stores the first bytes of a large copy last (it saves the unaligned
    /// head and writes it after the aligned body); killed mid-copy, it left 44 zero bytes
    /// followed by whole frames, which recovery rightly called corruption. So: byte stores
    /// up to 8-byte alignment, aligned 8-byte stores, byte stores for the rest, all
    /// volatile so the compiler keeps them in this order (on one CPU, the stores of an
    /// interrupted thread reach memory in program order up to the interruption).
    pub fn write(&mut self, at: u64, data: &[u8]) {
        assert!(self.covers(at, data.len()), "write outside the mapping");
        let start = (at - self.offset) as usize;
        // SAFETY: `covers` put `[start, start + len)` inside the live mapping of `self.len`
        // bytes, which nothing else in this process aliases (we own it, behind `&mut self`).
        // The file is at least `offset + len` long (the caller's contract in `new`, kept
        // because the owner drops the mapping before it truncates), so no store can fault
        // past the end. The 8-byte stores go to addresses aligned to 8 (checked below).
        unsafe {
            let dst = self.ptr.add(start);
            let n = data.len();
            let head = dst.align_offset(8).min(n);
            for (i, &b) in data[..head].iter().enumerate() {
                std::ptr::write_volatile(dst.add(i), b);
            }
            let mut i = head;
            while i + 8 <= n {
                let word = u64::from_ne_bytes(data[i..i + 8].try_into().expect("8 bytes"));
                debug_assert!((dst.add(i) as usize).is_multiple_of(8));
                std::ptr::write_volatile(dst.add(i).cast::<u64>(), word);
                i += 8;
            }
            for (j, &b) in data[i..].iter().enumerate() {
                std::ptr::write_volatile(dst.add(i + j), b);
            }
        }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped once, here.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}
