//! The chaos run's `[1, 1, 2]`, reproduced step by step on both stores: two copies of one delivery's task
//! (the first copy's lease ran out while its attempt was in flight, so the queue handed the task out
//! again) both read the delivery before either records anything, so both make attempt 1. A receiver on
//! 127.0.0.1 holds each request until the test lets it answer, which fixes the order: both copies in
//! flight, then the first records, then the second. The second copy's record is refused (the check in the
//! write, and under it the store's own constraint: SQLite's unique index `attempts_once`, DynamoDB's
//! attempt key of run and number), so the delivery holds attempt 1 once, although two requests were sent.
//!
//! A crash between an attempt's record and its task's next lease cannot make a second record: the task
//! that comes back reads attempt 1 recorded and makes attempt 2 (`embedded::recovery`'s tests show it).

use std::sync::Arc;
use std::time::Duration;

use alertwire_shared::delivery::DeliveryStatus;
use alertwire_shared::embedded::{Database, EmbeddedQueue, QueueSettings};
use alertwire_shared::ids::{DeliveryId, TenantId};
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::ports::queue::{ReceivedTask, Task, TaskQueue};
use alertwire_shared::ports::store::{DeliveryStore, StoreError};
use alertwire_shared::service::{Disposition, Ports, Service};
use alertwire_tests::receiver::gate;
use alertwire_tests::server::loopback_policy;
use alertwire_tests::{Behaviour, Receiver};
use serde_json::json;

/// How long a copy's request may take to reach the receiver.
const HELD_WITHIN: Duration = Duration::from_secs(5);

/// A copy of the first run's task, received for the first time.
fn copy(tenant: &TenantId, delivery_id: &DeliveryId, receipt: &str) -> ReceivedTask {
    ReceivedTask {
        task: Some(Task::DeliverV1 {
            tenant: tenant.clone(),
            delivery_id: delivery_id.clone(),
            run: 0,
            endpoint: None,
            attempts_before: 0,
        }),
        receipt: receipt.to_string(),
        receive_count: 1,
    }
}

async fn attempt_numbers(
    store: &dyn DeliveryStore,
    tenant: &TenantId,
    id: &DeliveryId,
) -> Result<Vec<(u32, u32)>, StoreError> {
    let delivery = store.get_delivery(tenant, id).await?.expect("the delivery");
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    Ok(delivery
        .attempts
        .iter()
        .map(|a| (a.run, a.number))
        .collect())
}

/// The interleaving on `ports`: both copies in flight, the first recorded, then the second refused.
async fn two_copies_in_flight_record_attempt_one_once(
    ports: Ports,
    store: Arc<dyn DeliveryStore>,
) -> Result<(), StoreError> {
    // Each copy's request is held until its gate opens, then answered 503 (attempt 1 failed: retry).
    let (first_answer, held_first) = gate(503);
    let (second_answer, held_second) = gate(503);
    let receiver = Receiver::scripted(vec![held_first, held_second], Behaviour::status(503)).await;
    let sender = HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(10))
        .expect("an HTTP client");
    let retry = alertwire_shared::delivery::retry_policy::RetryPolicy::parse("5s").expect("delays");
    let service = Arc::new(Service::new(ports, sender, retry));
    let tenant = TenantId::generate();
    service
        .create_endpoint(
            &tenant,
            &json!({"name": "held", "url": receiver.url("/hook")}),
        )
        .await
        .expect("the endpoint");
    let receipt = service
        .accept_alert(&tenant, &json!({"title": "one attempt, two copies"}), None)
        .await
        .expect("accepted");
    let (id, _) = receipt.deliveries[0].clone();

    let first = {
        let (service, task) = (service.clone(), copy(&tenant, &id, "copy-a"));
        tokio::spawn(async move { service.attempt_delivery(&task).await })
    };
    receiver.wait_for(1, HELD_WITHIN).await;
    let second = {
        let (service, task) = (service.clone(), copy(&tenant, &id, "copy-b"));
        tokio::spawn(async move { service.attempt_delivery(&task).await })
    };
    // Both copies have read the delivery with no attempt and sent attempt 1.
    receiver.wait_for(2, HELD_WITHIN).await;
    assert_eq!(attempt_numbers(store.as_ref(), &tenant, &id).await?, []);

    first_answer
        .send(true)
        .expect("the receiver holds the gate");
    let first = first.await.expect("the first copy ran").expect("recorded");
    assert!(matches!(first, Disposition::RetryIn(_)), "{first:?}");
    assert_eq!(
        attempt_numbers(store.as_ref(), &tenant, &id).await?,
        [(0, 1)]
    );

    second_answer
        .send(true)
        .expect("the receiver holds the gate");
    let second = second
        .await
        .expect("the second copy ran")
        .expect("no error");
    assert_eq!(
        second,
        Disposition::Done,
        "the second copy's task just ends"
    );
    assert_eq!(
        attempt_numbers(store.as_ref(), &tenant, &id).await?,
        [(0, 1)],
        "attempt 1 is recorded once"
    );
    Ok(())
}

#[tokio::test]
async fn sqlite_two_copies_in_flight_record_attempt_one_once() {
    let database = Database::in_memory().expect("an in-memory database");
    let queue: Arc<dyn TaskQueue> = Arc::new(EmbeddedQueue::new(
        database.clone(),
        QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 10,
        },
    ));
    let store: Arc<dyn DeliveryStore> = Arc::new(database.clone());
    two_copies_in_flight_record_attempt_one_once(Ports::on_one_store(database, queue), store)
        .await
        .expect("the store failed");
}

#[cfg(feature = "aws")]
#[tokio::test]
async fn dynamodb_two_copies_in_flight_record_attempt_one_once() {
    let sqs = crate::queue_conformance::backends::Sqs::new("attempt-twice").await;
    let store = crate::service_rig::fresh_store("attempt-twice").await;
    let deliveries: Arc<dyn DeliveryStore> = Arc::new(store.clone());
    two_copies_in_flight_record_attempt_one_once(
        Ports::on_one_store(store, Arc::new(sqs.queue.clone())),
        deliveries,
    )
    .await
    .expect("the store failed");
}
