//! Who is calling: the tenant behind the `Authorization: Bearer <key>` header.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::ids::TenantId;
use crate::service::Service;

/// The authenticated tenant of a request.
pub struct Tenant(pub TenantId);

impl FromRequestParts<Arc<Service>> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<Service>,
    ) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("send an API key as `Authorization: Bearer <key>`")
                .with_field("Authorization")
        })?;
        let key = header
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <key>`")
                    .with_field("Authorization")
            })?;
        match service.authenticate(key).await {
            Ok(Some(tenant)) => Ok(Tenant(tenant)),
            Ok(None) => {
                Err(ApiError::unauthorized("the API key is not valid").with_field("Authorization"))
            }
            Err(e) => {
                tracing::error!(error = %e, "key lookup failed");
                Err(ApiError::unavailable())
            }
        }
    }
}
