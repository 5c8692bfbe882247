//! The deliver function's batch logic, on plain types: attempt every message of an SQS batch at once,
//! settle each with the queue, and answer the message ids the event source mapping must keep (its
//! `batchItemFailures`). Every message not listed is deleted by the mapping.

use futures_util::future::join_all;

use crate::aws::sqs::queue::{SqsQueue, read_task};
use crate::delivery::retry_policy::MAX_ATTEMPTS;
use crate::ports::queue::{ReceivedTask, TaskQueue};
use crate::service::{Disposition, Service};

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
/// - to be retried: its visibility set to the retry delay, listed;
/// - held back without an attempt (the endpoint's limits, its open circuit): re-sent with a delay and the
///   original deleted, so holding never counts toward the redrive limit; not listed;
/// - dead on its last attempt (receive count ≥ [`MAX_ATTEMPTS`]): made visible at once and listed, so
///   SQS's redrive policy moves it to the dead-letter queue on its next receive;
/// - dead earlier (410 Gone, a body that cannot be rendered): sent to the dead-letter queue here, not
///   listed;
/// - an error inside alertwire (store, queue): listed with its visibility untouched, so it comes back
///   after the queue's visibility timeout.
///
/// An empty id is never listed (it would fail the whole batch); such a message is logged and deleted.
pub async fn deliver_batch(
    service: &Service,
    queue: &SqsQueue,
    messages: Vec<BatchMessage>,
) -> Vec<String> {
    let settled = join_all(messages.into_iter().map(|message| async move {
        let settled = settle(service, queue, &message).await;
        (message.message_id, settled)
    }))
    .await;
    settled
        .into_iter()
        .filter(|(_, settled)| *settled == Settled::Kept)
        .filter_map(|(message_id, _)| {
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

async fn settle(service: &Service, queue: &SqsQueue, message: &BatchMessage) -> Settled {
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
        Disposition::Done => Settled::Finished,
        Disposition::RetryIn(delay) => {
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
