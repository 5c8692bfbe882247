//! `POST /v1/alerts`: accept an alert, answered 202 once its deliveries are durably queued.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::Tenant;
use super::error::ApiError;
use super::json_body::JsonBody;
use crate::service::Service;

const MAX_IDEMPOTENCY_KEY: usize = 255;

pub async fn accept(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    body: JsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
    let deliveries: Vec<Value> = receipt
        .deliveries
        .iter()
        .map(|(id, endpoint_id)| json!({"id": id, "endpoint_id": endpoint_id}))
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": receipt.alert_id, "deliveries": deliveries})),
    ))
}
