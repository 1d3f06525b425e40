//! The Raft log on `wal` across power cuts (MemFs keeps only synced bytes): votes, entries
//! whose callbacks fired, truncations and purges all come back in order.

use common::FileSystem;
use common::MemFs;
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogReader, RaftLogStorage};
use openraft::type_config::TypeConfigExt;
use openraft::vote::RaftLeaderIdExt;
use replication::{Entry, LogId, TypeConfig, Vote, WalLogStore};
use std::path::Path;

type LeaderId = <TypeConfig as openraft::RaftTypeConfig>::LeaderId;

fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(LeaderId::new_committed(term, 1), index)
}

fn blank(term: u64, index: u64) -> Entry {
    Entry::new_blank(log_id(term, index))
}

async fn open(fs: &MemFs) -> WalLogStore {
    // Tiny segments so purges really delete files.
    WalLogStore::open(Path::new("/n/raft-log"), fs.shared(), 4096)
        .await
        .unwrap()
}

async fn append(log: &mut WalLogStore, entries: Vec<Entry>) {
    let (tx, rx) = TypeConfig::oneshot();
    log.append(entries, IOFlushed::signal(tx)).await.unwrap();
    rx.await.unwrap().unwrap(); // the callback fired: the entries are durable
}

async fn indexes(log: &mut WalLogStore) -> Vec<u64> {
    log.try_get_log_entries(0..u64::MAX)
        .await
        .unwrap()
        .iter()
        .map(|e| e.index())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_entries_truncations_and_purges_survive_a_power_cut() {
    let fs = MemFs::new();
    let mut log = open(&fs).await;
    let vote = Vote::new(3, 1);
    log.save_vote(&vote).await.unwrap();
    append(&mut log, (1..=40).map(|i| blank(1, i)).collect()).await;
    // A conflict: entries after 30 are replaced by term-2 entries.
    log.truncate_after(Some(log_id(1, 30))).await.unwrap();
    append(&mut log, (31..=60).map(|i| blank(2, i)).collect()).await;
    log.purge(log_id(1, 20)).await.unwrap();
    let vote2 = Vote::new(4, 2);
    log.save_vote(&vote2).await.unwrap();

    let fs = fs.crash();
    let mut log = open(&fs).await;
    assert_eq!(log.read_vote().await.unwrap(), Some(vote2));
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 20)));
    assert_eq!(state.last_log_id, Some(log_id(2, 60)));
    assert_eq!(indexes(&mut log).await, (21..=60).collect::<Vec<_>>());
    let e = log.try_get_log_entries(31..32).await.unwrap();
    assert_eq!(e[0].log_id(), log_id(2, 31), "a truncated entry came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_past_the_last_entry_leaves_the_right_log_state_after_a_restart() {
    let fs = MemFs::new();
    let mut log = open(&fs).await;
    log.save_vote(&Vote::new(1, 1)).await.unwrap();
    for start in (1..=200).step_by(10) {
        append(&mut log, (start..start + 10).map(|i| blank(1, i)).collect()).await;
    }
    let files = |fs: &MemFs| fs.list_dir(Path::new("/n/raft-log")).unwrap().len();
    let before_purge = files(&fs);
    log.purge(log_id(1, 250)).await.unwrap(); // a snapshot installed beyond our log
    let after_purge = files(&fs);
    assert!(
        before_purge >= 5,
        "the test needs several segments, has {before_purge} files"
    );
    // The purge marker lands in the active segment, so that segment stays. The WAL's sync
    // thread rotates a full segment in the background, and it may do so just after the
    // marker was written: then the marker's segment and a fresh active one both remain.
    assert!(
        (2..=3).contains(&after_purge),
        "purge must leave only LOCK, the marker's segment and maybe a fresh active one; \
         {after_purge} files remain of {before_purge}"
    );

    let fs = fs.crash();
    let mut log = open(&fs).await;
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 250)));
    assert_eq!(state.last_log_id, Some(log_id(1, 250)));
    assert!(indexes(&mut log).await.is_empty());
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new(1, 1)),
        "the vote went with a purged segment"
    );
    append(&mut log, vec![blank(1, 251)]).await;
    assert_eq!(indexes(&mut log).await, vec![251]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_readable_as_soon_as_append_returns() {
    let fs = MemFs::new();
    let mut log = open(&fs).await;
    log.append(vec![blank(1, 1), blank(1, 2)], IOFlushed::noop())
        .await
        .unwrap();
    assert_eq!(indexes(&mut log).await, vec![1, 2]);
}
