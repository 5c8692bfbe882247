//! `POST /v1/alerts`: accept an alert, answered 202 once its deliveries are durably queued.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::AlertReceiptView;
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
