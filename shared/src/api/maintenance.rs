//! `/v1/maintenance-windows`: the calling tenant's maintenance windows, listed with whether each is open
//! now, created and deleted.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::{MaintenanceWindowList, MaintenanceWindowView};
use crate::service::{Service, ServiceError};

#[utoipa::path(
    get,
    path = "/v1/maintenance-windows",
    operation_id = "list_maintenance_windows",
    tag = "maintenance",
    responses(
        (status = 200, description = "Every maintenance window of the tenant, oldest first, with the end of the one open now", body = super::views::MaintenanceWindowList),
        super::error::KeyErrors,
    )
)]
pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
) -> Result<Json<MaintenanceWindowList>, ApiError> {
    let windows = service.list_maintenance_windows(&tenant).await?;
    let now = service.now();
    Ok(Json(MaintenanceWindowList {
        maintenance_windows: windows
            .iter()
            .map(|w| MaintenanceWindowView::of(w, now))
            .collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/v1/maintenance-windows",
    operation_id = "create_maintenance_window",
    tag = "maintenance",
    request_body(content = super::openapi::MaintenanceWindowInput, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = super::views::MaintenanceWindowView),
        (status = 409, description = "The tenant keeps 100 windows already", body = super::views::ErrorBody),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn create(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<(StatusCode, Json<MaintenanceWindowView>), ApiError> {
    let window = service
        .create_maintenance_window(&tenant, &body.required()?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(MaintenanceWindowView::of(&window, service.now())),
    ))
}

#[utoipa::path(
    delete,
    path = "/v1/maintenance-windows/{id}",
    operation_id = "delete_maintenance_window",
    tag = "maintenance",
    params(("id" = String, Path, description = "The window's id")),
    responses(
        (status = 204, description = "Deleted: the messages it held go at their next look"),
        (status = 404, description = "The tenant has no window with this id", body = super::views::ErrorBody),
        super::error::KeyErrors,
    )
)]
pub async fn delete(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match service.delete_maintenance_window(&tenant, &id).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e @ ServiceError::NotFound(_)) => Err(ApiError::from(e).with_field("id")),
        Err(e) => Err(e.into()),
    }
}
