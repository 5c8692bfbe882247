//! An incident across its messages on the AWS path, against moto: the service on the DynamoDB store and the
//! SQS queue, as the api and deliver functions build it, and the SQS event source mapping played by the
//! test. The error and the ok of an incident arrive in one batch; the ok finds the error in flight and is
//! held by a delayed re-send of its task (no Lambda waits), then goes to the ticket the error's answer
//! named, captured in DynamoDB. A maintenance window holds an error the same way until it ends, and an
//! ok sent in it keeps the resolved incident's error from going out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertwire_shared::delivery::Delivery;
use alertwire_shared::ids::{DeliveryId, EndpointId};
use alertwire_shared::ports::store::{DeliveryStore, IncidentRef, IncidentStore};
use alertwire_tests::{Behaviour, Receiver};
use serde_json::json;

use crate::service_rig::{Rig, SETTLE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_sqs_the_ok_is_held_for_its_error_and_resolves_its_ticket() {
    let rig = Rig::new("incidents").await;
    // A tracker that takes half a second to open a ticket, so the ok finds its error in flight.
    let tracker = Receiver::ruled(Arc::new(|path: &str, _: &[u8]| {
        if path == "/issues" {
            Behaviour::SlowWith(
                Duration::from_millis(500),
                json!({"id": "T-17"}).to_string(),
            )
        } else {
            Behaviour::status(200)
        }
    }))
    .await;
    let endpoint = rig
        .service
        .create_endpoint(
            &rig.tenant,
            &json!({"name": "tracker", "url": tracker.url("/issues"),
                "captures": {"ticket_id": "$.id"},
                "message_types": {"ok": {"method": "PATCH",
                    "url": tracker.url("/issues/{{captured.ticket_id}}")}}}),
        )
        .await
        .expect("the endpoint");

    // WHEN the error and the ok of incident db-1 are accepted, back to back
    let deliveries = accepted(&rig, &[("error", "db-1"), ("ok", "db-1")]).await;
    // AND the event source mapping hands the tasks to deliver until the tracker has both requests
    let batches = rig.deliver_until(&tracker, 2).await;

    // THEN the ticket was opened, then resolved by the id its answer gave
    let seen: Vec<String> = tracker
        .received()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(seen, ["POST /issues", "PATCH /issues/T-17"]);
    // AND the ok was held at least once: its task came back in a later batch than the error's
    assert!(batches.len() >= 2, "batches: {batches:?}");
    let ok = settled(&rig, &deliveries[1]).await;
    assert_eq!(ok.attempts.len(), 1, "holding spends no attempt: {ok:?}");
    // AND the incident is in the table with what was captured
    let incident = rig
        .store
        .get_incident(IncidentRef {
            tenant: &rig.tenant,
            endpoint_id: &EndpointId(endpoint.id.0.clone()),
            incident_key: "db-1",
        })
        .await
        .expect("read")
        .expect("the incident");
    assert_eq!(incident.error_delivery_id.as_ref(), Some(&deliveries[0]));
    assert_eq!(
        incident.captured.get("ticket_id").map(String::as_str),
        Some("T-17")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_sqs_a_window_holds_the_error_by_a_delayed_resend_and_the_ok_resolves_it() {
    let rig = Rig::new("maintenance").await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    rig.service
        .create_endpoint(
            &rig.tenant,
            &json!({"name": "db", "url": receiver.url("/hook")}),
        )
        .await
        .expect("the endpoint");
    let now = chrono::Utc::now();
    let end = now + chrono::Duration::seconds(3);
    rig.service
        .create_maintenance_window(
            &rig.tenant,
            &json!({"name": "upgrade", "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end": end.to_rfc3339()}),
        )
        .await
        .expect("the window");

    // WHEN two incidents fail in the window and the first is resolved in it
    let deliveries = accepted(
        &rig,
        &[("error", "db-1"), ("error", "db-2"), ("ok", "db-1")],
    )
    .await;
    // AND the event source mapping runs until the open incident's error is delivered
    rig.deliver_until(&receiver, 2).await;

    // THEN the ok went in the window, the open error after it, and the resolved one not at all
    let titles: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["title"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(titles, ["db-1 ok", "db-2 error"]);
    assert!(chrono::Utc::now() >= end);
    let resolved = settled(&rig, &deliveries[0]).await;
    assert_eq!(resolved.status.as_str(), "filtered", "{resolved:?}");
    let open = settled(&rig, &deliveries[1]).await;
    assert_eq!(
        (open.status.as_str(), open.attempts.len()),
        ("delivered", 1)
    );
}

/// WHEN alerts of these (message type, incident key) are accepted, in order: their deliveries.
async fn accepted(rig: &Rig, alerts: &[(&str, &str)]) -> Vec<DeliveryId> {
    let mut deliveries = Vec::new();
    for (message_type, key) in alerts {
        let alert = json!({"title": format!("{key} {message_type}"), "message_type": message_type,
            "incident_key": key});
        let receipt = rig
            .service
            .accept_alert(&rig.tenant, &alert, None)
            .await
            .expect("accepted");
        deliveries.push(receipt.deliveries[0].0.clone());
    }
    deliveries
}

/// The delivery once it is no longer pending.
async fn settled(rig: &Rig, id: &DeliveryId) -> Delivery {
    let deadline = Instant::now() + SETTLE;
    loop {
        let delivery = rig
            .store
            .get_delivery(&rig.tenant, id)
            .await
            .expect("read")
            .expect("stored");
        if delivery.status.as_str() != "pending" {
            return delivery;
        }
        assert!(Instant::now() < deadline, "still pending: {delivery:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
