//! The serving side of a node: the accept loops for Raft traffic and for the client API, and
//! what each client request does (writes through `client_write`, linearizable reads behind
//! `ensure_linearizable` with a read index, membership changes, status).

use crate::api::{ApiReply, ApiRequest, ClusterStatus, MembershipChange, RaftRpc, RaftRpcReply};
use crate::error::Error;
use crate::state_machine::{KvStateMachine, MAX_ENTRY_BYTES, RESERVED_PREFIX};
use crate::types::{Raft, Request, Snapshot, TypeConfig};
use crate::wire::{read_frame, write_frame};
use openraft::error::{ClientWriteError, ForwardToLeader, LinearizableReadError, RaftError};
use openraft::{ChangeMembers, ReadPolicy};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The view a node reports (`kv cluster status`).
pub fn status_of(raft: &Raft) -> ClusterStatus {
    use openraft::async_runtime::watch::WatchReceiver;
    let m = raft.metrics().borrow_watched().clone();
    let membership = m.membership_config.membership();
    ClusterStatus {
        id: m.id,
        state: format!("{:?}", m.state),
        term: m.current_term,
        leader: m.current_leader,
        last_log_index: m.last_log_index,
        committed: m.local_committed,
        last_applied: m.last_applied,
        snapshot: m.snapshot,
        purged: m.purged,
        voters: membership.voter_ids().collect(),
        learners: membership.learner_ids().collect(),
        nodes: membership.nodes().map(|(id, n)| (*id, n.clone())).collect(),
        replication: m
            .replication
            .as_ref()
            .map(|r| r.iter().map(|(id, l)| (*id, *l)).collect())
            .unwrap_or_default(),
    }
}

pub(crate) async fn serve_raft(listener: TcpListener, raft: Raft) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or the like: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        conns.spawn(raft_conn(stream, raft.clone()));
        while conns.try_join_next().is_some() {}
    }
}

async fn raft_conn(mut stream: TcpStream, raft: Raft) {
    while let Ok(Some((rpc, blob))) = read_frame::<RaftRpc>(&mut stream).await {
        let reply = match rpc {
            RaftRpc::Append(r) => raft.append_entries(r).await.map(RaftRpcReply::Append),
            RaftRpc::Vote(r) => raft.vote(r).await.map(RaftRpcReply::Vote),
            RaftRpc::PreVote(r) => raft.pre_vote(r).await.map(RaftRpcReply::Vote),
            RaftRpc::Snapshot { vote, meta } => raft
                .install_full_snapshot(
                    vote,
                    Snapshot {
                        meta,
                        snapshot: blob,
                    },
                )
                .await
                .map(RaftRpcReply::Snapshot)
                .map_err(RaftError::Fatal),
        };
        let reply = reply.unwrap_or_else(|e| RaftRpcReply::Error(e.to_string()));
        if write_frame(&mut stream, &reply, &[]).await.is_err() {
            break;
        }
    }
}

pub(crate) async fn serve_api(listener: TcpListener, raft: Raft, sm: KvStateMachine) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or the like: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        conns.spawn(api_conn(stream, raft.clone(), sm.clone()));
        while conns.try_join_next().is_some() {}
    }
}

async fn api_conn(mut stream: TcpStream, raft: Raft, sm: KvStateMachine) {
    while let Ok(Some((req, _))) = read_frame::<ApiRequest>(&mut stream).await {
        let reply = handle_api(req, &raft, &sm).await;
        if write_frame(&mut stream, &reply, &[]).await.is_err() {
            break;
        }
    }
}

fn not_leader(f: &ForwardToLeader<TypeConfig>) -> ApiReply {
    let hint = match (f.leader_id, &f.leader_node) {
        (Some(id), Some(n)) => Some((id, n.api_addr.clone())),
        _ => None,
    };
    ApiReply::NotLeader(hint)
}

fn write_error(e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> ApiReply {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => not_leader(&f),
        // The entry may or may not commit: retrying is safe for puts and deletes.
        RaftError::APIError(ClientWriteError::LogEntryDiscarded(f)) => not_leader(&f),
        RaftError::Fatal(f) => ApiReply::Retry(f.to_string()),
        other => ApiReply::Error(other.to_string()),
    }
}

async fn read_barrier(raft: &Raft, stale_ok: bool) -> Option<ApiReply> {
    if stale_ok {
        return None;
    }
    match raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
        Ok(_) => None,
        Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f))) => Some(not_leader(&f)),
        Err(e) => Some(ApiReply::Retry(e.to_string())),
    }
}

async fn handle_api(req: ApiRequest, raft: &Raft, sm: &KvStateMachine) -> ApiReply {
    let reserved = |k: &[u8]| k.starts_with(RESERVED_PREFIX);
    match req {
        ApiRequest::Put { key, .. } | ApiRequest::Delete { key } if reserved(&key) => {
            ApiReply::Error(Error::ReservedKey.to_string())
        }
        ApiRequest::Put { key, value } if (key.len() + value.len()) as u64 > MAX_ENTRY_BYTES => {
            ApiReply::Error(
                Error::Invalid(format!(
                    "key + value is {} bytes; the replicated store takes at most {MAX_ENTRY_BYTES}",
                    key.len() + value.len()
                ))
                .to_string(),
            )
        }
        ApiRequest::Put { key, value } => {
            match raft.client_write(Request::Put { key, value }).await {
                Ok(_) => ApiReply::Ok,
                Err(e) => write_error(e),
            }
        }
        ApiRequest::Delete { key } => match raft.client_write(Request::Delete { key }).await {
            Ok(_) => ApiReply::Ok,
            Err(e) => write_error(e),
        },
        ApiRequest::Get { key, stale_ok } => {
            if let Some(r) = read_barrier(raft, stale_ok).await {
                return r;
            }
            match sm.get(&key) {
                Ok(v) => ApiReply::Value(v),
                Err(e) => ApiReply::Error(e.to_string()),
            }
        }
        ApiRequest::Scan {
            start,
            end,
            limit,
            stale_ok,
        } => {
            if let Some(r) = read_barrier(raft, stale_ok).await {
                return r;
            }
            match sm.scan(&start, end.as_deref(), limit) {
                Ok(p) => ApiReply::Pairs(p),
                Err(e) => ApiReply::Error(e.to_string()),
            }
        }
        ApiRequest::Status => ApiReply::Status(Box::new(status_of(raft))),
        ApiRequest::AddLearner { id, addr } => match raft.add_learner(id, addr, true).await {
            Ok(_) => ApiReply::Ok,
            Err(e) => write_error(e),
        },
        ApiRequest::ChangeMembership { change, retain } => {
            let change = match change {
                MembershipChange::AddVoters(ids) => ChangeMembers::AddVoterIds(ids),
                MembershipChange::RemoveVoters(ids) => ChangeMembers::RemoveVoters(ids),
                MembershipChange::ReplaceVoters(ids) => ChangeMembers::ReplaceAllVoters(ids),
            };
            match raft.change_membership(change, retain).await {
                Ok(_) => ApiReply::Ok,
                Err(e) => write_error(e),
            }
        }
    }
}
