//! What the embedded worker keeps in memory while the store cannot write (a full disk): attempts that were
//! sent but whose outcome the store did not take, and what the queue still has to do with tasks whose
//! outcome is recorded. Each is handed back, in the order it came, once the store writes again, so a
//! request that was sent is recorded once and not sent a second time. Only a process that stops first
//! loses them: the task's lease then runs out and the attempt is made again (at least once).

use std::sync::{Arc, Mutex};

use crate::metrics::Metrics;
use crate::ports::queue::ReceivedTask;
use crate::service::{Disposition, SentAttempt};

/// What is left to record for one task.
#[derive(Debug)]
pub enum Unsettled {
    /// Sent and answered; neither the endpoint's health, the delivery's status nor the queue knows yet.
    Outcome(Box<SentAttempt>),
    /// Recorded; the queue has yet to do this with the task.
    Disposition(Disposition),
}

/// One task and what is left to record for it.
#[derive(Debug)]
pub struct Unrecorded {
    pub task: ReceivedTask,
    pub unsettled: Unsettled,
}

/// The worker's unrecorded tasks, shared by its attempts; the `alertwire_attempt_outcomes_unrecorded`
/// gauge follows their number.
#[derive(Clone)]
pub struct UnrecordedTasks {
    waiting: Arc<Mutex<Vec<Unrecorded>>>,
    metrics: Metrics,
}

impl UnrecordedTasks {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            waiting: Arc::default(),
            metrics,
        }
    }

    /// Keeps `task` until the store writes again.
    pub fn keep(&self, task: ReceivedTask, unsettled: Unsettled) {
        let mut waiting = self.waiting.lock().expect("the unrecorded tasks");
        waiting.push(Unrecorded { task, unsettled });
        self.metrics.outcomes_unrecorded(waiting.len());
    }

    /// Every task kept, oldest first; the caller keeps again those the store still does not take.
    pub fn take_all(&self) -> Vec<Unrecorded> {
        let mut waiting = self.waiting.lock().expect("the unrecorded tasks");
        let taken = std::mem::take(&mut *waiting);
        self.metrics.outcomes_unrecorded(0);
        taken
    }

    pub fn is_empty(&self) -> bool {
        self.waiting
            .lock()
            .expect("the unrecorded tasks")
            .is_empty()
    }

    pub fn len(&self) -> usize {
        self.waiting.lock().expect("the unrecorded tasks").len()
    }
}
