//! `/v1/deliveries`: list with filters, read one with every attempt, resend.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;

use super::Tenant;
use super::error::ApiError;
use super::views::{DeliveryPage, DeliveryView};
use crate::delivery::DeliveryStatus;
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::ports::store::DeliveryFilter;
use crate::service::Service;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

#[utoipa::path(
    get,
    path = "/v1/deliveries",
    operation_id = "list_deliveries",
    tag = "deliveries",
    params(
        ("endpoint_id" = Option<String>, Query, nullable = false, description = "Only this endpoint's"),
        ("status" = Option<crate::delivery::DeliveryStatus>, Query, nullable = false, description = "Only deliveries in this status"),
        ("alert_id" = Option<String>, Query, nullable = false, description = "Only this alert's"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size; default 50"),
        ("before" = Option<String>, Query, nullable = false, description = "The `next_before` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = super::views::DeliveryPage),
        super::error::QueryErrors,
        super::error::KeyErrors,
    )
)]
pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let filter = filter_from_query(
        &query,
        &["endpoint_id", "status", "alert_id", "limit", "before"],
    )?;
    let (deliveries, next_before) = page(&service, &tenant, &filter).await?;
    Ok(Json(DeliveryPage {
        deliveries,
        next_before,
    }))
}

#[utoipa::path(
    get,
    path = "/v1/deliveries/{id}",
    operation_id = "read_delivery",
    tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id")),
    responses(
        (status = 200, description = "The delivery with every attempt", body = super::views::DeliveryView),
        super::error::DeliveryErrors,
        super::error::KeyErrors,
    )
)]
pub async fn read(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<DeliveryView>, ApiError> {
    let delivery = service
        .get_delivery(&tenant, &DeliveryId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    Ok(Json(DeliveryView::from(&delivery)))
}

#[utoipa::path(
    post,
    path = "/v1/deliveries/{id}/resend",
    operation_id = "resend_delivery",
    tag = "deliveries",
    params(("id" = String, Path, description = "The delivery id")),
    responses(
        (status = 202, description = "Queued for a new run of attempts", body = super::views::DeliveryView),
        super::error::DeliveryErrors,
        super::error::KeyErrors,
    )
)]
pub async fn resend(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let delivery = service.resend(&tenant, &DeliveryId(id)).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::from(&delivery))))
}

/// Reads the shared list filters; any other query parameter is an error naming it.
pub(super) fn filter_from_query(
    query: &HashMap<String, String>,
    allowed: &[&str],
) -> Result<DeliveryFilter, ApiError> {
    let bad = |field: &str, message: String| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message).with_field(field)
    };
    if let Some(unknown) = query.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(unknown, format!("unknown query parameter `{unknown}`")));
    }
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad(
                    "limit",
                    format!("`limit` must be a number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let status = match query.get("status") {
        None => None,
        Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
            bad(
                "status",
                "`status` must be one of pending, delivered, dead, filtered".into(),
            )
        })?),
    };
    Ok(DeliveryFilter {
        endpoint_id: query.get("endpoint_id").map(|s| EndpointId(s.clone())),
        status,
        alert_id: query.get("alert_id").map(|s| AlertId(s.clone())),
        before: query.get("before").map(|s| DeliveryId(s.clone())),
        limit,
    })
}

/// A page of deliveries, with the cursor for the next page when this one is full.
pub(super) async fn page(
    service: &Service,
    tenant: &TenantId,
    filter: &DeliveryFilter,
) -> Result<(Vec<DeliveryView>, Option<String>), ApiError> {
    let deliveries = service.list_deliveries(tenant, filter).await?;
    let next_before = (deliveries.len() == filter.limit)
        .then(|| deliveries.last().map(|d| d.id.to_string()))
        .flatten();
    Ok((
        deliveries.iter().map(DeliveryView::from).collect(),
        next_before,
    ))
}
