//! Test fixtures for the guard: a fake `HostResolver` with canned answers and a one-shot HTTP listener on
//! 127.0.0.1, so tests send no traffic beyond the loopback interface.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Once;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{HostResolver, ResolveFuture};

/// Answers from a fixed table; a name not in it fails as "not found".
#[derive(Debug, Clone, Default)]
pub struct FakeResolver {
    answers: HashMap<String, Vec<IpAddr>>,
}

impl FakeResolver {
    pub fn new() -> Self {
        FakeResolver::default()
    }

    /// Adds the answer for `host`; `ips` are address literals.
    pub fn answer(mut self, host: &str, ips: &[&str]) -> Self {
        let ips = ips
            .iter()
            .map(|ip| ip.parse().expect("fixture address parses"))
            .collect();
        self.answers.insert(host.to_owned(), ips);
        self
    }
}

impl HostResolver for FakeResolver {
    fn resolve(&self, host: &str) -> ResolveFuture {
        let answer = self.answers.get(host).cloned().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no record for {host}"))
        });
        Box::pin(async move { answer })
    }
}

/// reqwest with `rustls-no-provider` needs a process-wide crypto provider before a client is built, even for http.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Accepts one connection (waiting at most 5 s), reads one request (head and `content-length` body), answers
/// with `response` and returns the request as text.
pub fn serve_once(
    listener: TcpListener,
    response: impl Into<String>,
) -> impl Future<Output = io::Result<String>> {
    let response = response.into();
    async move {
        let (mut stream, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no connection arrived"))??;
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request incomplete"))??;
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
            if request_complete(&request) {
                break;
            }
        }
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        Ok(String::from_utf8_lossy(&request).into_owned())
    }
}

fn request_complete(request: &[u8]) -> bool {
    let Some(head_end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
    let body_len = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    request.len() >= head_end + 4 + body_len
}
