//! `/v1/endpoints`: create, list, read, replace, delete, the last 24 hours' figures, "Run the test" (saved
//! or not), validating an unsaved definition, and the catalogue an editor shows beside it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::{EndpointList, EndpointStatsView, EndpointView, Validity};
use crate::ids::EndpointId;
use crate::input_error::{FieldError, ObjectReader};
use crate::service::{Service, TestSample, TestSendReport};

#[utoipa::path(
    post,
    path = "/v1/endpoints",
    operation_id = "create_endpoint",
    tag = "endpoints",
    request_body(content = super::openapi::EndpointInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; a new signing secret is shown this once", body = super::views::EndpointView,
            links(
                ("read" = (operation_id = "read_endpoint", parameters(("id" = "$response.body#/id")))),
                ("replace" = (operation_id = "replace_endpoint", parameters(("id" = "$response.body#/id")))),
                ("delete" = (operation_id = "delete_endpoint", parameters(("id" = "$response.body#/id")))),
                ("test" = (operation_id = "test_endpoint", parameters(("id" = "$response.body#/id")))),
                ("rotate_secret" = (operation_id = "rotate_endpoint_secret", parameters(("id" = "$response.body#/id")))),
            )
        ),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn create(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<EndpointView>), ApiError> {
    let endpoint = service.create_endpoint(&tenant, &body.required()?).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointView::revealing_secret(&endpoint)),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/endpoints",
    operation_id = "list_endpoints",
    tag = "endpoints",
    responses(
        (status = 200, description = "Every endpoint of the tenant", body = super::views::EndpointList),
        super::error::KeyErrors,
    )
)]
pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
) -> Result<Json<EndpointList>, ApiError> {
    let endpoints = service.list_endpoints(&tenant).await?;
    Ok(Json(EndpointList {
        endpoints: endpoints.iter().map(EndpointView::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}",
    operation_id = "read_endpoint",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = super::views::EndpointView),
        super::error::EndpointErrors,
        super::error::KeyErrors,
    )
)]
pub async fn read(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<EndpointView>, ApiError> {
    let endpoint = service.get_endpoint(&tenant, &EndpointId(id)).await?;
    Ok(Json(EndpointView::from(&endpoint)))
}

#[utoipa::path(
    put,
    path = "/v1/endpoints/{id}",
    operation_id = "replace_endpoint",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    request_body(content = super::openapi::EndpointInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced; a new signing secret is shown this once", body = super::views::EndpointView),
        super::error::EndpointChangeErrors,
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn replace(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<EndpointView>, ApiError> {
    let replaced = service
        .replace_endpoint(&tenant, &EndpointId(id), &body.required()?)
        .await?;
    Ok(Json(if replaced.secret_is_new {
        EndpointView::revealing_secret(&replaced.endpoint)
    } else {
        EndpointView::from(&replaced.endpoint)
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/endpoints/{id}",
    operation_id = "delete_endpoint",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        super::error::EndpointDeleteErrors,
        super::error::KeyErrors,
    )
)]
pub async fn delete(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_endpoint(&tenant, &EndpointId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}/stats",
    operation_id = "endpoint_stats",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "Deliveries delivered and failed per hour, the success rate and the p95 latency of the attempts over the last 24 hours", body = super::views::EndpointStatsView),
        super::error::EndpointErrors,
        super::error::KeyErrors,
    )
)]
pub async fn stats(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<EndpointStatsView>, ApiError> {
    let id = EndpointId(id);
    let figures = service.endpoint_stats(&tenant, &id).await?;
    Ok(Json(EndpointStatsView::new(&id, &figures)))
}

/// The body is optional: an alert to send instead of the sample.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/test",
    operation_id = "test_endpoint",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    request_body(content = Option<super::openapi::AlertInput>, description = "An alert to send instead of the sample", content_type = "application/json"),
    responses(
        (status = 200, description = "What was sent and what the endpoint answered (or why nothing came back); nothing is stored", body = crate::service::TestSendReport),
        super::error::EndpointErrors,
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn test_send(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<TestSendReport>, ApiError> {
    let alert = Some(&body.0).filter(|v| !v.is_null());
    let report = service.test_send(&tenant, &EndpointId(id), alert).await?;
    Ok(Json(report))
}

/// The body is optional: `{"secret": "generate" | "whsec_…", "grace_period_seconds": 86400}`.
#[utoipa::path(
    post,
    path = "/v1/endpoints/{id}/rotate-secret",
    operation_id = "rotate_endpoint_secret",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    request_body(content = Option<super::openapi::SecretRotationInput>, description = "The new secret and the old one's grace period", content_type = "application/json"),
    responses(
        (status = 200, description = "Rotated; the new secret is shown this once", body = super::views::EndpointView),
        super::error::EndpointChangeErrors,
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn rotate_secret(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<EndpointView>, ApiError> {
    let rotated = service
        .rotate_secret(&tenant, &EndpointId(id), &body.0)
        .await?;
    Ok(Json(EndpointView::revealing_secret(&rotated)))
}

/// `{"endpoint": {…definition…}, "alert": {…optional…}, "captured": {…optional…}, "digest": false}`: "Run
/// the test" before saving; `"digest": true` sends the endpoint's digest of a sample storm.
#[utoipa::path(
    post,
    path = "/v1/endpoints/test",
    operation_id = "test_unsaved_endpoint",
    tag = "endpoints",
    request_body(content = super::openapi::UnsavedEndpointTest, content_type = "application/json"),
    responses(
        (status = 200, description = "What was sent and what the endpoint answered (or why nothing came back); nothing is stored", body = crate::service::TestSendReport),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn test_send_definition(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<Json<TestSendReport>, ApiError> {
    let request = body.required()?;
    let reader = ObjectReader::new("", &request, &["endpoint", "alert", "captured", "digest"])?;
    let definition = reader
        .value("endpoint")
        .ok_or_else(|| FieldError::missing("endpoint"))?;
    let captured = match reader.value("captured").filter(|v| !v.is_null()) {
        None => None,
        Some(value) => Some(serde_json::from_value(value.clone()).map_err(|_| {
            FieldError::invalid(
                "captured",
                "`captured` must be an object of capture names and text values, e.g. {\"ticket_id\": \"T-17\"}",
            )
        })?),
    };
    let sample = TestSample {
        captured,
        digest: reader.bool("digest")?.unwrap_or(false),
    };
    let report = service
        .test_send_definition(&tenant, definition, reader.value("alert"), sample)
        .await?;
    Ok(Json(report))
}

/// Validates an unsaved definition as creating it would: 200 `{"valid": true}` or the usual 422.
#[utoipa::path(
    post,
    path = "/v1/endpoints/validate",
    operation_id = "validate_endpoint",
    tag = "endpoints",
    request_body(content = super::openapi::EndpointInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The definition would be accepted; nothing is stored", body = super::views::Validity),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn validate(
    State(service): State<Arc<Service>>,
    Tenant(_): Tenant,
    body: JsonBody,
) -> Result<Json<Validity>, ApiError> {
    service.validate_endpoint(&body.required()?)?;
    Ok(Json(Validity { valid: true }))
}

/// The template variables (both syntaxes) and the presets, as data for editors.
#[utoipa::path(
    get,
    path = "/v1/catalogue",
    operation_id = "catalogue",
    tag = "endpoints",
    responses(
        (status = 200, description = "Variables with descriptions and the text to insert, the default body, the presets", content_type = "application/json", body = Object),
        super::error::KeyErrors,
    )
)]
pub async fn catalogue(State(service): State<Arc<Service>>, Tenant(_): Tenant) -> Json<Value> {
    Json(service.catalogue())
}
