//! Builds one block: sorted entries with prefix-compressed keys and restart points, as in
//! LevelDB (`docs/sstable-format.md`, "Blocks").
//!
//! Each entry is `shared (varint) | non_shared (varint) | value_len (varint) | key suffix |
//! value`, where `shared` is how many leading bytes the key has in common with the previous
//! key. Every `restart_interval` entries the key is stored whole (`shared = 0`) and the entry's
//! offset is recorded; the block ends with those offsets (u32 each) and their count (u32).

use common::coding::{put_u32, put_varint};

/// Accumulates the entries of one block.
#[derive(Debug)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    since_restart: usize,
    last_key: Vec<u8>,
    entries: usize,
}

impl BlockBuilder {
    /// A new, empty builder; `restart_interval` is clamped to at least 1.
    pub fn new(restart_interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: Vec::new(),
            restart_interval: restart_interval.max(1),
            since_restart: 0,
            last_key: Vec::new(),
            entries: 0,
        }
    }

    /// Appends an entry. The caller guarantees `key` sorts after the previous key.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.since_restart == 0 || self.since_restart >= self.restart_interval {
            self.restarts.push(self.buf.len() as u32);
            self.since_restart = 0;
            0
        } else {
            self.last_key
                .iter()
                .zip(key)
                .take_while(|(a, b)| a == b)
                .count()
        };
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, (key.len() - shared) as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        self.since_restart += 1;
        self.entries += 1;
    }

    /// The size the block will have when finished.
    pub fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len().max(1) + 4
    }

    /// Whether no entry was added since the last `finish`.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The number of entries added since the last `finish`.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// The last key added.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// Appends the restart array, returns the block's contents and resets the builder. An
    /// empty block is just a zero restart count.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        for &r in &self.restarts {
            put_u32(&mut out, r);
        }
        put_u32(&mut out, self.restarts.len() as u32);
        self.restarts.clear();
        self.since_restart = 0;
        self.last_key.clear();
        self.entries = 0;
        out
    }
}
