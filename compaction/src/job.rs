//! The merge job: rewrites a task's input tables into new tables of the output level.
//!
//! One k-way [`MergingIterator`] over the inputs yields every entry in internal-key order. Per
//! user key, [`Retention`](crate::retention) keeps the newest version of each snapshot stripe
//! and, when the task is bottommost, drops tombstones that hide nothing. Kept entries go to a
//! [`TableBuilder`]; a new output table starts, only between two user keys, once the current
//! one reaches `target_file_size_bytes` or overlaps more than `max_grandparent_overlap_bytes`
//! of the level below the output level. So one user key's versions never span two tables, and
//! the outputs are sorted and disjoint.
//!
//! Memory: besides the inputs' cursors, the job holds the kept versions of one user key (at
//! most one per snapshot, plus one) and the output table being built.
//!
//! The job only writes files (each fsynced by the builder). Installing them (syncing the
//! directory, the manifest edit) and deleting the inputs is the engine's. On error every output
//! of the job, finished or not, is removed (best effort) and the error returned.

use crate::error::{Error, Result};
use crate::levels::TableInfo;
use crate::options::CompactionOptions;
use crate::retention::Retention;
use crate::task::Task;
use common::{FileSystem, InternalIterator, InternalKey, MergingIterator, SeqNo, ValueKind};
use sstable::{Table, TableBuilder, TableOptions, TableProperties};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Names the job's output tables: the engine owns file numbers and paths.
pub trait OutputFactory {
    /// A fresh table id and the path to write the table at.
    fn next_table(&mut self) -> (u64, PathBuf);
}

impl<F: FnMut() -> (u64, PathBuf)> OutputFactory for F {
    fn next_table(&mut self) -> (u64, PathBuf) {
        self()
    }
}

/// Everything a merge needs besides where to put its outputs.
#[derive(Debug, Clone)]
pub struct MergeJob<'a> {
    /// The task to run; it must not be a trivial move.
    pub task: &'a Task,
    /// The open input tables: exactly the task's inputs, in any order.
    pub inputs: &'a [Arc<Table>],
    /// The sequence numbers of the live snapshots, in any order.
    pub snapshots: &'a [SeqNo],
    /// Where the outputs are written.
    pub fs: Arc<dyn FileSystem>,
    /// How the outputs are written.
    pub table_options: TableOptions,
    /// Output size limits.
    pub options: &'a CompactionOptions,
    /// When set (e.g. the engine is closing), the job stops within [`CANCEL_CHECK_ENTRIES`]
    /// entries, removes its outputs and returns [`Error::Cancelled`].
    pub cancel: Option<&'a AtomicBool>,
}

/// How many entries the job merges between two looks at its cancel flag.
pub const CANCEL_CHECK_ENTRIES: u64 = 1024;

/// One table the job wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputTable {
    /// The id the factory gave it.
    pub id: u64,
    /// Where it was written.
    pub path: PathBuf,
    /// What the builder recorded: key range, sequence range, counts, file size.
    pub properties: TableProperties,
}

impl OutputTable {
    /// The table as the picker sees it.
    pub fn table_info(&self) -> TableInfo {
        TableInfo::new(
            self.id,
            self.properties.file_size_bytes,
            self.properties.smallest.user_key.clone(),
            self.properties.largest.user_key.clone(),
        )
    }
}

/// What the job read, wrote and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobStats {
    /// Bytes of the input tables.
    pub bytes_read: u64,
    /// Bytes of the output tables.
    pub bytes_written: u64,
    /// Entries read from the inputs.
    pub entries_read: u64,
    /// Entries written to the outputs.
    pub entries_written: u64,
    /// Versions dropped because no snapshot could see them.
    pub shadowed_dropped: u64,
    /// Tombstones dropped because nothing older remained for them to hide.
    pub tombstones_dropped: u64,
}

/// The job's result: the new tables, sorted by key and disjoint, and its counters.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutput {
    /// The output tables in key order (possibly none, if everything was dropped).
    pub tables: Vec<OutputTable>,
    /// Counters for write amplification and statistics.
    pub stats: JobStats,
}

/// Runs the merge. See the module documentation.
pub fn run(job: &MergeJob<'_>, output: &mut dyn OutputFactory) -> Result<JobOutput> {
    check_inputs(job)?;
    let mut writer = Writer {
        job,
        output,
        builder: None,
        done: Vec::new(),
        grandparent: 0,
        grandparent_overlap_bytes: 0,
        seen_key: false,
    };
    match merge(job, &mut writer) {
        Ok(mut stats) => {
            stats.bytes_read = job
                .inputs
                .iter()
                .map(|t| t.properties().file_size_bytes)
                .sum();
            stats.bytes_written = writer
                .done
                .iter()
                .map(|t| t.properties.file_size_bytes)
                .sum();
            Ok(JobOutput {
                tables: std::mem::take(&mut writer.done),
                stats,
            })
        }
        Err(e) => {
            writer.abandon_all();
            Err(e)
        }
    }
}

fn check_inputs(job: &MergeJob<'_>) -> Result<()> {
    let bad = |reason: String| Err(Error::InvalidTask { reason });
    if job.task.is_trivial_move {
        return bad("a trivial move has nothing to merge: apply it without running a job".into());
    }
    let mut want = job.task.input_ids();
    let mut got: Vec<u64> = job.inputs.iter().map(|t| t.file_id()).collect();
    want.sort_unstable();
    got.sort_unstable();
    if want != got {
        return bad(format!(
            "the task's inputs are {want:?} but the tables given are {got:?}"
        ));
    }
    Ok(())
}

fn merge(job: &MergeJob<'_>, writer: &mut Writer<'_, '_>) -> Result<JobStats> {
    let children = job
        .inputs
        .iter()
        .map(|t| Box::new(t.iter_no_fill()) as Box<dyn InternalIterator<Error = sstable::Error>>)
        .collect();
    let mut merged = MergingIterator::new(children);
    let mut retention = Retention::new(job.snapshots, job.task.bottommost);
    let mut stats = JobStats::default();
    let mut key: Option<(Vec<u8>, SeqNo)> = None;
    merged.seek_to_first()?;
    while merged.valid() {
        if stats.entries_read % CANCEL_CHECK_ENTRIES == 0
            && job.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(Error::Cancelled);
        }
        stats.entries_read += 1;
        let (user_key, seq) = (merged.user_key(), merged.seq());
        let same_key = match &key {
            Some((k, prev_seq)) if k.as_slice() == user_key => {
                if seq >= *prev_seq {
                    return Err(out_of_order(job, &merged, k, *prev_seq));
                }
                true
            }
            Some((k, prev_seq)) if k.as_slice() > user_key => {
                return Err(out_of_order(job, &merged, k, *prev_seq));
            }
            _ => false,
        };
        if !same_key {
            if let Some((k, _)) = key.take() {
                emit(writer, &mut retention, &k, &mut stats)?;
            }
            key = Some((user_key.to_vec(), seq));
        } else if let Some((_, s)) = key.as_mut() {
            *s = seq;
        }
        if !retention.offer(seq, merged.kind(), merged.value()) {
            stats.shadowed_dropped += 1;
        }
        merged.next()?;
    }
    if let Some((k, _)) = key.take() {
        emit(writer, &mut retention, &k, &mut stats)?;
    }
    writer.finish_current()?;
    Ok(stats)
}

fn out_of_order(
    job: &MergeJob<'_>,
    merged: &MergingIterator<sstable::Error>,
    prev_key: &[u8],
    prev_seq: SeqNo,
) -> Error {
    Error::InputOutOfOrder {
        file: job.inputs[merged.current_child()].path().to_path_buf(),
        previous: InternalKey::new(prev_key, prev_seq, ValueKind::Put),
        key: InternalKey::new(merged.user_key(), merged.seq(), merged.kind()),
    }
}

/// Writes the kept versions of one user key.
fn emit(
    writer: &mut Writer<'_, '_>,
    retention: &mut Retention,
    user_key: &[u8],
    stats: &mut JobStats,
) -> Result<()> {
    let (versions, tombstones) = retention.finish_key();
    stats.tombstones_dropped += tombstones;
    if versions.is_empty() {
        return Ok(());
    }
    writer.start_key(user_key)?;
    for v in &versions {
        writer.add(user_key, v.seq, v.kind, &v.value)?;
    }
    stats.entries_written += versions.len() as u64;
    Ok(())
}

/// The output side: the open builder and the finished tables.
struct Writer<'j, 'o> {
    job: &'j MergeJob<'j>,
    output: &'o mut dyn OutputFactory,
    builder: Option<(u64, TableBuilder)>,
    done: Vec<OutputTable>,
    /// The first grandparent table not entirely before the current key.
    grandparent: usize,
    /// Bytes of grandparent tables passed since the current output table started.
    grandparent_overlap_bytes: u64,
    seen_key: bool,
}

impl Writer<'_, '_> {
    /// Called before the first version of each user key: cuts the current table if it is full
    /// or overlaps too much of the level below (LevelDB's `ShouldStopBefore`).
    fn start_key(&mut self, user_key: &[u8]) -> Result<()> {
        let grandparents = &self.job.task.grandparents;
        while self.grandparent < grandparents.len()
            && grandparents[self.grandparent].largest.as_slice() < user_key
        {
            if self.seen_key {
                self.grandparent_overlap_bytes += grandparents[self.grandparent].size_bytes;
            }
            self.grandparent += 1;
        }
        self.seen_key = true;
        let full = self.builder.as_ref().is_some_and(|(_, b)| {
            b.estimated_size_bytes() >= self.job.options.target_file_size_bytes
        });
        let overlaps_too_much =
            self.grandparent_overlap_bytes > self.job.options.max_grandparent_overlap_bytes;
        if self.builder.is_some() && (full || overlaps_too_much) {
            self.finish_current()?;
        }
        if self.builder.is_none() {
            // This key starts a new table: count the overlap from here.
            self.grandparent_overlap_bytes = 0;
        }
        Ok(())
    }

    /// Adds one entry to the current output table, starting one if there is none.
    fn add(&mut self, user_key: &[u8], seq: SeqNo, kind: ValueKind, value: &[u8]) -> Result<()> {
        if self.builder.is_none() {
            let (id, path) = self.output.next_table();
            let builder =
                TableBuilder::new(self.job.fs.clone(), &path, self.job.table_options.clone())?;
            self.builder = Some((id, builder));
        }
        if let Some((_, builder)) = self.builder.as_mut() {
            builder.add_parts(user_key, seq, kind, value)?;
        }
        Ok(())
    }

    fn finish_current(&mut self) -> Result<()> {
        if let Some((id, builder)) = self.builder.take() {
            let path = builder.path().to_path_buf();
            match builder.finish() {
                Ok(properties) => self.done.push(OutputTable {
                    id,
                    path,
                    properties,
                }),
                Err(e) => {
                    // `finish` consumed the builder; its partial file is still there.
                    let _ = self.job.fs.remove_file(&path);
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }

    fn abandon_all(&mut self) {
        if let Some((_, builder)) = self.builder.take() {
            builder.abandon();
        }
        for t in self.done.drain(..) {
            let _ = self.job.fs.remove_file(&t.path);
        }
    }
}
