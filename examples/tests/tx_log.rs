//! Use case 4: Transaction log: after a crash cut at any byte of a batch, the whole transaction or none.

mod support;

use common::MemFs;
use examples::tx_log::{cut_copies, run, segment_file, Bank};
use std::path::Path;

const DIR: &str = "/bank";

fn setup() -> (MemFs, Bank) {
    let fs = MemFs::new();
    let mut bank = Bank::open(fs.shared(), Path::new(DIR)).unwrap();
    bank.open_accounts(&[("alice", 100), ("bob", 50), ("carol", 10)])
        .unwrap();
    (fs, bank)
}

/// Cuts the log at every byte from the start of the transaction to its end and reopens:
/// returns the balances (alice, bob, carol) each cut recovers.
fn recover_each_cut(fs: &MemFs, start: wal::Position, end: wal::Position) -> Vec<(i64, i64, i64)> {
    assert_eq!(start.segment_id(), end.segment_id());
    let crashed = fs.crash();
    let file = segment_file(&Path::new(DIR).join("txlog"), start);
    cut_copies(&crashed, &file, start.offset(), end.offset())
        .unwrap()
        .into_iter()
        .map(|copy| {
            let b = Bank::open(copy.shared(), Path::new(DIR)).unwrap();
            let g = |a: &str| b.balances()[a];
            (g("alice"), g("bob"), g("carol"))
        })
        .collect()
}

#[test]
fn a_batch_survives_a_cut_at_any_byte_whole_or_not_at_all() {
    let (fs, mut bank) = setup();
    let start = bank.wal_position();
    // A three-account transaction: alice pays bob 30 and carol 20, in one batch.
    let positions = bank
        .transfer_many("alice", &[("bob", 30), ("carol", 20)])
        .unwrap();
    assert_eq!(positions.len(), 3);
    let end = bank.wal_position();
    let outcomes = recover_each_cut(&fs, start, end);
    assert_eq!(outcomes.len() as u64, end.offset() - start.offset() + 1);
    let (before, after) = ((100, 50, 10), (50, 80, 30));
    for (cut, o) in outcomes.iter().enumerate() {
        let whole = cut as u64 == end.offset() - start.offset();
        assert_eq!(
            *o,
            if whole { after } else { before },
            "cut after {cut} bytes of the batch"
        );
    }
}

#[test]
fn without_a_batch_a_cut_between_the_appends_loses_money() {
    let (fs, mut bank) = setup();
    let start = bank.wal_position();
    bank.transfer_unbatched("alice", "bob", 30).unwrap();
    let end = bank.wal_position();
    let outcomes = recover_each_cut(&fs, start, end);
    let half: Vec<_> = outcomes.iter().filter(|o| o.0 + o.1 + o.2 != 160).collect();
    assert!(
        !half.is_empty(),
        "some cut keeps the debit without the credit"
    );
    assert!(half.iter().all(|o| *o == &(70, 50, 10)));
}

#[test]
fn committed_transactions_survive_a_crash_and_the_total_is_kept() {
    let (fs, mut bank) = setup();
    bank.transfer("alice", "bob", 40).unwrap();
    bank.transfer("bob", "carol", 90).unwrap();
    assert!(
        bank.transfer("carol", "alice", 1_000).is_err(),
        "no overdraft"
    );
    let after = Bank::open(fs.crash().shared(), Path::new(DIR)).unwrap();
    assert_eq!(after.balances(), bank.balances());
    assert_eq!(after.total(), 160);
}

#[test]
fn the_program_logic() {
    let fs = MemFs::new();
    let s = run(fs.shared(), Path::new("/prog"), &mut Vec::new()).unwrap();
    assert_eq!(s.balances.values().sum::<i64>(), 150);
    assert_eq!(s.balances["carol"], 60);
    let (tried, before, after) = s.cuts;
    assert!(tried > 20);
    assert_eq!((before, after), (tried - 1, 1));
}

#[test]
fn the_program_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::run_bin(env!("CARGO_BIN_EXE_tx_log"), &[dir.path()]);
    assert_eq!(
        support::line(&out, "after a restart"),
        "after a restart: {\"alice\": 70, \"bob\": 20, \"carol\": 60}, total 150"
    );
    assert!(support::line(&out, "crash cut at each").ends_with("the state after, none half"));
}
