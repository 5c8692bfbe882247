//! Secrets never come back: signing secrets, the verification token, secret header values (by default
//! `Authorization`, `X-Api-Key`, `Cookie`), OAuth2 client secrets and the bearer tokens fetched with them,
//! and mTLS private keys appear in no API answer after the one that created them, in no test-send echo, in no stored response of
//! a receiver that echoes them, and nowhere in the process's log at trace level. API keys are stored only as hashes. The real binary is run, its log captured in full.

use std::time::Duration;

use alertwire_tests::mtls_server::{MtlsServer, TestCa};
use alertwire_tests::serve_process::{
    LogSettings, ServeProcess, ServeSettings, free_port, wait_healthy,
};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::token_server::{TokenPolicy, TokenServer};
use alertwire_tests::{ApiClient, Behaviour, Receiver};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const API_KEY: &str = "secrets-test-api-key-7f3a9c0e51d2b8a4";
const SIGNING: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const AUTHORIZATION: &str = "Bearer s3cr3t-authorization-4417";
const X_API_KEY: &str = "s3cr3t-x-api-key-9921";
const COOKIE: &str = "session=s3cr3t-cookie-5530";
const CUSTOM: &str = "s3cr3t-custom-header-1208";
const TOKEN: &str = "s3cr3t-verification-token-7764";
const OAUTH_CLIENT_SECRET: &str = "s3cr3t-oauth-client-8812";
const WRONG_CLIENT_SECRET: &str = "s3cr3t-wrong-client-3390";
/// Every bearer token the token endpoint issues starts with it.
const BEARER_PREFIX: &str = "s3cr3t-bearer";
const SETTLE: Duration = Duration::from_secs(60);

/// What must never be shown: every configured secret, and the key-part of the signing secret.
fn secrets() -> Vec<&'static str> {
    vec![
        "s3cr3t-authorization-4417",
        X_API_KEY,
        "s3cr3t-cookie-5530",
        CUSTOM,
        TOKEN,
        &SIGNING[6..],
        OAUTH_CLIENT_SECRET,
        WRONG_CLIENT_SECRET,
        BEARER_PREFIX,
    ]
}

fn assert_hidden(what: &str, text: &str, also: &[&str]) {
    for secret in secrets().iter().chain(also) {
        assert!(
            !text.contains(secret),
            "{what} shows the secret `{secret}`: {text}"
        );
    }
}

async fn ok(api: &ApiClient, method: &str, path: &str, body: Option<&Value>) -> Value {
    let (status, answer) = api.call(method, path, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_echo_or_log_line_shows_a_secret() {
    let data_dir = scratch_dir("secrets");
    let log_file = data_dir.with_extension("log");
    let _ = std::fs::remove_file(&log_file);
    let settings = ServeSettings {
        api_key: API_KEY.to_string(),
        retry_delays: "10ms".to_string(),
        http_timeout_secs: 2,
        concurrency: 8,
        log: LogSettings {
            filter: "trace".into(),
            file: Some(log_file.clone()),
        },
    };
    let process = ServeProcess::start(&data_dir, free_port(), &settings);
    wait_healthy(&process.base, Duration::from_secs(30)).await;
    let api = ApiClient::new(process.base.clone(), API_KEY);

    // A receiver that echoes everything it was sent, as httpbin-style services do.
    let echoed = json!({"headers": {"authorization": AUTHORIZATION, "x-api-key": X_API_KEY,
        "cookie": COOKIE, "x-custom": CUSTOM}, "token": TOKEN, "signing": SIGNING});
    let echo = Receiver::start(Behaviour::Status(
        200,
        vec![("x-echo".into(), AUTHORIZATION.into())],
        echoed.to_string(),
    ))
    .await;
    let headers = json!({
        "Authorization": AUTHORIZATION,
        "X-Api-Key": X_API_KEY,
        "Cookie": COOKIE,
        "X-Custom": {"value": CUSTOM, "secret": true},
    });
    let mut answers: Vec<(String, Value)> = Vec::new();
    let created = ok(
        &api,
        "POST",
        "/v1/endpoints",
        Some(&json!({
            "name": "echo",
            "url": echo.url("/hook?token={{verification_token}}"),
            "headers": headers,
            "secret": SIGNING,
            "verification_token": TOKEN,
            "body": "{\"token\": \"{{verification_token}}\", \"title\": \"{{alert_title}}\"}",
        })),
    )
    .await;
    assert_eq!(created["secret"], SIGNING, "shown once, at creation");
    assert_hidden(
        "the create answer",
        &created.to_string().replace(&SIGNING[6..], ""),
        &[],
    );
    let echo_id = created["id"].as_str().unwrap().to_string();
    let closed_port = free_port();
    let unreachable = ok(
        &api,
        "POST",
        "/v1/endpoints",
        Some(&json!({
            "name": "unreachable",
            "url": format!("http://127.0.0.1:{closed_port}/x?token={{{{verification_token}}}}"),
            "headers": {"Authorization": AUTHORIZATION},
            "verification_token": TOKEN,
        })),
    )
    .await;
    answers.push(("create unreachable".into(), unreachable.clone()));
    let unreachable_id = unreachable["id"].as_str().unwrap().to_string();

    // OAuth2: a hook that echoes the bearer token it gets, and a client whose secret the token endpoint
    // repeats in its refusal.
    let tokens = TokenServer::start(TokenPolicy {
        client_id: "secrets-client".into(),
        client_secret: OAUTH_CLIENT_SECRET.into(),
        lifetime: Duration::from_secs(3600),
        token_prefix: BEARER_PREFIX.into(),
    })
    .await;
    let mut oauth_ids = Vec::new();
    for (name, client_secret) in [
        ("oauth", OAUTH_CLIENT_SECRET),
        ("oauth wrong", WRONG_CLIENT_SECRET),
    ] {
        let created = ok(
            &api,
            "POST",
            "/v1/endpoints",
            Some(&json!({"name": name, "url": tokens.hook_url(), "auth": {
                "type": "oauth2_client_credentials", "token_url": tokens.token_url(),
                "client_id": "secrets-client", "client_secret": client_secret}})),
        )
        .await;
        answers.push((format!("create {name}"), created.clone()));
        oauth_ids.push(created["id"].as_str().unwrap().to_string());
    }

    // mTLS: the private key is a secret; the receiver requires the client certificate.
    let ca = TestCa::new("secrets test CA");
    let tls_receiver = MtlsServer::start(&ca.server(), &ca).await;
    let client = ca.client("secrets-client");
    // The key's first line of base64: key material, in no PEM but the key's.
    let key_line = client.private_key_pem.lines().nth(1).unwrap().to_string();
    let created = ok(
        &api,
        "POST",
        "/v1/endpoints",
        Some(&json!({"name": "mtls", "url": tls_receiver.url("/hook"), "ca_pem": ca.certificate_pem(),
            "auth": {"type": "mtls", "certificate_pem": client.certificate_pem,
                "private_key_pem": client.private_key_pem}})),
    )
    .await;
    answers.push(("create mtls".into(), created.clone()));
    oauth_ids.push(created["id"].as_str().unwrap().to_string());

    for id in [&echo_id, &unreachable_id].into_iter().chain(&oauth_ids) {
        let view = ok(&api, "GET", &format!("/v1/endpoints/{id}"), None).await;
        answers.push((format!("GET {id}"), view.clone()));
        let replaced = ok(&api, "PUT", &format!("/v1/endpoints/{id}"), Some(&view)).await;
        answers.push((format!("PUT {id}"), replaced));
        let report = ok(&api, "POST", &format!("/v1/endpoints/{id}/test"), None).await;
        answers.push((format!("test-send {id}"), report));
    }
    answers.push(("list".into(), ok(&api, "GET", "/v1/endpoints", None).await));

    let receipt = ok(
        &api,
        "POST",
        "/v1/alerts",
        Some(&json!({"title": "secret-free"})),
    )
    .await;
    for delivery in receipt["deliveries"].as_array().unwrap() {
        let id = delivery["id"].as_str().unwrap();
        let settled = api.settled(id, SETTLE).await;
        answers.push((format!("delivery {id}"), settled));
    }
    answers.push((
        "deliveries".into(),
        ok(&api, "GET", "/v1/deliveries", None).await,
    ));
    answers.push((
        "dead letters".into(),
        ok(&api, "GET", "/v1/dead-letters", None).await,
    ));
    let rotated = ok(
        &api,
        "POST",
        &format!("/v1/endpoints/{echo_id}/rotate-secret"),
        None,
    )
    .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert_hidden(
        "the rotate answer",
        &rotated.to_string().replace(&new_secret[6..], ""),
        &[],
    );
    let view = ok(&api, "GET", &format!("/v1/endpoints/{echo_id}"), None).await;
    answers.push(("GET after rotation".into(), view));

    let echo_delivery = &answers
        .iter()
        .find(|(_, v)| v["endpoint_id"] == echo_id.as_str() && v["status"] == "delivered")
        .expect("the echo endpoint's delivery")
        .1;
    let stored_echo = echo_delivery["attempts"][0]["response_body"]
        .as_str()
        .unwrap();
    assert!(
        stored_echo.contains("********"),
        "the echo is stored, masked: {stored_echo}"
    );
    let oauth_delivery = &answers
        .iter()
        .find(|(_, v)| v["endpoint_id"] == oauth_ids[0].as_str() && v["status"] == "delivered")
        .expect("the OAuth2 endpoint's delivery")
        .1;
    assert_eq!(
        oauth_delivery["attempts"][0]["response_body"],
        r#"{"accepted":"********"}"#
    );
    assert_eq!(tokens.hook_accepted()[0], format!("{BEARER_PREFIX}-1"));
    assert!(tokens.refused_clients() > 0, "the wrong secret was tried");
    assert!(
        !tls_receiver.received().is_empty(),
        "the mTLS endpoint was delivered to"
    );
    assert!(
        answers.iter().any(|(_, v)| v["status"] == "dead"),
        "the unreachable endpoint's delivery died (its error names the URL)"
    );
    for (what, answer) in &answers {
        assert_hidden(what, &answer.to_string(), &[&new_secret[6..], &key_line]);
    }
    assert_eq!(
        echo.received()[0].header("authorization"),
        Some(AUTHORIZATION),
        "but sent they are"
    );

    process.kill();
    let log = std::fs::read_to_string(&log_file).expect("the log was written");
    assert!(
        log.contains("attempt finished"),
        "the log holds the run: {} bytes",
        log.len()
    );
    assert_hidden("the log", &log, &[&new_secret[6..], API_KEY, &key_line]);

    // API keys are stored hashed: the key itself is in no file of the data directory.
    let key_hash = hex(&Sha256::digest(API_KEY.as_bytes()));
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&data_dir).unwrap() {
        stored.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(!stored.contains(API_KEY), "the API key is stored in clear");
    assert!(stored.contains(&key_hash), "its SHA-256 is what is stored");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
