//! Replaying the SQS dead-letter queue, across all tenants (what the `replay` function runs when invoked
//! by hand): each matching dead letter becomes a manual resend, a new run of its delivery on the delivery
//! queue, and leaves the dead-letter queue.

use std::collections::HashSet;

use async_trait::async_trait;

use crate::aws::sqs::queue::{DeadLetter, DeadLetterJudge, SqsQueue, Verdict};
use crate::delivery::DeliveryStatus;
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::metrics::ResendKind;
use crate::ports::queue::{Task, TaskQueue};
use crate::service::{Service, ServiceError};

/// Which dead letters a replay takes.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplayFilter {
    All,
    /// These deliveries (of any tenant).
    Ids(Vec<DeliveryId>),
    /// The deliveries to this endpoint.
    Endpoint(EndpointId),
}

/// Sweeps the dead-letter queue once and returns how many deliveries were replayed.
///
/// For a dead letter that matches: if its delivery is gone, delivered or filtered, the message is
/// obsolete and only removed; otherwise a resend starts (a new run, `pending`), its task is sent to the
/// delivery queue, and the dead letter is removed. Several dead letters of one delivery replay it once.
/// Messages that do not match, or cannot be read, stay in the dead-letter queue.
///
/// On an error the replay stops; what was replayed so far stays replayed, and the dead letter being
/// handled stays in the dead-letter queue (a later replay of it starts one more run, which at worst makes
/// the receiver see the delivery's `webhook-id` twice).
pub async fn replay_dlq(
    service: &Service,
    queue: &SqsQueue,
    filter: &ReplayFilter,
) -> Result<usize, ServiceError> {
    let mut replayer = Replayer {
        service,
        queue,
        filter,
        ids: match filter {
            ReplayFilter::Ids(ids) => Some(ids.iter().collect()),
            _ => None,
        },
        replayed: HashSet::new(),
    };
    queue.sweep_dead_letters(&mut replayer).await?;
    Ok(replayer.replayed.len())
}

/// The sweep's judge: replays what matches, removes what is obsolete, keeps the rest.
struct Replayer<'a> {
    service: &'a Service,
    queue: &'a SqsQueue,
    filter: &'a ReplayFilter,
    ids: Option<HashSet<&'a DeliveryId>>,
    replayed: HashSet<(TenantId, DeliveryId)>,
}

#[async_trait]
impl DeadLetterJudge for Replayer<'_> {
    type Error = ServiceError;

    async fn judge(&mut self, letter: &DeadLetter) -> Result<Verdict, ServiceError> {
        let Some(Task::DeliverV1 {
            tenant,
            delivery_id,
            ..
        }) = &letter.task
        else {
            tracing::warn!(message_id = %letter.message_id,
                "a dead letter that is not a task stays in the dead-letter queue");
            return Ok(Verdict::Keep);
        };
        if self
            .ids
            .as_ref()
            .is_some_and(|ids| !ids.contains(delivery_id))
        {
            return Ok(Verdict::Keep);
        }
        let key = (tenant.clone(), delivery_id.clone());
        if self.replayed.contains(&key) {
            return Ok(Verdict::Remove);
        }
        let deliveries = &self.service.ports().deliveries;
        let delivery = deliveries.get_delivery(tenant, delivery_id).await?;
        if let ReplayFilter::Endpoint(endpoint) = self.filter
            && delivery.as_ref().is_none_or(|d| &d.endpoint_id != endpoint)
        {
            return Ok(Verdict::Keep);
        }
        let Some(delivery) = delivery else {
            tracing::info!(delivery = %delivery_id, "removing the dead letter of a delivery no longer stored");
            return Ok(Verdict::Remove);
        };
        if matches!(
            delivery.status,
            DeliveryStatus::Delivered | DeliveryStatus::Filtered
        ) {
            tracing::info!(delivery = %delivery_id, status = delivery.status.as_str(),
                "removing the dead letter of a finished delivery");
            return Ok(Verdict::Remove);
        }
        let Some(run) = deliveries.start_resend(tenant, delivery_id, None).await? else {
            return Ok(Verdict::Remove);
        };
        let task = Task::DeliverV1 {
            tenant: tenant.clone(),
            delivery_id: delivery_id.clone(),
            run,
        };
        self.queue.send_batch(&[task]).await?;
        self.service
            .metrics()
            .resends_started(ResendKind::Replay, 1);
        tracing::info!(delivery = %delivery_id, run, "replayed a dead letter");
        self.replayed.insert(key);
        Ok(Verdict::Remove)
    }
}
