//! One delivery attempt for one received task: load, render, send, record, and decide what the queue
//! does with the task next. The same code runs in the embedded worker and the deliver Lambda. Counts and
//! times every attempt, and counts each delivery once when its final status is recorded. What each
//! outcome means is decided in [`crate::delivery::decide`]; this file only orchestrates.
//!
//! An attempt that was sent but whose outcome the store did not take (a full disk) comes back to the caller
//! as [`AttemptError::Unrecorded`], holding the outcome: the caller keeps it and hands it to
//! [`Service::record_sent_attempt`] once the store writes again, so the request is not sent a second time.

use std::time::Duration;

use super::admission::{Admission, AttemptPass};
use super::digests::DigestGate;
use super::incidents::IncidentGate;
use super::maintenance::MaintenanceGate;
use super::operations::OperationsEvent;
use super::{Service, ServiceError};
use crate::alert::Alert;
pub use crate::delivery::decide::Disposition;
use crate::delivery::decide::{self, Decision, FilterReason};
use crate::delivery::pacing::Answer;
use crate::delivery::{Attempt, Delivery, DeliveryStatus, ErrorClass};
use crate::digest::DigestFacts;
use crate::endpoint::Endpoint;
use crate::endpoint::captures::CapturedValues;
use crate::endpoint::circuit::CircuitPolicy;
use crate::endpoint::health::FailureNote;
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::metrics::{AttemptOutcome, HoldReason};
use crate::ports::queue::{ReceivedTask, Task};
use crate::ports::store::{DeliveryToAttempt, Settlement, StatusChange, StoreError};
use crate::template::RenderError;
use crate::webhook;
use crate::webhook::request::RequestFacts;

/// The delivery run a task is for, and the queue receipt of the task.
struct TaskRun<'a> {
    tenant: &'a TenantId,
    delivery_id: &'a DeliveryId,
    run: u32,
    receipt: &'a str,
}

/// The endpoint's health as loaded before the attempt, and whether the attempt is the circuit's probe.
#[derive(Debug, Clone, Copy)]
struct HealthBefore {
    failing: bool,
    circuit_open: bool,
    probe: bool,
}

/// Why a task did not settle.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// Failed before anything was sent, or after the outcome was recorded: the task comes back and is
    /// taken up again.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The request was sent and its outcome is known, but the store did not take it. Hand `sent` back
    /// to [`Service::record_sent_attempt`] when the store writes again; dropped, the task comes back after
    /// its lease and the request is sent again (at least once).
    #[error("the attempt was sent but its outcome could not be recorded: {error}")]
    Unrecorded {
        sent: Box<SentAttempt>,
        error: ServiceError,
    },
}

impl AttemptError {
    /// The sent attempt, when the store did not take its outcome because it cannot write at the moment
    /// (worth keeping until it can); any other failure gives itself back.
    pub fn unwritable_outcome(self) -> Result<Box<SentAttempt>, Self> {
        match self {
            Self::Unrecorded {
                sent,
                error: ServiceError::Store(StoreError::Unwritable { .. }),
            } => Ok(sent),
            other => Err(other),
        }
    }
}

impl From<StoreError> for AttemptError {
    fn from(e: StoreError) -> Self {
        Self::Service(e.into())
    }
}

/// A sent attempt and what it decided, until the store has taken both the endpoint's health and the
/// delivery's new status.
#[derive(Debug)]
pub struct SentAttempt {
    tenant: TenantId,
    delivery_id: DeliveryId,
    run: u32,
    /// The queue receipt of the task the attempt was made for.
    receipt: String,
    endpoint_id: EndpointId,
    received_at: chrono::DateTime<chrono::Utc>,
    attempt: Attempt,
    retry_after: Option<Duration>,
    before: HealthBefore,
    decision: Decision,
    /// Whether the endpoint's health already counts this attempt.
    health_kept: bool,
}

impl SentAttempt {
    pub fn delivery_id(&self) -> &DeliveryId {
        &self.delivery_id
    }
}

/// What an attempt is made of, once the checks before it have passed.
struct Sending<'a> {
    number: u32,
    delivery: &'a Delivery,
    endpoint: Endpoint,
    alert: Alert,
    /// What the endpoint captured from the incident's error, for an endpoint that follows incidents.
    captured: Option<&'a CapturedValues>,
    /// What a digest delivery folded.
    digest: Option<&'a DigestFacts>,
}

/// What one task led to, as the store records it.
struct Record<'a> {
    task: &'a TaskRun<'a>,
    attempt: Option<&'a Attempt>,
    decision: &'a Decision,
}

impl Service {
    /// Handles one received task: the next attempt of its delivery run (see
    /// [`Delivery::next_attempt_number`]), unless the checks of [`decide`] settle the delivery first;
    /// answers what the queue does with the task.
    pub async fn attempt_delivery(
        &self,
        received: &ReceivedTask,
    ) -> Result<Disposition, AttemptError> {
        let Some(Task::DeliverV1 {
            tenant,
            delivery_id,
            run,
            ..
        }) = &received.task
        else {
            tracing::warn!(receipt = %received.receipt, "dropping a task that could not be read");
            return Ok(Disposition::Done);
        };
        let task = TaskRun {
            tenant,
            delivery_id,
            run: *run,
            receipt: &received.receipt,
        };
        let Some(DeliveryToAttempt {
            delivery,
            endpoint,
            alert,
        }) = self
            .ports
            .deliveries
            .get_delivery_to_attempt(tenant, delivery_id)
            .await?
        else {
            return Ok(Disposition::Done);
        };
        if !decide::is_current(&delivery, task.run) {
            self.follow_a_death_cut_short(&task, &delivery).await?;
            return Ok(Disposition::Done);
        }
        let number = delivery.next_attempt_number(received.attempt_number());
        if let Some(decision) = decide::past_attempt_limit(number) {
            return Ok(self.settle_unsent(&task, None, decision).await?);
        }
        if let Some(wait) = decide::not_due_for(&delivery, self.clock.now()) {
            self.metrics.delivery_held(HoldReason::Scheduled);
            return Ok(Disposition::Hold(wait));
        }
        let endpoint = endpoint
            .or_read(|| {
                self.ports
                    .endpoints
                    .get_endpoint(tenant, &delivery.endpoint_id)
            })
            .await?;
        let endpoint = match decide::sendable_endpoint(endpoint) {
            Ok(endpoint) => endpoint,
            Err(decision) => return Ok(self.settle_unsent(&task, None, decision).await?),
        };
        let pass = match self.admit(&delivery, &endpoint).await? {
            Admission::Attempt(pass) => pass,
            Admission::Hold(wait) => return Ok(Disposition::Hold(wait)),
            Admission::Settle(decision) => {
                return Ok(self.settle_unsent(&task, None, decision).await?);
            }
        };
        let alert = alert
            .or_read(|| self.ports.alerts.get_alert(tenant, &delivery.alert_id))
            .await?;
        let alert = match decide::sendable_alert(&endpoint, alert) {
            Ok(alert) => alert,
            Err(decision) => return Ok(self.settle_unsent(&task, None, decision).await?),
        };
        match self.maintenance_gate(tenant, &endpoint, &alert).await? {
            MaintenanceGate::Go => {}
            MaintenanceGate::Hold(wait) => return Ok(Disposition::Hold(wait)),
            MaintenanceGate::Resolved => {
                let decision = Decision::Filtered(FilterReason::MaintenanceResolved);
                return Ok(self.settle_unsent(&task, None, decision).await?);
            }
        }
        let captured = match self.incident_gate(tenant, &endpoint, &alert).await? {
            IncidentGate::Go(captured) => captured,
            IncidentGate::Hold(wait) => return Ok(Disposition::Hold(wait)),
            IncidentGate::Skip(name) => {
                let decision = Decision::Filtered(FilterReason::CaptureMissing { name });
                return Ok(self.settle_unsent(&task, None, decision).await?);
            }
        };
        let digest = match self.digest_gate(tenant, &alert).await? {
            DigestGate::NotADigest => None,
            DigestGate::Hold(wait) => return Ok(Disposition::Hold(wait)),
            DigestGate::Empty => {
                let decision = Decision::Filtered(FilterReason::DigestEmpty);
                return Ok(self.settle_unsent(&task, None, decision).await?);
            }
            DigestGate::Send(facts) => Some(facts),
        };
        let sending = Sending {
            number,
            delivery: &delivery,
            endpoint,
            alert,
            captured: captured.as_ref(),
            digest: digest.as_ref(),
        };
        let disposition = self.attempt(&task, sending, &pass).await;
        drop(pass);
        disposition
    }

    /// The task of a run already dead came back: the process may have stopped between recording the death
    /// and what follows it (the fallback, the operational alerts), so that is done now. Both are made once
    /// however often this runs: the fallback delivery's id comes from the dead run, and the alerts carry
    /// idempotency keys.
    async fn follow_a_death_cut_short(
        &self,
        task: &TaskRun<'_>,
        delivery: &Delivery,
    ) -> Result<(), ServiceError> {
        if delivery.status != DeliveryStatus::Dead
            || delivery.run != task.run
            || delivery.fallback_delivery_id.is_some()
        {
            return Ok(());
        }
        let decision = Decision::Dead {
            reason: delivery.status_reason.clone().unwrap_or_default(),
        };
        self.after_death(task.tenant, task.delivery_id, task.run, &decision)
            .await
    }

    /// Renders, sends and records attempt `sending.number` under `pass` (its in-flight slot, and whether
    /// it is the circuit's probe), keeping the endpoint's health.
    async fn attempt(
        &self,
        task: &TaskRun<'_>,
        sending: Sending<'_>,
        pass: &AttemptPass,
    ) -> Result<Disposition, AttemptError> {
        let Sending {
            number,
            delivery,
            endpoint,
            alert,
            captured,
            digest,
        } = sending;
        let before = HealthBefore {
            failing: endpoint.health.failure_streak > 0,
            circuit_open: endpoint.health.circuit.is_some(),
            probe: pass.probe,
        };
        let compiled = self.compiled(&endpoint).map_err(ServiceError::from)?;
        let facts = RequestFacts {
            delivery_id: task.delivery_id.as_str(),
            attempt: number,
            now: self.clock.now(),
            fallback_of: delivery.fallback_of.as_ref().map(DeliveryId::as_str),
            captured,
            digest,
        };
        let request = match webhook::request::build(&compiled, &alert, &facts) {
            Ok(Some(request)) => request,
            Ok(None) => {
                let filter = FilterReason::MessageTypeOff(alert.content.message_type);
                return Ok(self
                    .settle_unsent(task, None, Decision::Filtered(filter))
                    .await?);
            }
            Err(e) => return Ok(self.settle_unrenderable(task, number, &e).await?),
        };
        let exchange = self.sender.send(&request).await;
        let mut attempt = exchange.attempt.numbered(number, task.run);
        attempt.scrub(|text| compiled.endpoint.scrub(text));
        pass.slot.learn(
            pacing_answer(&attempt),
            Duration::from_millis(attempt.duration_ms),
        );
        let decision = decide::outcome(&attempt, exchange.retry_after, &self.retry);
        // Before the delivered status is recorded: whoever sees it delivered finds what it captured.
        if decision == Decision::Delivered
            && let Err(error) = self
                .capture(&endpoint, &alert, task.delivery_id, &attempt)
                .await
        {
            tracing::warn!(delivery = %task.delivery_id, error = %error,
                "the answer's captures could not be kept; the incident's later messages go without them");
        }
        self.metrics.attempt_finished(
            attempt_outcome(&decision),
            attempt.error_class,
            Some(Duration::from_millis(attempt.duration_ms)),
        );
        self.record_sent_attempt(SentAttempt {
            tenant: task.tenant.clone(),
            delivery_id: task.delivery_id.clone(),
            run: task.run,
            receipt: task.receipt.to_string(),
            endpoint_id: delivery.endpoint_id.clone(),
            received_at: alert.received_at,
            attempt,
            retry_after: exchange.retry_after,
            before,
            decision,
            health_kept: false,
        })
        .await
    }

    /// Records a sent attempt: the endpoint's health, then the delivery's new status; answers what the
    /// queue does with the task. Called right after the attempt, and again with an
    /// [`AttemptError::Unrecorded`]'s attempt once the store writes again: the parts already taken are not
    /// written twice.
    pub async fn record_sent_attempt(
        &self,
        mut sent: SentAttempt,
    ) -> Result<Disposition, AttemptError> {
        if !sent.health_kept {
            let kept = self
                .track_health(
                    &sent.tenant,
                    &sent.endpoint_id,
                    &sent.attempt,
                    sent.retry_after,
                    sent.before,
                )
                .await;
            if let Err(error) = kept {
                return Err(unrecorded(sent, error));
            }
            sent.health_kept = true;
        }
        let task = TaskRun {
            tenant: &sent.tenant,
            delivery_id: &sent.delivery_id,
            run: sent.run,
            receipt: &sent.receipt,
        };
        let record = Record {
            task: &task,
            attempt: Some(&sent.attempt),
            decision: &sent.decision,
        };
        let settlement = match self.record_status(&record).await {
            Ok(settlement) => settlement,
            Err(error) => return Err(unrecorded(sent, error)),
        };
        let recorded = settlement.recorded;
        if recorded {
            self.follow_status(&record).await?;
        }
        let decision = &sent.decision;
        if recorded
            && *decision == Decision::Delivered
            && let Ok(latency) = (self.clock.now() - sent.received_at).to_std()
        {
            self.metrics.delivered_after(latency);
        }
        // One line per attempt is for debugging; INFO carries the state changes (below and in `record`).
        tracing::debug!(
            delivery = %sent.delivery_id,
            attempt = sent.attempt.number,
            run = sent.run,
            status = sent.attempt.status_code,
            error = ?sent.attempt.error_class,
            outcome = decision.status().as_str(),
            "attempt finished"
        );
        // A resend started a new run while this attempt was in flight: the old run's task just ends.
        Ok(if recorded {
            settled(decision, settlement)
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
        let settlement = self
            .record(Record {
                task,
                attempt,
                decision: &decision,
            })
            .await?;
        Ok(settled(&decision, settlement))
    }

    /// Keeps the endpoint's health: the failure streak, the outage run and circuit, a slowdown asked for
    /// with `429` and `Retry-After`; disables the endpoint when the health policy says so. Writes nothing
    /// for a success that follows a success.
    async fn track_health(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        attempt: &Attempt,
        retry_after: Option<Duration>,
        before: HealthBefore,
    ) -> Result<(), ServiceError> {
        let endpoints = &self.ports.endpoints;
        if attempt.succeeded() {
            if before.failing || before.circuit_open {
                endpoints.clear_failures(tenant, endpoint_id).await?;
                tracing::info!(endpoint = %endpoint_id, "endpoint recovered");
                if before.circuit_open {
                    self.circuit_closed(tenant, endpoint_id, attempt.status_code)
                        .await;
                }
            }
            return Ok(());
        }
        if !before.failing {
            tracing::info!(
                endpoint = %endpoint_id,
                status = attempt.status_code,
                error = ?attempt.error_class,
                "endpoint failing"
            );
        }
        let now = self.clock.now();
        let outage = CircuitPolicy::is_outage(attempt);
        let note = FailureNote {
            at: now,
            outage,
            error: attempt.error.as_deref().unwrap_or("the attempt failed"),
            slowed_until: retry_after
                .filter(|_| attempt.status_code == Some(429))
                .and_then(|wait| chrono::Duration::from_std(wait).ok())
                .map(|wait| now + wait),
        };
        let Some(health) = endpoints.note_failure(tenant, endpoint_id, note).await? else {
            return Ok(());
        };
        if !outage && before.circuit_open {
            // An answer that is not an outage (a 4XX): the endpoint is up again.
            self.circuit_closed(tenant, endpoint_id, attempt.status_code)
                .await;
        }
        if outage && let Some(circuit) = self.circuit.after_outage(&health, now, before.probe) {
            let opened = endpoints
                .open_circuit(tenant, endpoint_id, &circuit)
                .await?;
            if opened {
                self.metrics.circuit_changed(true);
                tracing::warn!(
                    endpoint = %endpoint_id,
                    outages = health.outage_streak,
                    probe_at = %circuit.probe_at,
                    "circuit opened"
                );
                let failing = OperationsEvent::EndpointFailing {
                    endpoint_id: endpoint_id.clone(),
                    last_error: health.last_error.clone(),
                };
                self.tell_operations(tenant, failing).await;
            }
        }
        if let Some(reason) = self.health.verdict(&health, attempt.is_gone(), now)
            && endpoints
                .disable_endpoint(tenant, endpoint_id, &reason, now)
                .await?
        {
            self.route_tables.forget(tenant);
            self.metrics.endpoint_disabled();
            tracing::warn!(endpoint = %endpoint_id, %reason, "endpoint disabled");
            if let Some(disabled) = endpoints.get_endpoint(tenant, endpoint_id).await? {
                let event = OperationsEvent::EndpointDisabled {
                    endpoint_id: endpoint_id.clone(),
                    version: disabled.version,
                    reason,
                };
                self.tell_operations(tenant, event).await;
            }
        }
        Ok(())
    }

    /// The endpoint's circuit closed: an attempt was answered (`status`).
    async fn circuit_closed(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        status: Option<u16>,
    ) {
        self.metrics.circuit_changed(false);
        tracing::warn!(endpoint = %endpoint_id, status, "circuit closed");
        let recovered = OperationsEvent::EndpointRecovered {
            endpoint_id: endpoint_id.clone(),
        };
        self.tell_operations(tenant, recovered).await;
    }

    /// Records the attempt (if any) and the decided status in the task's run, and counts the delivery as
    /// finished when that status is final. False, writing and counting nothing, if the run is no longer
    /// current.
    async fn record(&self, record: Record<'_>) -> Result<Settlement, ServiceError> {
        let settlement = self.record_status(&record).await?;
        if settlement.recorded {
            self.follow_status(&record).await?;
        }
        Ok(settlement)
    }

    /// The store's part of [`Self::record`]: the attempt and the status, in one write; with them the
    /// task's removal when the decision finishes it and the store holds the queue.
    async fn record_status(&self, record: &Record<'_>) -> Result<Settlement, ServiceError> {
        let reason = record.decision.reason();
        let change = StatusChange {
            status: record.decision.status(),
            reason: reason.as_deref(),
            next_attempt_at: record.decision.next_attempt_at(self.clock.now()),
        };
        let task = record.task;
        let finishes = (record.decision.disposition() == Disposition::Done).then_some(task.receipt);
        Ok(self
            .ports
            .deliveries
            .update_delivery_settling(
                task.tenant,
                task.delivery_id,
                task.run,
                record.attempt,
                change,
                finishes,
            )
            .await?)
    }

    /// What follows a recorded status: the count of finished deliveries, and what a death leads to. When
    /// this fails after a death, the task comes back and [`Self::follow_a_death_cut_short`] ends it.
    async fn follow_status(&self, record: &Record<'_>) -> Result<(), ServiceError> {
        let status = record.decision.status();
        self.metrics.deliveries_finished(status, 1);
        if status == DeliveryStatus::Dead {
            let task = record.task;
            tracing::info!(delivery = %task.delivery_id, run = task.run,
                reason = record.decision.reason().as_deref(), "delivery dead");
            self.after_death(task.tenant, task.delivery_id, task.run, record.decision)
                .await?;
        }
        Ok(())
    }
}

/// What the queue does with the task after `decision` was recorded: nothing if the store removed it.
fn settled(decision: &Decision, settlement: Settlement) -> Disposition {
    if settlement.task_removed {
        Disposition::Settled
    } else {
        decision.disposition()
    }
}

/// A sent attempt that the store did not take, for the caller to keep.
fn unrecorded(sent: SentAttempt, error: ServiceError) -> AttemptError {
    AttemptError::Unrecorded {
        sent: Box::new(sent),
        error,
    }
}

/// What a sent attempt teaches the endpoint's pacing: a timeout held a slot for the whole timeout and
/// closes the window; a quick failure (refused, 5XX) holds no slot for long and leaves it as it is.
fn pacing_answer(attempt: &Attempt) -> Answer {
    if attempt.error_class == Some(ErrorClass::Timeout) {
        Answer::Outage
    } else {
        Answer::Answered {
            success: attempt.succeeded(),
        }
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
#[path = "attempt_tests.rs"]
mod tests;
