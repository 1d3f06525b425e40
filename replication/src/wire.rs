//! The wire: length-prefixed JSON frames over TCP, one request and one reply at a time per
//! connection. A frame is `json_len: u32 LE`, `blob_len: u32 LE`, the JSON message, then an
//! opaque blob (a snapshot's bytes travel there, not as JSON). See `docs/replication.md`.

use crate::error::{Error, Result};
use crate::format::MAX_FRAME_BYTES;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes one frame: `msg` as JSON and `blob`.
pub async fn write_frame<T: Serialize>(stream: &mut TcpStream, msg: &T, blob: &[u8]) -> Result<()> {
    let json = serde_json::to_vec(msg).map_err(|e| Error::Protocol(e.to_string()))?;
    let too_big =
        |n: usize| Error::Protocol(format!("a frame part of {n} bytes exceeds the limit"));
    let json_len = u32::try_from(json.len())
        .ok()
        .filter(|&n| n <= MAX_FRAME_BYTES)
        .ok_or_else(|| too_big(json.len()))?;
    let blob_len = u32::try_from(blob.len())
        .ok()
        .filter(|&n| n <= MAX_FRAME_BYTES)
        .ok_or_else(|| too_big(blob.len()))?;
    let mut head = [0u8; 8];
    head[..4].copy_from_slice(&json_len.to_le_bytes());
    head[4..].copy_from_slice(&blob_len.to_le_bytes());
    stream.write_all(&head).await?;
    stream.write_all(&json).await?;
    stream.write_all(blob).await?;
    stream.flush().await?;
    Ok(())
}

/// Reads one frame; `None` if the peer closed the connection before a frame began.
pub async fn read_frame<T: DeserializeOwned>(
    stream: &mut TcpStream,
) -> Result<Option<(T, Vec<u8>)>> {
    let mut head = [0u8; 8];
    match stream.read_exact(&mut head[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    stream.read_exact(&mut head[1..]).await?;
    let json_len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let blob_len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if json_len > MAX_FRAME_BYTES || blob_len > MAX_FRAME_BYTES {
        return Err(Error::Protocol(format!(
            "frame of {json_len} + {blob_len} bytes exceeds the limit"
        )));
    }
    let mut json = vec![0u8; json_len as usize];
    stream.read_exact(&mut json).await?;
    let mut blob = vec![0u8; blob_len as usize];
    stream.read_exact(&mut blob).await?;
    let msg =
        serde_json::from_slice(&json).map_err(|e| Error::Protocol(format!("bad message: {e}")))?;
    Ok(Some((msg, blob)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn frames_round_trip_and_bad_ones_are_errors() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let got: Option<(Vec<String>, Vec<u8>)> = read_frame(&mut s).await.unwrap();
            let bad: Result<Option<(Vec<String>, Vec<u8>)>> = read_frame(&mut s).await;
            (got, bad.is_err())
        });
        let mut c = TcpStream::connect(addr).await.unwrap();
        write_frame(&mut c, &vec!["a".to_string()], b"blob")
            .await
            .unwrap();
        c.write_all(&[2, 0, 0, 0, 0, 0, 0, 0, b'{', b'x'])
            .await
            .unwrap();
        let (got, bad) = server.await.unwrap();
        assert_eq!(got, Some((vec!["a".to_string()], b"blob".to_vec())));
        assert!(bad);
    }
}
