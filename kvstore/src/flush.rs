//! The flush: a frozen memtable becomes a level-0 table, and the WAL behind it goes.
//!
//! ```text
//! frozen memtable -> TableBuilder -> NNNNNN.sst (fsynced by finish)
//!                 -> fsync the database directory           (the table's name is durable)
//!                 -> manifest edit {add file at L0, log start = mark, last sequence} (fsynced)
//!                 -> swap the read state: the table in, the memtable out (one atomic swap)
//!                 -> wal.delete_segments_before(mark)        (only now: the data is in a
//!                                                             durable table the manifest names)
//! ```
//! A crash before the manifest edit is durable leaves an orphan table (removed at the next
//! open) and the WAL segments intact, so nothing is lost. One thread flushes, oldest memtable
//! first, so the manifest's marks only move forward.

use crate::engine::{lock, Counters, Engine, Frozen, ReadState};
use crate::error::{Error, Result};
use crate::filename::table_path;
use crate::version_edit::{FileDesc, VersionEdit};
use common::{FileSystem, InternalIterator};
use memtable::MemTable;
use sstable::{TableBuilder, TableOptions};
use std::path::Path;
use std::sync::Arc;

/// Writes a memtable's entries (every version, in internal-key order) to a new table at
/// `path`; the file is synced, the directory is not.
pub(crate) fn build_table(
    fs: &Arc<dyn FileSystem>,
    path: &Path,
    number: u64,
    mem: &Arc<MemTable>,
    options: &TableOptions,
) -> Result<FileDesc> {
    let mut builder = TableBuilder::new(fs.clone(), path, options.clone())?;
    let mut it = mem.iter();
    let Ok(()) = it.seek_to_first();
    while it.valid() {
        if let Err(e) = builder.add_parts(it.user_key(), it.seq(), it.kind(), it.value()) {
            builder.abandon();
            return Err(e.into());
        }
        let Ok(()) = it.next();
    }
    let props = builder.finish()?;
    Ok(FileDesc {
        number,
        size_bytes: props.file_size_bytes,
        smallest: props.smallest,
        largest: props.largest,
        smallest_seq: props.min_seq,
        largest_seq: props.max_seq,
    })
}

impl Engine {
    /// The flush thread: takes the oldest frozen memtable, flushes it, repeats; stops at
    /// shutdown or on the first failure (which poisons the engine).
    pub fn flush_loop(self: Arc<Self>) {
        loop {
            let job = {
                let mut q = lock(&self.flush);
                loop {
                    if q.shutdown || self.check_poison().is_err() {
                        return;
                    }
                    if let Some(job) = q.pending.front() {
                        break job.clone();
                    }
                    q = self.flush_cv.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            let start = std::time::Instant::now();
            if let Err(e) = self.flush_one(&job) {
                self.poison(e);
                return;
            }
            self.note_flush_pace(job.mem.approximate_size_bytes(), start.elapsed());
            {
                let mut q = lock(&self.flush);
                self.dequeue_flushed(&mut q);
                self.flush_cv.notify_all();
            }
            // A new level-0 table: recompute the write pressure, wake the compaction threads.
            self.refresh_pressure();
            let _c = lock(&self.compact);
            self.compact_cv.notify_all();
        }
    }

    /// Flushes one frozen memtable (see the module doc for the order of steps).
    pub fn flush_one(&self, job: &Frozen) -> Result<()> {
        let number = lock(&self.versions).new_file_number();
        let path = table_path(&self.dir, number);
        let desc = build_table(&self.fs, &path, number, &job.mem, &self.opts.table)?;
        self.fs
            .sync_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?;
        let size = desc.size_bytes;
        let edit = VersionEdit {
            log_start: Some(job.mark.to_bytes()),
            last_sequence: Some(job.last_seq),
            added: vec![(0, desc)],
            ..VersionEdit::default()
        };
        {
            let mut versions = lock(&self.versions);
            let version = versions.log_and_apply(edit)?;
            self.update_read_state(|rs| ReadState {
                active: rs.active.clone(),
                immutables: rs
                    .immutables
                    .iter()
                    .filter(|m| !Arc::ptr_eq(m, &job.mem))
                    .cloned()
                    .collect(),
                version,
            });
        }
        // A failed removal costs only disk space: the next flush deletes these segments too
        // (everything before its later mark), so it is counted, not fatal. A failed fsync of
        // the WAL's directory after removals is another matter: it poisons the WAL (which
        // segments are gone is then unknown), and the next write fails with that error.
        if self.wal.delete_segments_before(job.mark).is_err() {
            Counters::add(&self.counters.wal_delete_failures, 1);
        }
        Counters::add(&self.counters.flushes, 1);
        Counters::add(&self.counters.flush_bytes_written, size);
        Ok(())
    }

    /// Freezes the active memtable and waits until it and every memtable frozen before it
    /// are flushed.
    pub fn flush_and_wait(&self) -> Result<()> {
        let target = {
            let mut w = lock(&self.writer);
            self.check_poison()?;
            self.freeze(&mut w)?
        };
        let mut q = lock(&self.flush);
        while q.flushed_total < target {
            self.check_poison()?;
            if q.shutdown {
                return Err(Error::Closed);
            }
            q = self.flush_cv.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        Ok(())
    }

    /// Asks the flush thread to stop after its current job.
    pub fn shutdown(&self) {
        let mut q = lock(&self.flush);
        q.shutdown = true;
        self.flush_cv.notify_all();
    }
}
