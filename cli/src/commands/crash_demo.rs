//! `kv crash-demo`: the snapshot-and-recover demo.
//!
//! Each cycle re-runs this very binary as a writer child (`kv crash-writer`, hidden), which
//! opens the store, puts keys `c<cycle>/<index>` in order and prints each index once the put
//! has returned (the acknowledgement). The parent kills it with SIGKILL at a random moment,
//! reopens the store and checks, for every cycle so far, that the keys present are exactly a
//! prefix `0..n` with the right values, and that `n` fits the fsync policy: under `always`
//! every acknowledged write is there (`acked <= n <= acked + 1`: one more may have reached the
//! log without being acknowledged); under `batch` and `os` any prefix up to `acked + 1` is
//! allowed, but never a gap or a wrong value. Then it takes a checkpoint, opens the checkpoint
//! as a store of its own and checks it the same way.

use crate::args::{CrashDemoArgs, CrashWriterArgs, Policy};
use crate::commands::stats::human_bytes;
use crate::failure::{Failure, Outcome};
use crate::store;
use benches::Rng;
use kvstore::{Db, FsyncPolicy};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn key(cycle: u32, i: u64) -> Vec<u8> {
    format!("c{cycle:04}/{i:08}").into_bytes()
}

fn value(cycle: u32, i: u64) -> Vec<u8> {
    let mut v = format!("cycle {cycle} write {i} ").into_bytes();
    let len = 64 + (i % 192) as usize;
    while v.len() < len {
        v.push(b'a' + (v.len() % 26) as u8);
    }
    v
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Always => "always",
        Policy::Batch => "batch",
        Policy::Os => "os",
    }
}

/// `kv crash-writer`: the child. Writes until killed.
pub fn writer(dir: &Path, a: &CrashWriterArgs) -> Outcome {
    let policy = match a.policy {
        Policy::Always => FsyncPolicy::Always,
        Policy::Batch => FsyncPolicy::Batch(Duration::from_millis(20)),
        Policy::Os => FsyncPolicy::Os,
    };
    let db = Db::builder(dir)
        .fsync_policy(policy)
        .memtable_size_bytes(64 << 10) // small, so kills also land in flushes
        .open()
        .map_err(|e| Failure::from_db(dir, e))?;
    let mut out = std::io::stdout().lock();
    let gone = |e: std::io::Error| Failure::storage(format!("parent gone: {e}"));
    writeln!(out, "ready")
        .and_then(|_| out.flush())
        .map_err(gone)?;
    for i in 0.. {
        db.put(key(a.cycle, i), value(a.cycle, i))
            .map_err(|e| Failure::from_db(dir, e))?;
        writeln!(out, "{i}")
            .and_then(|_| out.flush())
            .map_err(gone)?;
    }
    Ok(())
}

/// How many keys of `cycle` the store holds, if they are exactly `0..n` with the right values.
fn surviving_prefix(db: &Db, cycle: u32) -> Result<u64, String> {
    let prefix = format!("c{cycle:04}/");
    let mut n = 0u64;
    for item in db.prefix(prefix.as_bytes()) {
        let (k, v) = item.map_err(|e| format!("read failed: {e}"))?;
        if k != key(cycle, n) {
            return Err(format!(
                "expected key {} next, found {} (a gap: writes lost out of order)",
                String::from_utf8_lossy(&key(cycle, n)),
                String::from_utf8_lossy(&k)
            ));
        }
        if v != value(cycle, n) {
            return Err(format!(
                "key {} has a wrong value",
                String::from_utf8_lossy(&k)
            ));
        }
        n += 1;
    }
    Ok(n)
}

/// Checks every cycle's keys in `db` against `expected` (the counts verified before) and
/// returns the problems.
fn check_earlier(db: &Db, expected: &[u64]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, &want) in expected.iter().enumerate() {
        let cycle = i as u32 + 1;
        match surviving_prefix(db, cycle) {
            Ok(n) if n == want => {}
            Ok(n) => problems.push(format!(
                "cycle {cycle}: {want} keys were verified before, now {n}"
            )),
            Err(e) => problems.push(format!("cycle {cycle}: {e}")),
        }
    }
    problems
}

struct Kill {
    acked: u64,
    pid: u32,
    after: Duration,
}

/// Runs one writer child and kills it `after` its first write can start.
fn run_writer(dir: &Path, cycle: u32, policy: Policy, after: Duration) -> Outcome<Kill> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::storage(format!("cannot find the kv binary to re-run: {e}")))?;
    let mut child = Command::new(exe)
        .arg("--dir")
        .arg(dir)
        .args(["crash-writer", "--policy", policy_name(policy), "--cycle"])
        .arg(cycle.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Failure::storage(format!("cannot start the writer child: {e}")))?;
    let pid = child.id();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| Failure::storage("no child stdout"))?;
    let (ready_tx, ready_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut acked = 0u64;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line == "ready" {
                let _ = ready_tx.send(());
            } else if let Ok(i) = line.parse::<u64>() {
                acked = i + 1;
            }
        }
        acked
    });
    let child_failed = |child: &mut std::process::Child| {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Failure::storage(format!("the writer child failed: {}", err.trim()))
    };
    if ready_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(child_failed(&mut child));
    }
    std::thread::sleep(after);
    if let Ok(Some(_)) = child.try_wait() {
        return Err(child_failed(&mut child));
    }
    child
        .kill() // SIGKILL on Unix: no destructor, no flush, no goodbye
        .map_err(|e| Failure::storage(format!("cannot kill the writer: {e}")))?;
    let _ = child.wait();
    let acked = reader
        .join()
        .map_err(|_| Failure::storage("the reader thread panicked"))?;
    Ok(Kill { acked, pid, after })
}

fn open(dir: &Path) -> Outcome<Db> {
    Db::builder(dir)
        .create_if_missing(false)
        .open()
        .map_err(|e| Failure::from_db(dir, e))
}

/// Runs `cycles` kill-and-recover cycles in `dir` (empty or absent), narrating. Fails with a
/// storage error if anything was lost.
pub fn run_demo(dir: &Path, cycles: u32, policy: Policy, seed: Option<u64>) -> Outcome {
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let mut rng = Rng::new(seed);
    let checkpoints = tempfile::Builder::new()
        .prefix("kv-checkpoints-")
        .tempdir()
        .map_err(|e| Failure::storage(format!("cannot make a temporary directory: {e}")))?;
    let name = policy_name(policy);
    println!(
        "crash demo: {cycles} cycle(s) in {}, fsync policy `{name}`, seed {seed}; checkpoints go to {} (removed at the end)",
        dir.display(),
        checkpoints.path().display()
    );
    println!(
        "{}",
        match policy {
            Policy::Always =>
                "  promise under `always`: a write is acknowledged only once it is on disk, so every acknowledged write must survive a kill.",
            Policy::Batch =>
                "  promise under `batch`: writes are synced every 20 ms, so the last few acknowledged writes may be lost, but what survives is a prefix: no gaps, no wrong values.",
            Policy::Os =>
                "  promise under `os`: the OS decides when to write, so recent acknowledged writes may be lost, but what survives is a prefix: no gaps, no wrong values.",
        }
    );
    let mut verified: Vec<u64> = Vec::new();
    let mut failures = 0u32;
    let mut total_acked = 0u64;
    for cycle in 1..=cycles {
        let after = Duration::from_millis(20 + rng.below(280));
        let kill = run_writer(dir, cycle, policy, after)?;
        total_acked += kill.acked;
        println!(
            "cycle {cycle}: a writer process (pid {}) put keys c{cycle:04}/00000000, c{cycle:04}/00000001, ... and acknowledged {} of them; killed it with SIGKILL after {} ms, in mid-write.",
            kill.pid,
            kill.acked,
            kill.after.as_millis()
        );
        let t = Instant::now();
        let db = open(dir)?;
        let reopen = t.elapsed();
        let mut problems = check_earlier(&db, &verified);
        let n = match surviving_prefix(&db, cycle) {
            Ok(n) => n,
            Err(e) => {
                problems.push(format!("cycle {cycle}: {e}"));
                0
            }
        };
        let upper_ok = n <= kill.acked + 1;
        let lower_ok = policy != Policy::Always || n >= kill.acked;
        if !upper_ok {
            problems.push(format!(
                "cycle {cycle}: {n} keys present but only {} acknowledged (+1 in flight): writes appeared from nowhere",
                kill.acked
            ));
        }
        if !lower_ok {
            problems.push(format!(
                "cycle {cycle}: LOST {} acknowledged write(s): {} acknowledged, {n} present",
                kill.acked - n,
                kill.acked
            ));
        }
        let earlier: u64 = verified.iter().sum();
        let verdict = if n >= kill.acked {
            let extra = if n > kill.acked {
                " (plus 1 write that reached the log but was killed before it could be acknowledged)"
            } else {
                ""
            };
            format!(
                "all {} acknowledged writes are there, in order, with the right values{extra}",
                kill.acked
            )
        } else {
            format!(
                "{n} of {} acknowledged writes are there, a clean prefix: the last {} had not been made durable yet (still in the WAL's buffer or awaiting fsync), which policy `{name}` allows",
                kill.acked,
                kill.acked - n
            )
        };
        println!(
            "  reopened the store in {} ms: {verdict}.",
            reopen.as_millis()
        );
        if problems.is_empty() {
            let (tables, _, wal_bytes) = store::disk_usage(dir);
            let earlier = if cycle == 1 {
                String::new()
            } else {
                format!("the {earlier} keys of earlier cycles are intact; ")
            };
            println!(
                "  {earlier}the store holds {tables} table(s) and {} of WAL.",
                human_bytes(wal_bytes)
            );
        }
        verified.push(n);
        let ck = checkpoints.path().join(format!("cycle-{cycle}"));
        db.checkpoint(&ck).map_err(|e| Failure::from_db(dir, e))?;
        drop(db);
        let restored = open(&ck)?;
        let ck_problems = check_earlier(&restored, &verified);
        drop(restored);
        let total: u64 = verified.iter().sum();
        if ck_problems.is_empty() {
            println!(
                "  took a checkpoint into {} and opened it as a store of its own: the same {total} keys, all correct.",
                ck.display()
            );
        }
        for p in problems.iter().chain(&ck_problems) {
            println!("  PROBLEM: {p}");
        }
        if !problems.is_empty() || !ck_problems.is_empty() {
            failures += 1;
        }
    }
    let kept: u64 = verified.iter().sum();
    if failures == 0 {
        println!(
            "survived {cycles} kill(s): {total_acked} writes acknowledged, {kept} present, nothing acknowledged lost{}.",
            if policy == Policy::Always { "" } else { " beyond what the policy allows" }
        );
        Ok(())
    } else {
        Err(Failure::storage(format!(
            "crash demo: data lost or wrong in {failures} of {cycles} cycle(s) (see PROBLEM lines)"
        )))
    }
}

/// `kv crash-demo`.
pub fn crash_demo(dir: &Path, dir_explicit: bool, a: &CrashDemoArgs) -> Outcome {
    let (dir, _guard) = store::fresh_dir(dir, dir_explicit, "crash-demo")?;
    run_demo(&dir, a.cycles, a.policy, a.seed)
}
