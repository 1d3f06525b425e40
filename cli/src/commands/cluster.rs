//! `kv --cluster ADDR cluster status|add-learner|change-membership`: inspect and change the
//! membership of a replicated cluster.

use super::remote::Remote;
use crate::args::ClusterCommand;
use crate::failure::{out_err, Failure, Outcome};
use replication::{ClusterStatus, MembershipChange, NodeAddr};
use std::collections::BTreeSet;
use std::fmt::Display;
use std::io::Write;

/// Runs one `kv cluster` command.
pub fn cluster(r: &Remote, cmd: &ClusterCommand) -> Outcome {
    match cmd {
        ClusterCommand::Status { json } => {
            let status = r.run(|c| async move { c.status().await })?;
            let text = if *json {
                serde_json::to_string_pretty(&status)
                    .map_err(|e| Failure::storage(format!("cannot encode the status: {e}")))?
            } else {
                table(&status)
            };
            writeln!(std::io::stdout().lock(), "{text}").map_err(out_err)
        }
        ClusterCommand::AddLearner { id, api, raft } => {
            let addr = NodeAddr::new(api.clone(), raft.clone());
            let id = *id;
            r.run(|c| async move { c.add_learner(id, addr).await })?;
            println!("node {id} is a learner and has caught up");
            Ok(())
        }
        ClusterCommand::ChangeMembership {
            voters,
            add,
            remove,
            no_retain,
        } => {
            let change = membership_change(voters, add, remove)?;
            let retain = !no_retain;
            r.run(|c| async move { c.change_membership(change, retain).await })?;
            let status = r.run(|c| async move { c.status().await })?;
            println!(
                "voters now: {}; learners: {}",
                ids(&status.voters),
                ids(&status.learners)
            );
            Ok(())
        }
    }
}

/// The change the flags ask for (clap lets exactly one of them through, non-empty or not).
fn membership_change(voters: &[u64], add: &[u64], remove: &[u64]) -> Outcome<MembershipChange> {
    let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
    if !voters.is_empty() {
        Ok(MembershipChange::ReplaceVoters(set(voters)))
    } else if !add.is_empty() {
        Ok(MembershipChange::AddVoters(set(add)))
    } else if !remove.is_empty() {
        Ok(MembershipChange::RemoveVoters(set(remove)))
    } else {
        Err(Failure::usage(
            "change-membership needs node ids in --voters, --add or --remove",
        ))
    }
}

fn ids(set: &BTreeSet<u64>) -> String {
    if set.is_empty() {
        return "none".to_string();
    }
    set.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

fn opt<T: Display>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_string(), T::to_string)
}

/// The status as a readable table: the answering node's view, then one row per member.
fn table(s: &ClusterStatus) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k:<14}{v}\n"));
    line(
        &mut out,
        "answered by",
        format!("node {} ({})", s.id, s.state),
    );
    line(&mut out, "leader", opt(&s.leader));
    line(&mut out, "term", s.term.to_string());
    line(&mut out, "last log", opt(&s.last_log_index));
    line(&mut out, "committed", opt(&s.committed));
    line(&mut out, "applied", opt(&s.last_applied));
    line(&mut out, "snapshot", opt(&s.snapshot));
    line(&mut out, "purged", opt(&s.purged));
    out.push_str(&format!(
        "\n{:<6}{:<9}{:<24}{:<24}{}\n",
        "id", "role", "api", "raft", "matched"
    ));
    for (id, addr) in &s.nodes {
        let role = if s.voters.contains(id) {
            "voter"
        } else if s.learners.contains(id) {
            "learner"
        } else {
            "-"
        };
        let role = if s.leader == Some(*id) {
            format!("{role}*")
        } else {
            role.to_string()
        };
        let matched = s.replication.get(id).map_or("-".to_string(), opt);
        out.push_str(&format!(
            "{:<6}{:<9}{:<24}{:<24}{}\n",
            id, role, addr.api_addr, addr.raft_addr, matched
        ));
    }
    out.push_str("(* the leader; matched: the last log id the leader knows the member has)");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_changes() {
        assert_eq!(
            membership_change(&[1, 2, 2], &[], &[]).unwrap(),
            MembershipChange::ReplaceVoters([1, 2].into())
        );
        assert_eq!(
            membership_change(&[], &[4], &[]).unwrap(),
            MembershipChange::AddVoters([4].into())
        );
        assert_eq!(
            membership_change(&[], &[], &[3]).unwrap(),
            MembershipChange::RemoveVoters([3].into())
        );
        assert_eq!(membership_change(&[], &[], &[]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn the_table_names_every_member_and_the_leader() {
        let s = ClusterStatus {
            id: 2,
            state: "Follower".into(),
            term: 3,
            leader: Some(1),
            last_log_index: Some(9),
            committed: None,
            last_applied: None,
            snapshot: None,
            purged: None,
            voters: [1, 2].into(),
            learners: [3].into(),
            nodes: [1, 2, 3]
                .into_iter()
                .map(|i| (i, NodeAddr::new(format!("a:{i}"), format!("r:{i}"))))
                .collect(),
            replication: Default::default(),
        };
        let t = table(&s);
        assert!(t.contains("node 2 (Follower)"), "{t}");
        assert!(t.contains("voter*"), "{t}");
        assert!(t.contains("learner"), "{t}");
        assert!(t.contains("a:3") && t.contains("r:3"), "{t}");
    }
}
