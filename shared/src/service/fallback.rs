//! Fallback endpoints in the use cases: the chain rule checked against the tenant's endpoints when one is
//! saved, the refusal to delete an endpoint others fall back to, and the delivery made at the fallback
//! endpoint when a delivery dies of its attempts.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::ingest::new_delivery;
use super::{Service, ServiceError};
use crate::alert::Alert;
use crate::delivery::{Delivery, DeliveryStatus};
use crate::endpoint::{Endpoint, MAX_FALLBACK_CHAIN, fallback_chain};
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::ports::queue::Task;
use crate::ports::store::{FallbackOutcome, FallbackRecord};

impl Service {
    /// Refuses `fallback` as the fallback of endpoint `id` (new or stored) unless it is another endpoint of
    /// `tenant` and the chain through `id` stays within the rule of [`fallback_chain::check`]. Another
    /// tenant's endpoint is unknown here, as it is everywhere.
    pub(super) async fn check_fallback(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        fallback: Option<&EndpointId>,
    ) -> Result<(), ServiceError> {
        let Some(fallback) = fallback else {
            return Ok(());
        };
        let mut links: BTreeMap<EndpointId, Option<EndpointId>> = self
            .ports
            .endpoints
            .list_endpoints(tenant)
            .await?
            .into_iter()
            .map(|e| (e.id, e.fallback_endpoint_id))
            .collect();
        links.insert(id.clone(), Some(fallback.clone()));
        Ok(fallback_chain::check(id, &links)?)
    }

    /// A conflict naming the endpoints that name `id` as their fallback, if any: `id` cannot be deleted
    /// while they do.
    pub(super) async fn check_no_one_falls_back_to(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<(), ServiceError> {
        let dependents: Vec<String> = self
            .ports
            .endpoints
            .list_endpoints(tenant)
            .await?
            .into_iter()
            .filter(|e| e.fallback_endpoint_id.as_ref() == Some(id))
            .map(|e| e.id.to_string())
            .collect();
        if dependents.is_empty() {
            return Ok(());
        }
        Err(ServiceError::Conflict(format!(
            "the endpoint is the fallback of {}; change their `fallback_endpoint_id` first",
            dependents.join(", ")
        )))
    }

    /// Called once the death of `dead` (of its attempts: all spent, `410 Gone`, a body that cannot be
    /// rendered) is recorded, with its endpoint as now stored and its alert. When that endpoint names a fallback, adds
    /// a delivery of the same alert to the fallback endpoint, linked both ways: a normal delivery to that
    /// endpoint, rendered with its own templates when sent. The new id is derived from the death (see
    /// [`fallback_id_for`]) and written only if new, so a second call for the same death writes nothing.
    pub(super) async fn fall_back(
        &self,
        dead: &Delivery,
        endpoint: &Endpoint,
        alert: &Alert,
    ) -> Result<(), ServiceError> {
        let (ports, tenant, run) = (&self.ports, &dead.tenant, dead.run);
        let Some(fallback_id) = endpoint.fallback_endpoint_id.clone() else {
            return Ok(());
        };
        let position = self.chain_position(dead).await? + 1;
        if position > MAX_FALLBACK_CHAIN {
            // Only endpoints saved at the same moment can make such a chain; the rule still holds here.
            tracing::warn!(delivery = %dead.id, "no fallback: the chain is at its longest");
            return Ok(());
        }
        let Some(fallback) = ports.endpoints.get_endpoint(tenant, &fallback_id).await? else {
            tracing::warn!(delivery = %dead.id, fallback = %fallback_id, "no fallback: the fallback endpoint is gone");
            return Ok(());
        };
        let now = self.clock.now();
        let delivery = Delivery {
            fallback_of: Some(dead.id.clone()),
            created_at: now,
            updated_at: now,
            ..new_delivery(fallback_id_for(dead), alert, &fallback)
        };
        let tasks: Vec<Task> = (delivery.status == DeliveryStatus::Pending)
            .then(|| {
                Task::deliver(
                    tenant.clone(),
                    delivery.id.clone(),
                    0,
                    delivery.endpoint_id.clone(),
                )
            })
            .into_iter()
            .collect();
        let record = FallbackRecord {
            delivery: &delivery,
            tasks: &tasks,
        };
        match ports.deliveries.record_fallback(record).await? {
            FallbackOutcome::AlreadyRecorded => return Ok(()),
            FallbackOutcome::Recorded { enqueued: false } if !tasks.is_empty() => {
                ports.queue.send_batch(&tasks).await?;
            }
            FallbackOutcome::Recorded { .. } => {}
        }
        if delivery.status == DeliveryStatus::Filtered {
            self.metrics
                .deliveries_finished(DeliveryStatus::Filtered, 1);
        }
        tracing::info!(delivery = %dead.id, run, fallback = %delivery.id, endpoint = %fallback_id, "fallback delivery created");
        Ok(())
    }

    /// Where `delivery`'s endpoint stands in its fallback chain: 1 for a delivery made at ingest, 2 for
    /// the fallback of one, and so on (read up the `fallback_of` links, at most the chain's length).
    async fn chain_position(&self, delivery: &Delivery) -> Result<usize, ServiceError> {
        let mut position = 1;
        let mut above = delivery.fallback_of.clone();
        while let Some(id) = above
            && position <= MAX_FALLBACK_CHAIN
        {
            position += 1;
            above = self
                .ports
                .deliveries
                .get_delivery(&delivery.tenant, &id)
                .await?
                .and_then(|d| d.fallback_of);
        }
        Ok(position)
    }
}

/// The fallback delivery's id for the death of `dead`'s current run: the same every time it is derived
/// from that death, and, like a generated id, a UUID v7 that sorts by time (the time of the death).
fn fallback_id_for(dead: &Delivery) -> DeliveryId {
    let digest = Sha256::digest(format!("fallback:{}:{}", dead.id, dead.run).as_bytes());
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&digest[..10]);
    let millis = u64::try_from(dead.updated_at.timestamp_millis()).unwrap_or_default();
    let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid();
    DeliveryId(format!("msg_{}", uuid.simple()))
}

#[cfg(all(test, feature = "embedded"))]
#[path = "fallback_tests.rs"]
mod tests;
