//! The alert port on DynamoDB: an alert, its idempotency record and its deliveries written as one
//! transaction, or, past DynamoDB's 100 items per transaction, staged first and published after the alert
//! commits.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::delivery_items::{DIGEST_DELIVERY_ID, STAGED, attempt_item, delivery_item};
use super::digests::member_item;
use super::item::{self, Item, n, s};
use super::layout::{
    EXPIRES_AT, PK, SK, UNROUTED_PREFIX, alert_sk, attempt_sk, attempts_pk, delivery_sk,
    digest_member_sk, idempotency_sk, tenant_pk, unrouted_sk,
};
use super::{
    DynamoError, DynamoStore, TRANSACTION_LIMIT, Transaction, key, now_epoch, request_failed,
    written,
};
use crate::alert::Alert;
use crate::delivery::Delivery;
use crate::ids::{AlertId, DeliveryId, TenantId};
use crate::ports::store::{AlertReceipt, AlertRecord, AlertStore, RecordOutcome, StoreError};

const DOC: &str = "doc";
pub(super) const RECEIPT: &str = "receipt";
const ENQUEUED: &str = "enqueued";
/// Set on an alert whose staged deliveries are not all published yet (see `record_alert`).
const PUBLISHING: &str = "publishing";
const ALERT_ID: &str = "alert_id";
const REQUEST_HASH: &str = "request_hash";

/// A put that only succeeds if no live item has that key: an expired item counts as absent, as it does
/// on every read.
pub(super) fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk) OR #expires <= :now")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_names("#expires", EXPIRES_AT)
        .expression_attribute_values(":now", n(now_epoch()))
        .build()
        .map_err(DynamoError::Build)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The idempotency record, taken unless a live one holds the key.
fn idempotency_item(
    tenant: &TenantId,
    alert_id: &AlertId,
    (key, request_hash): (&str, &str),
    expires_at: i64,
) -> Item {
    [
        (PK.to_string(), s(tenant_pk(tenant))),
        (SK.to_string(), s(idempotency_sk(key))),
        (ALERT_ID.to_string(), s(alert_id.as_str())),
        (REQUEST_HASH.to_string(), s(request_hash)),
        (EXPIRES_AT.to_string(), n(expires_at)),
    ]
    .into()
}

fn alert_item(
    alert: &Alert,
    receipt: &AlertReceipt,
    expires_at: i64,
    publishing: bool,
) -> Result<Item, StoreError> {
    let mut alert_item: Item = [
        (PK.to_string(), s(tenant_pk(&alert.tenant))),
        (SK.to_string(), s(alert_sk(&alert.id))),
        (DOC.to_string(), item::json_value(alert)?),
        (RECEIPT.to_string(), item::json_value(receipt)?),
        (ENQUEUED.to_string(), AttributeValue::Bool(false)),
        (EXPIRES_AT.to_string(), n(expires_at)),
        item::layout_attribute(),
    ]
    .into();
    if publishing {
        alert_item.insert(PUBLISHING.to_string(), AttributeValue::Bool(true));
    }
    Ok(alert_item)
}

/// The copy of an unrouted alert that its tenant's list of unrouted alerts reads, expiring with it.
fn unrouted_item(alert: &Alert, expires_at: i64) -> Result<Item, StoreError> {
    Ok([
        (PK.to_string(), s(tenant_pk(&alert.tenant))),
        (SK.to_string(), s(unrouted_sk(&alert.id))),
        (DOC.to_string(), item::json_value(alert)?),
        (EXPIRES_AT.to_string(), n(expires_at)),
        item::layout_attribute(),
    ]
    .into())
}

/// A delivery and its attempts (usually none yet) as items.
pub(super) fn delivery_items(
    delivery: &Delivery,
    expires_at: i64,
    staged: bool,
) -> Result<Vec<Item>, StoreError> {
    let mut items = vec![delivery_item(delivery, expires_at, staged)?];
    for attempt in &delivery.attempts {
        items.push(attempt_item(
            &delivery.tenant,
            &delivery.id,
            attempt,
            expires_at,
        )?);
    }
    Ok(items)
}

/// How many of the first deliveries (each `sizes[i]` items) must be staged before the committing
/// transaction, which holds `fixed` items besides them: none when everything fits in one transaction,
/// otherwise as few as leave the rest within DynamoDB's limit.
fn deliveries_to_stage(fixed: usize, sizes: &[usize]) -> usize {
    let mut split = 0;
    if fixed + sizes.iter().sum::<usize>() > TRANSACTION_LIMIT {
        split = sizes.len();
        let mut room = TRANSACTION_LIMIT - fixed;
        while split > 0 && sizes[split - 1] <= room {
            room -= sizes[split - 1];
            split -= 1;
        }
    }
    split
}

/// The keys of a delivery's items, to remove them.
fn delivery_keys(delivery: &Delivery) -> Vec<Item> {
    let mut keys = vec![key(tenant_pk(&delivery.tenant), delivery_sk(&delivery.id))];
    for attempt in &delivery.attempts {
        keys.push(key(
            attempts_pk(&delivery.tenant, &delivery.id),
            attempt_sk(attempt.run, attempt.number),
        ));
    }
    if let Some(digest_id) = &delivery.digest_delivery_id {
        keys.push(key(
            tenant_pk(&delivery.tenant),
            digest_member_sk(digest_id, &delivery.id),
        ));
    }
    keys
}

impl DynamoStore {
    /// The first request's outcome if the tenant's idempotency key is taken by a live record.
    async fn find_recorded(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<RecordOutcome>, StoreError> {
        let Some(idempotency) = self
            .get_live(tenant_pk(tenant), idempotency_sk(key))
            .await?
        else {
            return Ok(None);
        };
        let alert_id = AlertId(item::string(&idempotency, ALERT_ID)?.to_string());
        let request_hash = item::string(&idempotency, REQUEST_HASH)?.to_string();
        let alert = self
            .get_live(tenant_pk(tenant), alert_sk(&alert_id))
            .await?
            .ok_or(DynamoError::Inconsistent(
                "an idempotency record names an alert that is missing",
            ))?;
        let receipt: AlertReceipt = item::document(&alert, RECEIPT)?;
        if item::flag(&alert, PUBLISHING)? {
            // The first request died while publishing: finish its work before answering. Which of its
            // deliveries were folded into a digest (and have a staged item in it too) is in their items.
            let mut staged = Vec::with_capacity(receipt.deliveries.len());
            for (id, _) in &receipt.deliveries {
                let digest = self
                    .get_live(tenant_pk(tenant), delivery_sk(id))
                    .await?
                    .and_then(|found| {
                        item::optional_string(&found, DIGEST_DELIVERY_ID)
                            .ok()
                            .flatten()
                            .map(DeliveryId::from)
                    });
                staged.push((id.clone(), digest));
            }
            self.publish(tenant, &alert_id, &staged).await?;
        }
        Ok(Some(RecordOutcome::AlreadyRecorded {
            receipt,
            request_hash,
            enqueued: item::flag(&alert, ENQUEUED)?,
        }))
    }

    /// The outcome after the idempotency condition failed: the record that won.
    async fn recorded_by_another(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<RecordOutcome, StoreError> {
        self.find_recorded(tenant, key).await?.ok_or_else(|| {
            DynamoError::Inconsistent("an idempotency record vanished while it was being read")
                .into()
        })
    }

    /// The transaction item that makes the staged item `pk`/`sk` visible; its condition fails if it is gone.
    fn unstage(&self, pk: String, sk: String) -> Result<TransactWriteItem, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression("REMOVE #staged")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#staged", STAGED)
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(DynamoError::Build)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Makes staged deliveries visible (each with the digest it was folded into, if any, whose entry for
    /// it is staged too), 100 items per transaction, then clears the alert's `publishing` mark.
    async fn publish(
        &self,
        tenant: &TenantId,
        alert_id: &AlertId,
        staged: &[(DeliveryId, Option<DeliveryId>)],
    ) -> Result<(), StoreError> {
        for chunk in staged.chunks(TRANSACTION_LIMIT / 2) {
            let mut items = Vec::with_capacity(2 * chunk.len());
            for (id, digest) in chunk {
                if let Some(digest) = digest {
                    items.push(self.unstage(tenant_pk(tenant), digest_member_sk(digest, id))?);
                }
                items.push(self.unstage(tenant_pk(tenant), delivery_sk(id))?);
            }
            if let Transaction::ConditionFailed(_) = self.transact(items).await? {
                return Err(DynamoError::Inconsistent(
                    "a staged delivery vanished before it was published",
                )
                .into());
            }
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), alert_sk(alert_id))))
            .update_expression("REMOVE #publishing")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#publishing", PUBLISHING)
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        // A missing (or expired) alert is left alone.
        written("UpdateItem", result).map(|_| ())
    }
}

#[async_trait]
impl AlertStore for DynamoStore {
    /// Up to 100 items (the alert, the idempotency record, the deliveries and any attempts they carry)
    /// are one transaction. A larger alert stages its first deliveries (written 100 per transaction,
    /// but read as absent), then commits the idempotency record, the alert and the remaining deliveries
    /// in one transaction, then publishes the staged ones. A crash before the commit leaves only
    /// invisible staged items (removed by TTL); a crash after it leaves the alert marked `publishing`,
    /// and the retried request with the same idempotency key finishes the publishing before it answers.
    async fn record_alert(&self, record: AlertRecord<'_>) -> Result<RecordOutcome, StoreError> {
        let alert = record.alert;
        let tenant = &alert.tenant;
        let expires_at = self.expiry();
        let receipt = AlertReceipt::of(alert, record.deliveries);
        let unrouted = alert.routing.is_some_and(|r| r.unrouted);
        let fixed = 1 + usize::from(record.idempotency.is_some()) + usize::from(unrouted);
        let sizes: Vec<usize> = record
            .deliveries
            .iter()
            .map(|d| 1 + d.attempts.len() + usize::from(d.digest_delivery_id.is_some()))
            .collect();
        let split = deliveries_to_stage(fixed, &sizes);
        if split > 0
            && let Some((key, _)) = record.idempotency
            && let Some(outcome) = self.find_recorded(tenant, key).await?
        {
            return Ok(outcome);
        }
        let total = fixed + sizes.iter().sum::<usize>();
        let (staged, committed) = record.deliveries.split_at(split);
        let mut staged_puts = Vec::new();
        for delivery in staged {
            for staged_item in delivery_items(delivery, expires_at, true)? {
                staged_puts.push(put_new(&self.table, staged_item)?);
            }
            if let Some(digest_id) = &delivery.digest_delivery_id {
                // Staged like its delivery: not listed in the digest until published.
                let mut member = member_item(alert, &delivery.id, digest_id, expires_at)?;
                member.insert(STAGED.to_string(), AttributeValue::Bool(true));
                staged_puts.push(put_new(&self.table, member)?);
            }
        }
        self.transact_in_chunks(staged_puts).await?;

        let mut items = Vec::with_capacity(total.min(TRANSACTION_LIMIT));
        if let Some(idempotency) = record.idempotency {
            items.push(put_new(
                &self.table,
                idempotency_item(tenant, &alert.id, idempotency, expires_at),
            )?);
        }
        items.push(put_new(
            &self.table,
            alert_item(alert, &receipt, expires_at, !staged.is_empty())?,
        )?);
        if unrouted {
            // An unrouted alert has one delivery at most, so this always fits in the transaction.
            items.push(put_new(&self.table, unrouted_item(alert, expires_at)?)?);
        }
        for delivery in committed {
            for delivery_item in delivery_items(delivery, expires_at, false)? {
                items.push(put_new(&self.table, delivery_item)?);
            }
            // What the digest lists of the folded alert, written with it.
            if let Some(digest_id) = &delivery.digest_delivery_id {
                let member = member_item(alert, &delivery.id, digest_id, expires_at)?;
                items.push(put_new(&self.table, member)?);
            }
        }
        match self.transact(items).await? {
            Transaction::Committed => {}
            Transaction::ConditionFailed(failed) => {
                // The idempotency record is the first item: if its key is taken, that decides.
                let Some((key, _)) = record.idempotency.filter(|_| failed.contains(&0)) else {
                    return Err(DynamoError::Inconsistent(
                        "an alert or delivery with one of these ids exists already",
                    )
                    .into());
                };
                // Another request with this key won: drop what was staged for this one.
                let mut deletes = Vec::new();
                for stale_key in staged.iter().flat_map(delivery_keys) {
                    let delete = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(stale_key))
                        .build()
                        .map_err(DynamoError::Build)?;
                    deletes.push(TransactWriteItem::builder().delete(delete).build());
                }
                if let Err(e) = self.transact_in_chunks(deletes).await {
                    tracing::warn!(error = %e, "staged deliveries left for TTL to remove");
                }
                return self.recorded_by_another(tenant, key).await;
            }
        }
        if !staged.is_empty() {
            let staged: Vec<(DeliveryId, Option<DeliveryId>)> = staged
                .iter()
                .map(|d| (d.id.clone(), d.digest_delivery_id.clone()))
                .collect();
            self.publish(tenant, &alert.id, &staged).await?;
        }
        Ok(RecordOutcome::Recorded { enqueued: false })
    }

    /// One `GetItem` of the idempotency record.
    async fn is_recorded(&self, tenant: &TenantId, key: &str) -> Result<bool, StoreError> {
        Ok(self
            .get_live(tenant_pk(tenant), idempotency_sk(key))
            .await?
            .is_some())
    }

    async fn mark_enqueued(&self, tenant: &TenantId, alert_id: &AlertId) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), alert_sk(alert_id))))
            .update_expression("SET #enqueued = :true")
            .condition_expression("attribute_exists(#pk) AND #expires > :now")
            .expression_attribute_names("#enqueued", ENQUEUED)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":now", n(now_epoch()))
            .send()
            .await;
        // A missing (or expired) alert is left alone.
        written("UpdateItem", result).map(|_| ())
    }

    async fn get_alert(
        &self,
        tenant: &TenantId,
        id: &AlertId,
    ) -> Result<Option<Alert>, StoreError> {
        let Some(found) = self.get_live(tenant_pk(tenant), alert_sk(id)).await? else {
            return Ok(None);
        };
        Ok(Some(item::document(&found, DOC)?))
    }

    /// One `Query` of the tenant's partition, newest first, from below `before` (the sort keys of the
    /// unrouted alerts sort as their ids), paged until `limit` live items are read.
    async fn list_unrouted(
        &self,
        tenant: &TenantId,
        before: Option<&AlertId>,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        let mut alerts = Vec::new();
        let mut start = None;
        let upper = match before {
            Some(before) => unrouted_sk(before),
            // Above every unrouted sort key: `#` < `~`.
            None => format!("{UNROUTED_PREFIX}~"),
        };
        let upper = s(upper);
        while alerts.len() < limit {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lower AND :upper")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(tenant_pk(tenant)))
                .expression_attribute_values(":lower", s(UNROUTED_PREFIX))
                .expression_attribute_values(":upper", upper.clone())
                .scan_index_forward(false)
                .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| request_failed("Query", e))?;
            let now = now_epoch();
            for found in output.items.unwrap_or_default() {
                // BETWEEN includes `before` itself.
                if item::is_live(&found, now)? && found.get(SK) != Some(&upper) {
                    alerts.push(item::document(&found, DOC)?);
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        alerts.truncate(limit);
        Ok(alerts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_that_fits_in_one_transaction_stages_nothing() {
        // The alert and its idempotency record, and one delivery: one transaction, nothing staged
        // (staging every delivery costs two more transactions of each delivery item and its indexes).
        assert_eq!(deliveries_to_stage(2, &[1]), 0);
        assert_eq!(deliveries_to_stage(1, &[1; 99]), 0);
        assert_eq!(deliveries_to_stage(2, &[]), 0);
    }

    #[test]
    fn a_larger_alert_stages_only_what_does_not_fit() {
        assert_eq!(deliveries_to_stage(2, &[1; 99]), 1);
        assert_eq!(deliveries_to_stage(2, &[1; 250]), 152);
        // A delivery carrying attempts is staged whole.
        assert_eq!(deliveries_to_stage(2, &[3; 40]), 8);
    }
}
