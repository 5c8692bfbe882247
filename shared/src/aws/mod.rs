//! The AWS adapters of the storage and queue ports: DynamoDB for keys, endpoints, alerts and deliveries,
//! SQS for the task queue and its dead-letter queue, KMS for sealing endpoint secrets, the batch handling of the deliver and replay
//! functions, and what the functions log and report as metrics. Built only with the `aws` feature.

pub mod dynamodb;
pub mod kms;
pub mod lambda;
mod sdk_config;
mod sdk_http_client;
pub mod sqs;

pub use sdk_config::load_sdk_config;
