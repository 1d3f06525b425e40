//! [`LongKey`]: a user key too long to sit inside the skip-list node, in one heap block behind
//! an 8-byte pointer.
//!
//! Why not a `Box<[u8]>`: that is a 16-byte fat pointer, and [`MemKey`](crate::MemKey) would
//! grow from 40 to 48 bytes for every key, short ones included. The earlier thin pointer, a
//! `Box<Box<[u8]>>`, took two heap blocks per long key (a 16-byte one for the inner pointer,
//! then the bytes) and two dependent loads to reach the bytes when a search had to compare
//! past the first 16 bytes. Here the length is stored in front of the bytes, in the same block:
//! `[len: u32, little-endian][bytes]`, allocated with alignment 4.
//!
//! Keys are at most `u32::MAX` bytes (the engine refuses keys over 1 GiB long before this).
//!
//! Measured (`cargo run --release -p memtable --example entry_cost -- 1000000 100 K`, 2-vCPU VM,
//! 2026-11-28, three interleaved runs each): 32-byte keys 270.8 -> 238.7 bytes of RSS per entry
//! and a median 3814 -> 3296 ns per insert; 48-byte keys 286.7 -> 254.7 bytes and 4273 -> 3491
//! ns (the example's keys are zero-padded decimals, so their first 16 bytes tie often and the
//! search reads the long key). 16-byte keys do not come here: unchanged.

#![allow(unsafe_code)]

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::fmt;
use std::ptr::NonNull;

/// Bytes of the length header in front of the key.
const HEADER: usize = 4;

/// A user key in one heap block: `[len: u32 LE][bytes]`.
pub(crate) struct LongKey {
    /// The block's start (the header); never dangling while `self` lives.
    ptr: NonNull<u8>,
}

// SAFETY: `LongKey` owns its block exclusively (no other pointer to it exists) and never
// mutates it after `new`; sending it or sharing `&LongKey` between threads is as safe as for
// a `Box<[u8]>`.
unsafe impl Send for LongKey {}
// SAFETY: as above: `&LongKey` only reads immutable bytes.
unsafe impl Sync for LongKey {}

impl LongKey {
    /// Copies `key` into a new block.
    pub(crate) fn new(key: &[u8]) -> LongKey {
        let len = u32::try_from(key.len()).expect("a user key is at most u32::MAX bytes");
        let layout = Self::layout(key.len());
        // SAFETY: the layout's size is at least HEADER (4) bytes, never zero.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout);
        };
        // SAFETY: the block is `HEADER + key.len()` bytes, freshly allocated (so it does not
        // overlap `key`): the header's 4 bytes go at its start, the key right after them.
        unsafe {
            std::ptr::copy_nonoverlapping(len.to_le_bytes().as_ptr(), ptr.as_ptr(), HEADER);
            std::ptr::copy_nonoverlapping(key.as_ptr(), ptr.as_ptr().add(HEADER), key.len());
        }
        LongKey { ptr }
    }

    /// The key's bytes.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `new` wrote the header and `len` key bytes after it into a live block that
        // nothing mutates; the slice borrows `self`, so the block outlives it.
        unsafe {
            let len = self.len();
            std::slice::from_raw_parts(self.ptr.as_ptr().add(HEADER), len)
        }
    }

    /// The length from the header.
    #[inline]
    fn len(&self) -> usize {
        let mut header = [0u8; HEADER];
        // SAFETY: the block starts with the 4 header bytes `new` wrote.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), header.as_mut_ptr(), HEADER) };
        u32::from_le_bytes(header) as usize
    }

    fn layout(key_len: usize) -> Layout {
        Layout::from_size_align(HEADER + key_len, 4).expect("a key's block fits a layout")
    }
}

impl Drop for LongKey {
    fn drop(&mut self) {
        // SAFETY: the block was allocated by `new` with exactly this layout (its length is in
        // the header) and is freed once, here.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len())) };
    }
}

impl Clone for LongKey {
    fn clone(&self) -> LongKey {
        LongKey::new(self.bytes())
    }
}

impl fmt::Debug for LongKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LongKey").field(&self.bytes()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_bytes_of_any_length() {
        for len in [0usize, 1, 3, 4, 5, 22, 23, 64, 1000, 70_000] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
            let k = LongKey::new(&key);
            assert_eq!(k.bytes(), &key[..], "{len}");
            let c = k.clone();
            drop(k);
            assert_eq!(c.bytes(), &key[..], "a clone owns its own block");
        }
    }

    #[test]
    fn is_one_pointer_and_option_costs_nothing() {
        assert_eq!(std::mem::size_of::<LongKey>(), 8);
        assert_eq!(std::mem::size_of::<Option<LongKey>>(), 8);
    }

    #[test]
    fn moves_between_threads() {
        let k = LongKey::new(b"a key long enough to have been spilled out of the node");
        let back = std::thread::spawn(move || {
            assert!(k.bytes().starts_with(b"a key"));
            k
        })
        .join()
        .unwrap();
        assert_eq!(back.bytes().len(), 54);
    }
}
