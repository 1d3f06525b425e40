//! The node's ports speak plain HTTP/1.1: these tests write requests by hand on a
//! `tokio::net::TcpStream` (no HTTP library) and read the responses byte by byte.

use replication::{ClusterStatus, Node, NodeConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 connection, requests written and responses parsed by hand.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A parsed response.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Sends `method path` with `body` (and its Content-Length) and reads the response.
    async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Response {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        self.send(head.as_bytes()).await;
        self.send(body).await;
        self.response().await
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed the connection mid-response");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    async fn response(&mut self) -> Response {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
        let status: u16 = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .expect("a response with a Content-Length");
        while self.buf.len() < len {
            self.fill().await;
        }
        let body = self.buf.drain(..len).collect();
        Response {
            status,
            headers,
            body,
        }
    }
}

async fn start(id: u64, dir: &Path, join: Option<SocketAddr>) -> Node {
    let mut config = NodeConfig::new(id, "127.0.0.1:0", "127.0.0.1:0", dir.join(format!("n{id}")));
    config.join = join.into_iter().map(|a| a.to_string()).collect();
    Node::start(config).await.unwrap()
}

/// Waits (polling) until `node` knows leader `leader` and has `voters` voters.
async fn wait_for(node: &Node, leader: u64, voters: usize) {
    loop {
        let s = node.status();
        if s.leader == Some(leader) && s.voters.len() == voters {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_api_is_plain_http_on_one_kept_alive_connection() {
    let dir = tempfile::tempdir().unwrap();
    let node = start(1, dir.path(), None).await;
    wait_for(&node, 1, 1).await;
    let mut c = Raw::connect(node.api_addr()).await;

    // "hi" -> "there", then read back, all on one connection.
    let put = c
        .request(
            "POST",
            "/api",
            br#"{"Put":{"key":[104,105],"value":[116,104,101,114,101]}}"#,
        )
        .await;
    assert_eq!((put.status, put.json()), (200, serde_json::json!("Ok")));
    assert_eq!(put.header("content-type"), Some("application/json"));
    let get = c
        .request(
            "POST",
            "/api",
            br#"{"Get":{"key":[104,105],"stale_ok":false}}"#,
        )
        .await;
    assert_eq!(get.status, 200);
    assert_eq!(
        get.json(),
        serde_json::json!({"Value": [116, 104, 101, 114, 101]})
    );
    let missing = c
        .request("POST", "/api", br#"{"Get":{"key":[0],"stale_ok":true}}"#)
        .await;
    assert_eq!(
        (missing.status, missing.json()),
        (200, serde_json::json!({"Value": null}))
    );

    let status = c.request("GET", "/status", b"").await;
    assert_eq!(status.status, 200);
    let status: ClusterStatus = serde_json::from_slice(&status.body).unwrap();
    assert_eq!((status.id, status.leader), (1, Some(1)));

    // Refusals, each a JSON error, and the connection stays usable after each.
    let bad = c.request("POST", "/api", b"{\"Put\":").await;
    assert_eq!(bad.status, 400);
    assert!(bad.json()["Error"].as_str().unwrap().contains("ApiRequest"));
    let reserved = c
        .request(
            "POST",
            "/api",
            br#"{"Delete":{"key":[0,114,97,102,116,47,120]}}"#,
        )
        .await;
    assert_eq!(reserved.status, 400);
    let unknown = c.request("GET", "/nowhere", b"").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.json()["Error"]
        .as_str()
        .unwrap()
        .contains("/nowhere"));
    let wrong = c.request("GET", "/api", b"").await;
    assert_eq!((wrong.status, wrong.header("allow")), (405, Some("POST")));
    let still = c
        .request(
            "POST",
            "/api",
            br#"{"Get":{"key":[104,105],"stale_ok":true}}"#,
        )
        .await;
    assert_eq!(still.status, 200);

    // A body announced over the limit (1 GiB) is refused before any of it is sent.
    c.send(b"POST /api HTTP/1.1\r\nHost: test\r\nContent-Length: 2000000000\r\n\r\n")
        .await;
    let too_big = c.response().await;
    assert_eq!(too_big.status, 413);

    // The Raft port speaks the same HTTP.
    let mut r = Raw::connect(node.raft_addr()).await;
    let bad_vote = r.request("POST", "/raft/vote", b"{").await;
    assert_eq!(bad_vote.status, 400);
    let no_header = r.request("POST", "/raft/snapshot", b"{}").await;
    assert_eq!(no_header.status, 400);
    assert_eq!(r.request("GET", "/raft/append", b"").await.status, 405);
    assert_eq!(r.request("POST", "/api", b"{}").await.status, 404);
    node.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_redirects_a_write_to_the_leader_with_307_and_location() {
    let dir = tempfile::tempdir().unwrap();
    let leader = start(1, dir.path(), None).await;
    wait_for(&leader, 1, 1).await;
    let follower = start(2, dir.path(), Some(leader.api_addr())).await;
    wait_for(&follower, 1, 2).await;

    let mut c = Raw::connect(follower.api_addr()).await;
    let put = c
        .request("POST", "/api", br#"{"Put":{"key":[107],"value":[118]}}"#)
        .await;
    assert_eq!(put.status, 307);
    let location = format!("http://{}/api", leader.api_addr());
    assert_eq!(put.header("location"), Some(location.as_str()));
    assert_eq!(
        put.json(),
        serde_json::json!({"NotLeader": [1, leader.api_addr().to_string()]})
    );

    // Following the redirect by hand works.
    let mut l = Raw::connect(leader.api_addr()).await;
    let put = l
        .request("POST", "/api", br#"{"Put":{"key":[107],"value":[118]}}"#)
        .await;
    assert_eq!(put.status, 200);
    follower.stop().await.unwrap();
    leader.stop().await.unwrap();
}
