//! Raft traffic between nodes over HTTP/1.1: openraft's network traits as `POST /raft/...`
//! requests (see [`crate::wire`]). One kept-alive connection per peer, re-dialled after any
//! error; each RPC is bounded by the deadline openraft gives it.

use crate::api::InstallSnapshot;
use crate::error::{Error, Result};
use crate::http_client::HttpConn;
use crate::types::{NodeAddr, NodeId, Snapshot, TypeConfig, Vote};
use crate::wire::{
    snapshot_body, APPEND_PATH, JSON_LENGTH_HEADER, PREVOTE_PATH, SNAPSHOT_PATH, VOTE_PATH,
};
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::StatusCode;
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::RaftNetworkV2;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

/// Makes an [`HttpPeer`] per target node (dialled on first use).
#[derive(Clone, Debug, Default)]
pub struct HttpNetwork;

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = HttpPeer;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> HttpPeer {
        HttpPeer {
            target,
            conn: HttpConn::new(node.raft_addr.clone()),
        }
    }
}

/// The connection to one peer's Raft port.
#[derive(Debug)]
pub struct HttpPeer {
    target: NodeId,
    conn: HttpConn,
}

impl HttpPeer {
    /// POSTs `body` to `path` and decodes a 200's JSON; any other status is the peer's error.
    async fn call<T: DeserializeOwned>(
        &mut self,
        path: &str,
        content_type: &'static str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
        ttl: Duration,
    ) -> Result<T> {
        let (status, reply) = self
            .conn
            .post(path, content_type, headers, body, ttl)
            .await?;
        if status != StatusCode::OK {
            return Err(Error::Raft(format!(
                "node {} answered {status}: {}",
                self.target,
                String::from_utf8_lossy(&reply)
            )));
        }
        serde_json::from_slice(&reply)
            .map_err(|e| Error::Protocol(format!("node {}: bad reply to {path}: {e}", self.target)))
    }

    async fn call_json<Req: Serialize, T: DeserializeOwned>(
        &mut self,
        path: &str,
        rpc: &Req,
        ttl: Duration,
    ) -> Result<T, RPCError<TypeConfig>> {
        let body =
            serde_json::to_vec(rpc).map_err(|e| unreachable(&Error::Protocol(e.to_string())))?;
        self.call(path, "application/json", &[], body.into(), ttl)
            .await
            .map_err(|e| unreachable(&e))
    }
}

fn unreachable(e: &Error) -> RPCError<TypeConfig> {
    RPCError::Unreachable(Unreachable::new(e))
}

impl RaftNetworkV2<TypeConfig> for HttpPeer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call_json(APPEND_PATH, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call_json(VOTE_PATH, &rpc, option.hard_ttl()).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call_json(PREVOTE_PATH, &rpc, option.hard_ttl()).await
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let head = InstallSnapshot {
            vote,
            meta: snapshot.meta,
        };
        let json = serde_json::to_vec(&head).map_err(|e| {
            StreamingError::Unreachable(Unreachable::new(&Error::Protocol(e.to_string())))
        })?;
        let headers = [(
            HeaderName::from_static(JSON_LENGTH_HEADER),
            HeaderValue::from(json.len()),
        )];
        let body = snapshot_body(&json, &snapshot.snapshot);
        let ttl = option.hard_ttl();
        let outcome = tokio::select! {
            r = self.call(SNAPSHOT_PATH, "application/octet-stream", &headers, body, ttl) => Ok(r),
            closed = cancel => Err(closed),
        };
        match outcome {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(StreamingError::Unreachable(Unreachable::new(&e))),
            Err(closed) => {
                self.conn.reset(); // a request may be half sent
                Err(StreamingError::Closed(closed))
            }
        }
    }
}
