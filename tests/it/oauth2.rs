//! OAuth2 client credentials per endpoint, against a real token endpoint on 127.0.0.1 that counts the
//! tokens it issues and protects the hook alertwire delivers to: a token is fetched once and reused, a
//! token about to expire is replaced before it does, a `401` from the endpoint fetches a new token once,
//! a wrong secret fails the attempt as `auth` with the token endpoint's (scrubbed) answer, which answers
//! the attempts of the next seconds too, and a token URL the target policy refuses is refused at save and
//! never dialled at send.

use std::sync::Arc;
use std::time::Duration;

use alertwire_shared::outbound::target_policy::{PortAllowance, TargetPolicy};
use alertwire_tests::token_server::{TokenPolicy, TokenServer};
use alertwire_tests::{ApiClient, ScriptedDns, TestServer, Tripwire};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);
const CLIENT_SECRET: &str = "client-secret-5c1e7a";

fn token_policy(lifetime: Duration) -> TokenPolicy {
    TokenPolicy {
        client_id: "alertwire-client".into(),
        client_secret: CLIENT_SECRET.into(),
        lifetime,
        token_prefix: "issued-token".into(),
    }
}

fn oauth2_endpoint(tokens: &TokenServer, secret: &str, client_auth: &str) -> Value {
    json!({"name": "protected", "url": tokens.hook_url(), "auth": {
        "type": "oauth2_client_credentials", "token_url": tokens.token_url(),
        "client_id": "alertwire-client", "client_secret": secret, "scope": "alerts:write",
        "audience": "https://api.example.com", "client_auth": client_auth}})
}

/// Posts an alert and waits until its one delivery settles.
async fn deliver(api: &ApiClient, title: &str) -> Value {
    let ids = api.send_alert(&json!({"title": title})).await;
    assert_eq!(ids.len(), 1);
    api.settled(&ids[0], SETTLE).await
}

fn assert_delivered_at_once(delivery: &Value) {
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(
        delivery["attempts"].as_array().map(Vec::len),
        Some(1),
        "{delivery}"
    );
}

#[tokio::test]
async fn one_token_serves_every_delivery_until_it_is_refused_and_each_form_is_right() {
    let tokens = TokenServer::start(token_policy(Duration::from_secs(3600))).await;
    let server = TestServer::start().await;
    let api = &server.api;
    let view = api
        .create_endpoint(&oauth2_endpoint(&tokens, CLIENT_SECRET, "basic"))
        .await;
    assert_eq!(view["auth"][0]["client_secret"], "********", "{view}");
    assert_eq!(view["auth"][0]["client_id"], "alertwire-client");

    // Eight alerts at once: the concurrent attempts wait for one fetch.
    let mut ids = Vec::new();
    for n in 0..8 {
        ids.extend(
            api.send_alert(&json!({"title": format!("storm {n}")}))
                .await,
        );
    }
    for id in &ids {
        let delivery = api.settled(id, SETTLE).await;
        assert_delivered_at_once(&delivery);
        let echoed = delivery["attempts"][0]["response_body"].as_str().unwrap();
        assert_eq!(
            echoed, r#"{"accepted":"********"}"#,
            "the token echoed back"
        );
    }
    assert_eq!(tokens.issued(), 1, "one token for eight deliveries");
    assert!(tokens.hook_accepted().iter().all(|t| t == "issued-token-1"));
    let forms = tokens.token_forms();
    let fields: Vec<&str> = forms[0].iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(fields, ["grant_type", "scope", "audience"], "basic auth");
    assert_eq!(forms[0][1].1, "alerts:write");
    assert_eq!(forms[0][2].1, "https://api.example.com");

    // The identity provider revokes its tokens: the hook answers 401, alertwire drops the token and
    // tries once more with a new one, within the same attempt.
    tokens.revoke_all();
    assert_delivered_at_once(&deliver(api, "after revocation").await);
    assert_eq!(tokens.issued(), 2);
    assert_eq!(tokens.hook_refusals(), 1);
    assert_eq!(tokens.hook_accepted().last().unwrap(), "issued-token-2");

    // `body` client authentication sends the id and secret in the form instead.
    let id = view["id"].as_str().unwrap();
    let mut replaced = oauth2_endpoint(&tokens, "********", "body");
    replaced["name"] = json!("protected, body auth");
    let (status, answer) = api.put(&format!("/v1/endpoints/{id}"), &replaced).await;
    assert_eq!(status, 200, "{answer}");
    assert_delivered_at_once(&deliver(api, "body auth").await);
    assert_eq!(tokens.issued(), 3, "new credentials, new token");
    let last = tokens.token_forms().pop().unwrap();
    assert!(last.contains(&("client_id".into(), "alertwire-client".into())));
    assert!(last.contains(&("client_secret".into(), CLIENT_SECRET.into())));
}

#[tokio::test]
async fn a_token_is_replaced_shortly_before_it_expires() {
    // A 4 s token is used for 3 s (a quarter of its life is kept as the margin).
    let tokens = TokenServer::start(token_policy(Duration::from_secs(4))).await;
    let server = TestServer::start().await;
    let api = &server.api;
    api.create_endpoint(&oauth2_endpoint(&tokens, CLIENT_SECRET, "basic"))
        .await;
    assert_delivered_at_once(&deliver(api, "first").await);
    assert_delivered_at_once(&deliver(api, "soon after").await);
    assert_eq!(tokens.issued(), 1);
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_delivered_at_once(&deliver(api, "after expiry").await);
    assert_eq!(tokens.issued(), 2);
    assert_eq!(
        tokens.hook_refusals(),
        0,
        "an expired token was never presented"
    );
}

#[tokio::test]
async fn a_wrong_secret_fails_each_attempt_as_auth_with_the_token_endpoints_answer_scrubbed() {
    let tokens = TokenServer::start(token_policy(Duration::from_secs(3600))).await;
    let server = TestServer::start().await;
    let api = &server.api;
    let wrong = "wrong-secret-90f3d2";
    api.create_endpoint(&oauth2_endpoint(&tokens, wrong, "basic"))
        .await;
    let delivery = deliver(api, "never authorised").await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    let attempts = delivery["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 10);
    for attempt in attempts {
        assert_eq!(attempt["error_class"], "auth", "{attempt}");
        assert_eq!(attempt["status_code"], 401, "{attempt}");
        let error = attempt["error"].as_str().unwrap();
        assert!(error.contains("token endpoint answered 401"), "{error}");
        let body = attempt["response_body"].as_str().unwrap();
        assert!(body.contains("invalid_client"), "{body}");
        assert!(
            !body.contains(wrong) && body.contains("********"),
            "the secret the token endpoint repeated is masked: {body}"
        );
    }
    // The refusal answers the attempts of the next few seconds: the token endpoint is not asked ten times.
    let asked = tokens.refused_clients();
    assert!((1..10).contains(&asked), "asked {asked} times");
    assert!(tokens.hook_accepted().is_empty());
    assert_eq!(
        tokens.hook_refusals(),
        0,
        "no request went out without a token"
    );
}

#[tokio::test]
async fn the_token_url_passes_the_target_policy_at_save_and_at_send() {
    let tokens = TokenServer::start(token_policy(Duration::from_secs(3600))).await;
    let server = TestServer::start().await;
    for (token_url, says) in [
        ("http://169.254.169.254/latest/api/token", "metadata"),
        ("http://10.20.30.40/oauth/token", "private"),
        ("http:///oauth/token", "not valid"),
    ] {
        let mut endpoint = oauth2_endpoint(&tokens, CLIENT_SECRET, "basic");
        endpoint["auth"]["token_url"] = json!(token_url);
        let (status, body) = server.api.post("/v1/endpoints", &endpoint).await;
        assert_eq!(status, 422, "{token_url}: {body}");
        assert_eq!(body["error"]["field"], "auth.token_url", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{token_url}: {message}");
    }
    // The sender sets Authorization itself.
    let mut doubled = oauth2_endpoint(&tokens, CLIENT_SECRET, "basic");
    doubled["headers"] = json!({"Authorization": "Bearer static"});
    let (status, body) = server.api.post("/v1/endpoints", &doubled).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "headers.Authorization", "{body}");

    // A name that passes at save but resolves to a loopback address when dialled: refused, not dialled.
    let dns = ScriptedDns::new();
    let strict = TestServer::with_resolver(
        |c| c.policy = TargetPolicy::strict().with_allowed_ports(PortAllowance::Any),
        Arc::new(dns.clone()),
    )
    .await;
    let tripwire = Tripwire::bind("127.0.0.1").await;
    let port = tripwire.port();
    dns.set("idp.rebind.example", &["127.0.0.1"]);
    dns.set("hooks.rebind.example", &["127.0.0.1"]);
    strict
        .api
        .create_endpoint(
            &json!({"name": "rebound", "url": format!("http://hooks.rebind.example:{port}/hook"),
            "auth": {"type": "oauth2_client_credentials",
                "token_url": format!("http://idp.rebind.example:{port}/oauth/token"),
                "client_id": "c", "client_secret": "s"}}),
        )
        .await;
    let delivery = deliver(&strict.api, "rebound").await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    for attempt in delivery["attempts"].as_array().unwrap() {
        assert_eq!(attempt["error_class"], "auth", "{attempt}");
        let error = attempt["error"].as_str().unwrap();
        assert!(error.contains("loopback"), "{error}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(tripwire.connections(), 0, "nothing was dialled");
}
