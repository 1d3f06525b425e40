//! In-process three-node clusters (in-memory network, real data directories): replication,
//! leader failure, snapshot catch-up, restart from disk, partitions.

mod common;

use common::*;
use openraft::ReadPolicy;
use replication::{RaftSettings, Request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_a_thousand_keys_to_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let router = Router::new();
    let nodes = three_node_cluster(&router, dir.path(), &settings()).await;
    write_keys(&refs(&nodes), 0..1000).await;
    let leader = by_id(&nodes, wait_leader(&nodes).await);
    let last = leader.applied_index();
    for n in &nodes {
        n.wait_applied(last).await;
        assert_keys(n, 0..1000);
        assert_eq!(n.sm.get(&key(999)).unwrap(), Some(value(999)));
    }
    let status = replication::status_of(&leader.raft);
    assert_eq!(status.voters, [1, 2, 3].into());
    for n in nodes {
        n.stop(&router).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failure_loses_no_acknowledged_write_and_the_old_leader_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let router = Router::new();
    let mut nodes = three_node_cluster(&router, dir.path(), &settings()).await;
    let old = wait_leader(&nodes).await;
    write_keys(&refs(&nodes), 0..100).await;

    let pos = nodes.iter().position(|n| n.id == old).unwrap();
    let stopped = nodes.remove(pos);
    let old_dir = stopped.dir.clone();
    stopped.stop(&router).await;

    write_keys(&refs(&nodes), 100..200).await;
    let new = wait_leader(&nodes).await;
    assert_ne!(new, old);
    let leader = by_id(&nodes, new);
    leader
        .raft
        .ensure_linearizable(ReadPolicy::ReadIndex)
        .await
        .unwrap();
    assert_keys(leader, 0..200);

    let back = start_node(&router, old, &old_dir, &settings()).await;
    let last = by_id(&nodes, new).applied_index();
    back.wait_applied(last).await;
    assert_keys(&back, 0..200);
    nodes.push(back);
    for n in nodes {
        n.stop(&router).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_far_behind_catches_up_through_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let router = Router::new();
    let s = RaftSettings {
        snapshot_after_logs: 50,
        keep_logs_after_snapshot: 0,
        ..settings()
    };
    let nodes = three_node_cluster(&router, dir.path(), &s).await;
    let leader_id = wait_leader(&nodes).await;
    let lagging = nodes.iter().find(|n| n.id != leader_id).unwrap().id;
    let others: Vec<u64> = nodes
        .iter()
        .map(|n| n.id)
        .filter(|&i| i != lagging)
        .collect();
    router.partition(&[&others, &[lagging]]);

    let majority: Vec<&TestNode> = nodes.iter().filter(|n| n.id != lagging).collect();
    write_keys(&majority, 0..300).await;
    let leader = by_id(&nodes, wait_leader_among(&majority).await);
    // Wait for the leader to purge its log past what the lagging node has.
    let lagging_node = by_id(&nodes, lagging);
    let behind = lagging_node.applied_index();
    leader
        .raft
        .wait(Some(WAIT))
        .metrics(
            |m| m.purged.is_some_and(|p| p.index > behind + 100),
            "leader purged its log",
        )
        .await
        .unwrap();

    router.heal();
    let last = leader.applied_index();
    lagging_node.wait_applied(last).await;
    assert_keys(lagging_node, 0..300);
    let applied_one_by_one = lagging_node.sm.apply_stats().entries_applied;
    assert!(
        applied_one_by_one < 300,
        "the lagging node applied {applied_one_by_one} entries one by one instead of installing a snapshot"
    );
    for n in nodes {
        n.stop(&router).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_three_restart_from_disk_with_the_same_state_and_apply_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let router = Router::new();
    let s = RaftSettings {
        snapshot_after_logs: 120,
        ..settings()
    };
    let nodes = three_node_cluster(&router, dir.path(), &s).await;
    write_keys(&refs(&nodes), 0..200).await;
    let leader = by_id(&nodes, wait_leader(&nodes).await);
    let last = leader.applied_index();
    let mut before = Vec::new();
    for n in &nodes {
        n.wait_applied(last).await;
        before.push((n.id, n.sm.last_applied().unwrap()));
    }
    for n in nodes {
        n.stop(&router).await;
    }

    let mut nodes = Vec::new();
    for id in 1..=3 {
        nodes.push(start_node(&router, id, &dir.path().join(format!("n{id}")), &s).await);
    }
    for (n, (id, last_applied)) in nodes.iter().zip(&before) {
        assert_eq!(n.id, *id);
        let stats = n.sm.apply_stats();
        assert_eq!(
            stats.recovered_last_applied, *last_applied,
            "node {id} reopened at another state"
        );
        assert_keys(n, 0..200);
    }
    write_keys(&refs(&nodes), 200..210).await;
    let leader = by_id(&nodes, wait_leader(&nodes).await);
    let last = leader.applied_index();
    for (n, (_, last_applied)) in nodes.iter().zip(&before) {
        n.wait_applied(last).await;
        assert_keys(n, 0..210);
        let stats = n.sm.apply_stats();
        let recovered = last_applied.map_or(0, |l| l.index);
        assert!(
            stats.first_index_applied.is_some_and(|f| f > recovered),
            "node {} re-applied from {:?} though it had applied up to {recovered}",
            n.id,
            stats.first_index_applied
        );
    }
    for n in nodes {
        n.stop(&router).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minority_cannot_commit_the_majority_can_and_healing_converges() {
    let dir = tempfile::tempdir().unwrap();
    let router = Router::new();
    let nodes = three_node_cluster(&router, dir.path(), &settings()).await;
    let old = wait_leader(&nodes).await;
    write_keys(&refs(&nodes), 0..50).await;
    let majority: Vec<u64> = nodes.iter().map(|n| n.id).filter(|&i| i != old).collect();
    router.partition(&[&[old], &majority]);

    // The isolated leader accepts the proposal but can never commit it.
    let old_raft = by_id(&nodes, old).raft.clone();
    let minority_write = tokio::spawn(async move {
        old_raft
            .client_write(Request::Put {
                key: b"minority".to_vec(),
                value: b"lost".to_vec(),
            })
            .await
    });

    let majority_nodes: Vec<&TestNode> = nodes.iter().filter(|n| n.id != old).collect();
    write_keys(&majority_nodes, 50..100).await;
    let leader = by_id(&nodes, wait_leader_among(&majority_nodes).await);

    router.heal();
    let last = leader.applied_index();
    for n in &nodes {
        n.wait_applied(last).await;
    }
    // The old leader learns the new term; its uncommitted entry is truncated, never applied.
    let outcome = minority_write.await.unwrap();
    assert!(outcome.is_err(), "a write in the minority was acknowledged");
    leader
        .raft
        .ensure_linearizable(ReadPolicy::ReadIndex)
        .await
        .unwrap();
    let last = leader.applied_index();
    for n in &nodes {
        n.wait_applied(last).await;
        assert_keys(n, 0..100);
        assert_eq!(n.sm.get(b"minority").unwrap(), None);
    }
    for n in nodes {
        n.stop(&router).await;
    }
}
