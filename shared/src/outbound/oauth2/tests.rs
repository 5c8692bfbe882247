use std::sync::Arc;

use tokio::net::TcpListener;

use super::*;
use crate::outbound::target_policy::loopback_fixture::{
    FakeResolver, install_crypto_provider, serve_once,
};
use crate::outbound::target_policy::{PortAllowance, guarded_client_builder};

fn loopback_policy() -> Arc<TargetPolicy> {
    Arc::new(
        TargetPolicy::strict()
            .with_allowed_networks(vec!["127.0.0.0/8".parse().unwrap()])
            .with_allowed_ports(PortAllowance::Any),
    )
}

fn client(policy: &Arc<TargetPolicy>, resolver: FakeResolver) -> reqwest::Client {
    install_crypto_provider();
    guarded_client_builder(policy.clone(), Arc::new(resolver))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn grant(token_url: String, client_auth: ClientAuthentication) -> TokenGrant {
    TokenGrant {
        endpoint_id: EndpointId::from("ep_1"),
        credentials: OAuth2ClientCredentials {
            token_url,
            client_id: "alert wire".into(),
            client_secret: "s3cr:t&x".into(),
            scope: Some("alerts:write".into()),
            audience: Some("https://api.example.com".into()),
            client_auth,
        },
    }
}

fn answer(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    (listener, url)
}

#[tokio::test]
async fn basic_auth_form_encodes_the_credentials_and_the_token_is_cached() {
    let policy = loopback_policy();
    let client = client(&policy, FakeResolver::new());
    let (listener, url) = listener().await;
    let served = tokio::spawn(serve_once(
        listener,
        answer(
            "200 OK",
            r#"{"access_token":"tok-1","token_type":"bearer","expires_in":"3600"}"#,
        ),
    ));
    let cache = TokenCache::default();
    let grant = grant(url, ClientAuthentication::Basic);
    let token = cache.token(&client, &policy, &grant).await.unwrap();
    assert_eq!(token.expose(), "tok-1");
    let request = served.await.unwrap().unwrap();
    // "alert wire" and "s3cr:t&x" form-encoded, then joined and base64-encoded (RFC 6749 §2.3.1).
    let expected = base64::engine::general_purpose::STANDARD.encode("alert+wire:s3cr%3At%26x");
    assert!(
        request.contains(&format!("authorization: Basic {expected}")),
        "{request}"
    );
    assert!(request.ends_with(
        "grant_type=client_credentials&scope=alerts%3Awrite&audience=https%3A%2F%2Fapi.example.com"
    ));
    // The listener is gone: a second fetch would fail, the cached token answers.
    let again = cache.token(&client, &policy, &grant).await.unwrap();
    assert_eq!(again.expose(), "tok-1");
}

/// Two handles on one loopback socket: a second fetch to the same token URL finds it listening.
async fn listener_twice() -> (TcpListener, TcpListener, String) {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let url = format!("http://{}/oauth/token", socket.local_addr().unwrap());
    let again = socket.try_clone().unwrap();
    (
        TcpListener::from_std(socket).unwrap(),
        TcpListener::from_std(again).unwrap(),
        url,
    )
}

#[tokio::test]
async fn body_auth_puts_the_credentials_in_the_form_and_a_forgotten_token_is_fetched_again() {
    let policy = loopback_policy();
    let client = client(&policy, FakeResolver::new());
    let (first_listener, second_listener, url) = listener_twice().await;
    let grant = grant(url, ClientAuthentication::Body);
    let cache = TokenCache::default();
    let served = tokio::spawn(serve_once(
        first_listener,
        answer(
            "200 OK",
            r#"{"access_token":"tok-1","token_type":"Bearer"}"#,
        ),
    ));
    let first = cache.token(&client, &policy, &grant).await.unwrap();
    let request = served.await.unwrap().unwrap();
    assert!(!request.contains("authorization:"), "{request}");
    assert!(request.ends_with("&client_id=alert+wire&client_secret=s3cr%3At%26x"));

    let served = tokio::spawn(serve_once(
        second_listener,
        answer(
            "200 OK",
            r#"{"access_token":"tok-2","token_type":"Bearer"}"#,
        ),
    ));
    cache.forget(&grant, &first).await;
    let second = cache.token(&client, &policy, &grant).await.unwrap();
    assert_eq!(second.expose(), "tok-2");
    served.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_failed_fetch_answers_the_next_attempts_without_asking_again() {
    let policy = loopback_policy();
    let client = client(&policy, FakeResolver::new());
    let (listener, url) = listener().await;
    let served = tokio::spawn(serve_once(
        listener,
        answer(
            "503 Service Unavailable",
            r#"{"error":"temporarily_unavailable"}"#,
        ),
    ));
    let cache = TokenCache::default();
    let grant = grant(url, ClientAuthentication::Basic);
    let first = cache.token(&client, &policy, &grant).await.unwrap_err();
    served.await.unwrap().unwrap();
    // The listener is gone: asking again would fail to connect, not repeat the 503.
    let again = cache.token(&client, &policy, &grant).await.unwrap_err();
    assert_eq!(again.status(), Some(503), "{again}");
    assert_eq!(first.to_string(), again.to_string());
}

#[tokio::test]
async fn an_expires_in_that_is_no_number_of_seconds_gets_the_default_lifetime() {
    let policy = loopback_policy();
    let client = client(&policy, FakeResolver::new());
    for expires_in in [r#""NaN""#, "-5", "1e300", r#""soon""#] {
        let (listener, url) = listener().await;
        let body =
            format!(r#"{{"access_token":"tok","token_type":"Bearer","expires_in":{expires_in}}}"#);
        let served = tokio::spawn(serve_once(listener, answer("200 OK", &body)));
        let token = TokenCache::default()
            .token(&client, &policy, &grant(url, ClientAuthentication::Basic))
            .await
            .unwrap_or_else(|e| panic!("{expires_in}: {e}"));
        served.await.unwrap().unwrap();
        assert!(token.usable(), "{expires_in}");
    }
}

#[tokio::test]
async fn a_refusal_that_repeats_the_credentials_keeps_none_of_them() {
    let policy = loopback_policy();
    let client = client(&policy, FakeResolver::new());
    let (listener, url) = listener().await;
    let grant = grant(url, ClientAuthentication::Basic);
    let basic = basic_authorization("alert wire", "s3cr:t&x");
    let echo = format!(
        r#"{{"error":"invalid_client","got":"{basic}","form":"client_secret=s3cr%3At%26x","raw":"s3cr:t&x"}}"#
    );
    let served = tokio::spawn(serve_once(listener, answer("401 Unauthorized", &echo)));
    let error = TokenCache::default()
        .token(&client, &policy, &grant)
        .await
        .unwrap_err();
    served.await.unwrap().unwrap();
    let (body, _) = error.body().expect("the refusal is kept");
    assert_eq!(
        body,
        r#"{"error":"invalid_client","got":"Basic ********","form":"client_secret=********","raw":"********"}"#
    );
}

#[tokio::test]
async fn a_refusal_keeps_the_status_and_body_and_an_unusable_answer_keeps_no_body() {
    let policy = loopback_policy();
    let client = client(&policy, FakeResolver::new());
    let cases = [
        (
            answer("401 Unauthorized", r#"{"error":"invalid_client"}"#),
            Some(401),
            Some(r#"{"error":"invalid_client"}"#),
        ),
        (
            answer("200 OK", r#"{"access_token":"tok-9","token_type":"mac"}"#),
            Some(200),
            None,
        ),
        (
            answer("200 OK", r#"{"access_token":"a\nb","token_type":"bearer"}"#),
            Some(200),
            None,
        ),
        (answer("200 OK", "<html>"), Some(200), None),
    ];
    for (response, status, body) in cases {
        let (listener, url) = listener().await;
        let served = tokio::spawn(serve_once(listener, response));
        let error = TokenCache::default()
            .token(&client, &policy, &grant(url, ClientAuthentication::Basic))
            .await
            .unwrap_err();
        served.await.unwrap().unwrap();
        assert_eq!(error.status(), status, "{error}");
        assert_eq!(error.body().map(|(b, _)| b), body, "{error}");
    }
}

#[tokio::test]
async fn a_token_url_whose_name_resolves_to_a_private_address_is_never_dialled() {
    let policy = loopback_policy();
    let resolver = FakeResolver::new().answer("idp.example.com", &["10.0.0.7"]);
    let client = client(&policy, resolver);
    let grant = grant(
        "http://idp.example.com/oauth/token".into(),
        ClientAuthentication::Basic,
    );
    let error = TokenCache::default()
        .token(&client, &policy, &grant)
        .await
        .unwrap_err();
    assert!(matches!(error, TokenError::NotAllowed(_)), "{error}");
    let literal = grant_with_url("http://169.254.169.254/token");
    let error = TokenCache::default()
        .token(&client, &policy, &literal)
        .await
        .unwrap_err();
    assert!(matches!(error, TokenError::NotAllowed(_)), "{error}");
}

fn grant_with_url(url: &str) -> TokenGrant {
    grant(url.into(), ClientAuthentication::Basic)
}

#[test]
fn a_changed_secret_or_scope_is_another_cache_entry() {
    let base = grant_with_url("https://idp.example.com/token");
    let mut other_secret = base.clone();
    other_secret.credentials.client_secret = "rotated".into();
    let mut other_scope = base.clone();
    other_scope.credentials.scope = None;
    let mut other_endpoint = base.clone();
    other_endpoint.endpoint_id = EndpointId::from("ep_2");
    let keys: std::collections::HashSet<String> =
        [&base, &other_secret, &other_scope, &other_endpoint]
            .iter()
            .map(|g| g.cache_key())
            .collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(base.cache_key(), base.clone().cache_key());
    assert!(!format!("{base:?}").contains("s3cr"), "{base:?}");
}
