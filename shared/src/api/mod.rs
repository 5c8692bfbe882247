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
mod maintenance;
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

/// The API's routes, with the same handlers as [`documented_routes`] but without building their OpenAPI
/// documentation, which only `GET /openapi.json` needs (building it was a third of a Lambda's init). Every
/// documented operation is routed here: the `it` suite's `every_documented_operation_is_routed` asks each.
pub fn router(service: Arc<Service>) -> Router {
    use axum::routing::{delete, post};
    Router::new()
        .route("/healthz", get(health))
        .route("/openapi.json", get(openapi_document))
        .route(
            "/v1/endpoints",
            get(endpoints::list).post(endpoints::create),
        )
        .route(
            "/v1/endpoints/{id}",
            get(endpoints::read)
                .put(endpoints::replace)
                .delete(endpoints::delete),
        )
        .route("/v1/endpoints/{id}/stats", get(endpoints::stats))
        .route("/v1/endpoints/validate", post(endpoints::validate))
        .route("/v1/endpoints/test", post(endpoints::test_send_definition))
        .route("/v1/endpoints/{id}/test", post(endpoints::test_send))
        .route("/v1/catalogue", get(endpoints::catalogue))
        .route(
            "/v1/endpoints/{id}/rotate-secret",
            post(endpoints::rotate_secret),
        )
        .route("/v1/alerts", post(alerts::accept))
        .route("/v1/alerts/{id}", get(alerts::read))
        .route("/v1/alerts/unrouted", get(alerts::list_unrouted))
        .route("/v1/routing/test", post(routing::test))
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
        .route("/v1/settings", get(settings::read).put(settings::replace))
        .route("/v1/keys", get(keys::list))
        .route("/v1/keys/{id}", delete(keys::revoke))
        .route(
            "/v1/maintenance-windows",
            get(maintenance::list).post(maintenance::create),
        )
        .route("/v1/maintenance-windows/{id}", delete(maintenance::delete))
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

/// The documented operations, for the OpenAPI document only: [`router`] routes the same handlers.
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
        .routes(routes!(maintenance::list, maintenance::create))
        .routes(routes!(maintenance::delete))
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
