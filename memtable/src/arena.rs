//! The bump arena that holds the memtable's values.
//!
//! Why: a value in its own heap block (an `Arc<[u8]>`) cost a `malloc` per insert, 16 bytes of
//! reference counts, malloc's header and rounding, a `free` per entry when the memtable was
//! dropped (glibc then merges millions of small blocks, `malloc_consolidate`), and an atomic
//! increment for every entry a cursor copied. Replaying 1 GiB of WAL into a fresh process
//! spent about 10% of the inserting thread in `malloc` and a fifth in first-touch page faults
//! of a 2.3 GB heap. Here values are copied into 1 MiB chunks, back to back, and a skip-list
//! entry holds a [`Slice`] (pointer and length, no counts); the chunks are freed whole with
//! the memtable. See the commit that introduced this file for the measurements.
//!
//! Safety model. A chunk is allocated once and freed only in `Drop for Arena`. [`Arena::copy`]
//! reserves a range of a chunk under the mutex (each byte is reserved at most once), then
//! writes the bytes outside the mutex: no two writers touch the same byte, and nobody reads a
//! range before its writer has published the [`Slice`] (it goes into the skip list, whose
//! insert is a release store and whose readers load with acquire, so the bytes happen before
//! any read). A range is never written again once published, so shared `&[u8]` over it stay
//! valid until the arena is dropped. [`Slice::bytes`] is `unsafe` because the borrow checker
//! cannot see which arena a slice came from: callers pass the arena that made it.

#![allow(unsafe_code)]

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;
use std::sync::Mutex;

/// Bytes per chunk. Values longer than a quarter of this get a block of their own, so a
/// chunk never wastes more than a quarter at its end.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;

/// A run of bytes in an [`Arena`]: where it starts and how long it is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slice {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a `Slice` is a shared, read-only view of bytes that are never written again after
// it was made (see the module's safety model); sending or sharing it across threads is as safe
// as sending a `&[u8]` whose owner (the arena) outlives every use.
unsafe impl Send for Slice {}
// SAFETY: as above.
unsafe impl Sync for Slice {}

impl Slice {
    /// The bytes.
    ///
    /// # Safety
    /// `self` was returned by `arena.copy`, and the returned borrow does not outlive `arena`
    /// (the lifetime ties them).
    pub(crate) unsafe fn bytes<'a>(&self, arena: &'a Arena) -> &'a [u8] {
        let _ = arena;
        // SAFETY: by the caller's promise the range lies in a chunk of `arena`, which lives
        // for 'a; it was fully written before this slice was published and is never written
        // again. A zero-length slice uses a dangling, aligned pointer, which is allowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The length in bytes.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// Append-only storage for byte strings that live as long as the arena.
pub(crate) struct Arena {
    inner: Mutex<Inner>,
}

struct Inner {
    /// The next free byte of the current chunk (dangling while there is none).
    next: NonNull<u8>,
    /// Free bytes left after `next` in the current chunk.
    left: usize,
    /// Every block allocated, with its size, to free on drop.
    blocks: Vec<(NonNull<u8>, usize)>,
    /// The sum of the block sizes.
    allocated: usize,
}

// SAFETY: the raw pointers in `Inner` point into blocks the arena owns; they are only used
// under the mutex (reservation) or to free the blocks in `drop` (exclusive access).
unsafe impl Send for Inner {}

impl Arena {
    /// An empty arena; the first copy allocates the first chunk.
    pub(crate) fn new() -> Arena {
        Arena {
            inner: Mutex::new(Inner {
                next: NonNull::dangling(),
                left: 0,
                blocks: Vec::new(),
                allocated: 0,
            }),
        }
    }

    /// Copies `bytes` into the arena and returns where they are.
    pub(crate) fn copy(&self, bytes: &[u8]) -> Slice {
        let len = bytes.len();
        if len == 0 {
            return Slice {
                ptr: NonNull::dangling(),
                len: 0,
            };
        }
        let dst = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if len > CHUNK_BYTES / 4 {
                inner.block(len)
            } else {
                if inner.left < len {
                    inner.next = inner.block(CHUNK_BYTES);
                    inner.left = CHUNK_BYTES;
                }
                let dst = inner.next;
                // SAFETY: `len <= left`, so `next + len` is within (or one past the end of)
                // the current chunk.
                inner.next = unsafe { NonNull::new_unchecked(dst.as_ptr().add(len)) };
                inner.left -= len;
                dst
            }
        };
        // SAFETY: `dst..dst+len` was reserved above for this call alone (the mutex hands out
        // each byte once) and lies inside a live block; `bytes` is a different allocation.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst.as_ptr(), len) };
        Slice { ptr: dst, len }
    }

    /// Bytes of memory the arena holds (every block, used or not).
    #[cfg(test)]
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .allocated
    }
}

impl Inner {
    /// Allocates a block of `size` (> 0) bytes and records it for `drop`.
    fn block(&mut self, size: usize) -> NonNull<u8> {
        let layout = Layout::from_size_align(size, 1).expect("a block size below isize::MAX");
        // SAFETY: `size > 0` (callers pass CHUNK_BYTES or a non-empty value's length).
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        self.blocks.push((ptr, size));
        self.allocated += size;
        ptr
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let inner = self.inner.get_mut().unwrap_or_else(|p| p.into_inner());
        for &(ptr, size) in &inner.blocks {
            let layout = Layout::from_size_align(size, 1).expect("the layout it was made with");
            // SAFETY: `ptr` was allocated in `block` with this layout and is freed once; the
            // arena is being dropped, so no `Slice::bytes` borrow of it is alive.
            unsafe { dealloc(ptr.as_ptr(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn copies_read_back_across_chunks_and_large_blocks() {
        let arena = Arena::new();
        let mut made = Vec::new();
        // About 3 chunks of small values, some empty, and values over a quarter chunk.
        for i in 0..30_000usize {
            let len = match i % 1000 {
                0 => 0,
                999 => CHUNK_BYTES / 4 + 1 + i,
                _ => i % 200,
            };
            let v: Vec<u8> = (0..len).map(|j| (i * 31 + j) as u8).collect();
            made.push((arena.copy(&v), v));
        }
        for (slice, v) in &made {
            assert_eq!(slice.len(), v.len());
            // SAFETY: `slice` came from `arena`, which outlives the borrow.
            assert_eq!(unsafe { slice.bytes(&arena) }, &v[..]);
        }
        assert!(arena.allocated_bytes() >= made.iter().map(|(_, v)| v.len()).sum::<usize>());
    }

    #[test]
    fn concurrent_copies_do_not_overlap() {
        let arena = Arc::new(Arena::new());
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let arena = Arc::clone(&arena);
                std::thread::spawn(move || {
                    (0..20_000usize)
                        .map(|i| {
                            let v = vec![t; 1 + i % 97];
                            (arena.copy(&v), v)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let all: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        for (slice, v) in &all {
            // SAFETY: `slice` came from `arena`, which outlives the borrow.
            assert_eq!(unsafe { slice.bytes(&arena) }, &v[..]);
        }
    }
}
