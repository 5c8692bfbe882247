//! The API the web console needs beside the CRUD: validating an unsaved endpoint definition as the user
//! types (template errors with line and column), "Run the test" before saving, the catalogue as data, an
//! endpoint's last 24 hours in figures, and the console's own files served with a strict
//! Content-Security-Policy.

use std::time::Duration;

use alertwire_shared::endpoint::presets::Preset;
use alertwire_shared::render_context::{UPTRENDS_VARIABLES, VARIABLES};
use alertwire_tests::{Behaviour, Receiver, TestServer, http_client};
use serde_json::json;

#[tokio::test]
async fn a_valid_definition_validates_without_being_stored() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints/validate",
            &json!({"name": "draft", "url": receiver.url("/hook"), "secret": "generate"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"valid": true}));
    let (_, list) = server.api.get("/v1/endpoints").await;
    assert_eq!(list["endpoints"], json!([]), "validating stores nothing");
    assert!(receiver.received().is_empty(), "validating sends nothing");
}

#[tokio::test]
async fn a_template_error_names_the_field_line_and_column() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let body = "first line\n  {{no_such_variable}}";
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints/validate",
            &json!({"name": "draft", "url": receiver.url("/"), "content_type": "text/plain",
                    "body": body}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    let error = &answer["error"];
    assert_eq!(error["code"], "invalid_template", "{answer}");
    assert_eq!(error["field"], "body");
    assert_eq!(
        (error["line"].clone(), error["column"].clone()),
        (json!(2), json!(3)),
        "{answer}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("line 2, column 3"),
        "{answer}"
    );

    // An unclosed section in a per-type body: the path names the message type.
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints/validate",
            &json!({"name": "draft", "url": receiver.url("/"), "content_type": "text/plain",
                    "message_types": {"ok": {"body": "a\nb\nc {{#alert_tags}}x"}}}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["field"], "message_types.ok.body",
        "{answer}"
    );
    assert_eq!(answer["error"]["line"], 3, "{answer}");
}

#[tokio::test]
async fn other_field_errors_carry_no_position() {
    let server = TestServer::start().await;
    let (status, answer) = server
        .api
        .post("/v1/endpoints/validate", &json!({"name": "draft"}))
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "url");
    assert!(answer["error"].get("line").is_none(), "{answer}");
}

#[tokio::test]
async fn validating_needs_a_key() {
    let server = TestServer::start().await;
    let stranger = server.api.with_key("aw_not_a_key");
    let (status, _) = stranger
        .post(
            "/v1/endpoints/validate",
            &json!({"name": "x", "url": "http://127.0.0.1/"}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = stranger.get("/v1/catalogue").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn run_the_test_before_saving_sends_the_rendered_sample_and_shows_the_answer() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::Status(
        201,
        vec![("X-Receiver".into(), "yes".into())],
        "thanks".into(),
    ))
    .await;
    let definition = json!({
        "name": "draft",
        "url": receiver.url("/hook"),
        "content_type": "text/plain",
        "headers": {"Authorization": "Bearer top-secret-token"},
        "body": "{{alert_title}} is {{alert_severity}}",
    });
    let (status, report) = server
        .api
        .post("/v1/endpoints/test", &json!({"endpoint": definition}))
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["response"]["status"], 201);
    assert_eq!(report["response"]["body"], "thanks");
    assert!(
        report["response"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0].as_str().unwrap().eq_ignore_ascii_case("x-receiver") && h[1] == "yes"),
        "{report}"
    );

    let received = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].path, "/hook");
    assert_eq!(report["request"]["body"], received[0].body_text());
    assert_eq!(report["request"]["method"], "POST");
    assert_eq!(
        received[0].header("authorization"),
        Some("Bearer top-secret-token"),
        "the secret header is sent"
    );
    assert!(
        !report.to_string().contains("top-secret-token"),
        "but never shown: {report}"
    );
    let (_, list) = server.api.get("/v1/endpoints").await;
    assert_eq!(list["endpoints"], json!([]), "testing stores nothing");
}

#[tokio::test]
async fn run_the_test_before_saving_takes_a_given_alert() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let (status, report) = server
        .api
        .post(
            "/v1/endpoints/test",
            &json!({
                "endpoint": {"name": "d", "url": receiver.url("/"), "content_type": "text/plain",
                             "body": "{{alert_title}}"},
                "alert": {"title": "disk full on db-7"},
            }),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["request"]["body"], "disk full on db-7");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_reported_not_refused() {
    let server = TestServer::start().await;
    // A port nothing listens on: bind one, note it, close it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (status, report) = server
        .api
        .post(
            "/v1/endpoints/test",
            &json!({"endpoint": {"name": "d", "url": format!("http://127.0.0.1:{port}/")}}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["ok"], false);
    assert!(report["response"].is_null(), "{report}");
    assert_eq!(report["error"]["class"], "connect", "{report}");
}

#[tokio::test]
async fn an_invalid_definition_is_refused_with_its_field_under_endpoint() {
    let server = TestServer::start().await;
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints/test",
            &json!({"endpoint": {"name": "d", "url": "http://127.0.0.1:9/", "content_type": "text/plain",
                                 "body": "x {{#alert_tags}}"}}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "endpoint.body");
    assert_eq!(answer["error"]["line"], 1);

    // The target policy applies before anything is sent (only loopback is open in tests).
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints/test",
            &json!({"endpoint": {"name": "d", "url": "http://10.0.0.1/"}}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "target_not_allowed");
    assert_eq!(answer["error"]["field"], "endpoint.url");

    let (status, answer) = server.api.post("/v1/endpoints/test", &json!({})).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "endpoint");
}

#[tokio::test]
async fn the_catalogue_lists_every_variable_and_preset() {
    let server = TestServer::start().await;
    let (status, catalogue) = server.api.get("/v1/catalogue").await;
    assert_eq!(status, 200, "{catalogue}");
    let names: Vec<&str> = catalogue["variables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = VARIABLES.iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names, expected);
    assert!(
        catalogue["variables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| !v["description"].as_str().unwrap().is_empty())
    );
    assert_eq!(
        catalogue["uptrends_variables"].as_array().unwrap().len(),
        UPTRENDS_VARIABLES.len()
    );
    let tags = catalogue["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "alert_tags")
        .expect("alert_tags is listed");
    assert_eq!(tags["insert"], "{{#alert_tags}}{{.}}{{/alert_tags}}");
    let presets: Vec<&str> = catalogue["presets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(presets, expected);
    assert_eq!(
        catalogue["presets"][0]["fields"]["content_type"],
        "application/json"
    );

    // Every insertion is accepted by the same validation the API runs.
    let receiver = Receiver::start(Behaviour::status(200)).await;
    for variable in catalogue["variables"].as_array().unwrap() {
        let mut endpoint = json!({"name": "d", "url": receiver.url("/"), "content_type": "text/plain",
                                  "body": variable["insert"]});
        // A record's fields are the endpoint's own (`captured.<name>`: its captures), named once filled in.
        if variable["kind"] == "record" {
            let insert = variable["insert"]
                .as_str()
                .unwrap()
                .replace("<name>", "ticket_id");
            endpoint["body"] = json!(insert);
            endpoint["captures"] = json!({"ticket_id": "$.id"});
        }
        let (status, answer) = server.api.post("/v1/endpoints/validate", &endpoint).await;
        assert_eq!(status, 200, "{variable}: {answer}");
    }
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_content_security_policy() {
    let server = TestServer::start().await;
    let http = http_client(Duration::from_secs(10));
    let base = &server.api.base;
    let index = http.get(format!("{base}/console/")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(
        index.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = index.text().await.unwrap();
    assert!(!html.contains("<script>"), "no inline script");
    // Every module the page loads, and every module they import, is served as JavaScript.
    let mut pending: Vec<String> = vec!["main.js".into()];
    let mut seen = Vec::new();
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        let response = http
            .get(format!("{base}/console/{name}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript"),
            "{name}"
        );
        let source = response.text().await.unwrap();
        for line in source.lines().filter(|l| l.starts_with("import ")) {
            let module = line
                .split("\"./")
                .nth(1)
                .and_then(|rest| rest.split('"').next());
            pending.extend(module.map(str::to_string));
        }
        seen.push(name);
    }
    assert!(seen.len() > 3, "{seen:?}");

    let missing = http
        .get(format!("{base}/console/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn endpoint_stats_count_the_last_24_hours_per_hour() {
    let server = TestServer::start().await;
    let recovering = Receiver::scripted(vec![Behaviour::status(500)], Behaviour::status(200)).await;
    let down = Receiver::start(Behaviour::status(500)).await;
    let endpoint_at = |name: &str, receiver: &Receiver| {
        let body = json!({"name": name, "url": receiver.url("/in")});
        let api = &server.api;
        async move {
            api.create_endpoint(&body).await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let recovering_id = endpoint_at("recovering", &recovering).await;
    let stats_of = |id: &str| format!("/v1/endpoints/{id}/stats");

    // Before any delivery: 24 empty hours, no rate, no latency.
    let (status, empty) = server.api.get(&stats_of(&recovering_id)).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(
        (
            &empty["attempts"],
            &empty["success_rate"],
            &empty["p95_latency_ms"]
        ),
        (&json!(0), &json!(null), &json!(null)),
        "{empty}"
    );

    let mut ids = Vec::new();
    for n in 0..3 {
        ids.extend(
            server
                .api
                .send_alert(&json!({"title": format!("alert {n}")}))
                .await,
        );
    }
    let down_id = endpoint_at("down", &down).await;
    ids.extend(server.api.send_alert(&json!({"title": "the last"})).await);
    for id in &ids {
        server.api.settled(id, Duration::from_secs(30)).await;
    }

    // The recovering endpoint: 4 deliveries, one of them retried once, all delivered this hour.
    let (_, stats) = server.api.get(&stats_of(&recovering_id)).await;
    let hours = stats["hours"].as_array().expect("hours");
    assert_eq!(hours.len(), 24, "{stats}");
    let starts: Vec<chrono::DateTime<chrono::Utc>> = hours
        .iter()
        .map(|h| h["start"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        starts
            .windows(2)
            .all(|w| w[1] - w[0] == chrono::Duration::hours(1)),
        "oldest first, an hour apart: {starts:?}"
    );
    assert_eq!(
        hours[23],
        json!({"start": hours[23]["start"], "delivered": 4, "failed": 0})
    );
    assert!(
        hours[..23]
            .iter()
            .all(|h| h["delivered"] == 0 && h["failed"] == 0),
        "{stats}"
    );
    assert_eq!(
        (
            &stats["attempts"],
            &stats["success_rate"],
            &stats["deliveries"],
            &stats["capped"]
        ),
        (&json!(5), &json!(0.8), &json!(4), &json!(false)),
        "{stats}"
    );
    assert!(stats["p95_latency_ms"].is_u64(), "{stats}");

    // The endpoint that always answers 500: its one delivery failed every attempt.
    let (_, stats) = server.api.get(&stats_of(&down_id)).await;
    assert_eq!(stats["hours"][23]["failed"], 1, "{stats}");
    assert_eq!(stats["hours"][23]["delivered"], 0, "{stats}");
    assert_eq!(stats["success_rate"], 0.0, "{stats}");
    assert_eq!(stats["attempts"], 10, "{stats}");

    // Tenant-scoped and behind the key, like every endpoint route.
    let other = server.tenant("beta").await;
    let (status, answer) = other.get(&stats_of(&recovering_id)).await;
    assert_eq!(status, 404, "{answer}");
    let (status, _) = server
        .api
        .with_key("aw_not_a_key")
        .get(&stats_of(&recovering_id))
        .await;
    assert_eq!(status, 401);
}
