//! `/v1/dead-letters`: list dead deliveries, replay them (all, by ids, or by endpoint) as manual resends.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::Tenant;
use super::deliveries::{filter_from_query, page};
use super::error::ApiError;
use super::json_body::JsonBody;
use crate::delivery::DeliveryStatus;
use crate::ids::{DeliveryId, EndpointId};
use crate::input_error::{FieldError, ObjectReader};
use crate::service::{ReplaySelection, Service};

pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut filter = filter_from_query(&query, &["endpoint_id", "limit", "before"])?;
    filter.status = Some(DeliveryStatus::Dead);
    page(&service, &tenant, &filter, "dead_letters").await
}

/// Body: none or `{}` for all, `{"ids": [...]}`, or `{"endpoint_id": "..."}`.
pub async fn replay(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<Json<Value>, ApiError> {
    let selection = selection(&body.0)?;
    let replayed = service.replay_dead_letters(&tenant, &selection).await?;
    Ok(Json(json!({ "replayed": replayed })))
}

const MAX_IDS: usize = 10_000;

fn selection(body: &Value) -> Result<ReplaySelection, FieldError> {
    if body.is_null() {
        return Ok(ReplaySelection::All);
    }
    let reader = ObjectReader::new("", body, &["ids", "endpoint_id"])?;
    if reader.has("ids") && reader.has("endpoint_id") {
        return Err(FieldError::invalid(
            "ids",
            "give either `ids` or `endpoint_id`, not both",
        ));
    }
    if let Some(endpoint) = reader.string("endpoint_id", 200)? {
        return Ok(ReplaySelection::Endpoint(EndpointId(endpoint.to_string())));
    }
    let Some(ids) = reader.value("ids") else {
        return Ok(ReplaySelection::All);
    };
    let ids = ids
        .as_array()
        .filter(|a| a.len() <= MAX_IDS)
        .ok_or_else(|| {
            FieldError::invalid(
                "ids",
                format!("`ids` must be a list of at most {MAX_IDS} delivery ids"),
            )
        })?;
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            id.as_str()
                .map(|s| DeliveryId(s.to_string()))
                .ok_or_else(|| {
                    FieldError::invalid(format!("ids[{i}]"), format!("`ids[{i}]` must be a string"))
                })
        })
        .collect::<Result<_, _>>()
        .map(ReplaySelection::Ids)
}
