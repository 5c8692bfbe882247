//! The webhook receiver both the alertwire deliveries and the raw `reqwest` baseline post to: an axum
//! server on 127.0.0.1 that answers 200, counts requests and keeps the first body it got.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;

use crate::BenchError;

#[derive(Default)]
struct Seen {
    count: AtomicU64,
    first_body: Mutex<Option<Bytes>>,
}

#[derive(Clone)]
pub struct CountingReceiver {
    pub addr: SocketAddr,
    seen: Arc<Seen>,
}

impl CountingReceiver {
    pub async fn start() -> Result<Self, BenchError> {
        let setup = |e: std::io::Error| BenchError::Setup(format!("the receiver: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(setup)?;
        let addr = listener.local_addr().map_err(setup)?;
        let seen = Arc::new(Seen::default());
        let state = seen.clone();
        let app = axum::Router::new().fallback(move |body: Bytes| {
            let state = state.clone();
            async move {
                state.count.fetch_add(1, Ordering::Relaxed);
                let mut first = state.first_body.lock().unwrap_or_else(|p| p.into_inner());
                if first.is_none() {
                    *first = Some(body);
                }
                StatusCode::OK
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, seen })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn count(&self) -> u64 {
        self.seen.count.load(Ordering::Relaxed)
    }

    pub fn first_body(&self) -> Option<Bytes> {
        self.seen
            .first_body
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
