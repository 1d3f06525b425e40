//! A decoded block: its contents and its checked restart array (`docs/sstable-format.md`,
//! "Blocks"). [`crate::block_iter::BlockIter`] walks it.

use crate::block_iter::BlockIter;
use common::coding::get_u32;
use std::sync::Arc;

/// Why a block's contents do not decode. `offset` is within the block's (decompressed)
/// contents; the table reader adds the file and the block's offset in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockError {
    /// Byte offset within the block's contents.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

impl BlockError {
    pub(crate) fn new(offset: usize, reason: impl Into<String>) -> Self {
        BlockError {
            offset,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for BlockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at byte {} of the block)", self.reason, self.offset)
    }
}

/// The contents of one block, with a restart array that was checked on construction: every
/// restart offset lies inside the entries area and the offsets strictly increase.
#[derive(Debug)]
pub struct Block {
    data: Vec<u8>,
    restarts_offset: usize,
    num_restarts: usize,
}

impl Block {
    /// Checks the restart array of `data` and wraps it. Entries are checked as they are read.
    pub fn new(data: Vec<u8>) -> Result<Block, BlockError> {
        let len = data.len();
        let num = get_u32(&data, len.saturating_sub(4)).ok_or_else(|| {
            BlockError::new(0, format!("block of {len} bytes has no restart count"))
        })? as usize;
        let restarts_offset = num
            .checked_mul(4)
            .and_then(|r| len.checked_sub(r + 4))
            .ok_or_else(|| {
                BlockError::new(
                    len.saturating_sub(4),
                    format!("restart count {num} does not fit in a {len}-byte block"),
                )
            })?;
        if num == 0 && restarts_offset != 0 {
            return Err(BlockError::new(
                len - 4,
                "block has entries but no restart point",
            ));
        }
        let mut prev: Option<usize> = None;
        for i in 0..num {
            let at = restarts_offset + 4 * i;
            let r = get_u32(&data, at).unwrap_or(u32::MAX) as usize;
            let ok = r < restarts_offset && prev.is_none_or(|p| r > p) && (i > 0 || r == 0);
            if !ok {
                return Err(BlockError::new(
                    at,
                    format!("restart point {i} = {r} is out of order or outside the entries (which end at {restarts_offset})"),
                ));
            }
            prev = Some(r);
        }
        Ok(Block {
            data,
            restarts_offset,
            num_restarts: num,
        })
    }

    /// The block's contents, restart array included.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Where the entries end and the restart array begins.
    pub fn restarts_offset(&self) -> usize {
        self.restarts_offset
    }

    /// The number of restart points (0 only for an empty block).
    pub fn num_restarts(&self) -> usize {
        self.num_restarts
    }

    /// The offset of restart point `i` (checked on construction; `i < num_restarts()`).
    pub fn restart_point(&self, i: usize) -> usize {
        get_u32(&self.data, self.restarts_offset + 4 * i).unwrap_or(0) as usize
    }

    /// The block's buffer, for reuse once the block is no longer needed.
    pub(crate) fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The bytes this block holds in memory, as the block cache charges it.
    pub fn charge_bytes(&self) -> usize {
        self.data.capacity() + std::mem::size_of::<Block>()
    }

    /// A cursor over the block's entries, not yet positioned.
    pub fn iter(self: &Arc<Self>) -> BlockIter {
        BlockIter::new(Arc::clone(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block_builder::BlockBuilder;
    use common::{InternalKey, ValueKind};

    fn ik(k: &str, seq: u64) -> Vec<u8> {
        InternalKey::new(k.as_bytes(), seq, ValueKind::Put).encode()
    }

    fn build(keys: &[Vec<u8>], interval: usize) -> Arc<Block> {
        let mut b = BlockBuilder::new(interval);
        for (i, k) in keys.iter().enumerate() {
            b.add(k, format!("v{i}").as_bytes());
        }
        Arc::new(Block::new(b.finish()).unwrap())
    }

    #[test]
    fn walk_both_ways_and_seek() {
        let keys: Vec<_> = (0..50).map(|i| ik(&format!("key{i:03}"), 7)).collect();
        for interval in [1, 2, 16, 100] {
            let block = build(&keys, interval);
            let mut it = block.iter();
            it.seek_to_first().unwrap();
            let mut seen = Vec::new();
            while it.valid() {
                seen.push(it.key().to_vec());
                assert_eq!(it.value(), format!("v{}", seen.len() - 1).as_bytes());
                it.next().unwrap();
            }
            assert_eq!(seen, keys);
            it.seek_to_last().unwrap();
            let mut back = Vec::new();
            while it.valid() {
                back.push(it.key().to_vec());
                it.prev().unwrap();
            }
            back.reverse();
            assert_eq!(back, keys);
            it.seek(&ik("key010", 100)).unwrap();
            assert_eq!(it.key(), &keys[10][..]);
            it.seek(&ik("key010", 1)).unwrap();
            assert_eq!(it.key(), &keys[11][..]);
            it.seek(&ik("zzz", 1)).unwrap();
            assert!(!it.valid());
            it.seek(&ik("", 1)).unwrap();
            assert_eq!(it.key(), &keys[0][..]);
        }
    }

    #[test]
    fn random_walk_mixing_next_and_prev() {
        let keys: Vec<_> = (0..100).map(|i| ik(&format!("k{i:03}"), 1)).collect();
        for interval in [1, 3, 16] {
            let block = build(&keys, interval);
            let mut it = block.iter();
            it.seek_to_first().unwrap();
            let mut pos: Option<usize> = Some(0);
            let mut x = 12345u64;
            for _ in 0..3000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                match (x >> 33) % 8 {
                    0 => {
                        let target = ((x >> 40) % 100) as usize;
                        it.seek(&keys[target]).unwrap();
                        pos = Some(target);
                    }
                    1..=3 if pos.is_some() => {
                        it.next().unwrap();
                        pos = pos.and_then(|p| (p + 1 < keys.len()).then_some(p + 1));
                    }
                    _ if pos.is_some() => {
                        it.prev().unwrap();
                        pos = pos.and_then(|p| p.checked_sub(1));
                    }
                    _ => {
                        it.seek_to_last().unwrap();
                        pos = Some(keys.len() - 1);
                    }
                }
                match pos {
                    Some(p) => {
                        assert!(it.valid());
                        assert_eq!(it.key(), &keys[p][..]);
                        assert_eq!(it.value(), format!("v{p}").as_bytes());
                    }
                    None => assert!(!it.valid()),
                }
            }
        }
    }

    #[test]
    fn empty_block_and_bad_restarts() {
        let mut b = BlockBuilder::new(16);
        let empty = Arc::new(Block::new(b.finish()).unwrap());
        let mut it = empty.iter();
        it.seek_to_first().unwrap();
        assert!(!it.valid());
        it.seek_to_last().unwrap();
        assert!(!it.valid());
        assert!(Block::new(vec![]).is_err());
        assert!(Block::new(vec![0, 0, 0]).is_err());
        assert!(Block::new(vec![9, 0, 0, 0]).is_err());
        // One restart pointing past the entries.
        assert!(Block::new(vec![1, 2, 3, 10, 0, 0, 0, 1, 0, 0, 0]).is_err());
    }
}
