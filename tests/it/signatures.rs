//! Webhooks are signed per Standard Webhooks; the test checks them with its own HMAC computation.

use std::time::Duration;

use alertwire_tests::standard_webhooks::expected_signature;
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::json;

#[test]
fn the_standard_webhooks_example_verifies_with_this_check() {
    let signature = expected_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[tokio::test]
async fn every_attempt_is_signed_and_the_id_stays_the_same() {
    let server = TestServer::start().await;
    let receiver = Receiver::scripted(vec![Behaviour::status(503)], Behaviour::status(200)).await;
    let view = server
        .api
        .create_endpoint(
            &json!({"name": "signed", "url": receiver.url("/hook"), "secret": "generate"}),
        )
        .await;
    let secret = view["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let (_, read) = server
        .api
        .get(&format!("/v1/endpoints/{}", view["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        read["secret"], "whsec_********",
        "the secret is shown only at creation"
    );

    let ids = server
        .api
        .send_alert(&json!({"title": "signed alert"}))
        .await;
    server.api.settled(&ids[0], Duration::from_secs(20)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    for request in &received {
        let id = request.header("webhook-id").unwrap();
        let timestamp = request.header("webhook-timestamp").unwrap();
        assert_eq!(id, ids[0]);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((now - timestamp.parse::<i64>().unwrap()).abs() < 60);
        assert_eq!(
            request.header("webhook-signature").unwrap(),
            expected_signature(&secret, id, timestamp, &request.body)
        );
        assert!(
            request
                .header("user-agent")
                .unwrap()
                .starts_with("alertwire/")
        );
    }
}

#[tokio::test]
async fn a_given_secret_is_used_and_a_malformed_one_is_refused() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    server
        .api
        .create_endpoint(&json!({"name": "given", "url": receiver.url("/"), "secret": secret}))
        .await;
    let ids = server.api.send_alert(&json!({"title": "x"})).await;
    server.api.settled(&ids[0], Duration::from_secs(20)).await;
    let request = &receiver.received()[0];
    let expected = expected_signature(
        secret,
        request.header("webhook-id").unwrap(),
        request.header("webhook-timestamp").unwrap(),
        &request.body,
    );
    assert_eq!(request.header("webhook-signature").unwrap(), expected);

    let (status, error) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "bad", "url": receiver.url("/"), "secret": "hunter2"}),
        )
        .await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (422, Some("secret"))
    );
}
