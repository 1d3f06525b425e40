//! [`LevelIter`]: one cursor over a sorted, non-overlapping level (1 and deeper), concatenating
//! its tables and opening each only when the cursor reaches it. A range read then merges one
//! source per deeper level instead of one per table, and a short scan opens one or two tables
//! of a level rather than every table its range meets.
//!
//! Seeks find the table by binary search over the tables' key ranges; moving off the end of a
//! table opens the next (or previous) one. A table that fails to open or read makes the move
//! return the error, naming the file.
//!
//! The tables are either a run of a level's own list, shared with the version (no per-scan
//! copy of a long level: [`Tables::Shared`]), or a list of their own ([`Tables::Owned`], e.g.
//! level-0 tables whose key ranges happen to be disjoint, see [`disjoint_runs`]).

use crate::engine::Engine;
use crate::error::Result;
use crate::version::{FileMeta, Version};
use common::{InternalIterator, InternalKey, SeqNo, ValueKind};
use sstable::TableIterator;
use std::ops::Range;
use std::sync::Arc;

/// The tables a [`LevelIter`] concatenates: sorted by key, disjoint.
pub(crate) enum Tables {
    /// `version.files(level)[range]`.
    Shared {
        version: Arc<Version>,
        level: usize,
        range: Range<usize>,
    },
    /// A list of their own.
    Owned(Vec<Arc<FileMeta>>),
}

impl Tables {
    fn files(&self) -> &[Arc<FileMeta>] {
        match self {
            Tables::Shared {
                version,
                level,
                range,
            } => &version.files(*level)[range.clone()],
            Tables::Owned(files) => files,
        }
    }
}

/// `files` (any order) grouped into runs whose tables' internal-key ranges are disjoint, each
/// run sorted by key; as few runs as the deepest overlap allows (first fit over the tables
/// sorted by smallest key). Level-0 tables written from keys in order fall into one run.
pub(crate) fn disjoint_runs(mut files: Vec<Arc<FileMeta>>) -> Vec<Vec<Arc<FileMeta>>> {
    files.sort_by(|a, b| a.smallest.cmp(&b.smallest));
    let mut runs: Vec<Vec<Arc<FileMeta>>> = Vec::new();
    for f in files {
        let fits =
            |run: &&mut Vec<Arc<FileMeta>>| run.last().is_some_and(|l| l.largest < f.smallest);
        match runs.iter_mut().find(fits) {
            Some(run) => run.push(f),
            None => runs.push(vec![f]),
        }
    }
    runs
}

/// A concatenating cursor over the tables of one level (sorted by key, disjoint).
pub(crate) struct LevelIter {
    engine: Arc<Engine>,
    tables: Tables,
    /// The table `cur` reads (meaningful while `cur` is `Some`).
    index: usize,
    cur: Option<TableIterator>,
}

impl LevelIter {
    /// A cursor over `tables`, which must be sorted by key and disjoint.
    pub fn new(engine: Arc<Engine>, tables: Tables) -> LevelIter {
        LevelIter {
            engine,
            tables,
            index: 0,
            cur: None,
        }
    }

    fn len(&self) -> usize {
        self.tables.files().len()
    }

    fn open(&mut self, i: usize) -> Result<()> {
        if self.cur.is_some() && self.index == i {
            return Ok(());
        }
        self.cur = None;
        let table = self.engine.table(&self.tables.files()[i])?;
        self.cur = Some(table.iter());
        self.index = i;
        Ok(())
    }

    /// While the cursor is off the end of a table, moves to the start of the next one.
    fn skip_forward(&mut self) -> Result<()> {
        while self.cur.as_ref().is_some_and(|c| !c.valid()) {
            if self.index + 1 >= self.len() {
                self.cur = None;
                break;
            }
            self.open(self.index + 1)?;
            if let Some(c) = self.cur.as_mut() {
                c.seek_to_first()?;
            }
        }
        Ok(())
    }

    /// While the cursor is off the start of a table, moves to the end of the previous one.
    fn skip_backward(&mut self) -> Result<()> {
        while self.cur.as_ref().is_some_and(|c| !c.valid()) {
            if self.index == 0 {
                self.cur = None;
                break;
            }
            self.open(self.index - 1)?;
            if let Some(c) = self.cur.as_mut() {
                c.seek_to_last()?;
            }
        }
        Ok(())
    }
}

impl InternalIterator for LevelIter {
    type Error = crate::error::Error;

    #[inline]
    fn valid(&self) -> bool {
        self.cur.as_ref().is_some_and(|c| c.valid())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        if self.len() == 0 {
            self.cur = None;
            return Ok(());
        }
        self.open(0)?;
        if let Some(c) = self.cur.as_mut() {
            c.seek_to_first()?;
        }
        self.skip_forward()
    }

    fn seek_to_last(&mut self) -> Result<()> {
        if self.len() == 0 {
            self.cur = None;
            return Ok(());
        }
        self.open(self.len() - 1)?;
        if let Some(c) = self.cur.as_mut() {
            c.seek_to_last()?;
        }
        self.skip_backward()
    }

    fn seek(&mut self, target: &InternalKey) -> Result<()> {
        let i = self.tables.files().partition_point(|f| f.largest < *target);
        if i >= self.len() {
            self.cur = None;
            return Ok(());
        }
        self.open(i)?;
        if let Some(c) = self.cur.as_mut() {
            c.seek(target)?;
        }
        self.skip_forward()
    }

    fn seek_for_prev(&mut self, target: &InternalKey) -> Result<()> {
        let i = self
            .tables
            .files()
            .partition_point(|f| f.smallest <= *target);
        if i == 0 {
            self.cur = None;
            return Ok(());
        }
        self.open(i - 1)?;
        if let Some(c) = self.cur.as_mut() {
            c.seek_for_prev(target)?;
        }
        self.skip_backward()
    }

    #[inline]
    fn next(&mut self) -> Result<()> {
        if let Some(c) = self.cur.as_mut() {
            c.next()?;
        }
        self.skip_forward()
    }

    fn prev(&mut self) -> Result<()> {
        if let Some(c) = self.cur.as_mut() {
            c.prev()?;
        }
        self.skip_backward()
    }

    #[inline]
    fn user_key(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |c| c.user_key())
    }

    #[inline]
    fn seq(&self) -> SeqNo {
        self.cur.as_ref().map_or(0, |c| c.seq())
    }

    #[inline]
    fn kind(&self) -> ValueKind {
        self.cur.as_ref().map_or(ValueKind::Put, |c| c.kind())
    }

    #[inline]
    fn value(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |c| c.value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version_edit::FileDesc;

    fn table(number: u64, lo: (&str, SeqNo), hi: (&str, SeqNo)) -> Arc<FileMeta> {
        FileMeta::new(
            FileDesc {
                number,
                size_bytes: 1,
                smallest: InternalKey::new(lo.0.as_bytes(), lo.1, ValueKind::Put),
                largest: InternalKey::new(hi.0.as_bytes(), hi.1, ValueKind::Put),
                smallest_seq: lo.1.min(hi.1),
                largest_seq: lo.1.max(hi.1),
            },
            None,
        )
    }

    fn numbers(runs: &[Vec<Arc<FileMeta>>]) -> Vec<Vec<u64>> {
        runs.iter()
            .map(|r| r.iter().map(|f| f.number).collect())
            .collect()
    }

    #[test]
    fn disjoint_tables_form_one_run_in_key_order() {
        // Level 0 lists the newest first: here the last-written range comes first.
        let files = vec![
            table(3, ("g", 3), ("i", 3)),
            table(2, ("d", 2), ("f", 2)),
            table(1, ("a", 1), ("c", 1)),
        ];
        assert_eq!(numbers(&disjoint_runs(files)), vec![vec![1, 2, 3]]);
    }

    #[test]
    fn overlapping_tables_go_to_separate_runs_and_no_more_runs_than_needed() {
        let files = vec![
            table(4, ("e", 4), ("h", 4)), // overlaps 3, fits after 1
            table(3, ("b", 3), ("f", 3)), // overlaps 1
            table(2, ("p", 2), ("q", 2)), // after everything
            table(1, ("a", 1), ("c", 1)),
        ];
        let runs = disjoint_runs(files);
        assert_eq!(numbers(&runs), vec![vec![1, 4, 2], vec![3]]);
        for run in &runs {
            assert!(run.windows(2).all(|w| w[0].largest < w[1].smallest));
        }
    }

    #[test]
    fn a_shared_boundary_key_is_compared_as_an_internal_key() {
        // "c" at sequence 9 sorts before "c" at 5: these two ranges overlap...
        let overlapping = vec![table(2, ("c", 9), ("e", 9)), table(1, ("a", 5), ("c", 5))];
        assert_eq!(numbers(&disjoint_runs(overlapping)), vec![vec![1], vec![2]]);
        // ...and these do not.
        let disjoint = vec![table(2, ("c", 5), ("e", 5)), table(1, ("a", 9), ("c", 9))];
        assert_eq!(numbers(&disjoint_runs(disjoint)), vec![vec![1, 2]]);
    }

    #[test]
    fn no_tables_no_runs() {
        assert!(disjoint_runs(Vec::new()).is_empty());
    }
}
