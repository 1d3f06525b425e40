//! The block cache shared by every table of an engine: decoded data blocks keyed by
//! (file id, block offset), bounded in bytes, evicted by CLOCK (second chance).
//!
//! Bound: the sum of the cached blocks' charges ([`Block::charge_bytes`]) never exceeds the
//! capacity given to [`BlockCache::new`]. The cache is split in up to 16 shards, each with its
//! own mutex and an equal share of the capacity; a block larger than a shard's share is not
//! cached. File ids must never be reused for different files while the cache lives (the engine's
//! file numbers only grow).
//!
//! Eviction: each shard maps a key to its block, charge and ring slot, and keeps the keys in a
//! ring of slots that a clock hand sweeps, with a "referenced" bit per slot in a compact array
//! beside it. A hit touches one hash bucket and sets its slot's bit (O(1), no allocation, no
//! reordering); an insert that needs room moves the hand, clearing referenced bits and
//! evicting the first entry found without one. The bits live outside the map so that the hand
//! passes a referenced entry without a hash probe: the array (a byte per cached block) stays
//! in the CPU caches, the map's buckets do not.
//!
//! Spares: an evicted block that nobody else holds leaves its buffer to its shard (at most
//! [`SPARES_PER_SHARD`] buffers of at most [`SPARE_MAX_BYTES`] each, not charged to the
//! capacity), and the table that misses next in that shard decompresses into it instead of a
//! fresh zeroed allocation ([`BlockCache::get_or_spare`]).
//! A new block starts unreferenced, so a scan of blocks read once passes through the cache
//! without pushing out blocks that are read again (an approximation of LRU that resists scans).

use crate::block::Block;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// (file id, block offset).
type Key = (u64, u64);

const MAX_SHARDS: usize = 16;
/// A shard is never smaller than this unless the whole cache is.
const MIN_SHARD_BYTES: usize = 256 * 1024;
/// Spare buffers a shard keeps from evicted blocks, for misses to decompress into.
const SPARES_PER_SHARD: usize = 4;
/// Only blocks charged at most this much leave their buffer as a spare.
const SPARE_MAX_BYTES: usize = 64 * 1024;

/// A cheap multiplicative hasher for the cache's integer keys. The keys are file numbers and
/// block offsets the engine chose, not input an adversary controls, so SipHash's flood
/// resistance buys nothing here.
#[derive(Debug, Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        // hashbrown takes the top 7 bits as the control tag and the low bits as the bucket;
        // fold the high bits down so both are well mixed.
        self.0 ^ (self.0 >> 29)
    }
}

/// What a shard keeps per block, in the map itself, so that a hit touches one bucket.
#[derive(Debug)]
struct Entry {
    block: Arc<Block>,
    charge: usize,
    /// The entry's slot in the clock ring.
    slot: usize,
}

type KeyMap = HashMap<Key, Entry, BuildHasherDefault<KeyHasher>>;

#[derive(Debug, Default)]
struct Shard {
    map: KeyMap,
    /// The clock: the key in each slot (`None` for a free slot).
    ring: Vec<Option<Key>>,
    /// Per slot of `ring`: set by a hit, cleared by the passing hand (and when the slot is
    /// freed or reused).
    referenced: Vec<bool>,
    /// Free slots of `ring`.
    free: Vec<usize>,
    /// Buffers of evicted blocks (at most `SPARES_PER_SHARD`).
    spares: Vec<Vec<u8>>,
    /// The next slot the clock hand looks at.
    hand: usize,
    usage_bytes: usize,
    capacity_bytes: usize,
}

impl Shard {
    fn get(&mut self, key: Key) -> Option<Arc<Block>> {
        let e = self.map.get(&key)?;
        if let Some(bit) = self.referenced.get_mut(e.slot) {
            *bit = true;
        }
        Some(Arc::clone(&e.block))
    }

    fn insert(&mut self, key: Key, block: Arc<Block>) {
        let charge = block.charge_bytes();
        if charge > self.capacity_bytes {
            return;
        }
        if let Some(old) = self.map.remove(&key) {
            self.forget(old);
        }
        while self.usage_bytes + charge > self.capacity_bytes && !self.map.is_empty() {
            self.evict_one();
        }
        let slot = match self.free.pop() {
            Some(i) => {
                self.ring[i] = Some(key);
                self.referenced[i] = false;
                i
            }
            None => {
                self.ring.push(Some(key));
                self.referenced.push(false);
                self.ring.len() - 1
            }
        };
        let entry = Entry {
            block,
            charge,
            slot,
        };
        self.map.insert(key, entry);
        self.usage_bytes += charge;
    }

    /// Moves the hand until it evicts one block (the map must not be empty). Terminates within
    /// two sweeps: the first clears every referenced bit it passes.
    fn evict_one(&mut self) {
        loop {
            if self.hand >= self.ring.len() {
                self.hand = 0;
            }
            let i = self.hand;
            self.hand += 1;
            let Some(key) = self.ring[i] else {
                continue;
            };
            if self.referenced[i] {
                self.referenced[i] = false;
                continue;
            }
            match self.map.remove(&key) {
                Some(e) => {
                    self.forget(e);
                    return;
                }
                // Not reachable (every ring key is mapped); free the slot rather than loop.
                None => {
                    self.ring[i] = None;
                    self.free.push(i);
                }
            }
        }
    }

    /// Frees the slot and the charge of an entry already removed from the map, and keeps its
    /// buffer as a spare if there is room and nobody else holds the block.
    fn forget(&mut self, e: Entry) {
        self.ring[e.slot] = None;
        self.referenced[e.slot] = false;
        self.free.push(e.slot);
        self.usage_bytes -= e.charge;
        if self.spares.len() < SPARES_PER_SHARD && e.charge <= SPARE_MAX_BYTES {
            if let Ok(block) = Arc::try_unwrap(e.block) {
                self.spares.push(block.into_data());
            }
        }
    }
}

/// A sharded CLOCK cache of decoded blocks, safe to share between threads.
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
        self.get_or_spare(file_id, offset, false).ok()
    }

    /// [`BlockCache::get`], and on a miss, in the same visit to the shard, a buffer to
    /// decompress the block into before inserting it: a spare from an evicted block of the
    /// shard it will go to, or an empty `Vec` (no spare, or `spare` is false).
    pub(crate) fn get_or_spare(
        &self,
        file_id: u64,
        offset: u64,
        spare: bool,
    ) -> Result<Arc<Block>, Vec<u8>> {
        let key = (file_id, offset);
        let mut shard = self.shard(key);
        let found = shard.get(key);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        match found {
            Some(b) => Ok(b),
            None if spare => Err(shard.spares.pop().unwrap_or_default()),
            None => Err(Vec::new()),
        }
    }

    /// Caches a block (replacing any block cached under the same key), evicting blocks of its
    /// shard by CLOCK to make room.
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

    /// Checks a shard's bookkeeping against its ring.
    fn check(cache: &BlockCache) {
        for s in &cache.shards {
            let s = s.lock().unwrap();
            let live = s.ring.iter().filter(|x| x.is_some()).count();
            assert_eq!(live, s.map.len());
            assert_eq!(live + s.free.len(), s.ring.len());
            assert_eq!(s.referenced.len(), s.ring.len());
            for &i in &s.free {
                assert!(s.ring[i].is_none() && !s.referenced[i]);
            }
            assert_eq!(
                s.map.values().map(|e| e.charge).sum::<usize>(),
                s.usage_bytes
            );
            assert!(s.usage_bytes <= s.capacity_bytes);
            for (k, e) in &s.map {
                assert_eq!(s.ring[e.slot], Some(*k));
            }
        }
    }

    #[test]
    fn second_chance_order_and_byte_bound() {
        let one = block(1000).charge_bytes();
        let cache = BlockCache::new(one * 3);
        assert_eq!(cache.shards.len(), 1);
        for off in 0..3 {
            cache.insert(1, off, block(1000));
        }
        assert!(cache.get(1, 0).is_some()); // 0 is referenced
        cache.insert(1, 3, block(1000)); // 0 gets a second chance; 1 goes
        assert!(cache.get(1, 1).is_none());
        assert!(cache.get(1, 0).is_some());
        assert!(cache.get(1, 2).is_some());
        assert!(cache.get(1, 3).is_some());
        assert!(cache.usage_bytes() <= cache.capacity_bytes());
        assert_eq!(cache.len(), 3);
        assert_eq!((cache.hits(), cache.misses()), (4, 1));
        check(&cache);
        // A block larger than the cache is not cached.
        cache.insert(2, 0, block(10 * one));
        assert!(cache.get(2, 0).is_none());
        // Replacing a block under the same key keeps one copy and the right charge.
        cache.insert(1, 3, block(500));
        assert_eq!(cache.len(), 3);
        check(&cache);
    }

    #[test]
    fn every_slot_referenced_still_evicts() {
        let one = block(1000).charge_bytes();
        let cache = BlockCache::new(one * 4);
        for off in 0..4 {
            cache.insert(1, off, block(1000));
            assert!(cache.get(1, off).is_some());
        }
        // The hand clears all four bits in one sweep, then evicts the first slot.
        cache.insert(1, 4, block(1000));
        assert_eq!(cache.len(), 4);
        assert!(cache.get(1, 0).is_none());
        assert!(cache.get(1, 4).is_some());
        // A block that needs the room of two evicts two.
        cache.insert(1, 5, block(2 * 1000 - 100));
        assert!(cache.usage_bytes() <= cache.capacity_bytes());
        assert!(cache.get(1, 5).is_some());
        check(&cache);
    }

    /// Hot blocks read between the inserts of a long scan of blocks read once: under FIFO every
    /// hot block would be evicted once the scan passes the cache's size; under CLOCK they stay.
    #[test]
    fn hot_blocks_survive_a_scan() {
        let one = block(1000).charge_bytes();
        let cache = BlockCache::new(one * 16);
        assert_eq!(cache.shards.len(), 1);
        for hot in 0..4 {
            cache.insert(1, hot, block(1000));
        }
        for cold in 0..200 {
            for hot in 0..4 {
                assert!(
                    cache.get(1, hot).is_some(),
                    "hot block {hot} lost after {cold} cold inserts"
                );
            }
            cache.insert(2, cold, block(1000));
        }
        // The scan itself cycles through the rest of the room.
        assert!(cache.get(2, 0).is_none());
        assert!(cache.get(2, 199).is_some());
        check(&cache);
    }

    /// A model check: random inserts and gets over a small key space never exceed the bound,
    /// and a get returns the block last inserted under its key (or nothing).
    #[test]
    fn random_ops_keep_bookkeeping_and_return_the_latest_block() {
        let cache = BlockCache::new(20_000);
        let mut latest: HashMap<Key, Arc<Block>> = HashMap::new();
        let mut x = 99u64;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let key = (x >> 60, (x >> 40) % 64);
            if (x >> 33).is_multiple_of(3) {
                let b = block(500 + ((x >> 20) % 3000) as usize);
                cache.insert(key.0, key.1, Arc::clone(&b));
                latest.insert(key, b);
            } else if let Some(got) = cache.get(key.0, key.1) {
                assert!(Arc::ptr_eq(&got, &latest[&key]));
            }
            assert!(cache.usage_bytes() <= cache.capacity_bytes());
        }
        check(&cache);
        assert!(cache.hits() > 0 && cache.misses() > 0);
    }

    #[test]
    fn evicted_buffers_become_bounded_spares() {
        let one = block(1000).charge_bytes();
        let cache = BlockCache::new(one * 2);
        let held = block(1000);
        cache.insert(1, 0, Arc::clone(&held)); // still held outside: not recycled
        cache.insert(1, 1, block(1000));
        for off in 2..20 {
            cache.insert(1, off, block(1000));
        }
        let spares = cache.shards[0].lock().unwrap().spares.len();
        assert_eq!(spares, SPARES_PER_SHARD);
        let spare = cache.get_or_spare(1, 99, true).unwrap_err();
        assert!(spare.capacity() >= 1000);
        assert_eq!(
            cache.shards[0].lock().unwrap().spares.len(),
            SPARES_PER_SHARD - 1
        );
        assert!(Arc::strong_count(&held) == 1);
        check(&cache);
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
        check(&cache);
    }
}
