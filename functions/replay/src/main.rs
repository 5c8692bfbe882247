//! The replay function, invoked by hand: moves dead letters back to the delivery queue as manual
//! resends — all of them, those of one endpoint, or the given delivery ids. On a schedule it reconciles
//! the dead-letter queue with the store instead. JSON logs, and the replay count as a CloudWatch EMF line.

use alertwire_shared::aws::lambda::setup::{self, LambdaDeps, LambdaSettings};
use alertwire_shared::aws::lambda::telemetry::{self, LambdaTelemetry};
use alertwire_shared::aws::sqs::dlq_reconcile::reconcile_dlq;
use alertwire_shared::aws::sqs::dlq_replay::{ReplayFilter, replay_dlq};
use alertwire_shared::ids::{DeliveryId, EndpointId};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};

/// A replay, or the schedule's `{"reconcile": true}`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Request {
    Replay(ReplayRequest),
    Reconcile(ReconcileRequest),
}

/// `{"filter": "all"}`, `{"filter": {"endpoint_id": "ep_…"}}` or `{"filter": {"ids": ["msg_…"]}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRequest {
    filter: FilterRequest,
}

/// Marks dead the deliveries SQS dead-lettered while the store still said pending.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReconcileRequest {
    reconcile: bool,
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
    let deps = setup::build(&settings, telemetry.metrics()).await?;
    let deps = &deps;
    telemetry::run(
        telemetry.collector(),
        service_fn(move |event: LambdaEvent<Value>| handle(deps, event)),
    )
    .await
}

async fn handle(deps: &LambdaDeps, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let request = match serde_json::from_value(event.payload) {
        Ok(Request::Replay(request)) => request,
        Ok(Request::Reconcile(ReconcileRequest { reconcile: true })) => {
            let marked = reconcile_dlq(&deps.service, &deps.queue).await?;
            return Ok(json!({ "marked_dead": marked }));
        }
        Ok(Request::Reconcile(_)) => return Ok(json!({ "marked_dead": 0 })),
        Err(_) => {
            return Err("the payload must be {\"filter\": \"all\" | {\"endpoint_id\": …} | {\"ids\": […]}} or {\"reconcile\": true}".into());
        }
    };
    let filter = match request.filter {
        FilterRequest::All => ReplayFilter::All,
        FilterRequest::EndpointId(id) => ReplayFilter::Endpoint(EndpointId(id)),
        FilterRequest::Ids(ids) => ReplayFilter::Ids(ids.into_iter().map(DeliveryId).collect()),
    };
    let replayed = replay_dlq(&deps.service, &deps.queue, &filter).await?;
    Ok(json!({ "replayed": replayed }))
}
