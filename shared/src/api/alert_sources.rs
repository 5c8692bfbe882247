//! `POST /v1/alerts/alertmanager` and `POST /v1/alerts/grafana`: a source's own webhook payload, accepted as
//! one alert per entry of its `alerts[]`, answered 202 once all of them are durably queued.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::{AlertReceiptView, SourceReceipts};
use crate::alert_sources::{SourceAlert, alertmanager, grafana};
use crate::input_error::FieldError;
use crate::service::Service;

#[utoipa::path(
    post,
    path = "/v1/alerts/alertmanager",
    operation_id = "accept_alertmanager_notification",
    tag = "alerts",
    request_body(content = crate::alert_sources::alertmanager::Notification, content_type = "application/json"),
    responses(
        (status = 202, description = "Every alert accepted and queued", body = super::views::SourceReceipts),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn from_alertmanager(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<SourceReceipts>), ApiError> {
    accept(&service, &tenant, body, alertmanager::alerts_from_json).await
}

#[utoipa::path(
    post,
    path = "/v1/alerts/grafana",
    operation_id = "accept_grafana_notification",
    tag = "alerts",
    request_body(content = crate::alert_sources::grafana::Notification, content_type = "application/json"),
    responses(
        (status = 202, description = "Every alert accepted and queued", body = super::views::SourceReceipts),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn from_grafana(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<SourceReceipts>), ApiError> {
    accept(&service, &tenant, body, grafana::alerts_from_json).await
}

/// Reads every alert before writing any, so a bad entry rejects the notification with nothing written.
async fn accept(
    service: &Service,
    tenant: &crate::ids::TenantId,
    body: JsonBody,
    read: fn(&Value) -> Result<Vec<SourceAlert>, FieldError>,
) -> Result<(StatusCode, Json<SourceReceipts>), ApiError> {
    let alerts = read(&body.required()?)?;
    let receipts = service.accept_source_alerts(tenant, alerts).await?;
    let alerts = receipts.iter().map(AlertReceiptView::from).collect();
    Ok((StatusCode::ACCEPTED, Json(SourceReceipts { alerts })))
}
