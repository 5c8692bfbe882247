//! `POST /v1/alerts/alertmanager` and `POST /v1/alerts/grafana`: a source's own webhook payload, accepted as
//! one alert per entry of its `alerts[]`, answered 202 once all of them are durably queued.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use crate::alert_sources::{SourceAlert, alertmanager, grafana};
use crate::input_error::FieldError;
use crate::service::Service;

#[utoipa::path(
    post,
    path = "/v1/alerts/alertmanager",
    operation_id = "accept_alertmanager_notification",
    tag = "alerts",
    request_body(content = super::openapi::AlertmanagerNotification, content_type = "application/json"),
    responses(
        (status = 202, description = "Every alert accepted and queued", body = super::openapi::SourceReceipts),
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn from_alertmanager(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(&service, &tenant, body, alertmanager::alerts_from_json).await
}

#[utoipa::path(
    post,
    path = "/v1/alerts/grafana",
    operation_id = "accept_grafana_notification",
    tag = "alerts",
    request_body(content = super::openapi::GrafanaNotification, content_type = "application/json"),
    responses(
        (status = 202, description = "Every alert accepted and queued", body = super::openapi::SourceReceipts),
        (status = 400, description = "The body is not JSON, or is missing where required", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid API key", body = super::openapi::ErrorBody),
        (status = 422, description = "A field is missing, unknown or invalid; `field` names it", body = super::openapi::ErrorBody),
        (status = 503, description = "The store or queue failed; safe to retry", body = super::openapi::ErrorBody),
    )
)]
pub async fn from_grafana(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    accept(&service, &tenant, body, grafana::alerts_from_json).await
}

/// Reads every alert before writing any, so a bad entry rejects the notification with nothing written.
async fn accept(
    service: &Service,
    tenant: &crate::ids::TenantId,
    body: JsonBody,
    read: fn(&Value) -> Result<Vec<SourceAlert>, FieldError>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let alerts = read(&body.required()?)?;
    let receipts = service.accept_source_alerts(tenant, alerts).await?;
    let alerts: Vec<Value> = receipts
        .iter()
        .map(|receipt| {
            let deliveries: Vec<Value> = receipt
                .deliveries
                .iter()
                .map(|(id, endpoint_id)| json!({"id": id, "endpoint_id": endpoint_id}))
                .collect();
            json!({"id": receipt.alert_id, "deliveries": deliveries})
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(json!({"alerts": alerts}))))
}
