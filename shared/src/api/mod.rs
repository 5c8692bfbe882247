//! The HTTP API as one axum router, served by the local process and (through lambda_http) by the api
//! function alike. Handlers only translate HTTP to service calls and back.

mod alert_sources;
mod alerts;
mod auth;
mod console;
mod dead_letters;
mod deliveries;
mod endpoints;
mod error;
mod json_body;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use auth::Tenant;
pub use error::ApiError;

use crate::service::Service;

/// Largest request body accepted, in bytes.
pub const MAX_REQUEST_BODY: usize = 256 * 1024;

pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/console", get(console::redirect_to_index))
        .route("/console/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .route(
            "/v1/endpoints",
            post(endpoints::create).get(endpoints::list),
        )
        .route(
            "/v1/endpoints/{id}",
            get(endpoints::read)
                .put(endpoints::replace)
                .delete(endpoints::delete),
        )
        .route("/v1/endpoints/validate", post(endpoints::validate))
        .route("/v1/endpoints/test", post(endpoints::test_send_definition))
        .route("/v1/endpoints/{id}/test", post(endpoints::test_send))
        .route(
            "/v1/endpoints/{id}/rotate-secret",
            post(endpoints::rotate_secret),
        )
        .route("/v1/catalogue", get(endpoints::catalogue))
        .route("/v1/alerts", post(alerts::accept))
        .route(
            "/v1/alerts/alertmanager",
            post(alert_sources::from_alertmanager),
        )
        .route("/v1/alerts/grafana", post(alert_sources::from_grafana))
        .route("/v1/deliveries", get(deliveries::list))
        .route("/v1/deliveries/{id}", get(deliveries::read))
        .route("/v1/deliveries/{id}/resend", post(deliveries::resend))
        .route("/v1/dead-letters", get(dead_letters::list))
        .route("/v1/dead-letters/replay", post(dead_letters::replay))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .with_state(service)
}
