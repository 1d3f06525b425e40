//! Replaying the log: a reader thread reads, checksums and decodes records into batches while
//! the caller applies them.
//!
//! A database reopened over a large unflushed log spends its time in two places: reading the
//! log (file reads, crc32c, decoding) and inserting every record into its memtable. A
//! [`Replay`] runs the first on its own thread, one batch ahead of the caller, and hands over
//! [`RecordBatch`]es: the keys and values of many records back to back in one buffer, so no
//! record costs an allocation (a batch's buffers go back to the thread for reuse when it is
//! dropped). The records, their order, and every error are exactly those of a
//! [`blocking::Reader`](crate::blocking::Reader) from the same position: a checksum mismatch
//! or a damaged record ends the replay with the reader's error, naming the file and offset,
//! after the batch of the records before it.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::reader::{ReaderCore, StepRef};
use crate::record_ref::RecordRef;
use crate::Position;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// A batch is handed over once its keys and values reach this many bytes...
const BATCH_BYTES: usize = 512 << 10;
/// ...or it holds this many records.
const BATCH_RECORDS: usize = 8192;
/// Batches read ahead of the caller.
const READ_AHEAD: usize = 2;

/// One record of a batch: where its key and value are in the batch's bytes.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    key_end: usize,
    value_end: usize,
    tombstone: bool,
    pos: Position,
}

/// A batch's buffers, recycled.
type Buffers = (Vec<u8>, Vec<Entry>);

/// Consecutive records of the log, in log order, with their positions. Owned and `Send`: it
/// can be applied on another thread. Dropping it gives its buffers back to the replay.
#[derive(Debug)]
pub struct RecordBatch {
    data: Vec<u8>,
    entries: Vec<Entry>,
    recycle: Option<Sender<Buffers>>,
}

impl RecordBatch {
    fn with_buffers((mut data, mut entries): Buffers, recycle: Sender<Buffers>) -> RecordBatch {
        data.clear();
        entries.clear();
        RecordBatch {
            data,
            entries,
            recycle: Some(recycle),
        }
    }

    fn push(&mut self, r: RecordRef<'_>, pos: Position) {
        let start = self.data.len();
        self.data.extend_from_slice(r.key);
        let key_end = self.data.len();
        self.data.extend_from_slice(r.value);
        self.entries.push(Entry {
            start,
            key_end,
            value_end: self.data.len(),
            tombstone: r.tombstone,
            pos,
        });
    }

    fn full(&self) -> bool {
        self.data.len() >= BATCH_BYTES || self.entries.len() >= BATCH_RECORDS
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch holds no record (a replay never hands out an empty one).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`th record and its position, if `i < len()`.
    pub fn get(&self, i: usize) -> Option<(RecordRef<'_>, Position)> {
        self.entries.get(i).map(|e| self.record(e))
    }

    fn record(&self, e: &Entry) -> (RecordRef<'_>, Position) {
        let r = RecordRef {
            key: &self.data[e.start..e.key_end],
            value: &self.data[e.key_end..e.value_end],
            tombstone: e.tombstone,
        };
        (r, e.pos)
    }

    /// The records and their positions, in log order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (RecordRef<'_>, Position)> + '_ {
        self.entries.iter().map(|e| self.record(e))
    }
}

impl Drop for RecordBatch {
    fn drop(&mut self) {
        // A batch that grew for a huge record is not worth keeping around.
        if self.data.capacity() > 4 * BATCH_BYTES {
            return;
        }
        if let Some(tx) = self.recycle.take() {
            let _ = tx.send((
                std::mem::take(&mut self.data),
                std::mem::take(&mut self.entries),
            ));
        }
    }
}

/// What the reader thread sends.
enum Msg {
    Batch(RecordBatch),
    /// The log was read to its end: nothing follows.
    End,
    /// Reading failed: nothing follows.
    Failed(Error),
}

/// Where a replay stands.
#[derive(Debug)]
enum State {
    Running,
    Ended,
    /// The error was returned once; later calls say so.
    Failed(String),
}

/// A replay of the log from a position to its end (as it stands while the replay reads), made
/// by [`blocking::Wal::replay_from`](crate::blocking::Wal::replay_from). A thread of its own
/// reads, checksums and decodes records into [`RecordBatch`]es one batch ahead of the caller.
/// The records, their order and every error are those of a
/// [`blocking::Reader`](crate::blocking::Reader) from the same position: a checksum mismatch
/// or a damaged record ends the replay with the reader's error (naming the file and offset),
/// after the records before it.
///
/// ```
/// use wal::blocking::Wal;
/// use wal::{Position, Record, WalConfig};
///
/// let dir = tempfile::tempdir().unwrap();
/// let (wal, _) = Wal::open(WalConfig { dir: dir.path().into(), ..Default::default() }).unwrap();
/// wal.append_batch(&[Record::put(b"a", b"1"), Record::delete(b"b")]).unwrap();
/// let mut replay = wal.replay_from(Position::start()).unwrap();
/// let mut seen = Vec::new();
/// while let Some((record, _pos)) = replay.next_record().unwrap() {
///     seen.push((record.key.to_vec(), record.tombstone));
/// }
/// assert_eq!(seen, [(b"a".to_vec(), false), (b"b".to_vec(), true)]);
/// ```
#[derive(Debug)]
pub struct Replay {
    rx: Option<Receiver<Msg>>,
    thread: Option<JoinHandle<()>>,
    state: State,
    /// The batch `next_record` reads from, and its next index.
    current: Option<RecordBatch>,
    next: usize,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Batch(b) => write!(f, "Batch({} records)", b.len()),
            Msg::End => f.write_str("End"),
            Msg::Failed(e) => write!(f, "Failed({e})"),
        }
    }
}

impl Replay {
    /// Starts reading from `pos` on a new thread. Errors about the position itself
    /// (deleted, invalid) are returned here.
    pub(crate) fn start(engine: Arc<Engine>, pos: Position) -> Result<Replay> {
        let core = ReaderCore::new(engine, pos)?;
        let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
        let thread = std::thread::Builder::new()
            .name("wal-replay".into())
            .spawn(move || read_batches(core, tx))?;
        Ok(Replay {
            rx: Some(rx),
            thread: Some(thread),
            state: State::Running,
            current: None,
            next: 0,
        })
    }

    /// The next batch of records (never empty), `None` once the log is read to its end. An
    /// error ends the replay: later calls return an error that says so.
    pub fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match &self.state {
            State::Running => {}
            State::Ended => return Ok(None),
            State::Failed(e) => {
                return Err(Error::Io(std::io::Error::other(format!(
                    "the replay already failed: {e}"
                ))))
            }
        }
        let msg = match &self.rx {
            Some(rx) => rx.recv().ok(),
            None => None,
        };
        match msg {
            Some(Msg::Batch(b)) => Ok(Some(b)),
            Some(Msg::End) => {
                self.state = State::Ended;
                self.finish();
                Ok(None)
            }
            Some(Msg::Failed(e)) => {
                self.state = State::Failed(e.to_string());
                self.finish();
                Err(e)
            }
            None => {
                // The thread is gone without saying why: it panicked.
                let e = Error::Io(std::io::Error::other(
                    "the WAL replay thread stopped without finishing",
                ));
                self.state = State::Failed(e.to_string());
                self.finish();
                Err(e)
            }
        }
    }

    /// The next record and its position, borrowed until the next call; `None` once the log
    /// is read to its end. Errors as [`next_batch`](Self::next_batch).
    pub fn next_record(&mut self) -> Result<Option<(RecordRef<'_>, Position)>> {
        loop {
            if let Some(b) = &self.current {
                if self.next < b.len() {
                    break;
                }
            }
            self.current = None;
            match self.next_batch()? {
                Some(b) => {
                    self.current = Some(b);
                    self.next = 0;
                }
                None => return Ok(None),
            }
        }
        let i = self.next;
        self.next += 1;
        Ok(self.current.as_ref().and_then(|b| b.get(i)))
    }

    /// Stops the thread (it ends at its next hand-over once the channel is gone) and waits.
    fn finish(&mut self) {
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The reader thread: batches of records until the end of the log or an error.
fn read_batches(mut core: ReaderCore, tx: SyncSender<Msg>) {
    let (recycle_tx, recycle_rx) = mpsc::channel::<Buffers>();
    loop {
        let buffers = recycle_rx.try_recv().unwrap_or_default();
        let mut batch = RecordBatch::with_buffers(buffers, recycle_tx.clone());
        let outcome = loop {
            match core.step_ref(true) {
                Ok(StepRef::Record(r, pos)) => {
                    batch.push(r, pos);
                    if batch.full() {
                        break None;
                    }
                }
                Ok(StepRef::End | StepRef::NeedIo) => break Some(Msg::End),
                Err(e) => break Some(Msg::Failed(e)),
            }
        };
        if !batch.is_empty() && tx.send(Msg::Batch(batch)).is_err() {
            return; // the replay was dropped
        }
        if let Some(last) = outcome {
            let _ = tx.send(last);
            return;
        }
    }
}

impl crate::blocking::Wal {
    /// Replays the log from `pos` (`Position::start()`: the oldest record) to its end: the
    /// records a [`read_from`](Self::read_from) reader returns, in batches read ahead on a
    /// thread of their own and without an allocation per record. For recovery: applying a
    /// large log into a memtable.
    pub fn replay_from(&self, pos: Position) -> Result<Replay> {
        Replay::start(self.handle.0.clone(), pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocking::Wal;
    use crate::{Record, WalConfig};
    use common::MemFs;

    fn wal(fs: &MemFs) -> Wal {
        let config = WalConfig {
            dir: "/wal".into(),
            fs: fs.shared(),
            segment_size_bytes: 64 << 10,
            ..Default::default()
        };
        Wal::open(config).expect("open").0
    }

    #[test]
    fn batches_hold_the_records_in_order_and_recycle() {
        let fs = MemFs::new();
        let w = wal(&fs);
        let mut want = Vec::new();
        for i in 0..20_000u32 {
            let r = if i % 7 == 0 {
                Record::delete(i.to_be_bytes())
            } else {
                Record::put(i.to_be_bytes(), vec![i as u8; (i % 50) as usize])
            };
            want.push((r.clone(), w.append_no_wait(&[r]).expect("append")[0]));
        }
        let mut replay = w.replay_from(Position::start()).expect("replay");
        let mut got = Vec::new();
        let mut batches = 0;
        while let Some(b) = replay.next_batch().expect("batch") {
            assert!(!b.is_empty() && b.len() <= BATCH_RECORDS);
            assert_eq!(b.iter().len(), b.len());
            got.extend(b.iter().map(|(r, p)| (r.to_record(), p)));
            batches += 1;
        }
        assert!(batches >= 3, "{batches} batches");
        assert_eq!(got, want);
        assert!(replay.next_batch().expect("still the end").is_none());
        assert!(replay.next_record().expect("still the end").is_none());
    }

    #[test]
    fn a_replay_dropped_early_stops_its_thread() {
        let fs = MemFs::new();
        let w = wal(&fs);
        let big = vec![5u8; 1000];
        for i in 0..5_000u32 {
            w.append_no_wait(&[Record::put(i.to_be_bytes(), &big)])
                .expect("append");
        }
        let mut replay = w.replay_from(Position::start()).expect("replay");
        let (first, pos) = replay.next_record().expect("read").expect("a record");
        assert_eq!(
            (first.key, pos),
            (&0u32.to_be_bytes()[..], Position::new(1, 32))
        );
        drop(replay); // joins the thread, blocked on a full channel
        w.close().expect("close");
    }
}
