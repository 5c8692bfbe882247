//! `/v1/keys`: the calling tenant's API keys, listed by id (never the key or its hash), and revoked.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::Tenant;
use super::error::ApiError;
use super::views::{ApiKeyList, ApiKeyView};
use crate::ids::ApiKeyId;
use crate::service::{Service, ServiceError};

#[utoipa::path(
    get,
    path = "/v1/keys",
    operation_id = "list_keys",
    tag = "keys",
    responses(
        (status = 200, description = "Every API key of the tenant, oldest first", body = super::views::ApiKeyList),
        super::error::KeyErrors,
    )
)]
pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
) -> Result<Json<ApiKeyList>, ApiError> {
    let keys = service.list_keys(&tenant).await?;
    Ok(Json(ApiKeyList {
        keys: keys.iter().map(ApiKeyView::from).collect(),
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    operation_id = "revoke_key",
    tag = "keys",
    params(("id" = String, Path, description = "The key's id, as `GET /v1/keys` lists it")),
    responses(
        (status = 204, description = "Revoked: the key is refused from now on"),
        super::error::KeyRevokeErrors,
        super::error::KeyErrors,
    )
)]
pub async fn revoke(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match service.revoke_key(&tenant, &ApiKeyId(id)).await {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Conflict(_))) => {
            Err(ApiError::from(e).with_field("id"))
        }
        Err(e) => Err(e.into()),
    }
}
