//! The rendered body is capped at 1 MiB: a section over a huge `samples` list fails with a clear error, as a 422
//! at "Run the test" and as a render failure of the delivery, and nothing is sent.

use std::time::Duration;

use alertwire_shared::webhook::request::MAX_BODY_BYTES;
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::json;

use super::{Expected, StoreSnapshot, assert_error};

/// An alert well under the 256 KiB request limit whose samples, each repeating the title, render to ~50 MB.
fn huge_alert() -> serde_json::Value {
    json!({"title": "t".repeat(1000), "samples": vec![0; 50_000]})
}

#[tokio::test]
async fn a_render_over_the_cap_is_refused_at_test_send_and_fails_the_delivery() {
    let server = TestServer::start().await;
    let api = &server.api;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let endpoint = api
        .create_endpoint(&json!({
            "name": "samples",
            "url": receiver.url("/hook"),
            "body": "{\"lines\": [{{#alert_samples}}\"{{alert_title}}\", {{/alert_samples}} null]}"
        }))
        .await["id"]
        .as_str()
        .expect("an id")
        .to_string();
    let limit = format!("exceeds {MAX_BODY_BYTES} bytes");

    let before = StoreSnapshot::take(&server).await;
    let answer = api
        .post(&format!("/v1/endpoints/{endpoint}/test"), &huge_alert())
        .await;
    let expected = Expected {
        status: 422,
        code: "invalid_field",
        field: Some("body"),
    };
    assert_error(&answer, &expected, "test-send over the cap");
    let message = answer.1["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&limit), "{message}");
    assert_eq!(StoreSnapshot::take(&server).await, before);

    let ids = api.send_alert(&huge_alert()).await;
    let delivery = api.settled(&ids[0], Duration::from_secs(30)).await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    assert_eq!(delivery["status_reason"], "the body could not be rendered");
    let attempts = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "a render failure is not retried");
    assert_eq!(attempts[0]["error_class"], "render");
    let error = attempts[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains(&limit), "{error}");
    assert!(receiver.received().is_empty(), "something was sent");
}
