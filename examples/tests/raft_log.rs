//! Use case 5: Raft-style log: conflicting suffixes truncated durably, snapshots, restart recovery.

mod support;

use common::MemFs;
use examples::raft_log::{run, Entry, RaftLog};
use examples::setup::segment_count;
use std::path::Path;

const DIR: &str = "/raft";

fn open(fs: &MemFs) -> RaftLog {
    RaftLog::open(fs.shared(), Path::new(DIR), 4096).unwrap()
}

fn entries(term: u64, from: u64, to: u64) -> Vec<Entry> {
    (from..=to)
        .map(|index| Entry {
            term,
            index,
            command: format!("t{term} i{index} {}", "=".repeat(60)).into_bytes(),
        })
        .collect()
}

#[test]
fn a_conflicting_suffix_is_replaced_and_the_cut_survives_a_power_cut() {
    let fs = MemFs::new();
    let mut log = open(&fs);
    assert!(log.append_entries(0, 0, &entries(1, 1, 6)).unwrap());
    assert!(
        !log.append_entries(6, 2, &[]).unwrap(),
        "prev term mismatch"
    );
    assert!(
        !log.append_entries(9, 1, &[]).unwrap(),
        "prev index beyond the log"
    );
    // A heartbeat with entries it already has changes nothing.
    assert!(log.append_entries(2, 1, &entries(1, 3, 4)).unwrap());
    assert_eq!((log.last_index(), log.last_term()), (6, 1));
    // The new leader's log diverges at 4.
    assert!(log.append_entries(3, 1, &entries(3, 4, 5)).unwrap());
    assert_eq!((log.last_index(), log.last_term()), (5, 3));
    assert_eq!(
        log.entries_from(1).unwrap(),
        [entries(1, 1, 3), entries(3, 4, 5)].concat()
    );
    let log = open(&fs.crash());
    assert_eq!((log.last_index(), log.last_term()), (5, 3));
    assert_eq!(log.term_at(6), None);
    assert_eq!(log.entries_from(4).unwrap(), entries(3, 4, 5));
}

#[test]
fn the_leader_appends_and_rejects_an_older_term() {
    let fs = MemFs::new();
    let mut log = open(&fs);
    assert_eq!(log.append_leader(2, b"a").unwrap(), 1);
    assert_eq!(log.append_leader(2, b"b").unwrap(), 2);
    assert!(log.append_leader(1, b"c").is_err());
    assert_eq!(
        log.entries_from(3).unwrap(),
        vec![],
        "nothing after the last entry"
    );
    assert!(log.entries_from(9).is_err());
}

#[test]
fn a_snapshot_lets_the_prefix_go_and_a_restart_recovers_term_and_index() {
    let fs = MemFs::new();
    let mut log = open(&fs);
    for chunk in 0..10 {
        let from = chunk * 10 + 1;
        assert!(log
            .append_entries(
                from - 1,
                if from == 1 { 0 } else { 1 },
                &entries(1, from, from + 9)
            )
            .unwrap());
    }
    let wal_dir = Path::new(DIR).join("log");
    let before = segment_count(&fs, &wal_dir).unwrap();
    let deleted = log.compact(75, b"state@75".to_vec()).unwrap();
    assert!(deleted >= 1);
    assert_eq!(segment_count(&fs, &wal_dir).unwrap(), before - deleted);
    assert!(
        log.entries_from(50).is_err(),
        "compacted away: send the snapshot"
    );
    let log = open(&fs.crash());
    assert_eq!((log.last_index(), log.last_term()), (100, 1));
    assert_eq!(log.snapshot().last_index, 75);
    assert_eq!(log.snapshot().state, b"state@75");
    assert_eq!(log.term_at(75), Some(1));
    assert_eq!(log.entries_from(76).unwrap(), entries(1, 76, 100));
}

/// The snapshot covers the whole log; then a new term's entries conflict right after it: the
/// log keeps nothing (`truncate_after(Position::start())`) and restarts from the snapshot.
#[test]
fn a_conflict_right_after_the_snapshot_empties_the_log() {
    let fs = MemFs::new();
    let mut log = open(&fs);
    log.append_entries(0, 0, &entries(1, 1, 30)).unwrap();
    log.compact(30, b"s".to_vec()).unwrap();
    log.append_entries(30, 1, &entries(2, 31, 33)).unwrap();
    assert!(log.append_entries(30, 1, &entries(3, 31, 31)).unwrap());
    assert_eq!((log.last_index(), log.last_term()), (31, 3));
    let log = open(&fs.crash());
    assert_eq!((log.last_index(), log.last_term()), (31, 3));
    assert_eq!(log.entries_from(31).unwrap(), entries(3, 31, 31));
    // Empty after the snapshot: last index and term come from it.
    let fs2 = MemFs::new();
    let mut log = open(&fs2);
    log.append_entries(0, 0, &entries(4, 1, 5)).unwrap();
    log.compact(5, Vec::new()).unwrap();
    let log = open(&fs2.crash());
    assert_eq!((log.last_index(), log.last_term()), (5, 4));
}

#[test]
fn the_program_logic() {
    let fs = MemFs::new();
    let s = run(fs.shared(), Path::new("/prog"), &mut Vec::new()).unwrap();
    assert_eq!(s.follower_last, (80, 2));
    assert_eq!(s.follower_terms_4_to_6, vec![2, 2, 2]);
    assert_eq!(s.compaction.0, 60);
    assert!(s.compaction.1 >= 1);
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_raft_log"), &[dir.path()]);
    assert!(support::line(&out, "AppendEntries(prev 5").contains(": false"));
    assert!(support::line(&out, "AppendEntries(prev 3").ends_with("now ends at index 6 term 2"));
    assert_eq!(
        support::line(&out, "after a restart"),
        "after a restart the follower recovers last index 80 term 2, snapshot at 60"
    );
}
