//! Dead-letter replay on DynamoDB and SQS, against the AWS emulator (moto) that `AWS_ENDPOINT_URL` names on
//! 127.0.0.1: `n` dead deliveries, each with its letter in the dead-letter queue, replayed by
//! `Service::replay_dead_letters` (what `POST /v1/dead-letters/replay` runs on the api function). The
//! baseline: as many conditional `UpdateItem`s on the same emulator, as many in flight as the replay
//! keeps: the least a replay can send for each delivery, since every new run is a conditional write of its
//! own. Built only with the bench's `aws` feature, and skipped with a note when no emulator is named.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertwire_shared::aws::dynamodb::{DEFAULT_RECORD_TTL, DynamoStore, create_table};
use alertwire_shared::aws::load_sdk_config;
use alertwire_shared::aws::sqs::queue::SqsQueue;
use alertwire_shared::delivery::Delivery;
use alertwire_shared::delivery::retry_policy::RetryPolicy;
use alertwire_shared::ids::{AlertId, DeliveryId, TenantId};
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::outbound::target_policy::TargetPolicy;
use alertwire_shared::ports::queue::Task;
use alertwire_shared::ports::store::{AlertRecord, AlertStore};
use alertwire_shared::sealing::LocalSealer;
use alertwire_shared::service::{Ports, ReplaySelection, Service};
use aws_sdk_dynamodb::config::StalledStreamProtectionConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

/// Deliveries recorded per alert while seeding (not timed).
const DELIVERIES_PER_ALERT: usize = 50;
/// The baseline's writes in flight: as many as the DynamoDB store keeps for a replay.
const WRITES_IN_FLIGHT: usize = 32;

fn setup(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// The emulator's address, if `AWS_ENDPOINT_URL` names one on 127.0.0.1 (nothing else is ever sent to).
fn emulator() -> Option<String> {
    let url = std::env::var("AWS_ENDPOINT_URL").ok()?;
    let host = reqwest::Url::parse(&url).ok()?.host_str()?.to_string();
    (host == "127.0.0.1").then_some(url)
}

struct Seeded {
    service: Service,
    client: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    table: String,
    queue_urls: [String; 2],
    tenant: TenantId,
}

impl Seeded {
    /// Deletes the table and the queues, so the emulator holds only the run in progress and the runs do
    /// not slow one another as it fills.
    async fn remove(self) {
        let _ = self
            .client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await;
        for url in &self.queue_urls {
            let _ = self.sqs.delete_queue().queue_url(url).send().await;
        }
    }
}

/// A fresh table and queue pair holding `n` dead deliveries, and the dead letter of each.
async fn seeded(n: usize, round: usize) -> Result<Seeded, BenchError> {
    // The emulator sometimes takes seconds to answer a transaction (it copies the table first), and a
    // second copy of the request then arrived beside the first after 5 s, the grace period of the SDK's
    // stalled-stream protection; the emulator, without locks, failed it half-way. Real DynamoDB answers
    // in milliseconds.
    let config = load_sdk_config()
        .await
        .into_builder()
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    let client = aws_sdk_dynamodb::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = format!("bench-replay-{}-{round}-{n}", std::process::id());
    create_table(&client, &name).await.map_err(setup)?;
    let (queue_url, dlq_url) = SqsQueue::create_queues(&sqs, &name, Duration::from_secs(60))
        .await
        .map_err(setup)?;
    let store = DynamoStore::new(
        client.clone(),
        name.clone(),
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let tenant = TenantId::generate();
    let mut letters = Vec::with_capacity(n);
    for first in (0..n).step_by(DELIVERIES_PER_ALERT) {
        let alert_id = AlertId::generate();
        let alert = serde_json::from_value(serde_json::json!({
            "id": alert_id, "tenant": tenant, "title": "Disk almost full", "description": "db-1 at 97 %",
            "severity": "high", "message_type": "error", "tags": ["db"], "samples": [], "context": {},
            "received_at": "2026-01-02T03:04:05Z",
        }))
        .map_err(setup)?;
        let deliveries: Vec<Delivery> = (first..n.min(first + DELIVERIES_PER_ALERT))
            .map(|_| {
                serde_json::from_value(serde_json::json!({
                    "id": DeliveryId::generate(), "tenant": tenant, "alert_id": alert_id,
                    "endpoint_id": "ep_bench", "message_type": "error", "status": "dead",
                    "status_reason": "10 attempts failed", "run": 0, "attempts": [],
                    "next_attempt_at": null, "created_at": "2026-01-02T03:04:05Z",
                    "updated_at": "2026-01-02T03:04:05Z",
                }))
            })
            .collect::<Result<_, _>>()
            .map_err(setup)?;
        store
            .record_alert(AlertRecord {
                alert: &alert,
                deliveries: &deliveries,
                idempotency: None,
                tasks: &[],
            })
            .await
            .map_err(setup)?;
        letters.extend(deliveries.iter().map(|d| Task::DeliverV1 {
            tenant: tenant.clone(),
            delivery_id: d.id.clone(),
            run: 0,
            endpoint: None,
            attempts_before: 0,
        }));
    }
    let dead_letter_queue = SqsQueue::new(sqs.clone(), dlq_url.clone(), dlq_url.clone());
    alertwire_shared::ports::queue::TaskQueue::send_batch(&dead_letter_queue, &letters)
        .await
        .map_err(setup)?;
    let queue_urls = [queue_url.clone(), dlq_url.clone()];
    let queue = SqsQueue::new(sqs.clone(), queue_url, dlq_url);
    let ports = Ports::on_one_store(store, Arc::new(queue));
    let sender = HttpSender::new(Arc::new(TargetPolicy::strict()), Duration::from_secs(10))
        .map_err(setup)?;
    Ok(Seeded {
        service: Service::new(ports, sender, RetryPolicy::default()),
        client,
        sqs,
        table: name,
        queue_urls,
        tenant,
    })
}

/// Items replayed per second.
async fn replay(n: usize, round: usize) -> Result<f64, BenchError> {
    let seeded = seeded(n, round).await?;
    let start = Instant::now();
    let replayed = seeded
        .service
        .replay_dead_letters(&seeded.tenant, &ReplaySelection::All)
        .await
        .map_err(|e| BenchError::Store(e.to_string()))?;
    let elapsed = start.elapsed();
    seeded.remove().await;
    if replayed != n {
        return Err(BenchError::Unexpected(format!(
            "replayed {replayed} of {n}"
        )));
    }
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Conditional `UpdateItem`s per second on `n` items of a seeded table, `WRITES_IN_FLIGHT` at a time.
async fn conditional_writes(n: usize, round: usize) -> Result<f64, BenchError> {
    let seeded = seeded(n, round + 1000).await?;
    let (client, table) = (&seeded.client, seeded.table.as_str());
    let keys: Vec<String> = (0..n).map(|i| format!("BENCH#{i}")).collect();
    stream::iter(&keys)
        .map(|pk| async move {
            client
                .put_item()
                .table_name(table)
                .item("pk", AttributeValue::S(pk.clone()))
                .item("sk", AttributeValue::S("ROW".into()))
                .item("run", AttributeValue::N("0".into()))
                .send()
                .await
        })
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .map_err(setup)?;
    let start = Instant::now();
    stream::iter(&keys)
        .map(|pk| async move {
            client
                .update_item()
                .table_name(table)
                .key("pk", AttributeValue::S(pk.clone()))
                .key("sk", AttributeValue::S("ROW".into()))
                .update_expression("SET #run = :new")
                .condition_expression("#run = :old")
                .expression_attribute_names("#run", "run")
                .expression_attribute_values(":old", AttributeValue::N("0".into()))
                .expression_attribute_values(":new", AttributeValue::N("1".into()))
                .send()
                .await
        })
        .buffer_unordered(WRITES_IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| BenchError::Store(e.to_string()))?;
    let rate = n as f64 / start.elapsed().as_secs_f64();
    seeded.remove().await;
    Ok(rate)
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    let Some(url) = emulator() else {
        notes.push("dead-letter replay on DynamoDB: skipped, AWS_ENDPOINT_URL names no emulator on 127.0.0.1 (start moto_server and set it, with test credentials)".into());
        return Ok(Vec::new());
    };
    let n = if settings.quick { 200 } else { 1_000 };
    block_on(async {
        let mut baseline = Figure::new("writes/s");
        let mut subject = Figure::new("items/s");
        for round in 0..settings.runs {
            baseline.push(conditional_writes(n, round).await?);
            subject.push(replay(n, round).await?);
        }
        notes.push(format!(
            "dead-letter replay on DynamoDB: against the emulator at {url}; each run on a fresh table and queue pair seeded with {n} dead deliveries ({DELIVERIES_PER_ALERT} an alert) and their letters (not timed)"
        ));
        let met = subject.median() >= 1000.0;
        Ok(vec![Row {
            scenario: format!("dead-letter replay of {n} items on DynamoDB and SQS (moto)"),
            ratio: Some(ratio(&subject, &baseline)),
            figure: subject,
            baseline: Some(baseline),
            met: Some(met),
            goal: "≥ 1,000 items/s on moto".into(),
        }])
    })
}
