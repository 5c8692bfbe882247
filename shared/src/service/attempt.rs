//! One delivery attempt for one received task: load, render, send, record, and decide what the queue
//! does with the task next. The same code runs in the embedded worker and the deliver Lambda. Counts and
//! times every attempt, and counts each delivery once when its final status is recorded.

use std::time::Duration;

use chrono::Utc;

use super::{Service, ServiceError};
use crate::delivery::retry_policy::MAX_ATTEMPTS;
use crate::delivery::{Attempt, DeliveryStatus, ErrorClass};
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::metrics::AttemptOutcome;
use crate::ports::queue::{ReceivedTask, Task};
use crate::ports::store::StatusChange;
use crate::webhook;
use crate::webhook::request::RequestFacts;

/// What the queue should do with the task after the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Finished (delivered, filtered, stale or unreadable): delete the task.
    Done,
    /// Failed, to be tried again: make the task visible after this delay.
    RetryIn(Duration),
    /// Failed for good: move the task to the dead-letter queue.
    DeadLetter,
}

impl Service {
    pub async fn attempt_delivery(
        &self,
        received: &ReceivedTask,
    ) -> Result<Disposition, ServiceError> {
        let Some(Task::DeliverV1 {
            tenant,
            delivery_id,
            run,
        }) = &received.task
        else {
            tracing::warn!(receipt = %received.receipt, "dropping a task that could not be read");
            return Ok(Disposition::Done);
        };
        let (tenant, delivery_id, run) = (tenant, delivery_id, *run);
        let Some(delivery) = self
            .ports
            .deliveries
            .get_delivery(tenant, delivery_id)
            .await?
        else {
            return Ok(Disposition::Done);
        };
        if delivery.run != run || delivery.is_final() {
            return Ok(Disposition::Done);
        }
        let number = received.receive_count;
        let finish = |status, reason: String| async move {
            self.record(tenant, delivery_id, run, None, status, Some(&reason), None)
                .await
        };
        if number > MAX_ATTEMPTS {
            finish(
                DeliveryStatus::Dead,
                format!("all {MAX_ATTEMPTS} attempts failed"),
            )
            .await?;
            return Ok(Disposition::DeadLetter);
        }
        let Some(endpoint) = self
            .ports
            .endpoints
            .get_endpoint(tenant, &delivery.endpoint_id)
            .await?
        else {
            finish(DeliveryStatus::Dead, "the endpoint was deleted".into()).await?;
            return Ok(Disposition::Done);
        };
        if !endpoint.enabled {
            let reason = match &endpoint.disabled_reason {
                Some(why) => format!("the endpoint is disabled: {why}"),
                None => "the endpoint is disabled".to_string(),
            };
            finish(DeliveryStatus::Filtered, reason).await?;
            return Ok(Disposition::Done);
        }
        let was_failing = endpoint.health.failure_streak > 0;
        let Some(alert) = self
            .ports
            .alerts
            .get_alert(tenant, &delivery.alert_id)
            .await?
        else {
            finish(DeliveryStatus::Dead, "the alert is no longer stored".into()).await?;
            return Ok(Disposition::Done);
        };
        let compiled = self.compiled(endpoint)?;
        let facts = RequestFacts {
            delivery_id: delivery_id.as_str(),
            attempt: number,
            now: Utc::now(),
        };
        let request = match webhook::request::build(&compiled, &alert, &facts) {
            Ok(Some(request)) => request,
            Ok(None) => {
                let reason = format!(
                    "the endpoint sends nothing for `{}` messages",
                    alert.content.message_type.as_str()
                );
                finish(DeliveryStatus::Filtered, reason).await?;
                return Ok(Disposition::Done);
            }
            Err(e) => {
                let attempt =
                    failed_without_sending(number, run, ErrorClass::Render, e.to_string());
                self.metrics
                    .attempt_finished(AttemptOutcome::Dead, attempt.error_class, None);
                self.record(
                    tenant,
                    delivery_id,
                    run,
                    Some(&attempt),
                    DeliveryStatus::Dead,
                    Some("the body could not be rendered"),
                    None,
                )
                .await?;
                return Ok(Disposition::DeadLetter);
            }
        };
        let exchange = self.sender.send(&request).await;
        let mut attempt = exchange.attempt;
        attempt.number = number;
        attempt.run = run;
        attempt.resend = run > 0;
        attempt.scrub(|text| compiled.endpoint.scrub(text));
        self.track_health(tenant, &delivery.endpoint_id, &attempt, was_failing)
            .await?;
        let (status, reason, disposition) = if attempt.succeeded() {
            (DeliveryStatus::Delivered, None, Disposition::Done)
        } else if attempt.status_code == Some(410) {
            (
                DeliveryStatus::Dead,
                Some("the endpoint answered 410 Gone".to_string()),
                Disposition::DeadLetter,
            )
        } else if number >= MAX_ATTEMPTS {
            (
                DeliveryStatus::Dead,
                Some(format!("all {MAX_ATTEMPTS} attempts failed")),
                Disposition::DeadLetter,
            )
        } else {
            let delay = self.retry.delay_after(number, exchange.retry_after);
            (DeliveryStatus::Pending, None, Disposition::RetryIn(delay))
        };
        let outcome = match status {
            DeliveryStatus::Delivered => AttemptOutcome::Delivered,
            DeliveryStatus::Pending => AttemptOutcome::Retry,
            DeliveryStatus::Dead | DeliveryStatus::Filtered => AttemptOutcome::Dead,
        };
        self.metrics.attempt_finished(
            outcome,
            attempt.error_class,
            Some(Duration::from_millis(attempt.duration_ms)),
        );
        let next_attempt_at = match disposition {
            Disposition::RetryIn(delay) => chrono::Duration::from_std(delay)
                .ok()
                .map(|d| Utc::now() + d),
            _ => None,
        };
        let recorded = self
            .record(
                tenant,
                delivery_id,
                run,
                Some(&attempt),
                status,
                reason.as_deref(),
                next_attempt_at,
            )
            .await?;
        if recorded
            && status == DeliveryStatus::Delivered
            && let Ok(latency) = (Utc::now() - alert.received_at).to_std()
        {
            self.metrics.delivered_after(latency);
        }
        tracing::info!(
            delivery = %delivery_id,
            attempt = number,
            run,
            status = attempt.status_code,
            error = ?attempt.error_class,
            outcome = status.as_str(),
            "attempt finished"
        );
        // A resend started a new run while this attempt was in flight: the old run's task just ends.
        Ok(if recorded {
            disposition
        } else {
            Disposition::Done
        })
    }

    /// Keeps the endpoint's failure streak, and disables the endpoint when the health policy says so.
    /// Writes nothing for a success that follows a success.
    async fn track_health(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        attempt: &Attempt,
        was_failing: bool,
    ) -> Result<(), ServiceError> {
        let endpoints = &self.ports.endpoints;
        if attempt.succeeded() {
            if was_failing {
                endpoints.clear_failures(tenant, endpoint_id).await?;
            }
            return Ok(());
        }
        let now = Utc::now();
        let Some(health) = endpoints.note_failure(tenant, endpoint_id, now).await? else {
            return Ok(());
        };
        if let Some(reason) = self.health.verdict(&health, attempt.status_code, now)
            && endpoints
                .disable_endpoint(tenant, endpoint_id, &reason, now)
                .await?
        {
            self.metrics.endpoint_disabled();
            tracing::warn!(endpoint = %endpoint_id, %reason, "endpoint disabled");
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    /// Records the attempt (if any) and the new status in `run`, and counts the delivery as finished when
    /// that status is final. False, writing and counting nothing, if the run is no longer current.
    async fn record(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        status: DeliveryStatus,
        reason: Option<&str>,
        next_attempt_at: Option<chrono::DateTime<Utc>>,
    ) -> Result<bool, ServiceError> {
        let change = StatusChange {
            status,
            reason,
            next_attempt_at,
        };
        let recorded = self
            .ports
            .deliveries
            .update_delivery(tenant, id, run, attempt, change)
            .await?;
        if recorded {
            self.metrics.deliveries_finished(status, 1);
        }
        Ok(recorded)
    }
}

fn failed_without_sending(number: u32, run: u32, class: ErrorClass, error: String) -> Attempt {
    Attempt {
        number,
        run,
        resend: run > 0,
        started_at: Utc::now(),
        duration_ms: 0,
        status_code: None,
        response_headers: Vec::new(),
        response_body: None,
        response_body_truncated: false,
        error_class: Some(class),
        error: Some(error),
    }
}
