//! The embedded delivery loop: receive tasks from the SQLite queue, attempt them concurrently up to a
//! bound, and hand each back to the queue as done, delayed, held or dead-lettered. Each received batch is
//! started in turns by endpoint (round robin), so one endpoint's backlog does not take every slot before
//! the others get one; how many attempts an endpoint may have in flight is the service's rule.
//!
//! Tasks of new alerts come to it from their writes, already leased, while its last receive found the
//! queue drained ([`HandedTasks`](crate::embedded::HandedTasks)). It still receives whenever it is woken
//! (by tasks queued ready, or by a task it put off) and when the soonest delayed task is due, as it does
//! with nothing to do.
//!
//! While the store cannot write, no attempt starts, and the outcomes of attempts that were in flight wait in
//! memory ([`UnrecordedTasks`]) until it writes again.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use super::unrecorded::{Unrecorded, UnrecordedTasks, Unsettled};
use crate::embedded::EmbeddedQueue;
use crate::ids::DeliveryId;
use crate::ports::queue::{ReceivedTask, TaskQueue};
use crate::ports::store::WriteTrouble;
use crate::service::{AttemptError, Disposition, Service};

/// Longest sleep between looks at the queue when nothing wakes the worker (nor hands it a task).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// How often a worker that waits for the store to write again tries a write.
const STORE_PROBE: Duration = Duration::from_secs(1);
/// Delay before a task whose attempt hit a store or queue error is tried again.
const FAULT_DELAY: Duration = Duration::from_secs(5);
/// Tasks received beyond the free slots, as a share of the slots: a worker whose slots free one at a time
/// then asks the queue for a batch now and then, not once per task. A share and not a number, so that
/// each waits for no more than one slot to free, within one attempt's time, well inside its lease (the
/// HTTP timeout plus 30 s).
const PREFETCH_PER_SLOTS: usize = 4;

/// Cheap to clone: each attempt's task holds a clone to settle with.
#[derive(Clone)]
pub struct DeliveryWorker {
    service: Arc<Service>,
    queue: EmbeddedQueue,
    concurrency: usize,
    unrecorded: UnrecordedTasks,
}

impl DeliveryWorker {
    pub fn new(service: Arc<Service>, queue: EmbeddedQueue, concurrency: usize) -> Self {
        let unrecorded = UnrecordedTasks::new(service.metrics().clone());
        Self {
            service,
            queue,
            concurrency: concurrency.max(1),
            unrecorded,
        }
    }

    /// Runs until `shutdown` turns true, then starts no attempt and waits for those in flight to finish and
    /// be recorded: each ends within the HTTP timeout.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let wakeup = self.queue.wakeup();
        let prefetch = self.concurrency / PREFETCH_PER_SLOTS;
        let mut handed = self.queue.open_hand_off(prefetch);
        // When the worker, caught up, looks at the queue again unless woken before.
        let mut next_look = Instant::now();
        while !*shutdown.borrow() {
            if let Some(trouble) = self.service.write_trouble() {
                self.wait_for_the_store(trouble, &mut shutdown).await;
                continue;
            }
            // Before any task is received: one whose lease ran out meanwhile must not be attempted
            // again. Only a store that cannot write keeps a task waiting, so this does not spin.
            if !self.unrecorded.is_empty() {
                self.record_what_waits().await;
                continue;
            }
            let first = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
                _ = shutdown.changed() => break,
            };
            // Tasks handed off are leased already: they go first, whether or not the worker has fallen
            // behind since (the hand-off has room for a few only).
            if let Some(task) = handed.try_next() {
                self.start(task, first);
                continue;
            }
            // Caught up with the queue: new tasks come handed off until a wake-up (tasks queued ready, a
            // task put off) or the soonest delayed task's time sends the worker to the queue again.
            if handed.caught_up() {
                tokio::select! {
                    Some(task) = handed.next() => {
                        self.start(task, first);
                        continue;
                    }
                    _ = wakeup.notified() => {}
                    _ = tokio::time::sleep_until(next_look) => {}
                    _ = shutdown.changed() => continue,
                }
            }
            let wanted = permits.available_permits() + 1 + prefetch;
            let received = match self.queue.receive(wanted).await {
                Ok(received) => received,
                Err(e) => {
                    tracing::error!(error = %e, "cannot receive from the queue");
                    drop(first);
                    tokio::time::sleep(FAULT_DELAY).await;
                    continue;
                }
            };
            let caught_up = received.len() < wanted;
            handed.set_caught_up(caught_up);
            if caught_up {
                let due_in = match self.queue.next_visible_in().await {
                    Ok(Some(wait)) => wait.min(IDLE_POLL),
                    _ => IDLE_POLL,
                };
                next_look = Instant::now() + due_in;
            }
            if received.is_empty() {
                continue;
            }
            let mut first = Some(first);
            for task in in_turns_by_endpoint(received) {
                if *shutdown.borrow() {
                    break;
                }
                let permit = match first.take() {
                    Some(p) => p,
                    None => tokio::select! {
                        permit = permits.clone().acquire_owned() => match permit {
                            Ok(p) => p,
                            Err(_) => break,
                        },
                        // Tasks received but not started stay leased; the next start's recovery
                        // releases them with their attempt numbers unchanged.
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    },
                };
                self.start(task, permit);
            }
        }
        // New alerts' tasks are queued ready from here on; those handed off and not started stay leased,
        // as received ones do.
        drop(handed);
        // Every attempt in flight settles (each within the HTTP timeout) before the worker returns, and
        // what waits in memory gets one more chance to be recorded.
        let _ = permits.acquire_many(self.concurrency as u32).await;
        if !self.unrecorded.is_empty() {
            self.record_what_waits().await;
        }
        let lost = self.unrecorded.len();
        if lost > 0 {
            tracing::warn!(
                tasks = lost,
                "stopping with attempts whose outcome the store did not take: they are made again after \
                 their lease"
            );
        }
    }
}

impl DeliveryWorker {
    /// Attempts `task` in a tokio task of its own, which holds `slot` until the task is settled.
    fn start(&self, task: ReceivedTask, slot: OwnedSemaphorePermit) {
        let worker = self.clone();
        // Boxed: the attempt's future is some 13 KB, which tokio would otherwise copy into the task and
        // again over it with the task's end (2 % of the server's CPU in a profile).
        tokio::spawn(Box::pin(async move {
            worker.settle(task).await;
            drop(slot);
        }));
    }

    /// Hands what waits in memory to the store and the queue, oldest first; keeps again what they still do
    /// not take.
    async fn record_what_waits(&self) {
        let waiting = self.unrecorded.take_all();
        let count = waiting.len();
        for Unrecorded { task, unsettled } in waiting {
            match unsettled {
                Unsettled::Outcome(sent) => {
                    let recorded = self.service.record_sent_attempt(*sent).await;
                    self.follow(task, recorded).await;
                }
                Unsettled::Disposition(disposition) => self.apply(task, disposition).await,
            }
        }
        let left = self.unrecorded.len();
        if left < count {
            tracing::info!(
                recorded = count - left,
                left,
                "recorded attempts' outcomes that waited for the store"
            );
        }
    }

    /// While the store cannot write, no attempt starts: its outcome could not be recorded, and the
    /// attempt would be spent. Probes the store every [`STORE_PROBE`] until a write goes through (or the
    /// process stops). While outcomes wait in memory, recording them is the probe: a nearly full disk can
    /// take the probe's one-page write and not an attempt's.
    async fn wait_for_the_store(
        &self,
        trouble: WriteTrouble,
        shutdown: &mut watch::Receiver<bool>,
    ) {
        tracing::warn!(
            reason = trouble.reason(),
            "the store cannot write: delivery waits until it can"
        );
        loop {
            tokio::select! {
                _ = tokio::time::sleep(STORE_PROBE) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            let written = if self.unrecorded.is_empty() {
                self.queue.probe_write().await.is_ok()
            } else {
                self.record_what_waits().await;
                self.unrecorded.is_empty()
            };
            if written && self.service.write_trouble().is_none() {
                tracing::info!("the store writes again: delivery resumes");
                return;
            }
        }
    }

    /// Attempts `task` and tells the queue what follows; keeps in memory what the store cannot take.
    async fn settle(&self, task: ReceivedTask) {
        let attempted = self.service.attempt_delivery(&task).await;
        if let Some(delivery) = self.follow(task, attempted).await {
            tracing::warn!(%delivery, "the store cannot write: the attempt's outcome waits in memory");
        }
    }

    /// Hands on what an attempt (or its outcome, recorded again) led to: the queue's next step; or, for a
    /// sent attempt whose outcome the store cannot take now, keeps it in memory and answers its delivery;
    /// or, for any other failure, puts the task back for a try after [`FAULT_DELAY`].
    async fn follow(
        &self,
        task: ReceivedTask,
        result: Result<Disposition, AttemptError>,
    ) -> Option<DeliveryId> {
        let failed = match result {
            Ok(disposition) => {
                self.apply(task, disposition).await;
                return None;
            }
            Err(failed) => failed,
        };
        match failed.unwritable_outcome() {
            Ok(sent) => {
                let delivery = sent.delivery_id().clone();
                self.unrecorded.keep(task, Unsettled::Outcome(sent));
                Some(delivery)
            }
            Err(failed) => {
                tracing::error!(error = %failed, "attempt failed inside alertwire; the task will be retried");
                self.apply(task, Disposition::RetryIn(FAULT_DELAY)).await;
                None
            }
        }
    }

    /// Tells the queue what to do with `task`; keeps the disposition in memory while the store cannot
    /// write.
    async fn apply(&self, task: ReceivedTask, disposition: Disposition) {
        let queue = &self.queue;
        // A task put off wakes the worker, which may be waiting for tasks handed off: it looks at the
        // queue again to learn when the task is due.
        let put_off = |applied: Result<(), _>| {
            if applied.is_ok() {
                queue.wakeup().notify_one();
            }
            applied
        };
        let applied = match disposition {
            Disposition::Done => queue.delete(&task.receipt).await,
            Disposition::RetryIn(delay) => put_off(queue.retry_later(&task.receipt, delay).await),
            Disposition::DeadLetter => queue.dead_letter(&task).await,
            Disposition::Hold(delay) => put_off(queue.hold(&task, delay).await),
            // The store removed the task with the outcome, in the same commit.
            Disposition::Settled => Ok(()),
        };
        if let Err(e) = applied {
            if self.service.write_trouble().is_some() {
                self.unrecorded
                    .keep(task, Unsettled::Disposition(disposition));
            } else {
                // The lease runs out and the task comes back: at-least-once, never lost.
                tracing::error!(error = %e, "cannot settle a task with the queue");
            }
        }
    }
}

/// The tasks in turns by endpoint: the first task of each endpoint (in the order they first appear), then
/// the second of each, and so on. Tasks that name no endpoint share one turn.
fn in_turns_by_endpoint(received: Vec<ReceivedTask>) -> Vec<ReceivedTask> {
    let total = received.len();
    let mut order = Vec::new();
    let mut lanes: HashMap<Option<String>, VecDeque<ReceivedTask>> = HashMap::new();
    for task in received {
        let lane = task
            .task
            .as_ref()
            .and_then(|t| t.endpoint())
            .map(|e| e.0.clone());
        let queue = lanes.entry(lane.clone()).or_default();
        if queue.is_empty() && !order.contains(&lane) {
            order.push(lane);
        }
        queue.push_back(task);
    }
    let mut turns = Vec::with_capacity(total);
    while turns.len() < total {
        for lane in &order {
            if let Some(task) = lanes.get_mut(lane).and_then(VecDeque::pop_front) {
                turns.push(task);
            }
        }
    }
    turns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::queue::Task;

    fn received(endpoint: &str, n: usize) -> ReceivedTask {
        ReceivedTask {
            task: Some(Task::deliver(
                "acme".into(),
                format!("dl_{endpoint}_{n}").as_str().into(),
                0,
                endpoint.into(),
            )),
            receipt: format!("{endpoint}{n}"),
            receive_count: 1,
        }
    }

    #[test]
    fn a_batch_starts_in_turns_by_endpoint() {
        let batch = vec![
            received("a", 1),
            received("a", 2),
            received("a", 3),
            received("b", 1),
            received("c", 1),
            received("b", 2),
        ];
        let order: Vec<String> = in_turns_by_endpoint(batch)
            .into_iter()
            .map(|t| t.receipt)
            .collect();
        assert_eq!(order, ["a1", "b1", "c1", "a2", "b2", "a3"]);
    }
}
