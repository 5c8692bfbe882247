//! The replay function, invoked by hand: moves dead letters back to the delivery queue as manual
//! resends — all of them, those of one endpoint, or the given delivery ids. JSON logs, and the replay
//! count as a CloudWatch EMF line.

use alertwire_shared::aws::dlq_replay::{ReplayFilter, replay_dlq};
use alertwire_shared::aws::lambda_setup::{self, LambdaDeps, LambdaSettings};
use alertwire_shared::aws::lambda_telemetry::{self, LambdaTelemetry};
use alertwire_shared::ids::{DeliveryId, EndpointId};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};

/// `{"filter": "all"}`, `{"filter": {"endpoint_id": "ep_…"}}` or `{"filter": {"ids": ["msg_…"]}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    filter: FilterRequest,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum FilterRequest {
    All,
    EndpointId(String),
    Ids(Vec<String>),
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let telemetry = LambdaTelemetry::init()?;
    let settings = LambdaSettings::from_env()?;
    let deps = lambda_setup::build(&settings, telemetry.metrics()).await?;
    let deps = &deps;
    lambda_telemetry::run(
        telemetry.collector(),
        service_fn(move |event: LambdaEvent<Value>| handle(deps, event)),
    )
    .await
}

async fn handle(deps: &LambdaDeps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let request: ReplayRequest = serde_json::from_value(event.payload)
        .map_err(|e| format!("the payload must be {{\"filter\": \"all\" | {{\"endpoint_id\": …}} | {{\"ids\": […]}}}}: {e}"))?;
    let filter = match request.filter {
        FilterRequest::All => ReplayFilter::All,
        FilterRequest::EndpointId(id) => ReplayFilter::Endpoint(EndpointId(id)),
        FilterRequest::Ids(ids) => ReplayFilter::Ids(ids.into_iter().map(DeliveryId).collect()),
    };
    let replayed = replay_dlq(&deps.service, &deps.queue, &filter).await?;
    Ok(json!({ "replayed": replayed }))
}
