//! [`LevelIter`]: one cursor over a sorted, non-overlapping level (1 and deeper), concatenating
//! its tables and opening each only when the cursor reaches it. A range read then merges one
//! source per deeper level instead of one per table, and a short scan opens one or two tables
//! of a level rather than every table its range meets.
//!
//! Seeks find the table by binary search over the tables' key ranges; moving off the end of a
//! table opens the next (or previous) one. A table that fails to open or read makes the move
//! return the error, naming the file.

use crate::engine::Engine;
use crate::error::Result;
use crate::version::FileMeta;
use common::{InternalIterator, InternalKey, SeqNo, ValueKind};
use sstable::TableIterator;
use std::sync::Arc;

/// A concatenating cursor over the tables of one level (sorted by key, disjoint).
pub(crate) struct LevelIter {
    engine: Arc<Engine>,
    files: Vec<Arc<FileMeta>>,
    /// The table `cur` reads (meaningful while `cur` is `Some`).
    index: usize,
    cur: Option<TableIterator>,
}

impl LevelIter {
    /// A cursor over `files`, which must be sorted by key and disjoint.
    pub fn new(engine: Arc<Engine>, files: Vec<Arc<FileMeta>>) -> LevelIter {
        LevelIter {
            engine,
            files,
            index: 0,
            cur: None,
        }
    }

    fn open(&mut self, i: usize) -> Result<()> {
        if self.cur.is_some() && self.index == i {
            return Ok(());
        }
        self.cur = None;
        let table = self.engine.table(&self.files[i])?;
        self.cur = Some(table.iter());
        self.index = i;
        Ok(())
    }

    /// While the cursor is off the end of a table, moves to the start of the next one.
    fn skip_forward(&mut self) -> Result<()> {
        while self.cur.as_ref().is_some_and(|c| !c.valid()) {
            if self.index + 1 >= self.files.len() {
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

    fn valid(&self) -> bool {
        self.cur.as_ref().is_some_and(|c| c.valid())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        if self.files.is_empty() {
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
        if self.files.is_empty() {
            self.cur = None;
            return Ok(());
        }
        self.open(self.files.len() - 1)?;
        if let Some(c) = self.cur.as_mut() {
            c.seek_to_last()?;
        }
        self.skip_backward()
    }

    fn seek(&mut self, target: &InternalKey) -> Result<()> {
        let i = self.files.partition_point(|f| f.largest < *target);
        if i >= self.files.len() {
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
        let i = self.files.partition_point(|f| f.smallest <= *target);
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

    fn user_key(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |c| c.user_key())
    }

    fn seq(&self) -> SeqNo {
        self.cur.as_ref().map_or(0, |c| c.seq())
    }

    fn kind(&self) -> ValueKind {
        self.cur.as_ref().map_or(ValueKind::Put, |c| c.kind())
    }

    fn value(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |c| c.value())
    }
}
