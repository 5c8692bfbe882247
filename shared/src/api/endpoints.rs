//! `/v1/endpoints`: create, list, read, replace, delete, "Run the test" (saved or not), validating an
//! unsaved definition, and the catalogue an editor shows beside it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use crate::ids::EndpointId;
use crate::input_error::{FieldError, ObjectReader};
use crate::service::Service;

#[utoipa::path(
    post,
    path = "/v1/endpoints",
    operation_id = "create_endpoint",
    tag = "endpoints",
    request_body(content = super::openapi::EndpointInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created; a new signing secret is shown this once", body = super::openapi::EndpointView,
            links(
                ("read" = (operation_id = "read_endpoint", parameters(("id" = "$response.body#/id")))),
                ("replace" = (operation_id = "replace_endpoint", parameters(("id" = "$response.body#/id")))),
                ("delete" = (operation_id = "delete_endpoint", parameters(("id" = "$response.body#/id")))),
                ("test" = (operation_id = "test_endpoint", parameters(("id" = "$response.body#/id")))),
                ("rotate_secret" = (operation_id = "rotate_endpoint_secret", parameters(("id" = "$response.body#/id")))),
            )
        ),
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn create(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let view = service.create_endpoint(&tenant, &body.required()?).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(
    get,
    path = "/v1/endpoints",
    operation_id = "list_endpoints",
    tag = "endpoints",
    responses(
        (status = 200, description = "Every endpoint of the tenant", body = super::openapi::EndpointList),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>, ApiError> {
    let endpoints = service.list_endpoints(&tenant).await?;
    let views: Vec<Value> = endpoints.iter().map(|e| e.to_view(false)).collect();
    Ok(Json(json!({ "endpoints": views })))
}

#[utoipa::path(
    get,
    path = "/v1/endpoints/{id}",
    operation_id = "read_endpoint",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = super::openapi::EndpointView),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 404, description = "No such endpoint", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn read(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let endpoint = service.get_endpoint(&tenant, &EndpointId(id)).await?;
    Ok(Json(endpoint.to_view(false)))
}

#[utoipa::path(
    put,
    path = "/v1/endpoints/{id}",
    operation_id = "replace_endpoint",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    request_body(content = super::openapi::EndpointInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced; a new signing secret is shown this once", body = super::openapi::EndpointView),
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 404, description = "No such endpoint", body = super::openapi::ErrorBody),
        (status = 409, description = "Changed by another request meanwhile", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn replace(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        service
            .replace_endpoint(&tenant, &EndpointId(id), &body.required()?)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/endpoints/{id}",
    operation_id = "delete_endpoint",
    tag = "endpoints",
    params(("id" = String, Path, description = "The endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 404, description = "No such endpoint", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
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
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 404, description = "No such endpoint", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn test_send(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let alert = Some(&body.0).filter(|v| !v.is_null());
    let report = service.test_send(&tenant, &EndpointId(id), alert).await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|_| ApiError::internal())?,
    ))
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
        (status = 200, description = "Rotated; the new secret is shown this once", body = super::openapi::EndpointView),
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 404, description = "No such endpoint", body = super::openapi::ErrorBody),
        (status = 409, description = "Changed by another request meanwhile", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn rotate_secret(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        service
            .rotate_secret(&tenant, &EndpointId(id), &body.0)
            .await?,
    ))
}

/// `{"endpoint": {…definition…}, "alert": {…optional…}}`: "Run the test" before saving.
#[utoipa::path(
    post,
    path = "/v1/endpoints/test",
    operation_id = "test_unsaved_endpoint",
    tag = "endpoints",
    request_body(content = super::openapi::UnsavedEndpointTest, content_type = "application/json"),
    responses(
        (status = 200, description = "What was sent and what the endpoint answered (or why nothing came back); nothing is stored", body = crate::service::TestSendReport),
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn test_send_definition(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let request = body.required()?;
    let reader = ObjectReader::new("", &request, &["endpoint", "alert"])?;
    let definition = reader
        .value("endpoint")
        .ok_or_else(|| FieldError::missing("endpoint"))?;
    let report = service
        .test_send_definition(&tenant, definition, reader.value("alert"))
        .await?;
    Ok(Json(
        serde_json::to_value(report).map_err(|_| ApiError::internal())?,
    ))
}

/// Validates an unsaved definition as creating it would: 200 `{"valid": true}` or the usual 422.
#[utoipa::path(
    post,
    path = "/v1/endpoints/validate",
    operation_id = "validate_endpoint",
    tag = "endpoints",
    request_body(content = super::openapi::EndpointInput, content_type = "application/json"),
    responses(
        (status = 200, description = "The definition would be accepted; nothing is stored", body = super::openapi::Validity),
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn validate(
    State(service): State<Arc<Service>>,
    Tenant(_): Tenant,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    service.validate_endpoint(&body.required()?)?;
    Ok(Json(json!({"valid": true})))
}

/// The template variables (both syntaxes) and the presets, as data for editors.
#[utoipa::path(
    get,
    path = "/v1/catalogue",
    operation_id = "catalogue",
    tag = "endpoints",
    responses(
        (status = 200, description = "Variables with descriptions and the text to insert, the default body, the presets", content_type = "application/json", body = Object),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
    )
)]
pub async fn catalogue(State(service): State<Arc<Service>>, Tenant(_): Tenant) -> Json<Value> {
    Json(service.catalogue())
}
