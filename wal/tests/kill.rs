//! A real process killed with SIGKILL mid-append, on the real file system: every append it
//! acknowledged (under `Always`) is there after reopening, batches are whole, nothing else is.
//! The child is this test binary re-run with `--ignored --exact child_appender`.

mod util;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use wal::blocking::Wal;
use wal::{FsyncPolicy, Record, WalConfig};

const ENV_DIR: &str = "WAL_KILL_TEST_DIR";

fn cfg(dir: &std::path::Path) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        fsync_policy: FsyncPolicy::Always,
        segment_size_bytes: 64 << 10,
        ..Default::default()
    }
}

/// Run only as the child of `acknowledged_appends_survive_sigkill`.
#[test]
#[ignore]
fn child_appender() {
    let Some(dir) = std::env::var_os(ENV_DIR) else {
        return;
    };
    let (wal, _) = Wal::open(cfg(std::path::Path::new(&dir))).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        // Batches of 1 to 4 records: "i-0", "i-1", ...
        let batch: Vec<Record> = (0..1 + i % 4)
            .map(|j| Record::put(format!("{i}-{j}"), vec![7u8; 300]))
            .collect();
        wal.append_batch(&batch).unwrap();
        writeln!(out, "ack {i} {}", batch.len()).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_appends_survive_sigkill() {
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
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < 300 {
        let line = lines.next().expect("the child stopped early").unwrap();
        if let Some(rest) = line.strip_prefix("ack ") {
            let mut it = rest.split(' ').map(|s| s.parse::<u64>().unwrap());
            acked.push((it.next().unwrap(), it.next().unwrap()));
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-append
    child.wait().unwrap();

    let (wal, info) = Wal::open(cfg(dir.path())).unwrap();
    assert!(info.segments_read > 1);
    let keys: BTreeSet<String> = util::read_all(&wal)
        .into_iter()
        .map(|(r, _)| String::from_utf8(r.key).unwrap())
        .collect();
    for (i, n) in &acked {
        for j in 0..*n {
            assert!(
                keys.contains(&format!("{i}-{j}")),
                "acknowledged {i}-{j} lost"
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
                "batch {i} partly recovered"
            );
        }
    }
}
