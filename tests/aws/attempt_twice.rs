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

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertwire_shared::delivery::DeliveryStatus;
use alertwire_shared::embedded::{Database, EmbeddedQueue, QueueSettings};
use alertwire_shared::ids::{DeliveryId, TenantId};
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::ports::queue::{ReceivedTask, Task, TaskQueue};
use alertwire_shared::ports::store::{DeliveryStore, StoreError};
use alertwire_shared::service::{Disposition, Ports, Service};
use alertwire_tests::server::loopback_policy;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A receiver that answers `503` to each request only when the test releases it, in arrival order.
struct HeldReceiver {
    port: u16,
    held: Arc<Mutex<VecDeque<oneshot::Sender<()>>>>,
}

impl HeldReceiver {
    async fn start() -> HeldReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let held: Arc<Mutex<VecDeque<oneshot::Sender<()>>>> = Arc::default();
        let queue = held.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let queue = queue.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 8192];
                    while !complete(&request) {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let (release, released) = oneshot::channel();
                    queue.lock().expect("held").push_back(release);
                    if released.await.is_ok() {
                        let answer = "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy";
                        let _ = stream.write_all(answer.as_bytes()).await;
                    }
                });
            }
        });
        HeldReceiver { port, held }
    }

    /// Waits until `n` requests are held.
    async fn holding(&self, n: usize) {
        for _ in 0..500 {
            if self.held.lock().expect("held").len() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} requests never arrived");
    }

    /// Lets the oldest held request be answered.
    fn release_oldest(&self) {
        let release = self
            .held
            .lock()
            .expect("held")
            .pop_front()
            .expect("a held request");
        release.send(()).expect("the request is still open");
    }
}

fn complete(request: &[u8]) -> bool {
    let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    request.len() >= end + 4 + length
}

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
    let receiver = HeldReceiver::start().await;
    let sender = HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(10))
        .expect("an HTTP client");
    let retry = alertwire_shared::delivery::retry_policy::RetryPolicy::parse("5s").expect("delays");
    let service = Arc::new(Service::new(ports, sender, retry));
    let tenant = TenantId::generate();
    service
        .create_endpoint(
            &tenant,
            &json!({"name": "held", "url": format!("http://127.0.0.1:{}/hook", receiver.port)}),
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
    receiver.holding(1).await;
    let second = {
        let (service, task) = (service.clone(), copy(&tenant, &id, "copy-b"));
        tokio::spawn(async move { service.attempt_delivery(&task).await })
    };
    // Both copies have read the delivery with no attempt and sent attempt 1.
    receiver.holding(2).await;
    assert_eq!(attempt_numbers(store.as_ref(), &tenant, &id).await?, []);

    receiver.release_oldest();
    let first = first.await.expect("the first copy ran").expect("recorded");
    assert!(matches!(first, Disposition::RetryIn(_)), "{first:?}");
    assert_eq!(
        attempt_numbers(store.as_ref(), &tenant, &id).await?,
        [(0, 1)]
    );

    receiver.release_oldest();
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
    use alertwire_shared::aws::dynamodb::{DEFAULT_RECORD_TTL, DynamoStore, create_table};
    use alertwire_shared::aws::load_sdk_config;
    use alertwire_shared::sealing::LocalSealer;

    let sqs = crate::queue_conformance::backends::Sqs::new("attempt-twice").await;
    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    let table = format!(
        "attempt-twice-{}",
        TenantId::generate().0.replace("tn_", "")
    );
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("cannot create the table {table}: {e}"));
    let store = DynamoStore::new(
        client,
        table,
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let deliveries: Arc<dyn DeliveryStore> = Arc::new(store.clone());
    two_copies_in_flight_record_attempt_one_once(
        Ports::on_one_store(store, Arc::new(sqs.queue.clone())),
        deliveries,
    )
    .await
    .expect("the store failed");
}
