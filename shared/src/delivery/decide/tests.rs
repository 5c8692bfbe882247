//! The README's delivery rules, one table row each: what the decision says for every outcome.

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
        matchers: Vec::new(),
        secret: None,
        retiring_secrets: Vec::new(),
        verification_token: None,
        ca_pem: None,
        auth: Vec::new(),
        enabled: true,
        disabled_reason: None,
        max_in_flight: 8,
        rate_limit_per_second: None,
        health: EndpointHealth::default(),
        version: 1,
        created_at: at("2026-01-05T09:00:00Z"),
        updated_at: at("2026-01-05T09:00:00Z"),
        fallback_endpoint_id: None,
        captures: Default::default(),
        capture_missing: Default::default(),
        digest: None,
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
        fallback_of: None,
        fallback_delivery_id: None,
        digest_delivery_id: None,
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

#[test]
fn a_first_attempt_scheduled_later_waits_for_it_and_no_other_does() {
    let now = at("2026-01-05T10:00:00Z");
    let mut digest = delivery(0, DeliveryStatus::Pending);
    assert_eq!(not_due_for(&digest, now), None, "nothing scheduled");
    digest.next_attempt_at = Some(at("2026-01-05T10:01:30Z"));
    assert_eq!(not_due_for(&digest, now), Some(Duration::from_secs(90)));
    assert_eq!(
        not_due_for(&digest, at("2026-01-05T10:01:30Z")),
        None,
        "due now"
    );
    // A long wait is held in steps SQS can delay.
    digest.next_attempt_at = Some(at("2026-01-06T10:00:00Z"));
    assert_eq!(
        not_due_for(&digest, now),
        Some(Duration::from_secs(15 * 60))
    );
    // A run with an attempt already waits on the queue for its retry, not here.
    let mut retried = digest.clone();
    let attempt = answered(1, Some(500), Some(ErrorClass::Non2xx));
    retried.attempts.push(attempt);
    assert_eq!(not_due_for(&retried, now), None);
}
