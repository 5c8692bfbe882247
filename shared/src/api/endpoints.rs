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

pub async fn create(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let view = service.create_endpoint(&tenant, &body.required()?).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
) -> Result<Json<Value>, ApiError> {
    let endpoints = service.list_endpoints(&tenant).await?;
    let views: Vec<Value> = endpoints.iter().map(|e| e.to_view(false)).collect();
    Ok(Json(json!({ "endpoints": views })))
}

pub async fn read(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let endpoint = service.get_endpoint(&tenant, &EndpointId(id)).await?;
    Ok(Json(endpoint.to_view(false)))
}

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

pub async fn delete(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.delete_endpoint(&tenant, &EndpointId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body is optional: an alert to send instead of the sample.
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
pub async fn validate(
    State(service): State<Arc<Service>>,
    Tenant(_): Tenant,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    service.validate_endpoint(&body.required()?)?;
    Ok(Json(json!({"valid": true})))
}

pub async fn catalogue(State(service): State<Arc<Service>>, Tenant(_): Tenant) -> Json<Value> {
    Json(service.catalogue())
}
