//! The task queue on SQLite, with the semantics of SQS: leases (visibility timeout), receive counts,
//! per-message delays and redrive to a dead-letter queue after `max_receives` receives.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use tokio::sync::Notify;

use super::Database;
use crate::ids::DeliveryId;
use crate::ports::queue::{QueueError, ReceivedTask, Task, TaskQueue};
use crate::ports::store::StoreError;

#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    /// How long a received task stays invisible; must exceed the HTTP timeout so no task is worked on
    /// twice at once.
    pub visibility_timeout: Duration,
    /// Receives after which a task is moved to the dead-letter queue instead (SQS maxReceiveCount).
    pub max_receives: u32,
}

#[derive(Clone)]
pub struct EmbeddedQueue {
    database: Database,
    settings: QueueSettings,
}

impl EmbeddedQueue {
    pub fn new(database: Database, settings: QueueSettings) -> Self {
        database.attach_queue();
        Self { database, settings }
    }

    /// Notified whenever tasks become visible by being sent (here or with an alert by the store), so a
    /// worker need not poll hard.
    pub fn wakeup(&self) -> Arc<Notify> {
        self.database.queue_wakeup()
    }

    /// Milliseconds until the next delayed task becomes visible, if any is waiting.
    pub async fn next_visible_in(&self) -> Result<Option<Duration>, QueueError> {
        let next: Option<i64> = self
            .database
            .read(|c| {
                Ok(
                    c.prepare_cached("SELECT MIN(visible_at) FROM queue WHERE queue = 'main'")?
                        .query_row([], |r| r.get(0))?,
                )
            })
            .await
            .map_err(backend)?;
        Ok(next.map(|at| Duration::from_millis(u64::try_from(at - now_millis()).unwrap_or(0))))
    }

    /// Tasks waiting in the main queue and in the dead-letter queue.
    pub async fn depth(&self) -> Result<(u64, u64), QueueError> {
        self.database
            .read(|c| {
                Ok(c.prepare_cached("SELECT COALESCE(SUM(queue = 'main'), 0), COALESCE(SUM(queue = 'dead'), 0) FROM queue")?.query_row(
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?)
            })
            .await
            .map_err(backend)
    }
}

pub(super) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A task as the row that queues it: dedup key, delivery id and body.
pub(super) type TaskRow = (String, String, String);

pub(super) fn task_rows(tasks: &[Task]) -> Result<Vec<TaskRow>, serde_json::Error> {
    tasks
        .iter()
        .map(|t| {
            Ok((
                t.dedup_key(),
                t.delivery_id().0.clone(),
                serde_json::to_string(t)?,
            ))
        })
        .collect()
}

/// Queues the tasks, visible now; a task already queued for the same delivery run is not doubled. The
/// caller notifies [`Database::queue_wakeup`] once its write is committed.
pub(super) fn insert_tasks(c: &rusqlite::Connection, rows: &[TaskRow]) -> Result<(), StoreError> {
    let now = now_millis();
    let mut insert = c.prepare_cached(
        "INSERT OR IGNORE INTO queue (queue, dedup, delivery_id, body, visible_at) VALUES ('main', ?1, ?2, ?3, ?4)",
    )?;
    for (dedup, delivery_id, body) in rows {
        insert.execute(params![dedup, delivery_id, body, now])?;
    }
    Ok(())
}

fn backend(e: StoreError) -> QueueError {
    QueueError::Backend(e.to_string())
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait]
impl TaskQueue for EmbeddedQueue {
    async fn send_batch(&self, tasks: &[Task]) -> Result<(), QueueError> {
        let rows = task_rows(tasks).map_err(|e| QueueError::Backend(e.to_string()))?;
        self.database
            .run(move |c| {
                let tx = c.savepoint()?;
                insert_tasks(&tx, &rows)?;
                tx.commit()?;
                Ok(())
            })
            .await
            .map_err(backend)?;
        self.wakeup().notify_one();
        Ok(())
    }

    async fn receive(&self, max: usize) -> Result<Vec<ReceivedTask>, QueueError> {
        let settings = self.settings;
        self.database
            .run(move |c| {
                let tx = c.savepoint()?;
                let now = now_millis();
                // SQS semantics: a message received max_receives times is redriven instead of received again.
                tx.prepare_cached("UPDATE queue SET queue = 'dead', leased = 0, receipt = NULL
                     WHERE queue = 'main' AND visible_at <= ?1 AND receive_count >= ?2")?.execute(
                    params![now, settings.max_receives],
                )?;
                let ready: Vec<(i64, String, u32)> = tx
                    .prepare_cached(
                        "SELECT seq, body, receive_count FROM queue WHERE queue = 'main' AND visible_at <= ?1
                         ORDER BY visible_at, seq LIMIT ?2",
                    )?
                    .query_map(params![now, max as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<_, _>>()?;
                let lease_until = now + millis(settings.visibility_timeout);
                let mut received = Vec::with_capacity(ready.len());
                {
                    let mut lease = tx.prepare_cached(
                        "UPDATE queue SET receive_count = receive_count + 1, visible_at = ?1, leased = 1, receipt = ?2
                         WHERE seq = ?3",
                    )?;
                    for (seq, body, count) in ready {
                        let receipt = format!("{seq}-{}", uuid::Uuid::new_v4().simple());
                        lease.execute(params![lease_until, receipt, seq])?;
                        received.push(ReceivedTask {
                            task: serde_json::from_str(&body).ok(),
                            receipt,
                            receive_count: count + 1,
                        });
                    }
                }
                tx.commit()?;
                Ok(received)
            })
            .await
            .map_err(backend)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        self.database
            .run(move |c| {
                c.prepare_cached("DELETE FROM queue WHERE receipt = ?1 AND queue = 'main'")?
                    .execute([receipt])?;
                Ok(())
            })
            .await
            .map_err(backend)
    }

    async fn retry_later(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        self.database
            .run(move |c| {
                c.prepare_cached("UPDATE queue SET visible_at = ?1, leased = 0 WHERE receipt = ?2 AND queue = 'main'")?.execute(
                    params![now_millis() + millis(delay), receipt],
                )?;
                Ok(())
            })
            .await
            .map_err(backend)?;
        if delay.is_zero() {
            self.wakeup().notify_one();
        }
        Ok(())
    }

    async fn dead_letter(&self, received: &ReceivedTask) -> Result<(), QueueError> {
        let receipt = received.receipt.clone();
        self.database
            .run(move |c| {
                c.prepare_cached(
                    "UPDATE queue SET queue = 'dead', leased = 0, receipt = NULL, visible_at = ?1
                     WHERE receipt = ?2 AND queue = 'main'",
                )?
                .execute(params![now_millis(), receipt])?;
                Ok(())
            })
            .await
            .map_err(backend)
    }

    async fn remove_dead_letters(&self, delivery_ids: &[DeliveryId]) -> Result<usize, QueueError> {
        let ids: Vec<String> = delivery_ids.iter().map(|d| d.0.clone()).collect();
        self.database
            .run(move |c| {
                let tx = c.savepoint()?;
                let mut removed = 0;
                {
                    let mut delete = tx.prepare_cached(
                        "DELETE FROM queue WHERE queue = 'dead' AND delivery_id = ?1",
                    )?;
                    for id in &ids {
                        removed += delete.execute([id])?;
                    }
                }
                tx.commit()?;
                Ok(removed)
            })
            .await
            .map_err(backend)
    }
}
