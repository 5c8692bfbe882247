//! Tenants are isolated on every route: another tenant's key gets 404 (or an empty list) for each of
//! alpha's endpoints, deliveries and dead letters, and nothing of alpha's changes. The route table of
//! the API is read from its OpenAPI document, so a route added later without a case here fails this test.

use std::time::Duration;

use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);

/// Every route path the router serves: the paths of the repository's `openapi.json`, which a unit test keeps
/// equal to the document the router is built with.
fn declared_routes() -> Vec<String> {
    let document: Value =
        serde_json::from_str(include_str!("../../openapi.json")).expect("openapi.json is JSON");
    let routes: Vec<String> = document["paths"]
        .as_object()
        .expect("the document's paths")
        .keys()
        .cloned()
        .collect();
    assert!(
        routes.len() >= 10,
        "the route table was not found: {routes:?}"
    );
    routes
}

#[tokio::test]
async fn another_tenants_key_finds_nothing_on_any_route() {
    let server = TestServer::start().await;
    let beta = server.tenant("beta").await;
    let ok = Receiver::start(Behaviour::status(200)).await;
    let failing = Receiver::start(Behaviour::status(500)).await;
    let endpoint = server
        .api
        .create_endpoint(&json!({"name": "alpha's", "url": ok.url("/"), "secret": "generate"}))
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let doomed = server
        .api
        .create_endpoint(&json!({"name": "alpha's failing", "url": failing.url("/")}))
        .await;
    let doomed_id = doomed["id"].as_str().unwrap().to_string();
    let (_, receipt) = server
        .api
        .post("/v1/alerts", &json!({"title": "alpha only"}))
        .await;
    let alert_id = receipt["id"].as_str().unwrap().to_string();
    let ids: Vec<String> = receipt["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    let mut dead_id = None;
    for id in &ids {
        if server.api.settled(id, SETTLE).await["status"] == "dead" {
            dead_id = Some(id.clone());
        }
    }
    let (_, dead_letters) = server.api.get("/v1/dead-letters").await;
    assert_eq!(
        dead_letters["dead_letters"].as_array().map(Vec::len),
        Some(1),
        "alpha has one dead letter: {dead_letters}"
    );
    // A second key of alpha's, so that revoking one would not be refused as alpha's last.
    TestServer::add_key(&server.server, "alpha").await;
    let (_, alpha_keys) = server.api.get("/v1/keys").await;
    let alpha_key_id = alpha_keys["keys"][0]["id"].as_str().unwrap().to_string();
    // A maintenance window of alpha's, open, over its endpoint.
    let now = chrono::Utc::now();
    let (status, window) = server
        .api
        .post(
            "/v1/maintenance-windows",
            &json!({"name": "alpha's", "endpoint_id": endpoint_id,
                "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end": (now + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 201, "{window}");
    let window_id = window["id"].as_str().unwrap().to_string();
    let before = alpha_state(&server, &endpoint_id).await;

    let betas_receiver = Receiver::start(Behaviour::status(200)).await;
    let stolen = json!({"name": "stolen", "url": ok.url("/")});
    let cases: Vec<(&str, String, Value, u16)> = vec![
        ("GET", "/healthz".into(), Value::Null, 200),
        ("GET", "/openapi.json".into(), Value::Null, 200),
        (
            "GET",
            format!("/v1/endpoints/{endpoint_id}"),
            Value::Null,
            404,
        ),
        (
            "PUT",
            format!("/v1/endpoints/{endpoint_id}"),
            stolen.clone(),
            404,
        ),
        (
            "DELETE",
            format!("/v1/endpoints/{endpoint_id}"),
            Value::Null,
            404,
        ),
        (
            "POST",
            format!("/v1/endpoints/{endpoint_id}/test"),
            Value::Null,
            404,
        ),
        (
            "POST",
            format!("/v1/endpoints/{endpoint_id}/rotate-secret"),
            Value::Null,
            404,
        ),
        (
            "GET",
            format!("/v1/endpoints/{endpoint_id}/stats"),
            Value::Null,
            404,
        ),
        // Stateless for any tenant: the catalogue, and checking or testing a definition beta gives.
        ("GET", "/v1/catalogue".into(), Value::Null, 200),
        ("POST", "/v1/endpoints/validate".into(), stolen.clone(), 200),
        (
            "POST",
            "/v1/endpoints/test".into(),
            json!({"endpoint": {"name": "beta's draft", "url": betas_receiver.url("/")}}),
            200,
        ),
        // beta's own settings: empty, and alpha's endpoint is unknown to them.
        ("GET", "/v1/settings".into(), Value::Null, 200),
        (
            "PUT",
            "/v1/settings".into(),
            json!({"operations_endpoint_id": endpoint_id}),
            422,
        ),
        (
            "PUT",
            "/v1/settings".into(),
            json!({"default_endpoint_id": endpoint_id}),
            422,
        ),
        // alpha's alert is unknown to beta, and so are alpha's endpoints to beta's route test.
        ("GET", format!("/v1/alerts/{alert_id}"), Value::Null, 404),
        (
            "POST",
            "/v1/routing/test".into(),
            json!({"title": "x", "endpoints": [endpoint_id]}),
            422,
        ),
        (
            "GET",
            format!("/v1/deliveries/{}", ids[0]),
            Value::Null,
            404,
        ),
        (
            "POST",
            format!("/v1/deliveries/{}/resend", ids[0]),
            Value::Null,
            404,
        ),
        // beta's own keys (alpha's are not among them), and alpha's key id is unknown to beta.
        ("GET", "/v1/keys".into(), Value::Null, 200),
        (
            "DELETE",
            format!("/v1/keys/{alpha_key_id}"),
            Value::Null,
            404,
        ),
        // alpha's window is unknown to beta, and beta cannot put one over alpha's endpoint.
        (
            "DELETE",
            format!("/v1/maintenance-windows/{window_id}"),
            Value::Null,
            404,
        ),
        (
            "POST",
            "/v1/maintenance-windows".into(),
            json!({"name": "stolen", "endpoint_id": endpoint_id,
                "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z"}),
            422,
        ),
    ];
    for (method, path, body, expected) in &cases {
        let body = Some(body).filter(|b| !b.is_null());
        let (status, answer) = beta.call(method, path, body).await;
        assert_eq!(status, *expected, "{method} {path}: {answer}");
    }
    let (_, betas_keys) = beta.get("/v1/keys").await;
    assert_eq!(
        betas_keys["keys"].as_array().map(Vec::len),
        Some(1),
        "{betas_keys}"
    );
    assert!(!betas_keys.to_string().contains(&alpha_key_id));
    // The console's files are public and the same for everyone: they hold no tenant's data.
    let console_files = ["/console", "/console/", "/console/main.js"];
    let http = alertwire_tests::http_client(std::time::Duration::from_secs(10));
    for path in console_files {
        let response = http
            .get(format!("{}{path}", server.api.base))
            .bearer_auth(&beta.key)
            .send()
            .await
            .expect("an answer");
        assert!(
            response.status().is_success() || response.status().is_redirection(),
            "GET {path}: {}",
            response.status()
        );
        let text = response.text().await.expect("a body");
        assert!(!text.contains(&endpoint_id), "GET {path}");
    }
    let empty_lists = [
        ("/v1/endpoints", "endpoints"),
        ("/v1/deliveries", "deliveries"),
        (
            &*format!("/v1/deliveries?endpoint_id={endpoint_id}"),
            "deliveries",
        ),
        (
            &*format!("/v1/deliveries?alert_id={alert_id}"),
            "deliveries",
        ),
        ("/v1/dead-letters", "dead_letters"),
        ("/v1/alerts/unrouted", "alerts"),
        ("/v1/maintenance-windows", "maintenance_windows"),
        (
            &*format!("/v1/dead-letters?endpoint_id={doomed_id}"),
            "dead_letters",
        ),
    ];
    for (path, field) in empty_lists {
        let (status, list) = beta.get(path).await;
        assert_eq!(
            (status, &list[field]),
            (200, &json!([])),
            "GET {path}: {list}"
        );
    }
    for selection in [
        json!({}),
        json!({"ids": [dead_id.clone().expect("a dead delivery")]}),
        json!({"endpoint_id": doomed_id}),
    ] {
        let (status, replay) = beta.post("/v1/dead-letters/replay", &selection).await;
        assert_eq!(
            (status, &replay["replayed"]),
            (200, &json!(0)),
            "{selection}: {replay}"
        );
    }
    // beta's alerts, in every format, reach none of alpha's endpoints.
    let (status, receipt) = beta.post("/v1/alerts", &json!({"title": "beta"})).await;
    assert_eq!((status, &receipt["deliveries"]), (202, &json!([])));
    for (path, payload) in [
        (
            "/v1/alerts/alertmanager",
            include_str!("../fixtures/alertmanager/firing.json"),
        ),
        (
            "/v1/alerts/grafana",
            include_str!("../fixtures/grafana/firing.json"),
        ),
    ] {
        let payload: Value = serde_json::from_str(payload).expect("a fixture");
        let (status, receipt) = beta.post(path, &payload).await;
        assert_eq!(status, 202, "{path}: {receipt}");
        let alerts = receipt["alerts"].as_array().expect("alerts");
        assert!(!alerts.is_empty());
        for alert in alerts {
            assert_eq!(alert["deliveries"], json!([]), "{path}: {receipt}");
        }
    }

    assert_eq!(
        alpha_state(&server, &endpoint_id).await,
        before,
        "nothing of alpha's changed"
    );
    assert_eq!(ok.received().len(), 1);
    assert_eq!(
        betas_receiver.received().len(),
        1,
        "beta's test went to beta's URL"
    );

    let tried: Vec<&str> = cases
        .iter()
        .map(|(_, path, _, _)| path.as_str())
        .chain(empty_lists.iter().map(|(path, _)| *path))
        .chain(console_files)
        .chain([
            "/v1/dead-letters/replay",
            "/v1/alerts",
            "/v1/alerts/alertmanager",
            "/v1/alerts/grafana",
        ])
        .collect();
    for route in declared_routes() {
        let pattern: Vec<&str> = route.split('/').collect();
        let covered = tried.iter().any(|path| {
            let path = path.split('?').next().unwrap();
            let parts: Vec<&str> = path.split('/').collect();
            parts.len() == pattern.len()
                && parts
                    .iter()
                    .zip(&pattern)
                    .all(|(part, want)| want.starts_with('{') || part == want)
        });
        assert!(covered, "the route {route} has no case in this test");
    }
}

/// Everything alpha can read: its endpoints, deliveries, dead letters, keys and maintenance windows.
async fn alpha_state(server: &TestServer, endpoint_id: &str) -> Value {
    let (_, endpoint) = server
        .api
        .get(&format!("/v1/endpoints/{endpoint_id}"))
        .await;
    let (_, endpoints) = server.api.get("/v1/endpoints").await;
    let (_, deliveries) = server.api.get("/v1/deliveries").await;
    let (_, dead_letters) = server.api.get("/v1/dead-letters").await;
    let (_, keys) = server.api.get("/v1/keys").await;
    let (_, windows) = server.api.get("/v1/maintenance-windows").await;
    let windows: Vec<Value> = windows["maintenance_windows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| json!([w["id"], w["name"], w["endpoint_id"]]))
        .collect();
    json!([endpoint, endpoints, deliveries, dead_letters, keys, windows])
}
