//! The queue port, with SQS semantics: at-least-once, a visibility timeout while a task is being worked on,
//! a receive count, delays set per message, and a dead-letter queue. A task can also be held back
//! without the receive counting as an attempt, and names the endpoint it is for, so that queues that group
//! messages (SQS fair queues) keep one endpoint's backlog from delaying another's.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{DeliveryId, EndpointId, TenantId};

/// A unit of work on the queue. Versioned by its tag so old messages stay readable after an upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Task {
    /// Attempt the delivery, if it is still pending in this run.
    #[serde(rename = "deliver.v1")]
    DeliverV1 {
        tenant: TenantId,
        delivery_id: DeliveryId,
        run: u32,
        /// The endpoint the delivery goes to: the message group on SQS, the lane in the embedded worker.
        /// Absent in tasks written before it was added.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<EndpointId>,
        /// Attempts this run made before the message was last re-sent by [`TaskQueue::hold`]: a re-sent
        /// message's receive count starts again at 1, and the attempt number goes on from here.
        #[serde(default, skip_serializing_if = "is_zero")]
        attempts_before: u32,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Task {
    /// A task for one delivery run to `endpoint`, with no attempt made yet.
    pub fn deliver(
        tenant: TenantId,
        delivery_id: DeliveryId,
        run: u32,
        endpoint: EndpointId,
    ) -> Self {
        Task::DeliverV1 {
            tenant,
            delivery_id,
            run,
            endpoint: Some(endpoint),
            attempts_before: 0,
        }
    }

    pub fn delivery_id(&self) -> &DeliveryId {
        match self {
            Task::DeliverV1 { delivery_id, .. } => delivery_id,
        }
    }

    /// The endpoint the task's delivery goes to, when the task says.
    pub fn endpoint(&self) -> Option<&EndpointId> {
        match self {
            Task::DeliverV1 { endpoint, .. } => endpoint.as_ref(),
        }
    }

    /// The same task, re-sent after a hold: the `receive_count - 1` attempts made under the held message
    /// are carried over, the receive that held it is not counted.
    pub fn held(&self, receive_count: u32) -> Self {
        match self.clone() {
            Task::DeliverV1 {
                tenant,
                delivery_id,
                run,
                endpoint,
                attempts_before,
            } => Task::DeliverV1 {
                tenant,
                delivery_id,
                run,
                endpoint,
                attempts_before: attempts_before + receive_count.saturating_sub(1),
            },
        }
    }

    /// Messages of the same delivery run are one message: sending it twice keeps one.
    pub fn dedup_key(&self) -> String {
        match self {
            Task::DeliverV1 {
                delivery_id, run, ..
            } => format!("{delivery_id}:{run}"),
        }
    }
}

/// A task handed out by `receive`, invisible to other receivers until deleted, delayed or its lease ends.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedTask {
    /// `None` when the message body could not be read (it is then deleted by the worker).
    pub task: Option<Task>,
    pub receipt: String,
    /// 1 on first receipt of this message.
    pub receive_count: u32,
}

impl ReceivedTask {
    /// The attempt this receive is for, in its delivery run: the receives of this message plus the
    /// attempts carried over from the messages it was re-sent from.
    pub fn attempt_number(&self) -> u32 {
        let before = match &self.task {
            Some(Task::DeliverV1 {
                attempts_before, ..
            }) => *attempts_before,
            None => 0,
        };
        before + self.receive_count
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue failed: {0}")]
    Backend(String),
}

#[async_trait]
pub trait TaskQueue: Send + Sync {
    /// Enqueues all tasks, visible at once.
    async fn send_batch(&self, tasks: &[Task]) -> Result<(), QueueError>;
    /// Up to `max` visible tasks, each leased for the queue's visibility timeout.
    async fn receive(&self, max: usize) -> Result<Vec<ReceivedTask>, QueueError>;
    /// Done with it: remove it.
    async fn delete(&self, receipt: &str) -> Result<(), QueueError>;
    /// Make it visible again after `delay` (SQS ChangeMessageVisibility).
    async fn retry_later(&self, receipt: &str, delay: Duration) -> Result<(), QueueError>;
    /// Make it visible again after `delay` without counting this receive: no attempt was made. On SQS the
    /// message is re-sent with the delay and the original deleted, so a task held again and again never
    /// reaches the redrive limit.
    async fn hold(&self, received: &ReceivedTask, delay: Duration) -> Result<(), QueueError>;
    /// Move it to the dead-letter queue now.
    async fn dead_letter(&self, received: &ReceivedTask) -> Result<(), QueueError>;
    /// Remove the dead letters of these deliveries (they are being replayed); returns how many were removed.
    async fn remove_dead_letters(&self, delivery_ids: &[DeliveryId]) -> Result<usize, QueueError>;
}
