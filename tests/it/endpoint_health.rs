//! Endpoint health: an endpoint answering 410 Gone, or failing every attempt for the configured period,
//! is disabled by itself and says why; its alerts are then `filtered` with that reason; the user
//! re-enables it with a replace.

use std::time::Duration;

use alertwire_shared::endpoint::health::HealthPolicy;
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);

async fn endpoint_view(server: &TestServer, id: &str) -> Value {
    let (status, view) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(status, 200, "{view}");
    view
}

/// Sends the view back with `enabled: true`, as the console's "Enable" does.
async fn re_enable(server: &TestServer, id: &str) -> Value {
    let mut view = endpoint_view(server, id).await;
    view["enabled"] = json!(true);
    let (status, replaced) = server
        .api
        .call("PUT", &format!("/v1/endpoints/{id}"), Some(&view))
        .await;
    assert_eq!(status, 200, "{replaced}");
    replaced
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_its_next_alerts_are_filtered() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(410)).await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "retired", "url": receiver.url("/")}))
        .await;
    let id = view["id"].as_str().unwrap();

    let first = server.api.send_alert(&json!({"title": "one"})).await;
    let delivery = server.api.settled(&first[0], SETTLE).await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    assert_eq!(receiver.received().len(), 1, "410 is not retried");

    let view = endpoint_view(&server, id).await;
    assert_eq!(view["enabled"], false, "{view}");
    let reason = view["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("410 Gone"), "{reason}");
    assert_eq!(view["health"]["failure_streak"], 1);

    let second = server.api.send_alert(&json!({"title": "two"})).await;
    let delivery = server.api.settled(&second[0], SETTLE).await;
    assert_eq!(delivery["status"], "filtered");
    let filtered_because = delivery["status_reason"].as_str().unwrap();
    assert!(
        filtered_because.contains("disabled") && filtered_because.contains("410 Gone"),
        "{filtered_because}"
    );
    assert_eq!(receiver.received().len(), 1, "nothing sent while disabled");

    receiver.set(Behaviour::status(200));
    let enabled = re_enable(&server, id).await;
    assert_eq!(
        (&enabled["enabled"], &enabled["disabled_reason"]),
        (&json!(true), &Value::Null)
    );
    assert_eq!(
        endpoint_view(&server, id).await["health"]["failure_streak"],
        0,
        "re-enabling clears the streak that disabled it"
    );
    let third = server.api.send_alert(&json!({"title": "three"})).await;
    let delivery = server.api.settled(&third[0], SETTLE).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
}

#[tokio::test]
async fn an_endpoint_failing_for_the_whole_period_is_disabled() {
    let server = TestServer::with(|config| {
        config.health = HealthPolicy::parse("1s").unwrap();
        config.retry =
            alertwire_shared::delivery::retry_policy::RetryPolicy::parse("300ms").unwrap();
    })
    .await;
    let receiver = Receiver::start(Behaviour::status(503)).await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "down", "url": receiver.url("/")}))
        .await;
    let id = view["id"].as_str().unwrap();

    let ids = server.api.send_alert(&json!({"title": "outage"})).await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    let view = endpoint_view(&server, id).await;
    assert_eq!(view["enabled"], false, "{view}");
    let reason = view["disabled_reason"].as_str().unwrap();
    assert!(reason.starts_with("every attempt failed since"), "{reason}");
    // Attempts at least 300 ms apart: the endpoint is off after about 1 s, before the tenth attempt.
    let attempts = delivery["attempts"].as_array().unwrap().len();
    assert!((2..10).contains(&attempts), "{attempts} attempts");
    assert_eq!(delivery["status"], "filtered", "{delivery}");
    assert!(
        delivery["status_reason"]
            .as_str()
            .unwrap()
            .contains("every attempt failed"),
        "{delivery}"
    );
}

#[tokio::test]
async fn a_success_ends_the_failure_streak() {
    let server = TestServer::start().await;
    let receiver = Receiver::scripted(
        vec![Behaviour::status(500), Behaviour::status(502)],
        Behaviour::status(200),
    )
    .await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "recovers", "url": receiver.url("/")}))
        .await;
    let id = view["id"].as_str().unwrap();
    let ids = server.api.send_alert(&json!({"title": "blip"})).await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    let view = endpoint_view(&server, id).await;
    assert_eq!(view["enabled"], true);
    assert_eq!(
        view["health"],
        json!({
            "failure_streak": 0, "failing_since": null, "last_failure_at": null, "slowed_until": null,
            "circuit": {"state": "closed", "since": null, "probe_at": null, "outage_streak": 0, "last_error": null},
        })
    );
}

#[tokio::test]
async fn disabling_by_hand_says_so_and_keeps_alerts_out() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "paused", "url": receiver.url("/"), "enabled": false}))
        .await;
    assert_eq!(view["disabled_reason"], "disabled by the user");
    let ids = server.api.send_alert(&json!({"title": "x"})).await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "filtered");
    assert!(receiver.received().is_empty());
}
