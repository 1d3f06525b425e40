//! The state machine on `kvstore`: entries applied atomically with the last-applied log id,
//! snapshots built and installed, and an install interrupted at any rename or directory sync
//! leaving, after a power cut, either the old state or the new one, whole.

use common::{FaultKind, FaultyFs, MemFs, Op};
use futures_util::stream;
use openraft::entry::RaftEntry;
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::vote::RaftLeaderIdExt;
use openraft::Membership;
use replication::{Entry, KvStateMachine, LogId, Request, TypeConfig};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

type LeaderId = <TypeConfig as openraft::RaftTypeConfig>::LeaderId;

fn log_id(index: u64) -> LogId {
    LogId::new(LeaderId::new_committed(1, 1), index)
}

fn put(index: u64, k: &str, v: &str) -> Entry {
    Entry::new_normal(
        log_id(index),
        Request::Put {
            key: k.as_bytes().to_vec(),
            value: v.as_bytes().to_vec(),
        },
    )
}

async fn apply(sm: &mut KvStateMachine, entries: Vec<Entry>) {
    sm.apply(stream::iter(entries.into_iter().map(|e| Ok((e, None)))))
        .await
        .unwrap();
}

fn open(fs: Arc<dyn common::FileSystem>) -> KvStateMachine {
    KvStateMachine::open(Path::new("/n"), fs, 64 << 10).unwrap()
}

type State = (Option<LogId>, Vec<(Vec<u8>, Vec<u8>)>);

async fn state(sm: &mut KvStateMachine) -> State {
    let (applied, _) = sm.applied_state().await.unwrap();
    (applied, sm.scan(b"", None, usize::MAX).unwrap())
}

/// A leader-side snapshot holding a, b, c at log index 12 with a membership.
async fn leader_snapshot() -> replication::Snapshot {
    let fs = MemFs::new();
    let mut sm = open(fs.shared());
    let m = Membership::new_with_defaults(vec![BTreeSet::from([1, 2, 3])], []);
    apply(&mut sm, vec![Entry::new_membership(log_id(9), m)]).await;
    apply(
        &mut sm,
        vec![put(10, "a", "1"), put(11, "b", "2"), put(12, "c", "3")],
    )
    .await;
    let mut builder = sm.get_snapshot_builder().await;
    builder.build_snapshot().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_records_the_last_applied_log_id_in_the_same_batch_and_survives_reopen() {
    let fs = MemFs::new();
    let mut sm = open(fs.shared());
    apply(
        &mut sm,
        vec![
            put(1, "x", "1"),
            put(2, "y", "2"),
            Entry::new_blank(log_id(3)),
        ],
    )
    .await;
    assert_eq!(sm.get(b"x").unwrap(), Some(b"1".to_vec()));
    assert!(matches!(
        sm.get(b"\x00raft/last_applied"),
        Err(replication::Error::ReservedKey)
    ));
    sm.persist().unwrap();
    drop(sm);
    let mut sm = open(fs.crash().shared());
    let (applied, pairs) = state(&mut sm).await;
    assert_eq!(applied, Some(log_id(3)));
    assert_eq!(pairs.len(), 2, "reserved keys are not user data");
    assert_eq!(sm.apply_stats().recovered_last_applied, Some(log_id(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_replaces_the_contents_and_drops_the_previous_snapshot() {
    let snap = leader_snapshot().await;
    let fs = MemFs::new();
    let mut sm = open(fs.shared());
    apply(&mut sm, vec![put(1, "old", "x"), put(2, "a", "stale")]).await;
    sm.install_snapshot(&snap.meta, snap.snapshot.clone())
        .await
        .unwrap();
    let expected: State = (
        Some(log_id(12)),
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec()),
        ],
    );
    assert_eq!(state(&mut sm).await, expected);
    let current = sm.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snap.meta);
    // The old slot's files are gone.
    let old_slot = fs.list_dir_recursive_count(Path::new("/n/sm.0"));
    assert_eq!(old_slot, 0, "the replaced store left {old_slot} files");
    drop(sm);
    let mut sm = open(fs.crash().shared());
    assert_eq!(state(&mut sm).await, expected);
    assert_eq!(
        sm.get_current_snapshot().await.unwrap().unwrap().meta,
        snap.meta
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_install_cut_short_anywhere_leaves_the_old_or_the_new_state_whole() {
    let snap = leader_snapshot().await;
    let new_state: State = (
        Some(log_id(12)),
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
            (b"c".to_vec(), b"3".to_vec()),
        ],
    );
    for op in [Op::Rename, Op::SyncDir, Op::SyncData] {
        let mut skip = 0;
        loop {
            let base = MemFs::new();
            let mut sm = open(base.shared());
            apply(&mut sm, vec![put(1, "old", "x")]).await;
            sm.persist().unwrap();
            let old_state = state(&mut sm).await;
            drop(sm);

            let faulty = FaultyFs::new(base.shared());
            let mut sm = open(faulty.shared());
            let before = faulty.count(op);
            faulty.fail(op, skip, FaultKind::Error);
            let result = sm.install_snapshot(&snap.meta, snap.snapshot.clone()).await;
            let attempted = faulty.count(op) - before;
            faulty.freeze(); // the process dies here
            drop(sm);

            let mut sm = open(base.crash().shared());
            let got = state(&mut sm).await;
            if result.is_ok() {
                assert_eq!(
                    got, new_state,
                    "{op:?} #{skip}: an acknowledged install was lost"
                );
            } else {
                assert!(
                    got == old_state || got == new_state,
                    "{op:?} #{skip}: a mixed state {got:?}"
                );
            }
            if attempted <= skip {
                break; // the install finished before the armed fault
            }
            skip += 1;
        }
    }
}

trait CountFiles {
    fn list_dir_recursive_count(&self, dir: &Path) -> usize;
}

impl CountFiles for MemFs {
    fn list_dir_recursive_count(&self, dir: &Path) -> usize {
        use common::FileSystem;
        if !self.exists(dir) {
            return 0;
        }
        self.list_dir(dir)
            .unwrap()
            .into_iter()
            .map(|n| {
                let p = dir.join(n);
                if self.is_dir(&p) {
                    self.list_dir_recursive_count(&p)
                } else {
                    1
                }
            })
            .sum()
    }
}
