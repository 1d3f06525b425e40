//! The wire: HTTP/1.1 (keep-alive) on both of a node's ports. The endpoints, the body limit,
//! and the one body that is not plain JSON (a snapshot: JSON then the snapshot file's bytes).
//! Every endpoint, body and status code is listed in `docs/replication.md`, "The wire".
//!
//! - Client API (`--listen`): `POST /api` with an [`ApiRequest`](crate::api::ApiRequest) as
//!   JSON, answered by an [`ApiReply`](crate::api::ApiReply) as JSON; `GET /status` answers
//!   a [`ClusterStatus`](crate::ClusterStatus).
//! - Raft (`--raft-listen`): `POST /raft/append`, `/raft/vote`, `/raft/prevote` (openraft's
//!   request as JSON, its response as JSON) and `POST /raft/snapshot`.

use crate::error::{Error, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::header::{HeaderMap, CONTENT_LENGTH};

/// Largest body accepted or sent, either way, on either port (a snapshot travels in one body).
pub const MAX_BODY_BYTES: u64 = 1 << 30;

/// The client API: an `ApiRequest` in, an `ApiReply` out.
pub const API_PATH: &str = "/api";
/// This node's view of the cluster (`GET`).
pub const STATUS_PATH: &str = "/status";
/// openraft's AppendEntries.
pub const APPEND_PATH: &str = "/raft/append";
/// openraft's RequestVote.
pub const VOTE_PATH: &str = "/raft/vote";
/// openraft's pre-vote.
pub const PREVOTE_PATH: &str = "/raft/prevote";
/// A whole snapshot: see [`snapshot_body`].
pub const SNAPSHOT_PATH: &str = "/raft/snapshot";
/// Header of a snapshot request: how many leading bytes of the body are JSON.
pub const JSON_LENGTH_HEADER: &str = "x-json-length";

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Longer than [`MAX_BODY_BYTES`] (announced or found while reading).
    TooLarge,
    /// The connection failed or the body was malformed (chunked framing, early end).
    Broken(String),
}

/// Reads a whole body, refusing one over [`MAX_BODY_BYTES`]: by its `Content-Length` before
/// reading anything, and by counting while reading (chunked bodies announce no length).
pub(crate) async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    read_body_within(headers, body, MAX_BODY_BYTES).await
}

async fn read_body_within<B>(headers: &HeaderMap, body: B, max: u64) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if let Some(len) = headers.get(CONTENT_LENGTH) {
        let len = len
            .to_str()
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| BodyError::Broken("unreadable Content-Length".into()))?;
        if len > max {
            return Err(BodyError::TooLarge);
        }
    }
    let limit = usize::try_from(max).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Err(e) => Err(BodyError::Broken(e.to_string())),
    }
}

/// A snapshot request's body: `json` (the vote and the snapshot's metadata) immediately
/// followed by `blob` (the snapshot file); the JSON's length goes in [`JSON_LENGTH_HEADER`].
pub fn snapshot_body(json: &[u8], blob: &[u8]) -> Bytes {
    let mut body = Vec::with_capacity(json.len() + blob.len());
    body.extend_from_slice(json);
    body.extend_from_slice(blob);
    Bytes::from(body)
}

/// Splits a snapshot request's body at the length its [`JSON_LENGTH_HEADER`] gives.
pub fn split_snapshot_body(headers: &HeaderMap, body: &Bytes) -> Result<(Bytes, Bytes)> {
    let json_len = headers
        .get(JSON_LENGTH_HEADER)
        .ok_or_else(|| Error::Protocol(format!("missing {JSON_LENGTH_HEADER} header")))?
        .to_str()
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or_else(|| Error::Protocol(format!("unreadable {JSON_LENGTH_HEADER} header")))?;
    if json_len > body.len() {
        return Err(Error::Protocol(format!(
            "{JSON_LENGTH_HEADER} is {json_len} but the body has {} bytes",
            body.len()
        )));
    }
    Ok((body.slice(..json_len), body.slice(json_len..)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;
    use hyper::header::HeaderValue;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_snapshot_body_splits_back_into_its_json_and_blob() {
        let body = snapshot_body(b"{\"a\":1}", b"\x00blob");
        let (json, blob) = split_snapshot_body(&headers(JSON_LENGTH_HEADER, "7"), &body).unwrap();
        assert_eq!(
            (&json[..], &blob[..]),
            (&b"{\"a\":1}"[..], &b"\x00blob"[..])
        );
        for bad in [HeaderMap::new(), headers(JSON_LENGTH_HEADER, "x")] {
            assert!(matches!(
                split_snapshot_body(&bad, &body),
                Err(Error::Protocol(_))
            ));
        }
        let long = headers(JSON_LENGTH_HEADER, "13");
        assert!(matches!(
            split_snapshot_body(&long, &body),
            Err(Error::Protocol(_))
        ));
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_refused_by_length_or_while_read() {
        let small = read_body(&HeaderMap::new(), Full::new(Bytes::from_static(b"abc"))).await;
        assert_eq!(&small.unwrap()[..], b"abc");
        let announced = headers("content-length", &(MAX_BODY_BYTES + 1).to_string());
        let r = read_body(&announced, Full::new(Bytes::new())).await;
        assert!(matches!(r, Err(BodyError::TooLarge)));
        let garbled = headers("content-length", "ten");
        let r = read_body(&garbled, Full::new(Bytes::new())).await;
        assert!(matches!(r, Err(BodyError::Broken(_))));
        // A chunked body announces nothing: it is counted (a small limit stands in for 1 GiB).
        let chunks = |n: usize| {
            StreamBody::new(futures_util::stream::iter((0..n).map(|_| {
                Ok::<_, std::io::Error>(Frame::data(Bytes::from_static(b"0123")))
            })))
        };
        let r = read_body_within(&HeaderMap::new(), chunks(3), 12).await;
        assert_eq!(r.unwrap().len(), 12);
        let r = read_body_within(&HeaderMap::new(), chunks(4), 12).await;
        assert!(matches!(r, Err(BodyError::TooLarge)));
    }
}
