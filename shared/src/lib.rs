//! alertwire's shared crate: everything but the thin `main`s.
//!
//! # Layout
//! Follow an alert from the edge inwards: [`api`] takes it, [`service`] decides, the [`ports`] keep it,
//! and an adapter (`embedded` or `aws`) does the storing and queueing.
//! - The domain, plain Rust, flat: [`alert`], [`ids`], [`input_error`], a tenant's settings
//!   ([`tenant_settings`]), and the [`clock`] the service reads the time from (domain rules are given
//!   `now`), how long finished history is kept ([`retention`]), and the [`maintenance`] windows that hold
//!   errors and reminders, and the [`digest`] an endpoint gets in place of single errors during a storm.
//! - [`endpoint`]: the endpoint model, its input validation, its compiled templates, its secrets, its
//!   health and the presets (Slack, Teams, PagerDuty, Opsgenie, Panther).
//! - [`delivery`]: deliveries and attempts, the delivery decision (`delivery::decide`), the retry
//!   policy (`delivery::retry_policy`) and an endpoint's last 24 hours in figures (`delivery::stats`).
//! - What other tools send: [`alert_sources`] (Alertmanager and Grafana payloads mapped to alerts).
//! - Shaping the webhook: [`template`] (our Mustache engine), [`render_context`] (the variables),
//!   [`webhook`] (the request an attempt sends, and its Standard Webhooks signature).
//! - [`outbound`]: the one place that talks HTTP to endpoints (`outbound::sender`), which addresses it
//!   may dial (`outbound::target_policy`) and which CAs its HTTPS trusts (`outbound::trusted_roots`).
//! - [`ports`]: the storage traits (`ports::store`), the SQS-like task queue trait (`ports::queue`) and
//!   the secret sealer (`ports::secret_sealer`) that keeps an endpoint's secret values sealed at rest;
//!   [`sealing`] is its AES-256-GCM cipher and the local sealer with its key file (the AWS one, over KMS
//!   data keys, is `aws::kms`).
//! - [`service`]: the use cases over the ports (accept an alert, attempt a delivery, read and resend
//!   deliveries, judge dead letters for a replay or a reconcile (`service::dead_letters`), requeue
//!   pending deliveries that lost their task (`service::stranded`), test-send,
//!   authenticate), reporting to [`metrics`]. Nothing outside it reaches the ports.
//! - [`api`]: the HTTP API as an axum router, answering with typed views (`api::views`).
//! - Adapters: `embedded` (the SQLite store and queue, the delivery worker, `GET /metrics` and the
//!   one-process server wired together, with the default `embedded` feature) and `aws` (DynamoDB; SQS,
//!   the task queue and the dead-letter sweep that drives the service's judgement; and the Lambda
//!   functions' set-up, each function given only the ports it uses, with the `aws` feature).

pub mod alert;
pub mod alert_sources;
pub mod api;
#[cfg(feature = "aws")]
pub mod aws;
pub mod clock;
pub mod delivery;
pub mod digest;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod endpoint;
pub mod ids;
pub mod input_error;
pub mod maintenance;
pub mod metrics;
pub mod outbound;
pub mod ports;
pub mod render_context;
pub mod retention;
pub mod routing;
pub mod sealing;
pub mod service;
pub mod template;
pub mod tenant_settings;
pub mod webhook;
