//! Item 6: what each `FsyncPolicy` keeps across a power cut (`MemFs::crash` keeps only synced
//! bytes), on the same workload of 50 appends.
//!
//! - `Always`: everything acknowledged.
//! - `Batch(10ms)`: right after the appends, at least everything below the durable mark (a
//!   prefix); after waiting the window, everything.
//! - `Os`: exactly what was synced (by `sync()`, rotation or close), nothing else.

use common::MemFs;
use examples::session_store::surviving_prefix;
use examples::setup::{read_log, wal_config};
use std::path::Path;
use std::time::Duration;
use wal::{FsyncPolicy, Position, Record, Wal};

const DIR: &str = "/log";

async fn append_n(wal: &Wal, from: u32, n: u32) -> Vec<(Record, Position)> {
    let mut out = Vec::new();
    for i in from..from + n {
        let r = Record::put(format!("k{i:03}"), format!("value {i}"));
        let at = wal.append(&r).await.unwrap();
        out.push((r, at));
    }
    out
}

async fn open(fs: &MemFs, policy: FsyncPolicy) -> Wal {
    Wal::open(wal_config(&fs.shared(), Path::new(DIR), policy, 1 << 20))
        .await
        .unwrap()
        .0
}

fn survivors(fs: &MemFs) -> Vec<(Record, Position)> {
    read_log(&fs.crash().shared(), Path::new(DIR)).unwrap()
}

#[tokio::test]
async fn always_keeps_everything_acknowledged() {
    let fs = MemFs::new();
    let wal = open(&fs, FsyncPolicy::Always).await;
    let written = append_n(&wal, 0, 50).await;
    assert_eq!(survivors(&fs), written);
    // Also with concurrent appenders sharing fsyncs: each acknowledged record is there.
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let w = wal.clone();
            tokio::spawn(async move { append_n(&w, 100 + t * 10, 10).await })
        })
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }
    let kept = survivors(&fs);
    assert!(acked.iter().all(|r| kept.contains(r)));
    assert_eq!(kept.len(), 90);
}

#[tokio::test]
async fn batch_keeps_what_is_below_the_durable_mark_and_everything_after_the_window() {
    let window = Duration::from_millis(10);
    let fs = MemFs::new();
    let wal = open(&fs, FsyncPolicy::Batch(window)).await;
    let written = append_n(&wal, 0, 50).await;
    let durable = wal.durable_position();
    let kept = survivors(&fs);
    let n = surviving_prefix(&written, &kept).unwrap();
    let below = written.iter().filter(|(_, at)| *at < durable).count();
    assert!(n >= below, "{n} survived, {below} were durable");
    // Wait out the window (the background thread's fsync; nothing here forces it).
    let end = wal.current_position();
    tokio::time::sleep(window).await;
    let started = std::time::Instant::now();
    while wal.durable_position() < end {
        // Not a timing assertion: a generous bound so that a broken Batch thread fails the
        // test instead of hanging it.
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the Batch fsync never came"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(survivors(&fs), written);
}

#[tokio::test]
async fn os_keeps_exactly_what_was_synced() {
    let fs = MemFs::new();
    let wal = open(&fs, FsyncPolicy::Os).await;
    let mut written = append_n(&wal, 0, 30).await;
    assert_eq!(survivors(&fs), vec![], "nothing synced yet");
    wal.sync().await.unwrap();
    let synced = written.clone();
    written.extend(append_n(&wal, 30, 20).await);
    // The 20 reached the OS (readable) but not the disk.
    let mut reader = wal.read_from(Position::start()).await.unwrap();
    let mut readable = 0;
    while reader.next_record().await.unwrap().is_some() {
        readable += 1;
    }
    assert_eq!(readable, 50);
    assert_eq!(survivors(&fs), synced);
    // Rotation and close are sync points too.
    wal.rotate().await.unwrap();
    assert_eq!(survivors(&fs), written);
    let more = append_n(&wal, 50, 5).await;
    wal.close().await.unwrap();
    written.extend(more);
    assert_eq!(survivors(&fs), written);
}
