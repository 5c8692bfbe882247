//! The task queue on SQLite, with the semantics of SQS: leases (visibility timeout), receive counts,
//! per-message delays and redrive to a dead-letter queue after `max_receives` receives.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::params;
use tokio::sync::Notify;

use super::Database;
use super::hand_off::{HandOff, HandedTasks, Queued};
use crate::ids::DeliveryId;
use crate::ports::queue::{QueueError, ReceivedTask, Task, TaskQueue};
use crate::ports::store::StoreError;

/// The ready tasks in the order they are handed out, read only as far as a receive takes them (the rows
/// come in index order, with no sort). The LIMIT is a literal, the most one receive hands out, not a
/// bound `?`: SQLite plans a statement again whenever a bound LIMIT changes, and a receive's count
/// changes from one receive to the next.
const READY_TASKS: &str =
    "SELECT seq, body, receive_count FROM queue WHERE queue = 'main' AND visible_at <= ?1
     ORDER BY visible_at, seq LIMIT 1024";

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

    /// Whether its database can write again (see [`Database::probe_write`]).
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        self.database.probe_write().await
    }

    /// Opens the hand-off ([`HandOff`]) to a worker with room for `room` tasks beside its slots: while it
    /// says it has caught up with the queue, an alert's write leases its tasks to it and passes them on.
    pub fn open_hand_off(&self, room: usize) -> HandedTasks {
        self.database
            .hand_off
            .open(room, self.settings.visibility_timeout)
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

    /// Tasks waiting in the main queue and in the dead-letter queue, from counters the schema's triggers
    /// keep: two key lookups, whatever the backlog.
    pub async fn depth(&self) -> Result<(u64, u64), QueueError> {
        self.database
            .read(|c| {
                Ok(c.prepare_cached(
                    "SELECT (SELECT tasks FROM queue_depth WHERE queue = 'main'),
                                (SELECT tasks FROM queue_depth WHERE queue = 'dead')",
                )?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
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

/// The tasks of the delivery `?1`, every run's: their `dedup` key is `<delivery id>:<run>`
/// ([`Task::dedup_key`]), so they are the keys between `<delivery id>:` and `<delivery id>;`, a range of
/// the key's unique index.
pub(super) const TASKS_OF_DELIVERY: &str = "dedup >= ?1 || ':' AND dedup < ?1 || ';'";

/// A lease's receipt, `<seq>-<token>`: the row of its task, found by its key, and a token only this lease
/// knows, kept in the row's `receipt` column (which needs no index). A receipt whose lease ran out and was
/// taken by another receive, or whose task is gone and its seq used again, finds no row with its token.
fn receipt_of(seq: i64, token: &str) -> String {
    format!("{seq}-{token}")
}

/// A new lease's token.
fn new_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The seq and token a receipt names; `None` for a string no lease of this queue handed out, which finds
/// no task.
fn parse_receipt(receipt: &str) -> Option<(i64, &str)> {
    let (seq, token) = receipt.split_once('-')?;
    Some((seq.parse().ok()?, token))
}

/// Removes the task `receipt` leases from the main queue; false if no task has that receipt (its lease ran
/// out and another receive took it, or it is gone).
pub(super) fn remove_task(
    c: &rusqlite::Connection,
    receipt: &str,
) -> Result<bool, rusqlite::Error> {
    let Some((seq, token)) = parse_receipt(receipt) else {
        return Ok(false);
    };
    let removed = c
        .prepare_cached("DELETE FROM queue WHERE seq = ?1 AND receipt = ?2 AND queue = 'main'")?
        .execute(params![seq, token])?;
    Ok(removed == 1)
}

/// Queues the tasks, visible now; a task already queued for the same delivery run is not doubled. The
/// caller notifies [`Database::queue_wakeup`] once its write is committed.
pub(super) fn insert_tasks(c: &rusqlite::Connection, rows: &[TaskRow]) -> Result<(), StoreError> {
    let now = now_millis();
    let mut insert = c.prepare_cached(INSERT_READY)?;
    for (dedup, delivery_id, body) in rows {
        insert.execute(params![dedup, delivery_id, body, now])?;
    }
    Ok(())
}

const INSERT_READY: &str = "INSERT OR IGNORE INTO queue (queue, dedup, delivery_id, body, visible_at) VALUES ('main', ?1, ?2, ?3, ?4)";

/// Queues the tasks as [`insert_tasks`] does, except that each one a worker has room for goes in leased
/// to it, as a receive would lease it ([`HandOff`]). The caller passes what is returned once its write is
/// committed ([`Database::run_then`]), whether or not its own caller still waits.
pub(super) fn insert_tasks_handing_off(
    c: &rusqlite::Connection,
    tasks: &[(TaskRow, Task)],
    hand_off: &HandOff,
) -> Result<Queued, StoreError> {
    let now = now_millis();
    let mut queued = Queued::default();
    for ((dedup, delivery_id, body), task) in tasks {
        let Some(place) = hand_off.reserve(now) else {
            c.prepare_cached(INSERT_READY)?
                .execute(params![dedup, delivery_id, body, now])?;
            queued.ready();
            continue;
        };
        let token = new_token();
        let inserted = c
            .prepare_cached(
                "INSERT OR IGNORE INTO queue (queue, dedup, delivery_id, body, visible_at, receive_count, leased, receipt)
                 VALUES ('main', ?1, ?2, ?3, ?4, 1, 1, ?5)",
            )?
            .execute(params![dedup, delivery_id, body, place.lease_until, token])?;
        if inserted == 1 {
            let received = ReceivedTask {
                task: Some(task.clone()),
                receipt: receipt_of(c.last_insert_rowid(), &token),
                receive_count: 1,
            };
            queued.handed(place, received);
        }
    }
    Ok(queued)
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
                insert_tasks(c, &rows)?;
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
                let now = now_millis();
                let lease_until = now + millis(settings.visibility_timeout).max(1);
                let mut received = Vec::with_capacity(max);
                {
                    // The first ready rows in index order, and only those: the cost of a receive never
                    // grows with the backlog behind them.
                    let mut ready = c.prepare_cached(READY_TASKS)?;
                    // SQS semantics: a message received max_receives times is redriven instead of received
                    // again. Judged here, on the rows about to be handed out.
                    let mut redrive = c.prepare_cached(
                        "UPDATE queue SET queue = 'dead', leased = 0, receipt = NULL WHERE seq = ?1",
                    )?;
                    let mut lease = c.prepare_cached(
                        "UPDATE queue SET receive_count = receive_count + 1, visible_at = ?1, leased = 1, receipt = ?2
                         WHERE seq = ?3",
                    )?;
                    while received.len() < max {
                        let wanted = max - received.len();
                        let rows: Vec<(i64, String, u32)> = ready
                            .query_map(params![now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                            .take(wanted)
                            .collect::<Result<_, _>>()?;
                        let exhausted = rows.len() < wanted;
                        let mut redriven = 0;
                        for (seq, body, count) in rows {
                            if count >= settings.max_receives {
                                redrive.execute([seq])?;
                                redriven += 1;
                                continue;
                            }
                            let token = new_token();
                            lease.execute(params![lease_until, token, seq])?;
                            received.push(ReceivedTask {
                                task: serde_json::from_str(&body).ok(),
                                receipt: receipt_of(seq, &token),
                                receive_count: count + 1,
                            });
                        }
                        // Leased rows are no longer ready; redriven ones left the main queue. Look again only
                        // when some rows were redriven and more may be waiting.
                        if exhausted || redriven == 0 {
                            break;
                        }
                    }
                }
                Ok(received)
            })
            .await
            .map_err(backend)
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        self.database
            .run(move |c| {
                remove_task(c, &receipt)?;
                Ok(())
            })
            .await
            .map_err(backend)
    }

    async fn retry_later(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        let receipt = receipt.to_string();
        self.database
            .run(move |c| {
                let Some((seq, token)) = parse_receipt(&receipt) else {
                    return Ok(());
                };
                c.prepare_cached("UPDATE queue SET visible_at = ?1, leased = 0 WHERE seq = ?2 AND receipt = ?3 AND queue = 'main'")?
                    .execute(params![now_millis() + millis(delay), seq, token])?;
                Ok(())
            })
            .await
            .map_err(backend)?;
        if delay.is_zero() {
            self.wakeup().notify_one();
        }
        Ok(())
    }

    async fn hold(&self, received: &ReceivedTask, delay: Duration) -> Result<(), QueueError> {
        // The receive that leased it is taken back, so the count stays the number of attempts.
        let receipt = received.receipt.clone();
        self.database
            .run(move |c| {
                let Some((seq, token)) = parse_receipt(&receipt) else {
                    return Ok(());
                };
                c.prepare_cached("UPDATE queue SET visible_at = ?1, leased = 0, receive_count = max(receive_count - 1, 0)
                     WHERE seq = ?2 AND receipt = ?3 AND queue = 'main'")?
                    .execute(params![now_millis() + millis(delay), seq, token])?;
                Ok(())
            })
            .await
            .map_err(backend)
    }

    async fn dead_letter(&self, received: &ReceivedTask) -> Result<(), QueueError> {
        let receipt = received.receipt.clone();
        self.database
            .run(move |c| {
                let Some((seq, token)) = parse_receipt(&receipt) else {
                    return Ok(());
                };
                c.prepare_cached(
                    "UPDATE queue SET queue = 'dead', leased = 0, receipt = NULL, visible_at = ?1
                     WHERE seq = ?2 AND receipt = ?3 AND queue = 'main'",
                )?
                .execute(params![now_millis(), seq, token])?;
                Ok(())
            })
            .await
            .map_err(backend)
    }

    async fn remove_dead_letters(&self, delivery_ids: &[DeliveryId]) -> Result<usize, QueueError> {
        let ids: Vec<String> = delivery_ids.iter().map(|d| d.0.clone()).collect();
        self.database
            .run(move |c| {
                let mut removed = 0;
                {
                    // Found by the delivery's tasks' keys; `+queue` keeps SQLite from searching
                    // `queue_ready` by queue instead, which read every dead letter for each delivery.
                    let mut delete = c.prepare_cached(&format!(
                        "DELETE FROM queue WHERE +queue = 'dead' AND {TASKS_OF_DELIVERY}"
                    ))?;
                    for id in &ids {
                        removed += delete.execute([id])?;
                    }
                }
                Ok(removed)
            })
            .await
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;

    const SETTINGS: QueueSettings = QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };

    fn task(n: usize) -> Task {
        Task::DeliverV1 {
            tenant: TenantId::from("acme"),
            delivery_id: DeliveryId::from(format!("msg_{n}").as_str()),
            run: 0,
            endpoint: None,
            attempts_before: 0,
        }
    }

    fn queue() -> EmbeddedQueue {
        EmbeddedQueue::new(Database::in_memory().expect("opened"), SETTINGS)
    }

    /// Makes every leased task visible again, as if each lease had run out.
    async fn expire_leases(queue: &EmbeddedQueue) {
        queue
            .database
            .run(|c| {
                c.execute(
                    "UPDATE queue SET visible_at = 0, leased = 0, receipt = NULL",
                    [],
                )?;
                Ok(())
            })
            .await
            .expect("updated");
    }

    #[tokio::test]
    async fn the_depth_follows_every_queue_operation() {
        let queue = queue();
        let tasks: Vec<Task> = (0..5).map(task).collect();
        queue.send_batch(&tasks).await.expect("sent");
        queue.send_batch(&tasks[..2]).await.expect("sent again");
        assert_eq!(
            queue.depth().await.unwrap(),
            (5, 0),
            "doubles are not counted"
        );

        let received = queue.receive(3).await.expect("received");
        queue.delete(&received[0].receipt).await.expect("deleted");
        queue
            .dead_letter(&received[1])
            .await
            .expect("dead-lettered");
        queue
            .retry_later(&received[2].receipt, Duration::ZERO)
            .await
            .expect("released");
        assert_eq!(queue.depth().await.unwrap(), (3, 1));

        let removed = queue
            .remove_dead_letters(&[task(0).delivery_id().clone(), task(1).delivery_id().clone()])
            .await
            .expect("removed");
        assert_eq!(removed, 1);
        assert_eq!(queue.depth().await.unwrap(), (3, 0));
    }

    /// A receipt names its task's seq and its lease's token. Once the task is gone its seq may be used
    /// again, by the next task queued: the old receipt finds no row with its token and changes nothing.
    #[tokio::test]
    async fn a_receipt_changes_only_the_lease_it_was_given_for() {
        let queue = queue();
        queue.send_batch(&[task(0)]).await.expect("sent");
        let first = queue.receive(1).await.expect("received").remove(0);
        queue.delete(&first.receipt).await.expect("deleted");
        queue.send_batch(&[task(1)]).await.expect("sent");
        let second = queue.receive(1).await.expect("received").remove(0);
        assert_eq!(
            first.receipt.split_once('-').map(|(seq, _)| seq),
            second.receipt.split_once('-').map(|(seq, _)| seq),
            "the emptied queue gave the seq again"
        );

        queue
            .delete(&first.receipt)
            .await
            .expect("a stale receipt is no error");
        queue.dead_letter(&first).await.expect("no error");
        queue.hold(&first, Duration::ZERO).await.expect("no error");
        queue.delete("not-a-receipt").await.expect("no error");
        queue.delete("").await.expect("no error");
        assert_eq!(queue.depth().await.unwrap(), (1, 0));
        assert!(queue.receive(1).await.unwrap().is_empty(), "still leased");

        queue.delete(&second.receipt).await.expect("deleted");
        assert_eq!(queue.depth().await.unwrap(), (0, 0));
    }

    #[tokio::test]
    async fn a_task_received_too_often_is_redriven_when_it_would_be_handed_out() {
        let queue = queue();
        queue.send_batch(&[task(0)]).await.expect("sent");
        for _ in 0..SETTINGS.max_receives {
            assert_eq!(queue.receive(10).await.unwrap().len(), 1);
            expire_leases(&queue).await;
        }
        queue.send_batch(&[task(1), task(2)]).await.expect("sent");

        // The worn-out task stands first: it is moved to the dead-letter queue, and the receive fills
        // its batch from the tasks behind it.
        let received = queue.receive(2).await.expect("received");
        let ids: Vec<_> = received
            .iter()
            .map(|r| r.task.as_ref().unwrap().delivery_id().clone())
            .collect();
        assert_eq!(
            ids,
            [task(1).delivery_id().clone(), task(2).delivery_id().clone()]
        );
        assert_eq!(queue.depth().await.unwrap(), (2, 1));
    }

    #[tokio::test]
    async fn a_database_from_before_the_depth_counters_is_counted_once_at_open() {
        let dir = std::env::temp_dir().join(format!(
            "alertwire-queue-depth-{}-{}",
            std::process::id(),
            now_millis()
        ));
        {
            let queue = EmbeddedQueue::new(Database::open(&dir, false).unwrap(), SETTINGS);
            queue
                .send_batch(&[task(0), task(1), task(2)])
                .await
                .unwrap();
            let received = queue.receive(1).await.unwrap();
            queue.dead_letter(&received[0]).await.unwrap();
            // What a file written by the release before the counters looks like (before schema versions too).
            queue
                .database
                .run(|c| {
                    c.execute_batch(
                        "DROP TRIGGER queue_depth_on_insert; DROP TRIGGER queue_depth_on_delete;
                         DROP TRIGGER queue_depth_on_move; DROP TABLE queue_depth;
                         PRAGMA user_version = 0;",
                    )?;
                    Ok(())
                })
                .await
                .unwrap();
        }
        let reopened = EmbeddedQueue::new(Database::open(&dir, false).unwrap(), SETTINGS);
        assert_eq!(reopened.depth().await.unwrap(), (2, 1));
        reopened.send_batch(&[task(3)]).await.unwrap();
        assert_eq!(reopened.depth().await.unwrap(), (3, 1));
        drop(reopened);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The plans of the statements a receive and a depth read run: each reads a bounded number of rows,
    /// whatever the backlog.
    #[tokio::test]
    async fn receive_and_depth_never_walk_the_backlog() {
        let queue = queue();
        let plans = queue
            .database
            .run(|c| {
                let plan = |sql: &str| -> rusqlite::Result<String> {
                    let mut statement = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let nulls = std::iter::repeat_n(rusqlite::types::Null, statement.parameter_count());
                    let rows: Vec<String> = statement
                        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?
                        .collect::<Result<_, _>>()?;
                    Ok(rows.join("; "))
                };
                Ok([
                    plan(READY_TASKS)?,
                    plan("SELECT (SELECT tasks FROM queue_depth WHERE queue = 'main')")?,
                    plan("SELECT MIN(visible_at) FROM queue WHERE queue = 'main'")?,
                    plan("UPDATE queue SET queue = 'dead', leased = 0, receipt = NULL WHERE seq = ?1")?,
                ])
            })
            .await
            .expect("planned");
        // In index order with a LIMIT and no sort: it stops after the rows it hands out.
        assert!(
            plans[0].contains("USING INDEX queue_ready (queue=? AND visible_at<?)")
                && !plans[0].contains("TEMP B-TREE"),
            "{}",
            plans[0]
        );
        assert!(
            plans[1].contains("USING PRIMARY KEY (queue=?)"),
            "{}",
            plans[1]
        );
        assert!(!plans[2].contains("SCAN"), "{}", plans[2]);
        // The redrive touches the one row it judged, not every ready row.
        assert!(
            plans[3].contains("INTEGER PRIMARY KEY (rowid=?)"),
            "{}",
            plans[3]
        );
    }

    /// A receive's statement is planned once, however many tasks each receive asks for: it used to be
    /// planned again for every receive (1.5 % of the server's CPU in a profile of ingest).
    #[tokio::test]
    async fn receives_of_any_size_reuse_one_plan() {
        let queue = queue();
        queue
            .send_batch(&(0..10).map(task).collect::<Vec<_>>())
            .await
            .unwrap();
        for max in [1, 3, 2, 5] {
            assert!(!queue.receive(max).await.unwrap().is_empty());
        }
        let planned_again = queue
            .database
            .run(|c| {
                Ok(c.prepare_cached(READY_TASKS)?
                    .get_status(rusqlite::StatementStatus::RePrepare))
            })
            .await
            .unwrap();
        assert_eq!(planned_again, 0);
    }
}
