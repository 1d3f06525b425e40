//! Use case 3: Job queue: durable consumer positions, resume without loss or duplicates after a
//! restart or a power cut, waiting without polling, retention.

mod support;

use common::{FileSystem, MemFs};
use examples::job_queue::{consume, run, JobQueue};
use examples::setup::segment_count;
use std::path::Path;
use wal::FsyncPolicy;

const DIR: &str = "/q";

async fn open(fs: &MemFs) -> JobQueue {
    JobQueue::open(fs.shared(), Path::new(DIR), FsyncPolicy::Always, 4096)
        .await
        .unwrap()
}

async fn publish(q: &JobQueue, n: u64) {
    for i in 0..n {
        q.publish(&format!("job {i} {}", ".".repeat(100)))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn consumers_resume_from_their_committed_position_after_a_power_cut() {
    let fs = MemFs::new();
    let q = open(&fs).await;
    publish(&q, 20).await;
    let mut a = q.consumer("a").await.unwrap();
    let mut b = q.consumer("b").await.unwrap();
    consume(&mut a, 7, 5).await.unwrap(); // commits after 5 and 7
    consume(&mut b, 5, 5).await.unwrap();
    b.next_job().await.unwrap().unwrap(); // processed, not committed: redone after the cut
    b.next_job().await.unwrap().unwrap();
    assert_eq!(b.working().done, 7);

    let crashed = fs.crash();
    let q = open(&crashed).await;
    let mut a = q.consumer("a").await.unwrap();
    let mut b = q.consumer("b").await.unwrap();
    assert_eq!(a.committed().last_job, Some(6));
    assert_eq!(b.committed().last_job, Some(4));
    assert_eq!(
        b.next_job().await.unwrap().unwrap().id,
        5,
        "b redoes its uncommitted work"
    );
    publish(&q, 5).await;
    consume(&mut a, 18, 4).await.unwrap();
    consume(&mut b, 19, 4).await.unwrap();
    let sum: u64 = (0..25).sum();
    for c in [a.committed(), b.committed()] {
        assert_eq!(
            (c.done, c.last_job, c.id_sum),
            (25, Some(24), sum),
            "each job exactly once"
        );
    }
}

#[tokio::test]
async fn a_waiting_consumer_is_woken_by_a_publish_and_ends_when_the_queue_closes() {
    let fs = MemFs::new();
    let q = open(&fs).await;
    let mut c = q.consumer("c").await.unwrap();
    let waiter = tokio::spawn(async move {
        let mut ids = Vec::new();
        while let Some(job) = c.next_job().await.unwrap() {
            ids.push(job.id);
        }
        ids
    });
    tokio::task::yield_now().await;
    let producer = q.clone();
    tokio::spawn(async move { publish(&producer, 3).await })
        .await
        .unwrap();
    publish(&q, 2).await;
    q.close().await.unwrap();
    assert_eq!(waiter.await.unwrap(), vec![0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn concurrent_producers_get_ids_in_log_order() {
    let fs = MemFs::new();
    let q = open(&fs).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { publish(&q, 25).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let mut c = q.consumer("c").await.unwrap();
    consume(&mut c, 100, 100).await.unwrap(); // errors on any id out of sequence
    assert_eq!(c.committed().id_sum, (0..100).sum::<u64>());
    let q = open(&fs.crash()).await;
    assert_eq!(
        q.publish("next").await.unwrap().id,
        100,
        "ids continue after a restart"
    );
}

#[tokio::test]
async fn retention_deletes_only_segments_every_consumer_has_passed() {
    let fs = MemFs::new();
    let q = open(&fs).await;
    publish(&q, 120).await;
    let wal_dir = Path::new(DIR).join("jobs");
    let before = segment_count(&fs, &wal_dir).unwrap();
    assert!(before >= 4, "{before} segments");
    let mut fast = q.consumer("fast").await.unwrap();
    let mut slow = q.consumer("slow").await.unwrap();
    consume(&mut fast, 120, 120).await.unwrap();
    assert_eq!(
        q.retain().await.unwrap().segments_deleted,
        0,
        "slow has passed nothing yet"
    );
    consume(&mut slow, 70, 70).await.unwrap();
    let kept = q.retain().await.unwrap();
    assert_eq!(kept.oldest_needed, slow.committed().next);
    assert_eq!(
        kept.segments_deleted as u64,
        kept.oldest_needed.segment_id() - 1
    );
    assert!(kept.segments_deleted >= 1);
    assert_eq!(
        segment_count(&fs, &wal_dir).unwrap(),
        before - kept.segments_deleted
    );
    // Both still read everything they have not done, also after a power cut.
    let crashed = fs.crash();
    let q = open(&crashed).await;
    let mut slow = q.consumer("slow").await.unwrap();
    consume(&mut slow, 50, 50).await.unwrap();
    assert_eq!(slow.committed().id_sum, (0..120).sum::<u64>());
    // A consumer that registers now starts at the oldest job kept.
    let mut late = q.consumer("late").await.unwrap();
    let first = late.next_job().await.unwrap().unwrap();
    assert!(first.id > 0 && first.id <= 70, "starts at {}", first.id);
    assert!(crashed.exists(&Path::new(DIR).join("offsets").join("late")));
}

#[tokio::test]
async fn the_program_logic() {
    let fs = MemFs::new();
    let s = run(fs.shared(), Path::new("/prog"), &mut Vec::new())
        .await
        .unwrap();
    let sum: u64 = (0..70).sum();
    assert_eq!(s.published, 70);
    assert_eq!((s.billing.done, s.billing.id_sum), (70, sum));
    assert_eq!((s.email.done, s.email.id_sum), (70, sum));
    assert!(s.retained.segments_deleted >= 1);
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_job_queue"), &[dir.path()]);
    assert_eq!(
        support::line(&out, "billing processed"),
        "billing processed and committed 60 jobs, email 40"
    );
    let retention = support::line(&out, "retention:");
    assert!(!retention.contains("deleted 0 of"), "{retention}");
    assert_eq!(
        support::line(&out, "billing resumes"),
        "billing resumes after job Some(59), email after job Some(39)"
    );
    assert_eq!(
        support::line(&out, "70 jobs published"),
        "70 jobs published; billing did 70 (id sum 2415), email did 70 (id sum 2415): each job exactly once"
    );
}
