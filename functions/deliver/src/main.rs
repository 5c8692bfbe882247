//! The deliver function: attempts the deliveries of an SQS batch concurrently and reports the ones to
//! retry as batch item failures; JSON logs, and metrics as CloudWatch EMF lines after each batch.

use alertwire_shared::aws::lambda::deliver_batch::{BatchMessage, deliver_batch};
use alertwire_shared::aws::lambda::setup::{self, Adapters, LambdaSettings};
use alertwire_shared::aws::lambda::telemetry::{self, LambdaTelemetry};
use alertwire_shared::aws::sqs::queue::SqsQueue;
use alertwire_shared::service::Service;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let telemetry = LambdaTelemetry::init()?;
    let settings = LambdaSettings::from_env()?;
    let adapters = Adapters::connect(&settings).await;
    let service = setup::deliver_service(&settings, &adapters, telemetry.metrics())?;
    let (service, queue) = (&service, &adapters.queue);
    telemetry::run(
        telemetry.collector(),
        service_fn(move |event: LambdaEvent<SqsEvent>| handle(service, queue, event)),
    )
    .await
}

async fn handle(
    service: &Service,
    queue: &SqsQueue,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let messages = event
        .payload
        .records
        .into_iter()
        .map(batch_message)
        .collect();
    let failed = deliver_batch(service, queue, messages).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}

fn batch_message(record: SqsMessage) -> BatchMessage {
    BatchMessage {
        message_id: record.message_id.unwrap_or_default(),
        receipt_handle: record.receipt_handle.unwrap_or_default(),
        body: record.body.unwrap_or_default(),
        receive_count: record
            .attributes
            .get("ApproximateReceiveCount")
            .and_then(|count| count.parse().ok())
            .unwrap_or(1),
    }
}
