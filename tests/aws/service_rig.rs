//! The service on the AWS path as the api and deliver functions build it: the DynamoDB store on a fresh
//! table and the SQS queue, in moto, for one new tenant; and the SQS event source mapping, played by the
//! test. Shared by the suites that drive the use cases on AWS without the Lambda binaries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use alertwire_shared::aws::dynamodb::{DEFAULT_RECORD_TTL, DynamoStore, create_table};
use alertwire_shared::aws::lambda::deliver_batch::deliver_batch;
use alertwire_shared::aws::load_sdk_config;
use alertwire_shared::delivery::retry_policy::RetryPolicy;
use alertwire_shared::ids::TenantId;
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::sealing::LocalSealer;
use alertwire_shared::service::{Ports, Service};
use alertwire_tests::Receiver;
use alertwire_tests::server::loopback_policy;

use crate::queue_conformance::backends::Sqs;

/// How long the event source mapping is played before a test gives up.
pub(crate) const SETTLE: Duration = Duration::from_secs(60);

pub(crate) struct Rig {
    pub(crate) sqs: Sqs,
    pub(crate) store: DynamoStore,
    pub(crate) service: Arc<Service>,
    pub(crate) tenant: TenantId,
}

/// The DynamoDB store on a fresh table in moto named after `test`, sealing under a key of its own.
pub(crate) async fn fresh_store(test: &str) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    let table = format!("{test}-{}", TenantId::generate().0.replace("tn_", ""));
    create_table(&client, &table)
        .await
        .unwrap_or_else(|e| panic!("cannot create the table {table}: {e}"));
    DynamoStore::new(
        client,
        table,
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    )
}

impl Rig {
    /// A fresh queue and table named after `test`, retries without delay, loopback receivers allowed.
    pub(crate) async fn new(test: &str) -> Rig {
        let sqs = Sqs::with_visibility(test, Duration::from_secs(30)).await;
        let store = fresh_store(test).await;
        let ports = Ports::on_one_store(store.clone(), Arc::new(sqs.queue.clone()));
        let sender = HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(5))
            .expect("an HTTP client");
        let retry = RetryPolicy::parse("0ms").expect("retry delays");
        Rig {
            sqs,
            store,
            service: Arc::new(Service::new(ports, sender, retry)),
            tenant: TenantId::generate(),
        }
    }

    /// Plays the event source mapping once: one receive, and deliver's batch with what it got; the number
    /// of tasks handed over.
    pub(crate) async fn deliver_one_batch(&self) -> usize {
        let records = self.sqs.receive_batch().await;
        if !records.is_empty() {
            let failed = deliver_batch(&self.service, &self.sqs.queue, records.clone()).await;
            self.sqs.delete_finished(&records, &failed).await;
        }
        records.len()
    }

    /// Plays the event source mapping until the queue stays empty.
    pub(crate) async fn deliver_everything(&self) {
        let deadline = Instant::now() + SETTLE;
        let mut idle = 0;
        while idle < 2 {
            assert!(Instant::now() < deadline, "deliveries did not settle");
            idle = if self.deliver_one_batch().await == 0 {
                idle + 1
            } else {
                0
            };
        }
    }

    /// Plays the event source mapping until `receiver` has `count` requests; the size of each batch.
    pub(crate) async fn deliver_until(&self, receiver: &Receiver, count: usize) -> Vec<usize> {
        let deadline = Instant::now() + SETTLE;
        let mut batches = Vec::new();
        while receiver.received().len() < count {
            assert!(
                Instant::now() < deadline,
                "only {:?} arrived",
                receiver.received()
            );
            match self.deliver_one_batch().await {
                0 => {}
                tasks => batches.push(tasks),
            }
        }
        batches
    }
}
