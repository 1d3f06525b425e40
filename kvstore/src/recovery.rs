//! Opening a database: lock, manifest, orphans, WAL replay, flush thread.
//!
//! ```text
//! LOCK (a second opener gets Error::Locked)
//! CURRENT -> manifest -> version, last sequence S, log start L   (version_set.rs)
//! remove tables the version does not name (a crash mid-flush), old manifests, temp files
//! open the WAL (it cuts a torn tail per its recovery mode)
//! replay the WAL from L, giving records S+1, S+2, ... in log order: in place (a frozen run
//!   of places in the mapped segments) if it holds recovery_flush_bytes or more, otherwise
//!   into a fresh memtable (replay.rs)
//! if that memtable is over the size limit, or is a run: freeze it (WAL rotated) for the
//!   flush thread
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
        wait_spin: opts.wal_wait_spin,
        max_record_bytes: opts.max_value_bytes + 64,
        fs: fs.clone(),
        ..wal::WalConfig::default()
    };
    let (wal, _info) = wal::blocking::Wal::open(wal_config)?;

    // Replay: records after the log start get the numbers after the last flushed one.
    let log_start = wal::Position::from_bytes(versions.log_start());
    let cache = (opts.block_cache_bytes > 0).then(|| BlockCache::new(opts.block_cache_bytes));
    let last = versions.last_sequence();
    // In place when the log is large and can be (replay.rs); otherwise into a memtable.
    let (recovered, seq, in_place) = match crate::replay::replay_in_place(&wal, log_start, last, 1)?
    {
        Some((run, seq))
            if !run.is_empty() && run.approximate_size_bytes() >= opts.recovery_flush_bytes =>
        {
            (Arc::new(run), seq, true)
        }
        // Small: into a memtable that takes writes, as a classic replay would.
        Some((run, seq)) => (Arc::new(crate::replay::copy_run(run, 1)), seq, false),
        None => {
            let mem = Arc::new(memtable::MemTable::new(1));
            // The WAL reads, checksums and decodes on its own thread, a batch ahead of the
            // inserts, which run on two threads (replay.rs).
            let mut replay = wal.replay_from(log_start)?;
            let seq = crate::replay::replay_into(&mut replay, &mem, last)?;
            (mem, seq, false)
        }
    };
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
    if in_place || recovered.approximate_size_bytes() >= engine.opts.memtable_size_bytes {
        // Too big to keep writing into, or a run of places (which takes no inserts): hand it
        // to the flush thread like any full memtable.
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
        engine.queue_frozen(
            &mut q,
            Arc::new(Frozen {
                mem: recovered,
                mark,
                last_seq: seq,
            }),
        );
    }
    Ok(engine)
}

/// Opens the database and starts its flush thread.
pub(crate) fn open(opts: Options) -> Result<Db> {
    let engine = Arc::new(open_engine(opts)?);
    Db::start(engine)
}

#[cfg(test)]
mod tests {
    use crate::filename::WAL_DIR;
    use crate::{Db, Error};
    use common::{FileSystem, MemFs};
    use std::path::{Path, PathBuf};

    fn open(fs: &MemFs) -> crate::Result<Db> {
        Db::builder("/db")
            .fs(fs.shared())
            .memtable_size_bytes(64 << 20)
            .wal_segment_size_bytes(8 << 10)
            .open()
    }

    fn segments(fs: &MemFs) -> Vec<PathBuf> {
        let dir = Path::new("/db").join(WAL_DIR);
        let mut names: Vec<_> = fs
            .list_dir(&dir)
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".wal"))
            .collect();
        names.sort();
        names.into_iter().map(|n| dir.join(n)).collect()
    }

    /// 3000 writes over many WAL segments (overwrites, deletes, batches), never flushed.
    fn fill(fs: &MemFs) {
        let db = open(fs).unwrap();
        for i in 0..3000u32 {
            let key = format!("k{:05}", i % 1000);
            match i % 10 {
                7 => db.delete(&key).unwrap(),
                8 => {
                    let mut b = db.batch();
                    b.put(&key, format!("batch-{i}"))
                        .put("last-batch", i.to_string());
                    b.commit().unwrap();
                }
                _ => db.put(&key, format!("v{i}")).unwrap(),
            }
        }
        assert_eq!(db.stats().flushes, 0);
    }

    /// What `fill` leaves for key `k` (the last write to it wins).
    fn expected(k: u32) -> Option<Vec<u8>> {
        let i = 2000 + k;
        match i % 10 {
            7 => None,
            8 => Some(format!("batch-{i}").into_bytes()),
            _ => Some(format!("v{i}").into_bytes()),
        }
    }

    #[test]
    fn a_reopen_replays_every_write_in_order_over_many_segments() {
        let fs = MemFs::new();
        fill(&fs);
        assert!(segments(&fs).len() > 1);
        let db = open(&fs).unwrap();
        for k in 0..1000 {
            assert_eq!(db.get(format!("k{k:05}")).unwrap(), expected(k), "k{k:05}");
        }
        assert_eq!(db.get("last-batch").unwrap(), Some(b"2998".to_vec()));
        // New writes are numbered after the replayed ones: they win.
        db.put("k00000", "new").unwrap();
        drop(db);
        let db = open(&fs).unwrap();
        assert_eq!(db.get("k00000").unwrap(), Some(b"new".to_vec()));
    }

    #[test]
    fn a_torn_wal_tail_loses_only_the_last_write() {
        let fs = MemFs::new();
        fill(&fs);
        let last = segments(&fs).pop().unwrap();
        let bytes = fs.read_all(&last).unwrap();
        fs.write_all(&last, &bytes[..bytes.len() - 3]).unwrap();
        let db = open(&fs).unwrap();
        // The last write (i = 2999, a put of k00999) is gone; the ones before it stay.
        assert_eq!(db.get("k00999").unwrap(), Some(b"v1999".to_vec()));
        assert_eq!(db.get("k00998").unwrap(), expected(998));
    }

    #[test]
    fn a_damaged_wal_record_fails_the_open_naming_the_segment_and_offset() {
        let fs = MemFs::new();
        fill(&fs);
        let victim = segments(&fs)[1].clone();
        let mut bytes = fs.read_all(&victim).unwrap();
        bytes[1000] ^= 0x40;
        fs.write_all(&victim, &bytes).unwrap();
        let Err(err) = open(&fs) else {
            panic!("the open succeeded over a damaged WAL record");
        };
        match &err {
            Error::Wal(wal::Error::ChecksumMismatch { file, offset, .. })
            | Error::Wal(wal::Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, &victim);
                assert!(*offset <= 1000 && *offset + 64 > 1000, "{err}");
            }
            other => panic!("unexpected {other}"),
        }
    }
}
