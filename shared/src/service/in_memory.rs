//! A service over an in-memory embedded store, whose clock a test moves, and what the use cases' unit tests
//! read back from it: stored deliveries, queued tasks, and local receivers that answer or refuse.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Ports, Service};
use crate::clock::ManualClock;
use crate::delivery::Delivery;
use crate::delivery::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use crate::embedded::{Database, EmbeddedQueue, QueueSettings};
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::outbound::sender::HttpSender;
use crate::outbound::target_policy::{PortAllowance, TargetPolicy};
use crate::ports::queue::{ReceivedTask, Task};
use crate::ports::store::DeliveryFilter;

/// Monday 5 January 2026, 09:00 UTC: when the tests' clocks start.
pub(super) fn monday_morning() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A service on its own in-memory store that may send to 127.0.0.1 on any port, retries after 5 s, and
/// reads the time from `clock`.
pub(super) fn service(clock: Arc<ManualClock>) -> Service {
    let database = Database::in_memory().unwrap();
    let queue = EmbeddedQueue::new(
        database.clone(),
        QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_receives: MAX_ATTEMPTS,
        },
    );
    let ports = Ports {
        keys: Arc::new(database.clone()),
        endpoints: Arc::new(database.clone()),
        alerts: Arc::new(database.clone()),
        deliveries: Arc::new(database.clone()),
        settings: Arc::new(database.clone()),
        incidents: Arc::new(database.clone()),
        maintenance: Arc::new(database.clone()),
        digests: Arc::new(database),
        queue: Arc::new(queue),
    };
    let policy = TargetPolicy::strict()
        .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.1").unwrap())
        .with_allowed_ports(PortAllowance::Any);
    let sender = HttpSender::new(Arc::new(policy), Duration::from_secs(5)).unwrap();
    Service::new(ports, sender, RetryPolicy::parse("5s").unwrap()).with_clock(clock)
}

/// A service as [`service`] builds it, with its clock at [`monday_morning`].
pub(super) fn monday_service() -> Service {
    service(Arc::new(ManualClock::starting_at(monday_morning())))
}

/// A local port nothing listens on: every request to it fails at once with `connect`.
pub(super) fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A local receiver that answers every request with `status` and the body `thanks`; returns its port.
pub(super) async fn answering_receiver(status: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, status));
        }
    });
    port
}

/// Reads one whole request (headers and `content-length` bytes of body), then answers it and closes.
async fn answer(mut stream: TcpStream, status: u16) {
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let Ok(read) = stream.read(&mut chunk).await else {
            return;
        };
        if read == 0 {
            return;
        }
        request.extend_from_slice(&chunk[..read]);
        let text = String::from_utf8_lossy(&request);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let body_length = text[..head_end]
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= head_end + 4 + body_length {
                break;
            }
        }
    }
    let response = format!(
        "HTTP/1.1 {status} Answer\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nconnection: close\r\n\r\nthanks"
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Creates an endpoint named `name` that posts to `http://127.0.0.1:{port}/hook`, with `extra` fields.
pub(super) async fn endpoint_at(
    service: &Service,
    tenant: &TenantId,
    name: &str,
    port: u16,
    extra: serde_json::Value,
) -> EndpointId {
    let mut body = json!({"name": name, "url": format!("http://127.0.0.1:{port}/hook")});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    service.create_endpoint(tenant, &body).await.unwrap().id
}

/// Creates an endpoint named `pager` whose receiver answers every request with `status`.
pub(super) async fn answering_endpoint(
    service: &Service,
    tenant: &TenantId,
    status: u16,
) -> EndpointId {
    let port = answering_receiver(status).await;
    endpoint_at(service, tenant, "pager", port, json!({})).await
}

/// GIVEN an alert `{"title": "disk full"}` accepted for `tenant`: its id and its delivery to `endpoint`.
pub(super) async fn accepted_alert_to(
    service: &Service,
    tenant: &TenantId,
    endpoint: &EndpointId,
) -> (AlertId, DeliveryId) {
    let receipt = service
        .accept_alert(tenant, &json!({"title": "disk full"}), None)
        .await
        .unwrap();
    let (delivery, _) = receipt
        .deliveries
        .iter()
        .find(|(_, e)| e == endpoint)
        .unwrap();
    (receipt.alert_id, delivery.clone())
}

/// WHEN `alert` is accepted for `tenant` and its tasks taken off the queue: its first delivery.
pub(super) async fn accepted_delivery(
    service: &Service,
    tenant: &TenantId,
    alert: &serde_json::Value,
) -> DeliveryId {
    let receipt = service.accept_alert(tenant, alert, None).await.unwrap();
    take_queued_tasks(service).await;
    receipt.deliveries[0].0.clone()
}

/// WHEN the first task of `delivery_id`'s first run is received and attempted: what the queue does next.
pub(super) async fn attempted_first(
    service: &Service,
    tenant: &TenantId,
    delivery_id: &DeliveryId,
) -> crate::delivery::decide::Disposition {
    service
        .attempt_delivery(&received(tenant, delivery_id, 0, 1))
        .await
        .unwrap()
}

/// The delivery as stored.
pub(super) async fn stored_delivery(
    service: &Service,
    tenant: &TenantId,
    id: &DeliveryId,
) -> Delivery {
    service
        .ports
        .deliveries
        .get_delivery(tenant, id)
        .await
        .unwrap()
        .unwrap()
}

/// Every delivery stored for `tenant`.
pub(super) async fn stored_deliveries(service: &Service, tenant: &TenantId) -> Vec<Delivery> {
    let filter = DeliveryFilter {
        limit: 1000,
        ..DeliveryFilter::default()
    };
    service
        .ports
        .deliveries
        .list_deliveries(tenant, &filter)
        .await
        .unwrap()
}

/// The tasks waiting on the queue, taken off it (they stay leased for the rest of the test).
pub(super) async fn take_queued_tasks(service: &Service) -> Vec<Task> {
    let received = service.ports.queue.receive(1000).await.unwrap();
    received.into_iter().filter_map(|r| r.task).collect()
}

/// The task for `delivery_id`'s run `run`.
pub(super) fn task(tenant: &TenantId, delivery_id: &DeliveryId, run: u32) -> Task {
    Task::DeliverV1 {
        tenant: tenant.clone(),
        delivery_id: delivery_id.clone(),
        run,
        endpoint: None,
        attempts_before: 0,
    }
}

/// Receive number `number` of the task for `delivery_id`'s run `run`.
pub(super) fn received(
    tenant: &TenantId,
    delivery_id: &DeliveryId,
    run: u32,
    number: u32,
) -> ReceivedTask {
    ReceivedTask {
        task: Some(task(tenant, delivery_id, run)),
        receipt: format!("receipt-{number}"),
        receive_count: number,
    }
}

/// The receive number past the attempt limit, which settles a delivery dead without sending.
pub(super) const PAST_THE_LIMIT: u32 = MAX_ATTEMPTS + 1;
