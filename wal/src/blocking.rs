//! The blocking face: the same log and operations as [`crate::Wal`], for code without a runtime.
//!
//! ```
//! use wal::blocking::Wal;
//! use wal::{FsyncPolicy, Position, Record, WalConfig};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config = WalConfig { dir: dir.path().into(), fsync_policy: FsyncPolicy::Always, ..Default::default() };
//! let (wal, _info) = Wal::open(config).unwrap();
//! let pos = wal.append(&Record::put(b"k", b"v")).unwrap();
//! let mut reader = wal.read_from(Position::start()).unwrap();
//! assert_eq!(reader.next_record().unwrap(), Some((Record::put(b"k", b"v"), pos)));
//! wal.close().unwrap();
//! ```

use crate::engine::{Engine, Handoff, Wait};
use crate::error::Result;
use crate::handle::Handle;
use crate::reader::ReaderCore;
use crate::{AsRecord, Position, Record, RecoveryInfo, WalConfig};
use std::sync::Arc;

/// A handle to an open log. Cheap to clone and share between threads; the log closes when
/// the last handle (of either face) is dropped, or at [`close`](Wal::close).
#[derive(Clone, Debug)]
pub struct Wal {
    pub(crate) handle: Arc<Handle>,
}

impl Wal {
    /// Opens (creating if needed) and recovers the log in `config.dir`.
    pub fn open(config: WalConfig) -> Result<(Wal, RecoveryInfo)> {
        let (engine, info) = Engine::open(config)?;
        Ok((
            Wal {
                handle: Arc::new(Handle(engine)),
            },
            info,
        ))
    }

    fn engine(&self) -> &Arc<Engine> {
        &self.handle.0
    }

    /// Appends one record and waits as the fsync policy says (see [`FsyncPolicy`]); returns
    /// its position. Under every policy the record was at least written to the OS.
    ///
    /// [`FsyncPolicy`]: crate::FsyncPolicy
    pub fn append(&self, record: &impl AsRecord) -> Result<Position> {
        let mut pos = Position::start();
        self.append_for_wait_with(std::slice::from_ref(record), |p| pos = p)?;
        self.wait_durable(pos)?;
        Ok(pos)
    }

    /// Appends records as one batch (after a crash all are there or none) and waits as the
    /// policy says; returns their positions in order.
    pub fn append_batch(&self, records: &[impl AsRecord]) -> Result<Vec<Position>> {
        let mut positions = Vec::with_capacity(records.len());
        self.append_for_wait_with(records, |p| positions.push(p))?;
        if let Some(&last) = positions.last() {
            self.wait_durable(last)?;
        }
        Ok(positions)
    }

    /// Appends records as one batch and returns as soon as they are in the log's buffer,
    /// whatever the policy, without a system call (follow with
    /// [`wait_durable`](Wal::wait_durable): until it returns, a process crash may lose them).
    pub fn append_no_wait(&self, records: &[impl AsRecord]) -> Result<Vec<Position>> {
        let mut positions = Vec::with_capacity(records.len());
        self.append_no_wait_with(records, |p| positions.push(p))?;
        Ok(positions)
    }

    /// [`append_no_wait`](Self::append_no_wait), handing each record's position to `out`
    /// in order instead of collecting them (no allocation).
    pub fn append_no_wait_with(
        &self,
        records: &[impl AsRecord],
        out: impl FnMut(Position),
    ) -> Result<()> {
        self.engine().append(records, Handoff::Timer, out)
    }

    /// [`append_no_wait_with`](Self::append_no_wait_with) for a caller that calls
    /// [`wait_durable`](Wal::wait_durable) on the last position next, after work of its own
    /// (a store inserts into its memtable in between). The wait writes the bytes to the OS
    /// itself, so the background thread is not woken to do it (a wake-up and a timer per
    /// write for a lone durable writer). Bytes that no wait follows are still written with
    /// the next append that does not wait, a sync, a rotation or close.
    pub fn append_for_wait_with(
        &self,
        records: &[impl AsRecord],
        out: impl FnMut(Position),
    ) -> Result<()> {
        self.engine().append(records, Handoff::Waiter, out)
    }

    /// Waits until the record at `pos` is as durable as the policy promises for a returned
    /// `append`: under `Always` until an fdatasync covers it (shared with concurrent
    /// appenders); under `Batch` and `Os` until it is written to the OS (one `write` shared
    /// with concurrent waiters; the `Batch` timer fsyncs it later).
    pub fn wait_durable(&self, pos: Position) -> Result<()> {
        self.wait_durable_with(pos, || {})
    }

    /// [`Wal::wait_durable`], running `work` once on the way, whatever the outcome: the
    /// caller's own work on the record (e.g. an insert into an index) that must be done before
    /// it returns but need not be done before the record's round starts. Under `Always` it
    /// runs once this waiter counts for the next round: before the fdatasync when this waiter
    /// leads it, and otherwise after one yield of the CPU, so that the other writers of the
    /// round append first and the work runs during the fdatasync instead of delaying its start.
    /// With 16 durable writers on 2 cores and a memtable insert as the work, fillsync16 went
    /// from a median of 105.7k to 125.3k writes/s (ahead in 10 of 10 interleaved runs).
    pub fn wait_durable_with(&self, pos: Position, work: impl FnOnce()) -> Result<()> {
        match self.engine().durable_target(pos) {
            Wait::Durable(p) => self.engine().wait_durable_until_with(p, work),
            Wait::Written(p) => {
                work();
                self.engine().wait_written(p)
            }
        }
    }

    /// Makes everything appended before the call durable, under any policy.
    pub fn sync(&self) -> Result<()> {
        let target = self.engine().sync_target()?;
        self.engine().wait_durable_until(target)
    }

    /// A reader whose first record is the one at `pos` (`Position::start()`: the oldest).
    pub fn read_from(&self, pos: Position) -> Result<Reader> {
        Ok(Reader {
            core: ReaderCore::new(self.engine().clone(), pos)?,
        })
    }

    /// The position the next append gets.
    pub fn current_position(&self) -> Position {
        self.engine().current_position()
    }

    /// Every record before this position is on stable storage.
    pub fn durable_position(&self) -> Position {
        self.engine().durable_position()
    }

    /// Deletes the segments wholly before `pos` (never the active one); returns how many.
    pub fn delete_segments_before(&self, pos: Position) -> Result<usize> {
        self.engine().delete_segments_before(pos)
    }

    /// Keeps the record at `pos` and all before it, drops every later record (durably).
    pub fn truncate_after(&self, pos: Position) -> Result<()> {
        self.engine().truncate_after(pos)
    }

    /// Seals the active segment (fsync) and starts a new one; returns the position its first
    /// record will get.
    pub fn rotate(&self) -> Result<Position> {
        self.engine().rotate()
    }

    /// Writes and fsyncs everything, stops the background thread and releases the directory.
    /// Later writes fail with `Error::Closed`; readers can still read to the end.
    pub fn close(&self) -> Result<()> {
        self.engine().close()
    }

    /// The async face of the same log.
    pub fn to_async(&self) -> crate::Wal {
        crate::Wal {
            handle: self.handle.clone(),
        }
    }
}

/// A blocking reader. See [`Wal::read_from`].
#[derive(Debug)]
pub struct Reader {
    core: ReaderCore,
}

impl Reader {
    /// The next record and its position, or `None` at the end of the log for now.
    pub fn next_record(&mut self) -> Result<Option<(Record, Position)>> {
        self.core.next_record()
    }

    /// The next record, waiting for one to be appended if the reader is at the end. `None`
    /// only once the log is closed and read to its end.
    pub fn wait_next(&mut self) -> Result<Option<(Record, Position)>> {
        self.core.wait_next()
    }

    /// The position of the next record this reader returns.
    pub fn position(&self) -> Position {
        self.core.position()
    }
}
