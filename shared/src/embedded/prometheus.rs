//! `GET /metrics` of the embedded process: the operator metrics as Prometheus text, rendered by
//! metrics-exporter-prometheus from a recorder that belongs to this server (none is installed
//! process-wide), with the queue's depth counted just before each scrape.
//!
//! The route needs no API key, like a usual Prometheus scrape target: the figures are process-wide
//! totals whose labels come from small fixed sets (outcome, error class, status, message type, reason),
//! with no tenant, endpoint, URL or secret in them. Keep the listen address private, as for the API.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

use crate::embedded::{Database, EmbeddedQueue};
use crate::metrics::{
    ATTEMPT_DURATION, ATTEMPT_DURATION_BUCKETS, DELIVERY_LATENCY, DELIVERY_LATENCY_BUCKETS, Metrics,
};
use crate::ports::store::WriteCondition;

/// The Prometheus text format's media type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// How often recorded histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A recorder of this server's own and the handle that renders it.
#[derive(Clone)]
pub struct PrometheusMetrics {
    pub metrics: Metrics,
    handle: PrometheusHandle,
}

impl PrometheusMetrics {
    /// Histograms get buckets (rendered as Prometheus histograms, which aggregate across instances)
    /// rather than the exporter's default summaries.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(ATTEMPT_DURATION.to_string()),
                ATTEMPT_DURATION_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(DELIVERY_LATENCY.to_string()),
                    DELIVERY_LATENCY_BUCKETS,
                )
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        Self {
            metrics: Metrics::new(Arc::new(recorder)),
            handle,
        }
    }

    /// The `GET /metrics` route, counting `queue` and the open circuits in `database` at each scrape.
    pub fn router(&self, queue: EmbeddedQueue, database: Database) -> Router {
        Router::new()
            .route("/metrics", get(scrape))
            .with_state(Arc::new(Scrape {
                database,
                prometheus: self.clone(),
                queue,
            }))
    }

    /// Folds histogram samples into buckets every few seconds, so memory stays bounded when nobody
    /// scrapes; returns when `shutdown` turns true.
    pub async fn upkeep(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(UPKEEP_EVERY) => self.handle.run_upkeep(),
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        Self::new()
    }
}

struct Scrape {
    prometheus: PrometheusMetrics,
    queue: EmbeddedQueue,
    database: Database,
}

async fn scrape(State(scrape): State<Arc<Scrape>>) -> impl IntoResponse {
    match scrape.queue.depth().await {
        Ok((waiting, dead)) => scrape.prometheus.metrics.queue_depth(waiting, dead),
        Err(e) => {
            tracing::warn!(error = %e, "cannot count the queue; its gauges keep their last value")
        }
    }
    match scrape.database.open_circuits().await {
        Ok(open) => scrape.prometheus.metrics.circuits_open(open),
        Err(e) => {
            tracing::warn!(error = %e, "cannot count the open circuits; the gauge keeps its last value")
        }
    }
    scrape.prometheus.metrics.refresh_unwritten_log_lines();
    scrape
        .prometheus
        .metrics
        .store_unwritable(scrape.database.write_trouble());
    if let Some(bytes) = scrape.database.disk_bytes() {
        scrape.prometheus.metrics.store_bytes(bytes);
    }
    let handle = &scrape.prometheus.handle;
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render())
}
