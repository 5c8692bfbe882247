//! Operational alerts end to end: `GET/PUT /v1/settings`, a dead delivery and an endpoint disabled by a
//! `410 Gone` told to the operations endpoint's receiver as alerts of `source: "alertwire"`, nothing told
//! about the operations endpoint itself, `endpoint.failing` debounced, and a circuit opening and closing
//! told.

use std::time::Duration;

use alertwire_shared::ids::{EndpointId, TenantId};
use alertwire_shared::service::OperationsEvent;
use alertwire_tests::{ApiClient, Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(20);

async fn endpoint(api: &ApiClient, name: &str, receiver: &Receiver) -> String {
    let view = api
        .create_endpoint(&json!({"name": name, "url": receiver.url("/hook")}))
        .await;
    view["id"].as_str().unwrap().to_string()
}

async fn set_operations(api: &ApiClient, id: &str) {
    let body = json!({"operations_endpoint_id": id});
    let (status, answer) = api.call("PUT", "/v1/settings", Some(&body)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["operations_endpoint_id"], id);
    assert_eq!(answer["default_endpoint_id"], Value::Null);
}

/// The operational alerts the receiver got once it has `n` requests in all (and a moment more for any
/// stray one), with their event names sorted.
async fn told_after(receiver: &Receiver, n: usize) -> (Vec<Value>, Vec<String>) {
    receiver.wait_for(n, SETTLE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let told: Vec<Value> = alerts(receiver)
        .into_iter()
        .filter(|a| a["source"] == "alertwire")
        .collect();
    let mut events: Vec<String> = told
        .iter()
        .map(|a| a["context"]["event"].as_str().unwrap().to_string())
        .collect();
    events.sort();
    (told, events)
}

/// The alerts the receiver got, as their JSON (the default body: the alert's fields).
fn alerts(receiver: &Receiver) -> Vec<Value> {
    receiver.received().iter().map(|r| r.json()).collect()
}

#[tokio::test]
async fn settings_are_read_replaced_and_refused_naming_the_field() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let (status, settings) = server.api.get("/v1/settings").await;
    let defaults = json!({
        "operations_endpoint_id": null,
        "default_endpoint_id": null,
        "retention": {"history_seconds": 30 * 86_400, "dead_letter_seconds": null}
    });
    assert_eq!((status, settings), (200, defaults.clone()));
    // The retention is the operator's, for the whole service: a tenant cannot set it.
    let body = json!({"retention": {"history_seconds": 1}});
    let (status, answer) = server.api.call("PUT", "/v1/settings", Some(&body)).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "retention");

    let beta = server.tenant("beta").await;
    let theirs = endpoint(&beta, "theirs", &receiver).await;
    for id in ["ep_nope", theirs.as_str()] {
        let body = json!({"operations_endpoint_id": id});
        let (status, answer) = server.api.call("PUT", "/v1/settings", Some(&body)).await;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(answer["error"]["field"], "operations_endpoint_id");
    }
    let (_, settings) = server.api.get("/v1/settings").await;
    assert_eq!(settings, defaults, "nothing written");

    let ops = endpoint(&server.api, "ops", &receiver).await;
    set_operations(&server.api, &ops).await;
    let (_, settings) = server.api.get("/v1/settings").await;
    assert_eq!(settings["operations_endpoint_id"], ops.as_str());
    let (_, beta_settings) = beta.get("/v1/settings").await;
    assert_eq!(
        beta_settings["operations_endpoint_id"],
        Value::Null,
        "per tenant"
    );
}

#[tokio::test]
async fn a_410_is_told_to_the_operations_endpoint_as_a_death_and_a_disable() {
    let server = TestServer::start().await;
    let ops_receiver = Receiver::start(Behaviour::status(200)).await;
    let gone_receiver = Receiver::start(Behaviour::status(410)).await;
    let ops = endpoint(&server.api, "ops", &ops_receiver).await;
    set_operations(&server.api, &ops).await;
    let gone = endpoint(&server.api, "gone", &gone_receiver).await;

    server
        .api
        .send_alert(&json!({"title": "disk full", "severity": "high"}))
        .await;

    // ops receives the alert itself, then the two operational alerts about `gone`
    let (told, events) = told_after(&ops_receiver, 3).await;
    assert_eq!(events, ["delivery.dead", "endpoint.disabled"], "{told:?}");
    assert!(
        told.iter()
            .all(|a| a["context"]["endpoint_id"] == gone.as_str())
    );
    // The gone endpoint got the alert once and none of the operational alerts.
    assert_eq!(gone_receiver.received().len(), 1);
}

#[tokio::test]
async fn the_operations_endpoint_failing_tells_nobody() {
    let server = TestServer::start().await;
    let ops_receiver = Receiver::start(Behaviour::status(410)).await;
    let ops = endpoint(&server.api, "ops", &ops_receiver).await;
    set_operations(&server.api, &ops).await;

    let ids = server.api.send_alert(&json!({"title": "disk full"})).await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "dead");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Only the alert itself reached ops: its death and its disable are about ops, so never told.
    assert_eq!(ops_receiver.received().len(), 1);
    let (_, page) = server.api.get("/v1/deliveries?limit=100").await;
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn failing_is_told_once_within_the_hour() {
    let server = TestServer::start().await;
    let ops_receiver = Receiver::start(Behaviour::status(200)).await;
    let pager_receiver = Receiver::start(Behaviour::status(200)).await;
    let ops = endpoint(&server.api, "ops", &ops_receiver).await;
    set_operations(&server.api, &ops).await;
    let pager = endpoint(&server.api, "pager", &pager_receiver).await;

    let tenant = TenantId::from("alpha");
    let failing = || OperationsEvent::EndpointFailing {
        endpoint_id: EndpointId::from(pager.as_str()),
        last_error: Some("timeout".into()),
    };
    let service = &server.server.service;
    assert!(service.notify_operations(&tenant, failing()).await.unwrap());
    assert!(!service.notify_operations(&tenant, failing()).await.unwrap());

    let received = ops_receiver.wait_for(1, SETTLE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ops_receiver.received().len(), 1);
    let told = received[0].json();
    assert_eq!(
        (told["source"].clone(), told["context"]["event"].clone()),
        (json!("alertwire"), json!("endpoint.failing"))
    );
}

#[tokio::test]
async fn a_circuit_that_opens_and_closes_is_told_as_failing_then_recovered() {
    // The test server's breaker: 5 outages in a row open it, the first probe goes after 50 ms.
    let server = TestServer::start().await;
    let ops_receiver = Receiver::start(Behaviour::status(200)).await;
    let flaky_receiver =
        Receiver::scripted(vec![Behaviour::status(503); 5], Behaviour::status(200)).await;
    let ops = endpoint(&server.api, "ops", &ops_receiver).await;
    set_operations(&server.api, &ops).await;
    let flaky = endpoint(&server.api, "flaky", &flaky_receiver).await;

    let ids = server.api.send_alert(&json!({"title": "disk full"})).await;
    for id in &ids {
        assert_eq!(server.api.settled(id, SETTLE).await["status"], "delivered");
    }
    // ops gets the alert itself, then the two operational alerts about `flaky`
    let (told, events) = told_after(&ops_receiver, 3).await;
    assert_eq!(
        events,
        ["endpoint.failing", "endpoint.recovered"],
        "{told:?}"
    );
    assert!(
        told.iter()
            .all(|a| a["context"]["endpoint_id"] == flaky.as_str())
    );
    assert_eq!(
        flaky_receiver.received().len(),
        6,
        "five outages and the probe"
    );
}
