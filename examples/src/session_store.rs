//! Use case 6a: Session store with `FsyncPolicy::Batch(10ms)`.
//!
//! **When:** many small, frequent updates whose loss costs little (a user logs in again, a cart
//! is re-filled), but a restart should not log everyone out.
//!
//! **FsyncPolicy:** `Batch(10ms)`. `touch` returns as soon as the record is in the log; a
//! background thread fsyncs within 10 ms of each append, one fsync for all the appends of that
//! window. **What it trades away:** a power cut loses the updates of the last ≤10 ms; those
//! already covered by an fsync (everything before [`SessionStore::durable_position`]) survive,
//! and what survives is always a prefix of what was written. Once the window has passed,
//! everything written before it survives. (A process crash, the machine staying up, loses only
//! the appends of about the last millisecond still in the log's buffer; the window is about
//! power loss.)

use crate::error::{Error, Result};
use crate::setup::wal_config;
use common::FileSystem;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wal::{FsyncPolicy, Position, Record, Wal};

/// The fsync window.
pub const WINDOW: Duration = Duration::from_millis(10);

/// Sessions by id, kept in memory, logged with a 10 ms fsync window.
#[derive(Debug)]
pub struct SessionStore {
    wal: Wal,
    sessions: BTreeMap<String, String>,
}

impl SessionStore {
    /// Opens the store in `dir` and replays its log.
    pub async fn open(fs: Arc<dyn FileSystem>, dir: &Path) -> Result<SessionStore> {
        let wal_dir = sessions_dir(dir);
        let (wal, _) = Wal::open(wal_config(
            &fs,
            &wal_dir,
            FsyncPolicy::Batch(WINDOW),
            64 << 20,
        ))
        .await?;
        let mut sessions = BTreeMap::new();
        let mut reader = wal.read_from(Position::start()).await?;
        while let Some((r, at)) = reader.next_record().await? {
            let id = String::from_utf8(r.key).map_err(|e| Error::bad_record(&wal_dir, at, e))?;
            if r.tombstone {
                sessions.remove(&id);
            } else {
                let data =
                    String::from_utf8(r.value).map_err(|e| Error::bad_record(&wal_dir, at, e))?;
                sessions.insert(id, data);
            }
        }
        Ok(SessionStore { wal, sessions })
    }

    /// Sets a session's data; returns at once (durable within the window).
    pub async fn touch(&mut self, id: &str, data: &str) -> Result<Position> {
        let at = self.wal.append(&Record::put(id, data)).await?;
        self.sessions.insert(id.into(), data.into());
        Ok(at)
    }

    /// Ends a session.
    pub async fn end(&mut self, id: &str) -> Result<()> {
        self.wal.append(&Record::delete(id)).await?;
        self.sessions.remove(id);
        Ok(())
    }

    /// A session's data.
    pub fn get(&self, id: &str) -> Option<&str> {
        self.sessions.get(id).map(String::as_str)
    }

    /// Every session.
    pub fn sessions(&self) -> &BTreeMap<String, String> {
        &self.sessions
    }

    /// Every record before this position survives a power cut now.
    pub fn durable_position(&self) -> Position {
        self.wal.durable_position()
    }

    /// Waits out the fsync window: returns once every update so far is durable (the
    /// background thread does it within [`WINDOW`]; this only watches, it forces nothing).
    pub async fn wait_window(&self) -> Result<Duration> {
        let started = Instant::now();
        let end = self.wal.current_position();
        tokio::time::sleep(WINDOW).await;
        while self.wal.durable_position() < end {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(Error::Invalid("the Batch fsync never came".into()));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(started.elapsed())
    }

    /// Closes the log.
    pub async fn close(&self) -> Result<()> {
        Ok(self.wal.close().await?)
    }
}

/// The store's log directory.
pub fn sessions_dir(dir: &Path) -> PathBuf {
    dir.join("sessions")
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Crash right after writing: (written, below the durable mark at the crash, survived).
    pub immediate: (usize, usize, usize),
    /// Crash after waiting out the window: (written, survived).
    pub after_window: (usize, usize),
}

/// How many of `written` (in order) are in `survived`, checking they are a prefix.
pub fn surviving_prefix(
    written: &[(Record, Position)],
    survived: &[(Record, Position)],
) -> Result<usize> {
    if survived.len() > written.len() || written[..survived.len()] != *survived {
        return Err(Error::Invalid(
            "what survived is not a prefix of what was written".into(),
        ));
    }
    Ok(survived.len())
}

/// The program: sessions in `dir` on `fs` across a clean restart, then the power cuts on a
/// simulated disk (`common::MemFs`), since only a simulated disk can lose its cache on demand.
pub async fn run(fs: Arc<dyn FileSystem>, dir: &Path, out: &mut dyn Write) -> Result<Summary> {
    writeln!(
        out,
        "session_store in {} (FsyncPolicy::Batch(10ms))",
        dir.display()
    )?;
    let mut store = SessionStore::open(fs.clone(), dir).await?;
    store.touch("alice", "cart: 2 books").await?;
    store.touch("bob", "cart: empty").await?;
    store.touch("alice", "cart: 3 books").await?;
    store.end("bob").await?;
    store.close().await?;
    let store = SessionStore::open(fs, dir).await?;
    writeln!(
        out,
        "after a clean restart: {} session, alice has {:?}",
        store.sessions().len(),
        store.get("alice").unwrap_or_default()
    )?;
    store.close().await?;
    writeln!(out, "now on a simulated disk, to cut the power:")?;
    let mem = common::MemFs::new();
    let dir = Path::new("/sim");
    let mut store = SessionStore::open(mem.shared(), dir).await?;
    let mut written = Vec::new();
    for i in 0..20 {
        let (id, data) = (format!("s{i:02}"), format!("user {i}, cart {}", i * 3));
        let at = store.touch(&id, &data).await?;
        written.push((Record::put(&id, &data), at));
    }
    let durable = store.durable_position();
    let crashed = mem.crash();
    let below = written.iter().filter(|(_, at)| *at < durable).count();
    let survived = surviving_prefix(
        &written,
        &crate::setup::read_log(&crashed.shared(), &sessions_dir(dir))?,
    )?;
    writeln!(
        out,
        "power cut right after 20 updates: {below} were below the durable mark, {survived} survived (the rest of the last 10 ms may not)"
    )?;
    if survived < below {
        return Err(Error::Invalid("a durable update was lost".into()));
    }
    for i in 20..40 {
        let (id, data) = (format!("s{i:02}"), format!("user {i}"));
        let at = store.touch(&id, &data).await?;
        written.push((Record::put(&id, &data), at));
    }
    store.wait_window().await?;
    let crashed = mem.crash();
    let survived_after = surviving_prefix(
        &written,
        &crate::setup::read_log(&crashed.shared(), &sessions_dir(dir))?,
    )?;
    writeln!(
        out,
        "power cut after 20 more updates and the 10 ms window: {survived_after} of {} survived",
        written.len()
    )?;
    let reopened = SessionStore::open(crashed.shared(), dir).await?;
    writeln!(
        out,
        "reopened after the cut: {} sessions",
        reopened.sessions().len()
    )?;
    store.close().await?;
    Ok(Summary {
        immediate: (20, below, survived),
        after_window: (written.len(), survived_after),
    })
}
