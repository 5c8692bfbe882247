//! `POST /v1/alerts`: accept an alert, answered 202 once its deliveries are durably queued;
//! `GET /v1/alerts/{id}`: read one back, with where routing sent it; and `GET /v1/alerts/unrouted`: the
//! alerts no endpoint was routed, newest first.

use std::sync::Arc;

use axum::Json;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::{AlertPage, AlertReceiptView, AlertView};
use crate::ids::AlertId;
use crate::service::Service;

const MAX_IDEMPOTENCY_KEY: usize = 255;

#[utoipa::path(
    post,
    path = "/v1/alerts",
    operation_id = "accept_alert",
    tag = "alerts",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, description = "Accept the alert once per key: a repeat answers the first receipt", pattern = "^[!-~]{1,255}$")),
    request_body(content = super::openapi::AlertInput, content_type = "application/json"),
    responses(
        (status = 202, description = "Accepted and queued", body = super::views::AlertReceiptView,
            links(
                ("read_delivery" = (operation_id = "read_delivery", parameters(("id" = "$response.body#/deliveries/0/id")))),
                ("resend_delivery" = (operation_id = "resend_delivery", parameters(("id" = "$response.body#/deliveries/0/id")))),
            )
        ),
        super::error::JsonBodyErrors,
        // After the set, so it replaces the set's 400: the header is read too.
        (status = 400, description = "The body is not JSON or missing, or the Idempotency-Key header is invalid", body = super::views::ErrorBody),
        (status = 409, description = "The Idempotency-Key was used for another alert", body = super::views::ErrorBody),
        super::error::KeyErrors,
    )
)]
pub async fn accept(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<(StatusCode, Json<AlertReceiptView>), ApiError> {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY && k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_header",
                        format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
                    )
                    .with_field("Idempotency-Key")
                })?,
        ),
    };
    let receipt = service
        .accept_alert(&tenant, &body.required()?, idempotency_key)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(AlertReceiptView::from(&receipt))))
}

#[utoipa::path(
    get,
    path = "/v1/alerts/{id}",
    operation_id = "read_alert",
    tag = "alerts",
    params(("id" = String, Path, description = "The alert id, as the receipt gave it")),
    responses(
        (status = 200, description = "The alert as received, and how many endpoints it was routed to", body = AlertView),
        super::error::AlertErrors,
        super::error::KeyErrors,
    )
)]
pub async fn read(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<AlertView>, ApiError> {
    let alert = service
        .get_alert(&tenant, &AlertId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("alert"))?;
    Ok(Json(AlertView::from(&alert)))
}

#[utoipa::path(
    get,
    path = "/v1/alerts/unrouted",
    operation_id = "list_unrouted_alerts",
    tag = "alerts",
    params(
        ("limit" = Option<usize>, Query, nullable = false, description = "At most this many (1 to 500, default 50)", minimum = 1, maximum = 500),
        ("before" = Option<String>, Query, nullable = false, description = "Only alerts older than this alert id: the `next_before` of the previous page"),
    ),
    responses(
        (status = 200, description = "The alerts no endpoint's routing took, newest first (those sent to the default endpoint too)", body = AlertPage),
        (status = 400, description = "An unknown or invalid query parameter", body = super::views::ErrorBody),
        super::error::KeyErrors,
    )
)]
pub async fn list_unrouted(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<AlertPage>, ApiError> {
    // The same `limit` and `before` rules as the delivery listings; `before` is an alert id here.
    let filter = super::deliveries::filter_from_query(&query, &["limit", "before"])?;
    let before = filter.before.map(|id| AlertId(id.0));
    let alerts = service
        .list_unrouted(&tenant, before.as_ref(), filter.limit)
        .await?;
    let next_before = (alerts.len() == filter.limit)
        .then(|| alerts.last().map(|a| a.id.to_string()))
        .flatten();
    Ok(Json(AlertPage {
        alerts: alerts.iter().map(AlertView::from).collect(),
        next_before,
    }))
}
