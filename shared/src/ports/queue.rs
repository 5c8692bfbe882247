//! The queue port, with SQS semantics: at-least-once, a visibility timeout while a task is being worked on,
//! a receive count, delays set per message, and a dead-letter queue.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{DeliveryId, TenantId};

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
    },
}

impl Task {
    pub fn delivery_id(&self) -> &DeliveryId {
        match self {
            Task::DeliverV1 { delivery_id, .. } => delivery_id,
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
    /// 1 on first receipt; the attempt number of this delivery run.
    pub receive_count: u32,
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
    /// Move it to the dead-letter queue now.
    async fn dead_letter(&self, received: &ReceivedTask) -> Result<(), QueueError>;
    /// Remove the dead letters of these deliveries (they are being replayed); returns how many were removed.
    async fn remove_dead_letters(&self, delivery_ids: &[DeliveryId]) -> Result<usize, QueueError>;
}
