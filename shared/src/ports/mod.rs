//! The ports the use cases run on: storage traits, the SQS-like task queue trait and the secret sealer.
//! The embedded adapters (`embedded`, `sealing`) and the AWS adapters (`aws`) implement them.

pub mod queue;
pub mod secret_sealer;
pub mod store;
