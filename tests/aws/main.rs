//! alertwire's AWS path against the moto emulator (started by tests/run.sh, `AWS_ENDPOINT_URL` set):
//! the conformance suites that hold the embedded and AWS adapters to the same behaviour, the Lambda
//! binaries run end to end under cargo-lambda, and the chaos accounting with the deliver batch killed.

mod chaos;
mod lambda_e2e;
mod queue_conformance;
mod serialized_writes;
mod store_conformance;
