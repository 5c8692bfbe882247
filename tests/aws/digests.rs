//! Digests on the AWS path, against moto: the service on the DynamoDB store and the SQS queue, as the api
//! and deliver functions build it, and the SQS event source mapping played by the test. A storm of errors
//! to an endpoint that sends two a window one by one: the window is counted in DynamoDB, the others are
//! folded (their member items written with their alerts), and the digest's task is held by delayed
//! re-sends of it (no Lambda waits) until the window ends, then sent listing every folded alert.

use std::time::{Duration, Instant};

use alertwire_shared::delivery::DeliveryStatus;
use alertwire_shared::ports::store::{DeliveryStore, DigestStore};
use alertwire_tests::{Behaviour, Receiver};
use serde_json::json;

use crate::service_rig::Rig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_sqs_a_storm_sends_two_singles_and_a_held_digest() {
    let rig = Rig::new("digests").await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    rig.service
        .create_endpoint(
            &rig.tenant,
            &json!({"name": "pager", "url": receiver.url("/hook"),
                "digest": {"after": 2, "window_seconds": 5}}),
        )
        .await
        .expect("the endpoint");

    // WHEN six errors are accepted within the window
    let started = Instant::now();
    let mut deliveries = Vec::new();
    for n in 0..6 {
        let alert = json!({"title": format!("disk full {n}"), "incident_key": format!("disk-{n}")});
        let receipt = rig
            .service
            .accept_alert(&rig.tenant, &alert, None)
            .await
            .expect("accepted");
        deliveries.push(receipt.deliveries[0].0.clone());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the storm outlasted the window"
    );

    // THEN four are folded into one digest, written in DynamoDB with their alerts
    let mut folded = Vec::new();
    for id in &deliveries[2..] {
        let delivery = rig
            .store
            .get_delivery(&rig.tenant, id)
            .await
            .expect("read")
            .expect("stored");
        assert_eq!(delivery.status, DeliveryStatus::Filtered, "{delivery:?}");
        folded.push(delivery.digest_delivery_id.expect("linked"));
    }
    folded.dedup();
    assert_eq!(folded.len(), 1, "one digest: {folded:?}");
    let digest_id = folded.remove(0);
    let members = rig
        .store
        .digest_members(&rig.tenant, &digest_id, 100)
        .await
        .expect("read");
    assert_eq!(members.count, 4);

    // WHEN the event source mapping runs until the receiver has three requests
    let batches = rig.deliver_until(&receiver, 3).await;

    // THEN the two singles went first, and the digest only after the window, held without an attempt
    let received = receiver.received();
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "the digest went before its window ended"
    );
    let digest = received[2].json();
    assert_eq!(digest["count"], 4, "{digest}");
    let titles: Vec<&str> = digest["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["disk full 2", "disk full 3", "disk full 4", "disk full 5"]
    );
    assert_eq!(received[2].header("webhook-id"), Some(digest_id.as_str()));
    assert!(
        batches.len() >= 2,
        "the digest came back later: {batches:?}"
    );
    let digest_delivery = rig
        .store
        .get_delivery(&rig.tenant, &digest_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(digest_delivery.status, DeliveryStatus::Delivered);
    assert_eq!(
        digest_delivery.attempts.len(),
        1,
        "holding spends no attempt"
    );
}
