//! Bad input gets a clear 4xx naming the field, and leaves the store exactly as it was.

use alertwire_shared::target_policy::TargetPolicy;
use alertwire_tests::{ApiClient, TestServer};
use serde_json::{Value, json};

/// Everything the tenant can see, to prove a refused request wrote nothing.
async fn snapshot(api: &ApiClient) -> (Value, Value) {
    let (_, endpoints) = api.get("/v1/endpoints").await;
    let (_, deliveries) = api.get("/v1/deliveries?limit=500").await;
    (endpoints, deliveries)
}

fn json_headers(api: &ApiClient) -> Vec<(String, String)> {
    vec![
        ("authorization".into(), format!("Bearer {}", api.key)),
        ("content-type".into(), "application/json".into()),
    ]
}

async fn raw(api: &ApiClient, path: &str, body: &[u8]) -> (u16, Value) {
    let headers = json_headers(api);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    api.raw("POST", path, &headers, body.to_vec()).await
}

#[tokio::test]
async fn malformed_alerts_are_refused_with_the_field_named_and_nothing_written() {
    let server = TestServer::start().await;
    let api = &server.api;
    api.create_endpoint(&json!({"name": "e", "url": "http://127.0.0.1:9/"}))
        .await;
    let before = snapshot(api).await;

    let cases: Vec<(&[u8], u16, &str, Option<&str>)> = vec![
        (b"{\"title\": ", 400, "invalid_json", None),
        (b"not json", 400, "invalid_json", None),
        (b"{\"title\": \"a\"} trailing", 400, "invalid_json", None),
        (b"\xff\xfe{}", 400, "invalid_json", None),
        (b"", 400, "invalid_json", None),
        (b"[]", 422, "invalid_field", Some("")),
        (b"{}", 422, "missing_field", Some("title")),
        (b"{\"title\": 42}", 422, "invalid_field", Some("title")),
        (b"{\"title\": \"   \"}", 422, "invalid_field", Some("title")),
        (
            b"{\"title\": \"x\", \"severity\": 3}",
            422,
            "invalid_field",
            Some("severity"),
        ),
        (
            b"{\"title\": \"x\", \"severity\": \"urgent\"}",
            422,
            "invalid_field",
            Some("severity"),
        ),
        (
            b"{\"title\": \"x\", \"message_type\": \"alarm\"}",
            422,
            "invalid_field",
            Some("message_type"),
        ),
        (
            b"{\"title\": \"x\", \"tags\": [1]}",
            422,
            "invalid_field",
            Some("tags[0]"),
        ),
        (
            b"{\"title\": \"x\", \"samples\": \"s\"}",
            422,
            "invalid_field",
            Some("samples"),
        ),
        (
            b"{\"title\": \"x\", \"context\": 1}",
            422,
            "invalid_field",
            Some("context"),
        ),
        (
            b"{\"title\": \"x\", \"priority\": 1}",
            422,
            "unknown_field",
            Some("priority"),
        ),
        (
            b"{\"title\": \"a\\u0000b\"}",
            422,
            "invalid_field",
            Some("title"),
        ),
    ];
    for (body, status, code, field) in cases {
        let (got, error) = raw(api, "/v1/alerts", body).await;
        let shown = String::from_utf8_lossy(body);
        assert_eq!(got, status, "{shown}: {error}");
        assert_eq!(error["error"]["code"], code, "{shown}: {error}");
        if let Some(field) = field {
            assert_eq!(error["error"]["field"], field, "{shown}: {error}");
        }
        assert!(!error["error"]["message"].as_str().unwrap().is_empty());
    }
    let deep = format!(
        "{{\"title\": \"x\", \"context\": {{\"a\": {}1{}}}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert_eq!(raw(api, "/v1/alerts", deep.as_bytes()).await.0, 400);
    let huge = format!("{{\"title\": \"{}\"}}", "x".repeat(300 * 1024));
    let (status, error) = raw(api, "/v1/alerts", huge.as_bytes()).await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (413, Some("body_too_large"))
    );
    let headers = [
        ("authorization", format!("Bearer {}", api.key)),
        ("content-type", "text/plain".to_string()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let (status, _) = api
        .raw(
            "POST",
            "/v1/alerts",
            &headers,
            b"{\"title\":\"x\"}".to_vec(),
        )
        .await;
    assert_eq!(status, 415);

    assert_eq!(
        snapshot(api).await,
        before,
        "a refused alert wrote something"
    );
}

#[tokio::test]
async fn malformed_endpoints_are_refused_with_the_field_named_and_nothing_written() {
    let server = TestServer::start().await;
    let api = &server.api;
    let before = snapshot(api).await;
    let url = "http://127.0.0.1:9/";
    let cases = vec![
        (json!({"url": url}), "name"),
        (json!({"name": "x"}), "url"),
        (json!({"name": "x", "url": 5}), "url"),
        (json!({"name": "x", "url": "ftp://example.com/"}), "url"),
        (json!({"name": "x", "url": "not a url"}), "url"),
        (
            json!({"name": "x", "url": url, "method": "TRACE"}),
            "method",
        ),
        (
            json!({"name": "x", "url": url, "headers": {"X-Bad": "a\r\nInjected: 1"}}),
            "headers.X-Bad",
        ),
        (
            json!({"name": "x", "url": url, "headers": {"Bad Name": "v"}}),
            "headers.Bad Name",
        ),
        (
            json!({"name": "x", "url": url, "headers": {"Host": "evil"}}),
            "headers.Host",
        ),
        (
            json!({"name": "x", "url": url, "headers": {"Content-Length": "1"}}),
            "headers.Content-Length",
        ),
        (
            json!({"name": "x", "url": url, "headers": {"Transfer-Encoding": "chunked"}}),
            "headers.Transfer-Encoding",
        ),
        (
            json!({"name": "x", "url": url, "headers": ["a"]}),
            "headers",
        ),
        (
            json!({"name": "x", "url": url, "content_type": "json"}),
            "content_type",
        ),
        (
            json!({"name": "x", "url": url, "min_severity": "severe"}),
            "min_severity",
        ),
        (
            json!({"name": "x", "url": url, "message_types": {"warning": null}}),
            "message_types.warning",
        ),
        (
            json!({"name": "x", "url": url, "message_types": {"ok": {"colour": 1}}}),
            "message_types.ok.colour",
        ),
        (json!({"name": "x", "url": url, "secret": "abc"}), "secret"),
        (
            json!({"name": "x", "url": url, "enabled": "yes"}),
            "enabled",
        ),
        (
            json!({"name": "x", "url": url, "body": "{{#tags}}unclosed"}),
            "body",
        ),
        (
            json!({"name": "x", "url": url, "body": "{\"a\": \"{{nope}}\"}"}),
            "body",
        ),
        (
            json!({"name": "x", "url": url, "body": "{\"a\": {{alert_title}}}"}),
            "body",
        ),
        (
            json!({"name": "x", "url": url, "message_types": {"ok": {"body": "{{alert_title"}}}),
            "message_types.ok.body",
        ),
        (json!({"name": "x", "url": url, "extra": true}), "extra"),
    ];
    for (body, field) in cases {
        let (status, error) = api.post("/v1/endpoints", &body).await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    assert_eq!(snapshot(api).await, before, "a refused endpoint was stored");
}

#[tokio::test]
async fn template_errors_give_line_and_column() {
    let server = TestServer::start().await;
    let body = "{\n  \"title\": \"{{alert_title}}\",\n  \"x\": \"{{#alert_tags}}\"\n}";
    let (status, error) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "x", "url": "http://127.0.0.1:9/", "body": body}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["code"], "invalid_template");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("column"), "{message}");
}

#[tokio::test]
async fn private_loopback_and_odd_port_urls_are_refused_without_an_allowance() {
    let server = TestServer::with(|c| c.policy = TargetPolicy::strict()).await;
    let api = &server.api;
    for url in [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://example.com:8080/",
        "https://user:pass@example.com/",
    ] {
        let (status, error) = api
            .post("/v1/endpoints", &json!({"name": "x", "url": url}))
            .await;
        assert_eq!(status, 422, "{url}: {error}");
        assert_eq!(error["error"]["field"], "url", "{url}");
        assert_eq!(error["error"]["code"], "target_not_allowed", "{url}");
    }
    let (status, error) = api
        .post(
            "/v1/endpoints",
            &json!({"name": "x", "url": "https://example.com/", "message_types": {"ok": {"url": "http://10.1.2.3/"}}}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (422, Some("message_types.ok.url"))
    );
    let (_, list) = api.get("/v1/endpoints").await;
    assert_eq!(list["endpoints"], json!([]));
}

#[tokio::test]
async fn missing_or_wrong_api_keys_are_401_and_healthz_is_open() {
    let server = TestServer::start().await;
    let anonymous = server.api.with_key("awk_wrong");
    let (status, error) = anonymous.get("/v1/endpoints").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, _) = server
        .api
        .raw("GET", "/v1/deliveries", &[], Vec::new())
        .await;
    assert_eq!(status, 401);
    let (status, _) = server
        .api
        .raw(
            "GET",
            "/v1/deliveries",
            &[("authorization", "Basic abc")],
            Vec::new(),
        )
        .await;
    assert_eq!(status, 401);
    let (status, health) = server.api.raw("GET", "/healthz", &[], Vec::new()).await;
    assert_eq!((status, health), (200, json!({"status": "ok"})));
    let (status, error) = server.api.get("/v1/nothing-here").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}
