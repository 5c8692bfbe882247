//! The delivery port on DynamoDB: delivery items in the tenant's partition (listed newest first from the
//! table, from one of three sparse indexes, or by alert from its receipt), attempts as their own items
//! in the delivery's partition, and status changes as conditional writes that hold only while the
//! delivery is where the caller saw it.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use super::alerts::{RECEIPT, delivery_items, put_new};
use super::delivery_items::{
    ATTEMPT_COUNT, DOC, DeliveryWrite, FALLBACK_DELIVERY_ID, NEXT_ATTEMPT_AT, RUN,
    RUN_LAST_ATTEMPT, STAGED, STATUS_REASON, Stored, UPDATED_AT, attempt_item, status_clauses,
    stored_from,
};
use super::item::{self, Item, n, s};
use super::layout::{
    ATTEMPT_PREFIX, BY_ENDPOINT, BY_ENDPOINT_STATUS, BY_STATUS, DELIVERY_PREFIX, DeliveryIndex, PK,
    SK, alert_sk, attempts_pk, delivery_sk, endpoint_index_key, endpoint_status_index_key,
    in_status_indexes, status_index_key, tenant_pk,
};
use super::{DynamoError, DynamoStore, Transaction, WRITE_TRIES, key, now_epoch, request_failed};
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::ids::{AlertId, DeliveryId, TenantId};
use crate::ports::store::{
    AlertReceipt, DeliveryFilter, DeliveryStore, FallbackOutcome, FallbackRecord, StatusChange,
    StoreError,
};

/// How many reads a listing keeps in flight: of deliveries by key, or of their attempts.
const LISTING_READS_IN_FLIGHT: usize = 16;
/// Deliveries a replay starts again at once.
const RESENDS_AT_ONCE: usize = 32;

/// Where a listing without an alert filter reads from: the most selective index the filter allows. A
/// status the status indexes leave out (`delivered`) is read from `by_endpoint` or the table, and checked
/// on each item (`selected`). A listing by alert reads no index: see `alert_deliveries`.
fn source(tenant: &TenantId, filter: &DeliveryFilter) -> Option<(DeliveryIndex, String)> {
    let indexed_status = filter.status.filter(|status| in_status_indexes(*status));
    match (&filter.endpoint_id, indexed_status) {
        (Some(endpoint), Some(status)) => Some((
            BY_ENDPOINT_STATUS,
            endpoint_status_index_key(tenant, endpoint, status),
        )),
        (Some(endpoint), None) => Some((BY_ENDPOINT, endpoint_index_key(tenant, endpoint))),
        (None, Some(status)) => Some((BY_STATUS, status_index_key(tenant, status))),
        (None, None) => None,
    }
}

/// How many items to ask a listing's next page for, with `wanted` deliveries still to find: one more
/// (the table's inclusive `before` bound may return that delivery), and twice that when the source
/// leaves the status to be checked item by item, where most items still match (delivered deliveries
/// are most of any history).
fn page_size(filter: &DeliveryFilter, wanted: usize) -> usize {
    let checked_by_item = filter
        .status
        .is_some_and(|status| !in_status_indexes(status));
    let size = wanted + 1;
    if checked_by_item { size * 2 } else { size }.min(1000)
}

fn selected(delivery: &Delivery, filter: &DeliveryFilter) -> bool {
    filter
        .endpoint_id
        .as_ref()
        .is_none_or(|e| *e == delivery.endpoint_id)
        && filter.status.is_none_or(|s| s == delivery.status)
        && filter
            .alert_id
            .as_ref()
            .is_none_or(|a| *a == delivery.alert_id)
        && filter.before.as_ref().is_none_or(|b| delivery.id < *b)
}

/// The condition every write to an existing delivery carries: it is the one just read (same run, status
/// and attempt count), published, and not expired.
const UNCHANGED: &str = "#run = :run AND #status = :current AND #count = :count \
                         AND attribute_not_exists(#staged) AND #expires > :now";

impl DynamoStore {
    /// The delivery item, strongly consistent; None if absent, expired or not yet published.
    async fn read_stored(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Stored>, StoreError> {
        self.read_stored_as(tenant, id, true).await
    }

    /// The delivery item, strongly consistent or not.
    async fn read_stored_as(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        consistent: bool,
    ) -> Result<Option<Stored>, StoreError> {
        let Some(found) = self
            .get_live_read(tenant_pk(tenant), delivery_sk(id), consistent)
            .await?
        else {
            return Ok(None);
        };
        published(&found)
    }

    /// What [`list_deliveries`](DeliveryStore::list_deliveries) lists, without the attempts.
    async fn listed(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        let limit = filter.limit.max(1);
        if let Some(alert) = &filter.alert_id {
            let mut deliveries = self.alert_deliveries(tenant, alert).await?;
            deliveries.retain(|delivery| selected(delivery, filter));
            deliveries.truncate(limit);
            return Ok(deliveries);
        }
        let mut deliveries = Vec::new();
        let mut start = None;
        loop {
            let size = page_size(filter, limit - deliveries.len());
            let (items, next) = self.delivery_page(tenant, filter, size, start).await?;
            let now = now_epoch();
            for found in &items {
                if !item::is_live(found, now)? || item::flag(found, STAGED)? {
                    continue;
                }
                let delivery = stored_from(found)?.delivery;
                if selected(&delivery, filter) {
                    deliveries.push(delivery);
                    if deliveries.len() == limit {
                        return Ok(deliveries);
                    }
                }
            }
            start = next;
            if start.is_none() {
                return Ok(deliveries);
            }
        }
    }

    /// A delivery's attempts, in the order they were made: by run, then by number. The keys sort so,
    /// but during a deployment a function of the release before writes the earlier key (`AT#<sequence>`)
    /// beside the new ones, so the order is made here, not taken from the keys.
    async fn attempts(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Vec<Attempt>, StoreError> {
        let mut attempts = self
            .query_prefix(attempts_pk(tenant, id), ATTEMPT_PREFIX)
            .await?
            .iter()
            .map(|found| Ok(item::document(found, DOC)?))
            .collect::<Result<Vec<Attempt>, StoreError>>()?;
        attempts.sort_by_key(|a| (a.run, a.number));
        Ok(attempts)
    }

    /// Fills in the attempts of each delivery, a few deliveries' reads in flight at a time.
    async fn with_attempts(&self, deliveries: Vec<Delivery>) -> Result<Vec<Delivery>, StoreError> {
        stream::iter(deliveries)
            .map(|mut delivery| async move {
                delivery.attempts = self.attempts(&delivery.tenant, &delivery.id).await?;
                Ok::<_, StoreError>(delivery)
            })
            .buffered(LISTING_READS_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// The live deliveries of `alert`, newest first, each read by key (eventually consistent, as an
    /// index would be): those its receipt names, then the fallbacks they link to, and theirs. An alert
    /// has at most one delivery per endpoint and a fallback chain is short, so this is a few reads, and
    /// no delivery needs an index entry for it.
    async fn alert_deliveries(
        &self,
        tenant: &TenantId,
        alert: &AlertId,
    ) -> Result<Vec<Delivery>, StoreError> {
        let Some(found) = self
            .get_live_read(tenant_pk(tenant), alert_sk(alert), false)
            .await?
        else {
            return Ok(Vec::new());
        };
        let receipt: AlertReceipt = item::document(&found, RECEIPT)?;
        let mut wanted: Vec<DeliveryId> =
            receipt.deliveries.into_iter().map(|(id, _)| id).collect();
        let mut asked = HashSet::new();
        let mut deliveries = Vec::new();
        while !wanted.is_empty() {
            wanted.retain(|id| asked.insert(id.clone()));
            let read = self.peek_deliveries(tenant, &wanted).await?;
            wanted = read
                .iter()
                .filter_map(|delivery| delivery.fallback_delivery_id.clone())
                .collect();
            deliveries.extend(read);
        }
        deliveries.retain(|delivery| delivery.alert_id == *alert);
        deliveries.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(deliveries)
    }

    /// The live, published deliveries among `ids`, without their attempts, a few reads in flight at a
    /// time.
    async fn peek_deliveries(
        &self,
        tenant: &TenantId,
        ids: &[DeliveryId],
    ) -> Result<Vec<Delivery>, StoreError> {
        let read: Vec<Option<Stored>> = stream::iter(ids.iter().cloned())
            .map(|id| async move { self.read_stored_as(tenant, &id, false).await })
            .buffered(LISTING_READS_IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(read.into_iter().flatten().map(|s| s.delivery).collect())
    }

    /// One page of delivery items from the table or an index, newest first.
    async fn delivery_page(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
        page_size: usize,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(false)
            .limit(i32::try_from(page_size).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start);
        query = match source(tenant, filter) {
            Some((index, value)) => {
                let query = query
                    .index_name(index.name)
                    .expression_attribute_names("#key", index.key_attribute)
                    .expression_attribute_values(":key", s(value));
                match &filter.before {
                    Some(before) => query
                        .key_condition_expression("#key = :key AND #id < :before")
                        .expression_attribute_names("#id", index.sort_attribute)
                        .expression_attribute_values(":before", s(before.as_str())),
                    None => query.key_condition_expression("#key = :key"),
                }
            }
            None => {
                let query = query
                    .consistent_read(true)
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":pk", s(tenant_pk(tenant)));
                match &filter.before {
                    // BETWEEN is inclusive: the `before` delivery itself is dropped by `selected`.
                    Some(before) => query
                        .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                        .expression_attribute_values(":low", s(DELIVERY_PREFIX))
                        .expression_attribute_values(":high", s(delivery_sk(before))),
                    None => query
                        .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                        .expression_attribute_values(":prefix", s(DELIVERY_PREFIX)),
                }
            }
        };
        let output = query.send().await.map_err(|e| request_failed("Query", e))?;
        Ok((output.items.unwrap_or_default(), output.last_evaluated_key))
    }
}

#[async_trait]
impl DeliveryStore for DynamoStore {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        let Some(stored) = self.read_stored(tenant, id).await? else {
            return Ok(None);
        };
        let mut delivery = stored.delivery;
        delivery.attempts = self.attempts(tenant, id).await?;
        Ok(Some(delivery))
    }

    /// One eventually consistent `GetItem` of the delivery item; its attempts are not read.
    async fn peek_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        Ok(self
            .read_stored_as(tenant, id, false)
            .await?
            .map(|stored| stored.delivery))
    }

    /// For each tenant in the registry (every tenant that has had an API key), a `Query` of its pending
    /// deliveries in the `by_status` index (`T#…#ST#pending`), filtered to those unchanged since
    /// `changed_before`, until `limit` are found. What it reads grows with the deliveries pending now,
    /// never with the history the table keeps.
    async fn pending_unchanged_since(
        &self,
        changed_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let mut found = Vec::new();
        for tenant in self.registered_tenants().await? {
            let mut start = None;
            loop {
                let output = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(BY_STATUS.name)
                    .key_condition_expression("#key = :pending")
                    .filter_expression("#updated < :before")
                    .expression_attribute_names("#key", BY_STATUS.key_attribute)
                    .expression_attribute_names("#updated", UPDATED_AT)
                    .expression_attribute_values(
                        ":pending",
                        s(status_index_key(&tenant, DeliveryStatus::Pending)),
                    )
                    .expression_attribute_values(":before", item::time_value(&changed_before))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| request_failed("Query", e))?;
                let now = now_epoch();
                for candidate in output.items.unwrap_or_default() {
                    if !item::is_live(&candidate, now)? || item::flag(&candidate, STAGED)? {
                        continue;
                    }
                    let delivery = stored_from(&candidate)?.delivery;
                    // The filter compares times as text: the parsed time decides.
                    if delivery.status == DeliveryStatus::Pending
                        && delivery.updated_at < changed_before
                    {
                        found.push(delivery);
                        if found.len() == limit {
                            return Ok(found);
                        }
                    }
                }
                start = output.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(found)
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        let deliveries = self.listed(tenant, filter).await?;
        self.with_attempts(deliveries).await
    }

    /// The listing without the attempts, which are a `Query` for each delivery.
    async fn list_delivery_ids(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let deliveries = self.listed(tenant, filter).await?;
        Ok(deliveries.into_iter().map(|d| d.id).collect())
    }

    /// Reads the delivery, then writes the change (and the attempt, in the same transaction) on the
    /// condition that it is still what was read. A lost race is read again.
    async fn update_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        change: StatusChange<'_>,
    ) -> Result<bool, StoreError> {
        for _ in 0..WRITE_TRIES {
            let Some(stored) = self.read_stored(tenant, id).await? else {
                return Ok(false);
            };
            let current = &stored.delivery;
            if current.run != run || current.status != DeliveryStatus::Pending {
                return Ok(false);
            }
            if attempt.is_some_and(|attempt| attempt.number <= stored.run_last_attempt) {
                return Ok(false);
            }
            let (mut set, mut remove) = status_clauses(change.status);
            let mut write = DeliveryWrite::new(tenant, id)
                .status_parts(current, change.status)
                .name("#run", RUN)
                .name("#count", ATTEMPT_COUNT)
                .name("#reason", STATUS_REASON)
                .name("#next", NEXT_ATTEMPT_AT)
                .value(":run", n(run))
                .value(":current", s(DeliveryStatus::Pending.as_str()))
                .value(":count", n(stored.attempt_count));
            match change.reason {
                Some(reason) => {
                    set.push("#reason = :reason");
                    write = write.value(":reason", s(reason));
                }
                None => remove.push("#reason"),
            }
            match change.next_attempt_at {
                Some(next) => {
                    set.push("#next = :next");
                    write = write.value(":next", item::time_value(&next));
                }
                None => remove.push("#next"),
            }
            if let Some(attempt) = attempt {
                set.push("#count = :new_count");
                set.push("#run_last = :run_last");
                write = write
                    .name("#run_last", RUN_LAST_ATTEMPT)
                    .value(":new_count", n(stored.attempt_count + 1))
                    .value(":run_last", n(attempt.number));
            }
            write.update = format!("SET {}", set.join(", "));
            if !remove.is_empty() {
                write
                    .update
                    .push_str(&format!(" REMOVE {}", remove.join(", ")));
            }
            write.condition = UNCHANGED.to_string();
            let written = match attempt {
                None => write.send(self).await?,
                Some(attempt) => {
                    let attempt_put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(attempt_item(tenant, id, attempt, stored.expires_at)?))
                        .condition_expression("attribute_not_exists(#pk)")
                        .expression_attribute_names("#pk", PK)
                        .build()
                        .map_err(DynamoError::Build)?;
                    let items = vec![
                        TransactWriteItem::builder()
                            .update(write.into_update(&self.table)?)
                            .build(),
                        TransactWriteItem::builder().put(attempt_put).build(),
                    ];
                    match self.transact(items).await? {
                        Transaction::Committed => true,
                        // The attempt's key (its run and number) is taken: recorded already, by
                        // another copy of the task.
                        Transaction::ConditionFailed(failed) if failed.contains(&1) => {
                            return Ok(false);
                        }
                        Transaction::ConditionFailed(_) => false,
                    }
                }
            };
            if written {
                return Ok(true);
            }
        }
        Err(DynamoError::Contended("the delivery").into())
    }

    /// The fallback delivery (put only if its id is new) and the dead delivery's link to it in one
    /// transaction; the fallback expires with the dead delivery. The tasks are left to the caller.
    async fn record_fallback(
        &self,
        record: FallbackRecord<'_>,
    ) -> Result<FallbackOutcome, StoreError> {
        let delivery = record.delivery;
        let tenant = &delivery.tenant;
        let dead = delivery
            .fallback_of
            .as_ref()
            .ok_or(DynamoError::Inconsistent(
                "a fallback delivery must name the dead one",
            ))?;
        let Some(stored) = self.read_stored(tenant, dead).await? else {
            return Err(
                DynamoError::Inconsistent("the dead delivery of a fallback is missing").into(),
            );
        };
        let mut items = Vec::new();
        for new_item in delivery_items(delivery, stored.expires_at, false)? {
            items.push(put_new(&self.table, new_item)?);
        }
        let link = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), delivery_sk(dead))))
            .update_expression("SET #fallback = :fallback")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#fallback", FALLBACK_DELIVERY_ID)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":fallback", s(delivery.id.as_str()))
            .build()
            .map_err(DynamoError::Build)?;
        items.push(TransactWriteItem::builder().update(link).build());
        match self.transact(items).await? {
            Transaction::Committed => Ok(FallbackOutcome::Recorded { enqueued: false }),
            // The new delivery's put is the first item: its id is taken by an earlier call's write.
            Transaction::ConditionFailed(failed) if failed.contains(&0) => {
                Ok(FallbackOutcome::AlreadyRecorded)
            }
            Transaction::ConditionFailed(_) => Err(DynamoError::Inconsistent(
                "the dead delivery of a fallback vanished while it was linked",
            )
            .into()),
        }
    }

    async fn start_resend(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        only_if: Option<DeliveryStatus>,
    ) -> Result<Option<u32>, StoreError> {
        let stored = self.read_stored(tenant, id).await?;
        self.start_resend_of(tenant, id, stored, only_if).await
    }

    /// [`start_resend`](DeliveryStore::start_resend) for many deliveries at once. They are read 100 to a
    /// request (`BatchGetItem`, strongly consistent), and each new run is its own conditional write, a
    /// few dozen in flight: a replay needs no page to be all-or-nothing, and a transaction would cost
    /// twice the write units. A delivery that changed between the read and its write is read again
    /// alone, as a single resend would.
    async fn start_resends(
        &self,
        tenant: &TenantId,
        ids: &[DeliveryId],
        only_if: Option<DeliveryStatus>,
    ) -> Result<Vec<(DeliveryId, u32)>, StoreError> {
        let keys: Vec<Item> = ids
            .iter()
            .map(|id| key(tenant_pk(tenant), delivery_sk(id)))
            .collect();
        let mut found: HashMap<String, Item> = self
            .get_live_many(&keys)
            .await?
            .into_iter()
            .map(|item| Ok((item::string(&item, SK)?.to_string(), item)))
            .collect::<Result<_, StoreError>>()?;
        let reads: Vec<(DeliveryId, Option<Item>)> = ids
            .iter()
            .map(|id| (id.clone(), found.remove(&delivery_sk(id))))
            .collect();
        let runs: Vec<Option<u32>> = stream::iter(reads)
            .map(|(id, read)| async move {
                let stored = match read {
                    Some(item) => published(&item)?,
                    None => None,
                };
                self.start_resend_of(tenant, &id, stored, only_if).await
            })
            .buffered(RESENDS_AT_ONCE)
            .try_collect()
            .await?;
        Ok(ids
            .iter()
            .zip(runs)
            .filter_map(|(id, run)| Some((id.clone(), run?)))
            .collect())
    }
}

impl DynamoStore {
    /// Starts the next run of `id` as last read (`stored`), on the condition that it is unchanged; a
    /// delivery that changed meanwhile is read again and tried again.
    async fn start_resend_of(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        mut stored: Option<Stored>,
        only_if: Option<DeliveryStatus>,
    ) -> Result<Option<u32>, StoreError> {
        for _ in 0..WRITE_TRIES {
            let Some(current) = stored else {
                return Ok(None);
            };
            let Some((write, new_run)) = resend_write(tenant, id, &current, only_if)? else {
                return Ok(None);
            };
            if write.send(self).await? {
                return Ok(Some(new_run));
            }
            stored = self.read_stored(tenant, id).await?;
        }
        Err(DynamoError::Contended("the delivery").into())
    }
}

/// A delivery item as read, or `None` while it is staged (written ahead of its alert, not yet
/// published).
fn published(found: &Item) -> Result<Option<Stored>, StoreError> {
    if item::flag(found, STAGED)? {
        return Ok(None);
    }
    Ok(Some(stored_from(found)?))
}

/// The write that starts `stored`'s next run, on the condition that it is unchanged; `None` when it is
/// not in `only_if`.
fn resend_write(
    tenant: &TenantId,
    id: &DeliveryId,
    stored: &Stored,
    only_if: Option<DeliveryStatus>,
) -> Result<Option<(DeliveryWrite, u32)>, StoreError> {
    let current = &stored.delivery;
    if only_if.is_some_and(|wanted| wanted != current.status) {
        return Ok(None);
    }
    let new_run = current.run.checked_add(1).ok_or(DynamoError::Inconsistent(
        "a delivery ran out of run numbers",
    ))?;
    let mut write = DeliveryWrite::new(tenant, id)
        .status_parts(current, DeliveryStatus::Pending)
        .name("#run", RUN)
        .name("#count", ATTEMPT_COUNT)
        .name("#reason", STATUS_REASON)
        .name("#next", NEXT_ATTEMPT_AT)
        .name("#run_last", RUN_LAST_ATTEMPT)
        .value(":run", n(current.run))
        .value(":new_run", n(new_run))
        .value(":current", s(current.status.as_str()))
        .value(":count", n(stored.attempt_count));
    let (set, remove) = status_clauses(DeliveryStatus::Pending);
    write.update = format!(
        "SET #run = :new_run, {} REMOVE #reason, #next, #run_last, {}",
        set.join(", "),
        remove.join(", ")
    );
    write.condition = UNCHANGED.to_string();
    Ok(Some((write, new_run)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EndpointId;

    #[test]
    fn the_most_selective_source_serves_each_filter() {
        let tenant = TenantId::from("t");
        let mut filter = DeliveryFilter {
            endpoint_id: Some(EndpointId::from("ep_1")),
            status: Some(DeliveryStatus::Dead),
            alert_id: Some(AlertId::from("al_1")),
            ..DeliveryFilter::default()
        };
        let index = |f: &DeliveryFilter| source(&tenant, f).map(|(i, _)| i.name);
        // An alert's deliveries are read by key; the other conditions pick the index as without it.
        assert_eq!(index(&filter), Some("by_endpoint_status"));
        filter.alert_id = None;
        assert_eq!(index(&filter), Some("by_endpoint_status"));
        filter.status = None;
        assert_eq!(index(&filter), Some("by_endpoint"));
        filter.endpoint_id = None;
        filter.status = Some(DeliveryStatus::Pending);
        assert_eq!(index(&filter), Some("by_status"));
        filter.status = None;
        assert_eq!(index(&filter), None);
        // Delivered deliveries are in neither status index: the status is checked item by item.
        filter.status = Some(DeliveryStatus::Delivered);
        assert_eq!(index(&filter), None);
        filter.endpoint_id = Some(EndpointId::from("ep_1"));
        assert_eq!(index(&filter), Some("by_endpoint"));
    }

    #[test]
    fn a_status_checked_item_by_item_reads_larger_pages() {
        let mut filter = DeliveryFilter {
            status: Some(DeliveryStatus::Dead),
            ..DeliveryFilter::default()
        };
        assert_eq!(page_size(&filter, 50), 51);
        filter.status = Some(DeliveryStatus::Delivered);
        assert_eq!(page_size(&filter, 50), 102);
        assert_eq!(page_size(&filter, 999), 1000);
    }
}
