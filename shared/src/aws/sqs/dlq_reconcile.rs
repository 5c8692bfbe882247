//! Reconciling the SQS dead-letter queue with the store. A delivery whose tenth receive was spent without
//! an attempt being recorded (an invocation that crashed, timed out or was throttled) is moved to the
//! dead-letter queue by SQS redrive while the store still says `pending`: no code of ours saw that receive.
//! The reconcile sweep finds such dead letters and marks their deliveries `dead`, so they are listed and
//! replayed like any other. The replay function runs it on a schedule (see `template.yaml`); it leaves
//! every message where it is.

use async_trait::async_trait;

use crate::aws::sqs::queue::{DeadLetter, DeadLetterJudge, SqsQueue, Verdict};
use crate::delivery::DeliveryStatus;
use crate::delivery::retry_policy::MAX_ATTEMPTS;
use crate::ports::queue::Task;
use crate::ports::store::StatusChange;
use crate::service::{Service, ServiceError};

/// Sweeps the dead-letter queue once; returns how many pending deliveries it marked dead.
pub async fn reconcile_dlq(service: &Service, queue: &SqsQueue) -> Result<usize, ServiceError> {
    let mut reconciler = Reconciler { service, marked: 0 };
    queue.sweep_dead_letters(&mut reconciler).await?;
    Ok(reconciler.marked)
}

struct Reconciler<'a> {
    service: &'a Service,
    marked: usize,
}

#[async_trait]
impl DeadLetterJudge for Reconciler<'_> {
    type Error = ServiceError;

    async fn judge(&mut self, letter: &DeadLetter) -> Result<Verdict, ServiceError> {
        let Some(Task::DeliverV1 {
            tenant,
            delivery_id,
            run,
        }) = &letter.task
        else {
            return Ok(Verdict::Keep);
        };
        let deliveries = &self.service.ports().deliveries;
        let Some(delivery) = deliveries.get_delivery(tenant, delivery_id).await? else {
            return Ok(Verdict::Keep);
        };
        if delivery.status != DeliveryStatus::Pending || delivery.run != *run {
            return Ok(Verdict::Keep);
        }
        let recorded = delivery.attempts.iter().filter(|a| a.run == *run).count();
        let reason = format!(
            "the delivery queue dead-lettered it after {MAX_ATTEMPTS} receives; {recorded} attempts \
             were recorded (the others were cut short)"
        );
        let change = StatusChange {
            status: DeliveryStatus::Dead,
            reason: Some(&reason),
            next_attempt_at: None,
        };
        if deliveries
            .update_delivery(tenant, delivery_id, *run, None, change)
            .await?
        {
            tracing::warn!(delivery = %delivery_id, run, recorded, "a dead letter's delivery was still pending; marked dead");
            self.marked += 1;
        }
        Ok(Verdict::Keep)
    }
}
