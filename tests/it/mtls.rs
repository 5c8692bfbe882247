//! mTLS per endpoint, against a real HTTPS receiver on 127.0.0.1 that requires a client certificate from a
//! CA made in the test: the endpoint trusts the receiver's private CA through `ca_pem`, presents its
//! client certificate, and is delivered; without a certificate, with one from another CA, or without
//! `ca_pem`, nothing reaches the receiver. At save, a certificate that is expired, a key that is not its
//! own and PEM that does not parse are each a `422` naming the field. OAuth2 and mTLS go together.

use std::time::Duration;

use alertwire_tests::mtls_server::{MtlsServer, TestCa};
use alertwire_tests::token_server::{TokenPolicy, TokenServer};
use alertwire_tests::{ApiClient, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);

/// Posts an alert and waits until its one delivery settles.
async fn deliver(api: &ApiClient, title: &str) -> Value {
    let ids = api.send_alert(&json!({"title": title})).await;
    assert_eq!(ids.len(), 1);
    api.settled(&ids[0], SETTLE).await
}

#[tokio::test]
async fn the_right_client_certificate_is_accepted_and_a_missing_or_wrong_one_is_not() {
    let ca = TestCa::new("alertwire test CA");
    let stranger = TestCa::new("another CA");
    let receiver = MtlsServer::start(&ca.server(), &ca).await;
    let client = ca.client("alertwire-client");
    let server = TestServer::start().await;
    let api = &server.api;
    let mtls = |issued: &alertwire_tests::mtls_server::Issued| {
        json!({"type": "mtls", "certificate_pem": issued.certificate_pem,
            "private_key_pem": issued.private_key_pem})
    };

    // The right certificate, and the receiver's CA trusted for this endpoint only.
    let view = api
        .create_endpoint(&json!({"name": "mtls", "url": receiver.url("/hook"),
            "ca_pem": ca.certificate_pem(), "auth": mtls(&client)}))
        .await;
    assert_eq!(view["auth"][0]["private_key_pem"], "********", "{view}");
    assert_eq!(view["auth"][0]["certificate_pem"], client.certificate_pem);
    assert!(view["auth"][0]["not_after"].is_string(), "{view}");
    assert_eq!(view["ca_pem"], ca.certificate_pem());
    let delivered = deliver(api, "with the right certificate").await;
    assert_eq!(delivered["status"], "delivered", "{delivered}");
    assert_eq!(delivered["attempts"].as_array().unwrap().len(), 1);
    let seen = receiver.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].client_certificate.as_deref(), Some(&client.der[..]));

    // A replace sending the key back masked keeps it.
    let id = view["id"].as_str().unwrap();
    let (status, replaced) = api.put(&format!("/v1/endpoints/{id}"), &view).await;
    assert_eq!(status, 200, "{replaced}");
    let again = deliver(api, "after a replace").await;
    assert_eq!(again["status"], "delivered", "{again}");

    // No certificate, one from another CA, or the receiver's CA not trusted: nothing gets through.
    let stranger_client = stranger.client("alertwire-client");
    // The receiver refuses a certificate after the client's side of a TLS 1.3 handshake is done: its alert
    // (`tls`) can lose the race with the connection's reset (`connect`). The client refuses the server
    // itself, so that is always `tls`.
    let cases = [
        (
            "no certificate",
            json!({"ca_pem": ca.certificate_pem()}),
            &["tls", "connect"][..],
        ),
        (
            "another CA's certificate",
            json!({"ca_pem": ca.certificate_pem(), "auth": mtls(&stranger_client)}),
            &["tls", "connect"][..],
        ),
        (
            "the CA not trusted",
            json!({"auth": mtls(&client)}),
            &["tls"][..],
        ),
    ];
    for (case, settings, classes) in cases {
        let (status, body) = api.delete(&format!("/v1/endpoints/{id}")).await;
        assert!(status == 204 || status == 404, "{body}");
        let mut endpoint = json!({"name": case, "url": receiver.url("/hook")});
        for (name, value) in settings.as_object().unwrap() {
            endpoint[name] = value.clone();
        }
        let created = api.create_endpoint(&endpoint).await;
        let delivery = deliver(api, case).await;
        assert_eq!(delivery["status"], "dead", "{case}: {delivery}");
        let first = &delivery["attempts"][0];
        let class = first["error_class"].as_str().unwrap_or_default();
        assert!(classes.contains(&class), "{case}: {first}");
        assert_eq!(
            receiver.received().len(),
            2,
            "{case}: nothing reached the receiver"
        );
        let (status, body) = api
            .delete(&format!(
                "/v1/endpoints/{}",
                created["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(status, 204, "{body}");
    }
    assert!(receiver.refused_handshakes() > 0);
}

#[tokio::test]
async fn a_certificate_that_is_expired_not_its_keys_or_not_pem_is_refused_at_save() {
    let ca = TestCa::new("alertwire test CA");
    let client = ca.client("alertwire-client");
    let other = ca.client("someone else");
    let expired = ca.expired_client("alertwire-client");
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"type": "mtls", "certificate_pem": expired.certificate_pem,
                "private_key_pem": expired.private_key_pem}),
            None,
            "auth.certificate_pem",
            "expired on 2021-01-01",
        ),
        (
            json!({"type": "mtls", "certificate_pem": client.certificate_pem,
                "private_key_pem": other.private_key_pem}),
            None,
            "auth.private_key_pem",
            "does not match the certificate",
        ),
        (
            json!({"type": "mtls", "certificate_pem": "not a certificate",
                "private_key_pem": client.private_key_pem}),
            None,
            "auth.certificate_pem",
            "no PEM certificate",
        ),
        (
            json!({"type": "mtls", "certificate_pem": client.certificate_pem,
                "private_key_pem": client.certificate_pem}),
            None,
            "auth.private_key_pem",
            "no PEM private key",
        ),
        (
            json!({"type": "mtls", "certificate_pem": client.certificate_pem,
                "private_key_pem": "********"}),
            None,
            "auth.private_key_pem",
            "masked but no earlier value",
        ),
        (
            Value::Null,
            Some(json!(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            )),
            "ca_pem",
            "not a valid X.509 certificate",
        ),
    ];
    for (auth, ca_pem, field, says) in cases {
        let mut endpoint = json!({"name": "refused", "url": "https://hooks.example.com/in",
            "auth": auth});
        if let Some(ca_pem) = ca_pem {
            endpoint["ca_pem"] = ca_pem;
        }
        let (status, body) = server.api.post("/v1/endpoints", &endpoint).await;
        assert_eq!(status, 422, "{field}: {body}");
        assert_eq!(body["error"]["field"], field, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{field}: {message}");
        assert!(
            !message.contains("PRIVATE KEY"),
            "no key in the error: {message}"
        );
    }
    let (_, list) = server.api.get("/v1/endpoints").await;
    assert_eq!(list["endpoints"], json!([]), "nothing half-written");
}

#[tokio::test]
async fn oauth2_and_mtls_together_present_the_certificate_and_the_token() {
    let ca = TestCa::new("alertwire test CA");
    let receiver = MtlsServer::start(&ca.server(), &ca).await;
    let client = ca.client("alertwire-client");
    let tokens = TokenServer::start(TokenPolicy {
        client_id: "both".into(),
        client_secret: "both-secret".into(),
        lifetime: Duration::from_secs(3600),
        token_prefix: "both-token".into(),
    })
    .await;
    let server = TestServer::start().await;
    server
        .api
        .create_endpoint(&json!({"name": "both", "url": receiver.url("/hook"),
            "ca_pem": ca.certificate_pem(), "auth": [
                {"type": "oauth2_client_credentials", "token_url": tokens.token_url(),
                 "client_id": "both", "client_secret": "both-secret"},
                {"type": "mtls", "certificate_pem": client.certificate_pem,
                 "private_key_pem": client.private_key_pem}]}))
        .await;
    let delivery = deliver(&server.api, "both").await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    let seen = receiver.received();
    assert_eq!(seen[0].client_certificate.as_deref(), Some(&client.der[..]));
    assert_eq!(
        seen[0].header("authorization").as_deref(),
        Some("Bearer both-token-1")
    );
}
