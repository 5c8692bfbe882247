//! SQS: the task queue and its dead-letter queue, and the sweeps that read the dead letters back.

pub mod dead_letter_sweep;
pub mod queue;
