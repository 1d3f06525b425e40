//! A real process killed with SIGKILL mid-append, on the real file system: every append it
//! acknowledged is there after reopening, batches are whole, nothing else is. Under `Always`
//! the acknowledged appends were fdatasynced; under `Os` and `Batch` they were only handed to
//! the OS, which keeps them when the process dies (a power loss is another matter: see the
//! MemFs crash tests). The child is this test binary re-run with
//! `--ignored --exact child_appender`; the parent kills it after a random number of
//! acknowledgements (`WAL_KILL_ROUNDS` kills per policy, default 3).

mod util;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wal::blocking::Wal;
use wal::{FsyncPolicy, Record, WalConfig};

const ENV_DIR: &str = "WAL_KILL_TEST_DIR";
const ENV_POLICY: &str = "WAL_KILL_TEST_POLICY";

fn policy(name: &str) -> FsyncPolicy {
    match name {
        "always" => FsyncPolicy::Always,
        "os" => FsyncPolicy::Os,
        // Long enough that the timer never fsyncs during the run: only the hand-off to the OS
        // before `append` returns keeps the acknowledged records.
        "batch" => FsyncPolicy::Batch(Duration::from_secs(60)),
        other => panic!("unknown policy {other}"),
    }
}

fn cfg(dir: &std::path::Path, policy: FsyncPolicy) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        fsync_policy: policy,
        segment_size_bytes: 64 << 10,
        ..Default::default()
    }
}

/// Run only as the child of the kill tests.
#[test]
#[ignore]
fn child_appender() {
    let (Some(dir), Some(name)) = (std::env::var_os(ENV_DIR), std::env::var(ENV_POLICY).ok())
    else {
        return;
    };
    let (wal, _) = Wal::open(cfg(std::path::Path::new(&dir), policy(&name))).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        // Batches of 1 to 4 records: "i-0", "i-1", ...
        let batch: Vec<Record> = (0..1 + i % 4)
            .map(|j| Record::put(format!("{i}-{j}"), vec![7u8; 300]))
            .collect();
        if i % 2 == 0 {
            wal.append_batch(&batch).unwrap();
        } else {
            // The two-phase form engines use: the wait happens in `wait_durable`.
            let positions = wal.append_no_wait(&batch).unwrap();
            wal.wait_durable(*positions.last().unwrap()).unwrap();
        }
        writeln!(out, "ack {i} {}", batch.len()).unwrap();
        out.flush().unwrap();
    }
}

/// A small xorshift generator seeded from the clock: each run kills at other moments.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        Rng(t.as_nanos() as u64 | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One run: start the child, read acknowledgements until `stop_after`, SIGKILL it, reopen
/// and check.
fn kill_and_check(name: &str, stop_after: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_appender",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ENV_DIR, dir.path())
        .env(ENV_POLICY, name)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < stop_after {
        let line = lines.next().expect("the child stopped early").unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let mut it = rest.split(' ').map(|s| s.parse::<u64>().unwrap());
            acked.push((it.next().unwrap(), it.next().unwrap()));
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-append
    child.wait().unwrap();
    // Acknowledgements the child wrote before it died count too.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(rest) = line.strip_prefix("ack ") {
            let mut it = rest.split(' ').map(|s| s.parse::<u64>());
            if let (Some(Ok(i)), Some(Ok(n))) = (it.next(), it.next()) {
                acked.push((i, n));
            }
        }
    }

    let (wal, _) = Wal::open(cfg(dir.path(), policy(name))).unwrap();
    let keys: BTreeSet<String> = util::read_all(&wal)
        .into_iter()
        .map(|(r, _)| String::from_utf8(r.key).unwrap())
        .collect();
    for (i, n) in &acked {
        for j in 0..*n {
            assert!(
                keys.contains(&format!("{i}-{j}")),
                "{name}: acknowledged {i}-{j} lost (killed after {stop_after} acks)"
            );
        }
    }
    // Whatever else is there forms whole batches.
    for k in &keys {
        let (i, _) = k.split_once('-').unwrap();
        let i: u64 = i.parse().unwrap();
        for j in 0..1 + i % 4 {
            assert!(
                keys.contains(&format!("{i}-{j}")),
                "{name}: batch {i} partly recovered"
            );
        }
    }
}

fn rounds() -> usize {
    std::env::var("WAL_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    // One run past several segment rotations, then runs killed at random moments.
    kill_and_check("always", 300);
    let mut rng = Rng::new();
    for _ in 0..rounds() {
        kill_and_check("always", 1 + rng.below(200) as usize);
    }
}

#[test]
fn acknowledged_appends_survive_sigkill_under_os() {
    let mut rng = Rng::new();
    kill_and_check("os", 3000);
    for _ in 0..rounds() {
        kill_and_check("os", 1 + rng.below(3000) as usize);
    }
}

#[test]
fn acknowledged_appends_survive_sigkill_under_batch() {
    let mut rng = Rng::new();
    kill_and_check("batch", 3000);
    for _ in 0..rounds() {
        kill_and_check("batch", 1 + rng.below(3000) as usize);
    }
}
