//! The replay function, invoked by hand: moves dead letters back to the delivery queue as manual
//! resends — all of them, those of one endpoint, or the given delivery ids. On a schedule it reconciles
//! the dead-letter queue with the store instead. JSON logs, and the replay count as a CloudWatch EMF line.

use alertwire_shared::aws::lambda::replay_request::ReplayRequest;
use alertwire_shared::aws::lambda::setup::{self, Adapters, LambdaSettings};
use alertwire_shared::aws::lambda::telemetry::{self, LambdaTelemetry};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let telemetry = LambdaTelemetry::init()?;
    let settings = LambdaSettings::from_env()?;
    let adapters = Adapters::connect(&settings).await;
    let service = setup::replay_service(&settings, &adapters, telemetry.metrics())?;
    let (service, queue) = (&service, &adapters.queue);
    telemetry::run(
        telemetry.collector(),
        service_fn(move |event: LambdaEvent<Value>| async move {
            let request = ReplayRequest::from_payload(event.payload)?;
            Ok::<Value, Error>(request.carry_out(service, queue).await?)
        }),
    )
    .await
}
