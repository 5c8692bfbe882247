//! alertwire's shared crate: everything but the thin `main`s.
//!
//! # Layout
//! - The domain, plain Rust: [`alert`], [`endpoint`], [`delivery`], [`ids`], [`input_error`].
//! - What other tools send and where we send: [`alert_sources`] (Alertmanager and Grafana payloads mapped to
//!   alerts) and [`endpoint_presets`] (Slack, Teams, PagerDuty, Opsgenie and Panther request formats).
//! - Shaping the webhook: [`template`] (our Mustache engine), [`render_context`] (the variables),
//!   [`webhook_request`] (the request an attempt sends), [`signing`] (Standard Webhooks).
//! - Delivery policy: [`retry_policy`] (backoff, `Retry-After`, attempt limit), [`target_policy`]
//!   (which addresses may be dialled), [`http_sender`] (the one place that talks HTTP to endpoints),
//!   [`trusted_roots`] (which CAs its HTTPS trusts).
//! - Ports: [`store`] (storage traits) and [`queue`] (the SQS-like task queue trait).
//! - Adapters: `embedded` (SQLite store and queue for one machine, with the default `embedded` feature) and `aws` (DynamoDB and SQS, with the
//!   `aws` feature).
//! - Use cases over the ports: [`service`] (accept an alert, attempt a delivery, resend, replay, test-send),
//!   reporting to [`operator_metrics`].
//! - Edges: [`api`] (the HTTP API as an axum router), and with the `embedded` feature `local_worker` (the
//!   embedded delivery loop), `prometheus_endpoint` (`GET /metrics`) and `local_server` (the embedded
//!   default wired together).

pub mod alert;
pub mod alert_sources;
pub mod api;
#[cfg(feature = "aws")]
pub mod aws;
pub mod delivery;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod endpoint;
pub mod endpoint_health;
pub mod endpoint_presets;
pub mod http_sender;
pub mod ids;
pub mod input_error;
#[cfg(feature = "embedded")]
pub mod local_server;
#[cfg(feature = "embedded")]
pub mod local_worker;
pub mod operator_metrics;
#[cfg(feature = "embedded")]
pub mod prometheus_endpoint;
pub mod queue;
pub mod render_context;
pub mod retry_policy;
pub mod service;
pub mod signing;
pub mod store;
pub mod target_policy;
pub mod template;
pub mod trusted_roots;
pub mod webhook_request;
