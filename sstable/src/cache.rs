//! The block cache shared by every table of an engine: decoded data blocks keyed by
//! (file id, block offset), bounded in bytes, least recently used out first.
//!
//! Bound: the sum of the cached blocks' charges ([`Block::charge_bytes`]) never exceeds the
//! capacity given to [`BlockCache::new`]. The cache is split in up to 16 shards, each with its
//! own mutex and an equal share of the capacity; a block larger than a shard's share is not
//! cached. File ids must never be reused for different files while the cache lives (the engine's
//! file numbers only grow).

use crate::block::Block;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// (file id, block offset).
type Key = (u64, u64);

const MAX_SHARDS: usize = 16;
/// A shard is never smaller than this unless the whole cache is.
const MIN_SHARD_BYTES: usize = 256 * 1024;

#[derive(Debug, Default)]
struct Shard {
    /// Block, its last-use tick, its charge.
    map: HashMap<Key, (Arc<Block>, u64, usize)>,
    /// Last-use tick -> key; the first entry is the least recently used.
    lru: BTreeMap<u64, Key>,
    usage_bytes: usize,
    capacity_bytes: usize,
    tick: u64,
}

impl Shard {
    fn touch(&mut self, key: Key) -> Option<Arc<Block>> {
        self.tick += 1;
        let tick = self.tick;
        let (block, old, _) = self.map.get_mut(&key)?;
        self.lru.remove(old);
        *old = tick;
        self.lru.insert(tick, key);
        Some(Arc::clone(block))
    }

    fn insert(&mut self, key: Key, block: Arc<Block>) {
        let charge = block.charge_bytes();
        if charge > self.capacity_bytes {
            return;
        }
        if let Some((_, tick, old_charge)) = self.map.remove(&key) {
            self.lru.remove(&tick);
            self.usage_bytes -= old_charge;
        }
        while self.usage_bytes + charge > self.capacity_bytes {
            let Some((_, victim)) = self.lru.pop_first() else {
                break;
            };
            if let Some((_, _, c)) = self.map.remove(&victim) {
                self.usage_bytes -= c;
            }
        }
        self.tick += 1;
        self.lru.insert(self.tick, key);
        self.map.insert(key, (block, self.tick, charge));
        self.usage_bytes += charge;
    }
}

/// A sharded LRU cache of decoded blocks, safe to share between threads.
#[derive(Debug)]
pub struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    capacity_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` of blocks.
    pub fn new(capacity_bytes: usize) -> Arc<BlockCache> {
        let n = (capacity_bytes / MIN_SHARD_BYTES).clamp(1, MAX_SHARDS);
        let per_shard = capacity_bytes / n;
        let shards = (0..n)
            .map(|_| {
                Mutex::new(Shard {
                    capacity_bytes: per_shard,
                    ..Shard::default()
                })
            })
            .collect();
        Arc::new(BlockCache {
            shards,
            capacity_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn shard(&self, key: Key) -> MutexGuard<'_, Shard> {
        let h =
            (key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.1).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let i = ((h >> 32) as usize) % self.shards.len();
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached block at `offset` of file `file_id`, counting a hit or a miss.
    pub fn get(&self, file_id: u64, offset: u64) -> Option<Arc<Block>> {
        let found = self.shard((file_id, offset)).touch((file_id, offset));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches a block, evicting the least recently used blocks of its shard to make room.
    pub fn insert(&self, file_id: u64, offset: u64, block: Arc<Block>) {
        self.shard((file_id, offset))
            .insert((file_id, offset), block);
    }

    /// Lookups that found their block.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The bytes charged for the blocks now cached (never above `capacity_bytes()`).
    pub fn usage_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).usage_bytes)
            .sum()
    }

    /// The number of blocks now cached.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    /// Whether no block is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The byte bound given at construction.
    pub fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid empty block whose buffer has capacity `n`, so it is charged about `n` bytes.
    fn block(n: usize) -> Arc<Block> {
        let mut v = Vec::with_capacity(n.max(4));
        v.extend_from_slice(&0u32.to_le_bytes());
        Arc::new(Block::new(v).unwrap())
    }

    #[test]
    fn lru_order_and_byte_bound() {
        let one = block(1000).charge_bytes();
        let cache = BlockCache::new(one * 3);
        assert_eq!(cache.shards.len(), 1);
        for off in 0..3 {
            cache.insert(1, off, block(1000));
        }
        assert!(cache.get(1, 0).is_some()); // 0 is now the most recent
        cache.insert(1, 3, block(1000)); // evicts 1, the least recent
        assert!(cache.get(1, 1).is_none());
        assert!(cache.get(1, 0).is_some());
        assert!(cache.get(1, 2).is_some());
        assert!(cache.get(1, 3).is_some());
        assert!(cache.usage_bytes() <= cache.capacity_bytes());
        assert_eq!(cache.len(), 3);
        assert_eq!((cache.hits(), cache.misses()), (4, 1));
        // A block larger than the cache is not cached.
        cache.insert(2, 0, block(10 * one));
        assert!(cache.get(2, 0).is_none());
    }

    #[test]
    fn many_threads_stay_within_bound() {
        let cache = BlockCache::new(4 * MIN_SHARD_BYTES);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let cache = &cache;
                s.spawn(move || {
                    for off in 0..2000u64 {
                        cache.insert(t, off, block(4096));
                        let _ = cache.get(t, off / 2);
                    }
                });
            }
        });
        assert!(cache.usage_bytes() <= cache.capacity_bytes());
        assert!(cache.len() > 100);
    }
}
