//! The embedded delivery loop: receive tasks from the SQLite queue, attempt them concurrently up to a
//! bound, and hand each back to the queue as done, delayed or dead-lettered.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use crate::embedded::EmbeddedQueue;
use crate::ports::queue::{ReceivedTask, TaskQueue};
use crate::service::{Disposition, Service};

/// Longest sleep between looks at the queue when nothing wakes the worker.
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Delay before a task whose attempt hit a store or queue error is tried again.
const FAULT_DELAY: Duration = Duration::from_secs(5);
/// Tasks received beyond the free slots, as a share of the slots: a worker whose slots free one at a time
/// then asks the queue for a batch now and then, not once per task. A share and not a number, so that
/// each waits for no more than one slot to free, within one attempt's time, well inside its lease (the
/// HTTP timeout plus 30 s).
const PREFETCH_PER_SLOTS: usize = 4;

pub struct DeliveryWorker {
    service: Arc<Service>,
    queue: EmbeddedQueue,
    concurrency: usize,
}

impl DeliveryWorker {
    pub fn new(service: Arc<Service>, queue: EmbeddedQueue, concurrency: usize) -> Self {
        Self {
            service,
            queue,
            concurrency: concurrency.max(1),
        }
    }

    /// Runs until `shutdown` turns true, then waits for attempts in flight to finish.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let wakeup = self.queue.wakeup();
        while !*shutdown.borrow() {
            let first = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit { Ok(p) => p, Err(_) => break },
                _ = shutdown.changed() => break,
            };
            let free = permits.available_permits();
            let prefetch = self.concurrency / PREFETCH_PER_SLOTS;
            let received = match self.queue.receive(free + 1 + prefetch).await {
                Ok(received) => received,
                Err(e) => {
                    tracing::error!(error = %e, "cannot receive from the queue");
                    drop(first);
                    tokio::time::sleep(FAULT_DELAY).await;
                    continue;
                }
            };
            if received.is_empty() {
                drop(first);
                let idle = match self.queue.next_visible_in().await {
                    Ok(Some(wait)) => wait.min(IDLE_POLL),
                    _ => IDLE_POLL,
                };
                tokio::select! {
                    _ = wakeup.notified() => {}
                    _ = tokio::time::sleep(idle) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let mut first = Some(first);
            for task in received {
                let permit = match first.take() {
                    Some(p) => p,
                    None => match permits.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                };
                let service = self.service.clone();
                let queue = self.queue.clone();
                tokio::spawn(async move {
                    settle(&service, &queue, &task).await;
                    drop(permit);
                });
            }
        }
        // Wait for every attempt in flight to settle before returning.
        let _ = permits.acquire_many(self.concurrency as u32).await;
    }
}

async fn settle(service: &Service, queue: &EmbeddedQueue, task: &ReceivedTask) {
    let disposition = match service.attempt_delivery(task).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "attempt failed inside alertwire; the task will be retried");
            Disposition::RetryIn(FAULT_DELAY)
        }
    };
    let applied = match disposition {
        Disposition::Done => queue.delete(&task.receipt).await,
        Disposition::RetryIn(delay) => queue.retry_later(&task.receipt, delay).await,
        Disposition::DeadLetter => queue.dead_letter(task).await,
    };
    if let Err(e) = applied {
        // The lease runs out and the task comes back: at-least-once, never lost.
        tracing::error!(error = %e, "cannot settle a task with the queue");
    }
}
