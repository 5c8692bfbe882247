//! SQS: the task queue and the dead-letter queue, and the sweeps that read the dead letters back.

pub mod dlq_reconcile;
pub mod dlq_replay;
pub mod queue;
