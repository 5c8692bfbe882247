//! Rotating a signing secret: the new secret is shown once; the old one keeps signing beside it (both
//! signatures in `webhook-signature`, space-separated, as Standard Webhooks allows) for the grace period,
//! and never appears in an answer again.

use std::time::Duration;

use alertwire_tests::standard_webhooks::verifies;
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(30);
const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEWER: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[tokio::test]
async fn the_old_secret_signs_beside_the_new_one_during_the_grace_period() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "rotating", "url": receiver.url("/"), "secret": OLD}))
        .await;
    let id = view["id"].as_str().unwrap();

    let (status, rotated) = server
        .api
        .post(&format!("/v1/endpoints/{id}/rotate-secret"), &json!({}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_string();
    assert!(new_secret.starts_with("whsec_") && new_secret != OLD);
    assert!(!rotated.to_string().contains(&OLD[6..]), "{rotated}");
    assert_eq!(rotated["retiring_secrets"][0]["secret"], "whsec_********");
    let (_, read) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    let shown = read.to_string();
    assert!(
        !shown.contains(&OLD[6..]) && !shown.contains(&new_secret[6..]),
        "{shown}"
    );

    let ids = server.api.send_alert(&json!({"title": "during"})).await;
    server.api.settled(&ids[0], SETTLE).await;
    let request = &receiver.received()[0];
    let signatures = request.header("webhook-signature").unwrap();
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(verifies(&new_secret, request), "the new secret verifies");
    assert!(verifies(OLD, request), "the old secret still verifies");

    // A second rotation without grace drops the secret it replaces at once; the first one's grace goes on.
    let (status, again) = server
        .api
        .post(
            &format!("/v1/endpoints/{id}/rotate-secret"),
            &json!({"secret": NEWER, "grace_period_seconds": 0}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["secret"], NEWER);
    let ids = server.api.send_alert(&json!({"title": "after"})).await;
    server.api.settled(&ids[0], SETTLE).await;
    let request = &receiver.received()[1];
    assert!(verifies(NEWER, request));
    assert!(verifies(OLD, request), "still within its own grace period");
    assert!(
        !verifies(&new_secret, request),
        "replaced without grace: no longer signs"
    );
}

#[tokio::test]
async fn a_bad_rotation_request_names_the_field_and_changes_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "kept", "url": receiver.url("/"), "secret": OLD}))
        .await;
    let id = view["id"].as_str().unwrap();
    let path = format!("/v1/endpoints/{id}/rotate-secret");
    let (_, before) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    for (body, field) in [
        (json!({"secret": "hunter2"}), "secret"),
        (
            json!({"grace_period_seconds": 8 * 86_400}),
            "grace_period_seconds",
        ),
        (json!({"grace_period_seconds": -1}), "grace_period_seconds"),
        (
            json!({"grace_period_seconds": "1h"}),
            "grace_period_seconds",
        ),
        (json!({"secrets": "generate"}), "secrets"),
        (json!(["generate"]), ""),
    ] {
        let (status, error) = server.api.post(&path, &body).await;
        assert_eq!(
            (status, error["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {error}"
        );
    }
    let (_, after) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(before, after);
    let ids = server.api.send_alert(&json!({"title": "x"})).await;
    server.api.settled(&ids[0], SETTLE).await;
    let request = &receiver.received()[0];
    assert_eq!(
        request
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        1
    );
    assert!(verifies(OLD, request));
}
