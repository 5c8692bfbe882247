//! alertwire's AWS path against the moto emulator (started by tests/run.sh, `AWS_ENDPOINT_URL` set):
//! the conformance suites that hold the embedded and AWS adapters to the same behaviour, and the Lambda
//! binaries run end to end under cargo-lambda.

mod lambda_e2e;
mod queue_conformance;
mod store_conformance;
