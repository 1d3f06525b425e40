//! The async face (tokio): the log's operations as futures. Appends and buffered reads run on
//! the caller's task (a short lock, a memcpy and a checksum; under `Os` and `Batch` also the
//! `write` system call that hands the bytes to the OS, or a wait for the appender writing them
//! for everyone); waiting for an fsync awaits a watch channel fed by the background sync
//! thread; file reads, rotation, truncation, deletion and close run under `spawn_blocking`.
//! No runtime thread ever waits on an fsync.

use crate::engine::{lock, Engine, Handoff, Wait};
use crate::error::{Error, Result};
use crate::handle::Handle;
use crate::reader::{log_end, ReaderCore, Step};
use crate::{AsRecord, Position, Record, RecoveryInfo, WalConfig};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A handle to an open log. `Send + Sync`, cheap to clone; `append(&self)` from many tasks at
/// once. The log closes when the last handle (of either face) is dropped, or at
/// [`close`](Wal::close).
#[derive(Clone, Debug)]
pub struct Wal {
    pub(crate) handle: Arc<Handle>,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(format!("WAL task failed: {e}"))))?
}

impl Wal {
    /// Opens (creating if needed) and recovers the log in `config.dir`.
    pub async fn open(config: WalConfig) -> Result<(Wal, RecoveryInfo)> {
        let (engine, info) = blocking(move || Engine::open(config)).await?;
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
    pub async fn append(&self, record: &impl AsRecord) -> Result<Position> {
        let mut pos = Position::start();
        // `Timer`, not `Waiter`: a dropped future never makes its wait.
        self.engine()
            .append(std::slice::from_ref(record), Handoff::Timer, |p| pos = p)?;
        self.wait_durable(pos).await?;
        Ok(pos)
    }

    /// Appends records as one batch (after a crash all are there or none) and waits as the
    /// policy says; returns their positions in order.
    pub async fn append_batch(&self, records: &[impl AsRecord]) -> Result<Vec<Position>> {
        let positions = self.append_no_wait(records)?;
        if let Some(&last) = positions.last() {
            self.wait_durable(last).await?;
        }
        Ok(positions)
    }

    /// Appends records as one batch and returns as soon as they are in the log's buffer,
    /// whatever the policy, without a system call (follow with
    /// [`wait_durable`](Wal::wait_durable): until it returns, a process crash may lose them). Not async: it never waits.
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

    /// Waits until the record at `pos` is as durable as the policy promises for a returned
    /// `append`: under `Always` until an fdatasync covers it (shared with concurrent
    /// appenders); under `Batch` and `Os` until it is written to the OS (one `write` shared
    /// with concurrent waiters; the `Batch` timer fsyncs it later).
    pub async fn wait_durable(&self, pos: Position) -> Result<()> {
        match self.engine().durable_target(pos) {
            Wait::Durable(p) => self.engine().wait_durable_until_async(p).await,
            Wait::Written(p) => self.engine().wait_written_async(p).await,
        }
    }

    /// Makes everything appended before the call durable, under any policy.
    pub async fn sync(&self) -> Result<()> {
        let target = self.engine().sync_target()?;
        self.engine().wait_durable_until_async(target).await
    }

    /// A reader whose first record is the one at `pos` (`Position::start()`: the oldest).
    pub async fn read_from(&self, pos: Position) -> Result<Reader> {
        let core = ReaderCore::new(self.engine().clone(), pos)?;
        Ok(Reader {
            core: Arc::new(Mutex::new(core)),
            engine: self.engine().clone(),
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
    pub async fn delete_segments_before(&self, pos: Position) -> Result<usize> {
        let h = self.handle.clone();
        blocking(move || h.0.delete_segments_before(pos)).await
    }

    /// Keeps the record at `pos` and all before it, drops every later record (durably).
    pub async fn truncate_after(&self, pos: Position) -> Result<()> {
        let h = self.handle.clone();
        blocking(move || h.0.truncate_after(pos)).await
    }

    /// Seals the active segment (fsync) and starts a new one; returns the position its first
    /// record will get.
    pub async fn rotate(&self) -> Result<Position> {
        let h = self.handle.clone();
        blocking(move || h.0.rotate()).await
    }

    /// Writes and fsyncs everything, stops the background thread and releases the directory.
    /// Later writes fail with `Error::Closed`; readers can still read to the end.
    pub async fn close(&self) -> Result<()> {
        let h = self.handle.clone();
        blocking(move || h.0.close()).await
    }

    /// The blocking face of the same log.
    pub fn blocking(&self) -> crate::blocking::Wal {
        crate::blocking::Wal {
            handle: self.handle.clone(),
        }
    }
}

/// An async reader. See [`Wal::read_from`].
#[derive(Debug)]
pub struct Reader {
    core: Arc<Mutex<ReaderCore>>,
    engine: Arc<Engine>,
}

/// Counts a waiting tail reader while alive (also if its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Reader {
    /// The next record and its position, or `None` at the end of the log for now.
    pub async fn next_record(&mut self) -> Result<Option<(Record, Position)>> {
        match lock(&self.core).step(false)? {
            Step::Record(r, p) => return Ok(Some((r, p))),
            Step::End => return Ok(None),
            Step::NeedIo => {}
        }
        let core = self.core.clone();
        blocking(move || lock(&core).next_record()).await
    }

    /// The next record, waiting for one to be appended if the reader is at the end. `None`
    /// only once the log is closed and read to its end.
    pub async fn wait_next(&mut self) -> Result<Option<(Record, Position)>> {
        loop {
            if let Some(x) = self.next_record().await? {
                return Ok(Some(x));
            }
            let engine = self.engine.clone();
            let notified = engine.tail_notify.notified();
            tokio::pin!(notified);
            let _waiting = Waiting::new(&engine.tail_async_waiters);
            notified.as_mut().enable();
            let here = self.position();
            let (end, closed) = {
                let st = lock(&engine.state);
                (log_end(&st), st.active.is_none())
            };
            if end > here {
                continue;
            }
            if closed {
                return Ok(None);
            }
            notified.await;
        }
    }

    /// The position of the next record this reader returns.
    pub fn position(&self) -> Position {
        lock(&self.core).position()
    }
}
