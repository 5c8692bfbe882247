//! How a delivery and its attempts are stored as DynamoDB items (attribute names, the item shapes, reading
//! one back), and the conditional `UpdateItem` every status change is built from.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use chrono::Utc;

use super::item::{self, Item, ItemError, n, s};
use super::layout::{
    BY_ALERT, BY_ENDPOINT, BY_ENDPOINT_STATUS, BY_STATUS, DELIVERY_ID, EXPIRES_AT, LAYOUT, PK, SK,
    WRITTEN_DELIVERY_INDEXES, WRITTEN_LAYOUT, attempt_sk, attempts_pk, delivery_sk,
    endpoint_index_key, endpoint_status_index_key, in_status_indexes, status_index_key, tenant_pk,
};
use super::{DynamoError, DynamoStore, key, now_epoch, written};
use crate::alert::MessageType;
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::ports::store::StoreError;

pub(super) const TENANT: &str = "tenant";
pub(super) const ALERT_ID: &str = "alert_id";
pub(super) const ENDPOINT_ID: &str = "endpoint_id";
pub(super) const MESSAGE_TYPE: &str = "message_type";
pub(super) const STATUS: &str = "status";
pub(super) const STATUS_REASON: &str = "status_reason";
pub(super) const RUN: &str = "run";
pub(super) const NEXT_ATTEMPT_AT: &str = "next_attempt_at";
pub(super) const CREATED_AT: &str = "created_at";
pub(super) const UPDATED_AT: &str = "updated_at";
/// How many attempts the delivery has: the sequence number of the next attempt item is one more.
pub(super) const ATTEMPT_COUNT: &str = "attempt_count";
/// The highest attempt number recorded in the current run; absent before its first attempt. Another copy
/// of the run's task that made the same attempt finds it here and records nothing.
pub(super) const RUN_LAST_ATTEMPT: &str = "run_last_attempt";
/// Set on the deliveries of a large alert while it is being written; such a delivery reads as absent.
pub(super) const STAGED: &str = "staged";
pub(super) const DOC: &str = "doc";
/// A fallback delivery's dead delivery, and a dead delivery's fallback; absent when there is none.
pub(super) const FALLBACK_OF: &str = "fallback_of";
pub(super) const FALLBACK_DELIVERY_ID: &str = "fallback_delivery_id";
pub(super) const DIGEST_DELIVERY_ID: &str = "digest_delivery_id";

/// A delivery's item, without its attempts. `staged` marks it as not yet published.
pub(super) fn delivery_item(
    delivery: &Delivery,
    expires_at: i64,
    staged: bool,
) -> Result<Item, StoreError> {
    let tenant = &delivery.tenant;
    let mut item: Item = [
        (PK, s(tenant_pk(tenant))),
        (SK, s(delivery_sk(&delivery.id))),
        (DELIVERY_ID, s(delivery.id.as_str())),
        (TENANT, s(tenant.as_str())),
        (ALERT_ID, s(delivery.alert_id.as_str())),
        (ENDPOINT_ID, s(delivery.endpoint_id.as_str())),
        (MESSAGE_TYPE, s(delivery.message_type.as_str())),
        (STATUS, s(delivery.status.as_str())),
        (RUN, n(delivery.run)),
        (CREATED_AT, item::time_value(&delivery.created_at)),
        (UPDATED_AT, item::time_value(&delivery.updated_at)),
        (ATTEMPT_COUNT, n(delivery.attempts.len())),
        (EXPIRES_AT, n(expires_at)),
        (LAYOUT, n(WRITTEN_LAYOUT)),
        (
            BY_ENDPOINT.key_attribute,
            s(endpoint_index_key(tenant, &delivery.endpoint_id)),
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect();
    if in_status_indexes(delivery.status) {
        item.insert(
            BY_STATUS.key_attribute.to_string(),
            s(status_index_key(tenant, delivery.status)),
        );
        item.insert(
            BY_ENDPOINT_STATUS.key_attribute.to_string(),
            s(endpoint_status_index_key(
                tenant,
                &delivery.endpoint_id,
                delivery.status,
            )),
        );
    }
    for index in WRITTEN_DELIVERY_INDEXES {
        item.insert(index.sort_attribute.to_string(), s(delivery.id.as_str()));
    }
    if let Some(reason) = &delivery.status_reason {
        item.insert(STATUS_REASON.to_string(), s(reason));
    }
    if let Some(next) = &delivery.next_attempt_at {
        item.insert(NEXT_ATTEMPT_AT.to_string(), item::time_value(next));
    }
    for (name, id) in [
        (FALLBACK_OF, &delivery.fallback_of),
        (FALLBACK_DELIVERY_ID, &delivery.fallback_delivery_id),
        (DIGEST_DELIVERY_ID, &delivery.digest_delivery_id),
    ] {
        if let Some(id) = id {
            item.insert(name.to_string(), s(id.as_str()));
        }
    }
    if staged {
        item.insert(STAGED.to_string(), AttributeValue::Bool(true));
    }
    Ok(item)
}

/// The item of a delivery's attempt, keyed by its run and number ([`attempt_sk`]), expiring with the
/// delivery.
pub(super) fn attempt_item(
    tenant: &TenantId,
    id: &DeliveryId,
    attempt: &Attempt,
    expires_at: i64,
) -> Result<Item, StoreError> {
    Ok([
        (PK.to_string(), s(attempts_pk(tenant, id))),
        (SK.to_string(), s(attempt_sk(attempt.run, attempt.number))),
        (DOC.to_string(), item::json_value(attempt)?),
        (EXPIRES_AT.to_string(), n(expires_at)),
        item::layout_attribute(),
    ]
    .into())
}

/// A delivery as stored, with what the conditional writes check.
pub(super) struct Stored {
    pub(super) delivery: Delivery,
    pub(super) attempt_count: u64,
    /// See [`RUN_LAST_ATTEMPT`]; 0 before the run's first attempt.
    pub(super) run_last_attempt: u32,
    pub(super) expires_at: i64,
}

pub(super) fn stored_from(found: &Item) -> Result<Stored, ItemError> {
    item::check_layout(found)?;
    let delivery = Delivery {
        id: DeliveryId(item::string(found, DELIVERY_ID)?.to_string()),
        tenant: TenantId(item::string(found, TENANT)?.to_string()),
        alert_id: AlertId(item::string(found, ALERT_ID)?.to_string()),
        endpoint_id: EndpointId(item::string(found, ENDPOINT_ID)?.to_string()),
        message_type: item::named(found, MESSAGE_TYPE, MessageType::parse)?,
        status: item::named(found, STATUS, DeliveryStatus::parse)?,
        status_reason: item::optional_string(found, STATUS_REASON)?.map(str::to_string),
        run: item::number(found, RUN)?,
        attempts: Vec::new(),
        next_attempt_at: item::optional_time(found, NEXT_ATTEMPT_AT)?,
        created_at: item::time(found, CREATED_AT)?,
        updated_at: item::time(found, UPDATED_AT)?,
        fallback_of: item::optional_string(found, FALLBACK_OF)?.map(DeliveryId::from),
        fallback_delivery_id: item::optional_string(found, FALLBACK_DELIVERY_ID)?
            .map(DeliveryId::from),
        digest_delivery_id: item::optional_string(found, DIGEST_DELIVERY_ID)?.map(DeliveryId::from),
    };
    Ok(Stored {
        delivery,
        attempt_count: item::number(found, ATTEMPT_COUNT)?,
        run_last_attempt: item::optional_number(found, RUN_LAST_ATTEMPT)?.unwrap_or(0),
        expires_at: item::number(found, EXPIRES_AT)?,
    })
}

/// The `SET` and `REMOVE` clauses of a change to `status`, for the names and values of
/// [`DeliveryWrite::status_parts`]: the status, the time, and the status index keys, set, or removed
/// when the indexes leave the status out (which takes the delivery out of them). A delivery written
/// before `by_alert` was retired leaves it at its first change.
pub(super) fn status_clauses(status: DeliveryStatus) -> (Vec<&'static str>, Vec<&'static str>) {
    let mut set = vec!["#status = :status", "#updated = :updated"];
    let mut remove = vec!["#by_alert"];
    if in_status_indexes(status) {
        set.extend([
            "#by_status = :by_status",
            "#by_endpoint_status = :by_endpoint_status",
        ]);
    } else {
        remove.extend(["#by_status", "#by_endpoint_status"]);
    }
    (set, remove)
}

/// The parts of one conditional `UpdateItem` on a delivery, sent alone or inside a transaction.
pub(super) struct DeliveryWrite {
    pub(super) key: Item,
    pub(super) update: String,
    pub(super) condition: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl DeliveryWrite {
    pub(super) fn new(tenant: &TenantId, id: &DeliveryId) -> Self {
        Self {
            key: key(tenant_pk(tenant), delivery_sk(id)),
            update: String::new(),
            condition: String::new(),
            names: HashMap::new(),
            values: HashMap::new(),
        }
    }

    pub(super) fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names
            .insert(placeholder.to_string(), attribute.to_string());
        self
    }

    pub(super) fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_string(), value);
        self
    }

    /// The names and values every status change uses: the new status and the two index keys built
    /// from it (none for a status the status indexes leave out), and the time. The clauses that use
    /// them are [`status_clauses`].
    pub(super) fn status_parts(self, stored: &Delivery, status: DeliveryStatus) -> Self {
        let tenant = &stored.tenant;
        let write = self
            .name("#status", STATUS)
            .name("#by_status", BY_STATUS.key_attribute)
            .name("#by_endpoint_status", BY_ENDPOINT_STATUS.key_attribute)
            .name("#by_alert", BY_ALERT.key_attribute)
            .name("#updated", UPDATED_AT)
            .name("#staged", STAGED)
            .name("#expires", EXPIRES_AT)
            .value(":status", s(status.as_str()))
            .value(":updated", item::time_value(&Utc::now()))
            .value(":now", n(now_epoch()));
        if !in_status_indexes(status) {
            return write;
        }
        write
            .value(":by_status", s(status_index_key(tenant, status)))
            .value(
                ":by_endpoint_status",
                s(endpoint_status_index_key(
                    tenant,
                    &stored.endpoint_id,
                    status,
                )),
            )
    }

    pub(super) fn into_update(self, table: &str) -> Result<Update, StoreError> {
        Ok(Update::builder()
            .table_name(table)
            .set_key(Some(self.key))
            .update_expression(self.update)
            .condition_expression(self.condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(DynamoError::Build)?)
    }

    /// Sends it alone: false if the condition did not hold.
    pub(super) async fn send(self, store: &DynamoStore) -> Result<bool, StoreError> {
        let result = store
            .client
            .update_item()
            .table_name(&store.table)
            .set_key(Some(self.key))
            .update_expression(self.update)
            .condition_expression(self.condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .send()
            .await;
        written("UpdateItem", result)
    }
}
