//! The delivery decision, as pure functions: whether a delivery is `filtered` rather than sent, whether a
//! received task still leads to an attempt, and what an attempt's result makes of the delivery and of
//! its task. No I/O and no clock: `service::attempt` loads, sends and records around these.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use super::{Attempt, Delivery, DeliveryStatus};
use crate::alert::{Alert, MessageType, Severity};
use crate::endpoint::{Endpoint, Route};

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
    } else if attempt.status_code == Some(410) {
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
mod tests {
    use super::*;
    use crate::delivery::ErrorClass;
    use crate::delivery::retry_policy::RETRY_AFTER_CAP;
    use crate::endpoint::health::EndpointHealth;
    use crate::endpoint::{HttpMethod, MessageRoutes};
    use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// An enabled endpoint that sends every message type and every severity.
    fn endpoint() -> Endpoint {
        Endpoint {
            id: EndpointId::from("ep_1"),
            tenant: TenantId::from("acme"),
            name: "pager".into(),
            url: "https://example.com/hook".into(),
            method: HttpMethod::Post,
            headers: Vec::new(),
            content_type: "application/json".into(),
            body: "{}".into(),
            min_severity: Severity::Info,
            message_types: MessageRoutes {
                error: Route::Default,
                reminder: Route::Default,
                ok: Route::Default,
            },
            secret: None,
            retiring_secrets: Vec::new(),
            verification_token: None,
            enabled: true,
            disabled_reason: None,
            health: EndpointHealth::default(),
            version: 1,
            created_at: at("2026-01-05T09:00:00Z"),
            updated_at: at("2026-01-05T09:00:00Z"),
        }
    }

    fn alert(severity: Severity, message_type: MessageType) -> Alert {
        let mut content =
            crate::alert::AlertContent::from_json(&serde_json::json!({"title": "cpu"})).unwrap();
        content.severity = severity;
        content.message_type = message_type;
        content.into_alert(
            AlertId::from("al_1"),
            TenantId::from("acme"),
            at("2026-01-05T10:00:00Z"),
        )
    }

    fn disabled_by_owner(mut e: Endpoint) -> Endpoint {
        e.enabled = false;
        e
    }

    fn disabled_by_alertwire(mut e: Endpoint) -> Endpoint {
        e.enabled = false;
        e.disabled_reason = Some("the endpoint answered 410 Gone".into());
        e
    }

    fn min_severity(minimum: Severity) -> impl Fn(Endpoint) -> Endpoint {
        move |mut e| {
            e.min_severity = minimum;
            e
        }
    }

    fn ok_switched_off(mut e: Endpoint) -> Endpoint {
        e.message_types.ok = Route::Off;
        e
    }

    fn filtered(reason: &str) -> Option<String> {
        Some(reason.to_string())
    }

    #[test]
    fn filter_rules_at_acceptance() {
        use MessageType::{Error, Ok};
        use Severity::{High, Info, Medium};
        type Given = Box<dyn Fn(Endpoint) -> Endpoint>;
        let rows: Vec<(&str, Given, Alert, Option<String>)> = vec![
            (
                "GIVEN an enabled endpoint WHEN an info error THEN sent",
                Box::new(|e| e),
                alert(Info, Error),
                None,
            ),
            (
                "GIVEN an endpoint its owner disabled THEN filtered, saying so",
                Box::new(disabled_by_owner),
                alert(High, Error),
                filtered("the endpoint is disabled"),
            ),
            (
                "GIVEN an endpoint alertwire disabled THEN filtered with alertwire's reason",
                Box::new(disabled_by_alertwire),
                alert(High, Error),
                filtered("the endpoint is disabled: the endpoint answered 410 Gone"),
            ),
            (
                "GIVEN min_severity high WHEN a medium alert THEN filtered",
                Box::new(min_severity(High)),
                alert(Medium, Error),
                filtered("severity medium is below the endpoint's minimum high"),
            ),
            (
                "GIVEN min_severity high WHEN a high alert THEN sent",
                Box::new(min_severity(High)),
                alert(High, Error),
                None,
            ),
            (
                "GIVEN `ok` messages switched off WHEN an ok alert THEN filtered",
                Box::new(ok_switched_off),
                alert(Info, Ok),
                filtered("the endpoint sends nothing for `ok` messages"),
            ),
            (
                "GIVEN `ok` messages switched off WHEN an error alert THEN sent",
                Box::new(ok_switched_off),
                alert(Info, Error),
                None,
            ),
            (
                "GIVEN disabled and a minimum WHEN an alert below it THEN the disabling is the reason",
                Box::new(|e| disabled_by_owner(min_severity(High)(e))),
                alert(Info, Error),
                filtered("the endpoint is disabled"),
            ),
        ];
        for (row, given, alert, then) in rows {
            let reason = filter_reason(&given(endpoint()), &alert).map(|f| f.reason());
            assert_eq!(reason, then, "{row}");
        }
    }

    fn delivery(run: u32, status: DeliveryStatus) -> Delivery {
        Delivery {
            id: DeliveryId::from("dl_1"),
            tenant: TenantId::from("acme"),
            alert_id: AlertId::from("al_1"),
            endpoint_id: EndpointId::from("ep_1"),
            message_type: MessageType::Error,
            status,
            status_reason: None,
            run,
            attempts: Vec::new(),
            next_attempt_at: None,
            created_at: at("2026-01-05T10:00:00Z"),
            updated_at: at("2026-01-05T10:00:00Z"),
        }
    }

    #[test]
    fn a_task_concerns_only_the_current_run_of_a_pending_delivery() {
        let rows = [
            (
                "GIVEN pending in run 0 WHEN a task of run 0 THEN current",
                delivery(0, DeliveryStatus::Pending),
                0,
                true,
            ),
            (
                "GIVEN a resend started run 1 WHEN a task of run 0 THEN stale",
                delivery(1, DeliveryStatus::Pending),
                0,
                false,
            ),
            (
                "GIVEN already delivered WHEN a task of its run THEN stale",
                delivery(0, DeliveryStatus::Delivered),
                0,
                false,
            ),
            (
                "GIVEN already dead WHEN a task of its run THEN stale",
                delivery(0, DeliveryStatus::Dead),
                0,
                false,
            ),
            (
                "GIVEN already filtered WHEN a task of its run THEN stale",
                delivery(0, DeliveryStatus::Filtered),
                0,
                false,
            ),
        ];
        for (row, delivery, run, then) in rows {
            assert_eq!(is_current(&delivery, run), then, "{row}");
        }
    }

    #[test]
    fn past_the_tenth_receive_the_delivery_is_dead() {
        assert_eq!(
            past_attempt_limit(1),
            None,
            "the first receive is attempted"
        );
        assert_eq!(
            past_attempt_limit(MAX_ATTEMPTS),
            None,
            "the tenth receive is attempted"
        );
        let eleventh = past_attempt_limit(MAX_ATTEMPTS + 1).unwrap();
        assert_eq!(eleventh.reason().as_deref(), Some("all 10 attempts failed"));
        assert_eq!(eleventh.status(), DeliveryStatus::Dead);
        assert_eq!(eleventh.disposition(), Disposition::DeadLetter);
    }

    #[test]
    fn rules_before_sending() {
        use MessageType::Error;
        use Severity::{Info, Medium};
        let e = endpoint();
        let owner_disabled = disabled_by_owner(endpoint());
        let ok_off = ok_switched_off(endpoint());
        let minimum_raised = min_severity(Severity::High)(endpoint());
        let (info_error, info_ok, medium_error) = (
            alert(Info, Error),
            alert(Info, MessageType::Ok),
            alert(Medium, Error),
        );
        let gone = |reason: &str| -> Result<(), Decision> {
            Err(Decision::Gone {
                reason: reason.into(),
            })
        };
        let rows = [
            (
                "GIVEN endpoint and alert stored THEN send",
                Some(&e),
                Some(&info_error),
                Ok(()),
            ),
            (
                "GIVEN the endpoint deleted THEN dead, the task ends",
                None,
                Some(&info_error),
                gone("the endpoint was deleted"),
            ),
            (
                "GIVEN the endpoint disabled since THEN filtered",
                Some(&owner_disabled),
                Some(&info_error),
                Err(Decision::Filtered(FilterReason::Disabled { why: None })),
            ),
            (
                "GIVEN the alert no longer stored THEN dead, the task ends",
                Some(&e),
                None,
                gone("the alert is no longer stored"),
            ),
            (
                "GIVEN disabled and the alert gone THEN filtered (the endpoint is judged first)",
                Some(&owner_disabled),
                None,
                Err(Decision::Filtered(FilterReason::Disabled { why: None })),
            ),
            (
                "GIVEN its message type switched off since THEN filtered",
                Some(&ok_off),
                Some(&info_ok),
                Err(Decision::Filtered(FilterReason::MessageTypeOff(
                    MessageType::Ok,
                ))),
            ),
            (
                "GIVEN min_severity raised since acceptance THEN still sent",
                Some(&minimum_raised),
                Some(&medium_error),
                Ok(()),
            ),
        ];
        for (row, endpoint, alert, then) in rows {
            let sendable = sendable_endpoint(endpoint.cloned())
                .and_then(|endpoint| sendable_alert(&endpoint, alert.cloned()));
            assert_eq!(sendable.map(|_| ()), then, "{row}");
        }
    }

    fn answered(number: u32, status_code: Option<u16>, error_class: Option<ErrorClass>) -> Attempt {
        Attempt {
            status_code,
            error_class,
            ..Attempt::unsent(at("2026-01-05T10:00:00Z")).numbered(number, 0)
        }
    }

    fn retry(secs: u64) -> Decision {
        Decision::Retry {
            delay: Duration::from_secs(secs),
        }
    }

    fn dead(reason: &str) -> Decision {
        Decision::Dead {
            reason: reason.into(),
        }
    }

    #[test]
    fn outcome_rules() {
        use ErrorClass::{Connect, Non2xx, Redirect, Timeout, Tls};
        let policy = RetryPolicy::parse("5s,30s,2m").unwrap();
        let secs = Duration::from_secs;
        let rows = [
            (
                "GIVEN attempt 1 WHEN answered 200 THEN delivered",
                answered(1, Some(200), None),
                None,
                Decision::Delivered,
            ),
            (
                "GIVEN attempt 1 WHEN answered 204 THEN delivered",
                answered(1, Some(204), None),
                None,
                Decision::Delivered,
            ),
            (
                "GIVEN attempt 10 WHEN answered 299 THEN delivered",
                answered(10, Some(299), None),
                None,
                Decision::Delivered,
            ),
            (
                "GIVEN attempt 1 WHEN 200 but the body broke off THEN retried",
                answered(1, Some(200), Some(Connect)),
                None,
                retry(5),
            ),
            (
                "GIVEN attempt 1 WHEN answered 301 (never followed) THEN retried",
                answered(1, Some(301), Some(Redirect)),
                None,
                retry(5),
            ),
            (
                "GIVEN attempt 2 WHEN answered 400 THEN retried after the second delay",
                answered(2, Some(400), Some(Non2xx)),
                None,
                retry(30),
            ),
            (
                "GIVEN attempt 3 WHEN answered 503 THEN retried after the third delay",
                answered(3, Some(503), Some(Non2xx)),
                None,
                retry(120),
            ),
            (
                "GIVEN attempt 4 WHEN answered 500 THEN the last delay repeats",
                answered(4, Some(500), Some(Non2xx)),
                None,
                retry(120),
            ),
            (
                "GIVEN attempt 1 WHEN timed out THEN retried",
                answered(1, None, Some(Timeout)),
                None,
                retry(5),
            ),
            (
                "GIVEN attempt 1 WHEN the connection failed THEN retried",
                answered(1, None, Some(Connect)),
                None,
                retry(5),
            ),
            (
                "GIVEN attempt 1 WHEN TLS failed THEN retried",
                answered(1, None, Some(Tls)),
                None,
                retry(5),
            ),
            (
                "GIVEN attempt 1 WHEN answered 410 THEN dead at once",
                answered(1, Some(410), Some(Non2xx)),
                None,
                dead("the endpoint answered 410 Gone"),
            ),
            (
                "GIVEN attempt 9 WHEN answered 500 THEN retried once more",
                answered(9, Some(500), Some(Non2xx)),
                None,
                retry(120),
            ),
            (
                "GIVEN attempt 10 WHEN answered 500 THEN dead",
                answered(10, Some(500), Some(Non2xx)),
                None,
                dead("all 10 attempts failed"),
            ),
            (
                "GIVEN attempt 10 WHEN answered 429 with Retry-After THEN dead all the same",
                answered(10, Some(429), Some(Non2xx)),
                Some(secs(60)),
                dead("all 10 attempts failed"),
            ),
            (
                "GIVEN attempt 1 WHEN 429 with Retry-After 60 THEN the wait lengthens",
                answered(1, Some(429), Some(Non2xx)),
                Some(secs(60)),
                retry(60),
            ),
            (
                "GIVEN attempt 3 WHEN 503 with Retry-After 1 THEN never shorter than the schedule",
                answered(3, Some(503), Some(Non2xx)),
                Some(secs(1)),
                retry(120),
            ),
            (
                "GIVEN attempt 1 WHEN 503 with Retry-After 10 days THEN capped at 6 h",
                answered(1, Some(503), Some(Non2xx)),
                Some(secs(10 * 86_400)),
                Decision::Retry {
                    delay: RETRY_AFTER_CAP,
                },
            ),
        ];
        for (row, attempt, retry_after, then) in rows {
            assert_eq!(outcome(&attempt, retry_after, &policy), then, "{row}");
        }
    }

    #[test]
    fn each_decision_is_recorded_and_queued_as_the_rules_say() {
        let now = at("2026-01-05T10:00:00Z");
        let rows = [
            (
                "delivered: done",
                Decision::Delivered,
                DeliveryStatus::Delivered,
                None,
                Disposition::Done,
            ),
            (
                "retry: pending, back after the delay",
                retry(30),
                DeliveryStatus::Pending,
                None,
                Disposition::RetryIn(Duration::from_secs(30)),
            ),
            (
                "dead: a dead letter",
                dead("the endpoint answered 410 Gone"),
                DeliveryStatus::Dead,
                Some("the endpoint answered 410 Gone"),
                Disposition::DeadLetter,
            ),
            (
                "unrenderable: a dead letter",
                unrenderable(),
                DeliveryStatus::Dead,
                Some("the body could not be rendered"),
                Disposition::DeadLetter,
            ),
            (
                "gone: dead, the task ends",
                Decision::Gone {
                    reason: "the endpoint was deleted".into(),
                },
                DeliveryStatus::Dead,
                Some("the endpoint was deleted"),
                Disposition::Done,
            ),
            (
                "filtered: the task ends",
                Decision::Filtered(FilterReason::MessageTypeOff(MessageType::Reminder)),
                DeliveryStatus::Filtered,
                Some("the endpoint sends nothing for `reminder` messages"),
                Disposition::Done,
            ),
        ];
        for (row, decision, status, reason, disposition) in rows {
            assert_eq!(decision.status(), status, "{row}");
            assert_eq!(decision.reason().as_deref(), reason, "{row}");
            assert_eq!(decision.disposition(), disposition, "{row}");
        }
        assert_eq!(
            retry(30).next_attempt_at(now),
            Some(at("2026-01-05T10:00:30Z")),
            "a retry is due its delay after the decision"
        );
        assert_eq!(Decision::Delivered.next_attempt_at(now), None);
    }
}
