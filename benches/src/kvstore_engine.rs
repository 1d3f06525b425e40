//! [`Engine`] for this workspace's `kvstore`.

use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use kvstore::{Db, FsyncPolicy};

const NAME: &str = "kvstore";

/// The memory all memtables together may hold: the write buffer and an eighth more, room for
/// the next memtable to fill while the last one flushes. Without a limit the next memtable
/// grows by what writers add during the whole flush (about 31 MiB during a 0.3 s flush of a
/// 64 MiB memtable in `fillrandom` on a 2-core machine, a ~118 MiB peak RSS against ~93 MiB
/// with a quarter more; the waits cost that run about 12% of its puts/s). An eighth against a
/// quarter (2-vCPU VM, 2026-11-28, five interleaved `fillrandom` runs each, `compare` built
/// without peers): peak RSS 93.6-95.3 -> 85.0-85.3 MiB, median 317k -> 311k puts/s (-2%, inside
/// the runs' spread of 285-335k); a sixteenth: 80.8-81.6 MiB, median 290k (-8%).
fn memory_limit(write_buffer_bytes: usize) -> usize {
    write_buffer_bytes + write_buffer_bytes / 8
}

/// A `kvstore::Db` under test. `sync_writes` maps to [`FsyncPolicy::Always`], otherwise
/// [`FsyncPolicy::Os`] (durable on `sync`), which is what db_bench's `sync=false` means.
#[derive(Debug, Clone)]
pub struct KvStoreEngine {
    db: Db,
    settings: String,
}

impl KvStoreEngine {
    /// Opens (or creates) the database in `options.dir`.
    pub fn open(options: &EngineOptions) -> Result<KvStoreEngine> {
        let policy = if options.sync_writes {
            FsyncPolicy::Always
        } else {
            FsyncPolicy::Os
        };
        let db = Db::builder(&options.dir)
            .fsync_policy(policy)
            .block_cache_bytes(options.cache_bytes)
            .memtable_size_bytes(options.write_buffer_bytes)
            .memtable_memory_limit_bytes(memory_limit(options.write_buffer_bytes))
            .open()
            .map_err(|e| Error::engine(NAME, "open", e))?;
        let spin = if options.sync_writes {
            format!(
                ", a durable write waiting on another's fsync yields the CPU for up to {:?} \
                 before it sleeps",
                kvstore::Options::new(&options.dir).wal_wait_spin
            )
        } else {
            String::new()
        };
        let settings = format!(
            "fsync policy {policy:?} ({}{spin}), lz4 table blocks, block cache {} MiB, \
             memtable {} MiB (frozen early, down to half, when writes outpace flushes), \
             all memtables {} MiB (past it writers wait for the running flush)",
            options.durability(),
            options.cache_bytes >> 20,
            options.write_buffer_bytes >> 20,
            memory_limit(options.write_buffer_bytes) >> 20
        );
        Ok(KvStoreEngine { db, settings })
    }

    /// Wraps a database that is already open.
    pub fn from_db(db: Db) -> KvStoreEngine {
        KvStoreEngine {
            db,
            settings: "opened by the caller".into(),
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

impl Engine for KvStoreEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db
            .put(key, value)
            .map_err(|e| Error::engine(NAME, "put", e))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get(key).map_err(|e| Error::engine(NAME, "get", e))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db
            .delete(key)
            .map_err(|e| Error::engine(NAME, "delete", e))
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        // Borrowed pairs (`DbIter::next_ref`), as the peers' adapters visit theirs (redb's
        // guards, fjall's shared slices): no copy of each key and value into new Vecs.
        let mut n = 0;
        let mut it = self.db.range(start..);
        while n < limit {
            let Some(item) = it.next_ref() else { break };
            let (k, v) = item.map_err(|e| Error::engine(NAME, "scan", e))?;
            visit(k, v);
            n += 1;
        }
        Ok(n)
    }

    fn sync(&self) -> Result<()> {
        self.db
            .persist()
            .map_err(|e| Error::engine(NAME, "sync", e))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map_err(|e| Error::engine(NAME, "flush", e))
    }

    fn write_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut batch = self.db.batch();
        for (k, v) in pairs {
            batch.put(k, v);
        }
        batch.commit().map_err(|e| Error::engine(NAME, "batch", e))
    }

    fn compact(&self) -> Result<()> {
        self.flush()?;
        self.db
            .compact()
            .map_err(|e| Error::engine(NAME, "compact", e))
    }

    fn write_amplification(&self) -> Option<f64> {
        Some(self.db.stats().write_amplification())
    }

    fn settings(&self) -> String {
        self.settings.clone()
    }
}
