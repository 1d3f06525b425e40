//! Use case 3: Job queue: producers append; independent consumers keep durable committed positions,
//! resume after a restart without loss or duplicates, wait for new jobs without polling; and
//! retention deletes the segments every consumer has passed.
//!
//! **When:** work must not be lost between the part of a system that creates it and the parts
//! that do it, each consumer goes at its own pace, and jobs are consumed in order (a Kafka-like
//! log, not a priority queue). Reading is sequential, which is what a log is good at.
//!
//! **FsyncPolicy:** `Always`: `publish` returning means the job will be done even after a power
//! cut; concurrent producers share each fdatasync. (Producers that can re-send on restart may
//! use `Batch`.)
//!
//! A consumer's checkpoint is a small file (`offsets/<name>`, replaced by write-temp, fsync,
//! rename, fsync-dir; see [`crate::durable_file`]) holding the position of its next job *and the
//! result of its work so far*. Committing both in one atomic write is what makes the effect
//! exactly-once: after a crash the consumer resumes at the committed position with the
//! committed result, and redoes only uncommitted work. (Work with outside side effects must
//! instead be idempotent by job id: delivery itself is at-least-once.) A consumer that
//! registers after retention starts at the oldest job still kept.
//!
//! `open` reads the retained log once to find the next job id; a queue with long retention
//! would store that id in a checkpoint of its own, or read only the last segment.

use crate::durable_file::{read_json, write_json};
use crate::error::{Error, Result};
use crate::setup::wal_config;
use common::FileSystem;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use wal::{FsyncPolicy, Position, Record, Wal};

/// One job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Assigned by the queue, 0, 1, 2, ... in log order.
    pub id: u64,
    /// What to do.
    pub payload: String,
}

/// A consumer's committed state: where it resumes and what it has done.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The position of the next job to process.
    pub next: Position,
    /// Jobs processed.
    pub done: u64,
    /// The id of the last job processed.
    pub last_job: Option<u64>,
    /// The sum of the processed ids, wrapping (the "work result" of this example).
    pub id_sum: u64,
}

/// What `retain` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retained {
    /// The smallest committed position of all consumers.
    pub oldest_needed: Position,
    /// Segments deleted.
    pub segments_deleted: usize,
}

/// The queue: one log, a directory of consumer checkpoints.
#[derive(Debug, Clone)]
pub struct JobQueue {
    fs: Arc<dyn FileSystem>,
    wal: Wal,
    wal_dir: PathBuf,
    offsets_dir: PathBuf,
    next_id: Arc<Mutex<u64>>,
}

fn lock(m: &Mutex<u64>) -> std::sync::MutexGuard<'_, u64> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn decode(wal_dir: &Path, record: &Record, at: Position) -> Result<Job> {
    serde_json::from_slice(&record.value).map_err(|e| Error::bad_record(wal_dir, at, e))
}

impl JobQueue {
    /// Opens the queue in `dir` (the next job id follows the last job in the log).
    pub async fn open(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        fsync_policy: FsyncPolicy,
        segment_size_bytes: u64,
    ) -> Result<JobQueue> {
        let wal_dir = dir.join("jobs");
        let offsets_dir = dir.join("offsets");
        fs.create_dir_all(&offsets_dir)?;
        fs.sync_dir(dir)?;
        let (wal, _) =
            Wal::open(wal_config(&fs, &wal_dir, fsync_policy, segment_size_bytes)).await?;
        let mut next_id = 0;
        let mut reader = wal.read_from(Position::start()).await?;
        while let Some((record, at)) = reader.next_record().await? {
            let id = decode(&wal_dir, &record, at)?.id;
            next_id = id
                .checked_add(1)
                .ok_or_else(|| Error::bad_record(&wal_dir, at, "job id overflows"))?;
        }
        Ok(JobQueue {
            fs,
            wal,
            wal_dir,
            offsets_dir,
            next_id: Arc::new(Mutex::new(next_id)),
        })
    }

    /// Appends a job; returns it once it is durable as the policy says. Ids follow log order:
    /// the id is taken and the record appended under one short lock (`append_no_wait`), and the
    /// fsync is awaited outside it, shared with concurrent producers.
    pub async fn publish(&self, payload: &str) -> Result<Job> {
        let (job, pos) = {
            let mut next = lock(&self.next_id);
            let job = Job {
                id: *next,
                payload: payload.to_string(),
            };
            let value = serde_json::to_vec(&job).map_err(|e| Error::Invalid(e.to_string()))?;
            let pos = self.wal.append_no_wait(&[Record::put(b"job", value)])?[0];
            *next += 1;
            (job, pos)
        };
        self.wal.wait_durable(pos).await?;
        Ok(job)
    }

    /// The consumer `name`, resuming from its committed checkpoint (registered, at the oldest
    /// job, if new).
    pub async fn consumer(&self, name: &str) -> Result<Consumer> {
        if name.is_empty() || name.contains(['/', '.']) {
            return Err(Error::Invalid(format!("consumer name {name:?}")));
        }
        let path = self.offsets_dir.join(name);
        let committed = match read_json::<Checkpoint>(&*self.fs, &path)? {
            Some(c) => c,
            None => {
                let c = Checkpoint::default();
                write_json(&*self.fs, &path, &c)?;
                c
            }
        };
        let reader = self.wal.read_from(committed.next).await?;
        Ok(Consumer {
            fs: self.fs.clone(),
            path,
            wal_dir: self.wal_dir.clone(),
            reader,
            working: committed.clone(),
            committed,
        })
    }

    /// Deletes the log segments that every registered consumer has passed.
    pub async fn retain(&self) -> Result<Retained> {
        let mut oldest: Option<Position> = None;
        for name in self.fs.list_dir(&self.offsets_dir)? {
            if name.ends_with(".tmp") {
                continue;
            }
            let path = self.offsets_dir.join(&name);
            if let Some(c) = read_json::<Checkpoint>(&*self.fs, &path)? {
                oldest = Some(oldest.map_or(c.next, |o| o.min(c.next)));
            }
        }
        let Some(oldest_needed) = oldest else {
            return Ok(Retained {
                oldest_needed: Position::start(),
                segments_deleted: 0,
            });
        };
        let segments_deleted = self.wal.delete_segments_before(oldest_needed).await?;
        Ok(Retained {
            oldest_needed,
            segments_deleted,
        })
    }

    /// The log's directory.
    pub fn wal_dir(&self) -> &Path {
        &self.wal_dir
    }

    /// Closes the log: waiting consumers get `None`.
    pub async fn close(&self) -> Result<()> {
        Ok(self.wal.close().await?)
    }
}

/// One consumer: a reader and a checkpoint.
#[derive(Debug)]
pub struct Consumer {
    fs: Arc<dyn FileSystem>,
    path: PathBuf,
    wal_dir: PathBuf,
    reader: wal::Reader,
    working: Checkpoint,
    committed: Checkpoint,
}

impl Consumer {
    /// The next job, waiting (no polling: the reader is woken by the append) if there is none
    /// yet; `None` once the queue is closed and drained. The job counts as processed in the
    /// working state; [`commit`](Consumer::commit) makes that durable. A job id that repeats or
    /// skips one is an error: the queue promises neither happens.
    pub async fn next_job(&mut self) -> Result<Option<Job>> {
        let Some((record, at)) = self.reader.wait_next().await? else {
            return Ok(None);
        };
        let job = decode(&self.wal_dir, &record, at)?;
        if let Some(last) = self.working.last_job {
            if last.checked_add(1) != Some(job.id) {
                return Err(Error::Invalid(format!(
                    "consumer {} got job {} after job {last}: a duplicate or a lost job",
                    self.path.display(),
                    job.id
                )));
            }
        }
        self.working.next = self.reader.position();
        self.working.done += 1;
        self.working.last_job = Some(job.id);
        self.working.id_sum = self.working.id_sum.wrapping_add(job.id);
        Ok(Some(job))
    }

    /// Makes the working state durable: after a crash the consumer resumes from here.
    pub fn commit(&mut self) -> Result<()> {
        write_json(&*self.fs, &self.path, &self.working)?;
        self.committed = self.working.clone();
        Ok(())
    }

    /// The state including uncommitted work.
    pub fn working(&self) -> &Checkpoint {
        &self.working
    }

    /// The last committed state.
    pub fn committed(&self) -> &Checkpoint {
        &self.committed
    }
}

/// What the program observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Jobs published in all.
    pub published: u64,
    /// Retention before the restart.
    pub retained: Retained,
    /// The consumers' final committed states, (billing, email).
    pub billing: Checkpoint,
    /// See `billing`.
    pub email: Checkpoint,
}

/// Consumes `n` jobs, committing every `every`.
pub async fn consume(consumer: &mut Consumer, n: u64, every: u64) -> Result<()> {
    for i in 1..=n {
        if consumer.next_job().await?.is_none() {
            return Err(Error::Invalid("the queue closed early".into()));
        }
        if i % every == 0 || i == n {
            consumer.commit()?;
        }
    }
    Ok(())
}

/// The program: two producers, two consumers at different paces, retention, a restart.
pub async fn run(
    fs: Arc<dyn FileSystem>,
    dir: &Path,
    out: &mut dyn std::io::Write,
) -> Result<Summary> {
    writeln!(
        out,
        "job_queue in {} (FsyncPolicy::Always, 4 KiB segments)",
        dir.display()
    )?;
    let open = || JobQueue::open(fs.clone(), dir, FsyncPolicy::Always, 4096);
    let queue = open().await?;
    // The email consumer starts first and waits on the empty log: it is woken by the appends.
    let mut email = queue.consumer("email").await?;
    let waiting = tokio::spawn(async move {
        consume(&mut email, 40, 5).await?;
        Ok::<_, Error>(email)
    });
    writeln!(out, "email consumer waiting for jobs (no polling)")?;
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = queue.clone();
            tokio::spawn(async move {
                for i in 0..30 {
                    q.publish(&format!("producer {p} job {i}: {}", "-".repeat(100)))
                        .await?;
                }
                Ok::<_, Error>(())
            })
        })
        .collect();
    for p in producers {
        p.await.map_err(|e| Error::Invalid(e.to_string()))??;
    }
    writeln!(out, "2 producers published 60 jobs")?;
    let mut billing = queue.consumer("billing").await?;
    consume(&mut billing, 60, 20).await?;
    let email = waiting.await.map_err(|e| Error::Invalid(e.to_string()))??;
    writeln!(
        out,
        "billing processed and committed {} jobs, email {}",
        billing.committed().done,
        email.committed().done
    )?;
    let before = crate::setup::segment_count(&*fs, queue.wal_dir())?;
    let retained = queue.retain().await?;
    writeln!(
        out,
        "retention: both consumers are past {}; deleted {} of {before} segments",
        retained.oldest_needed, retained.segments_deleted
    )?;
    drop((billing, email));
    queue.close().await?;

    writeln!(out, "restart")?;
    let queue = open().await?;
    let mut billing = queue.consumer("billing").await?;
    let mut email = queue.consumer("email").await?;
    writeln!(
        out,
        "billing resumes after job {:?}, email after job {:?}",
        billing.committed().last_job,
        email.committed().last_job
    )?;
    for i in 0..10 {
        queue.publish(&format!("after restart {i}")).await?;
    }
    consume(&mut billing, 10, 10).await?;
    consume(&mut email, 30, 15).await?;
    let (b, e) = (billing.committed().clone(), email.committed().clone());
    writeln!(
        out,
        "70 jobs published; billing did {} (id sum {}), email did {} (id sum {}): each job exactly once",
        b.done, b.id_sum, e.done, e.id_sum
    )?;
    queue.close().await?;
    Ok(Summary {
        published: 70,
        retained,
        billing: b,
        email: e,
    })
}
