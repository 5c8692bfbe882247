//! `/v1/dead-letters`: list dead deliveries, replay them (all, by ids, or by endpoint) as manual resends.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::Value;

use super::Tenant;
use super::deliveries::{filter_from_query, page};
use super::error::ApiError;
use super::json_body::JsonBody;
use super::views::{DeadLetterPage, ReplayReport};
use crate::delivery::DeliveryStatus;
use crate::ids::{DeliveryId, EndpointId};
use crate::input_error::{FieldError, ObjectReader};
use crate::service::{ReplaySelection, Service};

#[utoipa::path(
    get,
    path = "/v1/dead-letters",
    operation_id = "list_dead_letters",
    tag = "dead-letters",
    params(
        ("endpoint_id" = Option<String>, Query, nullable = false, description = "Only this endpoint's"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "Page size; default 50"),
        ("before" = Option<String>, Query, nullable = false, description = "The `next_before` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of dead letters, newest first", body = super::views::DeadLetterPage),
        super::error::QueryErrors,
        super::error::KeyErrors,
    )
)]
pub async fn list(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let mut filter = filter_from_query(&query, &["endpoint_id", "limit", "before"])?;
    filter.status = Some(DeliveryStatus::Dead);
    let (dead_letters, next_before) = page(&service, &tenant, &filter).await?;
    Ok(Json(DeadLetterPage {
        dead_letters,
        next_before,
    }))
}

/// Body: none or `{}` for all, `{"ids": [...]}`, or `{"endpoint_id": "..."}`.
#[utoipa::path(
    post,
    path = "/v1/dead-letters/replay",
    operation_id = "replay_dead_letters",
    tag = "dead-letters",
    request_body(content = Option<super::openapi::ReplayInput>, description = "Which dead letters: none or `{}` for all", content_type = "application/json"),
    responses(
        (status = 200, description = "How many dead letters were queued again", body = super::views::ReplayReport),
        super::error::JsonBodyErrors,
        super::error::KeyErrors,
    )
)]
pub async fn replay(
    State(service): State<Arc<Service>>,
    Tenant(tenant): Tenant,
    body: JsonBody,
) -> Result<Json<ReplayReport>, ApiError> {
    let selection = selection(&body.0)?;
    let replayed = service.replay_dead_letters(&tenant, &selection).await?;
    Ok(Json(ReplayReport {
        replayed: replayed as u64,
    }))
}

const MAX_IDS: usize = 10_000;

fn selection(body: &Value) -> Result<ReplaySelection, FieldError> {
    if body.is_null() {
        return Ok(ReplaySelection::All);
    }
    let reader = ObjectReader::new("", body, &["ids", "endpoint_id"])?;
    // `null` reads as absent here as everywhere else, so `{"ids": [...], "endpoint_id": null}` is `ids`.
    if reader.value("ids").is_some() && reader.value("endpoint_id").is_some() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_null_beside_the_other_selector_reads_as_absent() {
        assert_eq!(
            selection(&json!({"ids": ["msg_1"], "endpoint_id": null})).unwrap(),
            ReplaySelection::Ids(vec![DeliveryId("msg_1".into())])
        );
        assert_eq!(
            selection(&json!({"ids": null, "endpoint_id": "ep_1"})).unwrap(),
            ReplaySelection::Endpoint(EndpointId("ep_1".into()))
        );
        let both = selection(&json!({"ids": [], "endpoint_id": "ep_1"})).unwrap_err();
        assert_eq!(both.field, "ids");
    }
}
