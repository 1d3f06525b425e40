//! The Raft side of a node over HTTP: `POST /raft/append`, `/raft/vote`, `/raft/prevote`
//! (openraft's request as JSON in, its response as JSON out) and `POST /raft/snapshot` (the
//! vote and metadata as JSON, then the snapshot file, split by the `X-Json-Length` header).

use crate::api::InstallSnapshot;
use crate::server::{self, body_of, error, json, not_found, wrong_method, Reply};
use crate::types::{Raft, Snapshot};
use crate::wire::{split_snapshot_body, APPEND_PATH, PREVOTE_PATH, SNAPSHOT_PATH, VOTE_PATH};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Display;
use tokio::net::TcpListener;

/// Serves Raft RPCs from the other nodes on `listener`.
pub(crate) async fn serve_raft(listener: TcpListener, raft: Raft) {
    server::serve(listener, move |req| {
        let raft = raft.clone();
        async move { route(req, raft).await }
    })
    .await;
}

async fn route(req: Request<Incoming>, raft: Raft) -> Reply {
    let path = req.uri().path();
    if ![APPEND_PATH, VOTE_PATH, PREVOTE_PATH, SNAPSHOT_PATH].contains(&path) {
        return not_found(&req);
    }
    if req.method() != Method::POST {
        return wrong_method(&req, "POST");
    }
    let path = path.to_string();
    let headers = req.headers().clone();
    let body = match body_of(req).await {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    match path.as_str() {
        APPEND_PATH => match parse(&body) {
            Ok(rpc) => answer(raft.append_entries(rpc).await),
            Err(e) => bad_request(&e),
        },
        VOTE_PATH => match parse(&body) {
            Ok(rpc) => answer(raft.vote(rpc).await),
            Err(e) => bad_request(&e),
        },
        PREVOTE_PATH => match parse(&body) {
            Ok(rpc) => answer(raft.pre_vote(rpc).await),
            Err(e) => bad_request(&e),
        },
        _ => {
            let (head, blob) = match split_snapshot_body(&headers, &body) {
                Ok(parts) => parts,
                Err(e) => return bad_request(&e.to_string()),
            };
            let InstallSnapshot { vote, meta } = match parse(&head) {
                Ok(h) => h,
                Err(e) => return bad_request(&e),
            };
            let snapshot = Snapshot {
                meta,
                snapshot: blob.to_vec(),
            };
            answer(raft.install_full_snapshot(vote, snapshot).await)
        }
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad request body: {e}"))
}

fn bad_request(reason: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, reason)
}

/// 200 with openraft's response, or 503 if this node's Raft failed (it is shutting down).
fn answer<T: Serialize, E: Display>(r: Result<T, E>) -> Reply {
    match r {
        Ok(resp) => json(StatusCode::OK, &resp),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}
