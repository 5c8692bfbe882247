//! Dead-letter replay on the embedded store: `n` dead deliveries, each with its task in the dead-letter
//! queue, replayed by `Service::replay_dead_letters` (what `POST /v1/dead-letters/replay` runs). The
//! baseline: inserting `n` rows into SQLite in one transaction, with the store's pragmas (WAL, synchronous
//! FULL). Run at two sizes to show the cost per item stays flat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertwire_shared::delivery::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use alertwire_shared::embedded::{Database, EmbeddedQueue, QueueSettings};
use alertwire_shared::ids::{DeliveryId, TenantId};
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::outbound::target_policy::TargetPolicy;
use alertwire_shared::ports::queue::Task;
use alertwire_shared::service::{Ports, ReplaySelection, Service};
use rusqlite::params;

use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

const TENANT: &str = "bench";
const LINEARITY_GOAL: f64 = 1.25;

/// A fresh store holding `n` dead deliveries and their dead-lettered tasks (seeded directly, not timed).
async fn seeded_service(n: usize) -> Result<(Service, std::path::PathBuf), BenchError> {
    let dir = crate::scratch_dir("replay");
    let _ = std::fs::remove_dir_all(&dir);
    let database = Database::open(&dir, true).map_err(|e| BenchError::Setup(e.to_string()))?;
    let tasks: Vec<(String, String, String)> = (0..n)
        .map(|i| {
            let task = Task::DeliverV1 {
                tenant: TenantId::from(TENANT),
                delivery_id: DeliveryId(format!("msg_{i:032}")),
                run: 0,
                endpoint: None,
                attempts_before: 0,
            };
            let body = serde_json::to_string(&task).expect("a task serialises");
            (task.delivery_id().0.clone(), task.dedup_key(), body)
        })
        .collect();
    database
        .run(move |c| {
            let now = chrono::Utc::now().to_rfc3339();
            {
                let mut delivery = c.prepare(
                    "INSERT INTO deliveries (tenant, id, alert_id, endpoint_id, message_type, status, status_reason, run, created_at, updated_at)
                     VALUES (?1, ?2, 'al_bench', 'ep_bench', 'error', 'dead', 'receiver answered 500', 0, ?3, ?3)",
                )?;
                let mut dead = c.prepare(
                    "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at, receive_count) VALUES ('dead', ?1, ?2, ?3, 0, 10)",
                )?;
                for (id, dedup, body) in &tasks {
                    delivery.execute(params![TENANT, id, now])?;
                    dead.execute(params![dedup, id, body])?;
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| BenchError::Store(e.to_string()))?;
    let queue = EmbeddedQueue::new(
        database.clone(),
        QueueSettings {
            visibility_timeout: Duration::from_secs(60),
            max_receives: MAX_ATTEMPTS,
        },
    );
    let ports = Ports::on_one_store(database, Arc::new(queue));
    let sender = HttpSender::new(Arc::new(TargetPolicy::strict()), Duration::from_secs(10))
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    Ok((Service::new(ports, sender, RetryPolicy::default()), dir))
}

/// Items replayed per second.
async fn replay(n: usize) -> Result<f64, BenchError> {
    let (service, dir) = seeded_service(n).await?;
    let start = Instant::now();
    let replayed = service
        .replay_dead_letters(&TenantId::from(TENANT), &ReplaySelection::All)
        .await
        .map_err(|e| BenchError::Store(e.to_string()))?;
    let elapsed = start.elapsed();
    drop(service);
    let _ = std::fs::remove_dir_all(dir);
    if replayed != n {
        return Err(BenchError::Unexpected(format!(
            "replayed {replayed} of {n}"
        )));
    }
    Ok(n as f64 / elapsed.as_secs_f64())
}

/// Rows inserted per second, all in one transaction.
fn insert_rows(n: usize) -> Result<f64, BenchError> {
    let dir = crate::scratch_dir("sqlite-baseline");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Setup(e.to_string()))?;
    let sqlite = |e: rusqlite::Error| BenchError::Store(e.to_string());
    let mut c = rusqlite::Connection::open(dir.join("baseline.db")).map_err(sqlite)?;
    c.pragma_update(None, "journal_mode", "WAL")
        .map_err(sqlite)?;
    c.pragma_update(None, "synchronous", "FULL")
        .map_err(sqlite)?;
    c.execute_batch("CREATE TABLE rows (id TEXT PRIMARY KEY, body TEXT NOT NULL)")
        .map_err(sqlite)?;
    let start = Instant::now();
    let tx = c.transaction().map_err(sqlite)?;
    {
        let mut insert = tx
            .prepare("INSERT INTO rows (id, body) VALUES (?1, ?2)")
            .map_err(sqlite)?;
        for i in 0..n {
            insert
                .execute(params![
                    format!("msg_{i:032}"),
                    format!(r#"{{"type":"deliver.v1","tenant":"bench","delivery_id":"msg_{i:032}","run":1}}"#)
                ])
                .map_err(sqlite)?;
        }
    }
    tx.commit().map_err(sqlite)?;
    let elapsed = start.elapsed();
    drop(c);
    let _ = std::fs::remove_dir_all(dir);
    Ok(n as f64 / elapsed.as_secs_f64())
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    let (small, large) = if settings.quick {
        (500, 5_000)
    } else {
        (10_000, 100_000)
    };
    block_on(async {
        let mut rows = Vec::new();
        let mut rates = Vec::new();
        for n in [small, large] {
            let mut baseline = Figure::new("rows/s");
            let mut subject = Figure::new("items/s");
            for _ in 0..settings.runs {
                baseline.push(insert_rows(n)?);
                subject.push(replay(n).await?);
            }
            let r = ratio(&subject, &baseline);
            rates.push(subject.median());
            rows.push(Row {
                scenario: format!("dead-letter replay of {n} items (embedded)"),
                figure: subject,
                baseline: Some(baseline),
                ratio: Some(r),
                goal: "items/s and ratio (reported)".into(),
                met: None,
            });
        }
        // Cost per item at the large size over the small one: 1.0 is perfectly linear.
        let per_item_growth = rates[0] / rates[1];
        rows.push(Row {
            scenario: format!("dead-letter replay: cost per item, {large} vs {small} items"),
            figure: {
                let mut f = Figure::new("× the small run's cost per item");
                f.push(per_item_growth);
                f
            },
            baseline: None,
            ratio: Some(per_item_growth),
            goal: format!("linear (≤ {LINEARITY_GOAL}×)"),
            met: Some(per_item_growth <= LINEARITY_GOAL),
        });
        notes.push("replay: the store is seeded directly with dead deliveries and their dead-lettered tasks (not timed); the replay runs with no worker, so it only re-queues.".into());
        Ok(rows)
    })
}
