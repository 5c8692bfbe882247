//! Bad alerts: malformed, truncated, mistyped, oversized and hostile bodies for `POST /v1/alerts`.

use alertwire_tests::TestServer;
use serde_json::json;

use super::{Expected, StoreSnapshot, assert_error, post_raw};

const fn json_error() -> Expected<'static> {
    Expected {
        status: 400,
        code: "invalid_json",
        field: None,
    }
}

const fn invalid(field: &'static str) -> Expected<'static> {
    Expected {
        status: 422,
        code: "invalid_field",
        field: Some(field),
    }
}

const fn too_large() -> Expected<'static> {
    Expected {
        status: 413,
        code: "body_too_large",
        field: None,
    }
}

fn nested(depth: usize) -> Vec<u8> {
    format!(
        "{{\"title\": \"x\", \"context\": {{\"a\": {}1{}}}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
    .into_bytes()
}

/// The cases: a label, the body, and the answer it must get.
fn cases() -> Vec<(&'static str, Vec<u8>, Expected<'static>)> {
    let b = |s: &str| s.as_bytes().to_vec();
    vec![
        // Malformed and truncated JSON.
        ("truncated after a key", b("{\"title\": "), json_error()),
        (
            "truncated in a string",
            b("{\"title\": \"dis"),
            json_error(),
        ),
        (
            "truncated in a list",
            b("{\"title\": \"x\", \"tags\": [\"a\","),
            json_error(),
        ),
        (
            "truncated before the brace",
            b("{\"title\": \"x\""),
            json_error(),
        ),
        ("a lone brace", b("{"), json_error()),
        ("not JSON", b("not json"), json_error()),
        (
            "trailing text",
            b("{\"title\": \"a\"} trailing"),
            json_error(),
        ),
        ("single quotes", b("{'title': 'x'}"), json_error()),
        ("a trailing comma", b("{\"title\": \"x\",}"), json_error()),
        ("an empty body", Vec::new(), json_error()),
        ("only whitespace", b(" \n\t "), json_error()),
        // Invalid UTF-8 and NUL bytes.
        (
            "a UTF-16 byte order mark",
            b"\xff\xfe{}".to_vec(),
            json_error(),
        ),
        (
            "invalid UTF-8 in a string",
            b"{\"title\": \"\xc3\x28\"}".to_vec(),
            json_error(),
        ),
        (
            "a lone surrogate escape",
            b("{\"title\": \"\\ud800\"}"),
            json_error(),
        ),
        (
            "a raw NUL byte in a string",
            b"{\"title\": \"a\x00b\"}".to_vec(),
            json_error(),
        ),
        (
            "a NUL escape in the title",
            b("{\"title\": \"a\\u0000b\"}"),
            invalid("title"),
        ),
        (
            "a NUL escape in the description",
            b("{\"title\": \"x\", \"description\": \"\\u0000\"}"),
            invalid("description"),
        ),
        (
            "a NUL escape in a tag",
            b("{\"title\": \"x\", \"tags\": [\"ok\", \"a\\u0000\"]}"),
            invalid("tags[1]"),
        ),
        (
            "a NUL escape in the source",
            b("{\"title\": \"x\", \"source\": \"\\u0000\"}"),
            invalid("source"),
        ),
        // Nesting and size.
        ("10,000-deep nesting", nested(10_000), json_error()),
        (
            "300 KiB body",
            format!("{{\"title\": \"{}\"}}", "x".repeat(300 * 1024)).into_bytes(),
            too_large(),
        ),
        (
            "10 MiB body",
            format!(
                "{{\"title\": \"x\", \"description\": \"{}\"}}",
                "x".repeat(10 << 20)
            )
            .into_bytes(),
            too_large(),
        ),
        (
            "a million-element array",
            format!(
                "{{\"title\": \"x\", \"samples\": [{}0]}}",
                "0,".repeat(999_999)
            )
            .into_bytes(),
            too_large(),
        ),
        // Huge numbers.
        (
            "a number beyond f64",
            b("{\"title\": \"x\", \"context\": {\"n\": 1e400}}"),
            json_error(),
        ),
        (
            "a huge epoch",
            b("{\"title\": \"x\", \"timeframe_start\": 99999999999999999999999}"),
            invalid("timeframe_start"),
        ),
        (
            "an epoch beyond chrono",
            b("{\"title\": \"x\", \"timeframe_end\": 9223372036854775807}"),
            invalid("timeframe_end"),
        ),
        (
            "a fractional epoch",
            b("{\"title\": \"x\", \"timeframe_start\": 1.5e300}"),
            invalid("timeframe_start"),
        ),
        // The top level and missing fields.
        ("a list", b("[]"), invalid("")),
        ("a string", b("\"title\""), invalid("")),
        ("null", b("null"), json_error()),
        (
            "no title",
            b("{}"),
            Expected {
                status: 422,
                code: "missing_field",
                field: Some("title"),
            },
        ),
        (
            "a null title",
            b("{\"title\": null}"),
            Expected {
                status: 422,
                code: "missing_field",
                field: Some("title"),
            },
        ),
        ("a blank title", b("{\"title\": \"   \"}"), invalid("title")),
        // Wrong types.
        ("a number title", b("{\"title\": 42}"), invalid("title")),
        (
            "a list description",
            b("{\"title\": \"x\", \"description\": []}"),
            invalid("description"),
        ),
        (
            "a number severity",
            b("{\"title\": \"x\", \"severity\": 3}"),
            invalid("severity"),
        ),
        (
            "an unknown severity",
            b("{\"title\": \"x\", \"severity\": \"urgent\"}"),
            invalid("severity"),
        ),
        (
            "an unknown message type",
            b("{\"title\": \"x\", \"message_type\": \"alarm\"}"),
            invalid("message_type"),
        ),
        (
            "a number tag",
            b("{\"title\": \"x\", \"tags\": [1]}"),
            invalid("tags[0]"),
        ),
        (
            "a string for tags",
            b("{\"title\": \"x\", \"tags\": \"a,b\"}"),
            invalid("tags"),
        ),
        (
            "a string for samples",
            b("{\"title\": \"x\", \"samples\": \"s\"}"),
            invalid("samples"),
        ),
        (
            "a number context",
            b("{\"title\": \"x\", \"context\": 1}"),
            invalid("context"),
        ),
        (
            "a list context",
            b("{\"title\": \"x\", \"context\": [1]}"),
            invalid("context"),
        ),
        (
            "a boolean incident key",
            b("{\"title\": \"x\", \"incident_key\": true}"),
            invalid("incident_key"),
        ),
        (
            "an object source",
            b("{\"title\": \"x\", \"source\": {}}"),
            invalid("source"),
        ),
        (
            "a javascript link",
            b("{\"title\": \"x\", \"link\": \"javascript:alert(1)\"}"),
            invalid("link"),
        ),
        (
            "a relative link",
            b("{\"title\": \"x\", \"link\": \"/alerts/1\"}"),
            invalid("link"),
        ),
        (
            "a boolean timeframe",
            b("{\"title\": \"x\", \"timeframe_start\": true}"),
            invalid("timeframe_start"),
        ),
        (
            "a timeframe in words",
            b("{\"title\": \"x\", \"timeframe_start\": \"yesterday\"}"),
            invalid("timeframe_start"),
        ),
        (
            "an end before the start",
            b(
                "{\"title\": \"x\", \"timeframe_start\": \"2026-01-02T00:00:00Z\", \"timeframe_end\": \"2026-01-01T00:00:00Z\"}",
            ),
            invalid("timeframe_end"),
        ),
        // Lengths.
        (
            "a title of 1,001 characters",
            format!("{{\"title\": \"{}\"}}", "é".repeat(1001)).into_bytes(),
            invalid("title"),
        ),
        (
            "101 tags",
            json!({"title": "x", "tags": vec!["t"; 101]})
                .to_string()
                .into_bytes(),
            invalid("tags"),
        ),
        (
            "a tag of 257 characters",
            json!({"title": "x", "tags": ["t".repeat(257)]})
                .to_string()
                .into_bytes(),
            invalid("tags[0]"),
        ),
        // Unknown fields.
        (
            "an unknown field",
            b("{\"title\": \"x\", \"priority\": 1}"),
            Expected {
                status: 422,
                code: "unknown_field",
                field: Some("priority"),
            },
        ),
        (
            "a field in another case",
            b("{\"Title\": \"x\"}"),
            Expected {
                status: 422,
                code: "unknown_field",
                field: Some("Title"),
            },
        ),
    ]
}

#[tokio::test]
async fn bad_alerts_get_a_4xx_naming_the_field_and_write_nothing() {
    let server = TestServer::start().await;
    let api = &server.api;
    // An endpoint, so an alert let through would write an alert, a delivery and a queue task.
    api.create_endpoint(&json!({"name": "e", "url": "http://127.0.0.1:9/"}))
        .await;
    let before = StoreSnapshot::take(&server).await;
    let cases = cases();
    for (label, body, expected) in &cases {
        let answer = post_raw(api, "/v1/alerts", body.clone()).await;
        assert_error(&answer, expected, label);
    }

    // Not JSON at all.
    let auth = format!("Bearer {}", api.key);
    let answer = api
        .raw(
            "POST",
            "/v1/alerts",
            &[("authorization", &auth), ("content-type", "text/plain")],
            b"{\"title\":\"x\"}".to_vec(),
        )
        .await;
    let media_type = Expected {
        status: 415,
        code: "unsupported_media_type",
        field: None,
    };
    assert_error(&answer, &media_type, "a text/plain body");

    assert_eq!(
        StoreSnapshot::take(&server).await,
        before,
        "a refused alert wrote something"
    );
    println!("bad input: {} alert cases refused, 0 5xx", cases.len() + 1);
}

#[tokio::test]
async fn a_reused_idempotency_key_with_another_body_is_409_and_keeps_the_first() {
    let server = TestServer::start().await;
    let api = &server.api;
    api.create_endpoint(&json!({"name": "e", "url": "http://127.0.0.1:9/"}))
        .await;
    let auth = format!("Bearer {}", api.key);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", "key-1"),
    ];
    let (status, first) = api
        .raw(
            "POST",
            "/v1/alerts",
            &headers,
            b"{\"title\": \"one\"}".to_vec(),
        )
        .await;
    assert_eq!(status, 202, "{first}");
    let id = first["deliveries"][0]["id"].as_str().expect("a delivery");
    api.settled(id, std::time::Duration::from_secs(30)).await;
    // The dead delivery's task moves to the dead-letter queue just after its status is recorded.
    let before = StoreSnapshot::settled(&server).await;
    let answer = api
        .raw(
            "POST",
            "/v1/alerts",
            &headers,
            b"{\"title\": \"two\"}".to_vec(),
        )
        .await;
    let conflict = Expected {
        status: 409,
        code: "conflict",
        field: None,
    };
    assert_error(&answer, &conflict, "a reused idempotency key");
    assert_eq!(StoreSnapshot::take(&server).await, before);
}
