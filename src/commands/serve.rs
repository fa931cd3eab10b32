//! `watch --metrics-listen ADDR`: a minimal HTTP/1.1 responder for Prometheus. `GET
//! /metrics` gets the registry in the text format; anything else 404. One request per
//! connection (then it is closed), at most 4 KiB of it, read within 5 s.

use super::metrics::Shared;
use crate::error::Error;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bind `addr` (an error now, exit 2, if it cannot be) and answer scrapes from then on.
pub async fn metrics(addr: SocketAddr, reg: Shared) -> Result<(), Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::BadInput(format!("--metrics-listen {addr}: {e}")))?;
    log::info!("serving metrics on http://{addr}/metrics");
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((conn, _)) => {
                    tokio::spawn(answer(conn, reg.clone()));
                }
                Err(e) => {
                    log::warn!("--metrics-listen {addr}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(())
}

async fn answer(mut conn: TcpStream, reg: Shared) {
    let mut buf = Vec::with_capacity(512);
    let read = async {
        let mut chunk = [0u8; 512];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 4096 {
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        true
    };
    if !matches!(tokio::time::timeout(Duration::from_secs(5), read).await, Ok(true)) {
        return;
    }
    let line = buf.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, target) = (parts.next(), parts.next().map(|t| t.split(|b| *b == b'?').next().unwrap_or(t)));
    let (status, kind, body) = match (method, target) {
        (Some(b"GET"), Some(b"/metrics")) => {
            let body = reg.lock().map(|r| r.render()).unwrap_or_default();
            ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
        }
        _ => ("404 Not Found", "text/plain; charset=utf-8", "not found: GET /metrics\n".to_string()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(body.as_bytes()).await;
    let _ = conn.shutdown().await;
}
