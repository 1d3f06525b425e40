//! The Raft log on the `wal` crate.
//!
//! One ordered stream of WAL records holds everything the log must keep: entries (key = the
//! index, 8 bytes big-endian; value = the entry, JSON), votes, purge markers and truncation
//! records (keys in [`crate::format`]). Nothing is ever reordered: a vote saved after an
//! entry is after it in the file. Open replays the stream from the oldest segment and
//! rebuilds an in-memory index (log index -> log id and WAL position), the vote and the last
//! purged log id, applying truncations and purges in the order they were written.
//!
//! - `append` hands the records to the WAL without waiting ([`wal::Wal::append_no_wait`]), so
//!   they are readable at once, and queues the completion callback to a flusher task that
//!   fires it after [`wal::Wal::wait_durable`] (the WAL runs `FsyncPolicy::Always`: one group
//!   commit fsync covers many appends). Callbacks fire in append order.
//! - `save_vote`, `truncate_after` and `purge` return only once their record is durable.
//! - `truncate_after` writes a truncation record instead of cutting the file: a physical cut
//!   would also cut any vote or purge record written after the first void entry. The void
//!   entries' bytes stay until `purge` deletes their segment.
//! - `purge` writes a purge marker (with a copy of the vote, if the vote's record lies in a
//!   segment about to go) and then deletes the segments wholly before the first kept entry
//!   (or before the marker, if no entry is kept), so `get_log_state` is right after a restart
//!   even with an empty log.

use crate::error::{Error, Result};
use crate::format::{entry_index, entry_key, PURGED_KEY, TRUNCATE_KEY, VOTE_KEY};
use crate::types::{Entry, LogId, TypeConfig, Vote};
use common::FileSystem;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::OptionalSend;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;
use wal::{FsyncPolicy, Position, Record, Wal, WalConfig};

/// How many completion callbacks may wait for their fsync at once (appends wait beyond it).
const FLUSH_QUEUE_LEN: usize = 1024;

/// The Raft log store: cheap to clone (clones share the log); also its own log reader.
#[derive(Clone)]
pub struct WalLogStore {
    inner: Arc<Inner>,
}

struct Inner {
    wal: Wal,
    dir: PathBuf,
    state: Mutex<IndexState>,
    flusher: mpsc::Sender<(Position, IOFlushed<TypeConfig>)>,
}

/// What replay rebuilds and every write keeps current.
#[derive(Default)]
struct IndexState {
    /// Live entries: index -> (log id, position of its record).
    entries: BTreeMap<u64, (LogId, Position)>,
    vote: Option<(Vote, Position)>,
    purged: Option<LogId>,
}

impl Debug for WalLogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalLogStore")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

fn json<T: serde::Serialize>(v: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(io::Error::other)
}

impl WalLogStore {
    /// Opens (creating if needed) the log in `dir` and replays it. `segment_size_bytes` is the
    /// WAL segment size (the unit `purge` frees).
    pub async fn open(
        dir: impl Into<PathBuf>,
        fs: Arc<dyn FileSystem>,
        segment_size_bytes: u64,
    ) -> Result<WalLogStore> {
        let dir = dir.into();
        let config = WalConfig {
            dir: dir.clone(),
            fsync_policy: FsyncPolicy::Always,
            segment_size_bytes,
            fs,
            ..WalConfig::default()
        };
        let (wal, _info) = Wal::open(config).await?;
        let state = replay(&wal, &dir).await?;
        let (tx, rx) = mpsc::channel(FLUSH_QUEUE_LEN);
        tokio::spawn(flusher(wal.clone(), rx));
        Ok(WalLogStore {
            inner: Arc::new(Inner {
                wal,
                dir,
                state: Mutex::new(state),
                flusher: tx,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, IndexState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends one metadata record and waits until it is durable.
    async fn append_meta(&self, records: &[Record]) -> io::Result<Vec<Position>> {
        let positions = self
            .inner
            .wal
            .append_no_wait(records)
            .map_err(|e| Error::from(e).into_io())?;
        if let Some(&last) = positions.last() {
            self.inner
                .wal
                .wait_durable(last)
                .await
                .map_err(|e| Error::from(e).into_io())?;
        }
        Ok(positions)
    }

    /// Writes everything and releases the log directory.
    pub async fn close(&self) -> Result<()> {
        Ok(self.inner.wal.close().await?)
    }
}

/// Fires completion callbacks in order, each once its record is durable.
async fn flusher(wal: Wal, mut rx: mpsc::Receiver<(Position, IOFlushed<TypeConfig>)>) {
    while let Some((pos, callback)) = rx.recv().await {
        let result = wal
            .wait_durable(pos)
            .await
            .map_err(|e| Error::from(e).into_io());
        callback.io_completed(result);
    }
}

async fn replay(wal: &Wal, dir: &std::path::Path) -> Result<IndexState> {
    let mut st = IndexState::default();
    let mut reader = wal.read_from(Position::start()).await?;
    let corrupt = |pos: Position, reason: String| Error::Corruption {
        file: dir.join(format!("segment {}", pos.segment_id())),
        offset: pos.offset(),
        reason,
    };
    while let Some((record, pos)) = reader.next_record().await? {
        if let Some(index) = entry_index(&record.key) {
            let entry: Entry = serde_json::from_slice(&record.value)
                .map_err(|e| corrupt(pos, format!("entry {index} does not decode: {e}")))?;
            if entry.index() != index {
                return Err(corrupt(
                    pos,
                    format!("entry key {index} holds entry {}", entry.index()),
                ));
            }
            st.entries.insert(index, (entry.log_id(), pos));
        } else if record.key == VOTE_KEY {
            let vote: Vote = serde_json::from_slice(&record.value)
                .map_err(|e| corrupt(pos, format!("vote does not decode: {e}")))?;
            st.vote = Some((vote, pos));
        } else if record.key == PURGED_KEY {
            let purged: LogId = serde_json::from_slice(&record.value)
                .map_err(|e| corrupt(pos, format!("purge marker does not decode: {e}")))?;
            st.entries = st.entries.split_off(&(purged.index() + 1));
            st.purged = Some(purged);
        } else if record.key == TRUNCATE_KEY {
            let kept: Option<LogId> = serde_json::from_slice(&record.value)
                .map_err(|e| corrupt(pos, format!("truncation does not decode: {e}")))?;
            let from = kept.map_or(0, |l| l.index() + 1);
            st.entries.split_off(&from);
        } else {
            return Err(corrupt(pos, format!("unknown record key {:?}", record.key)));
        }
    }
    Ok(st)
}

impl RaftLogReader<TypeConfig> for WalLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        let start = range.start_bound().cloned();
        let end = range.end_bound().cloned();
        let wanted: Vec<(u64, Position)> = {
            let st = self.state();
            let mut v = Vec::new();
            let mut next: Option<u64> = None;
            for (&i, &(_, pos)) in st.entries.range((start, end)) {
                if next.is_some_and(|n| n != i) {
                    break; // a gap: return the contiguous run only
                }
                v.push((i, pos));
                next = Some(i + 1);
            }
            v
        };
        let Some(&(_, first)) = wanted.first() else {
            return Ok(Vec::new());
        };
        let mut reader = self
            .inner
            .wal
            .read_from(first)
            .await
            .map_err(|e| Error::from(e).into_io())?;
        let mut out = Vec::with_capacity(wanted.len());
        for &(index, want) in &wanted {
            loop {
                let (record, pos) = reader
                    .next_record()
                    .await
                    .map_err(|e| Error::from(e).into_io())?
                    .ok_or_else(|| io::Error::other(format!("log ends before entry {index}")))?;
                if pos < want {
                    continue; // a void entry or a metadata record
                }
                if pos > want || entry_index(&record.key) != Some(index) {
                    return Err(io::Error::other(format!(
                        "entry {index} is not at {want} in the raft log"
                    )));
                }
                let entry: Entry = serde_json::from_slice(&record.value).map_err(|e| {
                    io::Error::other(format!("entry {index} at {pos} does not decode: {e}"))
                })?;
                out.push(entry);
                break;
            }
        }
        Ok(out)
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        Ok(self.state().vote.as_ref().map(|(v, _)| *v))
    }
}

impl RaftLogStorage<TypeConfig> for WalLogStore {
    type LogReader = WalLogStore;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let st = self.state();
        let last = st.entries.values().next_back().map(|(id, _)| *id);
        Ok(LogState {
            last_purged_log_id: st.purged,
            last_log_id: last.or(st.purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        let positions = self
            .append_meta(&[Record::put(VOTE_KEY, json(vote)?)])
            .await?;
        self.state().vote = Some((*vote, positions[0]));
        Ok(())
    }

    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let mut records = Vec::with_capacity(entries.len());
        for e in &entries {
            records.push(Record::put(entry_key(e.index()), json(e)?));
        }
        let last = {
            // Appending under the index lock keeps the index in log order.
            let mut st = self.state();
            let positions = self
                .inner
                .wal
                .append_no_wait(&records)
                .map_err(|e| Error::from(e).into_io())?;
            for (e, &pos) in entries.iter().zip(&positions) {
                st.entries.insert(e.index(), (e.log_id(), pos));
            }
            positions.last().copied()
        };
        match last {
            Some(pos) => self
                .inner
                .flusher
                .send((pos, callback))
                .await
                .map_err(|_| io::Error::other("the raft log's flusher has stopped")),
            None => {
                callback.io_completed(Ok(()));
                Ok(())
            }
        }
    }

    async fn truncate_after(&mut self, last_log_id: Option<LogId>) -> io::Result<()> {
        let from = last_log_id.map_or(0, |l| l.index() + 1);
        if self.state().entries.range(from..).next().is_none() {
            return Ok(());
        }
        self.append_meta(&[Record::put(TRUNCATE_KEY, json(&last_log_id)?)])
            .await?;
        self.state().entries.split_off(&from);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        let (first_kept, vote) = {
            let st = self.state();
            let first_kept = st
                .entries
                .range(log_id.index() + 1..)
                .next()
                .map(|(_, (_, p))| *p);
            (first_kept, st.vote)
        };
        let mut records = vec![Record::put(PURGED_KEY, json(&log_id)?)];
        // The marker lands at the tail, so it always outlives the cut; so must the vote.
        let cut_hint = first_kept.unwrap_or(Position::new(u64::MAX, 0));
        if let Some((v, pos)) = vote {
            if pos < cut_hint {
                records.push(Record::put(VOTE_KEY, json(&v)?));
            }
        }
        let positions = self.append_meta(&records).await?;
        let cut = first_kept.unwrap_or(positions[0]);
        {
            let mut st = self.state();
            st.entries = st.entries.split_off(&(log_id.index() + 1));
            if st.purged.is_none_or(|p| p < log_id) {
                st.purged = Some(log_id);
            }
            if let (Some((v, _)), Some(&pos)) = (vote, positions.get(1)) {
                if st.vote.as_ref().is_some_and(|(cur, _)| *cur == v) {
                    st.vote = Some((v, pos));
                }
            }
        }
        self.inner
            .wal
            .delete_segments_before(cut)
            .await
            .map_err(|e| Error::from(e).into_io())?;
        Ok(())
    }
}
