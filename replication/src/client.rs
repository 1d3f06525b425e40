//! The cluster client: what `kv --cluster ADDR[,ADDR...]` and `kv cluster ...` use. Writes
//! and linearizable reads go to the leader (a follower's `NotLeader` reply names it; the
//! client follows and remembers it); `stale_ok` reads go to any node that answers. Requests
//! are retried on other nodes while an election runs, up to the client's deadline. Each
//! request is a `POST /api` (see [`crate::wire`]) on a kept-alive connection to that node.

use crate::api::{ApiReply, ApiRequest, ClusterStatus, MembershipChange};
use crate::error::{Error, Result};
use crate::http_client::HttpConn;
use crate::types::{NodeAddr, NodeId};
use crate::wire::API_PATH;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// A client for a running cluster. `Send + Sync`; share it.
#[derive(Debug)]
pub struct ClusterClient {
    seeds: Vec<String>,
    leader: Mutex<Option<String>>,
    /// Open connections not in use, at most one per address (a request takes its node's out, or
    /// dials a new one; it is put back only if still open).
    idle: Mutex<HashMap<String, HttpConn>>,
    deadline: Duration,
    per_try: Duration,
}

/// Pause between rounds over all known nodes (an election is under way).
const RETRY_PAUSE: Duration = Duration::from_millis(100);

impl ClusterClient {
    /// A client that knows these client-API addresses (`host:port`); gives up on a request
    /// after 10 s.
    pub fn new<S: Into<String>>(addrs: impl IntoIterator<Item = S>) -> ClusterClient {
        ClusterClient {
            seeds: addrs.into_iter().map(Into::into).collect(),
            leader: Mutex::new(None),
            idle: Mutex::new(HashMap::new()),
            deadline: Duration::from_secs(10),
            per_try: Duration::from_secs(5),
        }
    }

    /// Sets how long one request may take in all, retries included.
    pub fn with_deadline(mut self, deadline: Duration) -> ClusterClient {
        self.deadline = deadline;
        self.per_try = self.per_try.min(deadline);
        self
    }

    /// Sets `key` to `value`; returns once the write is committed and applied on the leader.
    pub async fn put(&self, key: &[u8], value: &[u8]) -> Result<()> {
        let req = ApiRequest::Put {
            key: key.to_vec(),
            value: value.to_vec(),
        };
        expect_ok(self.to_leader(req).await?)
    }

    /// Removes `key` (committed and applied when it returns).
    pub async fn delete(&self, key: &[u8]) -> Result<()> {
        expect_ok(
            self.to_leader(ApiRequest::Delete { key: key.to_vec() })
                .await?,
        )
    }

    /// Reads `key`: linearizable (through the leader), or any node's state if `stale_ok`.
    pub async fn get(&self, key: &[u8], stale_ok: bool) -> Result<Option<Vec<u8>>> {
        let req = ApiRequest::Get {
            key: key.to_vec(),
            stale_ok,
        };
        match self.route(req, stale_ok).await? {
            ApiReply::Value(v) => Ok(v),
            other => Err(unexpected(other)),
        }
    }

    /// Up to `limit` pairs with `start <= key < end` (`None`: to the last key), in key order.
    pub async fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
        stale_ok: bool,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let req = ApiRequest::Scan {
            start: start.to_vec(),
            end: end.map(<[u8]>::to_vec),
            limit,
            stale_ok,
        };
        match self.route(req, stale_ok).await? {
            ApiReply::Pairs(p) => Ok(p),
            other => Err(unexpected(other)),
        }
    }

    /// The leader's view of the cluster (or, with no leader, the first node that answers).
    pub async fn status(&self) -> Result<ClusterStatus> {
        let any = match self.route(ApiRequest::Status, true).await? {
            ApiReply::Status(s) => *s,
            other => return Err(unexpected(other)),
        };
        let leader_addr = any
            .leader
            .and_then(|l| any.nodes.get(&l))
            .map(|n| n.api_addr.clone());
        if let Some(addr) = leader_addr {
            if any.leader != Some(any.id) {
                if let Ok(ApiReply::Status(s)) = self.call(&addr, &ApiRequest::Status).await {
                    return Ok(*s);
                }
            }
        }
        Ok(any)
    }

    /// One node's own view (`addr` is its client address).
    pub async fn node_status(&self, addr: &str) -> Result<ClusterStatus> {
        match self.call(addr, &ApiRequest::Status).await? {
            ApiReply::Status(s) => Ok(*s),
            other => Err(unexpected(other)),
        }
    }

    /// Adds node `id` as a learner; returns once it has caught up with the leader.
    pub async fn add_learner(&self, id: NodeId, addr: NodeAddr) -> Result<()> {
        expect_ok(self.to_leader(ApiRequest::AddLearner { id, addr }).await?)
    }

    /// Changes the voters; returns once the change is committed. `retain`: removed voters
    /// stay as learners.
    pub async fn change_membership(&self, change: MembershipChange, retain: bool) -> Result<()> {
        expect_ok(
            self.to_leader(ApiRequest::ChangeMembership { change, retain })
                .await?,
        )
    }

    /// Makes node `id` a voter: adds it as a learner unless it is one, then promotes it.
    /// Idempotent.
    pub async fn join(&self, id: NodeId, addr: NodeAddr) -> Result<()> {
        let status = self.status().await?;
        if status.voters.contains(&id) {
            return Ok(());
        }
        if !status.learners.contains(&id) {
            self.add_learner(id, addr).await?;
        }
        self.change_membership(MembershipChange::AddVoters([id].into()), true)
            .await
    }

    async fn to_leader(&self, req: ApiRequest) -> Result<ApiReply> {
        self.route(req, false).await
    }

    /// Sends `req` to the leader (following redirects) or, if `any_node`, to the first node
    /// that answers; retries until the deadline.
    async fn route(&self, req: ApiRequest, any_node: bool) -> Result<ApiReply> {
        let until = Instant::now() + self.deadline;
        let mut last_err = String::from("no address to try");
        loop {
            let mut candidates: Vec<String> = Vec::new();
            if let Some(l) = lock(&self.leader).clone() {
                candidates.push(l);
            }
            candidates.extend(self.seeds.iter().cloned());
            let mut i = 0;
            while i < candidates.len() && i < 16 {
                let addr = candidates[i].clone();
                i += 1;
                match self.call(&addr, &req).await {
                    Ok(ApiReply::NotLeader(hint)) if !any_node => {
                        last_err = format!("{addr} is not the leader");
                        if let Some((_, leader_addr)) = hint {
                            if !candidates[i..].contains(&leader_addr) {
                                candidates.insert(i, leader_addr);
                            }
                        }
                    }
                    Ok(ApiReply::Retry(e)) => last_err = format!("{addr}: {e}"),
                    Ok(ApiReply::Error(e)) => return Err(Error::Raft(format!("{addr}: {e}"))),
                    Ok(reply) => {
                        if !any_node {
                            *lock(&self.leader) = Some(addr);
                        }
                        return Ok(reply);
                    }
                    Err(e) => last_err = format!("{addr}: {e}"),
                }
            }
            *lock(&self.leader) = None;
            if Instant::now() + RETRY_PAUSE >= until {
                return Err(Error::Unavailable(last_err));
            }
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }

    /// One request to one node, bounded in time. The reply is the body's `ApiReply`
    /// whatever the status (the status only mirrors it).
    async fn call(&self, addr: &str, req: &ApiRequest) -> Result<ApiReply> {
        let body = serde_json::to_vec(req).map_err(|e| Error::Protocol(e.to_string()))?;
        let taken = lock(&self.idle).remove(addr);
        let mut conn = taken.unwrap_or_else(|| HttpConn::new(addr));
        let (status, reply) = conn
            .post(API_PATH, "application/json", &[], body.into(), self.per_try)
            .await?;
        if conn.is_open() {
            lock(&self.idle).insert(addr.to_string(), conn);
        }
        serde_json::from_slice(&reply).map_err(|e| {
            Error::Protocol(format!("{addr} answered {status} without an ApiReply: {e}"))
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn expect_ok(reply: ApiReply) -> Result<()> {
    match reply {
        ApiReply::Ok => Ok(()),
        other => Err(unexpected(other)),
    }
}

fn unexpected(reply: ApiReply) -> Error {
    match reply {
        ApiReply::Error(e) => Error::Raft(e),
        ApiReply::NotLeader(l) => Error::NotLeader { leader: l },
        other => Error::Protocol(format!("unexpected reply {other:?}")),
    }
}
