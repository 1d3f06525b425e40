//! The write path: sequence numbers, WAL, memtable, freezing a full memtable, backpressure.
//!
//! ```text
//! write(ops):  lock writer
//!                wait while a flush runs and the memtables  (memtable_memory_limit_bytes;
//!                  hold the memory limit                     0 = no limit)
//!                if memtable full: freeze it (see below)    (full: memtable_size_bytes, or
//!                                                            less under a memory limit:
//!                                                            freeze_point.rs)
//!                seqs = next_seq .. next_seq + n            (one per record, no gaps)
//!                wal.append_for_wait(records)               (one atomic batch, in seq order)
//!                mem = the active memtable; seqs given out  (inserted.rs)
//!              unlock writer
//!              wal.wait_durable_with(last position,         (writers share fsyncs)
//!                mem.insert(each record at its seq)         (concurrent with other writers,
//!                seqs marked inserted)                        during the fsync: see below)
//!              wait until every seq <= last is inserted     (at once, but for a rare straggler)
//!              visible_seq.fetch_max(last seq)              (publish)
//! freeze:      wait while max_immutable_memtables are queued (backpressure; memory bounded)
//!              wait until every seq given out is inserted   (the old memtable is then complete)
//!              mark = wal.rotate()                          (the next memtable starts a segment)
//!              new active memtable; the old one joins the read state's immutables
//!              queue (old, mark, last seq) for the flush thread
//! ```
//!
//! The memory limit bounds what the next memtable may gather while the last one flushes:
//! without it, in `fillrandom` on 2 cores, the next memtable grew by about 31 MiB during a
//! 0.3 s flush of a 64 MiB one (peak RSS ~118 MiB; ~93 MiB with a limit of 80 MiB, which cost
//! about 12% of that run's puts/s). The wait comes before anything is appended and holds the
//! writer lock, as the wait for a full flush queue does; only the flush thread ends it, and it
//! never takes the writer lock.
//!
//! A memtable is frozen by the first write that finds it full, before that write appends: the
//! write's own insert, which runs after the lock, then goes to the new memtable, and the
//! freeze only waits for inserts other writers have already started.
//!
//! The insert runs inside the WAL's wait (`wal::blocking::Wal::wait_durable_with`): under
//! `Always`, once this write counts for the next group commit round and, unless it leads
//! that round, after one yield of the CPU, so that the round's other writers append first and
//! the inserts run during its fdatasync (fillsync16 105.7k -> 125.3k writes/s, medians of 10
//! interleaved runs). Under `Os` and `Batch` it runs before the wait.
//!
//! A batch of several records goes into the memtable sorted by key, each still at the
//! sequence number of its place in the batch (so the batch's last write to a key wins):
//! consecutive searches in key order share the skip list's upper path, which is then in
//! the CPU cache. A 100-put batch of random keys: fillbatch 403k -> 423k puts/s (medians of
//! four interleaved runs).
//!
//! Publishing `visible_seq = last seq` is correct although writers finish out of order: the
//! WAL is durable as a prefix (every record with a smaller sequence number was appended
//! before this one, under the writer lock), and the insert watermark covers `last seq` (every
//! smaller one is in a memtable), so everything up to `last seq` is durable and readable.

use crate::engine::{lock, Counters, Engine, FlushQueue, Frozen, Writer};
use crate::error::{Error, Result};
use common::{SeqNo, ValueKind};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use wal::AsRecord;

/// One operation of a write: a WAL record (a put, or a delete with `tombstone` set), built once
/// by the caller, appended to the WAL and inserted into the memtable without another copy.
pub(crate) type WriteOp = wal::Record;

impl Engine {
    /// Writes `ops` atomically (one WAL batch, consecutive sequence numbers) and returns once
    /// they are durable per the fsync policy and visible to reads.
    /// `ops` are owned records ([`WriteOp`], a batch's) or borrowed ones (`wal::RecordRef`,
    /// a single put's or delete's: no copy of the key and value before the WAL's buffer).
    pub fn write(&self, ops: &[impl AsRecord]) -> Result<()> {
        if ops.is_empty() {
            return Ok(());
        }
        for op in ops {
            let size = op.as_record().size_bytes();
            if size > self.opts.max_value_bytes {
                return Err(Error::TooLarge {
                    size,
                    max: self.opts.max_value_bytes,
                });
            }
        }
        // Flow control before anything is appended (see flow.rs).
        self.throttle()?;
        let (last_pos, first, mem, inserting) = {
            let mut w = lock(&self.writer);
            self.check_poison()?;
            self.limit_memtable_memory(&w)?;
            if w.active.approximate_size_bytes() >= self.freeze_at() {
                self.note_write_pace(&w);
                self.freeze(&mut w)?;
            }
            let mut last_pos = None;
            self.wal
                .append_for_wait_with(ops, |p| last_pos = Some(p))
                .map_err(|e| self.poison(e.into()))?;
            let first = w.next_seq;
            w.next_seq = first + ops.len() as SeqNo;
            let last_pos = last_pos.expect("one position per record");
            let inserting = self.inserted.begin(first, w.next_seq);
            (last_pos, first, w.active.clone(), inserting)
        };
        let last_seq = first + ops.len() as SeqNo - 1;
        let insert = || {
            let entry = |i: usize| {
                let r = ops[i].as_record();
                let kind = if r.tombstone {
                    ValueKind::Delete
                } else {
                    ValueKind::Put
                };
                (r.key, first + i as SeqNo, kind, r.value)
            };
            if ops.len() == 1 {
                let (k, seq, kind, v) = entry(0);
                mem.insert(k, seq, kind, v);
            } else {
                let mut order: Vec<usize> = (0..ops.len()).collect();
                order.sort_unstable_by(|&a, &b| ops[a].as_record().key.cmp(ops[b].as_record().key));
                mem.insert_batch(order.into_iter().map(entry));
            }
            drop(inserting);
        };
        self.wal
            .wait_durable_with(last_pos, insert)
            .map_err(|e| self.poison(e.into()))?;
        self.inserted.wait_covers(last_seq);
        self.visible_seq.fetch_max(last_seq, Ordering::SeqCst);
        let c = &self.counters;
        for op in ops {
            let r = op.as_record();
            if r.tombstone {
                Counters::add(&c.deletes, 1);
            } else {
                Counters::add(&c.puts, 1);
            }
            Counters::add(&c.user_bytes_written, r.size_bytes());
        }
        if ops.len() > 1 {
            Counters::add(&c.batches, 1);
        }
        Ok(())
    }

    /// Waits while a flush runs and the memtables hold `memtable_memory_limit_bytes` or more
    /// (see the module doc). Called under the writer lock, before anything is appended.
    fn limit_memtable_memory(&self, w: &Writer) -> Result<()> {
        let limit = self.opts.memtable_memory_limit_bytes;
        if limit == 0 {
            return Ok(());
        }
        let over = || {
            let frozen = self.frozen_bytes.load(Ordering::Acquire);
            frozen > 0 && frozen + w.active.approximate_size_bytes() >= limit
        };
        if !over() {
            return Ok(());
        }
        Counters::add(&self.counters.memory_stalls, 1);
        let start = std::time::Instant::now();
        let mut q = lock(&self.flush);
        while over() {
            self.check_poison()?;
            if q.shutdown {
                return Err(Error::Closed);
            }
            q = self.flush_cv.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        Counters::add(
            &self.counters.memory_stall_micros,
            start.elapsed().as_micros() as u64,
        );
        Ok(())
    }

    /// Queues a frozen memtable for the flush thread (under the queue's lock) and counts its
    /// bytes in `frozen_bytes` until the flush thread is done with it.
    pub(crate) fn queue_frozen(&self, q: &mut FlushQueue, frozen: Arc<Frozen>) {
        self.frozen_bytes
            .fetch_add(frozen.mem.approximate_size_bytes(), Ordering::Release);
        q.pending.push_back(frozen);
        q.frozen_total += 1;
    }

    /// The flush thread's half of [`Engine::queue_frozen`]: takes the oldest frozen memtable,
    /// now flushed, off the queue (under the queue's lock) and stops counting its bytes. Its
    /// size is the one `queue_frozen` added: a frozen memtable takes no more inserts (the
    /// freeze waited for those in flight, and later ones go to the new active memtable).
    pub(crate) fn dequeue_flushed(&self, q: &mut FlushQueue) {
        if let Some(done) = q.pending.pop_front() {
            self.frozen_bytes
                .fetch_sub(done.mem.approximate_size_bytes(), Ordering::Release);
            q.flushed_total += 1;
        }
    }

    /// Freezes the active memtable (if it holds anything) and queues it for the flush thread.
    /// Waits while the queue is full. Returns how many memtables were ever frozen, which
    /// `Db::flush` waits for.
    pub fn freeze(&self, w: &mut Writer) -> Result<u64> {
        let mut q = lock(&self.flush);
        if w.active.is_empty() {
            return Ok(q.frozen_total);
        }
        let mut stalled = false;
        while q.pending.len() >= self.opts.max_immutable_memtables {
            self.check_poison()?;
            if q.shutdown {
                return Err(Error::Closed);
            }
            if !stalled {
                Counters::add(&self.counters.write_stalls, 1);
                stalled = true;
            }
            q = self.flush_cv.wait(q).unwrap_or_else(|p| p.into_inner());
        }
        self.check_poison()?;
        // Inserts other writers started into `w.active` (none of this thread's: see the
        // module doc) land before it is queued, sized and flushed.
        self.inserted.wait_covers(w.next_seq - 1);
        let mark = match self.wal.rotate() {
            Ok(mark) => mark,
            Err(e) => {
                drop(q); // poison() takes the queue's lock to wake its waiters
                return Err(self.poison(e.into()));
            }
        };
        let fresh = self.new_memtable();
        let old = std::mem::replace(&mut w.active, fresh.clone());
        w.active_since = self.active_since_now();
        let frozen = Arc::new(Frozen {
            mem: old.clone(),
            mark,
            last_seq: w.next_seq - 1,
        });
        self.update_read_state(|rs| crate::engine::ReadState {
            active: fresh,
            immutables: std::iter::once(old)
                .chain(rs.immutables.iter().cloned())
                .collect(),
            version: rs.version.clone(),
        });
        self.queue_frozen(&mut q, frozen);
        self.flush_cv.notify_all();
        Ok(q.frozen_total)
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::lock;
    use crate::Db;
    use common::{MemFs, ValueKind};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// A freeze (here `Db::flush`'s) waits for an insert another writer started into the
    /// memtable it freezes, so the table flushed from it holds that write.
    #[test]
    fn a_freeze_waits_for_an_insert_in_flight() {
        let fs = MemFs::new();
        let db = Db::builder("/db").fs(fs.shared()).open().unwrap();
        db.put(b"a", b"1").unwrap();
        let engine = db.engine().clone();
        // A writer past the writer lock, before its insert, as in `Engine::write`.
        let (seq, mem, inserting) = {
            let mut w = lock(&engine.writer);
            let seq = w.next_seq;
            w.next_seq += 1;
            (seq, w.active.clone(), engine.inserted.begin(seq, seq + 1))
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let flusher = {
            let db = db.clone();
            std::thread::spawn(move || tx.send(db.flush()).unwrap())
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            rx.try_recv().is_err(),
            "the freeze did not wait for the insert"
        );
        mem.insert(b"late", seq, ValueKind::Put, b"2");
        drop(inserting);
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the flush ends once the insert is in")
            .unwrap();
        flusher.join().unwrap();
        engine.visible_seq.fetch_max(seq, Ordering::SeqCst);
        assert_eq!(db.stats().flushes, 1);
        assert_eq!(db.get(b"late").unwrap(), Some(b"2".to_vec()));
        assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    }
}
