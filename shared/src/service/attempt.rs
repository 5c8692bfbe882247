//! One delivery attempt for one received task: load, render, send, record, and decide what the queue
//! does with the task next. The same code runs in the embedded worker and the deliver Lambda. Counts and
//! times every attempt, and counts each delivery once when its final status is recorded. What each
//! outcome means is decided in [`crate::delivery::decide`]; this file only orchestrates.

use std::time::Duration;

use super::{Service, ServiceError};
use crate::alert::Alert;
pub use crate::delivery::decide::Disposition;
use crate::delivery::decide::{self, Decision, FilterReason};
use crate::delivery::{Attempt, Delivery, ErrorClass};
use crate::endpoint::Endpoint;
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::metrics::AttemptOutcome;
use crate::ports::queue::{ReceivedTask, Task};
use crate::ports::store::StatusChange;
use crate::template::RenderError;
use crate::webhook;
use crate::webhook::request::RequestFacts;

/// The delivery run a task is for.
struct TaskRun<'a> {
    tenant: &'a TenantId,
    delivery_id: &'a DeliveryId,
    run: u32,
}

/// What one task led to, as the store records it.
struct Record<'a> {
    task: &'a TaskRun<'a>,
    attempt: Option<&'a Attempt>,
    decision: &'a Decision,
}

impl Service {
    /// Handles one received task: attempt number `receive_count` of its delivery run, unless the checks of
    /// [`decide`] settle the delivery first; answers what the queue does with the task.
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
        let task = TaskRun {
            tenant,
            delivery_id,
            run: *run,
        };
        let number = received.receive_count;
        let Some(delivery) = self
            .ports
            .deliveries
            .get_delivery(tenant, delivery_id)
            .await?
        else {
            return Ok(Disposition::Done);
        };
        if !decide::is_current(&delivery, task.run) {
            return Ok(Disposition::Done);
        }
        if let Some(decision) = decide::past_attempt_limit(number) {
            return self.settle_unsent(&task, None, decision).await;
        }
        let endpoint = self
            .ports
            .endpoints
            .get_endpoint(tenant, &delivery.endpoint_id)
            .await?;
        let endpoint = match decide::sendable_endpoint(endpoint) {
            Ok(endpoint) => endpoint,
            Err(decision) => return self.settle_unsent(&task, None, decision).await,
        };
        let alert = self
            .ports
            .alerts
            .get_alert(tenant, &delivery.alert_id)
            .await?;
        let alert = match decide::sendable_alert(&endpoint, alert) {
            Ok(alert) => alert,
            Err(decision) => return self.settle_unsent(&task, None, decision).await,
        };
        self.attempt(&task, number, &delivery, endpoint, alert)
            .await
    }

    /// Renders, sends and records attempt `number`, keeping the endpoint's health.
    async fn attempt(
        &self,
        task: &TaskRun<'_>,
        number: u32,
        delivery: &Delivery,
        endpoint: Endpoint,
        alert: Alert,
    ) -> Result<Disposition, ServiceError> {
        let was_failing = endpoint.health.failure_streak > 0;
        let compiled = self.compiled(endpoint)?;
        let facts = RequestFacts {
            delivery_id: task.delivery_id.as_str(),
            attempt: number,
            now: self.clock.now(),
        };
        let request = match webhook::request::build(&compiled, &alert, &facts) {
            Ok(Some(request)) => request,
            Ok(None) => {
                let filter = FilterReason::MessageTypeOff(alert.content.message_type);
                return self
                    .settle_unsent(task, None, Decision::Filtered(filter))
                    .await;
            }
            Err(e) => return self.settle_unrenderable(task, number, &e).await,
        };
        let exchange = self.sender.send(&request).await;
        let mut attempt = exchange.attempt.numbered(number, task.run);
        attempt.scrub(|text| compiled.endpoint.scrub(text));
        self.track_health(task.tenant, &delivery.endpoint_id, &attempt, was_failing)
            .await?;
        let decision = decide::outcome(&attempt, exchange.retry_after, &self.retry);
        self.metrics.attempt_finished(
            attempt_outcome(&decision),
            attempt.error_class,
            Some(Duration::from_millis(attempt.duration_ms)),
        );
        let recorded = self
            .record(Record {
                task,
                attempt: Some(&attempt),
                decision: &decision,
            })
            .await?;
        if recorded
            && decision == Decision::Delivered
            && let Ok(latency) = (self.clock.now() - alert.received_at).to_std()
        {
            self.metrics.delivered_after(latency);
        }
        tracing::info!(
            delivery = %task.delivery_id,
            attempt = number,
            run = task.run,
            status = attempt.status_code,
            error = ?attempt.error_class,
            outcome = decision.status().as_str(),
            "attempt finished"
        );
        // A resend started a new run while this attempt was in flight: the old run's task just ends.
        Ok(if recorded {
            decision.disposition()
        } else {
            Disposition::Done
        })
    }

    /// The body could not be rendered: records the failed attempt, which sent nothing, and the delivery dead.
    async fn settle_unrenderable(
        &self,
        task: &TaskRun<'_>,
        number: u32,
        error: &RenderError,
    ) -> Result<Disposition, ServiceError> {
        let attempt = Attempt {
            error_class: Some(ErrorClass::Render),
            error: Some(error.to_string()),
            ..Attempt::unsent(self.clock.now()).numbered(number, task.run)
        };
        self.metrics
            .attempt_finished(AttemptOutcome::Dead, attempt.error_class, None);
        self.settle_unsent(task, Some(&attempt), decide::unrenderable())
            .await
    }

    /// Records a decision reached without sending, and answers what the queue does with the task. Unlike a
    /// sent attempt's, the disposition stands even when a newer run took over meanwhile.
    async fn settle_unsent(
        &self,
        task: &TaskRun<'_>,
        attempt: Option<&Attempt>,
        decision: Decision,
    ) -> Result<Disposition, ServiceError> {
        self.record(Record {
            task,
            attempt,
            decision: &decision,
        })
        .await?;
        Ok(decision.disposition())
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
        let now = self.clock.now();
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

    /// Records the attempt (if any) and the decided status in the task's run, and counts the delivery as
    /// finished when that status is final. False, writing and counting nothing, if the run is no longer
    /// current.
    async fn record(&self, record: Record<'_>) -> Result<bool, ServiceError> {
        let Record {
            task,
            attempt,
            decision,
        } = record;
        let status = decision.status();
        let reason = decision.reason();
        let change = StatusChange {
            status,
            reason: reason.as_deref(),
            next_attempt_at: decision.next_attempt_at(self.clock.now()),
        };
        let recorded = self
            .ports
            .deliveries
            .update_delivery(task.tenant, task.delivery_id, task.run, attempt, change)
            .await?;
        if recorded {
            self.metrics.deliveries_finished(status, 1);
        }
        Ok(recorded)
    }
}

/// The attempts metric's `outcome` label for a sent (or unrenderable) attempt.
fn attempt_outcome(decision: &Decision) -> AttemptOutcome {
    match decision {
        Decision::Delivered => AttemptOutcome::Delivered,
        Decision::Retry { .. } => AttemptOutcome::Retry,
        Decision::Dead { .. } | Decision::Gone { .. } | Decision::Filtered(_) => {
            AttemptOutcome::Dead
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::delivery::DeliveryStatus;
    use crate::service::in_memory::{
        PAST_THE_LIMIT, answering_receiver, closed_port, endpoint_at, monday_morning,
        monday_service, received, service, stored_delivery,
    };

    /// Receive number `number` of the first run's task.
    fn task(tenant: &TenantId, delivery_id: &DeliveryId, number: u32) -> ReceivedTask {
        received(tenant, delivery_id, 0, number)
    }

    /// GIVEN the endpoint is replaced by a `pager` to a closed port with `extra` fields.
    async fn replace_with(
        service: &Service,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        extra: serde_json::Value,
    ) {
        let mut body =
            json!({"name": "pager", "url": format!("http://127.0.0.1:{}/hook", closed_port())});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        service
            .replace_endpoint(tenant, endpoint_id, &body)
            .await
            .unwrap();
    }

    /// WHEN the first run's task is received for the first time: what the queue is told, and the delivery
    /// as then stored.
    async fn first_attempt(
        service: &Service,
        tenant: &TenantId,
        delivery_id: &DeliveryId,
    ) -> (Disposition, crate::delivery::Delivery) {
        let disposition = service
            .attempt_delivery(&task(tenant, delivery_id, 1))
            .await
            .unwrap();
        (
            disposition,
            stored_delivery(service, tenant, delivery_id).await,
        )
    }

    /// GIVEN an endpoint at `port` with `extra` fields and an alert accepted for it: the tenant and the
    /// one delivery.
    async fn one_delivery(
        service: &Service,
        port: u16,
        extra: serde_json::Value,
    ) -> (TenantId, EndpointId, DeliveryId) {
        let tenant = TenantId::from("acme");
        let endpoint_id = endpoint_at(service, &tenant, "pager", port, extra).await;
        let receipt = service
            .accept_alert(&tenant, &json!({"title": "cpu high"}), None)
            .await
            .unwrap();
        let (delivery_id, _) = receipt.deliveries[0].clone();
        (tenant, endpoint_id, delivery_id)
    }

    #[tokio::test]
    async fn an_endpoint_failing_for_five_days_is_disabled_on_the_clock_not_the_wall() {
        let clock = Arc::new(ManualClock::starting_at(monday_morning()));
        let service = service(clock.clone());
        let tenant = TenantId::from("acme");
        let url = format!("http://127.0.0.1:{}/hook", closed_port());
        let endpoint_id = service
            .create_endpoint(&tenant, &json!({"name": "down", "url": url}))
            .await
            .unwrap()
            .id;
        let receipt = service
            .accept_alert(&tenant, &json!({"title": "cpu high"}), None)
            .await
            .unwrap();
        let (delivery_id, _) = &receipt.deliveries[0];
        let stored = |service: &Service| {
            let (tenant, endpoint_id) = (tenant.clone(), endpoint_id.clone());
            let ports = service.ports.clone();
            async move {
                ports
                    .endpoints
                    .get_endpoint(&tenant, &endpoint_id)
                    .await
                    .unwrap()
                    .unwrap()
            }
        };

        // GIVEN the first attempt fails on Monday morning
        let first = service
            .attempt_delivery(&task(&tenant, delivery_id, 1))
            .await
            .unwrap();
        // THEN it is retried 5 s later by the clock, and the alert was received at the clock's time
        assert_eq!(first, Disposition::RetryIn(Duration::from_secs(5)));
        let delivery = service
            .ports
            .deliveries
            .get_delivery(&tenant, delivery_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            delivery.next_attempt_at,
            Some(monday_morning() + chrono::Duration::seconds(5))
        );
        let alert = service
            .ports
            .alerts
            .get_alert(&tenant, &receipt.alert_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alert.received_at, monday_morning());
        let health = stored(&service).await.health;
        assert_eq!(health.failing_since, Some(monday_morning()));

        // WHEN it still fails a minute short of five days later THEN the endpoint stays enabled
        clock.advance(chrono::Duration::days(5) - chrono::Duration::minutes(1));
        service
            .attempt_delivery(&task(&tenant, delivery_id, 2))
            .await
            .unwrap();
        assert!(stored(&service).await.enabled);

        // WHEN it fails once the five days are over THEN alertwire disables it, saying since when
        clock.advance(chrono::Duration::minutes(1));
        service
            .attempt_delivery(&task(&tenant, delivery_id, 3))
            .await
            .unwrap();
        let endpoint = stored(&service).await;
        assert!(!endpoint.enabled);
        assert_eq!(
            endpoint.disabled_reason.as_deref(),
            Some("every attempt failed since 2026-01-05T09:00:00+00:00 (3 failures in a row)")
        );
        assert_eq!(clock.now(), monday_morning() + chrono::Duration::days(5));
    }

    #[tokio::test]
    async fn an_answered_attempt_delivers_and_ends_the_task() {
        let service = monday_service();
        let (tenant, _, delivery_id) =
            one_delivery(&service, answering_receiver(200).await, json!({})).await;

        // WHEN the first attempt is answered 200
        let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

        // THEN the delivery is delivered with that one attempt, and the task is done
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(delivery.status, DeliveryStatus::Delivered);
        assert_eq!(delivery.attempts.len(), 1);
        assert_eq!(delivery.attempts[0].status_code, Some(200));
    }

    #[tokio::test]
    async fn a_task_for_a_stale_run_is_done_and_writes_nothing() {
        let service = monday_service();
        let (tenant, _, delivery_id) = one_delivery(&service, closed_port(), json!({})).await;
        // GIVEN a resend started run 1 of the delivery
        service.resend(&tenant, &delivery_id).await.unwrap();
        let before = stored_delivery(&service, &tenant, &delivery_id).await;
        assert_eq!(before.run, 1);

        // WHEN the task of run 0 is received
        let disposition = service
            .attempt_delivery(&task(&tenant, &delivery_id, 1))
            .await
            .unwrap();

        // THEN it is done, and the delivery is exactly as it was (no attempt recorded)
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(
            stored_delivery(&service, &tenant, &delivery_id).await,
            before
        );
    }

    #[tokio::test]
    async fn a_task_for_a_delivery_already_delivered_is_done_and_writes_nothing() {
        let service = monday_service();
        let (tenant, _, delivery_id) =
            one_delivery(&service, answering_receiver(200).await, json!({})).await;
        // GIVEN the delivery was delivered at the first attempt
        service
            .attempt_delivery(&task(&tenant, &delivery_id, 1))
            .await
            .unwrap();

        // WHEN the same task is received again
        let disposition = service
            .attempt_delivery(&task(&tenant, &delivery_id, 2))
            .await
            .unwrap();

        // THEN it is done and no second attempt is recorded
        assert_eq!(disposition, Disposition::Done);
        let delivery = stored_delivery(&service, &tenant, &delivery_id).await;
        assert_eq!(delivery.status, DeliveryStatus::Delivered);
        assert_eq!(delivery.attempts.len(), 1);
    }

    #[tokio::test]
    async fn a_delivery_whose_endpoint_was_deleted_goes_dead_saying_so() {
        let service = monday_service();
        let (tenant, endpoint_id, delivery_id) =
            one_delivery(&service, closed_port(), json!({})).await;
        // GIVEN the endpoint is deleted after the alert was accepted
        service
            .delete_endpoint(&tenant, &endpoint_id)
            .await
            .unwrap();

        // WHEN its task is received
        let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

        // THEN the delivery is dead with the reason, nothing was sent, and the task ends (no dead letter)
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(delivery.status, DeliveryStatus::Dead);
        assert_eq!(
            delivery.status_reason.as_deref(),
            Some("the endpoint was deleted")
        );
        assert!(delivery.attempts.is_empty());
    }

    #[tokio::test]
    async fn a_delivery_whose_endpoint_was_disabled_since_is_filtered() {
        let service = monday_service();
        let (tenant, endpoint_id, delivery_id) =
            one_delivery(&service, closed_port(), json!({})).await;
        // GIVEN the endpoint is switched off after the alert was accepted
        replace_with(&service, &tenant, &endpoint_id, json!({"enabled": false})).await;

        // WHEN its task is received
        let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

        // THEN the delivery is filtered as disabled, without an attempt
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(delivery.status, DeliveryStatus::Filtered);
        assert_eq!(
            delivery.status_reason.as_deref(),
            Some("the endpoint is disabled: disabled by the user")
        );
        assert!(delivery.attempts.is_empty());
    }

    #[tokio::test]
    async fn a_message_type_switched_off_since_acceptance_filters_the_delivery() {
        let service = monday_service();
        let (tenant, endpoint_id, delivery_id) =
            one_delivery(&service, closed_port(), json!({})).await;
        // GIVEN the endpoint stops sending `error` messages after the alert was accepted
        let types_off = json!({"message_types": {"error": null}});
        replace_with(&service, &tenant, &endpoint_id, types_off).await;

        // WHEN its task is received
        let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

        // THEN the delivery is filtered, saying which message type is off
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(delivery.status, DeliveryStatus::Filtered);
        assert_eq!(
            delivery.status_reason.as_deref(),
            Some("the endpoint sends nothing for `error` messages")
        );
    }

    #[tokio::test]
    async fn a_task_received_past_the_attempt_limit_dead_letters_without_sending() {
        let service = monday_service();
        let (tenant, _, delivery_id) =
            one_delivery(&service, answering_receiver(200).await, json!({})).await;

        // WHEN the task is received once more than the attempts allowed
        let disposition = service
            .attempt_delivery(&task(&tenant, &delivery_id, PAST_THE_LIMIT))
            .await
            .unwrap();

        // THEN the delivery is dead without a new attempt, and the task goes to the dead-letter queue
        assert_eq!(disposition, Disposition::DeadLetter);
        let delivery = stored_delivery(&service, &tenant, &delivery_id).await;
        assert_eq!(delivery.status, DeliveryStatus::Dead);
        assert!(delivery.attempts.is_empty());
    }

    #[tokio::test]
    async fn an_answer_410_gone_makes_the_delivery_dead_at_once() {
        let service = monday_service();
        let (tenant, _, delivery_id) =
            one_delivery(&service, answering_receiver(410).await, json!({})).await;

        // WHEN the first attempt is answered 410
        let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

        // THEN the delivery is dead with the reason, and the task goes to the dead-letter queue
        assert_eq!(disposition, Disposition::DeadLetter);
        assert_eq!(delivery.status, DeliveryStatus::Dead);
        assert_eq!(
            delivery.status_reason.as_deref(),
            Some("the endpoint answered 410 Gone")
        );
    }

    #[tokio::test]
    async fn an_unreadable_task_is_dropped_as_done() {
        let service = monday_service();
        let unreadable = ReceivedTask {
            task: None,
            receipt: "receipt-1".into(),
            receive_count: 1,
        };

        // WHEN a task that could not be read is received THEN it is done
        let disposition = service.attempt_delivery(&unreadable).await.unwrap();
        assert_eq!(disposition, Disposition::Done);
    }
}
