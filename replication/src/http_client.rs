//! One kept-alive HTTP/1.1 connection to one address (hyper's `client::conn::http1`): dialled
//! on first use, reused request after request, dropped after any error or timeout and dialled
//! afresh by the next request. Used for Raft traffic (one per peer) and by the cluster client.

use crate::error::{Error, Result};
use crate::wire::{read_body, BodyError};
use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::fmt;
use std::time::Duration;
use tokio::net::TcpStream;

/// A connection to `addr` (`host:port`), open or not.
pub(crate) struct HttpConn {
    addr: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl fmt::Debug for HttpConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConn")
            .field("addr", &self.addr)
            .field("open", &self.is_open())
            .finish()
    }
}

impl HttpConn {
    /// Not connected yet.
    pub(crate) fn new(addr: impl Into<String>) -> HttpConn {
        HttpConn {
            addr: addr.into(),
            sender: None,
        }
    }

    /// Whether a kept-alive connection is there to reuse.
    pub(crate) fn is_open(&self) -> bool {
        self.sender.as_ref().is_some_and(|s| !s.is_closed())
    }

    /// Drops the connection (a request was abandoned half way).
    pub(crate) fn reset(&mut self) {
        self.sender = None;
    }

    /// `POST path` with `body` (`content_type`, plus `headers`); the status and the whole
    /// response body (at most [`crate::wire::MAX_BODY_BYTES`]). Gives up after `ttl`.
    pub(crate) async fn post(
        &mut self,
        path: &str,
        content_type: &'static str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
        ttl: Duration,
    ) -> Result<(StatusCode, Bytes)> {
        let result =
            match tokio::time::timeout(ttl, self.post_inner(path, content_type, headers, body))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(Error::Unavailable(format!(
                    "{}: no answer within {ttl:?}",
                    self.addr
                ))),
            };
        if result.is_err() {
            self.reset(); // a request may be half sent or half answered: start afresh
        }
        result
    }

    async fn post_inner(
        &mut self,
        path: &str,
        content_type: &'static str,
        headers: &[(HeaderName, HeaderValue)],
        body: Bytes,
    ) -> Result<(StatusCode, Bytes)> {
        let unavailable = |e: hyper::Error| Error::Unavailable(format!("{}: {e}", self.addr));
        if !self.is_open() {
            self.sender = Some(self.dial().await?);
        }
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.addr.as_str())
            .header(CONTENT_TYPE, content_type);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| Error::Protocol(format!("request to {}: {e}", self.addr)))?;
        let Some(sender) = self.sender.as_mut() else {
            return Err(Error::Unavailable(format!("{}: not connected", self.addr)));
        };
        sender.ready().await.map_err(unavailable)?;
        let resp = sender.send_request(req).await.map_err(unavailable)?;
        let (parts, body) = resp.into_parts();
        match read_body(&parts.headers, body).await {
            Ok(bytes) => Ok((parts.status, bytes)),
            Err(BodyError::TooLarge) => Err(Error::Protocol(format!(
                "{}: the reply exceeds the body limit",
                self.addr
            ))),
            Err(BodyError::Broken(e)) => Err(Error::Unavailable(format!("{}: {e}", self.addr))),
        }
    }

    async fn dial(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Error::Unavailable(format!("{}: {e}", self.addr)))?;
        // Drives the connection; it ends when the sender is dropped or the peer closes.
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}
