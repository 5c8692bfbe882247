//! Alerts on SQLite: an alert, its deliveries and (when the queue shares the database) their tasks in one
//! transaction.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::deliveries::insert_delivery;
use crate::alert::Alert;
use crate::embedded::Database;
use crate::embedded::hand_off::Queued;
use crate::embedded::queue::{insert_tasks_handing_off, task_rows};
use crate::ids::{AlertId, TenantId};
use crate::ports::store::{AlertReceipt, AlertRecord, AlertStore, RecordOutcome, StoreError};

/// An alert's document by tenant and id.
pub(super) const ALERT_DOCUMENT: &str = "SELECT doc FROM alerts WHERE tenant = ?1 AND id = ?2";

#[async_trait]
impl AlertStore for Database {
    async fn record_alert(&self, record: AlertRecord<'_>) -> Result<RecordOutcome, StoreError> {
        let alert_doc = serde_json::to_string(record.alert)?;
        let receipt = AlertReceipt::of(record.alert, record.deliveries);
        let receipt_doc = serde_json::to_string(&receipt)?;
        let unrouted = record.alert.routing.is_some_and(|r| r.unrouted);
        let tenant = record.alert.tenant.0.clone();
        let alert_id = record.alert.id.0.clone();
        let idempotency = record
            .idempotency
            .map(|(k, h)| (k.to_string(), h.to_string()));
        let deliveries = record.deliveries.to_vec();
        // Where the queue is in this database, the alert, its deliveries and their tasks (if it has any)
        // are one write: the alert is enqueued once it commits. Elsewhere the caller sends the tasks.
        let queued = self.holds_queue();
        let tasks: Vec<_> = if queued {
            let rows = task_rows(record.tasks)?;
            rows.into_iter().zip(record.tasks.iter().cloned()).collect()
        } else {
            Vec::new()
        };
        let hand_off = self.hand_off.clone();
        // The column tells a repeat of the request whether it must still send the tasks. Without an
        // idempotency key there is no repeat, and the service marks only keyed alerts
        // (`Service::enqueue`), so such an alert is stored as enqueued: the pruner leaves alone an alert
        // whose tasks are not queued yet, and would keep it for good.
        let enqueued_column = queued || idempotency.is_none();
        let wakeup = self.queue_wakeup();
        // What is handed off is passed once the write commits, even if the caller has stopped waiting.
        let pass = move |(outcome, queued): (RecordOutcome, Queued)| {
            queued.pass(&wakeup);
            outcome
        };
        self.run_then(move |c| {
            if let Some((key, _)) = &idempotency {
                let existing = c
                    .query_row(
                        "SELECT receipt, request_hash, enqueued FROM alerts WHERE tenant = ?1 AND idempotency_key = ?2",
                        [&tenant, key],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, bool>(2)?)),
                    )
                    .optional()?;
                if let Some((receipt, request_hash, enqueued)) = existing {
                    let repeat = RecordOutcome::AlreadyRecorded {
                        receipt: serde_json::from_str(&receipt)?,
                        request_hash: request_hash.unwrap_or_default(),
                        enqueued,
                    };
                    return Ok((repeat, Queued::default()));
                }
            }
            let (key, hash) = idempotency.unzip();
            // With the queue in this database, the alert, its deliveries and their tasks are one write.
            c.prepare_cached("INSERT INTO alerts (tenant, id, doc, receipt, idempotency_key, request_hash, enqueued) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
                params![tenant, alert_id, alert_doc, receipt_doc, key, hash, enqueued_column],
            )?;
            for delivery in &deliveries {
                insert_delivery(c, delivery)?;
            }
            if unrouted {
                c.prepare_cached("INSERT INTO unrouted_alerts (tenant, id) VALUES (?1, ?2)")?
                    .execute(params![tenant, alert_id])?;
            }
            // Leased to the worker in this commit where it has caught up with the queue (`HandOff`).
            let queued_tasks = insert_tasks_handing_off(c, &tasks, &hand_off)?;
            Ok((RecordOutcome::Recorded { enqueued: queued }, queued_tasks))
        }, pass)
        .await
    }

    async fn is_recorded(&self, tenant: &TenantId, key: &str) -> Result<bool, StoreError> {
        let (tenant, key) = (tenant.0.clone(), key.to_string());
        self.read(move |c| {
            Ok(c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM alerts WHERE tenant = ?1 AND idempotency_key = ?2)",
            )?
            .query_row(params![tenant, key], |r| r.get(0))?)
        })
        .await
    }

    async fn mark_enqueued(&self, tenant: &TenantId, alert_id: &AlertId) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.0.clone(), alert_id.0.clone());
        self.run(move |c| {
            c.prepare_cached("UPDATE alerts SET enqueued = 1 WHERE tenant = ?1 AND id = ?2")?
                .execute([tenant, id])?;
            Ok(())
        })
        .await
    }

    async fn get_alert(
        &self,
        tenant: &TenantId,
        id: &AlertId,
    ) -> Result<Option<Alert>, StoreError> {
        self.document(ALERT_DOCUMENT, tenant, &id.0).await
    }

    async fn list_unrouted(
        &self,
        tenant: &TenantId,
        before: Option<&AlertId>,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        let (tenant, before) = (tenant.0.clone(), before.map(|b| b.0.clone()));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT a.doc FROM unrouted_alerts u JOIN alerts a ON a.tenant = u.tenant AND a.id = u.id
                 WHERE u.tenant = ?1 AND (?2 IS NULL OR u.id < ?2) ORDER BY u.id DESC LIMIT ?3",
            )?;
            let docs = statement.query_map(params![tenant, before, limit], |r| r.get::<_, String>(0))?;
            let mut alerts = Vec::new();
            for doc in docs {
                alerts.push(serde_json::from_str(&doc?)?);
            }
            Ok(alerts)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    use crate::delivery::Delivery;
    use chrono::Utc;

    use crate::embedded::{EmbeddedQueue, QueueSettings};
    use crate::ids::{DeliveryId, EndpointId};
    use crate::ports::queue::{ReceivedTask, Task, TaskQueue};
    use crate::ports::store::DeliveryStore;
    use crate::ports::store::{AlertRecord, AlertStore};

    /// A database in a scratch directory, so reads go through the read-only connections.
    fn on_disk(name: &str) -> (Database, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "alertwire-stores-{name}-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        (Database::open(&dir, false).expect("opened"), dir)
    }

    fn alert_with_delivery(id: &str) -> (Alert, Delivery) {
        let alert = crate::alert::AlertContent::from_json(&json!({"title": "disk full"}))
            .expect("a valid alert")
            .into_alert(AlertId::from(id), TenantId::from("acme"), Utc::now());
        let delivery = Delivery::pending(
            DeliveryId::from(format!("msg_{id}").as_str()),
            &alert,
            EndpointId::from("ep_1"),
        );
        (alert, delivery)
    }

    /// The embedded queue on `database`, leases of 30 s, ten receives at most.
    fn queue_on(database: &Database) -> EmbeddedQueue {
        EmbeddedQueue::new(
            database.clone(),
            QueueSettings {
                visibility_timeout: Duration::from_secs(30),
                max_receives: 10,
            },
        )
    }

    fn task_for(delivery: &Delivery) -> Task {
        Task::DeliverV1 {
            tenant: delivery.tenant.clone(),
            delivery_id: delivery.id.clone(),
            run: 0,
            endpoint: None,
            attempts_before: 0,
        }
    }

    #[tokio::test]
    async fn an_alert_is_written_with_its_tasks_in_one_transaction() {
        let (database, dir) = on_disk("outbox");
        let queue = queue_on(&database);
        let (alert, delivery) = alert_with_delivery("al_1");
        let tasks = [task_for(&delivery)];
        let outcome = database
            .record_alert(AlertRecord {
                alert: &alert,
                deliveries: std::slice::from_ref(&delivery),
                idempotency: None,
                tasks: &tasks,
            })
            .await
            .expect("recorded");
        assert_eq!(outcome, RecordOutcome::Recorded { enqueued: true });
        // The worker is woken, the task is on the queue and the alert is read back (by a reader).
        tokio::time::timeout(Duration::from_secs(1), queue.wakeup().notified())
            .await
            .expect("the worker is woken");
        let received = queue.receive(10).await.expect("received");
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].task, Some(tasks[0].clone()));
        assert_eq!(
            database
                .get_alert(&alert.tenant, &alert.id)
                .await
                .expect("read"),
            Some(alert.clone())
        );

        // A write that fails half-way (the alert id is taken) leaves no task of its own behind.
        let (_, other) = alert_with_delivery("al_2");
        let failed = database
            .record_alert(AlertRecord {
                alert: &alert,
                deliveries: std::slice::from_ref(&other),
                idempotency: None,
                tasks: &[task_for(&other)],
            })
            .await;
        assert!(
            failed.is_err(),
            "a second alert with the same id is refused"
        );
        assert_eq!(queue.depth().await.expect("depth"), (1, 0));
        assert_eq!(
            database
                .get_delivery(&other.tenant, &other.id)
                .await
                .expect("read"),
            None
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A worker that has caught up with the queue is handed an alert's tasks, leased to it in the alert's
    /// commit: no receive finds them, their receipts settle them, and a crash before their attempts leaves
    /// them to the next start's recovery like any leased task. It is handed no more than it has room for,
    /// and nothing from a write that fails.
    #[tokio::test]
    async fn a_caught_up_worker_is_handed_an_alerts_tasks_leased_in_the_alerts_commit() {
        let (database, dir) = on_disk("hand-off");
        let queue = queue_on(&database);
        let record = |id: &'static str| {
            let database = database.clone();
            async move {
                let (alert, delivery) = alert_with_delivery(id);
                let tasks = [task_for(&delivery)];
                database
                    .record_alert(AlertRecord {
                        alert: &alert,
                        deliveries: std::slice::from_ref(&delivery),
                        idempotency: None,
                        tasks: &tasks,
                    })
                    .await
                    .map(|_| tasks[0].clone())
            }
        };
        let received_ids = |received: Vec<ReceivedTask>| -> Vec<String> {
            received
                .into_iter()
                .map(|r| r.task.expect("readable").delivery_id().0.clone())
                .collect()
        };
        let mut handed = queue.open_hand_off(1);
        // Until the worker says it has caught up, tasks are queued ready.
        record("al_1").await.expect("recorded");
        assert!(handed.try_next().is_none());
        let ready = queue.receive(10).await.expect("received");
        assert_eq!(received_ids(ready.clone()), ["msg_al_1"]);
        queue.delete(&ready[0].receipt).await.expect("deleted");

        handed.set_caught_up(true);
        let task = record("al_2").await.expect("recorded");
        // No room for a second: it is queued ready.
        record("al_3").await.expect("recorded");
        let ready = queue.receive(10).await.expect("received");
        assert_eq!(received_ids(ready.clone()), ["msg_al_3"]);
        queue.delete(&ready[0].receipt).await.expect("deleted");
        let passed = handed.try_next().expect("handed off");
        assert_eq!(passed.task, Some(task));
        assert_eq!(passed.receive_count, 1);
        assert_eq!(queue.depth().await.expect("depth"), (1, 0));
        assert!(queue.receive(10).await.expect("received").is_empty());
        queue.delete(&passed.receipt).await.expect("deleted");
        assert_eq!(queue.depth().await.expect("depth"), (0, 0));

        // A write that fails (its alert id is taken) hands nothing and gives its place back.
        assert!(record("al_2").await.is_err());
        assert!(handed.try_next().is_none());
        record("al_4").await.expect("recorded");
        let passed = handed.try_next().expect("handed off");
        assert_eq!(passed.task.expect("readable").delivery_id().0, "msg_al_4");

        // The process dies before the attempt: the next start releases the task for its first attempt.
        let recovered = database.recover(10).await.expect("recovered");
        assert_eq!(recovered.released, 1);
        let ready = queue.receive(10).await.expect("received");
        assert_eq!(ready[0].receive_count, 1);

        // A worker that stops closes the hand-off.
        drop(handed);
        record("al_5").await.expect("recorded");
        assert_eq!(
            received_ids(queue.receive(10).await.expect("received")),
            ["msg_al_5"]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    /// The client of a request may go away while its alert is written: the alert is committed all the same,
    /// and so its tasks are passed to the worker, not left leased to nobody until their lease runs out.
    #[tokio::test]
    async fn tasks_are_handed_off_when_the_caller_stops_waiting_for_the_commit() {
        let database = Database::in_memory().expect("opened");
        let queue = queue_on(&database);
        let mut handed = queue.open_hand_off(1);
        handed.set_caught_up(true);
        let (alert, delivery) = alert_with_delivery("al_1");
        let tasks = [task_for(&delivery)];
        let record = database.record_alert(AlertRecord {
            alert: &alert,
            deliveries: std::slice::from_ref(&delivery),
            idempotency: None,
            tasks: &tasks,
        });
        // Polled once (the write goes to the database thread), then dropped, unless the database thread was
        // quicker still and answered within that one poll.
        let _ = tokio::time::timeout(Duration::ZERO, record).await;
        let passed = tokio::time::timeout(Duration::from_secs(5), handed.next())
            .await
            .expect("handed off once committed")
            .expect("a task");
        assert_eq!(passed.task, Some(tasks[0].clone()));
    }

    #[tokio::test]
    async fn beside_another_queue_the_tasks_are_left_to_the_caller() {
        // No EmbeddedQueue works on this database (the store could serve beside SQS).
        let database = Database::in_memory().expect("opened");
        let (alert, delivery) = alert_with_delivery("al_1");
        let outcome = database
            .record_alert(AlertRecord {
                alert: &alert,
                deliveries: std::slice::from_ref(&delivery),
                idempotency: None,
                tasks: &[task_for(&delivery)],
            })
            .await
            .expect("recorded");
        assert_eq!(outcome, RecordOutcome::Recorded { enqueued: false });
        let queued: i64 = database
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM queue", [], |r| r.get(0))?))
            .await
            .expect("counted");
        assert_eq!(queued, 0);
    }

    /// The stored `enqueued` says whether a repeat of the request must still send the tasks; the pruner
    /// keeps an alert while it is 0. The service marks only keyed alerts, so an alert is stored as
    /// enqueued when its tasks went in with it (whether it has any: a filtered alert has none), or when
    /// no key can bring a repeat.
    #[tokio::test]
    async fn an_alert_is_stored_enqueued_unless_a_keyed_repeat_must_still_send_its_tasks() {
        let stored_enqueued = |database: Database, id: &'static str| async move {
            database
                .read(move |c| {
                    Ok(
                        c.query_row("SELECT enqueued FROM alerts WHERE id = ?1", [id], |r| {
                            r.get::<_, bool>(0)
                        })?,
                    )
                })
                .await
                .expect("read")
        };
        let holding = Database::in_memory().expect("opened");
        let _queue = queue_on(&holding);
        let beside = Database::in_memory().expect("opened");
        // (database, alert id, with a task, idempotency key) → (answer's enqueued, stored enqueued)
        let cases = [
            (&holding, "al_1", true, None, true, true),
            (&holding, "al_2", false, None, true, true),
            (&holding, "al_3", false, Some("key-3"), true, true),
            (&beside, "al_4", true, None, false, true),
            (&beside, "al_5", true, Some("key-5"), false, false),
        ];
        for (database, id, with_task, key, answered, stored) in cases {
            let (alert, delivery) = alert_with_delivery(id);
            let tasks: Vec<Task> = with_task.then(|| task_for(&delivery)).into_iter().collect();
            let outcome = database
                .record_alert(AlertRecord {
                    alert: &alert,
                    deliveries: std::slice::from_ref(&delivery),
                    idempotency: key.map(|k| (k, "hash")),
                    tasks: &tasks,
                })
                .await
                .expect("recorded");
            assert_eq!(
                outcome,
                RecordOutcome::Recorded { enqueued: answered },
                "{id}"
            );
            assert_eq!(stored_enqueued(database.clone(), id).await, stored, "{id}");
        }
    }
}
