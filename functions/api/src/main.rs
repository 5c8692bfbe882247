//! The api function: alertwire's HTTP API behind API Gateway, the same router the local server serves,
//! on DynamoDB and SQS; JSON logs, and metrics as CloudWatch EMF lines after each invocation.

use alertwire_shared::api;
use alertwire_shared::aws::lambda::setup::{self, Adapters, LambdaSettings};
use alertwire_shared::aws::lambda::telemetry::{self, LambdaTelemetry};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let telemetry = LambdaTelemetry::init()?;
    let settings = LambdaSettings::from_env()?;
    let adapters = Adapters::connect(&settings).await;
    let service = setup::api_service(&settings, &adapters, telemetry.metrics()).await?;
    telemetry::run_http(telemetry.collector(), api::router(service)).await
}
