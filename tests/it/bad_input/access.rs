//! Wrong or missing API keys on every route, another tenant's ids, and bad queries and replay selections.

use std::time::Duration;

use alertwire_tests::TestServer;
use serde_json::{Value, json};

use super::{Expected, StoreSnapshot, assert_error};

const URL: &str = "http://127.0.0.1:9/";

#[tokio::test]
async fn wrong_or_missing_api_keys_are_401_on_every_route_and_write_nothing() {
    let server = TestServer::start().await;
    let api = &server.api;
    let endpoint = api.create_endpoint(&json!({"name": "e", "url": URL})).await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let delivery = api.send_alert(&json!({"title": "x"})).await.remove(0);
    api.settled(&delivery, Duration::from_secs(30)).await;
    // The worker finishes with the dead delivery's task (to the dead-letter queue) just after its status.
    let before = StoreSnapshot::settled(&server).await;

    let valid_endpoint = json!({"name": "e2", "url": URL}).to_string();
    let valid_alert = json!({"title": "let me in"}).to_string();
    let routes: Vec<(&str, String, String)> = vec![
        ("GET", "/v1/endpoints".into(), String::new()),
        ("POST", "/v1/endpoints".into(), valid_endpoint.clone()),
        ("GET", format!("/v1/endpoints/{endpoint}"), String::new()),
        ("PUT", format!("/v1/endpoints/{endpoint}"), valid_endpoint),
        ("DELETE", format!("/v1/endpoints/{endpoint}"), String::new()),
        (
            "POST",
            format!("/v1/endpoints/{endpoint}/test"),
            String::new(),
        ),
        ("POST", "/v1/alerts".into(), valid_alert),
        ("GET", "/v1/deliveries".into(), String::new()),
        ("GET", format!("/v1/deliveries/{delivery}"), String::new()),
        (
            "POST",
            format!("/v1/deliveries/{delivery}/resend"),
            String::new(),
        ),
        ("GET", "/v1/dead-letters".into(), String::new()),
        ("GET", "/v1/settings".into(), String::new()),
        ("PUT", "/v1/settings".into(), "{}".into()),
        ("POST", "/v1/dead-letters/replay".into(), "{}".into()),
    ];
    let wrong_key = format!("Bearer {}x", api.key);
    let credentials: [(&str, Option<&str>); 6] = [
        ("no Authorization header", None),
        ("a wrong key", Some("Bearer awk_not-a-key")),
        ("the key with a character added", Some(&wrong_key)),
        ("Basic credentials", Some("Basic YWxpY2U6c2VjcmV0")),
        ("Bearer with no key", Some("Bearer ")),
        ("the key without Bearer", Some(api.key.as_str())),
    ];
    let unauthorized = Expected {
        status: 401,
        code: "unauthorized",
        field: Some("Authorization"),
    };
    let mut cases = 0;
    for (label, authorization) in credentials {
        for (method, path, body) in &routes {
            let mut headers = vec![("content-type", "application/json")];
            if let Some(value) = authorization {
                headers.push(("authorization", value));
            }
            let answer = api
                .raw(method, path, &headers, body.clone().into_bytes())
                .await;
            assert_error(&answer, &unauthorized, &format!("{label}: {method} {path}"));
            cases += 1;
        }
    }
    assert_eq!(
        StoreSnapshot::take(&server).await,
        before,
        "an unauthenticated request wrote something"
    );

    let (status, health) = api.raw("GET", "/healthz", &[], Vec::new()).await;
    assert_eq!((status, health), (200, json!({"status": "ok"})));
    let not_found = Expected {
        status: 404,
        code: "not_found",
        field: None,
    };
    assert_error(
        &api.get("/v1/nothing-here").await,
        &not_found,
        "an unknown route",
    );
    let not_allowed = Expected {
        status: 405,
        code: "method_not_allowed",
        field: None,
    };
    assert_error(
        &api.call("PATCH", "/v1/endpoints", None).await,
        &not_allowed,
        "PATCH /v1/endpoints",
    );
    println!(
        "bad input: {} credential/route combinations (6 credentials x {} routes) refused with 401, 0 5xx",
        cases,
        routes.len()
    );
}

#[tokio::test]
async fn another_tenants_ids_are_404_and_nothing_is_touched() {
    let server = TestServer::start().await;
    let alpha = &server.api;
    let beta = server.tenant("beta").await;
    let theirs = beta
        .create_endpoint(&json!({"name": "beta's", "url": URL, "secret": "generate"}))
        .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let delivery = beta
        .send_alert(&json!({"title": "beta's alert"}))
        .await
        .remove(0);
    assert_eq!(
        beta.settled(&delivery, Duration::from_secs(30)).await["status"],
        "dead"
    );
    // The dead delivery's task moves to the dead-letter queue just after its status is recorded.
    let before = StoreSnapshot::settled(&server).await;

    let body = json!({"name": "taken over", "url": URL});
    let attempts: Vec<(&str, String, Option<&Value>)> = vec![
        ("GET", format!("/v1/endpoints/{theirs}"), None),
        ("PUT", format!("/v1/endpoints/{theirs}"), Some(&body)),
        ("DELETE", format!("/v1/endpoints/{theirs}"), None),
        ("POST", format!("/v1/endpoints/{theirs}/test"), None),
        ("GET", format!("/v1/deliveries/{delivery}"), None),
        ("POST", format!("/v1/deliveries/{delivery}/resend"), None),
    ];
    let not_found = Expected {
        status: 404,
        code: "not_found",
        field: None,
    };
    for (method, path, body) in &attempts {
        let answer = alpha.call(method, path, *body).await;
        assert_error(&answer, &not_found, &format!("alpha {method} {path}"));
    }
    // Listing and replaying by beta's ids see nothing of beta's.
    let (_, list) = alpha
        .get(&format!("/v1/deliveries?endpoint_id={theirs}"))
        .await;
    assert_eq!(list["deliveries"], json!([]), "{list}");
    for selection in [json!({"ids": [delivery]}), json!({"endpoint_id": theirs})] {
        let (status, replayed) = alpha.post("/v1/dead-letters/replay", &selection).await;
        assert_eq!(
            (status, replayed),
            (200, json!({"replayed": 0})),
            "{selection}"
        );
    }
    assert_eq!(
        StoreSnapshot::take(&server).await,
        before,
        "another tenant's request changed something"
    );
    println!(
        "bad input: {} calls on another tenant's ids refused with 404, 0 5xx",
        attempts.len()
    );
}

#[tokio::test]
async fn bad_queries_and_replay_selections_name_the_parameter() {
    let server = TestServer::start().await;
    let api = &server.api;
    let before = StoreSnapshot::take(&server).await;
    let cases: Vec<(&str, &str, Option<Value>, u16, &str)> = vec![
        ("GET", "/v1/deliveries?limit=abc", None, 400, "limit"),
        ("GET", "/v1/deliveries?limit=-1", None, 400, "limit"),
        ("GET", "/v1/deliveries?status=lost", None, 400, "status"),
        ("GET", "/v1/deliveries?colour=red", None, 400, "colour"),
        (
            "POST",
            "/v1/dead-letters/replay",
            Some(json!({"ids": "dl_1"})),
            422,
            "ids",
        ),
        (
            "POST",
            "/v1/dead-letters/replay",
            Some(json!({"ids": [1]})),
            422,
            "ids[0]",
        ),
        (
            "POST",
            "/v1/dead-letters/replay",
            Some(json!({"ids": [], "endpoint_id": "ep_1"})),
            422,
            "ids",
        ),
        (
            "POST",
            "/v1/dead-letters/replay",
            Some(json!({"all": true})),
            422,
            "all",
        ),
    ];
    for (method, path, body, status, field) in &cases {
        let answer = api.call(method, path, body.as_ref()).await;
        let (got, error) = &answer;
        assert_eq!(got, status, "{method} {path} {body:?}: {error}");
        assert_eq!(error["error"]["field"], *field, "{method} {path}: {error}");
        assert!(
            !error["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{error}"
        );
    }
    assert_eq!(StoreSnapshot::take(&server).await, before);
    println!(
        "bad input: {} bad queries and selections refused, 0 5xx",
        cases.len()
    );
}
