//! Unit tests of incidents across messages on the in-memory wiring, with a tracker on 127.0.0.1 that opens
//! a ticket for each POST and answers its id: the ok goes to the ticket its error opened, waits while the
//! error is pending, and follows the endpoint's rule when a capture is missing.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::*;
use crate::delivery::decide::Disposition;
use crate::service::in_memory::{
    PAST_THE_LIMIT, accepted_delivery, attempted_first, endpoint_at, monday_service, received,
    stored_delivery,
};

fn acme() -> TenantId {
    TenantId::from("acme")
}

/// What the tracker was sent: method and path, in order.
type Seen = Arc<Mutex<Vec<String>>>;

/// A tracker on 127.0.0.1 that answers every request with `answer` (201 and JSON); its port and what it
/// saw.
async fn tracker(answer: Value) -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .fallback(
            |State((seen, answer)): State<(Seen, Value)>, request: Request| async move {
                seen.lock()
                    .unwrap()
                    .push(format!("{} {}", request.method(), request.uri().path()));
                (StatusCode::CREATED, axum::Json(answer)).into_response()
            },
        )
        .with_state((seen.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, seen)
}

/// GIVEN an endpoint opening tickets at the tracker on `port` and resolving them with a PATCH of
/// `/issues/{{captured.ticket_id}}`, with `extra` fields.
async fn ticketing_endpoint(service: &Service, port: u16, extra: Value) -> EndpointId {
    let mut fields = json!({
        "captures": {"ticket_id": "$.id"},
        "message_types": {"ok": {"method": "PATCH",
            "url": format!("http://127.0.0.1:{port}/issues/{{{{captured.ticket_id}}}}")}},
    });
    if let (Some(fields), Some(extra)) = (fields.as_object_mut(), extra.as_object()) {
        fields.extend(extra.clone());
    }
    endpoint_at(service, &acme(), "tracker", port, fields).await
}

/// WHEN an alert of `message_type` for incident `db-1` is accepted: its delivery (the only one).
async fn accepted(service: &Service, message_type: &str) -> DeliveryId {
    let alert = json!({"title": "db down", "message_type": message_type, "incident_key": "db-1"});
    accepted_delivery(service, &acme(), &alert).await
}

/// WHEN the delivery's first task is received and attempted.
async fn attempted(service: &Service, delivery: &DeliveryId) -> Disposition {
    attempted_first(service, &acme(), delivery).await
}

#[tokio::test]
async fn the_ok_resolves_the_ticket_its_error_opened() {
    let service = monday_service();
    let (port, seen) = tracker(json!({"id": "T-17"})).await;
    ticketing_endpoint(&service, port, json!({})).await;

    let error = accepted(&service, "error").await;
    attempted(&service, &error).await;
    let ok = accepted(&service, "ok").await;
    attempted(&service, &ok).await;

    // THEN the error opened the ticket and the ok went to that ticket
    assert_eq!(*seen.lock().unwrap(), ["POST /hook", "PATCH /issues/T-17"]);
    let ok = stored_delivery(&service, &acme(), &ok).await;
    assert_eq!(ok.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn the_ok_waits_while_its_error_is_pending_without_spending_an_attempt() {
    let service = monday_service();
    let (port, seen) = tracker(json!({"id": "T-17"})).await;
    ticketing_endpoint(&service, port, json!({})).await;
    let error = accepted(&service, "error").await;
    let ok = accepted(&service, "ok").await;

    // WHEN the ok comes first THEN it is held, nothing is sent, no attempt is recorded
    let disposition = attempted(&service, &ok).await;
    assert!(
        matches!(disposition, Disposition::Hold(_)),
        "{disposition:?}"
    );
    assert!(seen.lock().unwrap().is_empty());
    let held = stored_delivery(&service, &acme(), &ok).await;
    assert_eq!(
        (held.status, held.attempts.len()),
        (DeliveryStatus::Pending, 0)
    );

    // WHEN the error is delivered THEN the ok goes, to the ticket
    attempted(&service, &error).await;
    attempted(&service, &ok).await;
    assert_eq!(*seen.lock().unwrap(), ["POST /hook", "PATCH /issues/T-17"]);
}

#[tokio::test]
async fn a_missing_capture_skips_the_ok_or_sends_it_without_as_the_endpoint_says() {
    for (rule, expected_status, expected_seen) in [
        ("skip", DeliveryStatus::Filtered, vec!["POST /hook"]),
        (
            "send_without",
            DeliveryStatus::Delivered,
            vec!["POST /hook", "PATCH /issues/"],
        ),
    ] {
        let service = monday_service();
        // GIVEN a tracker whose answer has no id
        let (port, seen) = tracker(json!({"status": "created"})).await;
        ticketing_endpoint(&service, port, json!({"capture_missing": rule})).await;
        let error = accepted(&service, "error").await;
        attempted(&service, &error).await;

        let ok = accepted(&service, "ok").await;
        attempted(&service, &ok).await;

        let ok = stored_delivery(&service, &acme(), &ok).await;
        assert_eq!(ok.status, expected_status, "{rule}");
        assert_eq!(*seen.lock().unwrap(), expected_seen, "{rule}");
        if rule == "skip" {
            let reason = ok.status_reason.unwrap_or_default();
            assert!(
                reason.starts_with("capture_missing: `ticket_id`"),
                "{reason}"
            );
        }
    }
}

#[tokio::test]
async fn an_ok_whose_error_went_dead_follows_the_missing_capture_rule() {
    let service = monday_service();
    let (port, seen) = tracker(json!({"id": "T-17"})).await;
    ticketing_endpoint(&service, port, json!({"capture_missing": "skip"})).await;
    let error = accepted(&service, "error").await;
    // GIVEN the error dead without an answer
    service
        .attempt_delivery(&received(&acme(), &error, 0, PAST_THE_LIMIT))
        .await
        .unwrap();

    let ok = accepted(&service, "ok").await;
    let disposition = attempted(&service, &ok).await;

    // THEN the ok does not wait for it, and is skipped
    assert!(!matches!(disposition, Disposition::Hold(_)));
    let ok = stored_delivery(&service, &acme(), &ok).await;
    assert_eq!(ok.status, DeliveryStatus::Filtered);
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_template_may_name_only_declared_captures() {
    let service = monday_service();
    let body = json!({"name": "tracker", "url": "http://127.0.0.1:9/hook",
        "captures": {"ticket_id": "$.id"},
        "message_types": {"ok": {"url": "http://127.0.0.1:9/issues/{{captured.ticket}}"}}});
    match service.create_endpoint(&acme(), &body).await {
        Err(ServiceError::Input(e)) => {
            assert_eq!(e.field, "message_types.ok.url");
            assert!(
                e.message.contains("`captured.ticket` is not declared"),
                "{}",
                e.message
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let body = json!({"name": "tracker", "url": "http://127.0.0.1:9/hook",
        "captures": {"Ticket": "$.id"}});
    match service.create_endpoint(&acme(), &body).await {
        Err(ServiceError::Input(e)) => assert_eq!(e.field, "captures.Ticket"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(service.list_endpoints(&acme()).await.unwrap().is_empty());
}

#[tokio::test]
async fn endpoints_that_capture_nothing_do_not_wait() {
    let service = monday_service();
    let (port, seen) = tracker(json!({"id": "T-17"})).await;
    endpoint_at(&service, &acme(), "plain", port, json!({})).await;
    let _error = accepted(&service, "error").await;
    let ok = accepted(&service, "ok").await;

    attempted(&service, &ok).await;

    assert_eq!(*seen.lock().unwrap(), ["POST /hook"]);
}
