//! The embedded adapters: one SQLite database file (WAL, fsync on commit) that holds the store and the
//! queue, so `alertwire serve` needs nothing but its data directory.

pub mod backup;
mod database;
mod hand_off;
pub mod prometheus;
mod pruner;
#[cfg(test)]
mod query_plans;
mod queue;
mod recovery;
mod schema;
pub mod server;
mod store;
mod unrecorded;
pub mod worker;

pub use database::{Database, Durability, OpenError};
pub use hand_off::HandedTasks;
pub use pruner::{Pruned, Pruner};
pub use queue::{EmbeddedQueue, QueueSettings};
pub use recovery::Recovered;
pub use schema::{SCHEMA_VERSION, SchemaError};
