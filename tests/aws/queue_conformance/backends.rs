//! The two queue backends the conformance suite runs on, each with the side door a test needs beyond the
//! port: the embedded queue on an in-memory SQLite database, and SQS on the moto emulator with fresh
//! queues per test (with the `aws` feature only). Both are looked into only here, never faked.

#[cfg(feature = "aws")]
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[cfg(feature = "aws")]
use alertwire_shared::aws::lambda::deliver_batch::BatchMessage;
#[cfg(feature = "aws")]
use alertwire_shared::aws::{load_sdk_config, sqs::queue::SqsQueue};
use alertwire_shared::delivery::retry_policy::MAX_ATTEMPTS;
use alertwire_shared::embedded::{Database, EmbeddedQueue, QueueSettings};
use alertwire_shared::ids::DeliveryId;
use alertwire_shared::ports::queue::{Task, TaskQueue};
#[cfg(feature = "aws")]
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

/// What a conformance test needs from a backend besides the port itself.
pub trait Backend {
    fn queue(&self) -> &dyn TaskQueue;
    /// The lease a receive takes.
    fn visibility_timeout(&self) -> Duration;
    /// A delay `retry_later` honours exactly enough to observe (SQS counts whole seconds).
    fn short_delay(&self) -> Duration;
    /// The delivery ids of the tasks in the dead-letter queue (one per message), leaving it as it was.
    async fn dead_letters(&self) -> Vec<DeliveryId>;
    /// Puts `body` on the delivery queue as it is, not through the port.
    async fn put_raw(&self, body: &str);
}

pub struct Embedded {
    database: Database,
    queue: EmbeddedQueue,
}

impl Embedded {
    pub const VISIBILITY: Duration = Duration::from_secs(1);

    pub async fn new() -> Embedded {
        let database = Database::in_memory().expect("an in-memory database");
        let queue = EmbeddedQueue::new(
            database.clone(),
            QueueSettings {
                visibility_timeout: Self::VISIBILITY,
                max_receives: MAX_ATTEMPTS,
            },
        );
        Embedded { database, queue }
    }
}

impl Backend for Embedded {
    fn queue(&self) -> &dyn TaskQueue {
        &self.queue
    }

    fn visibility_timeout(&self) -> Duration {
        Self::VISIBILITY
    }

    fn short_delay(&self) -> Duration {
        Duration::from_millis(500)
    }

    async fn dead_letters(&self) -> Vec<DeliveryId> {
        let bodies: Vec<String> = self
            .database
            .run(|c| {
                let mut select =
                    c.prepare("SELECT body FROM queue WHERE queue = 'dead' ORDER BY seq")?;
                let bodies = select
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(bodies)
            })
            .await
            .expect("the dead-letter rows");
        delivery_ids(&bodies)
    }

    async fn put_raw(&self, body: &str) {
        let body = body.to_string();
        self.database
            .run(move |c| {
                let dedup = format!("raw-{}", DeliveryId::generate());
                c.execute(
                    "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at) VALUES ('main', ?1, '', ?2, 0)",
                    [dedup, body],
                )?;
                Ok(())
            })
            .await
            .expect("a raw row");
    }
}

#[cfg(feature = "aws")]
pub struct Sqs {
    pub client: aws_sdk_sqs::Client,
    pub queue: SqsQueue,
}

#[cfg(feature = "aws")]
static QUEUE_SERIAL: AtomicU32 = AtomicU32::new(0);

#[cfg(feature = "aws")]
impl Sqs {
    pub const VISIBILITY: Duration = Duration::from_secs(3);

    /// Fresh queues named after the test, on the emulator `AWS_ENDPOINT_URL` points at.
    pub async fn new(test: &str) -> Sqs {
        Self::with_visibility(test, Self::VISIBILITY).await
    }

    pub async fn with_visibility(test: &str, visibility: Duration) -> Sqs {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
        assert!(
            ["http://127.0.0.1:", "http://localhost:"]
                .iter()
                .any(|local| endpoint.starts_with(local)),
            "the SQS tests need the AWS emulator: start `moto_server -H 127.0.0.1 -p PORT` and set \
             AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
             AWS_REGION=us-east-1 (tests/run.sh does); got AWS_ENDPOINT_URL={endpoint:?}"
        );
        let sdk = load_sdk_config().await;
        let client = aws_sdk_sqs::Client::new(&sdk);
        let serial = QUEUE_SERIAL.fetch_add(1, Ordering::Relaxed);
        // Queue names are at most 80 characters of letters, digits, `-` and `_`, `-dlq` included.
        let test: String = test.chars().take(50).collect();
        let name: String = format!("{test}-{}-{serial}", std::process::id())
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let (queue_url, dlq_url) = SqsQueue::create_queues(&client, &name, visibility)
            .await
            .expect("fresh queues on the emulator");
        let queue = SqsQueue::new(client.clone(), queue_url, dlq_url);
        Sqs { client, queue }
    }

    /// The bodies of every message in `url`, each received once, then made visible again.
    pub async fn peek(&self, url: &str) -> Vec<String> {
        let mut bodies = Vec::new();
        let mut receipts = Vec::new();
        loop {
            let answer = self
                .client
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .visibility_timeout(30)
                .send()
                .await
                .expect("a receive from the emulator");
            let messages = answer.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                bodies.push(message.body.unwrap_or_default());
                receipts.extend(message.receipt_handle);
            }
        }
        for receipt in receipts {
            self.client
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .expect("a peeked message made visible again");
        }
        bodies
    }

    /// How many messages `url` holds, visible or not (the emulator counts exactly).
    pub async fn depth(&self, url: &str) -> usize {
        let attributes = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .filter_map(|name| attributes.get(name)?.parse::<usize>().ok())
        .sum()
    }

    /// One receive from the delivery queue the way the event source mapping does it: up to ten records
    /// with their receive counts.
    pub async fn receive_records(&self) -> Vec<aws_sdk_sqs::types::Message> {
        self.client
            .receive_message()
            .queue_url(self.queue.queue_url())
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .expect("a receive from the emulator")
            .messages
            .unwrap_or_default()
    }

    /// One receive as the deliver function gets it from the event source mapping: up to ten records with
    /// their receive counts.
    pub async fn receive_batch(&self) -> Vec<BatchMessage> {
        self.receive_records()
            .await
            .into_iter()
            .map(|m| BatchMessage {
                receive_count: m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .expect("the receive count was asked for"),
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect()
    }

    /// What the mapping does with a batch response: deletes every record not reported as failed.
    pub async fn delete_finished(&self, records: &[BatchMessage], failed: &[String]) {
        for record in records.iter().filter(|r| !failed.contains(&r.message_id)) {
            self.client
                .delete_message()
                .queue_url(self.queue.queue_url())
                .receipt_handle(&record.receipt_handle)
                .send()
                .await
                .expect("the mapping deletes a finished record");
        }
    }
}

#[cfg(feature = "aws")]
impl Backend for Sqs {
    fn queue(&self) -> &dyn TaskQueue {
        &self.queue
    }

    fn visibility_timeout(&self) -> Duration {
        Self::VISIBILITY
    }

    fn short_delay(&self) -> Duration {
        Duration::from_secs(3)
    }

    async fn dead_letters(&self) -> Vec<DeliveryId> {
        delivery_ids(&self.peek(self.queue.dlq_url()).await)
    }

    async fn put_raw(&self, body: &str) {
        self.client
            .send_message()
            .queue_url(self.queue.queue_url())
            .message_body(body)
            .send()
            .await
            .expect("a raw message sent");
    }
}

/// The delivery id of each body that is a task; other bodies as `?`.
fn delivery_ids(bodies: &[String]) -> Vec<DeliveryId> {
    bodies
        .iter()
        .map(|body| match serde_json::from_str::<Task>(body) {
            Ok(task) => task.delivery_id().clone(),
            Err(_) => DeliveryId::from("?"),
        })
        .collect()
}
