//! Fallback endpoints end to end: a delivery that dies (its attempts spent on 500s, or `410 Gone` at once)
//! reaches the fallback endpoint, rendered with the fallback's own body template and linked both ways;
//! and every refusal (422 on the field at save, 409 on deleting an endpoint still named).

use std::time::{Duration, Instant};

use alertwire_tests::{ApiClient, Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(20);
const FALLBACK_BODY: &str =
    r#"{"via": "fallback", "title": "{{alert_title}}", "standing_in_for": "{{fallback_of}}"}"#;

/// Creates an endpoint to `receiver` with `extra` fields; returns its id.
async fn endpoint(api: &ApiClient, name: &str, receiver: &Receiver, extra: Value) -> String {
    let mut body = json!({"name": name, "url": receiver.url("/hook")});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let view = api.create_endpoint(&body).await;
    view["id"].as_str().unwrap().to_string()
}

/// Creates an endpoint to `receiver` that falls back to `fallback`; returns its id.
async fn falling_back(api: &ApiClient, name: &str, receiver: &Receiver, fallback: &str) -> String {
    endpoint(
        api,
        name,
        receiver,
        json!({"fallback_endpoint_id": fallback}),
    )
    .await
}

/// GIVEN a primary answering `primary_answer` that falls back to an endpoint answering 200 with its own
/// body template: the server, both receivers and the primary's id.
async fn primary_with_fallback(primary_answer: u16) -> (TestServer, Receiver, Receiver, String) {
    let server = TestServer::start().await;
    let primary = Receiver::start(Behaviour::status(primary_answer)).await;
    let backup = Receiver::start(Behaviour::status(200)).await;
    let backup_id = endpoint(
        &server.api,
        "backup",
        &backup,
        json!({"body": FALLBACK_BODY}),
    )
    .await;
    let primary_id = falling_back(&server.api, "primary", &primary, &backup_id).await;
    (server, primary, backup, primary_id)
}

/// WHEN a critical alert is posted: its delivery to `endpoint_id`.
async fn critical_alert_to(server: &TestServer, endpoint_id: &str) -> String {
    let (status, receipt) = server
        .api
        .post(
            "/v1/alerts",
            &json!({"title": "disk full", "severity": "critical"}),
        )
        .await;
    assert_eq!(status, 202, "{receipt}");
    let deliveries = receipt["deliveries"].as_array().unwrap();
    let to_primary = deliveries
        .iter()
        .find(|d| d["endpoint_id"] == endpoint_id)
        .expect("a delivery to the primary");
    to_primary["id"].as_str().unwrap().to_string()
}

/// THEN the dead delivery links to a delivered fallback that links back, in the single read and in the
/// list, and the backup received the alert in its own template; returns the fallback delivery.
async fn assert_fell_back(server: &TestServer, backup: &Receiver, dead_id: &str) -> Value {
    // The link is written just after the death is recorded: wait for both.
    let deadline = Instant::now() + SETTLE;
    let dead = loop {
        let dead = server.api.settled(dead_id, SETTLE).await;
        if !dead["fallback_delivery_id"].is_null() || Instant::now() > deadline {
            break dead;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(dead["status"], "dead", "{dead}");
    let fallback_id = dead["fallback_delivery_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a fallback delivery: {dead}"))
        .to_string();
    let fallback = server.api.settled(&fallback_id, SETTLE).await;
    assert_eq!(fallback["status"], "delivered", "{fallback}");
    assert_eq!(fallback["fallback_of"], dead_id);
    assert_eq!(fallback["alert_id"], dead["alert_id"]);

    // The backup also has the alert's own delivery; the fallback is the request with its webhook-id.
    let received = backup.wait_for(2, SETTLE).await;
    let request = received
        .iter()
        .find(|r| r.header("webhook-id") == Some(fallback_id.as_str()))
        .expect("the backup received the fallback");
    assert_eq!(
        request.json(),
        json!({"via": "fallback", "title": "disk full", "standing_in_for": dead_id})
    );

    let (_, page) = server.api.get("/v1/deliveries?limit=100").await;
    let listed = page["deliveries"].as_array().unwrap();
    let find = |id: &str| listed.iter().find(|d| d["id"] == id).unwrap().clone();
    assert_eq!(find(dead_id)["fallback_delivery_id"], fallback_id);
    assert_eq!(find(&fallback_id)["fallback_of"], dead_id);
    fallback
}

#[tokio::test]
async fn a_delivery_dead_after_ten_500s_reaches_the_fallback_in_its_own_template() {
    let (server, primary, backup, primary_id) = primary_with_fallback(500).await;
    let dead_id = critical_alert_to(&server, &primary_id).await;

    assert_fell_back(&server, &backup, &dead_id).await;
    assert_eq!(
        primary.received().len(),
        10,
        "every attempt was spent first"
    );
}

#[tokio::test]
async fn a_410_gone_reaches_the_fallback_at_once() {
    let (server, primary, backup, primary_id) = primary_with_fallback(410).await;
    let dead_id = critical_alert_to(&server, &primary_id).await;

    assert_fell_back(&server, &backup, &dead_id).await;
    assert_eq!(primary.received().len(), 1);
}

/// The refusal's status, code and field.
async fn refusal(api: &ApiClient, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let (status, answer) = api.call(method, path, Some(body)).await;
    (status, answer["error"].clone())
}

#[tokio::test]
async fn each_bad_fallback_is_refused_naming_the_field_and_nothing_is_written() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let other_tenant = server.tenant("beta").await;
    let theirs = endpoint(&other_tenant, "theirs", &receiver, json!({})).await;
    let c = endpoint(&server.api, "c", &receiver, json!({})).await;
    let b = falling_back(&server.api, "b", &receiver, &c).await;
    // a→b→c: a chain of three is allowed
    let a = falling_back(&server.api, "a", &receiver, &b).await;
    let (_, a_view) = server.api.get(&format!("/v1/endpoints/{a}")).await;
    assert_eq!(a_view["fallback_endpoint_id"], b.as_str());

    let to = |fallback: &str| json!({"name": "x", "url": receiver.url("/hook"), "fallback_endpoint_id": fallback});
    let c_path = format!("/v1/endpoints/{c}");
    let cases = [
        (
            "an unknown id",
            "POST",
            "/v1/endpoints",
            to("ep_nope"),
            "there is no endpoint",
        ),
        (
            "another tenant's",
            "POST",
            "/v1/endpoints",
            to(&theirs),
            "there is no endpoint",
        ),
        ("itself", "PUT", c_path.as_str(), to(&c), "itself"),
        ("a cycle c→a→b→c", "PUT", c_path.as_str(), to(&a), "cycle"),
        (
            "d→a→b→c, four",
            "POST",
            "/v1/endpoints",
            to(&a),
            "at most 3",
        ),
    ];
    for (case, method, path, body, says) in cases {
        let (status, error) = refusal(&server.api, method, path, &body).await;
        assert_eq!(status, 422, "{case}: {error}");
        assert_eq!(error["field"], "fallback_endpoint_id", "{case}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(says), "{case}: {message}");
        assert!(!message.contains("beta"), "{case} leaks nothing: {message}");
    }
    // Nothing was written: three endpoints (a, b and c, none of the refused), c unchanged.
    let (_, list) = server.api.get("/v1/endpoints").await;
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 3);
    let (_, c_view) = server.api.get(&c_path).await;
    assert_eq!(
        (
            c_view["version"].clone(),
            c_view["fallback_endpoint_id"].clone()
        ),
        (json!(1), Value::Null)
    );
}

#[tokio::test]
async fn an_endpoint_named_as_a_fallback_is_not_deleted_while_named() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let backup = endpoint(&server.api, "backup", &receiver, json!({})).await;
    let primary = falling_back(&server.api, "primary", &receiver, &backup).await;

    let (status, answer) = server
        .api
        .call("DELETE", &format!("/v1/endpoints/{backup}"), None)
        .await;
    assert_eq!(status, 409, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&primary),
        "names the endpoint that names it: {message}"
    );
    assert_eq!(
        server.api.get(&format!("/v1/endpoints/{backup}")).await.0,
        200
    );

    // Once the primary no longer names it, it can go.
    let (status, _) = server
        .api
        .call(
            "PUT",
            &format!("/v1/endpoints/{primary}"),
            Some(&json!({"name": "primary", "url": receiver.url("/hook")})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .api
        .call("DELETE", &format!("/v1/endpoints/{backup}"), None)
        .await;
    assert_eq!(status, 204);
}
