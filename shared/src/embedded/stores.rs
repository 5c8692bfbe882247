//! The storage ports on SQLite: keys, endpoints, alerts and deliveries with their attempts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::Database;
use super::queue::{insert_tasks, task_rows};
use crate::alert::{Alert, MessageType};
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::endpoint::Endpoint;
use crate::endpoint_health::EndpointHealth;
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::store::{
    AlertReceipt, AlertRecord, AlertStore, ApiKeyStore, DeliveryFilter, DeliveryStore,
    EndpointStore, RecordOutcome, StatusChange, StoreError,
};

#[async_trait]
impl ApiKeyStore for Database {
    async fn tenant_for_key(&self, key_hash: &str) -> Result<Option<TenantId>, StoreError> {
        let key_hash = key_hash.to_string();
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT tenant FROM api_keys WHERE key_hash = ?1")?
                    .query_row([key_hash], |r| r.get::<_, String>(0))
                    .optional()?
                    .map(TenantId),
            )
        })
        .await
    }

    async fn add_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<(), StoreError> {
        let (tenant, key_hash, label) = (tenant.0.clone(), key_hash.to_string(), label.to_string());
        self.run(move |c| {
            c.prepare_cached("INSERT OR IGNORE INTO api_keys (key_hash, tenant, label, created_at) VALUES (?1, ?2, ?3, ?4)")?.execute(
                params![key_hash, tenant, label, Utc::now().to_rfc3339()],
            )?;
            Ok(())
        })
        .await
    }

    async fn has_keys(&self) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys)")?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }
}

#[async_trait]
impl EndpointStore for Database {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let doc = serde_json::to_string(endpoint)?;
        let (tenant, id, version) = (
            endpoint.tenant.0.clone(),
            endpoint.id.0.clone(),
            endpoint.version,
        );
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO endpoints (tenant, id, version, doc) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![tenant, id, version, doc])?;
            Ok(())
        })
        .await
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "{ENDPOINT_WITH_HEALTH} WHERE e.tenant = ?1 AND e.id = ?2"
            ))?
            .query_row([tenant, id], endpoint_from_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
        let tenant = tenant.0.clone();
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "{ENDPOINT_WITH_HEALTH} WHERE e.tenant = ?1 ORDER BY e.id"
            ))?;
            let rows = statement.query_map([tenant], endpoint_from_row)?;
            let mut endpoints = Vec::new();
            for row in rows {
                endpoints.push(row??);
            }
            Ok(endpoints)
        })
        .await
    }

    async fn replace_endpoint(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let doc = serde_json::to_string(endpoint)?;
        let (tenant, id, version) = (
            endpoint.tenant.0.clone(),
            endpoint.id.0.clone(),
            endpoint.version,
        );
        self.run(move |c| {
            let changed = c.prepare_cached("UPDATE endpoints SET version = ?1, doc = ?2 WHERE tenant = ?3 AND id = ?4 AND version = ?5")?.execute(
                params![version, doc, tenant, id, expected_version],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.run(move |c| {
            let tx = c.savepoint()?;
            tx.prepare_cached(
                "DELETE FROM endpoint_health WHERE tenant = ?1 AND endpoint_id = ?2",
            )?
            .execute([&tenant, &id])?;
            let deleted = tx
                .prepare_cached("DELETE FROM endpoints WHERE tenant = ?1 AND id = ?2")?
                .execute([&tenant, &id])?
                == 1;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn note_failure(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        at: DateTime<Utc>,
    ) -> Result<Option<EndpointHealth>, StoreError> {
        let (tenant, id, at) = (tenant.0.clone(), id.0.clone(), at.to_rfc3339());
        self.run(move |c| {
            let tx = c.savepoint()?;
            let exists: bool = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM endpoints WHERE tenant = ?1 AND id = ?2)")?.query_row(
                [&tenant, &id],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(None);
            }
            let health = tx.prepare_cached("INSERT INTO endpoint_health (tenant, endpoint_id, failure_streak, failing_since, last_failure_at)
                 VALUES (?1, ?2, 1, ?3, ?3)
                 ON CONFLICT (tenant, endpoint_id) DO UPDATE
                   SET failure_streak = failure_streak + 1, last_failure_at = excluded.last_failure_at
                 RETURNING failure_streak, failing_since, last_failure_at")?.query_row(
                [&tenant, &id, &at],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            tx.commit()?;
            Ok(Some(health_from(Some(health))?))
        })
        .await
    }

    async fn clear_failures(&self, tenant: &TenantId, id: &EndpointId) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.run(move |c| {
            c.prepare_cached("DELETE FROM endpoint_health WHERE tenant = ?1 AND endpoint_id = ?2")?
                .execute([tenant, id])?;
            Ok(())
        })
        .await
    }

    async fn disable_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (tenant, id, reason) = (tenant.0.clone(), id.0.clone(), reason.to_string());
        self.run(move |c| {
            let tx = c.savepoint()?;
            let Some(doc) = tx
                .query_row(
                    "SELECT doc FROM endpoints WHERE tenant = ?1 AND id = ?2",
                    [&tenant, &id],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
            else {
                return Ok(false);
            };
            let mut endpoint: Endpoint = serde_json::from_str(&doc)?;
            if !endpoint.enabled {
                return Ok(false);
            }
            endpoint.enabled = false;
            endpoint.disabled_reason = Some(reason);
            endpoint.version += 1;
            endpoint.updated_at = at;
            tx.prepare_cached(
                "UPDATE endpoints SET version = ?1, doc = ?2 WHERE tenant = ?3 AND id = ?4",
            )?
            .execute(params![
                endpoint.version,
                serde_json::to_string(&endpoint)?,
                tenant,
                id
            ])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

/// An endpoint's document with its health beside it (absent when it has no failures).
const ENDPOINT_WITH_HEALTH: &str =
    "SELECT e.doc, h.failure_streak, h.failing_since, h.last_failure_at
     FROM endpoints e
     LEFT JOIN endpoint_health h ON h.tenant = e.tenant AND h.endpoint_id = e.id";

type HealthRow = (u32, String, String);

fn endpoint_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Endpoint, StoreError>> {
    let doc: String = row.get(0)?;
    let streak: Option<u32> = row.get(1)?;
    let health = match streak {
        Some(streak) => Some((streak, row.get(2)?, row.get(3)?)),
        None => None,
    };
    Ok((|| {
        let mut endpoint: Endpoint = serde_json::from_str(&doc)?;
        endpoint.health = health_from(health)?;
        Ok(endpoint)
    })())
}

fn health_from(row: Option<HealthRow>) -> Result<EndpointHealth, StoreError> {
    let Some((failure_streak, since, last)) = row else {
        return Ok(EndpointHealth::default());
    };
    let time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("endpoint health time `{text}`: {e}")))
    };
    Ok(EndpointHealth {
        failure_streak,
        failing_since: Some(time(&since)?),
        last_failure_at: Some(time(&last)?),
    })
}

#[async_trait]
impl AlertStore for Database {
    async fn record_alert(&self, record: AlertRecord<'_>) -> Result<RecordOutcome, StoreError> {
        let alert_doc = serde_json::to_string(record.alert)?;
        let receipt = AlertReceipt {
            alert_id: record.alert.id.clone(),
            deliveries: record
                .deliveries
                .iter()
                .map(|d| (d.id.clone(), d.endpoint_id.clone()))
                .collect(),
        };
        let receipt_doc = serde_json::to_string(&receipt)?;
        let tenant = record.alert.tenant.0.clone();
        let alert_id = record.alert.id.0.clone();
        let idempotency = record
            .idempotency
            .map(|(k, h)| (k.to_string(), h.to_string()));
        let deliveries = record.deliveries.to_vec();
        // The tasks go in with the alert only where the queue is in this database and there are any.
        let tasks = if self.holds_queue() {
            task_rows(record.tasks)?
        } else {
            Vec::new()
        };
        let queued = !tasks.is_empty();
        let outcome = self.run(move |c| {
            let tx = c.savepoint()?;
            if let Some((key, _)) = &idempotency {
                let existing = tx
                    .query_row(
                        "SELECT receipt, request_hash, enqueued FROM alerts WHERE tenant = ?1 AND idempotency_key = ?2",
                        [&tenant, key],
                        |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, bool>(2)?)),
                    )
                    .optional()?;
                if let Some((receipt, request_hash, enqueued)) = existing {
                    return Ok(RecordOutcome::AlreadyRecorded {
                        receipt: serde_json::from_str(&receipt)?,
                        request_hash: request_hash.unwrap_or_default(),
                        enqueued,
                    });
                }
            }
            let (key, hash) = idempotency.unzip();
            // With the queue in this database, the alert, its deliveries and their tasks are one write.
            tx.prepare_cached("INSERT INTO alerts (tenant, id, doc, receipt, idempotency_key, request_hash, enqueued) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
                params![tenant, alert_id, alert_doc, receipt_doc, key, hash, queued],
            )?;
            for delivery in &deliveries {
                insert_delivery(&tx, delivery)?;
            }
            insert_tasks(&tx, &tasks)?;
            tx.commit()?;
            Ok(RecordOutcome::Recorded { enqueued: queued })
        })
        .await?;
        if outcome == (RecordOutcome::Recorded { enqueued: true }) {
            self.queue_wakeup().notify_one();
        }
        Ok(outcome)
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
        self.document(
            "SELECT doc FROM alerts WHERE tenant = ?1 AND id = ?2",
            tenant,
            &id.0,
        )
        .await
    }
}

impl Database {
    /// Reads the JSON document `sql` selects for a tenant and an id.
    async fn document<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.to_string());
        self.read(move |c| {
            let doc: Option<String> = c
                .prepare_cached(sql)?
                .query_row([tenant, id], |r| r.get(0))
                .optional()?;
            Ok(doc.map(|d| serde_json::from_str(&d)).transpose()?)
        })
        .await
    }
}

fn insert_delivery(c: &rusqlite::Connection, d: &Delivery) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO deliveries (tenant, id, alert_id, endpoint_id, message_type, status, status_reason, run,
                                 next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        d.tenant.0,
        d.id.0,
        d.alert_id.0,
        d.endpoint_id.0,
        d.message_type.as_str(),
        d.status.as_str(),
        d.status_reason,
        d.run,
        d.next_attempt_at.map(|t| t.to_rfc3339()),
        d.created_at.to_rfc3339(),
        d.updated_at.to_rfc3339(),
    ])?;
    for attempt in &d.attempts {
        insert_attempt(c, &d.tenant, &d.id, attempt)?;
    }
    Ok(())
}

fn insert_attempt(
    c: &rusqlite::Connection,
    tenant: &TenantId,
    id: &DeliveryId,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    c.prepare_cached("INSERT INTO attempts (tenant, delivery_id, doc) VALUES (?1, ?2, ?3)")?
        .execute(params![tenant.0, id.0, serde_json::to_string(attempt)?])?;
    Ok(())
}

const DELIVERY_COLUMNS: &str = "tenant, id, alert_id, endpoint_id, message_type, status, status_reason, run, \
                                next_attempt_at, created_at, updated_at";

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let time = |i: usize| -> rusqlite::Result<DateTime<Utc>> {
        let text: String = row.get(i)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
    };
    let unreadable = |i: usize| {
        rusqlite::Error::InvalidColumnType(i, "enum".into(), rusqlite::types::Type::Text)
    };
    let message_type =
        MessageType::parse(&row.get::<_, String>(4)?).ok_or_else(|| unreadable(4))?;
    let status = DeliveryStatus::parse(&row.get::<_, String>(5)?).ok_or_else(|| unreadable(5))?;
    let next: Option<String> = row.get(8)?;
    Ok(Delivery {
        tenant: TenantId(row.get(0)?),
        id: DeliveryId(row.get(1)?),
        alert_id: AlertId(row.get(2)?),
        endpoint_id: EndpointId(row.get(3)?),
        message_type,
        status,
        status_reason: row.get(6)?,
        run: row.get(7)?,
        next_attempt_at: next
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc)),
        attempts: Vec::new(),
        created_at: time(9)?,
        updated_at: time(10)?,
    })
}

fn load_attempts(c: &rusqlite::Connection, delivery: &mut Delivery) -> Result<(), StoreError> {
    let mut statement = c.prepare_cached(
        "SELECT doc FROM attempts WHERE tenant = ?1 AND delivery_id = ?2 ORDER BY seq",
    )?;
    let docs = statement.query_map([&delivery.tenant.0, &delivery.id.0], |r| {
        r.get::<_, String>(0)
    })?;
    for doc in docs {
        delivery.attempts.push(serde_json::from_str(&doc?)?);
    }
    Ok(())
}

#[async_trait]
impl DeliveryStore for Database {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.read(move |c| {
            let sql =
                format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = ?1 AND id = ?2");
            let Some(mut delivery) = c
                .query_row(&sql, [tenant, id], delivery_from_row)
                .optional()?
            else {
                return Ok(None);
            };
            load_attempts(c, &mut delivery)?;
            Ok(Some(delivery))
        })
        .await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        let tenant = tenant.0.clone();
        let filter = filter.clone();
        self.read(move |c| {
            let mut sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = ?");
            let mut args: Vec<String> = vec![tenant];
            let clauses = [
                ("endpoint_id", filter.endpoint_id.map(|e| e.0)),
                ("status", filter.status.map(|s| s.as_str().to_string())),
                ("alert_id", filter.alert_id.map(|a| a.0)),
            ];
            for (column, value) in clauses {
                if let Some(value) = value {
                    sql.push_str(&format!(" AND {column} = ?"));
                    args.push(value);
                }
            }
            if let Some(before) = filter.before {
                sql.push_str(" AND id < ?");
                args.push(before.0);
            }
            sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", filter.limit.max(1)));
            let mut statement = c.prepare(&sql)?;
            let rows =
                statement.query_map(rusqlite::params_from_iter(args.iter()), delivery_from_row)?;
            let mut deliveries = rows.collect::<Result<Vec<_>, _>>()?;
            for delivery in &mut deliveries {
                load_attempts(c, delivery)?;
            }
            Ok(deliveries)
        })
        .await
    }

    async fn update_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        change: StatusChange<'_>,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let attempt = attempt.cloned();
        let status = change.status.as_str();
        let reason = change.reason.map(str::to_string);
        let next = change.next_attempt_at.map(|t| t.to_rfc3339());
        self.run(move |c| {
            let tx = c.savepoint()?;
            let changed = tx.prepare_cached("UPDATE deliveries SET status = ?1, status_reason = ?2, next_attempt_at = ?3, updated_at = ?4
                 WHERE tenant = ?5 AND id = ?6 AND run = ?7 AND status = 'pending'")?.execute(
                params![status, reason, next, Utc::now().to_rfc3339(), tenant.0, id.0, run],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            if let Some(attempt) = &attempt {
                insert_attempt(&tx, &tenant, &id, attempt)?;
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn start_resend(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        only_if: Option<DeliveryStatus>,
    ) -> Result<Option<u32>, StoreError> {
        let started = self
            .start_resends(tenant, std::slice::from_ref(id), only_if)
            .await?;
        Ok(started.into_iter().next().map(|(_, run)| run))
    }

    /// One transaction for all of them: a replay of many dead letters commits (and syncs) once.
    async fn start_resends(
        &self,
        tenant: &TenantId,
        ids: &[DeliveryId],
        only_if: Option<DeliveryStatus>,
    ) -> Result<Vec<(DeliveryId, u32)>, StoreError> {
        let (tenant, ids) = (tenant.0.clone(), ids.to_vec());
        let only_if = only_if.map(DeliveryStatus::as_str);
        self.run(move |c| {
            let tx = c.savepoint()?;
            let now = Utc::now().to_rfc3339();
            let mut started = Vec::with_capacity(ids.len());
            {
                let mut resend = tx.prepare_cached(
                    "UPDATE deliveries SET run = run + 1, status = 'pending', status_reason = NULL,
                            next_attempt_at = NULL, updated_at = ?1
                     WHERE tenant = ?2 AND id = ?3 AND (?4 IS NULL OR status = ?4)
                     RETURNING run",
                )?;
                for id in ids {
                    let run = resend
                        .query_row(params![now, tenant, id.0, only_if], |r| r.get::<_, u32>(0))
                        .optional()?;
                    if let Some(run) = run {
                        started.push((id, run));
                    }
                }
            }
            tx.commit()?;
            Ok(started)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::embedded::{EmbeddedQueue, QueueSettings};
    use crate::queue::{Task, TaskQueue};
    use crate::store::{AlertRecord, AlertStore};

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
        let delivery = Delivery {
            id: DeliveryId::from(format!("msg_{id}").as_str()),
            tenant: alert.tenant.clone(),
            alert_id: alert.id.clone(),
            endpoint_id: EndpointId::from("ep_1"),
            message_type: MessageType::Error,
            status: DeliveryStatus::Pending,
            status_reason: None,
            run: 0,
            attempts: Vec::new(),
            next_attempt_at: None,
            created_at: alert.received_at,
            updated_at: alert.received_at,
        };
        (alert, delivery)
    }

    fn task_for(delivery: &Delivery) -> Task {
        Task::DeliverV1 {
            tenant: delivery.tenant.clone(),
            delivery_id: delivery.id.clone(),
            run: 0,
        }
    }

    #[tokio::test]
    async fn an_alert_is_written_with_its_tasks_in_one_transaction() {
        let (database, dir) = on_disk("outbox");
        let queue = EmbeddedQueue::new(
            database.clone(),
            QueueSettings {
                visibility_timeout: Duration::from_secs(30),
                max_receives: 10,
            },
        );
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
}
