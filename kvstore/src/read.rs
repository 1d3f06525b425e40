//! The read path: memtable, immutable memtables newest first, level 0 newest first, deeper
//! levels by key range. Point reads stop at the first source that knows the key (one binary
//! search per deeper level, `Version::files_for_key`); range reads merge the memtables, the
//! level-0 tables (each run of key-disjoint ones as one [`LevelIter`], see
//! `level_iter::disjoint_runs`) and one [`LevelIter`] per deeper level with one
//! [`MergingIterator`] and hide what the snapshot must not see with [`VisibleIter`]. When the
//! few tables a range meets are disjoint across all levels, one [`LevelIter`] reads them in key
//! order instead, and a single source is read without a merge.

use crate::engine::{Engine, ReadState};
use crate::error::{Error, Result};
use crate::filename::table_path;
use crate::level_iter::{disjoint_runs, LevelIter, Tables};
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

type Boxed = Box<dyn InternalIterator<Error = Error>>;

/// What a [`DbIter`] reads: one lazily opening cursor over disjoint tables (a range read of
/// flushed data with nothing in the memtables), called directly rather than through a virtual
/// call per method (half a dozen per entry of a scan; seekrandom +3%), or any other source.
enum Source {
    Run(Box<LevelIter>),
    Boxed(Boxed),
}

/// Forwards each method to the cursor inside.
macro_rules! forward {
    ($self:ident, $it:ident => $call:expr) => {
        match $self {
            Source::Run($it) => $call,
            Source::Boxed($it) => $call,
        }
    };
}

impl InternalIterator for Source {
    type Error = Error;
    #[inline]
    fn valid(&self) -> bool {
        forward!(self, it => it.valid())
    }
    fn seek_to_first(&mut self) -> Result<()> {
        forward!(self, it => it.seek_to_first())
    }
    fn seek_to_last(&mut self) -> Result<()> {
        forward!(self, it => it.seek_to_last())
    }
    fn seek(&mut self, target: &common::InternalKey) -> Result<()> {
        forward!(self, it => it.seek(target))
    }
    fn seek_for_prev(&mut self, target: &common::InternalKey) -> Result<()> {
        forward!(self, it => it.seek_for_prev(target))
    }
    #[inline]
    fn next(&mut self) -> Result<()> {
        forward!(self, it => it.next())
    }
    fn prev(&mut self) -> Result<()> {
        forward!(self, it => it.prev())
    }
    #[inline]
    fn user_key(&self) -> &[u8] {
        forward!(self, it => it.user_key())
    }
    #[inline]
    fn seq(&self) -> SeqNo {
        forward!(self, it => it.seq())
    }
    #[inline]
    fn kind(&self) -> common::ValueKind {
        forward!(self, it => it.kind())
    }
    #[inline]
    fn value(&self) -> &[u8] {
        forward!(self, it => it.value())
    }
}

/// A range read whose tables number at most this many checks whether they are disjoint across
/// levels (and then reads them with one cursor instead of merging them).
const FEW_TABLES: usize = 64;

/// The `(key, value)` pairs of a range at one snapshot, in key order; double-ended. It holds
/// the memtables and tables it reads, so flushes (and later compactions) never pull data from
/// under it. An error (a table block failing its checksum) is yielded once, naming the file,
/// and ends the iteration.
pub struct DbIter {
    inner: Option<VisibleIter<Source>>,
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

impl DbIter {
    /// The next pair, like [`Iterator::next`], but lent from the iterator rather than copied
    /// into two new vectors: no allocation per pair, for a scan that only looks at each pair.
    /// The slices live until the iterator moves again. It mixes freely with `next` and
    /// `next_back`, and fails the same way (an error is yielded once and ends the iteration).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = kvstore::Db::builder(dir.path()).open().unwrap();
    /// db.put("a", "1").unwrap();
    /// db.put("b", "22").unwrap();
    /// let mut it = db.range("a"..);
    /// let mut bytes = 0;
    /// while let Some(pair) = it.next_ref() {
    ///     let (key, value) = pair.unwrap();
    ///     bytes += key.len() + value.len();
    /// }
    /// assert_eq!(bytes, 5);
    /// ```
    pub fn next_ref(&mut self) -> Option<Result<(&[u8], &[u8])>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        self.inner.as_mut()?.next_ref()
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

/// `sources` merged (unless there is only one).
fn merged(mut sources: Vec<Boxed>) -> Source {
    // One source needs no merge (after a flush, a short scan reads one level).
    Source::Boxed(if sources.len() == 1 {
        sources.pop().expect("one source")
    } else {
        Box::new(MergingIterator::new(sources))
    })
}

fn no_error(e: Infallible) -> Error {
    match e {}
}

impl Engine {
    /// The open table of a live file (opened once, then shared).
    pub fn table(&self, f: &FileMeta) -> Result<Arc<sstable::Table>> {
        self.table_ref(f).cloned()
    }

    /// As [`Engine::table`], borrowed from the file's meta: a point read asks several tables
    /// and need not count a reference to each.
    fn table_ref<'f>(&self, f: &'f FileMeta) -> Result<&'f Arc<sstable::Table>> {
        if f.table.get().is_none() {
            let path = table_path(&self.dir, f.number);
            let t = sstable::Table::open(self.fs.clone(), &path, f.number, self.cache.clone())?;
            let _ = f.table.set(t);
        }
        Ok(f.table.get().expect("set above"))
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
        let hash = sstable::filter::bloom_hash(key); // once, for every table's filter
        for f in rs.version.files_for_key(key) {
            if f.smallest_seq > seq {
                continue; // every entry of the table is newer than the snapshot
            }
            match self.table_ref(f)?.get_hashed(key, hash, seq)? {
                Lookup::Found(v) => return Ok(Some(v)),
                Lookup::Deleted => return Ok(None),
                Lookup::Absent => {}
            }
        }
        Ok(None)
    }

    /// An iterator over `lower..upper` at snapshot `seq` (a registered snapshot's). A table
    /// that fails to open or read makes the iterator yield that error (naming the file) and
    /// end: when it is opened up front, the error comes first and alone; a table opened as
    /// the cursor reaches it fails the move that reaches it. Nothing is skipped.
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
        let mut sources: Vec<Boxed> = Vec::new();
        for mem in rs.memtables() {
            // A memtable with nothing at or below the snapshot adds nothing to the merge
            // (`seq` was read after `rs`; an entry a write published by then is in its
            // memtable, and so is its sequence number).
            if mem.min_seq().is_none_or(|min| min > seq) {
                continue;
            }
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
        let level0: Vec<Arc<FileMeta>> =
            rs.version.files(0).iter().filter(wanted).cloned().collect();
        // Per deeper level (sorted and disjoint), the run of its tables that meets the range.
        let deeper: Vec<(usize, Range<usize>)> = (1..rs.version.levels().len())
            .filter_map(|level| {
                let files = rs.version.files(level);
                let start = lo.map_or(0, |lo| {
                    files.partition_point(|f| f.largest.user_key.as_slice() < lo)
                });
                let end = hi.map_or(files.len(), |hi| {
                    files.partition_point(|f| f.smallest.user_key.as_slice() <= hi)
                });
                let range = start..end.max(start);
                let skip = range.is_empty() || (range.len() == 1 && !wanted(&&files[start]));
                (!skip).then_some((level, range))
            })
            .collect();
        // When the few tables the range meets are disjoint across all levels (as after keys
        // written in order), one lazily opening cursor concatenates them in key order: that is
        // their merge, with no merging iterator to cross per entry.
        let count = level0.len() + deeper.iter().map(|(_, r)| r.len()).sum::<usize>();
        if count <= FEW_TABLES {
            let mut all = level0.clone();
            for (level, range) in &deeper {
                all.extend(
                    rs.version.files(*level)[range.clone()]
                        .iter()
                        .filter(wanted)
                        .cloned(),
                );
            }
            let mut runs = disjoint_runs(all);
            if runs.len() == 1 {
                let run = LevelIter::new(self.clone(), Tables::Owned(runs.pop().expect("one run")));
                if sources.is_empty() {
                    let run = Source::Run(Box::new(run));
                    return Ok(self.db_iter(rs, seq, lower, upper, run));
                }
                sources.push(Box::new(run));
                return Ok(self.db_iter(rs, seq, lower, upper, merged(sources)));
            }
        }
        // Level 0's tables may overlap; those that do not (written from keys in order) share
        // a lazily opening cursor, so a short scan does not open and position every one.
        for mut run in disjoint_runs(level0) {
            if run.len() == 1 {
                let table = self.table(&run.pop().expect("one table"))?;
                sources.push(Box::new(MapErr::new(
                    table.iter(),
                    Error::from as fn(sstable::Error) -> Error,
                )));
            } else {
                sources.push(Box::new(LevelIter::new(self.clone(), Tables::Owned(run))));
            }
        }
        // Deeper levels: one lazily opening cursor per level over its run (a table newer than
        // the snapshot in it is read and hidden, as any too-new entry is).
        for (level, range) in deeper {
            sources.push(Box::new(LevelIter::new(
                self.clone(),
                Tables::Shared {
                    version: Arc::clone(&rs.version),
                    level,
                    range,
                },
            )));
        }
        Ok(self.db_iter(rs, seq, lower, upper, merged(sources)))
    }

    /// The iterator over `source` at snapshot `seq` within the bounds.
    fn db_iter(
        self: &Arc<Self>,
        rs: Arc<ReadState>,
        seq: SeqNo,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        source: Source,
    ) -> DbIter {
        DbIter {
            inner: Some(VisibleIter::new(source, seq, lower, upper)),
            failed: None,
            _state: Some(rs),
            _engine: self.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    //! Scans over level-0 tables written from keys in order (one lazily opening run) mixed
    //! with overlapping ones, against a model; a damaged table late in a run fails the scan.
    use crate::Db;
    use common::{FileSystem, MemFs};
    use std::collections::BTreeMap;
    use std::ops::Bound;
    use std::path::Path;

    type Model = BTreeMap<Vec<u8>, Vec<u8>>;
    type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

    fn open(fs: &MemFs) -> Db {
        Db::builder("/db")
            .fs(fs.shared())
            .compaction_threads(0)
            .open()
            .unwrap()
    }

    fn key(i: u32) -> Vec<u8> {
        format!("key{i:04}").into_bytes()
    }

    fn value(i: u32, generation: u32) -> Vec<u8> {
        format!("value-{i}-{generation}-{}", "x".repeat(40)).into_bytes()
    }

    /// Deletes the even keys of `keys` and overwrites the odd ones (generation 1), in `db`
    /// and in `model`.
    fn overwrite_or_delete(db: &Db, model: &mut Model, keys: impl Iterator<Item = u32>) {
        for i in keys {
            if i % 2 == 0 {
                db.delete(key(i)).unwrap();
                model.remove(&key(i));
            } else {
                db.put(key(i), value(i, 1)).unwrap();
                model.insert(key(i), value(i, 1));
            }
        }
    }

    /// Three flushed tables of 100 keys each, written in key order (disjoint).
    fn write_run(db: &Db, model: &mut Model) {
        for t in 0..3 {
            for i in t * 100..(t + 1) * 100 {
                db.put(key(i), value(i, 0)).unwrap();
                model.insert(key(i), value(i, 0));
            }
            db.flush().unwrap();
        }
    }

    fn in_range(model: &Model, lo: &Bound<Vec<u8>>, hi: &Bound<Vec<u8>>) -> Pairs {
        model
            .range::<Vec<u8>, _>((lo.as_ref(), hi.as_ref()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    #[test]
    fn scans_over_a_run_of_level0_tables_match_the_model() {
        let fs = MemFs::new();
        let db = open(&fs);
        let mut model = Model::new();
        write_run(&db, &mut model);
        let level0 = db.engine().read_state().version.files(0).to_vec();
        assert_eq!(level0.len(), 3);
        assert_eq!(
            super::disjoint_runs(level0).len(),
            1,
            "one run of three tables"
        );
        let (snapshot, old) = (db.snapshot(), model.clone());
        // A table overlapping the run (overwrites and deletes), then unflushed writes.
        overwrite_or_delete(&db, &mut model, (5..300).step_by(7));
        db.flush().unwrap();
        for i in (0..320).step_by(13) {
            db.put(key(i), value(i, 2)).unwrap();
            model.insert(key(i), value(i, 2));
        }

        let bounds = [
            (Bound::Unbounded, Bound::Unbounded),
            (Bound::Included(key(50)), Bound::Unbounded),
            (Bound::Excluded(key(99)), Bound::Excluded(key(201))),
            (Bound::Included(key(150)), Bound::Included(key(150))),
            (Bound::Unbounded, Bound::Excluded(key(100))),
            (Bound::Included(key(199)), Bound::Included(key(200))),
            (Bound::Included(key(310)), Bound::Unbounded),
        ];
        for (lo, hi) in bounds {
            let range = || (lo.clone(), hi.clone());
            let want = in_range(&model, &lo, &hi);
            let fwd: Pairs = db.range(range()).collect::<Result<_, _>>().unwrap();
            assert_eq!(fwd, want, "forward {lo:?}..{hi:?}");
            let mut lent = Pairs::new();
            let mut it = db.range(range());
            while let Some(pair) = it.next_ref() {
                let (k, v) = pair.unwrap();
                lent.push((k.to_vec(), v.to_vec()));
            }
            assert_eq!(lent, want, "lent {lo:?}..{hi:?}");
            let mut bwd: Pairs = db.range(range()).rev().collect::<Result<_, _>>().unwrap();
            bwd.reverse();
            assert_eq!(bwd, want, "backward {lo:?}..{hi:?}");
            // Both ends in turn: the cursor changes direction inside the run.
            let mut it = db.range(range());
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for step in 0.. {
                let from_back = step % 3 == 2;
                match if from_back { it.next_back() } else { it.next() } {
                    Some(kv) if from_back => back.push(kv.unwrap()),
                    Some(kv) => front.push(kv.unwrap()),
                    None => break,
                }
            }
            back.reverse();
            front.extend(back);
            assert_eq!(front, want, "both ends {lo:?}..{hi:?}");

            let at_snapshot: Pairs = snapshot.range(range()).collect::<Result<_, _>>().unwrap();
            assert_eq!(
                at_snapshot,
                in_range(&old, &lo, &hi),
                "snapshot {lo:?}..{hi:?}"
            );
        }
    }

    /// Tables on level 0 and on a deeper level whose key ranges are disjoint are read as one
    /// run (no merge); once a table overlaps them, they are merged again. Both against the model,
    /// both ways, and at a snapshot taken before the overlapping writes.
    #[test]
    fn tables_disjoint_across_levels_read_as_one_run() {
        let fs = MemFs::new();
        let db = open(&fs);
        let mut model = Model::new();
        for t in 0..2 {
            for i in t * 100..(t + 1) * 100 {
                db.put(key(i), value(i, 0)).unwrap();
                model.insert(key(i), value(i, 0));
            }
            db.flush().unwrap();
        }
        db.compact().unwrap(); // keys 0..200 on a deeper level
        for i in 200..300 {
            db.put(key(i), value(i, 0)).unwrap();
            model.insert(key(i), value(i, 0));
        }
        db.flush().unwrap(); // keys 200..300 on level 0
        let rs = db.engine().read_state();
        let all: Vec<_> = rs
            .version
            .levels()
            .iter()
            .flat_map(|l| l.iter().cloned())
            .collect();
        assert!(rs.version.files(0).len() == 1 && all.len() >= 2, "{all:?}");
        assert_eq!(super::disjoint_runs(all).len(), 1, "one run across levels");
        drop(rs);
        let (snapshot, old) = (db.snapshot(), model.clone());
        let check = |db: &Db, model: &Model| {
            for (lo, hi) in [
                (Bound::Unbounded, Bound::Unbounded),
                (Bound::Included(key(150)), Bound::Unbounded),
                (Bound::Excluded(key(199)), Bound::Included(key(201))),
                (Bound::Unbounded, Bound::Excluded(key(42))),
            ] {
                let range = || (lo.clone(), hi.clone());
                let want = in_range(model, &lo, &hi);
                let fwd: Pairs = db.range(range()).collect::<Result<_, _>>().unwrap();
                assert_eq!(fwd, want, "forward {lo:?}..{hi:?}");
                let mut bwd: Pairs = db.range(range()).rev().collect::<Result<_, _>>().unwrap();
                bwd.reverse();
                assert_eq!(bwd, want, "backward {lo:?}..{hi:?}");
            }
        };
        check(&db, &model);
        // A table overlapping both levels (overwrites and deletes): merged again.
        overwrite_or_delete(&db, &mut model, (3..300).step_by(11));
        db.flush().unwrap();
        check(&db, &model);
        let at_snapshot: Pairs = snapshot.range(..).collect::<Result<_, _>>().unwrap();
        assert_eq!(
            at_snapshot,
            in_range(&old, &Bound::Unbounded, &Bound::Unbounded)
        );
    }

    #[test]
    fn a_damaged_table_late_in_a_run_fails_the_scan_naming_it() {
        let fs = MemFs::new();
        write_run(&open(&fs), &mut Model::new());
        let mut tables: Vec<String> = fs
            .list_dir(Path::new("/db"))
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".sst"))
            .collect();
        tables.sort();
        assert_eq!(tables.len(), 3);
        // The second table written holds key0100..key0199.
        let damaged = &tables[1];
        let path = Path::new("/db").join(damaged);
        let mut bytes = fs.read_all(&path).unwrap();
        bytes[200] ^= 0x10; // inside the first data block
        fs.write_all(&path, &bytes).unwrap();

        let db = open(&fs);
        let items: Vec<_> = db.iter().collect();
        let err = items
            .last()
            .unwrap()
            .as_ref()
            .expect_err("the scan must end in an error");
        assert!(err.to_string().contains(damaged.as_str()), "{err}");
        let got: Vec<Vec<u8>> = items[..items.len() - 1]
            .iter()
            .map(|r| r.as_ref().expect("one error, last").0.clone())
            .collect();
        // Everything of the first table, in order, and nothing past the damage.
        let want: Vec<Vec<u8>> = (0..got.len() as u32).map(key).collect();
        assert_eq!(got, want, "a correct prefix, nothing skipped");
        assert!((100..200).contains(&got.len()), "{} pairs", got.len());

        // Lent pairs: the same prefix, then the error, then nothing.
        let mut it = db.iter();
        let mut lent = Vec::new();
        let err = loop {
            match it.next_ref().expect("the error comes before the end") {
                Ok((k, _)) => lent.push(k.to_vec()),
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains(damaged.as_str()), "{err}");
        assert_eq!(lent, got);
        assert!(it.next_ref().is_none() && it.next().is_none());

        // Backward from the end, and a seek into the damaged block (the table's first, where
        // its first key is), fail the same way.
        let back: Vec<_> = db.iter().rev().collect();
        assert!(back.last().unwrap().is_err());
        assert!(back[..back.len() - 1].iter().all(|r| r.is_ok()));
        let mid: Vec<_> = db.range(key(100)..).take(5).collect();
        assert!(mid[0].is_err(), "{:?}", mid[0]);
    }
}
