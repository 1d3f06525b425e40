//! Raft traffic between nodes over TCP: openraft's network traits on [`crate::wire`] frames.
//! One connection per peer, kept open and re-dialled after any error; each RPC is bounded by
//! the deadline openraft gives it.

use crate::api::{RaftRpc, RaftRpcReply};
use crate::error::{Error, Result};
use crate::types::{NodeAddr, NodeId, Snapshot, TypeConfig, Vote};
use crate::wire::{read_frame, write_frame};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::RaftNetworkV2;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpStream;

/// Makes a [`TcpPeer`] per target node (dialled on first use).
#[derive(Clone, Debug, Default)]
pub struct TcpNetwork;

impl RaftNetworkFactory<TypeConfig> for TcpNetwork {
    type Network = TcpPeer;

    async fn new_client(&mut self, target: NodeId, node: &NodeAddr) -> TcpPeer {
        TcpPeer {
            target,
            addr: node.raft_addr.clone(),
            conn: None,
        }
    }
}

/// The connection to one peer's Raft port.
#[derive(Debug)]
pub struct TcpPeer {
    target: NodeId,
    addr: String,
    conn: Option<TcpStream>,
}

impl TcpPeer {
    async fn call(&mut self, rpc: &RaftRpc, blob: &[u8], ttl: Duration) -> Result<RaftRpcReply> {
        let result = tokio::time::timeout(ttl, self.call_inner(rpc, blob)).await;
        let result = match result {
            Ok(r) => r,
            Err(_) => Err(Error::Unavailable(format!(
                "node {} at {}: no answer within {ttl:?}",
                self.target, self.addr
            ))),
        };
        if result.is_err() {
            self.conn = None; // the stream may be mid-frame: start afresh
        }
        result
    }

    async fn call_inner(&mut self, rpc: &RaftRpc, blob: &[u8]) -> Result<RaftRpcReply> {
        let stream = match &mut self.conn {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(&self.addr).await?;
                s.set_nodelay(true)?;
                self.conn.insert(s)
            }
        };
        write_frame(stream, rpc, blob).await?;
        match read_frame(stream).await? {
            Some((reply, _)) => Ok(reply),
            None => Err(Error::Unavailable(format!(
                "node {} closed the connection",
                self.target
            ))),
        }
    }
}

fn unreachable(e: &Error) -> RPCError<TypeConfig> {
    RPCError::Unreachable(Unreachable::new(e))
}

fn unexpected(reply: RaftRpcReply) -> Error {
    match reply {
        RaftRpcReply::Error(e) => Error::Raft(e),
        other => Error::Protocol(format!("unexpected reply {other:?}")),
    }
}

impl RaftNetworkV2<TypeConfig> for TcpPeer {
    type SnapshotData = Vec<u8>;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(&RaftRpc::Append(rpc), &[], option.hard_ttl())
            .await
        {
            Ok(RaftRpcReply::Append(r)) => Ok(r),
            Ok(other) => Err(unreachable(&unexpected(other))),
            Err(e) => Err(unreachable(&e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(&RaftRpc::Vote(rpc), &[], option.hard_ttl()).await {
            Ok(RaftRpcReply::Vote(r)) => Ok(r),
            Ok(other) => Err(unreachable(&unexpected(other))),
            Err(e) => Err(unreachable(&e)),
        }
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(&RaftRpc::PreVote(rpc), &[], option.hard_ttl())
            .await
        {
            Ok(RaftRpcReply::Vote(r)) => Ok(r),
            Ok(other) => Err(unreachable(&unexpected(other))),
            Err(e) => Err(unreachable(&e)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let rpc = RaftRpc::Snapshot {
            vote,
            meta: snapshot.meta,
        };
        let ttl = option.hard_ttl();
        let outcome = tokio::select! {
            r = self.call(&rpc, &snapshot.snapshot, ttl) => Ok(r),
            closed = cancel => Err(closed),
        };
        match outcome {
            Ok(Ok(RaftRpcReply::Snapshot(r))) => Ok(r),
            Ok(Ok(other)) => Err(StreamingError::Unreachable(Unreachable::new(&unexpected(
                other,
            )))),
            Ok(Err(e)) => Err(StreamingError::Unreachable(Unreachable::new(&e))),
            Err(closed) => {
                self.conn = None; // a frame may be half sent
                Err(StreamingError::Closed(closed))
            }
        }
    }
}
