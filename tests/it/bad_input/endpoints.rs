//! Bad endpoint definitions for `POST /v1/endpoints` and `PUT /v1/endpoints/{id}`: malformed bodies, wrong
//! types, unknown and missing fields, header injection, forbidden headers, broken templates, bad secrets and
//! methods.

use alertwire_tests::TestServer;
use serde_json::{Value, json};

use super::{Expected, StoreSnapshot, assert_error, post_raw};

const URL: &str = "http://127.0.0.1:9/";

const fn invalid(field: &'static str) -> Expected<'static> {
    Expected {
        status: 422,
        code: "invalid_field",
        field: Some(field),
    }
}

const fn template(field: &'static str) -> Expected<'static> {
    Expected {
        status: 422,
        code: "invalid_template",
        field: Some(field),
    }
}

/// A valid definition with `changes` merged in (a `null` change removes the field).
fn endpoint(changes: Value) -> Value {
    let mut body = json!({"name": "x", "url": URL});
    for (key, value) in changes.as_object().expect("an object") {
        if value.is_null() {
            body.as_object_mut().unwrap().remove(key);
        } else {
            body[key] = value.clone();
        }
    }
    body
}

fn header(name: &str, value: &str) -> Value {
    json!({"headers": {name: value}})
}

/// Cases that are fine on replace (a masked secret there keeps the stored one).
const CREATE_ONLY: &[&str] = &["a masked secret on create"];

fn cases() -> Vec<(&'static str, Value, Expected<'static>)> {
    let missing = |field| Expected {
        status: 422,
        code: "missing_field",
        field: Some(field),
    };
    let unknown = |field| Expected {
        status: 422,
        code: "unknown_field",
        field: Some(field),
    };
    vec![
        // Missing, mistyped and unknown fields.
        ("no name", endpoint(json!({"name": null})), missing("name")),
        ("no url", endpoint(json!({"url": null})), missing("url")),
        (
            "a number name",
            endpoint(json!({"name": 5})),
            invalid("name"),
        ),
        ("a number url", endpoint(json!({"url": 5})), invalid("url")),
        (
            "a list of headers",
            endpoint(json!({"headers": ["a"]})),
            invalid("headers"),
        ),
        (
            "a number header value",
            endpoint(json!({"headers": {"X-A": 5}})),
            invalid("headers.X-A"),
        ),
        (
            "a header object without value",
            endpoint(json!({"headers": {"X-A": {"secret": true}}})),
            invalid("headers.X-A.value"),
        ),
        (
            "a header object with an unknown key",
            endpoint(json!({"headers": {"X-A": {"value": "v", "sekret": true}}})),
            unknown("headers.X-A.sekret"),
        ),
        (
            "a string for enabled",
            endpoint(json!({"enabled": "yes"})),
            invalid("enabled"),
        ),
        (
            "a number body",
            endpoint(json!({"body": 5})),
            invalid("body"),
        ),
        (
            "a number for message_types",
            endpoint(json!({"message_types": 5})),
            invalid("message_types"),
        ),
        (
            "an unknown message type",
            endpoint(json!({"message_types": {"warning": null}})),
            unknown("message_types.warning"),
        ),
        (
            "an unknown route field",
            endpoint(json!({"message_types": {"ok": {"colour": 1}}})),
            unknown("message_types.ok.colour"),
        ),
        (
            "an unknown field",
            endpoint(json!({"extra": true})),
            unknown("extra"),
        ),
        (
            "a name with a NUL",
            endpoint(json!({"name": "a\u{0}b"})),
            invalid("name"),
        ),
        (
            "a name of 201 characters",
            endpoint(json!({"name": "n".repeat(201)})),
            invalid("name"),
        ),
        (
            "a huge number for enabled",
            endpoint(json!({"enabled": 1e300})),
            invalid("enabled"),
        ),
        (
            "a media type that is not one",
            endpoint(json!({"content_type": "json"})),
            invalid("content_type"),
        ),
        (
            "a media type with CR/LF",
            endpoint(json!({"content_type": "application/json\r\nX-Injected: 1"})),
            invalid("content_type"),
        ),
        (
            "an unknown severity",
            endpoint(json!({"min_severity": "severe"})),
            invalid("min_severity"),
        ),
        (
            "a verification token with a newline",
            endpoint(json!({"verification_token": "a\nb"})),
            invalid("verification_token"),
        ),
        // Header injection: CR/LF and NUL in names and values.
        (
            "CR/LF in a header value",
            endpoint(header("X-Bad", "a\r\nInjected: 1")),
            invalid("headers.X-Bad"),
        ),
        (
            "a bare LF in a header value",
            endpoint(header("X-Bad", "a\nb")),
            invalid("headers.X-Bad"),
        ),
        (
            "a NUL in a header value",
            endpoint(header("X-Bad", "a\u{0}b")),
            invalid("headers.X-Bad"),
        ),
        (
            "CR/LF in a header name",
            endpoint(header("X-A\r\nInjected", "1")),
            invalid("headers.X-A\r\nInjected"),
        ),
        (
            "a space in a header name",
            endpoint(header("Bad Name", "v")),
            invalid("headers.Bad Name"),
        ),
        (
            "a colon in a header name",
            endpoint(header("X-A:", "v")),
            invalid("headers.X-A:"),
        ),
        (
            "an empty header name",
            endpoint(header("", "v")),
            invalid("headers."),
        ),
        (
            "CR/LF in a per-type header",
            endpoint(json!({"message_types": {"ok": {"headers": {"X-A": "1\r\n\r\nbody"}}}})),
            invalid("message_types.ok.headers.X-A"),
        ),
        // Forbidden headers.
        (
            "Host",
            endpoint(header("Host", "evil.example")),
            invalid("headers.Host"),
        ),
        (
            "host in lower case",
            endpoint(header("host", "evil.example")),
            invalid("headers.host"),
        ),
        (
            "Content-Length",
            endpoint(header("Content-Length", "1")),
            invalid("headers.Content-Length"),
        ),
        (
            "Transfer-Encoding",
            endpoint(header("Transfer-Encoding", "chunked")),
            invalid("headers.Transfer-Encoding"),
        ),
        (
            "Content-Type",
            endpoint(header("Content-Type", "text/plain")),
            invalid("headers.Content-Type"),
        ),
        (
            "Connection",
            endpoint(header("Connection", "close")),
            invalid("headers.Connection"),
        ),
        (
            "a signature header",
            endpoint(header("webhook-signature", "v1,x")),
            invalid("headers.webhook-signature"),
        ),
        (
            "a proxy header",
            endpoint(header("Proxy-Connection", "keep-alive")),
            invalid("headers.Proxy-Connection"),
        ),
        // Templates.
        (
            "an unclosed section",
            endpoint(json!({"body": "{{#alert_tags}}unclosed"})),
            template("body"),
        ),
        (
            "an unclosed tag",
            endpoint(json!({"body": "{\"a\": \"{{alert_title\"}"})),
            template("body"),
        ),
        (
            "a close without an open",
            endpoint(json!({"body": "{{/alert_tags}}"})),
            template("body"),
        ),
        (
            "mismatched sections",
            endpoint(json!({"body": "{{#alert_tags}}{{/alert_samples}}"})),
            template("body"),
        ),
        (
            "an unknown variable",
            endpoint(json!({"body": "{\"a\": \"{{nope}}\"}"})),
            template("body"),
        ),
        (
            "an unknown dotted variable",
            endpoint(json!({"body": "{\"a\": \"{{alert_title.first}}\"}"})),
            template("body"),
        ),
        (
            "a body that is not JSON for some alerts",
            endpoint(json!({"body": "{\"a\": {{alert_title}}}"})),
            template("body"),
        ),
        (
            "an unknown variable in the URL",
            endpoint(json!({"url": "https://hooks.example.com/{{nope}}"})),
            template("url"),
        ),
        (
            "a broken per-type body",
            endpoint(json!({"message_types": {"ok": {"body": "{{alert_title"}}})),
            template("message_types.ok.body"),
        ),
        (
            "a template over 64 KiB",
            endpoint(json!({"body": "x".repeat(65 * 1024)})),
            invalid("body"),
        ),
        // Secrets.
        (
            "a secret without whsec_",
            endpoint(json!({"secret": "abc"})),
            invalid("secret"),
        ),
        (
            "a secret that is only the prefix",
            endpoint(json!({"secret": "whsec_"})),
            invalid("secret"),
        ),
        (
            "a secret that is not base64",
            endpoint(json!({"secret": "whsec_!!!not-base64!!!"})),
            invalid("secret"),
        ),
        (
            "a secret too short",
            endpoint(json!({"secret": "whsec_c2hvcnQ="})),
            invalid("secret"),
        ),
        (
            "a masked secret on create",
            endpoint(json!({"secret": "********"})),
            invalid("secret"),
        ),
        (
            "a number secret",
            endpoint(json!({"secret": 5})),
            invalid("secret"),
        ),
        // Methods.
        (
            "TRACE",
            endpoint(json!({"method": "TRACE"})),
            invalid("method"),
        ),
        (
            "CONNECT",
            endpoint(json!({"method": "CONNECT"})),
            invalid("method"),
        ),
        (
            "an empty method",
            endpoint(json!({"method": ""})),
            invalid("method"),
        ),
        (
            "a method with CR/LF",
            endpoint(json!({"method": "POST\r\nX: 1"})),
            invalid("method"),
        ),
        (
            "a per-type method",
            endpoint(json!({"message_types": {"ok": {"method": "OPTIONS"}}})),
            invalid("message_types.ok.method"),
        ),
    ]
}

/// Bodies that are not valid JSON objects at all.
fn raw_cases() -> Vec<(&'static str, Vec<u8>, Expected<'static>)> {
    let json_error = Expected {
        status: 400,
        code: "invalid_json",
        field: None,
    };
    let too_large = Expected {
        status: 413,
        code: "body_too_large",
        field: None,
    };
    vec![
        (
            "truncated",
            b"{\"name\": \"x\", \"url\": ".to_vec(),
            json_error,
        ),
        (
            "invalid UTF-8",
            b"{\"name\": \"\xe2\x82\", \"url\": \"http://127.0.0.1:9/\"}".to_vec(),
            json_error,
        ),
        (
            "a raw NUL byte",
            b"{\"name\": \"a\x00\", \"url\": \"http://127.0.0.1:9/\"}".to_vec(),
            json_error,
        ),
        ("empty", Vec::new(), json_error),
        (
            "10,000-deep nesting",
            format!(
                "{{\"name\": \"x\", \"url\": \"{URL}\", \"headers\": {}{}}}",
                "{\"a\":".repeat(10_000),
                "}".repeat(10_000)
            )
            .into_bytes(),
            json_error,
        ),
        (
            "a huge number",
            b"{\"name\": \"x\", \"url\": \"http://127.0.0.1:9/\", \"enabled\": 1e400}".to_vec(),
            json_error,
        ),
        (
            "a 300 KiB body",
            json!({"name": "x", "url": URL, "body": "x".repeat(300 * 1024)})
                .to_string()
                .into_bytes(),
            too_large,
        ),
        (
            "a 10 MiB body",
            json!({"name": "x", "url": URL, "body": "x".repeat(10 << 20)})
                .to_string()
                .into_bytes(),
            too_large,
        ),
        ("a list", b"[{\"name\": \"x\"}]".to_vec(), invalid("")),
    ]
}

#[tokio::test]
async fn bad_endpoints_get_a_4xx_naming_the_field_and_write_nothing() {
    let server = TestServer::start().await;
    let api = &server.api;
    let kept = api
        .create_endpoint(&json!({"name": "kept", "url": URL, "secret": "generate"}))
        .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let before = StoreSnapshot::take(&server).await;
    let cases = cases();
    for (label, body, expected) in &cases {
        let created = api.post("/v1/endpoints", body).await;
        assert_error(&created, expected, &format!("create: {label}"));
        if CREATE_ONLY.contains(label) {
            continue;
        }
        let replaced = api
            .call("PUT", &format!("/v1/endpoints/{kept}"), Some(body))
            .await;
        assert_error(&replaced, expected, &format!("replace: {label}"));
    }
    let raw = raw_cases();
    for (label, body, expected) in &raw {
        let created = post_raw(api, "/v1/endpoints", body.clone()).await;
        assert_error(&created, expected, &format!("create: {label}"));
    }
    assert_eq!(
        StoreSnapshot::take(&server).await,
        before,
        "a refused endpoint wrote something"
    );
    println!(
        "bad input: {} endpoint cases refused on create and replace, {} raw bodies, 0 5xx",
        cases.len(),
        raw.len()
    );
}
