//! A closed-loop HTTP load generator: `concurrency` tasks, each sending one request after the other, for a
//! number of requests or a duration; every answer must have the expected status.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::BenchError;

/// One request, sent again and again.
#[derive(Clone)]
pub struct Request {
    pub url: String,
    pub body: Bytes,
    pub headers: Vec<(&'static str, String)>,
    pub expect: u16,
}

pub enum Until {
    Count(u64),
    Elapsed(Duration),
}

pub struct LoadResult {
    pub sent: u64,
    pub elapsed: Duration,
    /// Sorted, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.sent as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-th percentile latency in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        crate::stats::percentile_ms(&self.latencies_us, p)
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(1024)
        .build()
        .expect("an HTTP client without TLS settings to fail")
}

/// Told of every expected answer: the moment its head arrived, and its body.
pub type Observer = Arc<dyn Fn(Instant, &Bytes) + Send + Sync>;

pub async fn run(
    client: &reqwest::Client,
    request: &Request,
    concurrency: usize,
    until: Until,
) -> Result<LoadResult, BenchError> {
    run_observed(client, request, concurrency, until, Arc::new(|_, _| {})).await
}

/// [`run`], telling `observe` of each answer (the storm scenario reads the delivery ids of each 202).
pub async fn run_observed(
    client: &reqwest::Client,
    request: &Request,
    concurrency: usize,
    until: Until,
    observe: Observer,
) -> Result<LoadResult, BenchError> {
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let (limit, deadline) = match until {
        Until::Count(n) => (n, None),
        Until::Elapsed(d) => (u64::MAX, Some(start + d)),
    };
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, request, issued) = (client.clone(), request.clone(), issued.clone());
        let observe = observe.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d)
                    || issued.fetch_add(1, Ordering::Relaxed) >= limit
                {
                    return Ok(latencies);
                }
                let sent_at = Instant::now();
                let mut builder = client.post(&request.url).body(request.body.clone());
                for (name, value) in &request.headers {
                    builder = builder.header(*name, value);
                }
                let response = builder.send().await?;
                let answered_at = Instant::now();
                let status = response.status().as_u16();
                let body = response.bytes().await?;
                if status != request.expect {
                    return Err(BenchError::Unexpected(format!(
                        "{} answered {status}, expected {}",
                        request.url, request.expect
                    )));
                }
                observe(answered_at, &body);
                latencies.push(sent_at.elapsed().as_micros() as u64);
            }
        }));
    }
    let mut latencies_us = Vec::new();
    for worker in workers {
        latencies_us.extend(
            worker
                .await
                .map_err(|e| BenchError::Unexpected(e.to_string()))??,
        );
    }
    let elapsed = start.elapsed();
    latencies_us.sort_unstable();
    Ok(LoadResult {
        sent: latencies_us.len() as u64,
        elapsed,
        latencies_us,
    })
}
