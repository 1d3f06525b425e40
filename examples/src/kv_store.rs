//! Use case 1: Key-value store: a map rebuilt by replaying the log, with tombstones; log compaction by
//! a snapshot.
//!
//! **When:** the state is a map you keep in memory and must survive a crash; writes arrive one
//! by one and must be acknowledged only once safe. The log is the only copy until a snapshot
//! holds the map; then the segments the snapshot covers are deleted, so recovery reads the
//! snapshot and only the tail of the log.
//!
//! **FsyncPolicy:** `Always` when a `put` that returned must survive a power cut (callers were
//! told "saved"); concurrent writers share each fdatasync (group commit). `Batch(1-10ms)` if
//! losing the last few milliseconds on power loss is acceptable and throughput matters more.
//!
//! Compaction order: `rotate()` seals the active segment (fsync) and returns the position `p`
//! of the next record; the snapshot written durably (temp, fsync, rename, fsync dir) holds the
//! map *and* `p`; only then are the segments before `p` deleted. A crash between any two steps
//! leaves a snapshot and a log that together hold every acknowledged write.
//!
//! When you need an index on disk, range scans over data larger than memory or reads that do
//! not fit a replay, this is the wrong tool: use the `kvstore` engine (an LSM tree built on
//! this very log).

use crate::durable_file::{read_json, write_json};
use crate::error::{Error, Result};
use crate::setup::wal_config;
use common::FileSystem;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wal::blocking::Wal;
use wal::{FsyncPolicy, Position, Record};

/// The snapshot file in the store's directory.
pub const SNAPSHOT_FILE: &str = "SNAPSHOT";

#[derive(Serialize, Deserialize)]
struct Snapshot {
    /// The first log position the snapshot does not cover.
    replay_from: Position,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// What `open` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// Keys loaded from the snapshot.
    pub snapshot_entries: usize,
    /// Log records replayed after it.
    pub replayed_records: u64,
}

/// What `compact` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// Where recovery will start replaying.
    pub replay_from: Position,
    /// Log segments deleted.
    pub segments_deleted: usize,
}

/// A map kept in memory, made durable by a log and a snapshot.
#[derive(Debug)]
pub struct KvStore {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    wal: Wal,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl KvStore {
    /// Opens the store in `dir`: loads the snapshot, then replays the log from where it ends.
    pub fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        fsync_policy: FsyncPolicy,
        segment_size_bytes: u64,
    ) -> Result<(KvStore, Recovered)> {
        fs.create_dir_all(dir)?;
        let snapshot: Option<Snapshot> = read_json(&*fs, &dir.join(SNAPSHOT_FILE))?;
        let (mut map, replay_from) = match snapshot {
            Some(s) => (s.entries.into_iter().collect(), s.replay_from),
            None => (BTreeMap::new(), Position::start()),
        };
        let snapshot_entries = map.len();
        let wal_dir = dir.join("wal");
        let (wal, _info) = Wal::open(wal_config(&fs, &wal_dir, fsync_policy, segment_size_bytes))?;
        let mut reader = wal.read_from(replay_from)?;
        let mut replayed_records = 0;
        while let Some((record, _)) = reader.next_record()? {
            if record.tombstone {
                map.remove(&record.key);
            } else {
                map.insert(record.key, record.value);
            }
            replayed_records += 1;
        }
        let store = KvStore {
            fs,
            dir: dir.to_path_buf(),
            wal,
            map,
        };
        let recovered = Recovered {
            snapshot_entries,
            replayed_records,
        };
        Ok((store, recovered))
    }

    /// Sets `key` to `value`: logged first (durable as the policy says), then applied.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.wal.append(&Record::put(key, value))?;
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    /// Deletes `key`: a tombstone is logged, so replay removes it too.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.wal.append(&Record::delete(key))?;
        self.map.remove(key);
        Ok(())
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.map.get(key).map(Vec::as_slice)
    }

    /// Every key and value, in key order.
    pub fn entries(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.map
    }

    /// Makes every write so far durable, whatever the policy.
    pub fn sync(&self) -> Result<()> {
        Ok(self.wal.sync()?)
    }

    /// Writes a snapshot of the map and deletes the log segments it covers.
    pub fn compact(&mut self) -> Result<Compacted> {
        let replay_from = self.wal.rotate()?;
        let snapshot = Snapshot {
            replay_from,
            entries: self
                .map
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        write_json(&*self.fs, &self.dir.join(SNAPSHOT_FILE), &snapshot)?;
        let segments_deleted = self.wal.delete_segments_before(replay_from)?;
        Ok(Compacted {
            replay_from,
            segments_deleted,
        })
    }

    /// The log, for inspection.
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    /// Closes the log (everything written becomes durable).
    pub fn close(self) -> Result<()> {
        Ok(self.wal.close()?)
    }
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Recovery of the first reopen (no snapshot yet).
    pub first_reopen: Recovered,
    /// The compaction.
    pub compacted: Compacted,
    /// Recovery after compaction.
    pub second_reopen: Recovered,
    /// The final map.
    pub entries: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn err_if(cond: bool, what: &str) -> Result<()> {
    if cond {
        Ok(())
    } else {
        Err(Error::Invalid(format!("the store lost its state: {what}")))
    }
}

/// The program: writes, reopens, compacts, reopens, printing each step to `out`.
pub fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    let policy = FsyncPolicy::Always;
    let segment_size_bytes = 4096;
    writeln!(
        out,
        "kv_store in {} (FsyncPolicy::Always, 4 KiB segments)",
        dir.display()
    )?;
    let (mut kv, _) = KvStore::open(fs.clone(), dir, policy, segment_size_bytes)?;
    kv.put(b"apple", b"red")?;
    kv.put(b"banana", b"yellow")?;
    kv.put(b"cherry", b"dark red")?;
    kv.delete(b"banana")?;
    kv.put(b"apple", b"green")?;
    writeln!(
        out,
        "wrote 4 puts and 1 delete; {} keys live",
        kv.entries().len()
    )?;
    kv.close()?;

    let (mut kv, first_reopen) = KvStore::open(fs.clone(), dir, policy, segment_size_bytes)?;
    writeln!(
        out,
        "reopened: replayed {} records, {} keys, banana deleted: {}",
        first_reopen.replayed_records,
        kv.entries().len(),
        kv.get(b"banana").is_none()
    )?;
    err_if(
        kv.get(b"apple") == Some(b"green") && kv.get(b"banana").is_none(),
        "replay",
    )?;

    for i in 0..100u32 {
        kv.put(
            format!("user:{:03}", i % 40).as_bytes(),
            format!("visit {i:04} {}", "x".repeat(60)).as_bytes(),
        )?;
    }
    let before = crate::setup::segment_count(&*fs, &dir.join("wal"))?;
    let compacted = kv.compact()?;
    let after = crate::setup::segment_count(&*fs, &dir.join("wal"))?;
    writeln!(
        out,
        "100 more puts over 40 keys filled {before} segments; compaction wrote a snapshot of {} keys and deleted {} segments ({after} left)",
        kv.entries().len(),
        compacted.segments_deleted
    )?;
    kv.put(b"date", b"brown")?;
    kv.delete(b"cherry")?;
    let expected = kv.entries().clone();
    kv.close()?;

    let (kv, second_reopen) = KvStore::open(fs, dir, policy, segment_size_bytes)?;
    writeln!(
        out,
        "reopened: {} keys from the snapshot, then replayed only {} records of the log's tail",
        second_reopen.snapshot_entries, second_reopen.replayed_records
    )?;
    err_if(kv.entries() == &expected, "snapshot + tail")?;
    writeln!(
        out,
        "final state: {} keys, identical to before the restart",
        kv.entries().len()
    )?;
    let entries = kv.entries().clone();
    kv.close()?;
    Ok(Summary {
        first_reopen,
        compacted,
        second_reopen,
        entries,
    })
}
