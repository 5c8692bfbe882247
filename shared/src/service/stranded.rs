//! Deliveries that lost their task: `pending` in the store with no task on the queue, because the process
//! stopped between storing them and enqueueing their task (an ingest whose client never retried with its
//! Idempotency-Key). A scheduled sweep finds the pending deliveries unchanged for longer than a task can
//! go unseen and starts a new run of each, with its task.

use std::time::Duration;

use super::{Service, ServiceError};
use crate::delivery::DeliveryStatus;
use crate::ports::queue::Task;

/// Added to the longest time a task can go unseen: time for an invocation to start, run and record.
const STRANDED_MARGIN: Duration = Duration::from_secs(15 * 60);

/// What one sweep for stranded deliveries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StrandedReport {
    /// Deliveries given a new run and its task.
    pub requeued: usize,
    /// The sweep stopped at its limit: more may be stranded.
    pub stopped_early: bool,
}

impl Service {
    /// How long a pending delivery can go unchanged while its task is on the queue: the queue's lease
    /// of a received task (`lease`: a receiver that died holds it that long), the longest retry delay,
    /// and the longest hold behind an open circuit (a held task comes back without the delivery being
    /// written), plus a margin. Past that, the delivery has no task.
    pub fn stranded_after(&self, lease: Duration) -> Duration {
        lease
            .saturating_add(self.retry.longest_delay())
            .saturating_add(self.circuit.hold_limit)
            .saturating_add(STRANDED_MARGIN)
    }

    /// Starts a new run, and sends its task, for each of at most `limit` pending deliveries unchanged for
    /// [`stranded_after`](Self::stranded_after)`(lease)`. A new run rather than the same one again: if a
    /// task of the old run was on the queue after all, it finds its run over and ends without an attempt,
    /// so the delivery is never sent twice by two tasks.
    pub async fn requeue_stranded(
        &self,
        lease: Duration,
        limit: usize,
    ) -> Result<StrandedReport, ServiceError> {
        let age =
            chrono::Duration::from_std(self.stranded_after(lease)).unwrap_or(chrono::Duration::MAX);
        let now = self.clock.now();
        let deliveries = &self.ports.deliveries;
        let candidates = deliveries.pending_unchanged_since(now - age, limit).await?;
        let mut report = StrandedReport {
            requeued: 0,
            stopped_early: candidates.len() >= limit,
        };
        for delivery in candidates {
            let Some(run) = deliveries
                .start_resend(
                    &delivery.tenant,
                    &delivery.id,
                    Some(DeliveryStatus::Pending),
                )
                .await?
            else {
                continue;
            };
            let task = Task::deliver(
                delivery.tenant.clone(),
                delivery.id.clone(),
                run,
                delivery.endpoint_id.clone(),
            );
            self.ports.queue.send_batch(&[task]).await?;
            tracing::warn!(delivery = %delivery.id, run, updated_at = %delivery.updated_at,
                "a pending delivery had no task; requeued as a new run");
            report.requeued += 1;
        }
        Ok(report)
    }
}

#[cfg(test)]
#[path = "stranded_tests.rs"]
mod tests;
