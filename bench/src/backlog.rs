//! Backlogs: how fast `alertwire serve` drains the tasks an outage left queued, and how fast it accepts new
//! alerts meanwhile. Each backlog (n alerts, one delivery and one task each) is written through the store
//! while the server is stopped, as when an endpoint comes back after an outage; then the server starts on
//! it and delivers. The drain rate is n over the time from the start to the last delivery, start-up
//! included. Its baseline is the steady-state end-to-end rate of the same run (alerts posted while they
//! are delivered, from an empty queue). Ingest while the largest backlog drains is set beside ingest on an
//! empty queue, in the same run.

use std::path::Path;
use std::time::{Duration, Instant};

use alertwire_shared::delivery::Delivery;
use alertwire_shared::delivery::retry_policy::MAX_ATTEMPTS;
use alertwire_shared::embedded::{EmbeddedQueue, QueueSettings};
use alertwire_shared::ids::{AlertId, DeliveryId};
use alertwire_shared::ports::queue::Task;
use alertwire_shared::ports::store::{AlertRecord, AlertStore};

use crate::load::{self, Until};
use crate::receiver::CountingReceiver;
use crate::seeding::{SEEDING_CONCURRENCY, Seed, store_error, write_all};
use crate::serve_process::ServeProcess;
use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

/// Clients posting alerts at once, as in the ingest and end-to-end scenarios.
const POSTING_CONCURRENCY: usize = 16;
const DRAIN_LIMIT: Duration = Duration::from_secs(900);
const GOAL: f64 = 0.8;

/// Writes `alerts` alerts to the only endpoint of the stopped server's data directory, each with its
/// delivery and its task, through the store's own `record_alert`.
async fn seed(data_dir: &Path, alerts: usize) -> Result<(), BenchError> {
    let seed = Seed::open(data_dir).await?;
    // Attached, so the store queues each alert's task in the alert's own transaction, as `serve` does.
    let _queue = EmbeddedQueue::new(
        seed.database.clone(),
        QueueSettings {
            visibility_timeout: Duration::from_secs(60),
            max_receives: MAX_ATTEMPTS,
        },
    );
    write_all(alerts, |_| {
        let (database, tenant) = (seed.database.clone(), seed.tenant.clone());
        let (endpoint_id, content) = (seed.endpoint.id.clone(), seed.content.clone());
        async move {
            let alert = content.into_alert(AlertId::generate(), tenant.clone(), chrono::Utc::now());
            let delivery = Delivery::pending(DeliveryId::generate(), &alert, endpoint_id);
            let tasks = [Task::DeliverV1 {
                tenant,
                delivery_id: delivery.id.clone(),
                run: 0,
                endpoint: None,
                attempts_before: 0,
            }];
            database
                .record_alert(AlertRecord {
                    alert: &alert,
                    deliveries: std::slice::from_ref(&delivery),
                    idempotency: None,
                    tasks: &tasks,
                })
                .await
                .map(|_| ())
                .map_err(store_error)
        }
    })
    .await
}

/// A stopped server's data directory holding a backlog of `alerts` for `receiver`.
async fn backlog(
    receiver: &CountingReceiver,
    alerts: usize,
) -> Result<std::path::PathBuf, BenchError> {
    let binary = crate::sibling_binary("alertwire")?;
    let server = ServeProcess::start(&binary, crate::scratch_dir("backlog")).await?;
    server.create_endpoint("backlog", &receiver.url()).await?;
    let data_dir = server.stop_keeping_data();
    seed(&data_dir, alerts).await?;
    Ok(data_dir)
}

/// Waits until `receiver` has seen `expected` requests and nothing is pending.
async fn delivered(
    server: &ServeProcess,
    receiver: &CountingReceiver,
    expected: u64,
    since: Instant,
) -> Result<(), BenchError> {
    while receiver.count() < expected {
        if since.elapsed() > DRAIN_LIMIT {
            return Err(BenchError::Unexpected(format!(
                "the backlog did not drain: {} of {expected} deliveries arrived",
                receiver.count()
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server
        .wait_until_drained(since + DRAIN_LIMIT, Duration::from_millis(50))
        .await?;
    if receiver.count() != expected {
        return Err(BenchError::Unexpected(format!(
            "{} deliveries arrived, expected {expected}",
            receiver.count()
        )));
    }
    Ok(())
}

/// Deliveries per second while `serve` drains a backlog of `alerts`, start-up included.
async fn drain(receiver: &CountingReceiver, alerts: usize) -> Result<f64, BenchError> {
    let data_dir = backlog(receiver, alerts).await?;
    let expected = receiver.count() + alerts as u64;
    let start = Instant::now();
    let server = ServeProcess::open(&crate::sibling_binary("alertwire")?, data_dir, "warn").await?;
    delivered(&server, receiver, expected, start).await?;
    Ok(alerts as f64 / start.elapsed().as_secs_f64())
}

/// Alerts accepted per second for `duration` by a server that holds a backlog of `alerts` (0: an empty
/// queue), its worker delivering meanwhile.
async fn ingest_beside(
    client: &reqwest::Client,
    receiver: &CountingReceiver,
    alerts: usize,
    duration: Duration,
) -> Result<f64, BenchError> {
    let binary = crate::sibling_binary("alertwire")?;
    let server = if alerts == 0 {
        let server = ServeProcess::start(&binary, crate::scratch_dir("backlog")).await?;
        server.create_endpoint("backlog", &receiver.url()).await?;
        server
    } else {
        let data_dir = backlog(receiver, alerts).await?;
        ServeProcess::open(&binary, data_dir, "warn").await?
    };
    let request = crate::e2e::alert_request(&server);
    let result = load::run(
        client,
        &request,
        POSTING_CONCURRENCY,
        Until::Elapsed(duration),
    )
    .await?;
    Ok(result.per_second())
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    block_on(async {
        let client = load::client();
        let receiver = CountingReceiver::start().await?;
        let (small, large) = settings.backlog_sizes.unwrap_or(if settings.quick {
            (500, 2_000)
        } else {
            (10_000, 100_000)
        });
        let steady_alerts: u64 = if settings.quick { 200 } else { 3_000 };
        let duration = Duration::from_millis(if settings.quick { 300 } else { 3_000 });
        // The largest backlog takes minutes to write and drain: three runs of it are enough.
        let large_runs = settings.runs.min(3);
        let mut steady = Figure::new("deliveries/s");
        let mut drains = [Figure::new("deliveries/s"), Figure::new("deliveries/s")];
        for run in 0..settings.runs {
            steady.push(
                crate::e2e::subject(&client, &receiver, 1, steady_alerts, "warn")
                    .await?
                    .deliveries_per_second,
            );
            drains[0].push(drain(&receiver, small).await?);
            if run < large_runs {
                drains[1].push(drain(&receiver, large).await?);
            }
        }
        let mut rows = Vec::new();
        for (figure, size) in drains.into_iter().zip([small, large]) {
            let r = ratio(&figure, &steady);
            rows.push(Row {
                scenario: format!(
                    "backlog: drain of {size} queued alerts after an outage, deliveries/s (÷ steady-state end-to-end)"
                ),
                figure,
                baseline: Some(steady.clone()),
                ratio: Some(r),
                goal: format!("≥ {GOAL}×"),
                met: Some(r >= GOAL),
            });
        }
        let mut empty = Figure::new("alerts/s");
        let mut beside = Figure::new("alerts/s");
        for _ in 0..large_runs {
            empty.push(ingest_beside(&client, &receiver, 0, duration).await?);
            beside.push(ingest_beside(&client, &receiver, large, duration).await?);
        }
        let r = ratio(&beside, &empty);
        rows.push(Row {
            scenario: format!(
                "backlog: ingest while {large} queued alerts drain, alerts/s (÷ ingest on an empty queue)"
            ),
            figure: beside,
            baseline: Some(empty),
            ratio: Some(r),
            goal: format!("≥ {GOAL}×"),
            met: Some(r >= GOAL),
        });
        notes.push(format!(
            "backlog: each backlog is written through the store (`record_alert`, {SEEDING_CONCURRENCY} at once) while `serve` is stopped, then `serve` starts on it; the drain is timed from that start to the last delivery. Steady state: {steady_alerts} alerts posted by {POSTING_CONCURRENCY} clients to a fresh `serve`. Ingest: {POSTING_CONCURRENCY} clients for {} ms, right after the start on the backlog.",
            duration.as_millis()
        ));
        Ok(rows)
    })
}
