//! Deliveries and their attempts on SQLite: status changes conditioned on the current run, keyset pages.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::alerts::ALERT_DOCUMENT;
use super::endpoints::read_stored_endpoint;
use super::read_document;
use crate::alert::{Alert, MessageType};
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::embedded::Database;
use crate::embedded::database::Written;
use crate::embedded::queue::{insert_tasks, remove_task, task_rows};
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::ports::store::{
    DeliveryFilter, DeliveryStore, DeliveryToAttempt, FallbackOutcome, FallbackRecord, ReadAhead,
    Settlement, StatusChange, StoreError,
};

pub(super) fn insert_delivery(c: &rusqlite::Connection, d: &Delivery) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO deliveries (tenant, id, alert_id, endpoint_id, message_type, status, status_reason, run,
                                 next_attempt_at, created_at, updated_at, fallback_of, fallback_delivery_id,
                                 digest_delivery_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
        d.fallback_of.as_ref().map(|f| &f.0),
        d.fallback_delivery_id.as_ref().map(|f| &f.0),
        d.digest_delivery_id.as_ref().map(|f| &f.0),
    ])?;
    for attempt in &d.attempts {
        insert_attempt(c, &d.tenant, &d.id, attempt)?;
    }
    Ok(())
}

/// Records `attempt`; false when the delivery has a record of it already (same run and number), which the
/// unique index `attempts_once` refuses.
pub(super) fn insert_attempt(
    c: &rusqlite::Connection,
    tenant: &TenantId,
    id: &DeliveryId,
    attempt: &Attempt,
) -> Result<bool, StoreError> {
    let inserted = c
        .prepare_cached("INSERT INTO attempts (tenant, delivery_id, doc) VALUES (?1, ?2, ?3)")?
        .execute(params![tenant.0, id.0, serde_json::to_string(attempt)?]);
    match inserted {
        Ok(_) => Ok(true),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether the delivery has an attempt numbered `attempt.number` or higher in `attempt.run`: another copy
/// of the run's task made it.
fn attempt_made_already(
    c: &rusqlite::Connection,
    tenant: &TenantId,
    id: &DeliveryId,
    attempt: &Attempt,
) -> Result<bool, StoreError> {
    Ok(c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM attempts WHERE tenant = ?1 AND delivery_id = ?2 \
         AND json_extract(doc, '$.run') = ?3 AND json_extract(doc, '$.number') >= ?4 LIMIT 1)",
    )?
    .query_row(params![tenant.0, id.0, attempt.run, attempt.number], |r| {
        r.get(0)
    })?)
}

const DELIVERY_COLUMNS: &str = "tenant, id, alert_id, endpoint_id, message_type, status, status_reason, run, \
                                next_attempt_at, created_at, updated_at, fallback_of, fallback_delivery_id, \
                                digest_delivery_id";

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
        fallback_of: row.get::<_, Option<String>>(11)?.map(DeliveryId),
        fallback_delivery_id: row.get::<_, Option<String>>(12)?.map(DeliveryId),
        digest_delivery_id: row.get::<_, Option<String>>(13)?.map(DeliveryId),
    })
}

/// The delivery `tenant`/`id` with its attempts, read on `c`.
fn read_delivery(
    c: &rusqlite::Connection,
    tenant: &str,
    id: &str,
) -> Result<Option<Delivery>, StoreError> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE tenant = ?1 AND id = ?2");
    let Some(mut delivery) = c
        .prepare_cached(&sql)?
        .query_row([tenant, id], delivery_from_row)
        .optional()?
    else {
        return Ok(None);
    };
    load_attempts(c, &mut delivery)?;
    Ok(Some(delivery))
}

fn load_attempts(c: &rusqlite::Connection, delivery: &mut Delivery) -> Result<(), StoreError> {
    let mut statement = c.prepare_cached(
        "SELECT doc FROM attempts WHERE tenant = ?1 AND delivery_id = ?2
         ORDER BY json_extract(doc, '$.run'), json_extract(doc, '$.number'), seq",
    )?;
    let docs = statement.query_map([&delivery.tenant.0, &delivery.id.0], |r| {
        r.get::<_, String>(0)
    })?;
    for doc in docs {
        delivery.attempts.push(serde_json::from_str(&doc?)?);
    }
    Ok(())
}

impl Database {
    /// The attempt (if any) and the status change of a pending delivery run, and with them the removal of
    /// the task `receipt` leases when given: one unit of work, so the outcome and the task's end are one
    /// commit. Nothing is written if the run is not pending or the attempt was recorded already.
    async fn update_and_settle(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        change: StatusChange<'_>,
        receipt: Option<String>,
    ) -> Result<Settlement, StoreError> {
        let (tenant, id) = (tenant.clone(), id.clone());
        let attempt = attempt.cloned();
        let status = change.status.as_str();
        let reason = change.reason.map(str::to_string);
        let next = change.next_attempt_at.map(|t| t.to_rfc3339());
        self.run_undoable(move |c| {
            if let Some(attempt) = &attempt
                && attempt_made_already(c, &tenant, &id, attempt)?
            {
                return Ok(Written::Kept(Settlement::default()));
            }
            let changed = c.prepare_cached("UPDATE deliveries SET status = ?1, status_reason = ?2, next_attempt_at = ?3, updated_at = ?4
                 WHERE tenant = ?5 AND id = ?6 AND run = ?7 AND status = 'pending'")?.execute(
                params![status, reason, next, Utc::now().to_rfc3339(), tenant.0, id.0, run],
            )?;
            if changed == 0 {
                return Ok(Written::Kept(Settlement::default()));
            }
            // The check above finds an earlier record; the index refuses one whatever the check said,
            // and then the status change is taken back too.
            if let Some(attempt) = &attempt
                && !insert_attempt(c, &tenant, &id, attempt)?
            {
                return Ok(Written::Undone(Settlement::default()));
            }
            let task_removed = match &receipt {
                Some(receipt) => remove_task(c, receipt)?,
                None => false,
            };
            Ok(Written::Kept(Settlement {
                recorded: true,
                task_removed,
            }))
        })
        .await
    }
}

#[async_trait]
impl DeliveryStore for Database {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.read(move |c| read_delivery(c, &tenant, &id)).await
    }

    /// One read transaction: the delivery, its attempts, its endpoint's row and its alert's document.
    async fn get_delivery_to_attempt(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<DeliveryToAttempt>, StoreError> {
        let (tenant_id, id) = (tenant.0.clone(), id.0.clone());
        let found = self
            .read(move |c| {
                let Some(delivery) = read_delivery(c, &tenant_id, &id)? else {
                    return Ok(None);
                };
                let endpoint = read_stored_endpoint(c, &tenant_id, &delivery.endpoint_id.0)?;
                let alert: Option<Alert> =
                    read_document(c, ALERT_DOCUMENT, &tenant_id, &delivery.alert_id.0)?;
                Ok(Some((delivery, endpoint, alert)))
            })
            .await?;
        let Some((delivery, endpoint, alert)) = found else {
            return Ok(None);
        };
        let endpoint = match endpoint {
            Some(stored) => Some(
                self.endpoint_of(tenant, &delivery.endpoint_id, stored)
                    .await?,
            ),
            None => None,
        };
        Ok(Some(DeliveryToAttempt {
            delivery,
            endpoint: ReadAhead::Read(endpoint),
            alert: ReadAhead::Read(alert),
        }))
    }

    /// Times are RFC 3339 text in UTC, so they compare as text.
    async fn pending_unchanged_since(
        &self,
        changed_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError> {
        let before = changed_before.to_rfc3339();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(move |c| {
            let sql = format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries
                 WHERE status = 'pending' AND updated_at < ?1 ORDER BY updated_at LIMIT ?2"
            );
            let mut statement = c.prepare_cached(&sql)?;
            let found = statement
                .query_map(params![before, limit], delivery_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(found
                .into_iter()
                .filter(|d| d.updated_at < changed_before)
                .collect())
        })
        .await
    }

    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        let (sql, args) = listing(DELIVERY_COLUMNS, tenant, filter);
        self.read(move |c| {
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

    async fn list_delivery_ids(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let (sql, args) = listing("id", tenant, filter);
        self.read(move |c| {
            let mut statement = c.prepare(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(args.iter()), |row| {
                Ok(DeliveryId(row.get(0)?))
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
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
        let settled = self
            .update_and_settle(tenant, id, run, attempt, change, None)
            .await?;
        Ok(settled.recorded)
    }

    async fn update_delivery_settling(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        change: StatusChange<'_>,
        finishes: Option<&str>,
    ) -> Result<Settlement, StoreError> {
        // Only the queue in this database can be written with the outcome.
        let receipt = finishes.filter(|_| self.holds_queue()).map(str::to_string);
        self.update_and_settle(tenant, id, run, attempt, change, receipt)
            .await
    }

    /// The fallback delivery, the dead delivery's link to it and (where the queue is in this database)
    /// its tasks in one transaction, as an alert is recorded.
    async fn record_fallback(
        &self,
        record: FallbackRecord<'_>,
    ) -> Result<FallbackOutcome, StoreError> {
        let delivery = record.delivery.clone();
        let dead = delivery.fallback_of.clone().ok_or_else(|| {
            StoreError::Backend("a fallback delivery must name the dead one".into())
        })?;
        let tasks = if self.holds_queue() {
            task_rows(record.tasks)?
        } else {
            Vec::new()
        };
        let queued = !tasks.is_empty();
        let outcome = self
            .run(move |c| {
                let exists: bool = c
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE tenant = ?1 AND id = ?2)",
                    )?
                    .query_row([&delivery.tenant.0, &delivery.id.0], |r| r.get(0))?;
                if exists {
                    return Ok(FallbackOutcome::AlreadyRecorded);
                }
                insert_delivery(c, &delivery)?;
                c.prepare_cached(
                    "UPDATE deliveries SET fallback_delivery_id = ?1 WHERE tenant = ?2 AND id = ?3",
                )?
                .execute([&delivery.id.0, &delivery.tenant.0, &dead.0])?;
                insert_tasks(c, &tasks)?;
                Ok(FallbackOutcome::Recorded { enqueued: queued })
            })
            .await?;
        if outcome == (FallbackOutcome::Recorded { enqueued: true }) {
            self.queue_wakeup().notify_one();
        }
        Ok(outcome)
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
            let now = Utc::now().to_rfc3339();
            let mut started = Vec::with_capacity(ids.len());
            {
                let mut resend = c.prepare_cached(
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
            Ok(started)
        })
        .await
    }
}

/// The statement listing `columns` of `tenant`'s deliveries that `filter` selects, newest first, and its
/// arguments.
fn listing(columns: &str, tenant: &TenantId, filter: &DeliveryFilter) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {columns} FROM deliveries WHERE tenant = ?");
    let mut args: Vec<String> = vec![tenant.0.clone()];
    let clauses = [
        (
            "endpoint_id",
            filter.endpoint_id.as_ref().map(|e| e.0.clone()),
        ),
        ("status", filter.status.map(|s| s.as_str().to_string())),
        ("alert_id", filter.alert_id.as_ref().map(|a| a.0.clone())),
    ];
    for (column, value) in clauses {
        if let Some(value) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            args.push(value);
        }
    }
    if let Some(before) = &filter.before {
        sql.push_str(" AND id < ?");
        args.push(before.0.clone());
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", filter.limit.max(1)));
    (sql, args)
}
