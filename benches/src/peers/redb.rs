//! [`Engine`] for redb: one table of byte strings, the cache of
//! [`EngineOptions::cache_bytes`], no compression (redb has none). Every put is its own write
//! transaction: committed with `Durability::Immediate` when writes are durable, otherwise
//! with `Durability::None` and made durable by an empty `Immediate` commit on `sync`.

use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use redb::{Database, Durability, ReadableDatabase, TableDefinition};

const NAME: &str = "redb";
const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bench");

/// A redb database.
pub struct RedbEngine {
    db: Database,
    sync_writes: bool,
    settings: String,
}

fn err<E: std::error::Error + Send + Sync + 'static>(op: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::engine(NAME, op, e)
}

impl RedbEngine {
    /// Opens (or creates) the database file `redb` in `options.dir`, which must exist (redb
    /// does not create directories).
    pub fn open(options: &EngineOptions) -> Result<RedbEngine> {
        let db = Database::builder()
            .set_cache_size(options.cache_bytes)
            .create(options.dir.join("redb"))
            .map_err(err("open"))?;
        let engine = RedbEngine {
            db,
            sync_writes: options.sync_writes,
            settings: format!(
                "one write transaction per put, Durability::{} ({}), no compression (redb has none), cache {} MiB",
                if options.sync_writes { "Immediate" } else { "None + Immediate on sync" },
                options.durability(),
                options.cache_bytes >> 20
            ),
        };
        engine.commit_with(true, |_| Ok(()))?;
        Ok(engine)
    }

    fn commit_with(
        &self,
        durable: bool,
        body: impl FnOnce(&mut redb::Table<&[u8], &[u8]>) -> std::result::Result<(), redb::StorageError>,
    ) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(err("begin"))?;
        let durability = if durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        txn.set_durability(durability).map_err(err("durability"))?;
        {
            let mut table = txn.open_table(TABLE).map_err(err("open_table"))?;
            body(&mut table).map_err(err("write"))?;
        }
        txn.commit().map_err(err("commit"))
    }
}

impl Engine for RedbEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.commit_with(self.sync_writes, |t| t.insert(key, value).map(|_| ()))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(err("begin"))?;
        let table = txn.open_table(TABLE).map_err(err("open_table"))?;
        let got = table.get(key).map_err(err("get"))?;
        Ok(got.map(|v| v.value().to_vec()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.commit_with(self.sync_writes, |t| t.remove(key).map(|_| ()))
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let txn = self.db.begin_read().map_err(err("begin"))?;
        let table = txn.open_table(TABLE).map_err(err("open_table"))?;
        let mut n = 0;
        for item in table.range(start..).map_err(err("scan"))?.take(limit) {
            let (k, v) = item.map_err(err("scan"))?;
            visit(k.value(), v.value());
            n += 1;
        }
        Ok(n)
    }

    fn sync(&self) -> Result<()> {
        self.commit_with(true, |_| Ok(()))
    }

    fn flush(&self) -> Result<()> {
        self.sync()
    }

    fn write_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        self.commit_with(self.sync_writes, |t| {
            for (k, v) in pairs {
                t.insert(*k, *v)?;
            }
            Ok(())
        })
    }

    fn settings(&self) -> String {
        self.settings.clone()
    }
}
