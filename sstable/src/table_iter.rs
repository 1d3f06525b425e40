//! The double-ended cursor over a whole table: the index picks the data block, a
//! [`BlockIter`] walks it, and moving off either end of a block loads the neighbour.

use crate::block_iter::BlockIter;
use crate::error::{Error, Result};
use crate::table_reader::{ReadAhead, Table};
use common::ikey::compare_encoded;
use common::{InternalIterator, InternalKey, SeqNo, ValueKind};
use std::cell::RefCell;
use std::cmp::Ordering;
use std::sync::Arc;

/// A cursor over a table. It owns an `Arc<Table>`, so it can be kept across calls and sent
/// between threads. After an error it is invalid.
#[derive(Debug)]
pub struct TableIterator {
    table: Arc<Table>,
    block_index: usize,
    block: Option<BlockIter>,
    /// Blocks read from the file go into the block cache.
    fill_cache: bool,
    /// Reads ahead when the cursor moves forward onto a block that is not cached.
    ahead: ReadAhead,
    /// The block cursor's key buffers while there is no block cursor.
    idle_keys: (Vec<u8>, Vec<u8>),
    /// The encoded seek key.
    target: Vec<u8>,
}

/// Buffers a dropped cursor leaves to the next one its thread creates (a short scan then
/// allocates none of them).
#[derive(Default)]
struct CursorBuffers {
    keys: (Vec<u8>, Vec<u8>),
    ahead: Vec<u8>,
    target: Vec<u8>,
}

/// At most this many sets of buffers wait per thread.
const POOLED_CURSORS: usize = 4;
/// Only buffers of at most this many bytes are kept.
const POOLED_BYTES: usize = 64 * 1024;

thread_local! {
    /// Bound: [`POOLED_CURSORS`] sets of buffers of at most [`POOLED_BYTES`] each per thread.
    static CURSOR_POOL: RefCell<Vec<CursorBuffers>> = const { RefCell::new(Vec::new()) };
}

impl TableIterator {
    pub(crate) fn new(table: Arc<Table>, fill_cache: bool) -> Self {
        let pooled = CURSOR_POOL
            .with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
            .unwrap_or_default();
        TableIterator {
            table,
            block_index: 0,
            block: None,
            fill_cache,
            ahead: ReadAhead::with_buffer(pooled.ahead),
            idle_keys: pooled.keys,
            target: pooled.target,
        }
    }

    /// The current entry's encoded internal key (requires `valid()`; empty otherwise).
    #[inline]
    pub fn encoded_key(&self) -> &[u8] {
        self.cur().map_or(&[], |b| b.key())
    }

    #[inline]
    fn cur(&self) -> Option<&BlockIter> {
        debug_assert!(self.valid(), "TableIterator used while not on an entry");
        self.block.as_ref().filter(|b| b.valid())
    }

    /// Loads block `i` (not positioned); `forward` when the cursor moves on to it from the
    /// block before, which reads ahead if it is not cached. The key buffers of the block
    /// cursor it replaces go to the new one, so that a scan does not allocate them anew for
    /// every block.
    fn load(&mut self, i: usize, forward: bool) -> Result<&mut BlockIter> {
        let buffers = match self.block.take() {
            Some(b) => b.into_buffers(),
            None => std::mem::take(&mut self.idle_keys),
        };
        let ahead = forward.then_some(&mut self.ahead);
        let block = self.table.data_block_via(i, self.fill_cache, ahead)?;
        self.block_index = i;
        Ok(self.block.insert(BlockIter::with_buffers(block, buffers)))
    }

    /// Runs a move on the current block iterator, turning its error into a table error.
    fn with_block(
        &mut self,
        f: impl FnOnce(&mut BlockIter) -> std::result::Result<(), crate::block::BlockError>,
    ) -> Result<()> {
        let Some(b) = self.block.as_mut() else {
            return Ok(());
        };
        if let Err(e) = f(b) {
            self.block = None;
            return Err(self.table.block_corrupt(self.block_index, e));
        }
        Ok(())
    }

    fn fail<T>(&mut self, reason: &str) -> Result<T> {
        self.block = None;
        Err(self
            .table
            .block_corrupt(self.block_index, crate::block::BlockError::new(0, reason)))
    }

    fn guard(&mut self, r: Result<()>) -> Result<()> {
        if r.is_err() {
            self.block = None;
        }
        r
    }
}

impl Drop for TableIterator {
    fn drop(&mut self) {
        let keys = match self.block.take() {
            Some(b) => b.into_buffers(),
            None => std::mem::take(&mut self.idle_keys),
        };
        let buffers = CursorBuffers {
            keys,
            ahead: self.ahead.take_buffer(),
            target: std::mem::take(&mut self.target),
        };
        let small = [
            buffers.keys.0.capacity(),
            buffers.keys.1.capacity(),
            buffers.ahead.capacity(),
            buffers.target.capacity(),
        ]
        .iter()
        .all(|&c| c <= POOLED_BYTES);
        if small {
            CURSOR_POOL.with(|p| {
                if let Ok(mut p) = p.try_borrow_mut() {
                    if p.len() < POOLED_CURSORS {
                        p.push(buffers);
                    }
                }
            });
        }
    }
}

impl InternalIterator for TableIterator {
    type Error = Error;

    #[inline]
    fn valid(&self) -> bool {
        self.block.as_ref().is_some_and(|b| b.valid())
    }

    fn seek_to_first(&mut self) -> Result<()> {
        let r = self.load(0, false).map(|_| ());
        self.guard(r)?;
        self.with_block(|b| b.seek_to_first())
    }

    fn seek_to_last(&mut self) -> Result<()> {
        let last = self.table.index().len() - 1;
        let r = self.load(last, false).map(|_| ());
        self.guard(r)?;
        self.with_block(|b| b.seek_to_last())
    }

    fn seek(&mut self, target: &InternalKey) -> Result<()> {
        let i = self.table.index().find(&target.user_key, target.trailer());
        if i == self.table.index().len() {
            self.block = None;
            return Ok(());
        }
        let mut encoded = std::mem::take(&mut self.target);
        encoded.clear();
        target.encode_into(&mut encoded);
        let r = self.load(i, false).map(|_| ());
        let r = self
            .guard(r)
            .and_then(|()| self.with_block(|b| b.seek(&encoded)));
        self.target = encoded;
        r?;
        if !self.valid() {
            return self.fail("block ends before the last key its index entry names");
        }
        Ok(())
    }

    fn seek_for_prev(&mut self, target: &InternalKey) -> Result<()> {
        self.seek(target)?;
        if !self.valid() {
            return self.seek_to_last();
        }
        if compare_encoded(self.encoded_key(), &target.encode()) == Ordering::Greater {
            self.prev()?;
        }
        Ok(())
    }

    #[inline]
    fn next(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.with_block(|b| b.next())?;
        if self.block.is_some() && !self.valid() {
            let i = self.block_index + 1;
            if i >= self.table.index().len() {
                return Ok(());
            }
            let r = self.load(i, true).map(|_| ());
            self.guard(r)?;
            self.with_block(|b| b.seek_to_first())?;
        }
        Ok(())
    }

    fn prev(&mut self) -> Result<()> {
        if !self.valid() {
            return Ok(());
        }
        self.with_block(|b| b.prev())?;
        if self.block.is_some() && !self.valid() {
            if self.block_index == 0 {
                return Ok(());
            }
            let i = self.block_index - 1;
            let r = self.load(i, false).map(|_| ());
            self.guard(r)?;
            self.with_block(|b| b.seek_to_last())?;
        }
        Ok(())
    }

    #[inline]
    fn user_key(&self) -> &[u8] {
        self.cur().map_or(&[], |b| b.user_key())
    }

    #[inline]
    fn seq(&self) -> SeqNo {
        self.cur().map_or(0, |b| b.seq())
    }

    #[inline]
    fn kind(&self) -> ValueKind {
        self.cur().map_or(ValueKind::Delete, |b| b.kind())
    }

    #[inline]
    fn value(&self) -> &[u8] {
        self.cur().map_or(&[], |b| b.value())
    }
}
