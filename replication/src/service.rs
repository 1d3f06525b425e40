//! The client API of a node over HTTP (`POST /api`, `GET /status`): what each request does
//! (writes through `client_write`, linearizable reads behind `ensure_linearizable` with a read
//! index, membership changes, status) and the status code it answers with.

use crate::api::{ApiReply, ApiRequest, ClusterStatus, MembershipChange};
use crate::error::Error;
use crate::server::{self, body_of, error, json, not_found, wrong_method, Reply};
use crate::state_machine::{KvStateMachine, MAX_ENTRY_BYTES, RESERVED_PREFIX};
use crate::types::{Raft, Request, TypeConfig};
use crate::wire::{API_PATH, STATUS_PATH};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, LOCATION, RETRY_AFTER};
use hyper::{Method, StatusCode};
use openraft::error::{ClientWriteError, ForwardToLeader, LinearizableReadError, RaftError};
use openraft::{ChangeMembers, ReadPolicy};
use tokio::net::TcpListener;

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

/// Serves the client API (`POST /api`, `GET /status`) on `listener`.
pub(crate) async fn serve_api(listener: TcpListener, raft: Raft, sm: KvStateMachine) {
    server::serve(listener, move |req| {
        let (raft, sm) = (raft.clone(), sm.clone());
        async move { route(req, raft, sm).await }
    })
    .await;
}

async fn route(req: hyper::Request<Incoming>, raft: Raft, sm: KvStateMachine) -> Reply {
    match (req.uri().path(), req.method()) {
        (API_PATH, &Method::POST) => {}
        (API_PATH, _) => return wrong_method(&req, "POST"),
        (STATUS_PATH, &Method::GET) => return json(StatusCode::OK, &status_of(&raft)),
        (STATUS_PATH, _) => return wrong_method(&req, "GET"),
        _ => return not_found(&req),
    }
    let body = match body_of(req).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    let request: ApiRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not an ApiRequest: {e}"),
            )
        }
    };
    let (status, reply) = handle_api(request, &raft, &sm).await;
    let mut response = json(status, &reply);
    match &reply {
        ApiReply::NotLeader(Some((_, addr))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("http://{addr}{API_PATH}")) {
                response.headers_mut().insert(LOCATION, v);
            }
        }
        ApiReply::NotLeader(None) | ApiReply::Retry(_) => {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}

/// What a client request gets: an HTTP status and the reply.
type Answer = (StatusCode, ApiReply);

fn ok(reply: ApiReply) -> Answer {
    (StatusCode::OK, reply)
}

fn failed(status: StatusCode, reason: impl ToString) -> Answer {
    (status, ApiReply::Error(reason.to_string()))
}

/// No quorum, no leader yet, shutting down: try another node or later.
fn retry(reason: impl ToString) -> Answer {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        ApiReply::Retry(reason.to_string()),
    )
}

/// 307 to the leader (the reply and the `Location` header name it), or 503 while there is
/// none.
fn not_leader(f: &ForwardToLeader<TypeConfig>) -> Answer {
    match (f.leader_id, &f.leader_node) {
        (Some(id), Some(n)) => (
            StatusCode::TEMPORARY_REDIRECT,
            ApiReply::NotLeader(Some((id, n.api_addr.clone()))),
        ),
        _ => (StatusCode::SERVICE_UNAVAILABLE, ApiReply::NotLeader(None)),
    }
}

fn write_error(e: RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> Answer {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => not_leader(&f),
        // The entry may or may not commit: retrying is safe for puts and deletes.
        RaftError::APIError(ClientWriteError::LogEntryDiscarded(f)) => not_leader(&f),
        RaftError::Fatal(f) => retry(f),
        // A membership change Raft refuses (one in progress, an unknown learner...).
        other => failed(StatusCode::CONFLICT, other),
    }
}

async fn read_barrier(raft: &Raft, stale_ok: bool) -> Option<Answer> {
    if stale_ok {
        return None;
    }
    match raft.ensure_linearizable(ReadPolicy::ReadIndex).await {
        Ok(_) => None,
        Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f))) => Some(not_leader(&f)),
        Err(e) => Some(retry(e)),
    }
}

async fn handle_api(req: ApiRequest, raft: &Raft, sm: &KvStateMachine) -> Answer {
    let reserved = |k: &[u8]| k.starts_with(RESERVED_PREFIX);
    match req {
        ApiRequest::Put { key, .. } | ApiRequest::Delete { key } if reserved(&key) => {
            failed(StatusCode::BAD_REQUEST, Error::ReservedKey)
        }
        ApiRequest::Put { key, value } if (key.len() + value.len()) as u64 > MAX_ENTRY_BYTES => {
            failed(
                StatusCode::PAYLOAD_TOO_LARGE,
                Error::Invalid(format!(
                    "key + value is {} bytes; the replicated store takes at most {MAX_ENTRY_BYTES}",
                    key.len() + value.len()
                )),
            )
        }
        ApiRequest::Put { key, value } => {
            match raft.client_write(Request::Put { key, value }).await {
                Ok(_) => ok(ApiReply::Ok),
                Err(e) => write_error(e),
            }
        }
        ApiRequest::Delete { key } => match raft.client_write(Request::Delete { key }).await {
            Ok(_) => ok(ApiReply::Ok),
            Err(e) => write_error(e),
        },
        ApiRequest::Get { key, stale_ok } => {
            if let Some(r) = read_barrier(raft, stale_ok).await {
                return r;
            }
            match sm.get(&key) {
                Ok(v) => ok(ApiReply::Value(v)),
                Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, e),
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
                Ok(p) => ok(ApiReply::Pairs(p)),
                Err(e) => failed(StatusCode::INTERNAL_SERVER_ERROR, e),
            }
        }
        ApiRequest::Status => ok(ApiReply::Status(Box::new(status_of(raft)))),
        ApiRequest::AddLearner { id, addr } => match raft.add_learner(id, addr, true).await {
            Ok(_) => ok(ApiReply::Ok),
            Err(e) => write_error(e),
        },
        ApiRequest::ChangeMembership { change, retain } => {
            let change = match change {
                MembershipChange::AddVoters(ids) => ChangeMembers::AddVoterIds(ids),
                MembershipChange::RemoveVoters(ids) => ChangeMembers::RemoveVoters(ids),
                MembershipChange::ReplaceVoters(ids) => ChangeMembers::ReplaceAllVoters(ids),
            };
            match raft.change_membership(change, retain).await {
                Ok(_) => ok(ApiReply::Ok),
                Err(e) => write_error(e),
            }
        }
    }
}
