//! `/v1/settings`: the tenant's settings, read and replaced.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::SettingsView;
use crate::service::Service;

#[utoipa::path(
    get,
    path = "/v1/settings",
    operation_id = "read_settings",
    tag = "settings",
    responses(
        (status = 200, description = "The tenant's settings", body = SettingsView),
        super::error::KeyErrors,
    )
)]
pub async fn read(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
) -> Result<Json<SettingsView>, ApiError> {
    let settings = service.get_settings(&tenant).await?;
    Ok(Json(SettingsView::new(&settings, service.retention())))
}

#[utoipa::path(
    put,
    path = "/v1/settings",
    operation_id = "replace_settings",
    tag = "settings",
    request_body(content = super::openapi::SettingsInput, content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced", body = SettingsView),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn replace(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<Json<SettingsView>, ApiError> {
    let settings = service.put_settings(&tenant, &body.required()?).await?;
    Ok(Json(SettingsView::new(&settings, service.retention())))
}
