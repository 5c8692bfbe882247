//! An incident across its messages on the AWS path, against moto: the service on the DynamoDB store and the
//! SQS queue, as the api and deliver functions build it, and the SQS event source mapping played by the
//! test. The error and the ok of an incident arrive in one batch; the ok finds the error in flight and is
//! held by a delayed re-send of its task (no Lambda waits), then goes to the ticket the error's answer
//! named, captured in DynamoDB. A maintenance window holds an error the same way until it ends, and an
//! ok sent in it keeps the resolved incident's error from going out.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertwire_shared::aws::dynamodb::{DEFAULT_RECORD_TTL, DynamoStore, create_table};
use alertwire_shared::aws::lambda::deliver_batch::deliver_batch;
use alertwire_shared::aws::load_sdk_config;
use alertwire_shared::delivery::retry_policy::RetryPolicy;
use alertwire_shared::ids::{DeliveryId, EndpointId, TenantId};
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::ports::store::{DeliveryStore, IncidentRef, IncidentStore};
use alertwire_shared::sealing::LocalSealer;
use alertwire_shared::service::{Ports, Service};
use alertwire_tests::server::loopback_policy;
use alertwire_tests::{Behaviour, Receiver};
use serde_json::json;

use crate::queue_conformance::backends::Sqs;

const SETTLE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_sqs_the_ok_is_held_for_its_error_and_resolves_its_ticket() {
    let sqs = Sqs::with_visibility("incidents", Duration::from_secs(30)).await;
    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    let table = format!("incidents-{}", TenantId::generate().0.replace("tn_", ""));
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("cannot create the table {table}: {e}"));
    let store = DynamoStore::new(
        client,
        table,
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let ports = Ports::on_one_store(store.clone(), Arc::new(sqs.queue.clone()));
    let sender =
        HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(5)).expect("a client");
    let service = Service::new(ports, sender, RetryPolicy::parse("0ms").expect("delays"));
    let tenant = TenantId::generate();
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
    let endpoint = service
        .create_endpoint(
            &tenant,
            &json!({"name": "tracker", "url": tracker.url("/issues"),
                "captures": {"ticket_id": "$.id"},
                "message_types": {"ok": {"method": "PATCH",
                    "url": tracker.url("/issues/{{captured.ticket_id}}")}}}),
        )
        .await
        .expect("the endpoint");

    // WHEN the error and the ok of incident db-1 are accepted, back to back
    let mut deliveries = Vec::new();
    for message_type in ["error", "ok"] {
        let alert =
            json!({"title": "db-1 down", "message_type": message_type, "incident_key": "db-1"});
        let receipt = service
            .accept_alert(&tenant, &alert, None)
            .await
            .expect("accepted");
        deliveries.push(receipt.deliveries[0].0.clone());
    }
    // AND the event source mapping hands the tasks to deliver until the tracker has both requests
    let deadline = Instant::now() + SETTLE;
    let mut batches = Vec::new();
    while tracker.received().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the ok never went: {:?}",
            tracker.received()
        );
        let records = sqs.receive_batch().await;
        if records.is_empty() {
            continue;
        }
        batches.push(records.len());
        let failed = deliver_batch(&service, &sqs.queue, records.clone()).await;
        sqs.delete_finished(&records, &failed).await;
    }

    // THEN the ticket was opened, then resolved by the id its answer gave
    let seen: Vec<String> = tracker
        .received()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(seen, ["POST /issues", "PATCH /issues/T-17"]);
    // AND the ok was held at least once: its task came back in a later batch than the error's
    assert!(batches.len() >= 2, "batches: {batches:?}");
    let ok = settled(&store, &tenant, &deliveries[1]).await;
    assert_eq!(ok.attempts.len(), 1, "holding spends no attempt: {ok:?}");
    // AND the incident is in the table with what was captured
    let incident = store
        .get_incident(IncidentRef {
            tenant: &tenant,
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

/// The delivery once it is no longer pending.
async fn settled(
    store: &DynamoStore,
    tenant: &TenantId,
    id: &DeliveryId,
) -> alertwire_shared::delivery::Delivery {
    let deadline = Instant::now() + SETTLE;
    loop {
        let delivery = store
            .get_delivery(tenant, id)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_sqs_a_window_holds_the_error_by_a_delayed_resend_and_the_ok_resolves_it() {
    let sqs = Sqs::with_visibility("maintenance", Duration::from_secs(30)).await;
    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    let table = format!("maintenance-{}", TenantId::generate().0.replace("tn_", ""));
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("cannot create the table {table}: {e}"));
    let store = DynamoStore::new(
        client,
        table,
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let ports = Ports::on_one_store(store.clone(), Arc::new(sqs.queue.clone()));
    let sender =
        HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(5)).expect("a client");
    let service = Service::new(ports, sender, RetryPolicy::parse("0ms").expect("delays"));
    let tenant = TenantId::generate();
    let receiver = Receiver::start(Behaviour::status(200)).await;
    service
        .create_endpoint(
            &tenant,
            &json!({"name": "db", "url": receiver.url("/hook")}),
        )
        .await
        .expect("the endpoint");
    let now = chrono::Utc::now();
    let end = now + chrono::Duration::seconds(3);
    service
        .create_maintenance_window(
            &tenant,
            &json!({"name": "upgrade", "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end": end.to_rfc3339()}),
        )
        .await
        .expect("the window");

    // WHEN two incidents fail in the window and the first is resolved in it
    let mut deliveries = Vec::new();
    for (message_type, key) in [("error", "db-1"), ("error", "db-2"), ("ok", "db-1")] {
        let alert = json!({"title": format!("{key} {message_type}"), "message_type": message_type,
            "incident_key": key});
        let receipt = service
            .accept_alert(&tenant, &alert, None)
            .await
            .expect("accepted");
        deliveries.push(receipt.deliveries[0].0.clone());
    }
    // AND the event source mapping runs until the open incident's error is delivered
    let deadline = Instant::now() + SETTLE;
    while receiver.received().len() < 2 {
        assert!(Instant::now() < deadline, "{:?}", receiver.received());
        let records = sqs.receive_batch().await;
        if records.is_empty() {
            continue;
        }
        let failed = deliver_batch(&service, &sqs.queue, records.clone()).await;
        sqs.delete_finished(&records, &failed).await;
    }

    // THEN the ok went in the window, the open error after it, and the resolved one not at all
    let titles: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["title"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(titles, ["db-1 ok", "db-2 error"]);
    assert!(chrono::Utc::now() >= end);
    let resolved = settled(&store, &tenant, &deliveries[0]).await;
    assert_eq!(resolved.status.as_str(), "filtered", "{resolved:?}");
    let open = settled(&store, &tenant, &deliveries[1]).await;
    assert_eq!(
        (open.status.as_str(), open.attempts.len()),
        ("delivered", 1)
    );
}
