//! Unit tests of digests in the use cases, on the in-memory wiring with a clock the test moves and a
//! receiver on 127.0.0.1 that keeps every body: a storm sends its first `after` errors one by one and
//! one digest for the rest when the window ends, every alert accounted for; an ok is never folded; the
//! next window starts over.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::delivery::decide::Disposition;
use crate::service::in_memory::{
    answering_receiver, endpoint_at, monday_morning, received, service, stored_deliveries,
    stored_delivery, take_queued_tasks,
};

fn acme() -> TenantId {
    TenantId::from("acme")
}

type Bodies = Arc<Mutex<Vec<Value>>>;

/// A receiver on 127.0.0.1 that answers 200 and keeps each JSON body; its port and the bodies.
async fn receiver() -> (u16, Bodies) {
    let bodies: Bodies = Arc::default();
    let app = Router::new()
        .fallback(
            |State(bodies): State<Bodies>, body: axum::body::Bytes| async move {
                bodies
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                StatusCode::OK
            },
        )
        .with_state(bodies.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, bodies)
}

/// GIVEN a service whose clock the test moves, and an endpoint that sends 3 errors a minute one by one.
async fn storm_endpoint() -> (Service, Arc<ManualClock>, Bodies) {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let (port, bodies) = receiver().await;
    let digest = json!({"digest": {"after": 3, "window_seconds": 60}});
    endpoint_at(&service, &acme(), "pager", port, digest).await;
    (service, clock, bodies)
}

/// WHEN `count` errors titled `<prefix> <n>` are accepted, a second apart.
async fn storm(service: &Service, clock: &ManualClock, prefix: &str, count: usize) {
    for n in 0..count {
        let alert = json!({"title": format!("{prefix} {n}"), "severity": "high",
            "incident_key": format!("{prefix}-{n}")});
        service.accept_alert(&acme(), &alert, None).await.unwrap();
        clock.advance(chrono::Duration::seconds(1));
    }
}

/// Attempts every queued task once; what the queue was told for each.
async fn attempt_queued(service: &Service) -> Vec<Disposition> {
    let mut dispositions = Vec::new();
    for task in take_queued_tasks(service).await {
        let Task::DeliverV1 { delivery_id, .. } = task;
        let received = received(&acme(), &delivery_id, 0, 1);
        dispositions.push(service.attempt_delivery(&received).await.unwrap());
    }
    dispositions
}

fn count(deliveries: &[Delivery], status: DeliveryStatus) -> usize {
    deliveries.iter().filter(|d| d.status == status).count()
}

/// WHEN a storm of three errors folds two of them THEN the digest's id, once the clock is past the time
/// it is due.
async fn due_digest_of_a_storm(service: &Service, clock: &ManualClock) -> DeliveryId {
    storm(service, clock, "disk full", 3).await;
    let digest_id = stored_deliveries(service, &acme())
        .await
        .iter()
        .find_map(|d| d.digest_delivery_id.clone())
        .expect("folded");
    clock.advance(chrono::Duration::seconds(90));
    digest_id
}

#[tokio::test]
async fn a_storm_sends_after_errors_one_by_one_and_one_digest_for_the_rest() {
    let (service, clock, bodies) = storm_endpoint().await;
    storm(&service, &clock, "disk full", 10).await;

    // THEN the first three are queued with the digest; the seven others are filtered, linking to it
    let deliveries = stored_deliveries(&service, &acme()).await;
    let digest: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.digest_delivery_id.is_none() && d.status == DeliveryStatus::Pending)
        .collect();
    assert_eq!(digest.len(), 4, "3 single errors and the digest");
    let folded: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.status == DeliveryStatus::Filtered)
        .collect();
    assert_eq!(folded.len(), 7);
    let digest_id = folded[0].digest_delivery_id.clone().unwrap();
    assert!(folded.iter().all(|d| {
        d.digest_delivery_id.as_ref() == Some(&digest_id)
            && d.status_reason.as_deref().unwrap().starts_with("digest: ")
    }));

    // WHEN the tasks are attempted inside the window THEN the singles go and the digest is held,
    // without an attempt
    let dispositions = attempt_queued(&service).await;
    assert_eq!(
        dispositions
            .iter()
            .filter(|d| matches!(d, Disposition::Hold(_)))
            .count(),
        1,
        "{dispositions:?}"
    );
    assert_eq!(bodies.lock().unwrap().len(), 3);
    let held = deliveries.iter().find(|d| d.id == digest_id).unwrap();
    assert!(held.attempts.is_empty());

    // WHEN the window has ended THEN the digest goes, listing the seven folded alerts in order
    clock.advance(chrono::Duration::seconds(90));
    let received = received(&acme(), &digest_id, 0, 2);
    service.attempt_delivery(&received).await.unwrap();
    let sent = bodies.lock().unwrap().clone();
    assert_eq!(sent.len(), 4);
    let body = &sent[3];
    assert_eq!(body["digest"], true);
    assert_eq!(body["count"], 7);
    let titles: Vec<&str> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (3..10).map(|n| format!("disk full {n}")).collect();
    assert_eq!(titles, expected);
    assert_eq!(body["alerts"][0]["incident_key"], "disk full-3");

    // THEN every alert is accounted for: 3 delivered by themselves, 7 in the delivered digest
    let deliveries = stored_deliveries(&service, &acme()).await;
    assert_eq!(count(&deliveries, DeliveryStatus::Delivered), 4);
    assert_eq!(count(&deliveries, DeliveryStatus::Filtered), 7);
    assert_eq!(count(&deliveries, DeliveryStatus::Pending), 0);
}

#[tokio::test]
async fn oks_are_never_folded_and_the_next_window_starts_over() {
    let (service, clock, _bodies) = storm_endpoint().await;
    storm(&service, &clock, "disk full", 5).await;
    // WHEN oks come in the same window THEN none is folded
    for n in 0..5 {
        let ok = json!({"title": "disk fine", "message_type": "ok", "incident_key": format!("disk full-{n}")});
        service.accept_alert(&acme(), &ok, None).await.unwrap();
    }
    let deliveries = stored_deliveries(&service, &acme()).await;
    assert_eq!(count(&deliveries, DeliveryStatus::Filtered), 2);

    // WHEN the window is over THEN the next errors are sent by themselves again, up to `after`
    clock.advance(chrono::Duration::seconds(60));
    storm(&service, &clock, "cpu hot", 4).await;
    let deliveries = stored_deliveries(&service, &acme()).await;
    let folded: Vec<&Delivery> = deliveries
        .iter()
        .filter(|d| d.status == DeliveryStatus::Filtered)
        .collect();
    assert_eq!(folded.len(), 3, "2 in the first window, 1 in the second");
    let digests: std::collections::BTreeSet<&DeliveryId> = folded
        .iter()
        .filter_map(|d| d.digest_delivery_id.as_ref())
        .collect();
    assert_eq!(digests.len(), 2, "one digest per window");
}

#[tokio::test]
async fn a_digest_nothing_was_folded_into_is_filtered_not_sent() {
    let (service, clock, bodies) = storm_endpoint().await;
    let endpoint = service.list_endpoints(&acme()).await.unwrap().remove(0);
    let counted = crate::digest::WindowCount {
        started_at: clock.now(),
        ends_at: clock.now() + chrono::Duration::seconds(60),
        count: 4,
    };
    let window = counted.digest(&acme(), &endpoint.id);
    let digest_id = window.digest_id.clone();
    let first = json!({"title": "x"});
    let receipt = service.accept_alert(&acme(), &first, None).await.unwrap();
    let alert = service
        .ports
        .alerts
        .get_alert(&acme(), &receipt.alert_id)
        .await
        .unwrap()
        .unwrap();
    // GIVEN a digest made, and the process stopped before its first folded alert was stored
    service
        .make_digest(&endpoint, window, &alert)
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(120));
    let received = received(&acme(), &digest_id, 0, 1);
    service.attempt_delivery(&received).await.unwrap();
    let digest = stored_delivery(&service, &acme(), &digest_id).await;
    assert_eq!(digest.status, DeliveryStatus::Filtered);
    assert!(bodies.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_digest_that_fails_is_retried_then_dead_lettered_like_any_delivery() {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let port = answering_receiver(500).await;
    let digest = json!({"digest": {"after": 1, "window_seconds": 60}});
    endpoint_at(&service, &acme(), "pager", port, digest).await;
    let digest_id = due_digest_of_a_storm(&service, &clock).await;

    // WHEN its first attempt is answered 500 THEN it is retried
    let first = service
        .attempt_delivery(&received(&acme(), &digest_id, 0, 1))
        .await
        .unwrap();
    assert!(matches!(first, Disposition::RetryIn(_)), "{first:?}");
    // WHEN its tenth is answered 500 too THEN it is dead, for the dead-letter queue and a replay
    let last = service
        .attempt_delivery(&received(&acme(), &digest_id, 0, 10))
        .await
        .unwrap();
    assert_eq!(last, Disposition::DeadLetter);
    let dead = stored_delivery(&service, &acme(), &digest_id).await;
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert_eq!(dead.attempts.len(), 2);
}

#[tokio::test]
async fn a_repeated_request_is_not_counted_again_in_the_window() {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let (port, bodies) = receiver().await;
    let digest = json!({"digest": {"after": 2, "window_seconds": 60}});
    endpoint_at(&service, &acme(), "pager", port, digest).await;
    let first = json!({"title": "disk full"});
    // WHEN the first error is sent twice under its Idempotency-Key, then a second error
    for _ in 0..2 {
        service
            .accept_alert(&acme(), &first, Some("k1"))
            .await
            .unwrap();
    }
    let second = json!({"title": "cpu hot"});
    service
        .accept_alert(&acme(), &second, Some("k2"))
        .await
        .unwrap();
    // THEN both are sent by themselves: the repeat did not count as a second error
    let deliveries = stored_deliveries(&service, &acme()).await;
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert_eq!(count(&deliveries, DeliveryStatus::Pending), 2);
    assert!(bodies.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_dead_digest_goes_to_the_fallback_listing_the_same_alerts() {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let (fallback_port, fallback_bodies) = receiver().await;
    let fallback = endpoint_at(&service, &acme(), "backup", fallback_port, json!({})).await;
    let down = answering_receiver(500).await;
    let folding = json!({"digest": {"after": 1, "window_seconds": 60},
        "fallback_endpoint_id": fallback.as_str()});
    endpoint_at(&service, &acme(), "pager", down, folding).await;
    let digest_id = due_digest_of_a_storm(&service, &clock).await;

    // WHEN the digest's last attempt fails THEN it is dead and a delivery of it goes to the fallback
    let last = service
        .attempt_delivery(&received(&acme(), &digest_id, 0, 10))
        .await
        .unwrap();
    assert_eq!(last, Disposition::DeadLetter);
    let dead = stored_delivery(&service, &acme(), &digest_id).await;
    let standing_in = dead.fallback_delivery_id.expect("a fallback delivery");
    service
        .attempt_delivery(&received(&acme(), &standing_in, 0, 1))
        .await
        .unwrap();

    // THEN the fallback, which has no digest of its own, got the default digest of both folded alerts
    let sent = fallback_bodies.lock().unwrap().clone();
    let body = sent.last().expect("the fallback was sent the digest");
    assert_eq!(body["digest"], true, "{body}");
    assert_eq!(body["count"], 2, "{body}");
}
