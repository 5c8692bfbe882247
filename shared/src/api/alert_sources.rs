//! `POST /v1/alerts/alertmanager` and `POST /v1/alerts/grafana`: a source's own webhook payload, accepted as
//! one alert per entry of its `alerts[]`, answered 202 once all of them are durably queued. The receiver's
//! URL may name the endpoints its alerts are for (`?endpoints=db-slack,web-pager`), so that one alertwire
//! URL per Alertmanager receiver routes as configured there.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde_json::Value;

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::{AlertReceiptView, SourceReceipts};
use crate::alert_sources::{SourceAlert, alertmanager, grafana};
use crate::input_error::FieldError;
use crate::routing::selection::EndpointSelection;
use crate::service::Service;

#[utoipa::path(
    post,
    path = "/v1/alerts/alertmanager",
    operation_id = "accept_alertmanager_notification",
    tag = "alerts",
    request_body(content = crate::alert_sources::alertmanager::Notification, content_type = "application/json"),
    params(
        ("endpoints" = Option<String>, Query, nullable = false,
            description = "Names or ids of endpoints, separated by commas: the notification's alerts are for them only (their matchers and filters still apply); an unknown one is a 422"),
    ),
    responses(
        (status = 202, description = "Every alert accepted and queued", body = super::views::SourceReceipts),
        super::error::JsonBodyAndQueryErrors,
        super::error::KeyErrors,
    )
)]
pub async fn from_alertmanager(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Query(query): Query<HashMap<String, String>>,
    body: JsonBody,
) -> Result<(StatusCode, Json<SourceReceipts>), ApiError> {
    accept(
        &service,
        &tenant,
        &query,
        body,
        alertmanager::alerts_from_json,
    )
    .await
}

#[utoipa::path(
    post,
    path = "/v1/alerts/grafana",
    operation_id = "accept_grafana_notification",
    tag = "alerts",
    request_body(content = crate::alert_sources::grafana::Notification, content_type = "application/json"),
    params(
        ("endpoints" = Option<String>, Query, nullable = false,
            description = "Names or ids of endpoints, separated by commas: the notification's alerts are for them only (their matchers and filters still apply); an unknown one is a 422"),
    ),
    responses(
        (status = 202, description = "Every alert accepted and queued", body = super::views::SourceReceipts),
        super::error::JsonBodyAndQueryErrors,
        super::error::KeyErrors,
    )
)]
pub async fn from_grafana(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Query(query): Query<HashMap<String, String>>,
    body: JsonBody,
) -> Result<(StatusCode, Json<SourceReceipts>), ApiError> {
    accept(&service, &tenant, &query, body, grafana::alerts_from_json).await
}

/// Reads every alert, and the endpoints the URL names, before writing any, so a bad entry or an unknown
/// endpoint rejects the notification with nothing written.
async fn accept(
    service: &Service,
    tenant: &crate::ids::TenantId,
    query: &HashMap<String, String>,
    body: JsonBody,
    read: fn(&Value) -> Result<Vec<SourceAlert>, FieldError>,
) -> Result<(StatusCode, Json<SourceReceipts>), ApiError> {
    if let Some(unknown) = query.keys().find(|k| k.as_str() != "endpoints") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("unknown query parameter `{unknown}`: only `endpoints` is read"),
        )
        .with_field(unknown));
    }
    let selection = EndpointSelection::from_query(query.get("endpoints").map(String::as_str))?;
    let alerts = read(&body.required()?)?;
    let receipts = service
        .accept_source_alerts(tenant, alerts, selection.as_ref())
        .await?;
    let alerts = receipts.iter().map(AlertReceiptView::from).collect();
    Ok((StatusCode::ACCEPTED, Json(SourceReceipts { alerts })))
}
