//! The SQS adapter of the queue port: the delivery queue and its dead-letter queue (standard queues), and
//! creating both queues for tests and development. Sweeps over the dead-letter queue (removing, replaying
//! and reconciling dead letters) are in `dead_letter_sweep`.
//!
//! Differences from the embedded queue that callers must allow for: SQS standard queues deliver at least
//! once and never de-duplicate sends (the embedded queue keeps one message per [`Task::dedup_key`]); delays
//! have one-second granularity and are capped at 12 hours; a receive may return fewer messages than are
//! visible.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::delivery::retry_policy::MAX_ATTEMPTS;
use crate::ids::DeliveryId;
use crate::ports::queue::{QueueError, ReceivedTask, Task, TaskQueue};

/// The most messages one SQS batch call (send, receive, change visibility) takes.
pub const SQS_BATCH_LIMIT: usize = 10;
/// The longest visibility timeout SQS accepts (ChangeMessageVisibility, VisibilityTimeout).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);
/// How long the delivery queue keeps a message (`MessageRetentionPeriod` in `template.yaml`): a delivery's
/// retries, which wait on the same message, must fit in it.
pub const TASK_RETENTION: Duration = Duration::from_secs(4 * 24 * 3600);
/// The longest delay SQS accepts on a message (DelaySeconds).
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// How long a receive waits for a message when none is visible: long polling, so an empty answer means
/// the queue is empty rather than that the servers sampled held nothing.
const RECEIVE_WAIT_SECONDS: i32 = 1;
/// `SendMessageBatch` calls one `send_batch` keeps in flight.
const SEND_BATCHES_AT_ONCE: usize = 8;
/// The dead-letter queue keeps messages as long as SQS allows: 14 days.
const DEAD_LETTER_RETENTION_SECONDS: u32 = 14 * 24 * 3600;

/// The task queue on SQS: `queue_url` is the delivery queue (with a redrive policy to `dlq_url`).
#[derive(Clone, Debug)]
pub struct SqsQueue {
    pub(super) client: Client,
    queue_url: String,
    dlq_url: String,
}

/// Why an SQS call did not do what the port promises; reported to callers as [`QueueError::Backend`].
#[derive(Debug, thiserror::Error)]
pub(super) enum SqsError {
    #[error("SQS {operation} failed: {detail}")]
    Call {
        operation: &'static str,
        detail: String,
    },
    #[error("SQS refused {} message(s) of a batch, also when retried: {}", .0.len(), .0.join("; "))]
    Rejected(Vec<String>),
    #[error("SQS answered {operation} without {field}")]
    Incomplete {
        operation: &'static str,
        field: &'static str,
    },
    #[error("a task cannot be written as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(
        "a message whose body could not be read cannot be moved to the dead-letter queue by hand; SQS's redrive moves it after {MAX_ATTEMPTS} receives"
    )]
    Unreadable,
}

impl From<SqsError> for QueueError {
    fn from(e: SqsError) -> Self {
        QueueError::Backend(e.to_string())
    }
}

fn call_failed<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> SqsError {
    move |e| SqsError::Call {
        operation,
        detail: DisplayErrorContext(e).to_string(),
    }
}

/// A message's body as a task, or `None` (logged) when it is not one this version can read.
pub(crate) fn read_task(message_id: &str, body: &str) -> Option<Task> {
    match serde_json::from_str(body) {
        Ok(task) => Some(task),
        Err(e) => {
            tracing::warn!(message_id, error = %e, "a queue message is not a readable task");
            None
        }
    }
}

/// A delay as whole seconds SQS accepts: rounded up (never shorter than asked), capped at 12 hours.
fn visibility_seconds(delay: Duration) -> i32 {
    let capped = delay.min(MAX_VISIBILITY);
    let seconds = capped.as_secs() + u64::from(capped.subsec_nanos() > 0);
    i32::try_from(seconds.min(MAX_VISIBILITY.as_secs())).unwrap_or(i32::MAX)
}

/// The most a `ChangeMessageVisibility` may ask for a message received `since_receive` ago: SQS refuses a
/// visibility that would end more than 12 hours after the receive. Whole seconds, rounded down, so the
/// rounding up of [`visibility_seconds`] cannot pass the limit.
pub fn cap_visibility(delay: Duration, since_receive: Duration) -> Duration {
    let room = MAX_VISIBILITY.saturating_sub(since_receive);
    delay.min(Duration::from_secs(room.as_secs()))
}

/// The message group of a task: its endpoint. On a standard queue this makes it a fair queue (SQS keeps
/// one group's backlog from delaying the others' messages); tasks that name no endpoint have no group.
fn message_group(task: &Task) -> Option<String> {
    task.endpoint().map(|e| e.0.clone())
}

/// A received message in the shape the adapter works with.
pub(super) struct Incoming {
    pub(super) message_id: String,
    pub(super) receipt: String,
    pub(super) task: Option<Task>,
    receive_count: u32,
}

impl Incoming {
    /// `None` (logged) for a message without a receipt handle: nothing can be done with it.
    fn from_message(message: Message) -> Option<Incoming> {
        let Some(receipt) = message.receipt_handle.filter(|r| !r.is_empty()) else {
            tracing::warn!(message_id = ?message.message_id, "SQS returned a message without a receipt handle");
            return None;
        };
        let message_id = message.message_id.unwrap_or_else(|| receipt.clone());
        let count = message
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|c| c.parse::<u32>().ok());
        let receive_count = match count {
            Some(c) => c.max(1),
            None => {
                tracing::warn!(%message_id, "SQS returned a message without its receive count; taking 1");
                1
            }
        };
        let task = match &message.body {
            Some(body) => read_task(&message_id, body),
            None => None,
        };
        Some(Incoming {
            message_id,
            receipt,
            task,
            receive_count,
        })
    }
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>, dlq_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            dlq_url: dlq_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn dlq_url(&self) -> &str {
        &self.dlq_url
    }

    /// Creates (or finds, if they exist with the same settings) the queue `name` and its dead-letter
    /// queue `name-dlq`: the dead-letter queue keeps messages 14 days; the queue redrives a message to it
    /// after [`MAX_ATTEMPTS`] receives and leases received messages for `visibility_timeout`. Returns
    /// `(queue_url, dlq_url)`. For tests and development; `template.yaml` declares the deployed queues.
    pub async fn create_queues(
        client: &Client,
        name: &str,
        visibility_timeout: Duration,
    ) -> Result<(String, String), QueueError> {
        let dlq_url = client
            .create_queue()
            .queue_name(format!("{name}-dlq"))
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                DEAD_LETTER_RETENTION_SECONDS.to_string(),
            )
            .send()
            .await
            .map_err(call_failed("CreateQueue"))?
            .queue_url
            .ok_or(SqsError::Incomplete {
                operation: "CreateQueue",
                field: "QueueUrl",
            })?;
        let dlq_arn = client
            .get_queue_attributes()
            .queue_url(&dlq_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(call_failed("GetQueueAttributes"))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or(SqsError::Incomplete {
                operation: "GetQueueAttributes",
                field: "QueueArn",
            })?;
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": MAX_ATTEMPTS,
        });
        let queue_url = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility_seconds(visibility_timeout).to_string(),
            )
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                TASK_RETENTION.as_secs().to_string(),
            )
            .send()
            .await
            .map_err(call_failed("CreateQueue"))?
            .queue_url
            .ok_or(SqsError::Incomplete {
                operation: "CreateQueue",
                field: "QueueUrl",
            })?;
        Ok((queue_url, dlq_url))
    }

    /// Up to ten messages of `url`, with their receive counts; `lease` overrides the queue's visibility
    /// timeout.
    pub(super) async fn receive_from(
        &self,
        url: &str,
        max: usize,
        lease: Option<i32>,
    ) -> Result<Vec<Incoming>, SqsError> {
        let max = max.min(SQS_BATCH_LIMIT);
        if max == 0 {
            return Ok(Vec::new());
        }
        let answer = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(1))
            .wait_time_seconds(RECEIVE_WAIT_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .set_visibility_timeout(lease)
            .send()
            .await
            .map_err(call_failed("ReceiveMessage"))?;
        Ok(answer
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(Incoming::from_message)
            .collect())
    }

    /// Sends one batch (≤ 10) to `url`; entries SQS refuses are sent once more, then reported.
    pub(super) async fn send_chunk(&self, url: &str, tasks: &[Task]) -> Result<(), SqsError> {
        let bodies = tasks
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        let mut pending: Vec<usize> = (0..tasks.len()).collect();
        let mut refusals = Vec::new();
        for _try in 0..2 {
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i])
                        .set_message_group_id(message_group(&tasks[i]))
                        .build()
                        .map_err(call_failed("SendMessageBatch"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let answer = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(call_failed("SendMessageBatch"))?;
            refusals.clear();
            let mut again = Vec::new();
            for failed in answer.failed() {
                // An id SQS made up cannot be retried by index; it is reported as it is.
                let index = failed
                    .id()
                    .parse::<usize>()
                    .ok()
                    .filter(|i| *i < tasks.len());
                let named = index.map_or_else(
                    || format!("entry {}", failed.id()),
                    |i| format!("delivery {}", tasks[i].delivery_id()),
                );
                refusals.push(format!(
                    "{named}: {} {}",
                    failed.code(),
                    failed.message().unwrap_or_default()
                ));
                again.extend(index);
            }
            if refusals.is_empty() {
                return Ok(());
            }
            pending = again;
            if pending.is_empty() {
                break;
            }
        }
        Err(SqsError::Rejected(refusals))
    }

    /// Deletes up to ten received messages of the delivery queue in one call; the receipts SQS could not
    /// delete are reported.
    pub async fn delete_received(&self, receipts: &[&str]) -> Result<(), QueueError> {
        Ok(self.delete_batch_from(&self.queue_url, receipts).await?)
    }

    /// Deletes received messages of `url`, at most 10, in one `DeleteMessageBatch`; entries SQS refuses
    /// are reported.
    pub(super) async fn delete_batch_from(
        &self,
        url: &str,
        receipts: &[&str],
    ) -> Result<(), SqsError> {
        let entries = receipts
            .iter()
            .enumerate()
            .map(|(i, receipt)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(*receipt)
                    .build()
                    .map_err(call_failed("DeleteMessageBatch"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let answer = self
            .client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(call_failed("DeleteMessageBatch"))?;
        let refusals: Vec<String> = answer
            .failed()
            .iter()
            .map(|f| format!("entry {}: {}", f.id(), f.code()))
            .collect();
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(SqsError::Rejected(refusals))
        }
    }

    pub(super) async fn delete_from(&self, url: &str, receipt: &str) -> Result<(), SqsError> {
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(call_failed("DeleteMessage"))?;
        Ok(())
    }
}

#[async_trait]
impl TaskQueue for SqsQueue {
    /// Ten tasks to a `SendMessageBatch`, a few batches in flight: a replay's page of 500 is 50 of them.
    async fn send_batch(&self, tasks: &[Task]) -> Result<(), QueueError> {
        let sends: Vec<_> = tasks
            .chunks(SQS_BATCH_LIMIT)
            .map(|chunk| self.send_chunk(&self.queue_url, chunk))
            .collect();
        stream::iter(sends)
            .buffer_unordered(SEND_BATCHES_AT_ONCE)
            .try_collect::<()>()
            .await?;
        Ok(())
    }

    async fn receive(&self, max: usize) -> Result<Vec<ReceivedTask>, QueueError> {
        Ok(self
            .receive_from(&self.queue_url, max, None)
            .await?
            .into_iter()
            .map(|m| ReceivedTask {
                task: m.task,
                receipt: m.receipt,
                receive_count: m.receive_count,
            })
            .collect())
    }

    async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        Ok(self.delete_from(&self.queue_url, receipt).await?)
    }

    async fn retry_later(&self, receipt: &str, delay: Duration) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(visibility_seconds(delay))
            .send()
            .await
            .map_err(call_failed("ChangeMessageVisibility"))?;
        Ok(())
    }

    /// Re-sends the task, carrying over the attempts made, with the delay (at most SQS's 15 minutes: a
    /// longer hold is held again when it comes back), then deletes the original. If the delete fails, both
    /// are on the queue; the attempt recorded by whichever comes first makes the other stale or a repeat
    /// the run's rules already allow.
    async fn hold(&self, received: &ReceivedTask, delay: Duration) -> Result<(), QueueError> {
        let task = received.task.as_ref().ok_or(SqsError::Unreadable)?;
        let held = task.held(received.receive_count);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(serde_json::to_string(&held).map_err(SqsError::from)?)
            .set_message_group_id(message_group(&held))
            .delay_seconds(visibility_seconds(delay.min(MAX_DELAY)))
            .send()
            .await
            .map_err(call_failed("SendMessage"))?;
        Ok(self.delete_from(&self.queue_url, &received.receipt).await?)
    }

    /// Sends the task to the dead-letter queue, then deletes it from the queue. If the delete fails the
    /// task is in both; its next receive finds the delivery finished and ends it.
    async fn dead_letter(&self, received: &ReceivedTask) -> Result<(), QueueError> {
        let task = received.task.as_ref().ok_or(SqsError::Unreadable)?;
        self.client
            .send_message()
            .queue_url(&self.dlq_url)
            .message_body(serde_json::to_string(task).map_err(SqsError::from)?)
            .send()
            .await
            .map_err(call_failed("SendMessage"))?;
        Ok(self.delete_from(&self.queue_url, &received.receipt).await?)
    }

    /// Sweeps the whole dead-letter queue (see [`SqsQueue::sweep_dead_letters`]).
    async fn remove_dead_letters(&self, delivery_ids: &[DeliveryId]) -> Result<usize, QueueError> {
        self.remove_dead_letters_of(delivery_ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_whole_seconds_and_stop_at_twelve_hours() {
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
        assert_eq!(visibility_seconds(Duration::from_millis(1)), 1);
        assert_eq!(visibility_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(visibility_seconds(Duration::from_secs(30)), 30);
        assert_eq!(visibility_seconds(Duration::from_secs(12 * 3600)), 43_200);
        assert_eq!(visibility_seconds(Duration::from_secs(13 * 3600)), 43_200);
        assert_eq!(visibility_seconds(Duration::MAX), 43_200);
    }

    #[test]
    fn a_visibility_change_never_ends_past_twelve_hours_after_the_receive() {
        let hour = Duration::from_secs(3600);
        assert_eq!(cap_visibility(hour, Duration::from_secs(5)), hour);
        assert_eq!(
            cap_visibility(12 * hour, Duration::from_millis(1500)),
            Duration::from_secs(12 * 3600 - 2),
            "rounded down to whole seconds"
        );
        let late = Duration::from_secs(11 * 3600 + 1800);
        assert_eq!(cap_visibility(hour, late), Duration::from_secs(1800));
        assert_eq!(cap_visibility(hour, 13 * hour), Duration::ZERO);
        for since in [0, 1, 999, 1000, 1001, 59_999] {
            let since = Duration::from_millis(since);
            let asked = visibility_seconds(cap_visibility(Duration::MAX, since));
            assert!(
                Duration::from_secs(asked as u64) + since <= MAX_VISIBILITY,
                "{since:?}"
            );
        }
    }

    #[test]
    fn messages_without_a_receipt_are_skipped_and_odd_counts_read_as_one() {
        let no_receipt = Message::builder().message_id("m").body("{}").build();
        assert!(Incoming::from_message(no_receipt).is_none());
        let odd = Message::builder()
            .message_id("m")
            .receipt_handle("r")
            .body("not json")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "many")
            .build();
        let incoming = Incoming::from_message(odd).expect("kept");
        assert_eq!((incoming.receive_count, incoming.task), (1, None));
    }
}
