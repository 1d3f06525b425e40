//! Opening a database: lock, manifest, orphans, WAL replay, flush thread.
//!
//! ```text
//! LOCK (a second opener gets Error::Locked)
//! CURRENT -> manifest -> version, last sequence S, log start L   (version_set.rs)
//! remove tables the version does not name (a crash mid-flush), old manifests, temp files
//! open the WAL (it cuts a torn tail per its recovery mode)
//! replay the WAL from L into a fresh memtable, giving records S+1, S+2, ... in log order
//! if that memtable is over the size limit: freeze it (WAL rotated) for the flush thread
//! ```
//!
//! Why replay reassigns the original sequence numbers: numbers are given under the write lock
//! in the order records are appended to the WAL, one per record, with no gap (a failed append
//! poisons the engine, so no number is given to a record that is not in the log, and no later
//! record can follow it). A flush records S = the largest number in its memtable and L = the
//! WAL position where the next memtable's records begin (the WAL is rotated at the freeze, so L
//! is a segment boundary and every record before L is in that memtable or older ones). So the
//! records at or after L are exactly those numbered S+1, S+2, ..., in that order. A batch is one
//! atomic WAL append, so it is replayed whole or not at all, with its consecutive numbers.

use crate::db::Db;
use crate::engine::{Engine, Frozen, ReadState};
use crate::error::{Error, Result};
use crate::filename::{LOCK, WAL_DIR};
use crate::options::Options;
use crate::version_set::VersionSet;
use common::{SeqNo, ValueKind};
use sstable::BlockCache;
use std::io;
use std::sync::Arc;

/// Opens (or creates) the database `opts` describes; returns the engine with its flush
/// thread's work queued but not started.
pub(crate) fn open_engine(opts: Options) -> Result<Engine> {
    opts.validate()?;
    let fs = opts.fs.clone();
    let dir = opts.path.clone();
    if !fs.is_dir(&dir) {
        if !opts.create_if_missing {
            return Err(Error::NotFound { path: dir });
        }
        fs.create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs.sync_dir(parent).map_err(|e| Error::io(parent, e))?;
        }
    }
    let lock_guard = fs.lock(&dir.join(LOCK)).map_err(|e| {
        if e.kind() == io::ErrorKind::WouldBlock {
            Error::Locked {
                path: dir.clone(),
                source: e,
            }
        } else {
            Error::io(dir.join(LOCK), e)
        }
    })?;
    let versions = VersionSet::open(
        fs.clone(),
        &dir,
        opts.create_if_missing,
        wal::Position::start().to_bytes(),
        opts.max_manifest_bytes,
    )?;
    versions.remove_orphans()?;
    let wal_config = wal::WalConfig {
        dir: dir.join(WAL_DIR),
        fsync_policy: opts.fsync_policy,
        segment_size_bytes: opts.wal_segment_size_bytes,
        max_record_bytes: opts.max_value_bytes + 64,
        fs: fs.clone(),
        ..wal::WalConfig::default()
    };
    let (wal, _info) = wal::blocking::Wal::open(wal_config)?;

    // Replay: records after the log start get the numbers after the last flushed one.
    let mut seq: SeqNo = versions.last_sequence();
    let log_start = wal::Position::from_bytes(versions.log_start());
    let cache = (opts.block_cache_bytes > 0).then(|| BlockCache::new(opts.block_cache_bytes));
    let recovered = Arc::new(memtable::MemTable::new(1));
    let mut reader = wal.read_from(log_start)?;
    while let Some((record, _pos)) = reader.next_record()? {
        seq += 1;
        let kind = if record.tombstone {
            ValueKind::Delete
        } else {
            ValueKind::Put
        };
        recovered.insert(&record.key, seq, kind, &record.value);
    }
    drop(reader);
    let engine = Engine::new(
        opts,
        wal,
        lock_guard,
        versions,
        recovered.clone(),
        seq + 1,
        cache,
        2,
    );
    if recovered.approximate_size_bytes() >= engine.opts.memtable_size_bytes {
        // Too big to keep writing into: hand it to the flush thread like any full memtable.
        let mark = engine.wal.rotate()?;
        let fresh = engine.new_memtable();
        {
            let mut w = crate::engine::lock(&engine.writer);
            w.active = fresh.clone();
        }
        engine.update_read_state(|rs| ReadState {
            active: fresh,
            immutables: vec![recovered.clone()],
            version: rs.version.clone(),
        });
        let mut q = crate::engine::lock(&engine.flush);
        q.pending.push_back(Arc::new(Frozen {
            mem: recovered,
            mark,
            last_seq: seq,
        }));
        q.frozen_total += 1;
    }
    Ok(engine)
}

/// Opens the database and starts its flush thread.
pub(crate) fn open(opts: Options) -> Result<Db> {
    let engine = Arc::new(open_engine(opts)?);
    Db::start(engine)
}
