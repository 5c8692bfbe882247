//! Digests on DynamoDB, in the tenant's partition:
//! - `DGW#<endpoint id>`: the endpoint's current window of errors (its start, end and count), changed by
//!   one conditional `UpdateItem` per error: counted in the open window, or a new window begun in its
//!   place once it has ended. Expires a day after its window.
//! - `DGM#<digest delivery id>#<delivery id>`: one per folded alert, what its digest lists of it,
//!   written in the alert's own transaction ([`member_item`]), so a digest lists exactly the alerts
//!   recorded as folded into it; read with one `Query` of the digest's prefix.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::delivery_items::STAGED;
use super::item::{self, Item, n, s};
use super::layout::{
    EXPIRES_AT, LAYOUT, PK, SK, WRITTEN_LAYOUT, digest_member_sk, digest_members_prefix,
    digest_window_sk, tenant_pk,
};
use super::{DynamoError, DynamoStore, answered, now_epoch, request_failed, written};
use crate::alert::Alert;
use crate::digest::{DigestMember, DigestMembers, WindowCount};
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::ports::store::{DigestStore, StoreError, stored_window};

const STARTED_AT: &str = "started_at";
const ENDS_AT: &str = "ends_at";
const ERRORS: &str = "errors";
const DOC: &str = "doc";
/// How long a window's item outlives its window.
const WINDOW_KEPT: chrono::Duration = chrono::Duration::days(1);
/// How often counting tries again when another writer replaced the window between its two steps.
const COUNT_TRIES: usize = 5;

/// The item that lists `alert`, whose delivery `delivery_id` was folded into `digest_id`, in that
/// digest; it expires with the alert.
pub(super) fn member_item(
    alert: &Alert,
    delivery_id: &DeliveryId,
    digest_id: &DeliveryId,
    expires_at: i64,
) -> Result<Item, StoreError> {
    Ok([
        (PK.to_string(), s(tenant_pk(&alert.tenant))),
        (SK.to_string(), s(digest_member_sk(digest_id, delivery_id))),
        (
            DOC.to_string(),
            item::json_value(&DigestMember::of(alert, delivery_id))?,
        ),
        (EXPIRES_AT.to_string(), n(expires_at)),
        item::layout_attribute(),
    ]
    .into())
}

impl DynamoStore {
    /// An `UpdateItem` of the endpoint's window item.
    fn window_update(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
    ) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(digest_window_sk(endpoint_id)))
    }

    /// Counts the error in the endpoint's open window; `None` when no window is open at `at`.
    async fn count_in_open_window(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        at: DateTime<Utc>,
    ) -> Result<Option<Item>, StoreError> {
        let result = self
            .window_update(tenant, endpoint_id)
            .update_expression("ADD #errors :one")
            .condition_expression("#ends > :at")
            .expression_attribute_names("#errors", ERRORS)
            .expression_attribute_names("#ends", ENDS_AT)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", n(at.timestamp_millis()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        Ok(answered("UpdateItem", result)?.and_then(|output| output.attributes))
    }

    /// Begins a window at `at` in place of an ended one (or none); false when another writer began one
    /// first.
    async fn begin_window(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let ends = at + window;
        let result = self
            .window_update(tenant, endpoint_id)
            .update_expression(
                "SET #started = :at, #ends = :ends, #errors = :one, #expires = :expires, #layout = :layout",
            )
            .condition_expression("attribute_not_exists(#ends) OR #ends <= :at")
            .expression_attribute_names("#started", STARTED_AT)
            .expression_attribute_names("#ends", ENDS_AT)
            .expression_attribute_names("#errors", ERRORS)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#layout", LAYOUT)
            .expression_attribute_values(":at", n(at.timestamp_millis()))
            .expression_attribute_values(":ends", n(ends.timestamp_millis()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n((ends + WINDOW_KEPT).timestamp()))
            .expression_attribute_values(":layout", n(WRITTEN_LAYOUT))
            .send()
            .await;
        written("UpdateItem", result)
    }
}

#[async_trait]
impl DigestStore for DynamoStore {
    /// One `UpdateItem` while a window is open; a second begins the next one. Between the two another
    /// writer may begin it first: then the error is counted in that one.
    async fn count_error(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<WindowCount, StoreError> {
        for _ in 0..COUNT_TRIES {
            if let Some(counted) = self.count_in_open_window(tenant, endpoint_id, at).await? {
                return stored_window(
                    item::number(&counted, STARTED_AT)?,
                    item::number(&counted, ENDS_AT)?,
                    item::number(&counted, ERRORS)?,
                );
            }
            if self.begin_window(tenant, endpoint_id, at, window).await? {
                let ends = at + window;
                return stored_window(at.timestamp_millis(), ends.timestamp_millis(), 1);
            }
        }
        Err(DynamoError::Contended("a digest window").into())
    }

    /// `Query` pages of the digest's prefix: whole items until `listed` are read, then only what counting
    /// needs (the expiry and the staged flag), so a storm of many thousands is counted without carrying
    /// their documents.
    async fn digest_members(
        &self,
        tenant: &TenantId,
        digest_id: &DeliveryId,
        listed: usize,
    ) -> Result<DigestMembers, StoreError> {
        let mut members = DigestMembers::default();
        let mut start = None;
        let now = now_epoch();
        loop {
            let listing = members.listed.len() < listed;
            let mut query =
                self.prefix_query(&tenant_pk(tenant), &digest_members_prefix(digest_id), start);
            if listing {
                // A page of what is left to list, so counting the rest starts from there.
                let wanted = listed - members.listed.len();
                query = query.limit(i32::try_from(wanted).unwrap_or(i32::MAX));
            } else {
                query = query
                    .projection_expression("#expires, #staged")
                    .expression_attribute_names("#expires", EXPIRES_AT)
                    .expression_attribute_names("#staged", STAGED);
            }
            let output = query.send().await.map_err(|e| request_failed("Query", e))?;
            for found in output.items.unwrap_or_default() {
                // An alert with more deliveries than one transaction holds stages them, and their
                // entries here, until it is written whole.
                if !item::is_live(&found, now)? || item::flag(&found, STAGED)? {
                    continue;
                }
                members.count += 1;
                if members.listed.len() < listed {
                    members.listed.push(item::document(&found, DOC)?);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(members);
            }
        }
    }
}
