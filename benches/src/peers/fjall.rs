//! [`Engine`] for fjall 3.x: one keyspace, lz4 (fjall's default), the block cache and memtable
//! sizes of [`EngineOptions`]. A durable write is an insert followed by
//! `persist(SyncData)` (fdatasync of the journal); batches carry that durability themselves.

use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

const NAME: &str = "fjall";

/// A fjall database and its one keyspace.
pub struct FjallEngine {
    db: Database,
    ks: Keyspace,
    sync_writes: bool,
    settings: String,
}

fn err(op: &'static str) -> impl FnOnce(fjall::Error) -> Error {
    move |e| Error::engine(NAME, op, e)
}

impl FjallEngine {
    /// Opens (or creates) the database in `options.dir`.
    pub fn open(options: &EngineOptions) -> Result<FjallEngine> {
        let db = Database::builder(&options.dir)
            .cache_size(options.cache_bytes as u64)
            .open()
            .map_err(err("open"))?;
        let memtable = options.write_buffer_bytes as u64;
        let ks = db
            .keyspace("bench", || {
                KeyspaceCreateOptions::default().max_memtable_size(memtable)
            })
            .map_err(err("open"))?;
        let settings = format!(
            "insert + persist(SyncData) per write when durable ({}), lz4 blocks (default), block cache {} MiB, memtable {} MiB",
            options.durability(),
            options.cache_bytes >> 20,
            options.write_buffer_bytes >> 20
        );
        Ok(FjallEngine {
            db,
            ks,
            sync_writes: options.sync_writes,
            settings,
        })
    }
}

impl Engine for FjallEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.ks.insert(key, value).map_err(err("put"))?;
        if self.sync_writes {
            self.db
                .persist(PersistMode::SyncData)
                .map_err(err("sync"))?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.ks.get(key).map_err(err("get"))?.map(|v| v.to_vec()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.ks.remove(key).map_err(err("delete"))?;
        if self.sync_writes {
            self.db
                .persist(PersistMode::SyncData)
                .map_err(err("sync"))?;
        }
        Ok(())
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut n = 0;
        for guard in self.ks.range(start..).take(limit) {
            let (k, v) = guard.into_inner().map_err(err("scan"))?;
            visit(&k, &v);
            n += 1;
        }
        Ok(n)
    }

    fn sync(&self) -> Result<()> {
        self.db.persist(PersistMode::SyncData).map_err(err("sync"))
    }

    fn flush(&self) -> Result<()> {
        self.ks.rotate_memtable_and_wait().map_err(err("flush"))?;
        self.sync()
    }

    fn write_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        let durability = self.sync_writes.then_some(PersistMode::SyncData);
        let mut batch = self.db.batch().durability(durability);
        for (k, v) in pairs {
            batch.insert(&self.ks, *k, *v);
        }
        batch.commit().map_err(err("batch"))
    }

    fn compact(&self) -> Result<()> {
        self.flush()?;
        self.ks.major_compact().map_err(err("compact"))
    }

    fn settings(&self) -> String {
        self.settings.clone()
    }
}
