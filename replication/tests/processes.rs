//! Three real `kv-node` processes on loopback ports: the leader is killed with SIGKILL, the
//! cluster keeps serving, and no acknowledged write is lost.

use replication::ClusterClient;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Proc {
    id: u64,
    child: Child,
    api: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a node on free loopback ports and waits for its `ready` line.
fn spawn_node(id: u64, dir: &Path, join: Option<&str>) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kv-node"));
    cmd.args([
        "--id",
        &id.to_string(),
        "--listen",
        "127.0.0.1:0",
        "--raft-listen",
        "127.0.0.1:0",
    ])
    .arg("--data-dir")
    .arg(dir.join(format!("n{id}")))
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    if let Some(j) = join {
        cmd.args(["--join", j]);
    }
    let mut child = cmd.spawn().expect("start kv-node");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let api = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("api="))
        .unwrap_or_else(|| panic!("node {id} printed {line:?}"))
        .to_string();
    Proc { id, child, api }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_survive_sigkill_of_the_leader_without_losing_acknowledged_writes() {
    let dir = tempfile::tempdir().unwrap();
    let first = spawn_node(1, dir.path(), None);
    let second = spawn_node(2, dir.path(), Some(&first.api));
    let third = spawn_node(3, dir.path(), Some(&first.api));
    let mut procs = vec![first, second, third];
    let addrs: Vec<String> = procs.iter().map(|p| p.api.clone()).collect();
    let client = ClusterClient::new(addrs.clone()).with_deadline(Duration::from_secs(20));

    // Wait for both joiners to become voters.
    let start = std::time::Instant::now();
    loop {
        if let Ok(s) = client.status().await {
            if s.voters.len() == 3 {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the cluster did not form"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut acked = Vec::new();
    for i in 0..100 {
        let (k, v) = (format!("k{i:04}"), format!("v{i}"));
        client.put(k.as_bytes(), v.as_bytes()).await.unwrap();
        acked.push((k, v));
    }
    client.delete(b"k0000").await.unwrap();
    acked.remove(0);

    let status = client.status().await.unwrap();
    let leader = status.leader.expect("a leader");
    let pos = procs.iter().position(|p| p.id == leader).unwrap();
    let mut killed = procs.remove(pos);
    killed.child.kill().unwrap(); // SIGKILL
    killed.child.wait().unwrap();

    for i in 100..150 {
        let (k, v) = (format!("k{i:04}"), format!("v{i}"));
        client.put(k.as_bytes(), v.as_bytes()).await.unwrap();
        acked.push((k, v));
    }
    let status = client.status().await.unwrap();
    assert_ne!(
        status.leader,
        Some(leader),
        "the killed node is still named leader"
    );

    for (k, v) in &acked {
        assert_eq!(
            client.get(k.as_bytes(), false).await.unwrap(),
            Some(v.clone().into_bytes()),
            "{k} lost"
        );
    }
    assert_eq!(client.get(b"k0000", false).await.unwrap(), None);
    let scanned = client.scan(b"k", Some(b"l"), 1000, false).await.unwrap();
    let expected: Vec<(Vec<u8>, Vec<u8>)> = acked
        .iter()
        .map(|(k, v)| (k.clone().into_bytes(), v.clone().into_bytes()))
        .collect();
    assert_eq!(scanned, expected);

    // A client that knows only a follower is redirected to the leader for writes, and the
    // follower serves stale reads from its own state once it has applied them.
    let follower = procs.iter().find(|p| Some(p.id) != status.leader).unwrap();
    let one = ClusterClient::new([follower.api.clone()]);
    one.put(b"via-follower", b"1").await.unwrap();
    let start = std::time::Instant::now();
    while one.get(b"via-follower", true).await.unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the follower never applied the write"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(one.get(b"k0001", true).await.unwrap(), Some(b"v1".to_vec()));
    drop(killed);
}
