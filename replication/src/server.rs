//! The HTTP/1.1 server under both of a node's ports: the accept loop (one hyper connection
//! task per client, kept alive for any number of requests) and what every handler shares:
//! reading a bounded body, JSON and error responses.

use crate::wire::{read_body, BodyError, MAX_BODY_BYTES};
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A response with a whole body.
pub(crate) type Reply = Response<Full<Bytes>>;

/// Accepts connections on `listener` forever and answers each request with `handler`.
/// Aborting the task closes every connection it serves.
pub(crate) async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors or the like: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        conns.spawn(async move {
            let service = service_fn(move |req| {
                let answer = handler(req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            // A client that goes away mid-request is its own problem: nothing to report.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

/// The request's whole body, or the error response to send instead (413 over the limit,
/// 400 if it cannot be read).
pub(crate) async fn body_of(req: Request<Incoming>) -> Result<Bytes, Reply> {
    let (parts, body) = req.into_parts();
    match read_body(&parts.headers, body).await {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body exceeds the limit of {MAX_BODY_BYTES} bytes"),
        )),
        Err(BodyError::Broken(e)) => Err(error(
            StatusCode::BAD_REQUEST,
            &format!("unreadable body: {e}"),
        )),
    }
}

/// `value` as JSON with `status`.
pub(crate) fn json<T: Serialize>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => with_body(status, body),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("encoding the reply: {e}"),
        ),
    }
}

/// An error: `{"Error":"<message>"}` with `status` (the shape of `ApiReply::Error`).
pub(crate) fn error(status: StatusCode, message: &str) -> Reply {
    let body = serde_json::json!({ "Error": message }).to_string();
    with_body(status, body.into_bytes())
}

/// 404 for a path no handler knows.
pub(crate) fn not_found(req: &Request<Incoming>) -> Reply {
    error(
        StatusCode::NOT_FOUND,
        &format!("no such endpoint: {} {}", req.method(), req.uri().path()),
    )
}

/// 405 for a known path asked with the wrong method; `allow` is the right one.
pub(crate) fn wrong_method(req: &Request<Incoming>, allow: &'static str) -> Reply {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("{} takes {allow}, not {}", req.uri().path(), req.method()),
    );
    r.headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    r
}

fn with_body(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
