//! Which endpoint gets what: per-message-type requests, switched-off types, the severity filter,
//! "Run the test", and tenants that never see each other.

use std::time::Duration;

use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn each_message_type_gets_its_own_request_and_a_null_type_is_filtered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    server
        .api
        .create_endpoint(&json!({
            "name": "per type",
            "url": receiver.url("/alerts"),
            "body": "{\"text\": \"FIRING {{alert_title}}\"}",
            "message_types": {
                "ok": {"method": "PUT", "url": receiver.url("/alerts/{{incident_key}}/resolve"), "body": "{\"text\": \"RESOLVED {{alert_title}}\"}"},
                "reminder": null
            }
        }))
        .await;
    let error = server
        .api
        .send_alert(&json!({"title": "db down", "incident_key": "db/1"}))
        .await;
    let ok = server
        .api
        .send_alert(&json!({"title": "db down", "incident_key": "db/1", "message_type": "ok"}))
        .await;
    let reminder = server
        .api
        .send_alert(&json!({"title": "db down", "message_type": "reminder"}))
        .await;
    assert_eq!(
        server.api.settled(&error[0], SETTLE).await["status"],
        "delivered"
    );
    assert_eq!(
        server.api.settled(&ok[0], SETTLE).await["status"],
        "delivered"
    );
    let filtered = server.api.delivery(&reminder[0]).await;
    assert_eq!(filtered["status"], "filtered");
    assert!(
        filtered["status_reason"]
            .as_str()
            .unwrap()
            .contains("reminder")
    );

    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let firing = received.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(firing.path, "/alerts");
    assert_eq!(firing.json(), json!({"text": "FIRING db down"}));
    let resolved = received.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(resolved.path, "/alerts/db%2F1/resolve");
    assert_eq!(resolved.json(), json!({"text": "RESOLVED db down"}));
}

#[tokio::test]
async fn alerts_below_the_minimum_severity_are_filtered_and_never_sent() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    server
        .api
        .create_endpoint(
            &json!({"name": "pager", "url": receiver.url("/"), "min_severity": "high"}),
        )
        .await;
    let low = server
        .api
        .send_alert(&json!({"title": "meh", "severity": "low"}))
        .await;
    let critical = server
        .api
        .send_alert(&json!({"title": "fire", "severity": "critical"}))
        .await;
    let filtered = server.api.delivery(&low[0]).await;
    assert_eq!(filtered["status"], "filtered");
    assert!(
        filtered["status_reason"]
            .as_str()
            .unwrap()
            .contains("below")
    );
    assert_eq!(
        server.api.settled(&critical[0], SETTLE).await["status"],
        "delivered"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn a_disabled_endpoint_gets_filtered_deliveries() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    server
        .api
        .create_endpoint(&json!({"name": "off", "url": receiver.url("/"), "enabled": false}))
        .await;
    let ids = server.api.send_alert(&json!({"title": "x"})).await;
    assert_eq!(server.api.delivery(&ids[0]).await["status"], "filtered");
}

#[tokio::test]
async fn run_the_test_shows_the_exact_request_and_the_answer_without_secrets() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::Status(
        201,
        vec![("x-seen".into(), "yes".into())],
        "{\"ok\":true}".into(),
    ))
    .await;
    let view = server
        .api
        .create_endpoint(&json!({
            "name": "tested",
            "url": receiver.url("/test"),
            "headers": {"Authorization": "Bearer sk-live-123", "X-Team": "ops"},
            "verification_token": "tok-secret-42",
            "body": "{\"t\": \"{{alert_title}}\", \"token\": \"{{verification_token}}\"}",
            "secret": "generate"
        }))
        .await;
    let id = view["id"].as_str().unwrap();
    assert_eq!(view["headers"]["Authorization"]["value"], "********");
    let (status, report) = server
        .api
        .post(&format!("/v1/endpoints/{id}/test"), &json!(null))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["request"]["method"], "POST");
    assert_eq!(report["request"]["url"], receiver.url("/test"));
    assert_eq!(report["response"]["status"], 201);
    assert_eq!(report["response"]["body"], "{\"ok\":true}");
    let text = report.to_string();
    assert!(
        !text.contains("sk-live-123") && !text.contains("tok-secret-42"),
        "{text}"
    );
    let request = &receiver.received()[0];
    assert_eq!(request.header("authorization"), Some("Bearer sk-live-123"));
    assert_eq!(request.json()["token"], "tok-secret-42");
    assert_eq!(request.json()["t"], "alertwire test alert");

    let (status, report) = server
        .api
        .post(
            &format!("/v1/endpoints/{id}/test"),
            &json!({"title": "my own", "message_type": "ok"}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        report["request"]["body"]
            .as_str()
            .unwrap()
            .contains("my own")
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = server
        .api
        .create_endpoint(&json!({"name": "nowhere", "url": format!("http://{closed}/")}))
        .await;
    let (status, report) = server
        .api
        .post(
            &format!("/v1/endpoints/{}/test", unreachable["id"].as_str().unwrap()),
            &json!(null),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (report["ok"].as_bool(), report["error"]["class"].as_str()),
        (Some(false), Some("connect"))
    );
}

#[tokio::test]
async fn endpoints_can_be_listed_replaced_with_masked_values_kept_and_deleted() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let created = server
        .api
        .create_endpoint(&json!({"name": "v1", "url": receiver.url("/"), "headers": {"X-Api-Key": "k-123"}, "secret": "generate"}))
        .await;
    let id = created["id"].as_str().unwrap();
    let (status, mut current) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(status, 200);
    current["name"] = json!("v2");
    for field in [
        "id",
        "version",
        "created_at",
        "updated_at",
        "disabled_reason",
    ] {
        current.as_object_mut().unwrap().remove(field);
    }
    let (status, replaced) = server
        .api
        .call("PUT", &format!("/v1/endpoints/{id}"), Some(&current))
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(
        (replaced["name"].as_str(), replaced["version"].as_u64()),
        (Some("v2"), Some(2))
    );
    let ids = server
        .api
        .send_alert(&json!({"title": "after replace"}))
        .await;
    server.api.settled(&ids[0], SETTLE).await;
    let request = &receiver.received()[0];
    assert_eq!(
        request.header("x-api-key"),
        Some("k-123"),
        "the masked header value was kept"
    );
    assert!(
        request.header("webhook-signature").is_some(),
        "the masked secret was kept"
    );
    let (_, list) = server.api.get("/v1/endpoints").await;
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 1);
    assert_eq!(
        server
            .api
            .call("DELETE", &format!("/v1/endpoints/{id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(server.api.get(&format!("/v1/endpoints/{id}")).await.0, 404);
}
