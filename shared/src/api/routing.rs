//! `POST /v1/routing/test`: which endpoints an alert would reach, and why each other one would not; like
//! `amtool config routes test`. Stores and sends nothing.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::RouteTestView;
use crate::service::Service;

#[utoipa::path(
    post,
    path = "/v1/routing/test",
    operation_id = "test_routing",
    tag = "alerts",
    request_body(content = super::openapi::AlertInput, content_type = "application/json",
        description = "An alert as `POST /v1/alerts` takes it, `endpoints` included"),
    responses(
        (status = 200, description = "Every endpoint of the tenant, with what it would do with the alert", body = RouteTestView),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn test(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<Json<RouteTestView>, ApiError> {
    let test = service.test_route(&tenant, &body.required()?).await?;
    Ok(Json(RouteTestView::from(&test)))
}
