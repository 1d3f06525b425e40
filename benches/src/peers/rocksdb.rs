//! [`Engine`] for RocksDB through the `rocksdb` crate: lz4 blocks, a 10-bit bloom filter, an
//! LRU block cache of [`EngineOptions::cache_bytes`] and a write buffer of
//! [`EngineOptions::write_buffer_bytes`]. A durable write is a write with `sync = true`
//! (fdatasync of the WAL); otherwise durable on `flush_wal(true)`.

use crate::engine::{Engine, EngineOptions};
use crate::error::{Error, Result};
use rocksdb::{
    BlockBasedOptions, Cache, DBCompressionType, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};

const NAME: &str = "rocksdb";

/// A RocksDB database.
pub struct RocksDbEngine {
    db: DB,
    write: WriteOptions,
    settings: String,
}

fn err(op: &'static str) -> impl FnOnce(rocksdb::Error) -> Error {
    move |e| Error::engine(NAME, op, e)
}

impl RocksDbEngine {
    /// Opens (or creates) the database in `options.dir`.
    pub fn open(options: &EngineOptions) -> Result<RocksDbEngine> {
        let mut table = BlockBasedOptions::default();
        let cache = Cache::new_lru_cache(options.cache_bytes).map_err(err("block cache"))?;
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.increase_parallelism(2);
        opts.set_compression_type(DBCompressionType::Lz4);
        opts.set_write_buffer_size(options.write_buffer_bytes);
        opts.set_block_based_table_factory(&table);
        let db = DB::open(&opts, &options.dir).map_err(err("open"))?;
        let mut write = WriteOptions::default();
        write.set_sync(options.sync_writes);
        Ok(RocksDbEngine {
            db,
            write,
            settings: format!(
                "WriteOptions.sync={} ({}), lz4 blocks, bloom 10 bits/key, LRU block cache {} MiB, write buffer {} MiB",
                options.sync_writes,
                options.durability(),
                options.cache_bytes >> 20,
                options.write_buffer_bytes >> 20
            ),
        })
    }
}

impl Engine for RocksDbEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.put_opt(key, value, &self.write).map_err(err("put"))
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.get(key).map_err(err("get"))
    }

    fn delete(&self, key: &[u8]) -> Result<()> {
        self.db.delete_opt(key, &self.write).map_err(err("delete"))
    }

    fn scan(
        &self,
        start: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut n = 0;
        let mode = IteratorMode::From(start, Direction::Forward);
        for item in self.db.iterator(mode).take(limit) {
            let (k, v) = item.map_err(err("scan"))?;
            visit(&k, &v);
            n += 1;
        }
        Ok(n)
    }

    fn sync(&self) -> Result<()> {
        self.db.flush_wal(true).map_err(err("sync"))
    }

    fn flush(&self) -> Result<()> {
        self.db.flush().map_err(err("flush"))
    }

    fn write_batch(&self, pairs: &[(&[u8], &[u8])]) -> Result<()> {
        let mut batch = WriteBatch::default();
        for (k, v) in pairs {
            batch.put(k, v);
        }
        self.db.write_opt(batch, &self.write).map_err(err("batch"))
    }

    fn compact(&self) -> Result<()> {
        self.flush()?;
        self.db.compact_range(None::<&[u8]>, None::<&[u8]>);
        Ok(())
    }

    fn settings(&self) -> String {
        self.settings.clone()
    }
}
