//! What only the Lambda functions need: building each function's adapters and service at cold start,
//! their telemetry, the deliver function's SQS batch handling and the replay function's request.

pub mod deliver_batch;
pub mod replay_request;
pub mod setup;
pub mod telemetry;
