//! Use case 5: Raft-style log: entries with term and index; a follower truncates a conflicting suffix;
//! a snapshot lets the prefix go; a restart recovers the last term and index.
//!
//! **When:** replicas agree on one ordered log (Raft, Multi-Paxos, primary-backup). The log *is*
//! the replicated state; the state machine is a fold over its committed prefix. A follower
//! must be able to drop an uncommitted suffix that conflicts with the leader's log
//! (`truncate_after`), and the committed prefix can go once a state-machine snapshot holds it
//! (`delete_segments_before`).
//!
//! **FsyncPolicy:** `Always`. Raft's safety argument assumes a node answering AppendEntries or
//! a vote has its log on stable storage; a follower that forgets acknowledged entries after a
//! power cut can make a committed entry disappear from the cluster. (The term and vote,
//! Raft's other durable state, belong in a small file replaced atomically, as
//! [`crate::durable_file`] does for the snapshot; not shown here.)
//!
//! Each entry is one record: key = index (8 bytes big-endian), value = the entry as JSON. The
//! snapshot file holds the last index and term it covers and the state machine's bytes.

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

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The leader's term when it was created.
    pub term: u64,
    /// Its place in the log, from 1.
    pub index: u64,
    /// The state-machine command.
    pub command: Vec<u8>,
}

/// A snapshot: the state machine after applying entries `..= last_index`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The last index it covers (0: none).
    pub last_index: u64,
    /// That entry's term.
    pub last_term: u64,
    /// The state machine's bytes.
    pub state: Vec<u8>,
}

/// The snapshot file in the log's directory.
pub const SNAPSHOT_FILE: &str = "SNAPSHOT";

/// A node's log.
#[derive(Debug)]
pub struct RaftLog {
    fs: Arc<dyn FileSystem>,
    dir: PathBuf,
    wal_dir: PathBuf,
    wal: Wal,
    snapshot: Snapshot,
    /// Entries after the snapshot: index -> (term, position).
    entries: BTreeMap<u64, (u64, Position)>,
}

impl RaftLog {
    /// Opens the log in `dir`: loads the snapshot, then indexes the entries after it, checking
    /// that indexes follow one another and terms never decrease.
    pub fn open(fs: Arc<dyn FileSystem>, dir: &Path, segment_size_bytes: u64) -> Result<RaftLog> {
        fs.create_dir_all(dir)?;
        let snapshot: Snapshot = read_json(&*fs, &dir.join(SNAPSHOT_FILE))?.unwrap_or_default();
        let wal_dir = dir.join("log");
        let (wal, _) = Wal::open(wal_config(
            &fs,
            &wal_dir,
            FsyncPolicy::Always,
            segment_size_bytes,
        ))?;
        let mut entries = BTreeMap::new();
        let mut reader = wal.read_from(Position::start())?;
        let (mut last_index, mut last_term): (Option<u64>, u64) = (None, 0);
        while let Some((record, at)) = reader.next_record()? {
            let e: Entry = serde_json::from_slice(&record.value)
                .map_err(|e| Error::bad_record(&wal_dir, at, e))?;
            let expected = match last_index {
                None => Some(e.index.min(snapshot.last_index.saturating_add(1)).max(1)),
                Some(i) => i.checked_add(1),
            };
            if Some(e.index) != expected || e.term < last_term {
                return Err(Error::bad_record(
                    &wal_dir,
                    at,
                    format!(
                        "entry {} (term {}) where {expected:?} (term >= {last_term}) belongs",
                        e.index, e.term
                    ),
                ));
            }
            (last_index, last_term) = (Some(e.index), e.term);
            if e.index > snapshot.last_index {
                entries.insert(e.index, (e.term, at));
            }
        }
        Ok(RaftLog {
            fs,
            dir: dir.to_path_buf(),
            wal_dir,
            wal,
            snapshot,
            entries,
        })
    }

    /// The last index (0 for an empty log).
    pub fn last_index(&self) -> u64 {
        self.entries
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.snapshot.last_index)
    }

    /// The last entry's term (0 for an empty log).
    pub fn last_term(&self) -> u64 {
        self.entries
            .values()
            .next_back()
            .map_or(self.snapshot.last_term, |(t, _)| *t)
    }

    /// The term of entry `index`, if the log has it (or the snapshot covers exactly it).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot.last_index {
            return Some(self.snapshot.last_term);
        }
        self.entries.get(&index).map(|(t, _)| *t)
    }

    /// The snapshot the log starts after.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn append(&mut self, entries: &[Entry]) -> Result<()> {
        let records = entries
            .iter()
            .map(|e| {
                let value = serde_json::to_vec(e).map_err(|err| Error::Invalid(err.to_string()))?;
                Ok(Record::put(e.index.to_be_bytes(), value))
            })
            .collect::<Result<Vec<_>>>()?;
        let positions = self.wal.append_batch(&records)?;
        for (e, at) in entries.iter().zip(positions) {
            self.entries.insert(e.index, (e.term, at));
        }
        Ok(())
    }

    /// As leader: appends a command in `term`; returns its index once durable.
    pub fn append_leader(&mut self, term: u64, command: &[u8]) -> Result<u64> {
        if term < self.last_term() {
            return Err(Error::Invalid(format!(
                "term {term} is behind the log's {}",
                self.last_term()
            )));
        }
        let index = self
            .last_index()
            .checked_add(1)
            .ok_or_else(|| Error::Invalid("the log is full".into()))?;
        self.append(&[Entry {
            term,
            index,
            command: command.to_vec(),
        }])?;
        Ok(index)
    }

    /// As follower, Raft's AppendEntries: `false` if the log has no entry `prev_index` of
    /// `prev_term`; otherwise drops the suffix from the first entry whose term differs,
    /// appends the entries it lacks (one atomic batch, durable) and returns `true`.
    pub fn append_entries(
        &mut self,
        prev_index: u64,
        prev_term: u64,
        entries: &[Entry],
    ) -> Result<bool> {
        if prev_index >= self.snapshot.last_index && self.term_at(prev_index) != Some(prev_term) {
            return Ok(false);
        }
        let mut new = Vec::new();
        for (k, e) in entries.iter().enumerate() {
            if prev_index.checked_add(1 + k as u64) != Some(e.index) {
                return Err(Error::Invalid(format!(
                    "entry {} is out of sequence",
                    e.index
                )));
            }
            if e.index <= self.snapshot.last_index {
                continue; // committed, and so equal to ours
            }
            match self.term_at(e.index) {
                Some(t) if t == e.term => continue,
                Some(_) => {
                    self.truncate_from(e.index)?;
                    new.extend_from_slice(&entries[k..]);
                }
                None => new.extend_from_slice(&entries[k..]),
            }
            break;
        }
        if !new.is_empty() {
            self.append(&new)?;
        }
        Ok(true)
    }

    /// Drops entry `index` and every later one, durably.
    fn truncate_from(&mut self, index: u64) -> Result<()> {
        let keep = match self.entries.get(&(index - 1)) {
            Some(&(_, at)) => at,
            // `index - 1` is the snapshot's last entry: every entry in the log goes.
            None => Position::start(),
        };
        self.wal.truncate_after(keep)?;
        self.entries.split_off(&index);
        Ok(())
    }

    /// The entries from `index` on, read from the log (what a leader sends a follower).
    pub fn entries_from(&self, index: u64) -> Result<Vec<Entry>> {
        let Some(&(_, at)) = self.entries.get(&index) else {
            return if self.last_index().checked_add(1) == Some(index) {
                Ok(Vec::new())
            } else {
                Err(Error::Invalid(format!(
                    "entry {index} is not in the log (send the snapshot instead)"
                )))
            };
        };
        let mut reader = self.wal.read_from(at)?;
        let mut out = Vec::new();
        while let Some((record, at)) = reader.next_record()? {
            out.push(
                serde_json::from_slice(&record.value)
                    .map_err(|e| Error::bad_record(&self.wal_dir, at, e))?,
            );
        }
        Ok(out)
    }

    /// Writes a snapshot of the state machine after entry `upto`, then deletes the log
    /// segments that hold only entries up to it. Returns how many were deleted.
    pub fn compact(&mut self, upto: u64, state: Vec<u8>) -> Result<usize> {
        let Some(&(last_term, _)) = self.entries.get(&upto) else {
            return Err(Error::Invalid(format!("entry {upto} is not in the log")));
        };
        let snapshot = Snapshot {
            last_index: upto,
            last_term,
            state,
        };
        write_json(&*self.fs, &self.dir.join(SNAPSHOT_FILE), &snapshot)?;
        self.snapshot = snapshot;
        let next = upto.saturating_add(1);
        let keep_from = match self.entries.get(&next) {
            Some(&(_, at)) => at,
            None => self.wal.rotate()?,
        };
        self.entries = self.entries.split_off(&next);
        Ok(self.wal.delete_segments_before(keep_from)?)
    }

    /// Closes the log.
    pub fn close(self) -> Result<()> {
        Ok(self.wal.close()?)
    }
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The follower's (last index, last term) after its restart.
    pub follower_last: (u64, u64),
    /// The entries 4..=6 the follower ended with (terms).
    pub follower_terms_4_to_6: Vec<u64>,
    /// The follower's snapshot index and the segments its compaction deleted.
    pub compaction: (u64, usize),
}

fn entry(term: u64, index: u64, command: &str) -> Entry {
    Entry {
        term,
        index,
        command: command.as_bytes().to_vec(),
    }
}

/// The program: a follower holding a stale suffix meets a new leader, replicates, compacts and
/// restarts.
pub fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    writeln!(
        out,
        "raft_log in {} (FsyncPolicy::Always, 4 KiB segments)",
        dir.display()
    )?;
    let seg = 4096;
    let mut follower = RaftLog::open(fs.clone(), &dir.join("follower"), seg)?;
    let old: Vec<Entry> = (1..=5)
        .map(|i| entry(1, i, &format!("set x={i}")))
        .collect();
    follower.append_entries(0, 0, &old)?;
    writeln!(
        out,
        "follower has entries 1..=5 of term 1 from the old leader"
    )?;

    let mut leader = RaftLog::open(fs.clone(), &dir.join("leader"), seg)?;
    for e in &old[..3] {
        leader.append_leader(1, &e.command)?;
    }
    for i in 4..=6 {
        leader.append_leader(2, format!("set y={i}").as_bytes())?;
    }
    writeln!(
        out,
        "new leader (term 2) has 1..=3 of term 1, then 4..=6 of term 2"
    )?;
    let ok = follower.append_entries(5, 2, &[])?;
    writeln!(
        out,
        "AppendEntries(prev 5, term 2): {ok} (the follower's entry 5 is of term 1)"
    )?;
    let ok = follower.append_entries(3, 1, &leader.entries_from(4)?)?;
    writeln!(
        out,
        "AppendEntries(prev 3, term 1, entries 4..=6): {ok}; the follower truncated its 4..=5 of term 1 and now ends at index {} term {}",
        follower.last_index(),
        follower.last_term()
    )?;
    for i in 7..=80u64 {
        leader.append_leader(2, format!("set z={i} {}", "#".repeat(80)).as_bytes())?;
    }
    // Replication in AppendEntries of at most 10 entries (a batch never spans segments).
    let mut sent = 0;
    while follower.last_index() < leader.last_index() {
        let from = follower.last_index();
        let chunk: Vec<Entry> = leader
            .entries_from(from + 1)?
            .into_iter()
            .take(10)
            .collect();
        sent += chunk.len();
        if !follower.append_entries(from, follower.last_term(), &chunk)? {
            return Err(Error::Invalid(format!(
                "the follower refused entries after {from}"
            )));
        }
    }
    writeln!(
        out,
        "replicated {sent} more entries; follower at index {}",
        follower.last_index()
    )?;
    let terms: Vec<u64> = (4..=6).filter_map(|i| follower.term_at(i)).collect();
    let deleted = follower.compact(60, b"state machine after entry 60".to_vec())?;
    writeln!(out, "snapshot at index 60 let {deleted} log segments go")?;
    let before = follower.entries_from(61)?;
    follower.close()?;
    leader.close()?;

    let follower = RaftLog::open(fs, &dir.join("follower"), seg)?;
    writeln!(
        out,
        "after a restart the follower recovers last index {} term {}, snapshot at {}",
        follower.last_index(),
        follower.last_term(),
        follower.snapshot().last_index
    )?;
    if follower.entries_from(61)? != before {
        return Err(Error::Invalid("the restart changed the log".into()));
    }
    let summary = Summary {
        follower_last: (follower.last_index(), follower.last_term()),
        follower_terms_4_to_6: terms,
        compaction: (follower.snapshot().last_index, deleted),
    };
    follower.close()?;
    Ok(summary)
}
