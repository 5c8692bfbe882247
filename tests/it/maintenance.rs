//! Maintenance windows end to end on a real server: the API checks, lists and deletes them; during a
//! window an endpoint's errors are held and its oks sent, and when the window ends the incident that was
//! resolved meanwhile sends only its ok while the one still open is delivered.

use std::time::Duration;

use alertwire_tests::{Behaviour, Receiver, TestServer};
use chrono::Utc;
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn an_incident_resolved_inside_a_window_sends_only_its_ok() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "db", "url": receiver.url("/hook")}))
        .await;
    let endpoint = view["id"].as_str().unwrap();
    let now = Utc::now();
    let end = now + chrono::Duration::seconds(4);
    let (status, window) = server
        .api
        .post(
            "/v1/maintenance-windows",
            &json!({"name": "upgrade", "endpoint_id": endpoint,
                "start": (now - chrono::Duration::minutes(1)).to_rfc3339(), "end": end.to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 201, "{window}");
    let (_, listed) = server.api.get("/v1/maintenance-windows").await;
    assert_eq!(listed["maintenance_windows"][0]["id"], window["id"]);
    assert!(
        listed["maintenance_windows"][0]["open_until"].is_string(),
        "{listed}"
    );

    // WHEN two incidents fail in the window and the first is resolved in it
    let alert = |message_type: &str, key: &str| json!({"title": format!("{key} {message_type}"), "message_type": message_type, "incident_key": key});
    let resolved_error = server.api.send_alert(&alert("error", "db-1")).await;
    let open_error = server.api.send_alert(&alert("error", "db-2")).await;
    let ok = server.api.send_alert(&alert("ok", "db-1")).await;

    // THEN only the ok is sent while the window lasts
    let first = receiver.wait_for(1, SETTLE).await;
    assert_eq!(first[0].json()["title"], "db-1 ok");
    assert_eq!(
        server.api.settled(&ok[0], SETTLE).await["status"],
        "delivered"
    );
    assert!(
        Utc::now() < end,
        "the test took too long to see the window at work"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "an error went out in the window"
    );

    // AND after it, the open incident's error is delivered and the resolved one's filtered
    let sent = receiver.wait_for(2, SETTLE).await;
    assert_eq!(sent[1].json()["title"], "db-2 error");
    assert!(sent[1].at >= first[0].at, "in order");
    let delivered = server.api.settled(&open_error[0], SETTLE).await;
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    assert_eq!(
        delivered["attempts"].as_array().unwrap().len(),
        1,
        "held without an attempt"
    );
    let filtered = server.api.settled(&resolved_error[0], SETTLE).await;
    assert_eq!(filtered["status"], "filtered", "{filtered}");
    assert!(
        filtered["status_reason"]
            .as_str()
            .unwrap()
            .starts_with("maintenance_resolved"),
        "{filtered}"
    );
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn windows_are_checked_field_by_field_and_deleted_once() {
    let server = TestServer::start().await;
    for (body, field) in [
        (
            json!({"start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z"}),
            "name",
        ),
        (
            json!({"name": "x", "start": "2026-12-07T02:00:00Z", "end": "2026-12-06T22:00:00Z"}),
            "end",
        ),
        (
            json!({"name": "x", "recurring": {"time_zone": "Mars/Olympus", "days": ["sat"], "from": "22:00", "to": "02:00"}}),
            "recurring.time_zone",
        ),
        (
            json!({"name": "x", "endpoint_id": "ep_nope", "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z"}),
            "endpoint_id",
        ),
    ] {
        let (status, answer) = server.api.post("/v1/maintenance-windows", &body).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, window) = server
        .api
        .post(
            "/v1/maintenance-windows",
            &json!({"name": "weekends", "recurring":
                {"time_zone": "Europe/Berlin", "days": ["sat", "sun"], "from": "22:00", "to": "06:00"}}),
        )
        .await;
    assert_eq!(status, 201, "{window}");
    assert_eq!(window["recurring"]["time_zone"], "Europe/Berlin");
    let path = format!("/v1/maintenance-windows/{}", window["id"].as_str().unwrap());
    assert_eq!(server.api.delete(&path).await.0, 204);
    let (status, answer) = server.api.delete(&path).await;
    assert_eq!(status, 404, "{answer}");
    let (_, listed) = server.api.get("/v1/maintenance-windows").await;
    assert_eq!(listed["maintenance_windows"], json!([]));
}
