//! The deliver function's batch logic, on plain types: attempt every message of an SQS batch at once,
//! settle each with the queue, and answer the message ids the event source mapping must keep (its
//! `batchItemFailures`). Every message not listed is deleted by the mapping. A batch that a slow endpoint
//! keeps open past [`SLOW_BATCH`] deletes its finished messages itself, so they do not wait for the
//! report (nor come back if the invocation is cut short).

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

use crate::aws::sqs::queue::{SqsQueue, cap_visibility, read_task};
use crate::delivery::retry_policy::MAX_ATTEMPTS;
use crate::ports::queue::{ReceivedTask, TaskQueue};
use crate::service::{Disposition, Service};

/// How long a batch may take before its finished messages are deleted without waiting for the others.
pub const SLOW_BATCH: Duration = Duration::from_secs(2);
/// The longest a message can have been received before its batch's invocation began: the event source's
/// longest batching window (300 s) and a minute for the poll and the invoke. A retry's visibility is
/// capped so that it ends within SQS's 12 hours of the receive even then.
pub const RECEIVED_BEFORE_INVOKE: Duration = Duration::from_secs(360);

/// One SQS record of the batch, as the event source mapping hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// `ApproximateReceiveCount`: receives of this message (the attempt number adds the attempts the task
    /// carries over from the messages it was re-sent from).
    pub receive_count: u32,
}

/// How one message leaves the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Not listed: the mapping deletes it.
    Finished,
    /// Listed as a batch item failure: it stays on the queue and comes back when its visibility ends.
    Kept,
}

/// Attempts all messages concurrently and returns the ids to report as `batchItemFailures`:
///
/// - delivered, filtered, stale or unreadable: not listed (deleted);
/// - to be retried: its visibility set to the retry delay (capped so that it ends within SQS's 12 hours of
///   the receive, see [`RECEIVED_BEFORE_INVOKE`]), listed;
/// - held back without an attempt (the endpoint's limits, its open circuit): re-sent with a delay and the
///   original deleted, so holding never counts toward the redrive limit; not listed;
/// - dead on its last attempt (receive count ≥ [`MAX_ATTEMPTS`]): made visible at once and listed, so
///   SQS's redrive policy moves it to the dead-letter queue on its next receive;
/// - dead earlier (410 Gone, a body that cannot be rendered): sent to the dead-letter queue here, not
///   listed;
/// - an error inside alertwire (store, queue): listed with its visibility untouched, so it comes back
///   after the queue's visibility timeout.
///
/// A batch still running after [`SLOW_BATCH`] (a slow endpoint's attempt) deletes its finished messages
/// itself, at that moment and then as each finishes, rather than leaving them to the report.
///
/// An empty id is never listed (it would fail the whole batch); such a message is logged and deleted.
pub async fn deliver_batch(
    service: &Service,
    queue: &SqsQueue,
    messages: Vec<BatchMessage>,
) -> Vec<String> {
    let started = Instant::now();
    let mut in_flight: FuturesUnordered<_> = messages
        .into_iter()
        .map(|message| async move {
            let settled = settle(service, queue, &message, started).await;
            (message, settled)
        })
        .collect();
    let mut kept = Vec::new();
    let mut finished: Vec<BatchMessage> = Vec::new();
    loop {
        let slow = started.elapsed() >= SLOW_BATCH;
        let next = if slow {
            in_flight.next().await
        } else {
            match tokio::time::timeout_at(started + SLOW_BATCH, in_flight.next()).await {
                Ok(next) => next,
                Err(_batch_is_slow) => {
                    delete_early(queue, &mut finished).await;
                    continue;
                }
            }
        };
        let Some((message, settled)) = next else {
            break;
        };
        match settled {
            Settled::Kept => kept.push(message.message_id),
            Settled::Finished => {
                finished.push(message);
                if slow && !in_flight.is_empty() {
                    delete_early(queue, &mut finished).await;
                }
            }
        }
    }
    kept.into_iter()
        .filter_map(|message_id| {
            if message_id.is_empty() {
                tracing::error!(
                    "a message without an id cannot be reported for a retry; the event source mapping deletes it"
                );
                None
            } else {
                Some(message_id)
            }
        })
        .collect()
}

/// Deletes finished messages while the batch still waits on others. A message whose delete fails stays
/// unreported, and the mapping deletes it with the batch.
async fn delete_early(queue: &SqsQueue, finished: &mut Vec<BatchMessage>) {
    if finished.is_empty() {
        return;
    }
    let receipts: Vec<&str> = finished.iter().map(|m| m.receipt_handle.as_str()).collect();
    match queue.delete_received(&receipts).await {
        Ok(()) => finished.clear(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot delete finished messages early; the batch's report deletes them")
        }
    }
}

async fn settle(
    service: &Service,
    queue: &SqsQueue,
    message: &BatchMessage,
    invoked: Instant,
) -> Settled {
    let id = message.message_id.as_str();
    let Some(task) = read_task(id, &message.body) else {
        tracing::warn!(message_id = id, "dropping a message that is not a task");
        return Settled::Finished;
    };
    let received = ReceivedTask {
        task: Some(task),
        receipt: message.receipt_handle.clone(),
        receive_count: message.receive_count.max(1),
    };
    let disposition = match service.attempt_delivery(&received).await {
        Ok(disposition) => disposition,
        Err(e) => {
            tracing::error!(message_id = id, error = %e,
                "the attempt failed inside alertwire; the message comes back after its visibility timeout");
            return Settled::Kept;
        }
    };
    match disposition {
        // DynamoDB never removes an SQS message (`Settled` comes from a store that holds its queue): both
        // leave the message to the batch's deletion.
        Disposition::Done | Disposition::Settled => Settled::Finished,
        Disposition::RetryIn(delay) => {
            let since_receive = RECEIVED_BEFORE_INVOKE + invoked.elapsed();
            let delay = cap_visibility(delay, since_receive);
            if let Err(e) = queue.retry_later(&received.receipt, delay).await {
                tracing::warn!(message_id = id, error = %e,
                    "cannot delay the retry; the message comes back after its visibility timeout");
            }
            Settled::Kept
        }
        Disposition::Hold(delay) => match queue.hold(&received, delay).await {
            Ok(()) => Settled::Finished,
            Err(e) => {
                tracing::warn!(message_id = id, error = %e,
                    "cannot hold the message; it comes back after its visibility timeout");
                Settled::Kept
            }
        },
        Disposition::DeadLetter if received.receive_count >= MAX_ATTEMPTS => {
            if let Err(e) = queue
                .retry_later(&received.receipt, std::time::Duration::ZERO)
                .await
            {
                tracing::warn!(message_id = id, error = %e,
                    "cannot release the message for its redrive; it is redriven after its visibility timeout");
            }
            Settled::Kept
        }
        Disposition::DeadLetter => match queue.dead_letter(&received).await {
            Ok(()) => Settled::Finished,
            Err(e) => {
                // The delivery is dead in the store (the API's replay finds it there); its message comes
                // back, finds the delivery finished and ends.
                tracing::error!(message_id = id, error = %e, "cannot move the message to the dead-letter queue");
                Settled::Kept
            }
        },
    }
}
