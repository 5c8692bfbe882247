//! An incident across its messages, end to end on a real server: an endpoint that captures the ticket id
//! its tracker answers the error with sends the incident's ok to that very ticket, and the ok waits for a
//! slow error instead of overtaking it; the PagerDuty preset's resolve waits for its trigger alike.

use std::sync::Arc;
use std::time::Duration;

use alertwire_tests::{ApiClient, Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(20);

/// A tracker on 127.0.0.1: `POST /issues` opens ticket `id` (after `delay`) and answers `{"id": id}`,
/// anything else is answered 200.
async fn tracker(id: &'static str, delay: Duration) -> Receiver {
    Receiver::ruled(Arc::new(move |path: &str, _: &[u8]| {
        if path == "/issues" {
            let answer = json!({"id": id}).to_string();
            if delay.is_zero() {
                Behaviour::Status(201, Vec::new(), answer)
            } else {
                Behaviour::SlowWith(delay, answer)
            }
        } else {
            Behaviour::status(200)
        }
    }))
    .await
}

/// GIVEN an endpoint that opens a ticket for each error and resolves it by its captured id.
async fn ticketing_endpoint(api: &ApiClient, tracker: &Receiver) {
    let (status, view) = api
        .post(
            "/v1/endpoints",
            &json!({
                "name": "tracker",
                "url": tracker.url("/issues"),
                "captures": {"ticket_id": "$.id"},
                "message_types": {"ok": {
                    "method": "PATCH",
                    "url": tracker.url("/issues/{{captured.ticket_id}}"),
                    "body": "{\"state\": \"resolved\", \"title\": \"{{alert_title}}\"}",
                }},
            }),
        )
        .await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["captures"], json!({"ticket_id": "$.id"}));
}

/// WHEN the error and then, straight away, the ok of incident `db-1` are posted: their deliveries.
async fn error_then_ok(api: &ApiClient) -> (String, String) {
    let mut ids = Vec::new();
    for message_type in ["error", "ok"] {
        let alert =
            json!({"title": "db-1 down", "message_type": message_type, "incident_key": "db-1"});
        let (status, receipt) = api.post("/v1/alerts", &alert).await;
        assert_eq!(status, 202, "{receipt}");
        ids.push(receipt["deliveries"][0]["id"].as_str().unwrap().to_string());
    }
    (ids[0].clone(), ids[1].clone())
}

fn method_and_path(received: &[alertwire_tests::Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn the_ok_resolves_the_ticket_its_error_opened() {
    let server = TestServer::start().await;
    let tracker = tracker("T-17", Duration::ZERO).await;
    ticketing_endpoint(&server.api, &tracker).await;

    let (error, ok) = error_then_ok(&server.api).await;

    let received = tracker.wait_for(2, SETTLE).await;
    assert_eq!(
        method_and_path(&received),
        ["POST /issues", "PATCH /issues/T-17"]
    );
    assert_eq!(
        received[1].json(),
        json!({"state": "resolved", "title": "db-1 down"})
    );
    for id in [error, ok] {
        assert_eq!(server.api.settled(&id, SETTLE).await["status"], "delivered");
    }
}

#[tokio::test]
async fn the_ok_waits_for_a_slow_error_instead_of_overtaking_it() {
    let server = TestServer::start().await;
    // Within the test server's 2 s HTTP timeout.
    let slow = Duration::from_millis(1500);
    let tracker = tracker("T-9", slow).await;
    ticketing_endpoint(&server.api, &tracker).await;

    let (_, ok) = error_then_ok(&server.api).await;

    let received = tracker.wait_for(2, SETTLE).await;
    assert_eq!(
        method_and_path(&received),
        ["POST /issues", "PATCH /issues/T-9"]
    );
    assert!(
        received[1].at.duration_since(received[0].at) >= slow,
        "the ok was sent before the error's answer"
    );
    let ok = server.api.settled(&ok, SETTLE).await;
    assert_eq!(ok["status"], "delivered", "{ok}");
    assert_eq!(ok["attempts"].as_array().unwrap().len(), 1, "{ok}");
}

#[tokio::test]
async fn an_undeclared_capture_in_a_template_is_refused_naming_the_field() {
    let server = TestServer::start().await;
    let (status, answer): (u16, Value) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "tracker", "url": "http://127.0.0.1:9/issues",
                "captures": {"ticket_id": "$.id"},
                "message_types": {"reminder": {"url": "http://127.0.0.1:9/issues/{{captured.ticket}}/comments"}}}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["field"], "message_types.reminder.url",
        "{answer}"
    );
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "tracker", "url": "http://127.0.0.1:9/issues",
                "captures": {"ticket_id": "id"}}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "captures.ticket_id", "{answer}");
    let (_, listed) = server.api.get("/v1/endpoints").await;
    assert_eq!(
        listed["endpoints"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
}

#[tokio::test]
async fn the_pagerduty_resolve_waits_for_its_trigger_and_resolves_the_key_it_answered() {
    let server = TestServer::start().await;
    // PagerDuty answers a trigger with the dedup_key it filed the alert under.
    let pagerduty = Receiver::ruled(Arc::new(|_: &str, body: &[u8]| {
        let event: Value = serde_json::from_slice(body).unwrap_or_default();
        if event["event_action"] == "trigger" {
            Behaviour::SlowWith(
                Duration::from_secs(1),
                json!({"status": "success", "message": "Event processed", "dedup_key": "pd-key-1"})
                    .to_string(),
            )
        } else {
            Behaviour::status(202)
        }
    }))
    .await;
    let (status, view) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "pd", "preset": "pagerduty", "url": pagerduty.url("/v2/enqueue"),
                "verification_token": "routing-key-1"}),
        )
        .await;
    assert_eq!(status, 201, "{view}");

    error_then_ok(&server.api).await;

    let received = pagerduty.wait_for(2, SETTLE).await;
    let events: Vec<Value> = received.iter().map(|r| r.json()).collect();
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[1]["event_action"], "resolve");
    assert_eq!(events[1]["dedup_key"], "pd-key-1");
}
