//! A double-ended cursor over one block's entries (`docs/sstable-format.md`, "Blocks").
//!
//! Keys are encoded internal keys. Every entry is checked as it is decoded: its header and bytes
//! lie inside the entries area, its shared prefix is no longer than the previous key, its key
//! holds an 8-byte trailer with a known kind, and keys strictly increase. A bad entry is an
//! error, never a skip and never a panic.

use crate::block::{Block, BlockError};
use common::coding::Reader;
use common::ikey::compare_encoded;
use common::{SeqNo, ValueKind};
use std::cmp::Ordering;
use std::sync::Arc;

type Result<T> = std::result::Result<T, BlockError>;

/// A cursor over one block. Owns an `Arc` of the block, so it may outlive the cache entry.
#[derive(Debug)]
pub struct BlockIter {
    block: Arc<Block>,
    /// Offset of the current entry; `restarts_offset` when not positioned.
    current: usize,
    /// Offset of the entry after the current one.
    next: usize,
    /// The restart point at or before `current`.
    restart_index: usize,
    /// The offset of restart point `restart_index + 1` (`usize::MAX` past the last), so that a
    /// step forward tests one field rather than reading the restart array.
    next_restart: usize,
    key: Vec<u8>,
    scratch: Vec<u8>,
    value_start: usize,
    value_end: usize,
    seq: SeqNo,
    kind: ValueKind,
    /// The entries of the restart interval the last `prev` scanned, so that further steps
    /// back within it need no rescan. Valid only while `back_valid`; any other move clears it.
    back: Vec<BackEntry>,
    /// The keys of `back`, back to back.
    back_keys: Vec<u8>,
    /// Index in `back` of the current entry.
    back_pos: usize,
    back_valid: bool,
}

/// One entry remembered by `prev`: where it is and where its key sits in `back_keys`.
#[derive(Debug, Clone, Copy)]
struct BackEntry {
    offset: usize,
    next: usize,
    key_start: usize,
    key_end: usize,
    value_start: usize,
    value_end: usize,
    seq: SeqNo,
    kind: ValueKind,
}

impl BlockIter {
    pub(crate) fn new(block: Arc<Block>) -> Self {
        Self::with_buffers(block, (Vec::new(), Vec::new()))
    }

    /// A cursor that builds keys in the given buffers (cleared first), so that a caller can
    /// reuse them from cursor to cursor; [`BlockIter::into_buffers`] hands them back.
    pub(crate) fn with_buffers(block: Arc<Block>, buffers: (Vec<u8>, Vec<u8>)) -> Self {
        let end = block.restarts_offset();
        let (mut key, mut scratch) = buffers;
        key.clear();
        scratch.clear();
        BlockIter {
            block,
            current: end,
            next: end,
            restart_index: 0,
            next_restart: usize::MAX,
            key,
            scratch,
            value_start: 0,
            value_end: 0,
            seq: 0,
            kind: ValueKind::Put,
            back: Vec::new(),
            back_keys: Vec::new(),
            back_pos: 0,
            back_valid: false,
        }
    }

    /// The key buffers, for the next [`BlockIter::with_buffers`].
    pub(crate) fn into_buffers(self) -> (Vec<u8>, Vec<u8>) {
        (self.key, self.scratch)
    }

    /// Whether the cursor is on an entry.
    #[inline]
    pub fn valid(&self) -> bool {
        self.current < self.block.restarts_offset()
    }

    /// The current entry's encoded internal key (requires `valid()`).
    #[inline]
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current entry's user key (requires `valid()`).
    #[inline]
    pub fn user_key(&self) -> &[u8] {
        &self.key[..self.key.len().saturating_sub(8)]
    }

    /// The current entry's sequence number (requires `valid()`).
    #[inline]
    pub fn seq(&self) -> SeqNo {
        self.seq
    }

    /// The current entry's kind (requires `valid()`).
    #[inline]
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// The current entry's value (requires `valid()`).
    #[inline]
    pub fn value(&self) -> &[u8] {
        &self.block.data()[self.value_start..self.value_end]
    }

    fn invalidate(&mut self) {
        self.back_valid = false;
        self.current = self.block.restarts_offset();
        self.next = self.current;
        self.key.clear();
    }

    #[cold]
    #[inline(never)]
    fn fail<T>(&mut self, offset: usize, reason: impl Into<String>) -> Result<T> {
        self.invalidate();
        Err(BlockError::new(offset, reason))
    }

    fn seek_to_restart(&mut self, i: usize) {
        self.key.clear();
        self.restart_index = i;
        self.next = self.block.restart_point(i);
        self.next_restart = self.restart_after(i);
    }

    /// The offset of restart point `i + 1`, or `usize::MAX` if `i` is the last.
    fn restart_after(&self, i: usize) -> usize {
        if i + 1 < self.block.num_restarts() {
            self.block.restart_point(i + 1)
        } else {
            usize::MAX
        }
    }

    /// Decodes the entry at `self.next` and makes it current; `Ok(false)` at the end.
    fn parse_next(&mut self, check_order: bool) -> Result<bool> {
        let p = self.next;
        let limit = self.block.restarts_offset();
        if p >= limit {
            self.invalidate();
            return Ok(false);
        }
        let e = match locate_entry(&self.block.data()[..limit], p, self.key.len()) {
            Ok(e) => e,
            Err(reason) => return self.fail(p, reason),
        };
        // Borrows of disjoint fields: the block's bytes, and the key buffers.
        let data = self.block.data();
        let suffix = &data[e.suffix_start..e.value_start];
        let ordered = check_order && self.valid();
        // The usual step: both user keys go past the shared bytes and the first byte after
        // them is greater, which proves the order; the key is then rebuilt in place.
        let in_place = !ordered
            || (e.shared < self.key.len().saturating_sub(8)
                && suffix.len() > 8
                && suffix.first() > self.key.get(e.shared));
        if in_place {
            self.key.truncate(e.shared);
            self.key.extend_from_slice(suffix);
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.key[..e.shared]);
            self.scratch.extend_from_slice(suffix);
            if !follows(&self.key, &self.scratch, e.shared) {
                return self.fail(p, "keys are not in strictly increasing order");
            }
            std::mem::swap(&mut self.key, &mut self.scratch);
        }
        let Some((seq, kind)) = trailer_of(&self.key) else {
            return self.fail(
                p,
                "key is shorter than its 8-byte trailer or has an unknown kind",
            );
        };
        self.seq = seq;
        self.kind = kind;
        self.current = p;
        self.next = e.value_end;
        self.value_start = e.value_start;
        self.value_end = e.value_end;
        while p >= self.next_restart {
            self.restart_index += 1;
            self.next_restart = self.restart_after(self.restart_index);
        }
        Ok(true)
    }

    /// Moves to the first entry (invalid if the block is empty).
    pub fn seek_to_first(&mut self) -> Result<()> {
        if self.block.num_restarts() == 0 {
            self.invalidate();
            return Ok(());
        }
        self.invalidate();
        self.seek_to_restart(0);
        self.parse_next(false).map(|_| ())
    }

    /// Moves to the last entry (invalid if the block is empty).
    pub fn seek_to_last(&mut self) -> Result<()> {
        let n = self.block.num_restarts();
        self.invalidate();
        if n == 0 {
            return Ok(());
        }
        self.seek_to_restart(n - 1);
        if !self.parse_next(false)? {
            return Ok(());
        }
        while self.next < self.block.restarts_offset() {
            self.parse_next(true)?;
        }
        Ok(())
    }

    /// Moves to the next entry; invalid past the last. (Named like the cursor method of
    /// [`common::InternalIterator`]; a block cursor is not a `std::iter::Iterator`.)
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<()> {
        self.back_valid = false;
        if self.valid() {
            self.parse_next(true)?;
        }
        Ok(())
    }

    /// Moves to the previous entry; invalid before the first.
    pub fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        if self.back_valid && self.back_pos > 0 {
            // Still inside the interval the last step back scanned.
            self.back_pos -= 1;
            let e = self.back[self.back_pos];
            self.current = e.offset;
            self.next = e.next;
            self.key.clear();
            self.key
                .extend_from_slice(&self.back_keys[e.key_start..e.key_end]);
            self.value_start = e.value_start;
            self.value_end = e.value_end;
            self.seq = e.seq;
            self.kind = e.kind;
            return Ok(());
        }
        let original = self.current;
        let mut ri = self.restart_index;
        while self.block.restart_point(ri) >= original {
            if ri == 0 {
                self.invalidate();
                return Ok(());
            }
            ri -= 1;
        }
        self.invalidate();
        self.back.clear();
        self.back_keys.clear();
        self.seek_to_restart(ri);
        if !self.parse_next(false)? {
            return self.fail(original, "restart point has no entry");
        }
        self.remember();
        while self.next < original {
            self.parse_next(true)?;
            self.remember();
        }
        if self.next != original {
            return self.fail(original, "restart point is not on an entry boundary");
        }
        self.back_pos = self.back.len() - 1;
        self.back_valid = true;
        Ok(())
    }

    /// Adds the current entry to `back`.
    fn remember(&mut self) {
        let key_start = self.back_keys.len();
        self.back_keys.extend_from_slice(&self.key);
        self.back.push(BackEntry {
            offset: self.current,
            next: self.next,
            key_start,
            key_end: self.back_keys.len(),
            value_start: self.value_start,
            value_end: self.value_end,
            seq: self.seq,
            kind: self.kind,
        });
    }

    /// The full key stored at restart point `i` (whose shared prefix must be 0).
    fn restart_key(&self, i: usize) -> Result<&[u8]> {
        let p = self.block.restart_point(i);
        let entries = &self.block.data()[..self.block.restarts_offset()];
        match header(entries, p) {
            Some((0, n, _, at)) => usize::try_from(n)
                .ok()
                .and_then(|n| entries.get(at..at.checked_add(n)?))
                .ok_or_else(|| BlockError::new(p, "restart key runs past the entries")),
            _ => Err(BlockError::new(
                p,
                "restart entry has a shared prefix or a bad header",
            )),
        }
    }

    /// Moves to the first entry whose encoded internal key is `>= target`.
    pub fn seek(&mut self, target: &[u8]) -> Result<()> {
        let n = self.block.num_restarts();
        self.invalidate();
        if n == 0 {
            return Ok(());
        }
        // Room for keys about as long as the target, so that rebuilding keys does not regrow.
        let room = target.len() + 16;
        self.key.reserve(room);
        self.scratch
            .reserve(room.saturating_sub(self.scratch.len()));
        // The last restart point whose key is < target.
        let (mut left, mut right) = (0, n - 1);
        while left < right {
            let mid = (left + right).div_ceil(2);
            let less = match self.restart_key(mid) {
                Ok(k) => compare_encoded(k, target) == Ordering::Less,
                Err(e) => return self.fail(e.offset, e.reason),
            };
            if less {
                left = mid;
            } else {
                right = mid - 1;
            }
        }
        self.seek_to_restart(left);
        if !self.parse_next(false)? {
            return Ok(());
        }
        while compare_encoded(&self.key, target) == Ordering::Less {
            if !self.parse_next(true)? {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The sequence number and kind of an encoded internal key (as `common::ikey::split_encoded`,
/// inlined into the cursor's step); `None` if it is shorter than its trailer or of an unknown
/// kind.
#[inline]
fn trailer_of(key: &[u8]) -> Option<(SeqNo, ValueKind)> {
    let trailer = u64::from_le_bytes(*key.last_chunk::<8>()?);
    let kind = match trailer & 0xff {
        0 => ValueKind::Delete,
        1 => ValueKind::Put,
        _ => return None,
    };
    Some((trailer >> 8, kind))
}

/// Where the parts of the entry at `p` lie in `entries` (the block's entries area).
struct EntrySpan {
    shared: usize,
    suffix_start: usize,
    /// Also where the key suffix ends.
    value_start: usize,
    value_end: usize,
}

/// An entry's header at `p`: (shared, non-shared, value length, offset after the header).
/// Decodes the common case of three one-byte varints without the general varint loop.
fn header(entries: &[u8], p: usize) -> Option<(u64, u64, u64, usize)> {
    let b = entries.get(p..)?;
    if let [s, n, v, ..] = *b {
        if (s | n | v) < 0x80 {
            return Some((u64::from(s), u64::from(n), u64::from(v), p + 3));
        }
    }
    let mut r = Reader::new(b);
    let (s, n, v) = (r.varint()?, r.varint()?, r.varint()?);
    Some((s, n, v, p + r.position()))
}

/// What is wrong with an entry, for [`bad_entry`].
enum EntryFault {
    Header,
    /// Shared bytes, and the previous key's length.
    Shared(u64, usize),
    Suffix(u64),
    Value(u64),
}

/// The reason for an entry that does not decode (out of the cursor's hot path).
#[cold]
#[inline(never)]
fn bad_entry(fault: EntryFault) -> String {
    match fault {
        EntryFault::Header => "entry header is truncated or its varints are malformed".into(),
        EntryFault::Shared(shared, prev) => {
            format!("entry shares {shared} bytes with a previous key of {prev} bytes")
        }
        EntryFault::Suffix(n) => format!("key suffix of {n} bytes runs past the entries"),
        EntryFault::Value(n) => format!("value of {n} bytes runs past the entries"),
    }
}

/// Checks the entry at `p` against the entries area and the previous key's length.
fn locate_entry(
    entries: &[u8],
    p: usize,
    prev_key_len: usize,
) -> std::result::Result<EntrySpan, String> {
    let Some((shared, non_shared, value_len, suffix_start)) = header(entries, p) else {
        return Err(bad_entry(EntryFault::Header));
    };
    if shared > prev_key_len as u64 {
        return Err(bad_entry(EntryFault::Shared(shared, prev_key_len)));
    }
    let end = |start: usize, n: u64| {
        usize::try_from(n)
            .ok()
            .and_then(|n| start.checked_add(n))
            .filter(|&e| e <= entries.len())
    };
    let Some(value_start) = end(suffix_start, non_shared) else {
        return Err(bad_entry(EntryFault::Suffix(non_shared)));
    };
    let Some(value_end) = end(value_start, value_len) else {
        return Err(bad_entry(EntryFault::Value(value_len)));
    };
    Ok(EntrySpan {
        shared: shared as usize,
        suffix_start,
        value_start,
        value_end,
    })
}

/// Whether encoded key `next`, which shares its first `shared` bytes with `prev`, sorts strictly
/// after `prev`. Where both user keys extend past the shared bytes, the first byte after them
/// decides; otherwise (or on equal bytes, which an honest encoder would have shared) the
/// full comparison does.
fn follows(prev: &[u8], next: &[u8], shared: usize) -> bool {
    let user_len = |k: &[u8]| k.len().saturating_sub(8);
    if shared < user_len(prev) && shared < user_len(next) {
        match next[shared].cmp(&prev[shared]) {
            Ordering::Greater => return true,
            Ordering::Less => return false,
            Ordering::Equal => {}
        }
    }
    compare_encoded(prev, next) == Ordering::Less
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::ikey::compare_encoded;
    use proptest::prelude::*;

    fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), Just(b'a'), any::<u8>()],
            0..14,
        )
    }

    /// A block of `(shared, key suffix)` entries with one-byte values and one restart point,
    /// written by hand so that it can hold keys out of order.
    fn raw_block(entries: &[(u8, Vec<u8>)]) -> Arc<Block> {
        let mut b = Vec::new();
        for (shared, suffix) in entries {
            b.extend_from_slice(&[*shared, suffix.len() as u8, 1]);
            b.extend_from_slice(suffix);
            b.push(b'v');
        }
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        Arc::new(Block::new(b).unwrap())
    }

    fn ik(user: &[u8], seq: u64) -> Vec<u8> {
        common::InternalKey::new(user, seq, ValueKind::Put).encode()
    }

    /// Each way a step can prove (or fail to prove) the order: the first byte after the shared
    /// prefix (rebuilt in place), and the full comparison (same user key, one key a prefix of
    /// the other, an equal byte after the shared prefix).
    #[test]
    fn steps_check_the_order_both_ways() {
        let walk = |entries: &[(u8, Vec<u8>)]| -> Result<Vec<Vec<u8>>> {
            let block = raw_block(entries);
            let mut it = block.iter();
            it.seek_to_first()?;
            let mut keys = Vec::new();
            while it.valid() {
                keys.push(it.key().to_vec());
                it.next()?;
            }
            Ok(keys)
        };
        let tail = |k: Vec<u8>, from: usize| k[from..].to_vec();
        // In order: a greater byte after the shared prefix, a longer key, an older version.
        let ok = [
            (0, ik(b"ab", 9)),
            (1, tail(ik(b"ac", 9), 1)),
            (2, tail(ik(b"acd", 9), 2)),
            (0, ik(b"acd", 3)),
        ];
        assert_eq!(
            walk(&ok).unwrap(),
            vec![ik(b"ab", 9), ik(b"ac", 9), ik(b"acd", 9), ik(b"acd", 3)]
        );
        let bad: [&[(u8, Vec<u8>)]; 4] = [
            // A smaller byte after the shared prefix.
            &[(0, ik(b"ac", 9)), (1, tail(ik(b"ab", 9), 1))],
            // An equal byte that was not shared, then smaller.
            &[(0, ik(b"ac", 9)), (0, ik(b"ab", 9))],
            // The same user key, a newer version after an older one.
            &[(0, ik(b"ab", 3)), (0, ik(b"ab", 9))],
            // The same key twice.
            &[(0, ik(b"ab", 3)), (10, Vec::new())],
        ];
        for entries in bad {
            let e = walk(entries).unwrap_err();
            assert!(e.reason.contains("increasing order"), "{e}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// The shortcut agrees with the full comparison for every pair of keys that share a
        /// prefix of the length the entry claims.
        #[test]
        fn follows_agrees_with_compare_encoded(prev in small_bytes(), tail in small_bytes(), cut in 0usize..14) {
            let shared = cut.min(prev.len());
            let mut next = prev[..shared].to_vec();
            next.extend_from_slice(&tail);
            if prev.len() >= 8 && next.len() >= 8 {
                prop_assert_eq!(
                    follows(&prev, &next, shared),
                    compare_encoded(&prev, &next) == Ordering::Less
                );
            }
        }

        /// The header fast path decodes what the general varint reader decodes.
        #[test]
        fn header_matches_the_varint_reader(bytes in prop::collection::vec(any::<u8>(), 0..12), p in 0usize..4) {
            let slow = bytes.get(p..).and_then(|b| {
                let mut r = Reader::new(b);
                Some((r.varint()?, r.varint()?, r.varint()?, p + r.position()))
            });
            prop_assert_eq!(header(&bytes, p), slow);
        }
    }
}
