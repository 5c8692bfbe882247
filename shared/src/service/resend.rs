//! Manual resends: one delivery at a time, or every matching dead letter at once (replay). Both start a
//! fresh run of attempts with the same webhook-id.

use super::{ReplaySelection, Service, ServiceError};
use crate::delivery::{Delivery, DeliveryStatus};
use crate::ids::{DeliveryId, TenantId};
use crate::metrics::ResendKind;
use crate::ports::queue::Task;
use crate::ports::store::DeliveryFilter;

const REPLAY_PAGE: usize = 500;

impl Service {
    /// Resends one delivery whatever its status.
    pub async fn resend(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Delivery, ServiceError> {
        let run = self
            .ports
            .deliveries
            .start_resend(tenant, id, None)
            .await?
            .ok_or(ServiceError::NotFound("delivery"))?;
        self.requeue(tenant, &[(id.clone(), run)]).await?;
        self.metrics.resends_started(ResendKind::Resend, 1);
        self.ports
            .deliveries
            .get_delivery(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound("delivery"))
    }

    /// Replays dead letters as manual resends; returns how many were replayed.
    pub async fn replay_dead_letters(
        &self,
        tenant: &TenantId,
        selection: &ReplaySelection,
    ) -> Result<usize, ServiceError> {
        let mut replayed = 0;
        match selection {
            ReplaySelection::Ids(ids) => {
                for chunk in ids.chunks(REPLAY_PAGE) {
                    replayed += self.replay_batch(tenant, chunk.iter().cloned()).await?;
                }
            }
            ReplaySelection::All | ReplaySelection::Endpoint(_) => {
                let mut filter = DeliveryFilter {
                    status: Some(DeliveryStatus::Dead),
                    endpoint_id: match selection {
                        ReplaySelection::Endpoint(e) => Some(e.clone()),
                        _ => None,
                    },
                    limit: REPLAY_PAGE,
                    ..DeliveryFilter::default()
                };
                loop {
                    let page = self
                        .ports
                        .deliveries
                        .list_delivery_ids(tenant, &filter)
                        .await?;
                    let Some(last) = page.last() else { break };
                    filter.before = Some(last.clone());
                    replayed += self.replay_batch(tenant, page.into_iter()).await?;
                }
            }
        }
        Ok(replayed)
    }

    async fn replay_batch(
        &self,
        tenant: &TenantId,
        ids: impl Iterator<Item = DeliveryId>,
    ) -> Result<usize, ServiceError> {
        let ids: Vec<DeliveryId> = ids.collect();
        let started = self
            .ports
            .deliveries
            .start_resends(tenant, &ids, Some(DeliveryStatus::Dead))
            .await?;
        self.requeue(tenant, &started).await?;
        self.metrics
            .resends_started(ResendKind::Replay, started.len());
        Ok(started.len())
    }

    /// Enqueues the deliveries' new runs, then takes their old tasks out of the dead-letter queue. The
    /// new runs are committed already, so their tasks go first: a delivery left `pending` without a task
    /// would wait for the stranded-delivery sweep. Removing the old letters is best effort (a failure is
    /// logged): a letter left behind is of an older run, which a replay removes without resending.
    async fn requeue(
        &self,
        tenant: &TenantId,
        runs: &[(DeliveryId, u32)],
    ) -> Result<(), ServiceError> {
        let tasks: Vec<Task> = runs
            .iter()
            .map(|(id, run)| Task::DeliverV1 {
                tenant: tenant.clone(),
                delivery_id: id.clone(),
                run: *run,
                endpoint: None,
                attempts_before: 0,
            })
            .collect();
        self.ports.queue.send_batch(&tasks).await?;
        let ids: Vec<DeliveryId> = runs.iter().map(|(id, _)| id.clone()).collect();
        if let Err(e) = self.ports.queue.remove_dead_letters(&ids).await {
            tracing::warn!(error = %e, deliveries = ids.len(),
                "the resent deliveries' old dead letters were not removed; a replay removes them");
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "resend_tests.rs"]
mod tests;
