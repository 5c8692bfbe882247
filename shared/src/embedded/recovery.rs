//! Start-up recovery after a crash: tasks leased by the dead process are released, pending deliveries
//! without a task get one again, and pending deliveries whose task was redriven are marked dead.

use chrono::Utc;
use rusqlite::params;

use super::Database;
use super::queue::now_millis;
use crate::ports::queue::Task;
use crate::ports::store::StoreError;

/// What recovery found and repaired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Leases of a previous process released; each receive count set to the attempts recorded for the
    /// task's run (an attempt cut short by the crash is not counted).
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
            let now = now_millis();
            // A leased task's attempt may or may not have been recorded before the crash (the attempt is
            // stored first, the task settled with the queue after). Its receive count becomes the number of
            // attempts recorded for its run, so the next receive numbers the next attempt: an attempt that
            // finished is not made again under its own number, one that did not is.
            let released = c.execute(
                "UPDATE queue SET visible_at = ?1, leased = 0, receipt = NULL,
                        receive_count = CASE WHEN json_valid(body) THEN MIN(receive_count,
                            (SELECT COUNT(*) FROM attempts a
                             WHERE a.tenant = json_extract(queue.body, '$.tenant')
                               AND a.delivery_id = queue.delivery_id
                               AND json_extract(a.doc, '$.run') = json_extract(queue.body, '$.run')))
                        ELSE MAX(receive_count - 1, 0) END
                 WHERE leased = 1",
                [now],
            )?;
            let orphans: Vec<(String, String, u32, String, u32)> = c
                .prepare(
                    "SELECT d.tenant, d.id, d.run, d.endpoint_id,
                            (SELECT COUNT(*) FROM attempts a WHERE a.tenant = d.tenant AND a.delivery_id = d.id
                               AND json_extract(a.doc, '$.run') = d.run)
                     FROM deliveries d
                     WHERE d.status = 'pending'
                       AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.dedup = d.id || ':' || d.run)",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
                .collect::<Result<_, _>>()?;
            for (tenant, id, run, endpoint, attempts) in &orphans {
                let task = Task::deliver(
                    tenant.as_str().into(),
                    id.as_str().into(),
                    *run,
                    endpoint.as_str().into(),
                );
                c.execute(
                    "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at, receive_count)
                     VALUES ('main', ?1, ?2, ?3, ?4, ?5)",
                    params![task.dedup_key(), id, serde_json::to_string(&task)?, now, (*attempts).min(max_attempts)],
                )?;
            }
            let marked_dead = c.execute(
                "UPDATE deliveries SET status = 'dead', updated_at = ?1,
                        status_reason = 'every attempt failed (the last was interrupted by a restart)'
                 WHERE status = 'pending'
                   AND EXISTS (SELECT 1 FROM queue q WHERE q.queue = 'dead' AND q.dedup = deliveries.id || ':' || deliveries.run)",
                [Utc::now().to_rfc3339()],
            )?;
            c.execute("UPDATE alerts SET enqueued = 1 WHERE enqueued = 0", [])?;
            Ok(Recovered {
                released,
                requeued: orphans.len(),
                marked_dead,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A delivery of run 0 with `recorded` attempts, and its task leased for attempt `receive_count`.
    fn crashed_while_attempting(c: &rusqlite::Connection, recorded: u32, receive_count: u32) {
        c.execute_batch(
            "INSERT INTO deliveries (tenant, id, alert_id, endpoint_id, message_type, status, run,
                                     created_at, updated_at)
             VALUES ('t', 'msg_1', 'al_1', 'ep_1', 'error', 'pending', 0, '2026-01-01T00:00:00Z',
                     '2026-01-01T00:00:00Z');",
        )
        .unwrap();
        for number in 1..=recorded {
            c.execute(
                "INSERT INTO attempts (tenant, delivery_id, doc) VALUES ('t', 'msg_1', ?1)",
                [format!(r#"{{"number": {number}, "run": 0}}"#)],
            )
            .unwrap();
        }
        c.execute(
            "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at, receive_count, leased, receipt)
             VALUES ('main', 'msg_1:0', 'msg_1', ?1, 0, ?2, 1, 'r-1')",
            params![
                r#"{"type": "deliver.v1", "tenant": "t", "delivery_id": "msg_1", "run": 0}"#,
                receive_count
            ],
        )
        .unwrap();
    }

    async fn receive_count_after_recovery(recorded: u32, receive_count: u32) -> u32 {
        let database = Database::in_memory().unwrap();
        database
            .run(move |c| {
                crashed_while_attempting(c, recorded, receive_count);
                Ok(())
            })
            .await
            .unwrap();
        let recovered = database.recover(10).await.unwrap();
        assert_eq!(recovered.released, 1);
        database
            .run(|c| {
                Ok(c.query_row(
                    "SELECT receive_count FROM queue WHERE leased = 0 AND receipt IS NULL",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_attempt_cut_short_by_the_crash_is_made_again_under_its_number() {
        assert_eq!(receive_count_after_recovery(2, 3).await, 2);
    }

    #[tokio::test]
    async fn an_attempt_recorded_before_the_crash_is_not_made_again_under_its_number() {
        assert_eq!(receive_count_after_recovery(3, 3).await, 3);
    }

    #[tokio::test]
    async fn an_unreadable_task_is_released_too() {
        let database = Database::in_memory().unwrap();
        database
            .run(|c| {
                c.execute(
                    "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at, receive_count, leased, receipt)
                     VALUES ('main', 'raw', '', 'not json', 0, 1, 1, 'r-1')",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(database.recover(10).await.unwrap().released, 1);
    }
}
