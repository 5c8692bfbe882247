//! The embedded store's pruner: deletes finished history past retention (delivered and filtered
//! deliveries with their attempts, then the alerts left with no delivery, their idempotency keys and
//! unrouted marks, and the incidents no message changed within it), and dead letters only once a
//! dead-letter retention is set and has passed. A pending
//! delivery is never touched. It works in small batches, each its own unit of work in the group commit,
//! with a pause between them, so ingest's commits go in between; then it hands the freed pages back to
//! the file system (`auto_vacuum = INCREMENTAL`), a few megabytes at a time.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use tokio::sync::watch;

use crate::delivery::DeliveryStatus;
use crate::embedded::Database;
use crate::embedded::queue::TASKS_OF_DELIVERY;
use crate::metrics::{Metrics, PrunedRecord};
use crate::ports::store::StoreError;
use crate::retention::Retention;

/// Most deliveries or alerts deleted in one unit of work: a few milliseconds of the database thread.
const BATCH: usize = 200;
/// Between two batches, so the commits of ingest and delivery are not queued behind the pruner's.
const PAUSE: Duration = Duration::from_millis(20);
/// Free pages handed back to the file system by one unit of work (4 MiB of 4 KiB pages).
const VACUUM_PAGES: u32 = 1024;
/// The shortest and the longest time between two passes.
const SHORTEST_PERIOD: Duration = Duration::from_secs(1);
const LONGEST_PERIOD: Duration = Duration::from_secs(600);
/// The first pass after a start comes this soon (or after a period, if shorter): a restart does not
/// put pruning off by a whole period.
const FIRST_PASS_AFTER: Duration = Duration::from_secs(5);

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub alerts: u64,
    /// Delivered and filtered deliveries.
    pub deliveries: u64,
    pub attempts: u64,
    /// Dead deliveries past the dead-letter retention, with their dead-letter queue tasks.
    pub dead_letters: u64,
    /// Incidents (their error delivery and captured values) no message changed within the retention.
    pub incidents: u64,
}

impl Pruned {
    fn add(&mut self, other: Pruned) {
        self.alerts += other.alerts;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
        self.dead_letters += other.dead_letters;
        self.incidents += other.incidents;
    }

    pub fn is_empty(&self) -> bool {
        *self == Pruned::default()
    }
}

pub struct Pruner {
    database: Database,
    retention: Retention,
    metrics: Metrics,
}

impl Pruner {
    pub fn new(database: Database, retention: Retention, metrics: Metrics) -> Self {
        Self {
            database,
            retention,
            metrics,
        }
    }

    /// A tenth of the shortest retention, from a second to ten minutes: history is deleted at most about
    /// a tenth of its retention late.
    pub fn period(&self) -> Duration {
        let shortest = match self.retention.dead_letters {
            Some(dead) => dead.min(self.retention.history),
            None => self.retention.history,
        };
        (shortest / 10).clamp(SHORTEST_PERIOD, LONGEST_PERIOD)
    }

    /// Prunes every [`period`](Self::period), the first time soon after the start, until `shutdown`
    /// turns true; a pass that fails is logged and tried again at the next period.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut wait = self.period().min(FIRST_PASS_AFTER);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            wait = self.period();
            match self.prune_until(Utc::now(), Some(&shutdown)).await {
                Ok(pruned) if !pruned.is_empty() => {
                    tracing::debug!(?pruned, "pruned history past retention");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning history failed; trying again later"),
            }
        }
    }

    /// One pass: everything past retention at `now`, in batches, then the freed pages.
    pub async fn prune(&self, now: DateTime<Utc>) -> Result<Pruned, StoreError> {
        self.prune_until(now, None).await
    }

    /// [`prune`](Self::prune), ending early, between two batches, once `stop` turns true.
    async fn prune_until(
        &self,
        now: DateTime<Utc>,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<Pruned, StoreError> {
        let history = self.retention.history_cutoff(now);
        let mut classes = vec![
            (DeliveryStatus::Delivered, history),
            (DeliveryStatus::Filtered, history),
        ];
        if let Some(dead) = self.retention.dead_letter_cutoff(now) {
            classes.push((DeliveryStatus::Dead, dead));
        }
        let mut total = Pruned::default();
        for tenant in self.database.read(tenants).await? {
            for (status, cutoff) in &classes {
                let pruned = self
                    .in_batches(stop, |after| {
                        let tenant = tenant.clone();
                        let (status, cutoff) = (*status, *cutoff);
                        move |c: &mut Connection| {
                            delete_deliveries(c, &tenant, status, cutoff, after.as_deref())
                        }
                    })
                    .await?;
                total.add(pruned);
            }
            let pruned = self
                .in_batches(stop, |after| {
                    let tenant = tenant.clone();
                    move |c: &mut Connection| delete_alerts(c, &tenant, history, after.as_deref())
                })
                .await?;
            total.add(pruned);
        }
        let pruned = self
            .in_batches(stop, |_| {
                move |c: &mut Connection| delete_incidents(c, history)
            })
            .await?;
        total.add(pruned);
        if !total.is_empty() {
            self.give_back_free_pages(stop).await?;
        }
        Ok(total)
    }

    /// Runs batches from `batch(after)` until one deletes less than [`BATCH`] rows, or `stop` turns true;
    /// each returns what it deleted and the last key it looked at, where the next one starts.
    async fn in_batches<B, W>(
        &self,
        stop: Option<&watch::Receiver<bool>>,
        batch: B,
    ) -> Result<Pruned, StoreError>
    where
        B: Fn(Option<String>) -> W,
        W: FnOnce(&mut Connection) -> Result<Batch, StoreError> + Send + 'static,
    {
        let mut total = Pruned::default();
        let mut after = None;
        loop {
            if stopping(stop) {
                return Ok(total);
            }
            let done = self.database.run(batch(after.take())).await?;
            // Counted batch by batch, so a long pass shows its progress.
            self.report(&done.pruned);
            total.add(done.pruned);
            match done.last {
                Some(last) if done.rows == BATCH => after = Some(last),
                _ => return Ok(total),
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    /// Hands the free pages back to the file system, [`VACUUM_PAGES`] at a time.
    async fn give_back_free_pages(
        &self,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<(), StoreError> {
        loop {
            if stopping(stop) {
                return Ok(());
            }
            let left = self
                .database
                .run(|c| {
                    c.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))?;
                    Ok(c.pragma_query_value(None, "freelist_count", |r| r.get::<_, i64>(0))?)
                })
                .await?;
            if left == 0 {
                return Ok(());
            }
            tokio::time::sleep(PAUSE).await;
        }
    }

    fn report(&self, pruned: &Pruned) {
        for (record, count) in [
            (PrunedRecord::Alerts, pruned.alerts),
            (PrunedRecord::Deliveries, pruned.deliveries),
            (PrunedRecord::Attempts, pruned.attempts),
            (PrunedRecord::DeadLetters, pruned.dead_letters),
            (PrunedRecord::Incidents, pruned.incidents),
        ] {
            self.metrics.history_pruned(record, count);
        }
    }
}

/// Whether the process is stopping, so a pass ends between two batches.
fn stopping(stop: Option<&watch::Receiver<bool>>) -> bool {
    stop.is_some_and(|stop| *stop.borrow())
}

/// One batch's work: what it deleted, how many rows it picked, and the last key it picked.
struct Batch {
    pruned: Pruned,
    rows: usize,
    last: Option<String>,
}

/// Every tenant with alerts, walked as a skip scan of the alerts' key (one index probe a tenant).
fn tenants(c: &Connection) -> Result<Vec<String>, StoreError> {
    let mut statement = c.prepare_cached(
        "WITH RECURSIVE t(tenant) AS (
             SELECT (SELECT tenant FROM alerts WHERE tenant > '' ORDER BY tenant LIMIT 1)
             UNION ALL
             SELECT (SELECT tenant FROM alerts WHERE tenant > t.tenant ORDER BY tenant LIMIT 1)
             FROM t WHERE t.tenant IS NOT NULL
         )
         SELECT tenant FROM t WHERE tenant IS NOT NULL",
    )?;
    let tenants = statement
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(tenants)
}

/// The smallest id generated at `moment` with `prefix`: ids are UUID v7, whose first 48 bits are the
/// Unix time in milliseconds, so every id below this one was generated earlier.
fn first_id_at(prefix: &str, moment: DateTime<Utc>) -> String {
    let millis = u64::try_from(moment.timestamp_millis()).unwrap_or(0);
    format!("{prefix}_{millis:012x}")
}

/// Deletes up to [`BATCH`] of a tenant's deliveries in `status` that were last changed before `cutoff`,
/// with their attempts and any task left for them, after the id `after`. A delivery folded into a digest
/// that is still pending, or dead (a replay sends it again), is kept: the digest lists it when it is sent.
fn delete_deliveries(
    c: &Connection,
    tenant: &str,
    status: DeliveryStatus,
    cutoff: DateTime<Utc>,
    after: Option<&str>,
) -> Result<Batch, StoreError> {
    let ids: Vec<String> = c
        .prepare_cached(
            "SELECT id FROM deliveries d
             WHERE tenant = ?1 AND status = ?2 AND id > ?3 AND id < ?4 AND updated_at < ?5
               AND (digest_delivery_id IS NULL OR NOT EXISTS (
                   SELECT 1 FROM deliveries g
                   WHERE g.tenant = d.tenant AND g.id = d.digest_delivery_id AND g.status IN ('pending', 'dead')))
             ORDER BY id LIMIT ?6",
        )?
        .query_map(
            params![
                tenant,
                status.as_str(),
                after.unwrap_or(""),
                first_id_at("msg", cutoff),
                cutoff.to_rfc3339(),
                BATCH
            ],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    let mut pruned = Pruned::default();
    for id in &ids {
        pruned.attempts += c
            .prepare_cached("DELETE FROM attempts WHERE tenant = ?1 AND delivery_id = ?2")?
            .execute(params![tenant, id])? as u64;
        c.prepare_cached(&format!("DELETE FROM queue WHERE {TASKS_OF_DELIVERY}"))?
            .execute([id])?;
        c.prepare_cached("DELETE FROM deliveries WHERE tenant = ?1 AND id = ?2")?
            .execute(params![tenant, id])?;
    }
    let count = ids.len() as u64;
    if status == DeliveryStatus::Dead {
        pruned.dead_letters = count;
    } else {
        pruned.deliveries = count;
    }
    Ok(Batch {
        pruned,
        rows: ids.len(),
        last: ids.last().cloned(),
    })
}

/// Deletes up to [`BATCH`] of a tenant's alerts accepted before `cutoff` that have no delivery left,
/// with their unrouted marks, after the id `after`. An alert whose tasks are not queued yet is left to
/// recovery.
fn delete_alerts(
    c: &Connection,
    tenant: &str,
    cutoff: DateTime<Utc>,
    after: Option<&str>,
) -> Result<Batch, StoreError> {
    let ids: Vec<String> = c
        .prepare_cached(
            "SELECT a.id FROM alerts a
             WHERE a.tenant = ?1 AND a.id > ?2 AND a.id < ?3 AND a.enqueued = 1
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.tenant = a.tenant AND d.alert_id = a.id)
             ORDER BY a.id LIMIT ?4",
        )?
        .query_map(
            params![
                tenant,
                after.unwrap_or(""),
                first_id_at("al", cutoff),
                BATCH
            ],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        c.prepare_cached("DELETE FROM unrouted_alerts WHERE tenant = ?1 AND id = ?2")?
            .execute(params![tenant, id])?;
        c.prepare_cached("DELETE FROM alerts WHERE tenant = ?1 AND id = ?2")?
            .execute(params![tenant, id])?;
    }
    Ok(Batch {
        pruned: Pruned {
            alerts: ids.len() as u64,
            ..Pruned::default()
        },
        rows: ids.len(),
        last: ids.last().cloned(),
    })
}

/// Deletes up to [`BATCH`] incidents last changed before `cutoff`, oldest first (the next batch starts
/// again from the oldest left).
fn delete_incidents(c: &Connection, cutoff: DateTime<Utc>) -> Result<Batch, StoreError> {
    let deleted = c
        .prepare_cached(
            "DELETE FROM incidents WHERE (tenant, endpoint_id, incident_key) IN (
                 SELECT tenant, endpoint_id, incident_key FROM incidents
                 WHERE updated_at < ?1 ORDER BY updated_at LIMIT ?2)",
        )?
        .execute(params![cutoff.timestamp_millis(), BATCH])?;
    Ok(Batch {
        pruned: Pruned {
            incidents: deleted as u64,
            ..Pruned::default()
        },
        rows: deleted,
        last: Some(String::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days_ago: i64) -> DateTime<Utc> {
        now() - chrono::Duration::days(days_ago)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A UUID v7 id made at `moment`, `n` telling apart those of one moment.
    fn id(prefix: &str, moment: DateTime<Utc>, n: u64) -> String {
        format!("{prefix}_{:012x}7000{n:016x}", moment.timestamp_millis())
    }

    /// An alert written for the test, to give deliveries.
    struct Seed {
        tenant: &'static str,
        alert: String,
    }

    impl Seed {
        fn alert(c: &Connection, tenant: &'static str, alert: String, unrouted: bool) -> Seed {
            c.execute(
                "INSERT INTO alerts (tenant, id, doc, receipt, enqueued) VALUES (?1, ?2, '{}', '{}', 1)",
                params![tenant, alert],
            )
            .unwrap();
            if unrouted {
                c.execute(
                    "INSERT INTO unrouted_alerts (tenant, id) VALUES (?1, ?2)",
                    params![tenant, alert],
                )
                .unwrap();
            }
            Seed { tenant, alert }
        }

        fn delivery(
            &self,
            c: &Connection,
            id: &str,
            status: DeliveryStatus,
            finished: DateTime<Utc>,
            attempts: usize,
        ) {
            c.execute(
                "INSERT INTO deliveries (tenant, id, alert_id, endpoint_id, message_type, status, run,
                     created_at, updated_at) VALUES (?1, ?2, ?3, 'ep_1', 'error', ?4, 1, ?5, ?5)",
                params![
                    self.tenant,
                    id,
                    self.alert,
                    status.as_str(),
                    finished.to_rfc3339()
                ],
            )
            .unwrap();
            for _ in 0..attempts {
                c.execute(
                    "INSERT INTO attempts (tenant, delivery_id, doc) VALUES (?1, ?2, '{}')",
                    params![self.tenant, id],
                )
                .unwrap();
            }
            if status == DeliveryStatus::Dead {
                c.execute(
                    "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at)
                     VALUES ('dead', ?1 || ':0', ?1, '{}', 0)",
                    [id],
                )
                .unwrap();
            }
        }
    }

    fn count(c: &Connection, sql: &str) -> i64 {
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Every kind of history, 40 days after the alerts came: what retention may delete and what it must
    /// keep.
    fn seed(c: &mut Connection) -> Result<(), StoreError> {
        use DeliveryStatus::{Dead, Delivered, Filtered, Pending};
        let done = Seed::alert(c, "alpha", id("al", at(40), 1), false);
        done.delivery(c, &id("msg", at(40), 1), Delivered, at(35), 2);
        done.delivery(c, &id("msg", at(40), 2), Filtered, at(35), 0);
        let waiting = Seed::alert(c, "alpha", id("al", at(40), 2), false);
        waiting.delivery(c, &id("msg", at(40), 3), Delivered, at(35), 1);
        waiting.delivery(c, &id("msg", at(40), 4), Pending, at(35), 3);
        let dead = Seed::alert(c, "alpha", id("al", at(40), 3), false);
        dead.delivery(c, &id("msg", at(40), 5), Dead, at(35), 10);
        let resent = Seed::alert(c, "alpha", id("al", at(40), 4), false);
        resent.delivery(c, &id("msg", at(40), 6), Delivered, at(10), 11);
        Seed::alert(c, "alpha", id("al", at(40), 5), true);
        let recent = Seed::alert(c, "alpha", id("al", at(5), 1), false);
        recent.delivery(c, &id("msg", at(5), 1), Delivered, at(5), 1);
        let other = Seed::alert(c, "beta", id("al", at(40), 1), false);
        other.delivery(c, &id("msg", at(40), 1), Delivered, at(35), 1);
        // More than two batches of plain history.
        for n in 100..550 {
            let old = Seed::alert(c, "alpha", id("al", at(40), n), false);
            old.delivery(c, &id("msg", at(40), n), Delivered, at(39), 1);
        }
        Ok(())
    }

    #[tokio::test]
    async fn incidents_no_message_changed_within_retention_go() {
        use crate::ids::{DeliveryId, EndpointId, TenantId};
        use crate::ports::store::{IncidentRef, IncidentStore};

        let database = Database::in_memory().unwrap();
        let (tenant, endpoint) = (TenantId::from("acme"), EndpointId::from("ep_1"));
        fn incident<'a>(t: &'a TenantId, e: &'a EndpointId, key: &'a str) -> IncidentRef<'a> {
            IncidentRef {
                tenant: t,
                endpoint_id: e,
                incident_key: key,
            }
        }
        let error = DeliveryId::from("msg_1");
        // 250 old ones, more than a batch, and one changed within the retention.
        for n in 0..250 {
            let key = format!("old-{n}");
            database
                .note_error(incident(&tenant, &endpoint, &key), &error, at(31))
                .await
                .unwrap();
        }
        database
            .note_error(incident(&tenant, &endpoint, "recent"), &error, at(29))
            .await
            .unwrap();
        let pruner = Pruner::new(
            database.clone(),
            Retention::parse(Some("30d"), None).unwrap(),
            Metrics::disabled(),
        );

        let pruned = pruner.prune(now()).await.unwrap();

        assert_eq!(pruned.incidents, 250);
        assert!(
            database
                .get_incident(incident(&tenant, &endpoint, "old-7"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            database
                .get_incident(incident(&tenant, &endpoint, "recent"))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn finished_history_past_retention_goes_and_pending_dead_and_recent_history_stays() {
        let database = Database::in_memory().unwrap();
        database.run(seed).await.unwrap();
        let pruner = Pruner::new(
            database.clone(),
            Retention::parse(Some("30d"), None).unwrap(),
            Metrics::disabled(),
        );

        let pruned = pruner.prune(now()).await.unwrap();
        assert_eq!(
            pruned,
            Pruned {
                alerts: 3 + 450,
                deliveries: 4 + 450,
                attempts: 2 + 1 + 1 + 450,
                dead_letters: 0,
                incidents: 0,
            }
        );
        let left = database
            .run(|c| {
                Ok((
                    count(c, "SELECT count(*) FROM deliveries"),
                    count(
                        c,
                        "SELECT count(*) FROM deliveries WHERE status = 'pending'",
                    ),
                    count(c, "SELECT count(*) FROM alerts"),
                    count(c, "SELECT count(*) FROM unrouted_alerts"),
                    count(c, "SELECT count(*) FROM attempts"),
                    count(c, "SELECT tasks FROM queue_depth WHERE queue = 'dead'"),
                ))
            })
            .await
            .unwrap();
        // Left: the pending one, the dead one, the resent one, the recent one; the alerts of all four.
        assert_eq!(left, (4, 1, 4, 0, 3 + 10 + 11 + 1, 1));
        assert!(
            pruner.prune(now()).await.unwrap().is_empty(),
            "nothing twice"
        );

        let with_dead = Pruner::new(
            database.clone(),
            Retention::parse(Some("30d"), Some("30d")).unwrap(),
            Metrics::disabled(),
        );
        let pruned = with_dead.prune(now()).await.unwrap();
        assert_eq!(
            pruned,
            Pruned {
                alerts: 1,
                deliveries: 0,
                attempts: 10,
                dead_letters: 1,
                incidents: 0,
            }
        );
        let dead_tasks = database
            .run(|c| Ok(count(c, "SELECT count(*) FROM queue WHERE queue = 'dead'")))
            .await
            .unwrap();
        assert_eq!(dead_tasks, 0);
    }

    #[tokio::test]
    async fn a_folded_alert_stays_while_its_digest_is_pending() {
        use DeliveryStatus::{Delivered, Filtered, Pending};
        let database = Database::in_memory().unwrap();
        let (digest, folded) = (id("msg", at(40), 1), id("msg", at(40), 2));
        let (digest_in, folded_in) = (digest.clone(), folded.clone());
        database
            .run(move |c| {
                let storm = Seed::alert(c, "alpha", id("al", at(40), 1), false);
                storm.delivery(c, &digest_in, Pending, at(35), 0);
                storm.delivery(c, &folded_in, Filtered, at(35), 0);
                c.execute(
                    "UPDATE deliveries SET digest_delivery_id = ?1 WHERE id = ?2",
                    params![digest_in, folded_in],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let pruner = Pruner::new(
            database.clone(),
            Retention::parse(Some("30d"), None).unwrap(),
            Metrics::disabled(),
        );
        let set_digest_status = |status: DeliveryStatus| {
            let digest = digest.clone();
            database.run(move |c| {
                c.execute(
                    "UPDATE deliveries SET status = ?1 WHERE id = ?2",
                    params![status.as_str(), digest],
                )?;
                Ok(())
            })
        };
        // WHEN the digest is pending, or dead THEN what it folded is kept, however old
        assert_eq!(pruner.prune(now()).await.unwrap().deliveries, 0);
        set_digest_status(DeliveryStatus::Dead).await.unwrap();
        assert_eq!(pruner.prune(now()).await.unwrap().deliveries, 0);
        // WHEN the digest is sent THEN both go once past retention
        set_digest_status(Delivered).await.unwrap();
        assert_eq!(pruner.prune(now()).await.unwrap().deliveries, 2);
    }

    #[test]
    fn an_id_made_before_the_cutoff_sorts_below_the_cutoffs_first_id() {
        let cutoff = at(30);
        let earlier = id("msg", cutoff - chrono::Duration::milliseconds(1), u64::MAX);
        let later = id("msg", cutoff, 0);
        let first = first_id_at("msg", cutoff);
        assert!(
            earlier < first && first < later,
            "{earlier} {first} {later}"
        );
        let generated = crate::ids::DeliveryId::generate();
        assert!(first_id_at("msg", Utc::now() - chrono::Duration::seconds(1)) < generated.0);
        assert!(first_id_at("msg", Utc::now() + chrono::Duration::seconds(1)) > generated.0);
    }
}
