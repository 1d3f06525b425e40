//! The read path: memtable, immutable memtables newest first, level 0 newest first, deeper
//! levels by key range. Point reads stop at the first source that knows the key (one binary
//! search per deeper level, `Version::files_for_key`); range reads merge the memtables, each
//! level-0 table and one [`LevelIter`] per deeper level with one [`MergingIterator`] and hide
//! what the snapshot must not see with [`VisibleIter`].

use crate::engine::{Engine, ReadState};
use crate::error::{Error, Result};
use crate::filename::table_path;
use crate::level_iter::LevelIter;
use crate::version::FileMeta;
use common::merge::{MapErr, MergingIterator};
use common::visible::{prefix_bounds, VisibleIter};
use common::{InternalIterator, Lookup, SeqNo};
use std::convert::Infallible;
use std::fmt;
use std::iter::FusedIterator;
use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};
use std::sync::Arc;

/// A range of user keys: `..`, `a..b`, `a..=b`, `a..`, `..b`, `..=b` over anything that is
/// `AsRef<[u8]>` (`&[u8]`, `&str`, `Vec<u8>`, `b"..."`), or a pair of [`Bound`]s.
pub trait KeyRange {
    /// The lower and upper bounds.
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>);
}

fn owned<K: AsRef<[u8]>>(b: Bound<K>) -> Bound<Vec<u8>> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl KeyRange for RangeFull {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}
impl<K: AsRef<[u8]>> KeyRange for Range<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (
            owned(Bound::Included(self.start)),
            owned(Bound::Excluded(self.end)),
        )
    }
}
impl<K: AsRef<[u8]>> KeyRange for RangeInclusive<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        let (s, e) = self.into_inner();
        (owned(Bound::Included(s)), owned(Bound::Included(e)))
    }
}
impl<K: AsRef<[u8]>> KeyRange for RangeFrom<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (owned(Bound::Included(self.start)), Bound::Unbounded)
    }
}
impl<K: AsRef<[u8]>> KeyRange for RangeTo<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (Bound::Unbounded, owned(Bound::Excluded(self.end)))
    }
}
impl<K: AsRef<[u8]>> KeyRange for RangeToInclusive<K> {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (Bound::Unbounded, owned(Bound::Included(self.end)))
    }
}
impl<K: AsRef<[u8]>> KeyRange for (Bound<K>, Bound<K>) {
    fn into_bounds(self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (owned(self.0), owned(self.1))
    }
}

/// The bounds of every key that starts with `prefix`.
pub(crate) fn prefix_range(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    prefix_bounds(prefix)
}

type Source = Box<dyn InternalIterator<Error = Error>>;

/// The `(key, value)` pairs of a range at one snapshot, in key order; double-ended. It holds
/// the memtables and tables it reads, so flushes (and later compactions) never pull data from
/// under it. An error (a table block failing its checksum) is yielded once, naming the file,
/// and ends the iteration.
pub struct DbIter {
    inner: Option<VisibleIter<MergingIterator<Error>>>,
    /// An error met while opening the sources, yielded first.
    failed: Option<Error>,
    _state: Option<Arc<ReadState>>,
    _engine: Arc<Engine>,
}

impl fmt::Debug for DbIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbIter")
            .field("snapshot", &self.inner.as_ref().map(|i| i.snapshot()))
            .finish_non_exhaustive()
    }
}

impl Iterator for DbIter {
    type Item = Result<(Vec<u8>, Vec<u8>)>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        self.inner.as_mut()?.next()
    }
}

impl DoubleEndedIterator for DbIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        self.inner.as_mut()?.next_back()
    }
}

impl FusedIterator for DbIter {}

fn no_error(e: Infallible) -> Error {
    match e {}
}

impl Engine {
    /// The open table of a live file (opened once, then shared).
    pub fn table(&self, f: &FileMeta) -> Result<Arc<sstable::Table>> {
        if let Some(t) = f.table.get() {
            return Ok(t.clone());
        }
        let path = table_path(&self.dir, f.number);
        let t = sstable::Table::open(self.fs.clone(), &path, f.number, self.cache.clone())?;
        let _ = f.table.set(t);
        Ok(f.table.get().expect("just set").clone())
    }

    /// The value of `key` at snapshot `seq` (a registered snapshot's).
    pub fn get_at(&self, key: &[u8], seq: SeqNo) -> Result<Option<Vec<u8>>> {
        self.get_in(&self.read_state(), key, seq)
    }

    /// The value of `key` now. The read state is taken before the sequence number: a read
    /// state installed by a compaction then comes with a sequence number the compaction kept
    /// the versions for (see `compact.rs`).
    pub fn get_latest(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let rs = self.read_state();
        let seq = self.visible_seq();
        self.get_in(&rs, key, seq)
    }

    fn get_in(&self, rs: &ReadState, key: &[u8], seq: SeqNo) -> Result<Option<Vec<u8>>> {
        self.counters
            .gets
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for mem in rs.memtables() {
            match mem.get(key, seq) {
                Lookup::Found(v) => return Ok(Some(v)),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        for f in rs.version.files_for_key(key) {
            if f.smallest_seq > seq {
                continue; // every entry of the table is newer than the snapshot
            }
            match self.table(f)?.get(key, seq)? {
                Lookup::Found(v) => return Ok(Some(v)),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        Ok(None)
    }

    /// An iterator over `lower..upper` at snapshot `seq` (a registered snapshot's). A table
    /// that fails to open makes the iterator yield that error (naming the file) and nothing
    /// else.
    pub fn iter_at(
        self: &Arc<Self>,
        seq: SeqNo,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    ) -> DbIter {
        self.iter_in(self.read_state(), seq, bounds)
    }

    /// An iterator over `lower..upper` now; the read state is taken before the sequence
    /// number, as in [`Engine::get_latest`].
    pub fn iter_latest(self: &Arc<Self>, bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>)) -> DbIter {
        let rs = self.read_state();
        let seq = self.visible_seq();
        self.iter_in(rs, seq, bounds)
    }

    fn iter_in(
        self: &Arc<Self>,
        rs: Arc<ReadState>,
        seq: SeqNo,
        bounds: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    ) -> DbIter {
        match self.try_iter_at(rs, seq, bounds) {
            Ok(it) => it,
            Err(e) => DbIter {
                inner: None,
                failed: Some(e),
                _state: None,
                _engine: self.clone(),
            },
        }
    }

    fn try_iter_at(
        self: &Arc<Self>,
        rs: Arc<ReadState>,
        seq: SeqNo,
        (lower, upper): (Bound<Vec<u8>>, Bound<Vec<u8>>),
    ) -> Result<DbIter> {
        let mut sources: Vec<Source> = Vec::new();
        for mem in rs.memtables() {
            sources.push(Box::new(MapErr::new(
                mem.iter(),
                no_error as fn(Infallible) -> Error,
            )));
        }
        let lo = match &lower {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
            Bound::Unbounded => None,
        };
        let hi = match &upper {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
            Bound::Unbounded => None,
        };
        let wanted = |f: &&Arc<FileMeta>| f.overlaps(lo, hi) && f.smallest_seq <= seq;
        for f in rs.version.files(0).iter().filter(wanted) {
            let table = self.table(f)?;
            sources.push(Box::new(MapErr::new(
                table.iter(),
                Error::from as fn(sstable::Error) -> Error,
            )));
        }
        // Deeper levels are sorted and disjoint: one lazily opening cursor per level.
        for files in &rs.version.levels()[1..] {
            let files: Vec<Arc<FileMeta>> = files.iter().filter(wanted).cloned().collect();
            if !files.is_empty() {
                sources.push(Box::new(LevelIter::new(self.clone(), files)));
            }
        }
        Ok(DbIter {
            inner: Some(VisibleIter::new(
                MergingIterator::new(sources),
                seq,
                lower,
                upper,
            )),
            failed: None,
            _state: Some(rs),
            _engine: self.clone(),
        })
    }
}
