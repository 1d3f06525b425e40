//! Nodes in one process over real HTTP on loopback: join, membership changes through the
//! client, reserved keys refused, a node restarted on its addresses rejoining, a late joiner
//! catching up through a snapshot sent over HTTP.

use replication::{ClusterClient, Error, MembershipChange, Node, NodeConfig, RaftSettings};
use std::path::Path;
use std::time::Duration;

fn config(id: u64, dir: &Path, listen: &str, raft_listen: &str, join: &[String]) -> NodeConfig {
    let mut c = NodeConfig::new(id, listen, raft_listen, dir.join(format!("n{id}")));
    c.join = join.to_vec();
    c.raft = RaftSettings {
        heartbeat_interval_ms: 50,
        election_timeout_min_ms: 300,
        election_timeout_max_ms: 600,
        ..RaftSettings::default()
    };
    c
}

async fn wait_voters(client: &ClusterClient, n: usize) {
    let start = std::time::Instant::now();
    loop {
        if let Ok(s) = client.status().await {
            if s.voters.len() == n && s.learners.is_empty() {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "membership never reached {n} voters"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_shrink_refuse_reserved_keys_and_restart_on_the_same_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let any = "127.0.0.1:0";
    let n1 = Node::start(config(1, dir.path(), any, any, &[]))
        .await
        .unwrap();
    let seed = vec![n1.api_addr().to_string()];
    let n2 = Node::start(config(2, dir.path(), any, any, &seed))
        .await
        .unwrap();
    let n3 = Node::start(config(3, dir.path(), any, any, &seed))
        .await
        .unwrap();
    let addrs = [&n1, &n2, &n3].map(|n| n.api_addr().to_string());
    let client = ClusterClient::new(addrs.clone());
    wait_voters(&client, 3).await;

    for i in 0..20 {
        client
            .put(format!("k{i:02}").as_bytes(), b"v")
            .await
            .unwrap();
    }
    assert!(matches!(
        client.put(b"\x00raft/last_applied", b"x").await,
        Err(Error::Raft(_))
    ));
    // An entry the store would refuse at apply time is refused before it is proposed, and the
    // cluster keeps serving.
    let too_big = vec![7u8; replication::MAX_ENTRY_BYTES as usize];
    assert!(matches!(
        client.put(b"big", &too_big).await,
        Err(Error::Raft(_))
    ));
    client.put(b"after-big", b"ok").await.unwrap();
    assert_eq!(
        client.get(b"after-big", false).await.unwrap(),
        Some(b"ok".to_vec())
    );

    // Shrink to {1, 2}; node 3 is removed entirely and stopped.
    client
        .change_membership(MembershipChange::RemoveVoters([3].into()), false)
        .await
        .unwrap();
    let status = client.status().await.unwrap();
    assert_eq!(status.voters, [1, 2].into());
    assert!(!status.nodes.contains_key(&3));
    n3.stop().await.unwrap();

    // Restart node 1 on the same addresses and directory: the pair serves again.
    let (api1, raft1) = (n1.api_addr().to_string(), n1.raft_addr().to_string());
    n1.stop().await.unwrap();
    let n1 = Node::start(config(1, dir.path(), &api1, &raft1, &[]))
        .await
        .unwrap();
    client.put(b"after-restart", b"1").await.unwrap();
    let pairs = client.scan(b"k", None, 100, false).await.unwrap();
    assert_eq!(pairs.len(), 20);
    assert_eq!(
        client.get(b"after-restart", false).await.unwrap(),
        Some(b"1".to_vec())
    );
    let restarted = client.node_status(&api1).await.unwrap();
    assert_eq!(restarted.voters, [1, 2].into());
    n1.stop().await.unwrap();
    n2.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_joining_late_catches_up_through_a_snapshot_sent_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let any = "127.0.0.1:0";
    let mut c1 = config(1, dir.path(), any, any, &[]);
    c1.raft.snapshot_after_logs = 20;
    c1.raft.keep_logs_after_snapshot = 0;
    let n1 = Node::start(c1).await.unwrap();
    let client = ClusterClient::new([n1.api_addr().to_string()]);
    for i in 0..50 {
        client
            .put(format!("s{i:02}").as_bytes(), &[b'x'; 100])
            .await
            .unwrap();
    }
    // The first entries are gone from node 1's log: a newcomer can only get a snapshot.
    while n1.status().purged.is_none() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let n2 = Node::start(config(
        2,
        dir.path(),
        any,
        any,
        &[n1.api_addr().to_string()],
    ))
    .await
    .unwrap();
    wait_voters(&client, 2).await;
    let last = n1.status().last_applied.map(|l| l.index);
    while n2.status().last_applied.map(|l| l.index) < last {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        n2.status().snapshot.is_some(),
        "node 2 installed no snapshot"
    );
    for i in 0..50 {
        let v = n2
            .state_machine()
            .get(format!("s{i:02}").as_bytes())
            .unwrap();
        assert_eq!(v, Some(vec![b'x'; 100]));
    }
    n2.stop().await.unwrap();
    n1.stop().await.unwrap();
}
