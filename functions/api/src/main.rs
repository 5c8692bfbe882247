//! The api function: alertwire's HTTP API behind API Gateway, the same router the local server serves,
//! on DynamoDB and SQS.

use alertwire_shared::api;
use alertwire_shared::aws::lambda_setup::{self, LambdaSettings};
use lambda_http::Error;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let settings = LambdaSettings::from_env()?;
    let deps = lambda_setup::build(&settings).await?;
    lambda_http::run(api::router(deps.service)).await
}
