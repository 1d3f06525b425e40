//! The state machine on `kvstore`.
//!
//! Each committed entry is applied as one atomic write batch that also records the entry's log
//! id under [`LAST_APPLIED_KEY`] (and, for a membership entry, the membership under
//! [`MEMBERSHIP_KEY`]); a replay after a restart starts after the recorded log id, and applying
//! an entry again would write the same values, so nothing is applied twice in effect.
//!
//! Files, in the node's data directory: `sm.0/` and `sm.1/` (two kvstore databases, one live),
//! `SM_CURRENT` (names the live one; replaced durably), `SNAPSHOT` (the last snapshot built or
//! installed). Installing a snapshot fills the database that is not live, makes it durable,
//! then switches `SM_CURRENT`: a crash leaves either the old or the new state, whole.

use crate::error::{Error, Result};
use crate::files::{clear_dir, read_all, replace_durably};
use crate::format::{decode_pointer, decode_snapshot, encode_pointer, encode_snapshot};
use crate::format::{SM_POINTER_FILE, SM_SLOTS};
use crate::types::{Entry, LogId, Request, Snapshot, SnapshotMeta, StoredMembership, TypeConfig};
use common::FileSystem;
use futures_util::StreamExt;
use kvstore::{Db, FsyncPolicy};
use openraft::storage::{EntryResponder, RaftSnapshotBuilder, RaftStateMachine};
use openraft::{EntryPayload, OptionalSend};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

/// Keys under this prefix hold replication metadata; clients may not write them.
pub const RESERVED_PREFIX: &[u8] = b"\x00raft/";
/// The log id of the last applied entry (JSON).
pub const LAST_APPLIED_KEY: &[u8] = b"\x00raft/last_applied";
/// The last applied membership with its log id (JSON).
pub const MEMBERSHIP_KEY: &[u8] = b"\x00raft/membership";
/// The largest key + value a client may write. Checked before an entry is proposed, so that no
/// committed entry can be refused when it is applied (which would stop the state machine), and
/// kept well under the Raft log's record limit, since entries are JSON (about 4 bytes a byte).
pub const MAX_ENTRY_BYTES: u64 = 4 << 20;
/// Name of the file holding the current snapshot.
pub const SNAPSHOT_FILE: &str = "SNAPSHOT";
/// Pairs written per batch while installing a snapshot.
const INSTALL_BATCH_PAIRS: usize = 1024;

/// The state machine: cheap to clone; clones share the store (one goes to Raft, one serves
/// reads).
#[derive(Clone, Debug)]
pub struct KvStateMachine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    db: RwLock<Arc<Db>>,
    slot: Mutex<usize>,
    snapshot: Mutex<Option<Snapshot>>,
    memtable_size_bytes: usize,
    applied_entries: AtomicU64,
    first_applied_index: AtomicU64,
    recovered_last_applied: Option<LogId>,
}

/// Counters for tests and status: what this process applied since the store was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApplyStats {
    /// Entries applied since open.
    pub entries_applied: u64,
    /// The lowest log index applied since open (`None`: nothing applied yet).
    pub first_index_applied: Option<u64>,
    /// The last applied log id found at open.
    pub recovered_last_applied: Option<LogId>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn io_err(e: impl Into<Error>) -> io::Error {
    e.into().into_io()
}

fn open_db(fs: &Arc<dyn FileSystem>, dir: &Path, memtable_size_bytes: usize) -> Result<Db> {
    // The Raft log is the durable record; the store only needs to be durable up to the last
    // snapshot, which `build_snapshot` and `install_snapshot` make so with `persist`.
    Ok(Db::builder(dir)
        .fs(fs.clone())
        .memtable_size_bytes(memtable_size_bytes)
        .max_value_bytes(MAX_ENTRY_BYTES)
        .fsync_policy(FsyncPolicy::Batch(Duration::from_millis(5)))
        .open()?)
}

fn decode_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corruption {
        file: PathBuf::from(what),
        offset: 0,
        reason: format!("does not decode: {e}"),
    })
}

fn read_meta(
    get: impl Fn(&[u8]) -> kvstore::Result<Option<Vec<u8>>>,
) -> Result<(Option<LogId>, StoredMembership)> {
    let last = match get(LAST_APPLIED_KEY)? {
        Some(b) => Some(decode_json(&b, "state machine key \\x00raft/last_applied")?),
        None => None,
    };
    let membership = match get(MEMBERSHIP_KEY)? {
        Some(b) => decode_json(&b, "state machine key \\x00raft/membership")?,
        None => StoredMembership::default(),
    };
    Ok((last, membership))
}

impl KvStateMachine {
    /// Opens (creating if needed) the state machine in `dir` (the node's data directory).
    pub fn open(
        dir: impl Into<PathBuf>,
        fs: Arc<dyn FileSystem>,
        memtable_size_bytes: usize,
    ) -> Result<KvStateMachine> {
        let dir = dir.into();
        fs.create_dir_all(&dir)?;
        let pointer = dir.join(SM_POINTER_FILE);
        let slot = if fs.exists(&pointer) {
            decode_pointer(&read_all(&*fs, &pointer)?, &pointer)?
        } else {
            replace_durably(&*fs, &pointer, &encode_pointer(0))?;
            0
        };
        // What an interrupted install left in the other slot is of no use.
        clear_dir(&*fs, &dir.join(SM_SLOTS[1 - slot]))?;
        let db = open_db(&fs, &dir.join(SM_SLOTS[slot]), memtable_size_bytes)?;
        let (recovered, _) = read_meta(|k| db.get(k))?;
        let snap_path = dir.join(SNAPSHOT_FILE);
        let snapshot = if fs.exists(&snap_path) {
            let bytes = read_all(&*fs, &snap_path)?;
            let meta = decode_snapshot(&bytes, &snap_path)?.meta;
            Some(Snapshot {
                meta,
                snapshot: bytes,
            })
        } else {
            None
        };
        Ok(KvStateMachine {
            inner: Arc::new(Inner {
                fs,
                dir,
                db: RwLock::new(Arc::new(db)),
                slot: Mutex::new(slot),
                snapshot: Mutex::new(snapshot),
                memtable_size_bytes,
                applied_entries: AtomicU64::new(0),
                first_applied_index: AtomicU64::new(u64::MAX),
                recovered_last_applied: recovered,
            }),
        })
    }

    fn db(&self) -> Arc<Db> {
        self.inner
            .db
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The value of a user key in the local state machine.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if key.starts_with(RESERVED_PREFIX) {
            return Err(Error::ReservedKey);
        }
        Ok(self.db().get(key)?)
    }

    /// Up to `limit` user pairs with `start <= key < end` (no `end`: to the last key), in order.
    pub fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let hi = end.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out = Vec::new();
        for item in self.db().range((Bound::Included(start), hi)) {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item?;
            if !k.starts_with(RESERVED_PREFIX) {
                out.push((k, v));
            }
        }
        Ok(out)
    }

    /// The log id of the last applied entry.
    pub fn last_applied(&self) -> Result<Option<LogId>> {
        let db = self.db();
        Ok(read_meta(|k| db.get(k))?.0)
    }

    /// What this process applied since open.
    pub fn apply_stats(&self) -> ApplyStats {
        let first = self.inner.first_applied_index.load(Ordering::SeqCst);
        ApplyStats {
            entries_applied: self.inner.applied_entries.load(Ordering::SeqCst),
            first_index_applied: (first != u64::MAX).then_some(first),
            recovered_last_applied: self.inner.recovered_last_applied,
        }
    }

    /// Makes everything applied durable in the store.
    pub fn persist(&self) -> Result<()> {
        Ok(self.db().persist()?)
    }

    fn apply_one(&self, entry: &Entry) -> Result<()> {
        let db = self.db();
        let mut batch = db.batch();
        match &entry.payload {
            EntryPayload::Blank => {}
            EntryPayload::Normal(Request::Put { key, value }) => {
                batch.put(key, value);
            }
            EntryPayload::Normal(Request::Delete { key }) => {
                batch.delete(key);
            }
            EntryPayload::Membership(m) => {
                let stored = StoredMembership::new(Some(entry.log_id), m.clone());
                batch.put(
                    MEMBERSHIP_KEY,
                    serde_json::to_vec(&stored).map_err(io::Error::other)?,
                );
            }
        }
        batch.put(
            LAST_APPLIED_KEY,
            serde_json::to_vec(&entry.log_id).map_err(io::Error::other)?,
        );
        batch.commit()?;
        self.inner.applied_entries.fetch_add(1, Ordering::SeqCst);
        self.inner
            .first_applied_index
            .fetch_min(entry.log_id.index, Ordering::SeqCst);
        Ok(())
    }

    fn build(&self) -> Result<Snapshot> {
        let db = self.db();
        let view = db.snapshot();
        let (last_log_id, last_membership) = read_meta(|k| view.get(k))?;
        let mut pairs = Vec::new();
        for item in view.iter() {
            let (k, v) = item?;
            if !k.starts_with(RESERVED_PREFIX) {
                pairs.push((k, v));
            }
        }
        let meta = SnapshotMeta {
            last_log_id,
            last_membership,
        };
        let bytes = encode_snapshot(&meta, &pairs)?;
        // Raft may purge the log up to this snapshot: what it covers must be durable here.
        db.persist()?;
        let snap = Snapshot {
            meta,
            snapshot: bytes,
        };
        self.save_snapshot(snap.clone())?;
        Ok(snap)
    }

    /// Replaces the `SNAPSHOT` file (dropping the previous snapshot) and the cached copy.
    fn save_snapshot(&self, snap: Snapshot) -> Result<()> {
        let mut cur = lock(&self.inner.snapshot);
        replace_durably(
            &*self.inner.fs,
            &self.inner.dir.join(SNAPSHOT_FILE),
            &snap.snapshot,
        )?;
        *cur = Some(snap);
        Ok(())
    }

    fn install(&self, meta: &SnapshotMeta, data: Vec<u8>) -> Result<()> {
        let fs = &self.inner.fs;
        let decoded = decode_snapshot(&data, Path::new("(received snapshot)"))?;
        let mut slot = lock(&self.inner.slot);
        let new_slot = 1 - *slot;
        let new_dir = self.inner.dir.join(SM_SLOTS[new_slot]);
        clear_dir(&**fs, &new_dir)?;
        let db = open_db(fs, &new_dir, self.inner.memtable_size_bytes)?;
        for chunk in decoded.pairs.chunks(INSTALL_BATCH_PAIRS) {
            let mut batch = db.batch();
            for (k, v) in chunk {
                batch.put(k, v);
            }
            batch.commit()?;
        }
        let mut batch = db.batch();
        if let Some(last) = &meta.last_log_id {
            batch.put(
                LAST_APPLIED_KEY,
                serde_json::to_vec(last).map_err(io::Error::other)?,
            );
        }
        batch.put(
            MEMBERSHIP_KEY,
            serde_json::to_vec(&meta.last_membership).map_err(io::Error::other)?,
        );
        batch.commit()?;
        db.persist()?;
        replace_durably(
            &**fs,
            &self.inner.dir.join(SM_POINTER_FILE),
            &encode_pointer(new_slot),
        )?;
        let mut old = std::mem::replace(
            &mut *self.inner.db.write().unwrap_or_else(|p| p.into_inner()),
            Arc::new(db),
        );
        *slot = new_slot;
        // A reader that took the old database before the switch finishes its read first; then
        // the old database closes and its files go.
        loop {
            match Arc::try_unwrap(old) {
                Ok(db) => break drop(db),
                Err(still_shared) => {
                    old = still_shared;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        clear_dir(&**fs, &self.inner.dir.join(SM_SLOTS[1 - new_slot]))?;
        self.save_snapshot(Snapshot {
            meta: meta.clone(),
            snapshot: data,
        })?;
        Ok(())
    }
}

impl RaftSnapshotBuilder<TypeConfig> for KvStateMachine {
    type SnapshotData = Vec<u8>;

    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.build())
            .await
            .map_err(io::Error::other)?
            .map_err(io_err)
    }
}

impl RaftStateMachine<TypeConfig> for KvStateMachine {
    type SnapshotData = Vec<u8>;
    type SnapshotBuilder = KvStateMachine;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        let db = self.db();
        read_meta(|k| db.get(k)).map_err(io_err)
    }

    async fn apply<S>(&mut self, mut entries: S) -> io::Result<()>
    where
        S: futures_util::Stream<Item = io::Result<EntryResponder<TypeConfig>>>
            + Unpin
            + OptionalSend,
    {
        while let Some(item) = entries.next().await {
            let (entry, responder) = item?;
            self.apply_one(&entry).map_err(io_err)?;
            if let Some(r) = responder {
                r.send(());
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(&mut self, meta: &SnapshotMeta, snapshot: Vec<u8>) -> io::Result<()> {
        let this = self.clone();
        let meta = meta.clone();
        tokio::task::spawn_blocking(move || this.install(&meta, snapshot))
            .await
            .map_err(io::Error::other)?
            .map_err(io_err)
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        Ok(lock(&self.inner.snapshot).clone())
    }
}
