//! The ports the use cases run on: storage traits and the SQS-like task queue trait. The embedded
//! adapters (`embedded`) and the AWS adapters (`aws`) implement them.

pub mod queue;
pub mod store;
