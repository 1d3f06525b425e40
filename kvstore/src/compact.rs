//! Running one compaction task chosen by the `compaction` crate's picker, and installing it.
//!
//! ```text
//! task (its tables already in the BusySet)
//!   trivial move: edit {delete (level, t), add (output level, t)}            -> install
//!   otherwise:    wait until every input's sequence numbers are visible (see below)
//!                 snapshots = live snapshots + visible_seq, read under the snapshot lock
//!                 compaction::run(inputs, snapshots) -> NNNNNN.sst outputs (each fsynced),
//!                     numbered by the version set's file-number allocator
//!                 fsync the database directory                  (the outputs' names are durable)
//!                 edit {delete every input, add every output at the output level} (fsynced)
//!                 install the new version in the read state
//!   inputs: marked obsolete by the edit; the FileReaper deletes each file once the last
//!           version, iterator or read state holding it is gone -- never before the edit is
//!           durable, since the mark is set only after the manifest append returned.
//! ```
//!
//! Why the visibility wait: a memtable can be flushed while its newest records still wait for
//! their WAL sync, so a table can hold sequence numbers above `visible_seq`. Reads that hold no
//! snapshot take the read state first and the sequence number second (`read.rs`), so a read
//! of the new version reads at a sequence number at least `visible_seq` at the install. If the
//! job's newest stripe starts at a `visible_seq` that is at least every input's largest
//! sequence number, every such read sees the newest version of each key, which the job keeps.
//! A snapshot taken after the job read the list has a sequence number at least that one too.
//! Writers append under the write lock and publish within one WAL sync, and never wait for
//! compaction once they have appended (`flow.rs`), so the wait is short.
//!
//! Crash safety: a crash before the edit is durable leaves output files the manifest does not
//! name; the next open removes them (`VersionSet::remove_orphans`) before compaction starts.

use crate::engine::{lock, Counters, Engine, ReadState};
use crate::error::{Error, Result};
use crate::filename::table_path;
use crate::version::{FileMeta, Version};
use crate::version_edit::{FileDesc, VersionEdit};
use common::SeqNo;
use compaction::{Levels, MergeJob, TableInfo, Task};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// The shape of `version` as the picker sees it.
pub(crate) fn levels_of(version: &Version) -> Result<Levels> {
    let levels = version
        .levels()
        .iter()
        .map(|files| files.iter().map(|f| table_info(f)).collect())
        .collect();
    Ok(Levels::new(levels)?)
}

fn table_info(f: &FileMeta) -> TableInfo {
    TableInfo::new(
        f.number,
        f.size_bytes,
        f.smallest.user_key.clone(),
        f.largest.user_key.clone(),
    )
}

/// How a task ended.
#[derive(Debug)]
pub(crate) enum TaskError {
    /// The engine is closing; the job stopped and removed its outputs.
    Cancelled,
    /// The job failed before the manifest edit; nothing changed (outputs removed). Retried.
    Job(Error),
    /// The manifest edit failed: the engine is poisoned.
    Manifest(Error),
}

impl Engine {
    /// Runs `task` (whose tables the caller put in the busy set) and installs its result.
    pub(crate) fn run_task(&self, task: &Task) -> std::result::Result<(), TaskError> {
        // Hold only the inputs, not the whole version, while the job runs: tables other tasks
        // make obsolete meanwhile are deleted as soon as they finish.
        let inputs = find_inputs(&self.read_state().version, task).map_err(TaskError::Job)?;
        if task.is_trivial_move {
            let (level, meta) = &inputs[0];
            let edit = VersionEdit {
                deleted: vec![(*level, meta.number)],
                added: vec![(task.output_level, meta.desc().clone())],
                ..VersionEdit::default()
            };
            self.install(edit)?;
            Counters::add(&self.counters.trivial_moves, 1);
            return Ok(());
        }
        let max_seq = inputs.iter().map(|(_, f)| f.largest_seq).max().unwrap_or(0);
        let snapshots = self.retention_snapshots(max_seq)?;
        let mut tables = Vec::with_capacity(inputs.len());
        for (_, f) in &inputs {
            tables.push(self.table(f).map_err(TaskError::Job)?);
        }
        let job = MergeJob {
            task,
            inputs: &tables,
            snapshots: &snapshots,
            fs: self.fs.clone(),
            table_options: self.opts.table.clone(),
            options: &self.copts,
            cancel: Some(&self.compact_cancel),
        };
        let mut factory = || {
            let n = lock(&self.versions).new_file_number();
            (n, table_path(&self.dir, n))
        };
        let out = match compaction::run(&job, &mut factory) {
            Ok(out) => out,
            Err(compaction::Error::Cancelled) => return Err(TaskError::Cancelled),
            Err(e) => return Err(TaskError::Job(e.into())),
        };
        let remove_outputs = || {
            for t in &out.tables {
                let _ = self.fs.remove_file(&t.path);
            }
        };
        if let Err(e) = self.fs.sync_dir(&self.dir) {
            remove_outputs();
            return Err(TaskError::Job(Error::io(&self.dir, e)));
        }
        let edit = VersionEdit {
            deleted: inputs.iter().map(|(l, f)| (*l, f.number)).collect(),
            added: out
                .tables
                .iter()
                .map(|t| {
                    let p = &t.properties;
                    let desc = FileDesc {
                        number: t.id,
                        size_bytes: p.file_size_bytes,
                        smallest: p.smallest.clone(),
                        largest: p.largest.clone(),
                        smallest_seq: p.min_seq,
                        largest_seq: p.max_seq,
                    };
                    (task.output_level, desc)
                })
                .collect(),
            ..VersionEdit::default()
        };
        // On a manifest failure the outputs stay: whether the edit reached the disk is
        // unknown, and the next open keeps them or removes them as the manifest says.
        self.install(edit)?;
        let c = &self.counters;
        Counters::add(&c.compactions, 1);
        Counters::add(&c.compaction_bytes_read, out.stats.bytes_read);
        Counters::add(&c.compaction_bytes_written, out.stats.bytes_written);
        Ok(())
    }

    /// Makes `edit` durable, installs its version and refreshes the write pressure.
    fn install(&self, edit: VersionEdit) -> std::result::Result<(), TaskError> {
        {
            let mut versions = lock(&self.versions);
            let version = versions.log_and_apply(edit).map_err(|e| {
                TaskError::Manifest(Error::Poisoned(format!(
                    "a compaction's manifest update failed: {e}"
                )))
            })?;
            self.update_read_state(|rs| ReadState {
                active: rs.active.clone(),
                immutables: rs.immutables.clone(),
                version,
            });
        }
        self.refresh_pressure();
        Ok(())
    }

    /// The sequence numbers the job must preserve: every live snapshot and the visible
    /// sequence number, once that covers `max_seq` (see the module documentation).
    fn retention_snapshots(&self, max_seq: SeqNo) -> std::result::Result<Vec<SeqNo>, TaskError> {
        while self.visible_seq() < max_seq {
            if self.compact_cancel.load(Ordering::SeqCst) {
                return Err(TaskError::Cancelled);
            }
            self.check_poison().map_err(TaskError::Job)?;
            std::thread::sleep(Duration::from_micros(200));
        }
        let snaps = lock(&self.snapshots);
        let mut list: Vec<SeqNo> = snaps.keys().copied().collect();
        list.push(self.visible_seq());
        Ok(list)
    }
}

/// The input files of `task` in `version`, with their levels.
fn find_inputs(version: &Version, task: &Task) -> Result<Vec<(usize, Arc<FileMeta>)>> {
    let mut found = Vec::new();
    for inputs in &task.inputs {
        for t in &inputs.tables {
            let meta = version
                .files(inputs.level)
                .iter()
                .find(|f| f.number == t.id)
                .ok_or_else(|| {
                    Error::Compaction(compaction::Error::InvalidTask {
                        reason: format!("table {} is not in level {}", t.id, inputs.level),
                    })
                })?;
            found.push((inputs.level, meta.clone()));
        }
    }
    Ok(found)
}
