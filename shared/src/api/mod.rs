//! The HTTP API as one axum router, served by the embedded process and (through lambda_http) by the api
//! function alike. Handlers only translate HTTP to service calls and back. The routes are registered with
//! their `#[utoipa::path]` documentation, so the OpenAPI document served at `GET /openapi.json` lists
//! exactly the API routes the router has; the console's static files under `/console/` are not API.

mod alert_sources;
mod alerts;
mod auth;
mod console;
mod dead_letters;
mod deliveries;
mod endpoints;
mod error;
mod json_body;
mod keys;
pub mod openapi;
mod routing;
mod settings;
pub mod views;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::Tenant;
pub use error::ApiError;

use crate::service::Service;

/// Largest request body accepted, in bytes.
pub const MAX_REQUEST_BODY: usize = 256 * 1024;

pub fn router(service: Arc<Service>) -> Router {
    let (router, _) = documented_routes().split_for_parts();
    router
        .route("/console", get(console::redirect_to_index))
        .route("/console/", get(console::index))
        .route("/console/{file}", get(console::asset))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY))
        .with_state(service)
}

/// The OpenAPI document of [`router`], as pretty-printed JSON with a final newline: what
/// `GET /openapi.json` answers and what the repository's `openapi.json` holds.
pub fn openapi_json() -> &'static str {
    static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
        let document = documented_routes().into_openapi();
        let mut text = document
            .to_pretty_json()
            .expect("the OpenAPI document serializes");
        text.push('\n');
        text
    });
    &DOCUMENT
}

fn documented_routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(openapi_document))
        .routes(routes!(endpoints::create, endpoints::list))
        .routes(routes!(
            endpoints::read,
            endpoints::replace,
            endpoints::delete
        ))
        .routes(routes!(endpoints::stats))
        .routes(routes!(endpoints::validate))
        .routes(routes!(endpoints::test_send_definition))
        .routes(routes!(endpoints::test_send))
        .routes(routes!(endpoints::catalogue))
        .routes(routes!(endpoints::rotate_secret))
        .routes(routes!(alerts::accept))
        .routes(routes!(alerts::read))
        .routes(routes!(alerts::list_unrouted))
        .routes(routes!(routing::test))
        .routes(routes!(alert_sources::from_alertmanager))
        .routes(routes!(alert_sources::from_grafana))
        .routes(routes!(deliveries::list))
        .routes(routes!(deliveries::read))
        .routes(routes!(deliveries::resend))
        .routes(routes!(dead_letters::list))
        .routes(routes!(dead_letters::replay))
        .routes(routes!(settings::read, settings::replace))
        .routes(routes!(keys::list))
        .routes(routes!(keys::revoke))
}

/// Whether the process is up and can take alerts; needs no API key. `503` with `degraded` and the reason
/// while the store cannot write (a full disk): alerts are refused with `503` then, and delivery waits.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "health",
    tag = "service",
    security(()),
    responses(
        (status = 200, description = "The process is up", body = views::Health),
        (status = 503, description = "Up, but the store cannot write: degraded, with the reason", body = views::Health),
    )
)]
async fn health(State(service): State<Arc<Service>>) -> (StatusCode, axum::Json<views::Health>) {
    match service.write_trouble() {
        None => (
            StatusCode::OK,
            axum::Json(views::Health {
                status: "ok".into(),
                reason: None,
            }),
        ),
        Some(trouble) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(views::Health {
                status: "degraded".into(),
                reason: Some(trouble.reason().into()),
            }),
        ),
    }
}

/// This OpenAPI document; needs no API key.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi_document",
    tag = "service",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object))
)]
async fn openapi_document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], openapi_json())
}
