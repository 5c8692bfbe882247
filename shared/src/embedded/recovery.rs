//! Start-up recovery after a crash: tasks leased by the dead process are released, pending deliveries
//! without a task get one again, and pending deliveries whose task was redriven are marked dead.

use chrono::Utc;
use rusqlite::params;

use super::Database;
use super::queue::now_millis;
use crate::queue::Task;
use crate::store::StoreError;

/// What recovery found and repaired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Leases of a previous process released (the receive is not counted: its attempt never finished).
    pub released: usize,
    /// Pending deliveries that had no task (the process died between storing and enqueueing).
    pub requeued: usize,
    /// Pending deliveries whose task had reached the dead-letter queue.
    pub marked_dead: usize,
}

impl Database {
    /// Run once at start, before serving, by the only process that holds the data directory's lock.
    pub async fn recover(&self, max_attempts: u32) -> Result<Recovered, StoreError> {
        self.run(move |c| {
            let tx = c.savepoint()?;
            let now = now_millis();
            let released = tx.execute(
                "UPDATE queue SET visible_at = ?1, leased = 0, receipt = NULL,
                        receive_count = MAX(receive_count - 1, 0)
                 WHERE leased = 1",
                [now],
            )?;
            let orphans: Vec<(String, String, u32, u32)> = tx
                .prepare(
                    "SELECT d.tenant, d.id, d.run,
                            (SELECT COUNT(*) FROM attempts a WHERE a.tenant = d.tenant AND a.delivery_id = d.id
                               AND json_extract(a.doc, '$.run') = d.run)
                     FROM deliveries d
                     WHERE d.status = 'pending'
                       AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.dedup = d.id || ':' || d.run)",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<Result<_, _>>()?;
            for (tenant, id, run, attempts) in &orphans {
                let task = Task::DeliverV1 {
                    tenant: tenant.as_str().into(),
                    delivery_id: id.as_str().into(),
                    run: *run,
                };
                tx.execute(
                    "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at, receive_count)
                     VALUES ('main', ?1, ?2, ?3, ?4, ?5)",
                    params![task.dedup_key(), id, serde_json::to_string(&task)?, now, (*attempts).min(max_attempts)],
                )?;
            }
            let marked_dead = tx.execute(
                "UPDATE deliveries SET status = 'dead', updated_at = ?1,
                        status_reason = 'every attempt failed (the last was interrupted by a restart)'
                 WHERE status = 'pending'
                   AND EXISTS (SELECT 1 FROM queue q WHERE q.queue = 'dead' AND q.dedup = deliveries.id || ':' || deliveries.run)",
                [Utc::now().to_rfc3339()],
            )?;
            tx.execute("UPDATE alerts SET enqueued = 1 WHERE enqueued = 0", [])?;
            tx.commit()?;
            Ok(Recovered {
                released,
                requeued: orphans.len(),
                marked_dead,
            })
        })
        .await
    }
}
