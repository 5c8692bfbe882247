//! What only the Lambda functions need: building their adapters at cold start, their telemetry, and the
//! deliver function's SQS batch handling.

pub mod deliver_batch;
pub mod setup;
pub mod telemetry;
