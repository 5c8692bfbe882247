//! The delivery decision, as pure functions: whether a delivery is `filtered` rather than sent, whether a
//! received task still leads to an attempt, and what an attempt's result makes of the delivery and of
//! its task. No I/O and no clock: `service::attempt` loads, sends and records around these.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use super::{Attempt, Delivery, DeliveryStatus};
use crate::alert::{Alert, MessageType, Severity};
use crate::endpoint::{Endpoint, Route};
use crate::ids::DeliveryId;

/// Why a delivery is `filtered`: never sent, by the endpoint's own rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterReason {
    /// The endpoint is switched off, by its owner or by alertwire (with the reason it gave).
    Disabled { why: Option<String> },
    /// The alert is less severe than the endpoint asks for.
    BelowMinSeverity {
        severity: Severity,
        minimum: Severity,
    },
    /// The endpoint sends nothing for this message type.
    MessageTypeOff(MessageType),
    /// A capture of the incident's error is missing, and the endpoint skips such messages
    /// (`capture_missing: skip`).
    CaptureMissing { name: String },
    /// It was held by a maintenance window, and an `ok` resolved its incident before the window ended.
    MaintenanceResolved,
    /// An error past the first `after` of its endpoint's window: its alert is listed in that window's
    /// digest delivery instead ([`crate::digest`]).
    Digest { digest_id: DeliveryId },
    /// A digest delivery no alert was folded into (its window's first folding stopped before the alert
    /// was stored): there is nothing to send.
    DigestEmpty,
}

impl FilterReason {
    /// The reason in words, as stored in the delivery's `status_reason`.
    pub fn reason(&self) -> String {
        match self {
            Self::Disabled { why: Some(why) } => format!("the endpoint is disabled: {why}"),
            Self::Disabled { why: None } => "the endpoint is disabled".to_string(),
            Self::BelowMinSeverity { severity, minimum } => format!(
                "severity {} is below the endpoint's minimum {}",
                severity.as_str(),
                minimum.as_str()
            ),
            Self::MessageTypeOff(message_type) => format!(
                "the endpoint sends nothing for `{}` messages",
                message_type.as_str()
            ),
            Self::MaintenanceResolved => {
                "maintenance_resolved: an ok resolved the incident while a maintenance window held this message".to_string()
            }
            Self::Digest { digest_id } => format!(
                "{}: folded into the digest delivery {digest_id}, sent when the endpoint's window of errors ends",
                crate::digest::FOLDED_REASON
            ),
            Self::DigestEmpty => "the digest folded no alert".to_string(),
            Self::CaptureMissing { name } => format!(
                "capture_missing: `{name}` was not captured from the incident's error, and the endpoint skips such messages"
            ),
        }
    }
}

/// Why a new delivery of `alert` to `endpoint` is filtered rather than queued, judged when the alert is
/// accepted; `None` to send it.
pub fn filter_reason(endpoint: &Endpoint, alert: &Alert) -> Option<FilterReason> {
    disabled(endpoint)
        .or_else(|| below_min_severity(endpoint, alert))
        .or_else(|| message_type_off(endpoint, alert))
}

fn disabled(endpoint: &Endpoint) -> Option<FilterReason> {
    (!endpoint.enabled).then(|| FilterReason::Disabled {
        why: endpoint.disabled_reason.clone(),
    })
}

fn below_min_severity(endpoint: &Endpoint, alert: &Alert) -> Option<FilterReason> {
    (alert.content.severity < endpoint.min_severity).then_some(FilterReason::BelowMinSeverity {
        severity: alert.content.severity,
        minimum: endpoint.min_severity,
    })
}

fn message_type_off(endpoint: &Endpoint, alert: &Alert) -> Option<FilterReason> {
    let message_type = alert.content.message_type;
    (*endpoint.message_types.get(message_type) == Route::Off)
        .then_some(FilterReason::MessageTypeOff(message_type))
}

/// What the queue should do with the task after the attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Finished (delivered, filtered, stale or unreadable): delete the task.
    Done,
    /// Failed, to be tried again: make the task visible after this delay.
    RetryIn(Duration),
    /// Failed for good: move the task to the dead-letter queue.
    DeadLetter,
    /// Not attempted, held back by the endpoint's limits or its open circuit: make the task visible
    /// after this delay without counting the receive as an attempt.
    Hold(Duration),
    /// Finished, and the store removed the task in the same write as the outcome: nothing is left for
    /// the queue to do.
    Settled,
}

/// What becomes of a delivery after one received task: the status to record and what the queue does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Answered 2XX.
    Delivered,
    /// Failed; the task comes back after `delay`.
    Retry { delay: Duration },
    /// Failed for good (the last attempt, `410 Gone`, a body that cannot be rendered): the task goes to
    /// the dead-letter queue, and the delivery can be replayed.
    Dead { reason: String },
    /// Dead because what it was for is gone (the endpoint deleted, the alert no longer stored): the task
    /// just ends.
    Gone { reason: String },
    /// Not sent, by the endpoint's rules (see [`FilterReason`]): the task just ends.
    Filtered(FilterReason),
}

impl Decision {
    pub fn status(&self) -> DeliveryStatus {
        match self {
            Self::Delivered => DeliveryStatus::Delivered,
            Self::Retry { .. } => DeliveryStatus::Pending,
            Self::Dead { .. } | Self::Gone { .. } => DeliveryStatus::Dead,
            Self::Filtered(_) => DeliveryStatus::Filtered,
        }
    }

    /// Why it is dead or filtered, in words; `None` while delivered or pending.
    pub fn reason(&self) -> Option<String> {
        match self {
            Self::Delivered | Self::Retry { .. } => None,
            Self::Dead { reason } | Self::Gone { reason } => Some(reason.clone()),
            Self::Filtered(filter) => Some(filter.reason()),
        }
    }

    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Retry { delay } => Disposition::RetryIn(*delay),
            Self::Dead { .. } => Disposition::DeadLetter,
            Self::Delivered | Self::Gone { .. } | Self::Filtered(_) => Disposition::Done,
        }
    }

    /// When the next attempt is due, for a retry decided at `now`.
    pub fn next_attempt_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Retry { delay } => chrono::Duration::from_std(*delay).ok().map(|d| now + d),
            _ => None,
        }
    }
}

/// Whether a received task of `run` still concerns its delivery: false when a resend started a newer run
/// or the delivery is already final, and the task just ends with nothing recorded.
pub fn is_current(delivery: &Delivery, run: u32) -> bool {
    delivery.run == run && !delivery.is_final()
}

/// Receive number `number` is past the limit: the last attempt was made but its outcome never recorded
/// (the process stopped), so the delivery is dead.
pub fn past_attempt_limit(number: u32) -> Option<Decision> {
    (number > MAX_ATTEMPTS).then(all_attempts_failed)
}

/// The longest a task is held at once for a delivery not yet due (SQS delays a message 15 minutes at most).
const LONGEST_SCHEDULED_WAIT: Duration = Duration::from_secs(15 * 60);

/// How long to wait before a delivery whose first attempt of the run is scheduled later (a digest, until
/// its window has ended) is due; `None` when it is due now, or has been attempted in this run.
pub fn not_due_for(delivery: &Delivery, now: DateTime<Utc>) -> Option<Duration> {
    let first = !delivery.attempts.iter().any(|a| a.run == delivery.run);
    first.then(|| wait_until(delivery.next_attempt_at?, now))?
}

/// How long to hold a task that is due at `due`, at most [`LONGEST_SCHEDULED_WAIT`] at once; `None` when
/// it is due now.
pub fn wait_until(due: DateTime<Utc>, now: DateTime<Utc>) -> Option<Duration> {
    let wait = (due - now).to_std().ok()?;
    (!wait.is_zero()).then(|| wait.min(LONGEST_SCHEDULED_WAIT))
}

/// The delivery's endpoint as loaded (`None` when deleted) if a request is to be sent to it, or the
/// decision why not: it may have been deleted or disabled since the alert was accepted.
pub fn sendable_endpoint(endpoint: Option<Endpoint>) -> Result<Endpoint, Decision> {
    let endpoint = endpoint.ok_or_else(|| Decision::Gone {
        reason: "the endpoint was deleted".into(),
    })?;
    match disabled(&endpoint) {
        Some(filter) => Err(Decision::Filtered(filter)),
        None => Ok(endpoint),
    }
}

/// The delivery's alert as loaded (`None` when no longer stored) if `endpoint` is to be sent it, or the
/// decision why not: the message type may have been switched off since the alert was accepted. The
/// severity minimum is judged once, at acceptance ([`filter_reason`]), so raising it does not withdraw
/// deliveries already under way.
pub fn sendable_alert(endpoint: &Endpoint, alert: Option<Alert>) -> Result<Alert, Decision> {
    let alert = alert.ok_or_else(|| Decision::Gone {
        reason: "the alert is no longer stored".into(),
    })?;
    match message_type_off(endpoint, &alert) {
        Some(filter) => Err(Decision::Filtered(filter)),
        None => Ok(alert),
    }
}

/// The delivery waited for its endpoint's open circuit longer than the policy allows.
pub fn circuit_held_too_long() -> Decision {
    Decision::Dead {
        reason: "circuit_open: the endpoint's circuit stayed open longer than a delivery may wait"
            .into(),
    }
}

/// The body template failed to render (e.g. over the size limit): every attempt would fail alike.
pub fn unrenderable() -> Decision {
    Decision::Dead {
        reason: "the body could not be rendered".into(),
    }
}

/// What a sent attempt makes of its delivery: delivered on 2XX; dead on `410 Gone` or when it was the last
/// attempt; otherwise retried after the policy's delay for its number, lengthened by the receiver's
/// `Retry-After`.
pub fn outcome(attempt: &Attempt, retry_after: Option<Duration>, policy: &RetryPolicy) -> Decision {
    if attempt.succeeded() {
        Decision::Delivered
    } else if attempt.is_gone() {
        Decision::Dead {
            reason: "the endpoint answered 410 Gone".into(),
        }
    } else if attempt.number >= MAX_ATTEMPTS {
        all_attempts_failed()
    } else {
        Decision::Retry {
            delay: policy.delay_after(attempt.number, retry_after),
        }
    }
}

fn all_attempts_failed() -> Decision {
    Decision::Dead {
        reason: format!("all {MAX_ATTEMPTS} attempts failed"),
    }
}

#[cfg(test)]
mod tests;
