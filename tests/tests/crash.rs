//! The SIGKILL crash test: a child process (`crash_child`) writes a deterministic workload
//! and prints `ack <i>` after each write returns; the parent kills it at a random moment,
//! reopens the database and checks what survived.
//!
//! - `Always`: every acknowledged write is there and nothing was invented: the state equals the
//!   state after writes `0..=acked` or `0..=acked+1` (the one write in flight may have landed).
//! - `Batch` and `Os`: the state equals the state after some prefix of the writes (no holes,
//!   no reordering), never more than was attempted.
//!
//! The child compacts all the time (tiny memtable and level targets), so kills land in the
//! middle of compactions too; after each kill the reopened database must hold no table file
//! its manifest does not name (an orphan of a cut compaction or flush), and over the run the
//! children must have compacted.
//!
//! Cycles: `KV_CRASH_CYCLES` (default 21, a third per policy); seed: `KV_CRASH_SEED`.

use kvstore::Db;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tests::{env_or, seed_from_env, Rng, Workload};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn read_all(dir: &std::path::Path) -> Model {
    // No compaction threads: the directory listing below sees only what open left.
    let db = Db::builder(dir)
        .memtable_size_bytes(16 << 10)
        .compaction_threads(0)
        .open()
        .expect("reopen after kill");
    // A recovered memtable over the size limit is flushed by the flush thread right after
    // open: wait for that, so the listing holds no table being written.
    db.flush().expect("flush after reopen");
    let on_disk = tests::table_files_on_disk(common::RealFs::shared().as_ref(), dir);
    assert_eq!(
        on_disk,
        db.stats().table_files(),
        "orphan tables left after reopening {}",
        dir.display()
    );
    let state: Model = db
        .iter()
        .collect::<Result<_, _>>()
        .expect("scan after kill");
    // Point reads agree with the scan.
    for (k, v) in state.iter().take(50) {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
    }
    state
}

/// The largest `k` in `0..=max` such that applying writes `0..k` of `w` to `base` gives
/// `target`, if any. (Several may: deleting an absent key changes nothing.)
fn matching_prefix(base: &Model, w: Workload, max: u64, target: &Model) -> Option<u64> {
    // Keep a count of keys where the model and the target differ, updated per write.
    let mut model = base.clone();
    let keys: std::collections::BTreeSet<Vec<u8>> =
        model.keys().chain(target.keys()).cloned().collect();
    let mut diff = keys
        .iter()
        .filter(|k| model.get(*k) != target.get(*k))
        .count();
    let mut found = (diff == 0).then_some(0);
    for i in 0..max {
        let touched: Vec<Vec<u8>> = w
            .ops(i)
            .into_iter()
            .map(|op| match op {
                tests::Op::Put(k, _) | tests::Op::Delete(k) => k,
            })
            .collect();
        let mut uniq = touched.clone();
        uniq.sort();
        uniq.dedup();
        for k in &uniq {
            if model.get(k) != target.get(k) {
                diff -= 1;
            }
        }
        w.apply(i, &mut model);
        for k in &uniq {
            if model.get(k) != target.get(k) {
                diff += 1;
            }
        }
        if diff == 0 {
            found = Some(i + 1);
        }
    }
    found
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_write() {
    let cycles = env_or("KV_CRASH_CYCLES", 21);
    let seed = seed_from_env("KV_CRASH_SEED");
    println!("crash test seed {seed} (KV_CRASH_SEED={seed} to replay the kill times)");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut base = Model::new();
    let mut total_compactions = 0;
    for cycle in 0..cycles {
        let policy = ["always", "batch", "os"][(cycle % 3) as usize];
        let mut child = Command::new(env!("CARGO_BIN_EXE_crash_child"))
            .arg(&path)
            .arg(cycle.to_string())
            .arg(policy)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn crash_child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let (mut acked, mut compactions): (Option<u64>, u64) = (None, 0);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "ready" {
                    let _ = tx.send(());
                } else if let Some(i) = line.strip_prefix("ack ") {
                    acked = Some(i.parse().expect("ack number"));
                } else if let Some(n) = line.strip_prefix("compactions ") {
                    compactions = n.parse().expect("compaction count");
                }
            }
            (acked, compactions)
        });
        rx.recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("cycle {cycle}: child never became ready"));
        std::thread::sleep(Duration::from_millis(20 + rng.below(200)));
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "cycle {cycle}: the child was to be killed"
        );
        let (acked, compactions) = reader.join().unwrap();
        total_compactions += compactions;
        let attempted = acked.map_or(1, |a| a + 2); // writes 0..attempted may have landed
        let state = read_all(&path);
        let w = Workload::new(cycle);
        let k = matching_prefix(&base, w, attempted, &state).unwrap_or_else(|| {
            panic!(
                "cycle {cycle} ({policy}, seed {seed}): the recovered state is no prefix of \
                 the writes (acked up to {acked:?})"
            )
        });
        if policy == "always" {
            let min = acked.map_or(0, |a| a + 1);
            assert!(
                k >= min,
                "cycle {cycle} (always, seed {seed}): acknowledged writes lost: \
                 state is the prefix of {k} writes, {min} were acknowledged"
            );
        }
        println!(
            "cycle {cycle} ({policy}): acked {acked:?}, recovered prefix {k}, \
             {compactions}+ compactions"
        );
        base = state;
    }
    assert!(
        total_compactions > 0,
        "seed {seed}: the children never compacted"
    );
}
