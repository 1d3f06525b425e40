//! [`Engine`] for sled 0.34: zstd compression on (level 1), the page cache of
//! [`EngineOptions::cache_bytes`]. A durable write is an insert followed by `flush()`.
//!
//! Not durable in fact: sled 0.34's `flush` ends in `sync_file_range`, not `fdatasync`, so
//! it neither flushes the drive's cache nor the file's metadata; its "durable" figures are
//! not comparable with the others' and reports say so beside them ([`SLED_NOTE`]).

use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};

const NAME: &str = "sled";

/// What reports print beside sled's durable figures.
pub const SLED_NOTE: &str =
    "sled 0.34 flush uses sync_file_range, not fdatasync: its durable figures are not durable";

/// A sled database.
pub struct SledEngine {
    db: sled::Db,
    sync_writes: bool,
    settings: String,
}

fn err(op: &'static str) -> impl FnOnce(sled::Error) -> Error {
    move |e| Error::engine(NAME, op, e)
}

impl SledEngine {
    /// Opens (or creates) the database in `options.dir`.
    pub fn open(options: &EngineOptions) -> Result<SledEngine> {
        let db = sled::Config::new()
            .path(&options.dir)
            .cache_capacity(options.cache_bytes as u64)
            .use_compression(true)
            .compression_factor(1)
            .open()
            .map_err(err("open"))?;
        let settings = format!(
            "insert + flush() per write when durable ({}; NOT durable: sync_file_range), zstd level 1, page cache {} MiB, background flush every 500 ms (default)",
            options.durability(),
            options.cache_bytes >> 20
        );
        Ok(SledEngine {
            db,
            sync_writes: options.sync_writes,
            settings,
        })
    }

    fn flush_if_sync(&self) -> Result<()> {
        if self.sync_writes {
            self.db.flush().map_err(err("sync"))?;
        }
        Ok(())
    }
}

impl Engine for SledEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.insert(key, value).map_err(err("put"))?;
        self.flush_if_sync()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key).map_err(err("get"))?.map(|v| v.to_vec()))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db.remove(key).map_err(err("delete"))?;
        self.flush_if_sync()
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut n = 0;
        for item in self.db.range(start..).take(limit) {
            let (k, v) = item.map_err(err("scan"))?;
            visit(&k, &v);
            n += 1;
        }
        Ok(n)
    }

    fn sync(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(err("sync"))
    }

    fn flush(&self) -> Result<()> {
        self.sync()
    }

    fn write_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (k, v) in pairs {
            batch.insert(*k, *v);
        }
        self.db.apply_batch(batch).map_err(err("batch"))?;
        self.flush_if_sync()
    }

    fn settings(&self) -> String {
        self.settings.clone()
    }
}
