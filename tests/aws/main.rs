//! The conformance suites that hold the embedded and AWS adapters to the same behaviour, and alertwire's
//! AWS path against the moto emulator (started by tests/run.sh, `AWS_ENDPOINT_URL` set): the Lambda
//! binaries run end to end under cargo-lambda, the chaos accounting with the deliver batch killed,
//! routing with many endpoints, an incident's ok held for its error, and a storm's digest held for its
//! window.
//!
//! Without the `aws` feature only the SQLite half of the conformance suites is built
//! (`store_conformance::sqlite::*`, `queue_conformance::embedded::*`), so the default `cargo test
//! --workspace` runs it; with `aws`, the moto half and everything else here join it.

mod attempt_twice;
#[cfg(feature = "aws")]
mod chaos;
mod compiled_in_roots;
#[cfg(feature = "aws")]
mod cost;
#[cfg(feature = "aws")]
mod deployment_key;
#[cfg(feature = "aws")]
mod digests;
#[cfg(feature = "aws")]
mod incidents;
#[cfg(feature = "aws")]
mod lambda_e2e;
mod queue_conformance;
#[cfg(feature = "aws")]
mod routing;
#[cfg(feature = "aws")]
mod serialized_writes;
#[cfg(feature = "aws")]
mod service_rig;
mod store_conformance;
