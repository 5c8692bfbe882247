//! The deliver and replay functions' logic (`deliver_batch`, `replay_dlq`) against SQS on moto, with a
//! real `Service` on the embedded store and real receivers on 127.0.0.1. The test stands in for the event
//! source mapping: it receives from the delivery queue, calls `deliver_batch`, and deletes every record
//! not reported as a batch item failure.

use std::slice;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alertwire_shared::alert::AlertContent;
use alertwire_shared::aws::lambda::replay_request::ReplayRequest;
use alertwire_shared::aws::sqs::queue::SqsQueue;
use alertwire_shared::ids::AlertId;
use alertwire_shared::ports::store::{AlertRecord, AlertStore, RecordOutcome};
use chrono::{DateTime, Utc};

use alertwire_shared::aws::lambda::deliver_batch::{BatchMessage, SLOW_BATCH, deliver_batch};
use alertwire_shared::aws::sqs::dead_letter_sweep::{
    DEFAULT_SWEEP_LETTERS, reconcile_dlq, replay_dlq,
};
use alertwire_shared::delivery::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use alertwire_shared::delivery::{Delivery, DeliveryStatus};
use alertwire_shared::embedded::Database;
use alertwire_shared::endpoint::circuit::CircuitPolicy;
use alertwire_shared::ids::{DeliveryId, EndpointId, TenantId};
use alertwire_shared::outbound::sender::HttpSender;
use alertwire_shared::ports::queue::Task;
use alertwire_shared::ports::store::DeliveryStore;
use alertwire_shared::service::{Ports, ReplaySelection, Service};
use alertwire_tests::server::loopback_policy;
use alertwire_tests::{Behaviour, Receiver};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::json;

use super::backends::{Backend, Sqs};

struct Rig {
    sqs: Sqs,
    database: Database,
    service: Service,
    tenant: TenantId,
}

impl Rig {
    /// Fresh queues (30 s visibility timeout) and store; retries after `retry_delays`. The circuit breaker
    /// opens only past the attempt limit, so a failing delivery makes all its attempts (the breaker's own
    /// test gives it a lower threshold).
    async fn new(test: &str, retry_delays: &str) -> Rig {
        let circuit = CircuitPolicy {
            failures: MAX_ATTEMPTS + 1,
            ..CircuitPolicy::default()
        };
        Self::with_circuit(test, retry_delays, circuit).await
    }

    async fn with_circuit(test: &str, retry_delays: &str, circuit: CircuitPolicy) -> Rig {
        Self::with_visibility(test, retry_delays, circuit, Duration::from_secs(30)).await
    }

    async fn with_visibility(
        test: &str,
        retry_delays: &str,
        circuit: CircuitPolicy,
        visibility: Duration,
    ) -> Rig {
        let sqs = Sqs::with_visibility(test, visibility).await;
        let database = Database::in_memory().expect("an in-memory database");
        let ports = Ports::on_one_store(database.clone(), Arc::new(sqs.queue.clone()));
        let sender = HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(5))
            .expect("an HTTP client");
        let retry = RetryPolicy::parse(retry_delays).expect("retry delays");
        Rig {
            sqs,
            database,
            service: Service::new(ports, sender, retry).with_circuit_policy(circuit),
            tenant: TenantId::from("tn_sqs"),
        }
    }

    async fn endpoint(&self, receiver: &Receiver) -> EndpointId {
        self.service
            .create_endpoint(
                &self.tenant,
                &json!({"name": "receiver", "url": receiver.url("/hooks")}),
            )
            .await
            .expect("endpoint created")
            .id
    }

    /// Re-enables an endpoint its 410 disabled, as a user does after fixing the receiver.
    async fn re_enable(&self, id: &EndpointId, receiver: &Receiver) {
        let gone = self
            .service
            .get_endpoint(&self.tenant, id)
            .await
            .expect("endpoint read");
        assert!(
            !gone.enabled && gone.disabled_reason.is_some_and(|r| r.contains("410 Gone")),
            "a 410 disables the endpoint"
        );
        self.service
            .replace_endpoint(
                &self.tenant,
                id,
                &json!({"name": "receiver", "url": receiver.url("/hooks"), "enabled": true}),
            )
            .await
            .expect("endpoint re-enabled");
    }

    /// An alert, queued: its deliveries and their endpoints.
    async fn alert(&self) -> Vec<(DeliveryId, EndpointId)> {
        self.service
            .accept_alert(&self.tenant, &json!({"title": "Disk almost full"}), None)
            .await
            .expect("alert accepted")
            .deliveries
    }

    async fn delivery(&self, id: &DeliveryId) -> Delivery {
        self.database
            .get_delivery(&self.tenant, id)
            .await
            .expect("store")
            .expect("the delivery exists")
    }

    /// One poll of the event source mapping: the records received, and those reported as failures (the
    /// others are deleted).
    async fn poll(&self) -> (Vec<BatchMessage>, Vec<String>) {
        let records = self.sqs.receive_batch().await;
        if records.is_empty() {
            return (records, Vec::new());
        }
        let failed = deliver_batch(&self.service, &self.sqs.queue, records.clone()).await;
        self.sqs.delete_finished(&records, &failed).await;
        (records, failed)
    }

    /// Polls until records come (panics after 10 s).
    async fn poll_some(&self) -> (Vec<BatchMessage>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (records, failed) = self.poll().await;
            if !records.is_empty() {
                return (records, failed);
            }
            assert!(Instant::now() < deadline, "no record within 10 s");
        }
    }

    /// A replay of the dead letters `selection` takes: how many deliveries it replayed.
    async fn replay(&self, selection: &ReplaySelection) -> usize {
        replay_dlq(
            &self.service,
            &self.sqs.queue,
            selection,
            DEFAULT_SWEEP_LETTERS,
        )
        .await
        .expect("replay")
        .resent
    }

    /// A reconcile of the dead-letter queue: how many deliveries it marked dead.
    async fn reconcile(&self) -> usize {
        reconcile_dlq(&self.service, &self.sqs.queue, DEFAULT_SWEEP_LETTERS)
            .await
            .expect("reconcile")
            .marked_dead
    }

    async fn dlq_depth(&self) -> usize {
        self.sqs.depth(self.sqs.queue.dlq_url()).await
    }

    async fn queue_depth(&self) -> usize {
        self.sqs.depth(self.sqs.queue.queue_url()).await
    }
}

fn task_of(record: &BatchMessage) -> Option<Task> {
    serde_json::from_str(&record.body).ok()
}

#[tokio::test]
async fn each_task_is_sent_in_its_endpoints_message_group() {
    let rig = Rig::new("message_groups", "0ms").await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let first = rig.endpoint(&receiver).await;
    let second = rig.endpoint(&receiver).await;
    let mut expected: Vec<(DeliveryId, String)> = rig
        .alert()
        .await
        .into_iter()
        .map(|(delivery, endpoint)| (delivery, endpoint.0))
        .collect();
    expected.sort();
    let mut grouped = Vec::new();
    while grouped.len() < expected.len() {
        for message in rig.sqs.receive_records().await {
            let group = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned()
                .expect("a message group");
            let task: Task =
                serde_json::from_str(message.body().unwrap_or_default()).expect("a task");
            grouped.push((task.delivery_id().clone(), group));
        }
    }
    grouped.sort();
    assert_eq!(grouped, expected);
    assert_ne!(first, second);
}

#[tokio::test]
async fn a_retry_longer_than_sqs_allows_waits_as_long_as_sqs_allows() {
    // A 12 h retry: SQS (and moto) refuse a visibility that ends more than 12 h after the receive (moto
    // counts from the send). Refused, the message would come back after the queue's 2 s timeout.
    let rig = Rig::with_visibility(
        "visibility_cap",
        "12h",
        CircuitPolicy::default(),
        Duration::from_secs(2),
    )
    .await;
    let receiver = Receiver::start(Behaviour::status(500)).await;
    rig.endpoint(&receiver).await;
    let deliveries = rig.alert().await;
    let (records, failed) = rig.poll_some().await;
    assert_eq!(
        failed,
        vec![records[0].message_id.clone()],
        "kept for its retry"
    );
    assert_eq!(rig.delivery(&deliveries[0].0).await.attempts.len(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        rig.sqs.receive_records().await.is_empty(),
        "the retry's visibility change was refused: the message came back after the queue's timeout"
    );
    assert_eq!(
        rig.queue_depth().await,
        1,
        "the message waits for its retry"
    );
}

#[tokio::test]
async fn a_slow_endpoint_does_not_hold_up_the_others_messages_of_its_batch() {
    let rig = Rig::new("slow_in_batch", "0ms").await;
    let quick = Receiver::start(Behaviour::status(200)).await;
    let hanging = Receiver::start(Behaviour::Slow(Duration::from_secs(30))).await;
    rig.endpoint(&quick).await;
    rig.endpoint(&hanging).await;
    let deliveries = rig.alert().await;
    let records = loop {
        let records: Vec<BatchMessage> = rig
            .sqs
            .receive_records()
            .await
            .into_iter()
            .map(|m| BatchMessage {
                receive_count: 1,
                message_id: m.message_id.unwrap_or_default(),
                receipt_handle: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect();
        if records.len() == 2 {
            break records;
        }
        assert!(records.is_empty(), "both messages come in one batch");
    };
    let started = Instant::now();
    let (failed, depth_while_waiting) = tokio::join!(
        deliver_batch(&rig.service, &rig.sqs.queue, records),
        async {
            tokio::time::sleep(SLOW_BATCH + Duration::from_secs(1)).await;
            rig.queue_depth().await
        }
    );
    assert_eq!(
        depth_while_waiting, 1,
        "the quick endpoint's message was deleted while the batch still waited on the hanging one"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "the batch ended with the timeout"
    );
    assert_eq!(
        failed.len(),
        1,
        "the timed-out attempt is kept for its retry"
    );
    let statuses = [
        rig.delivery(&deliveries[0].0).await.status,
        rig.delivery(&deliveries[1].0).await.status,
    ];
    assert!(
        statuses.contains(&DeliveryStatus::Delivered)
            && statuses.contains(&DeliveryStatus::Pending)
    );
}

#[tokio::test]
async fn an_open_circuit_holds_messages_without_growing_their_receive_count() {
    let cooldown = Duration::from_secs(2);
    let circuit = CircuitPolicy {
        failures: 2,
        cooldown,
        max_cooldown: cooldown,
        ..CircuitPolicy::default()
    };
    let rig = Rig::with_circuit("circuit_holds", "0ms", circuit).await;
    let receiver = Receiver::start(Behaviour::status(503)).await;
    let endpoint = rig.endpoint(&receiver).await;
    let (delivery_id, _) = rig.alert().await.remove(0);
    for attempt in 1..=2 {
        let (records, failed) = rig.poll_some().await;
        assert_eq!((records[0].receive_count, failed.len()), (attempt, 1));
    }
    let open = rig
        .service
        .get_endpoint(&rig.tenant, &endpoint)
        .await
        .expect("endpoint read");
    assert!(
        open.health.circuit.is_some(),
        "two outages open the circuit"
    );

    // The third receive comes before the cool-down ends: held, that is re-sent with a delay and the
    // original gone, not reported for a retry.
    let (records, failed) = rig.poll_some().await;
    assert_eq!((records[0].receive_count, failed.len()), (3, 0));
    let (records, _) = rig.poll().await;
    assert!(records.is_empty(), "the held message waits out its delay");
    assert_eq!(rig.delivery(&delivery_id).await.attempts.len(), 2);

    // After the cool-down the re-sent message is a new one (first receive) carrying the two attempts
    // made: it is the probe, and its success closes the circuit.
    receiver.set(Behaviour::status(200));
    let (records, failed) = rig.poll_some().await;
    assert_eq!((records[0].receive_count, failed.len()), (1, 0));
    match task_of(&records[0]) {
        Some(Task::DeliverV1 {
            attempts_before,
            endpoint: Some(named),
            ..
        }) => assert_eq!((attempts_before, &named), (2, &endpoint)),
        other => panic!("not a held task: {other:?}"),
    }
    let delivered = rig.delivery(&delivery_id).await;
    assert_eq!(
        (delivered.status, delivered.attempts.len()),
        (DeliveryStatus::Delivered, 3)
    );
    assert_eq!(delivered.attempts[2].number, 3);
    let closed = rig
        .service
        .get_endpoint(&rig.tenant, &endpoint)
        .await
        .expect("endpoint read");
    assert_eq!(closed.health.circuit, None);
    assert_eq!(receiver.received().len(), 3, "nothing sent while held");
    assert_eq!(rig.sqs.dead_letters().await, vec![]);
}

#[tokio::test]
async fn a_failing_delivery_is_redriven_after_ten_attempts_and_replayed() {
    let rig = Rig::new("redriven_and_replayed", "0ms").await;
    let receiver = Receiver::start(Behaviour::status(500)).await;
    rig.endpoint(&receiver).await;
    let (delivery_id, _) = rig.alert().await.remove(0);

    for attempt in 1..=MAX_ATTEMPTS {
        let (records, failed) = rig.poll_some().await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].receive_count, attempt);
        assert_eq!(
            failed,
            vec![records[0].message_id.clone()],
            "attempt {attempt} is reported for a retry"
        );
    }
    let dead = rig.delivery(&delivery_id).await;
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert_eq!(dead.attempts.len(), MAX_ATTEMPTS as usize);
    assert_eq!(receiver.received().len(), MAX_ATTEMPTS as usize);

    let (records, _) = rig.poll().await;
    assert!(records.is_empty(), "the 11th receive finds the queue empty");
    assert_eq!(rig.sqs.dead_letters().await, vec![delivery_id.clone()]);
    assert_eq!(rig.queue_depth().await, 0);

    receiver.set(Behaviour::status(200));
    let replayed = rig.replay(&ReplaySelection::All).await;
    assert_eq!(replayed, 1);
    assert_eq!(rig.dlq_depth().await, 0);
    let resent = rig.delivery(&delivery_id).await;
    assert_eq!((resent.status, resent.run), (DeliveryStatus::Pending, 1));

    let (records, failed) = rig.poll_some().await;
    assert_eq!(records[0].receive_count, 1, "the replay is a new message");
    assert!(failed.is_empty());
    assert_eq!(
        rig.delivery(&delivery_id).await.status,
        DeliveryStatus::Delivered
    );
    let requests = receiver.received();
    assert_eq!(requests.len(), MAX_ATTEMPTS as usize + 1);
    assert!(
        requests
            .iter()
            .all(|r| r.header("webhook-id") == Some(delivery_id.as_str())),
        "every attempt and the replay carry the same webhook-id"
    );
    assert_eq!(rig.queue_depth().await, 0);

    // A stale dead letter of the delivered delivery is removed without a resend; an unreadable one stays.
    let stale = Task::DeliverV1 {
        tenant: rig.tenant.clone(),
        delivery_id: delivery_id.clone(),
        run: 0,
        endpoint: None,
        attempts_before: 0,
    };
    for body in [
        serde_json::to_string(&stale).expect("json"),
        "garbage".into(),
    ] {
        rig.sqs
            .client
            .send_message()
            .queue_url(rig.sqs.queue.dlq_url())
            .message_body(body)
            .send()
            .await
            .expect("a dead letter put by hand");
    }
    let replayed = rig.replay(&ReplaySelection::All).await;
    assert_eq!(replayed, 0);
    assert_eq!(rig.sqs.dead_letters().await, vec![DeliveryId::from("?")]);
    assert_eq!(rig.delivery(&delivery_id).await.run, 1);
    assert_eq!(rig.queue_depth().await, 0);
}

#[tokio::test]
async fn gone_endpoints_dead_letter_at_once_and_replay_by_endpoint_and_by_id() {
    let rig = Rig::new("gone_and_replayed_by_filter", "0ms").await;
    let receiver_a = Receiver::start(Behaviour::status(410)).await;
    let receiver_b = Receiver::start(Behaviour::status(410)).await;
    let endpoint_a = rig.endpoint(&receiver_a).await;
    let endpoint_b = rig.endpoint(&receiver_b).await;
    let deliveries = rig.alert().await;
    let id_of = |endpoint: &EndpointId| {
        deliveries
            .iter()
            .find(|(_, e)| e == endpoint)
            .map(|(d, _)| d.clone())
            .expect("a delivery per endpoint")
    };
    let delivery_a = id_of(&endpoint_a);
    let delivery_b = deliveries
        .iter()
        .map(|(d, _)| d.clone())
        .find(|d| *d != delivery_a)
        .expect("two deliveries");

    let mut seen = 0;
    while seen < 2 {
        let (records, failed) = rig.poll_some().await;
        assert!(
            failed.is_empty(),
            "a 410 is dead-lettered by hand, not reported"
        );
        seen += records.len();
    }
    for id in [&delivery_a, &delivery_b] {
        let dead = rig.delivery(id).await;
        assert_eq!(dead.status, DeliveryStatus::Dead);
        assert_eq!(dead.attempts.len(), 1);
    }
    let mut dead_letters = rig.sqs.dead_letters().await;
    dead_letters.sort();
    let mut expected = vec![delivery_a.clone(), delivery_b.clone()];
    expected.sort();
    assert_eq!(dead_letters, expected);
    assert_eq!(rig.queue_depth().await, 0);

    let none = ReplaySelection::Ids(vec![DeliveryId::generate()]);
    assert_eq!(rig.replay(&none).await, 0);
    assert_eq!(rig.dlq_depth().await, 2);

    receiver_a.set(Behaviour::status(200));
    rig.re_enable(&endpoint_a, &receiver_a).await;
    let by_endpoint = ReplaySelection::Endpoint(endpoint_a.clone());
    assert_eq!(rig.replay(&by_endpoint).await, 1);
    assert_eq!(rig.sqs.dead_letters().await, vec![delivery_b.clone()]);
    let (_, failed) = rig.poll_some().await;
    assert!(failed.is_empty());
    assert_eq!(
        rig.delivery(&delivery_a).await.status,
        DeliveryStatus::Delivered
    );

    receiver_b.set(Behaviour::status(200));
    rig.re_enable(&endpoint_b, &receiver_b).await;
    let by_id = ReplaySelection::Ids(vec![delivery_b.clone()]);
    assert_eq!(rig.replay(&by_id).await, 1);
    assert_eq!(rig.dlq_depth().await, 0);
    let (_, failed) = rig.poll_some().await;
    assert!(failed.is_empty());
    assert_eq!(
        rig.delivery(&delivery_b).await.status,
        DeliveryStatus::Delivered
    );
    assert_eq!(receiver_a.received().len(), 2);
    assert_eq!(receiver_b.received().len(), 2);
}

#[tokio::test]
async fn a_retry_waits_its_delay_and_an_unreadable_record_is_dropped() {
    let rig = Rig::new("retry_delay_and_unreadable", "2s").await;
    let receiver = Receiver::scripted(vec![Behaviour::status(500)], Behaviour::status(200)).await;
    rig.endpoint(&receiver).await;
    rig.sqs.put_raw("not a task").await;
    let (delivery_id, _) = rig.alert().await.remove(0);

    let mut first_attempt_at = None;
    let mut seen = 0;
    while seen < 2 {
        let (records, failed) = rig.poll_some().await;
        for record in &records {
            let listed = failed.contains(&record.message_id);
            match task_of(record) {
                Some(_) => {
                    assert!(listed, "the failed attempt is reported for its retry");
                    first_attempt_at = Some(Instant::now());
                }
                None => assert!(!listed, "an unreadable record is dropped"),
            }
        }
        seen += records.len();
    }
    let first_attempt_at = first_attempt_at.expect("the alert's record came");
    assert_eq!(
        rig.delivery(&delivery_id).await.status,
        DeliveryStatus::Pending
    );

    let (records, failed) = rig.poll_some().await;
    assert!(
        first_attempt_at.elapsed() >= Duration::from_millis(1900),
        "the retry came after {:?}, before its 2 s delay",
        first_attempt_at.elapsed()
    );
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].receive_count, 2);
    assert!(failed.is_empty());
    assert_eq!(
        rig.delivery(&delivery_id).await.status,
        DeliveryStatus::Delivered
    );
    assert_eq!(rig.queue_depth().await, 0);
}

#[tokio::test]
async fn a_record_without_an_id_is_never_reported() {
    let rig = Rig::new("record_without_an_id", "0ms").await;
    let receiver = Receiver::start(Behaviour::status(500)).await;
    rig.endpoint(&receiver).await;
    let (delivery_id, _) = rig.alert().await.remove(0);
    let body = serde_json::to_string(&Task::DeliverV1 {
        tenant: rig.tenant.clone(),
        delivery_id: delivery_id.clone(),
        run: 0,
        endpoint: None,
        attempts_before: 0,
    })
    .expect("json");
    let record = |message_id: &str, receive_count| BatchMessage {
        message_id: message_id.into(),
        receipt_handle: "not-a-receipt-handle".into(),
        body: body.clone(),
        receive_count,
    };

    let failed = deliver_batch(&rig.service, &rig.sqs.queue, vec![record("", 1)]).await;
    assert!(failed.is_empty(), "an empty id would fail the whole batch");
    let failed = deliver_batch(&rig.service, &rig.sqs.queue, vec![record("m-2", 2)]).await;
    assert_eq!(failed, vec!["m-2".to_string()]);
    let failed = deliver_batch(&rig.service, &rig.sqs.queue, Vec::new()).await;
    assert!(failed.is_empty());
    let pending = rig.delivery(&delivery_id).await;
    assert_eq!(pending.status, DeliveryStatus::Pending);
    assert_eq!(pending.attempts.len(), 2);
}

#[tokio::test]
async fn a_tenth_receive_cut_short_is_reconciled_as_dead_and_replayable() {
    let rig = Rig::new("tenth_receive_cut_short", "0ms").await;
    let receiver = Receiver::start(Behaviour::status(500)).await;
    rig.endpoint(&receiver).await;
    let (delivery_id, _) = rig.alert().await.remove(0);
    for _ in 1..MAX_ATTEMPTS {
        rig.poll_some().await;
    }
    // The tenth receive: the invocation dies before attempting (no batch response, nothing recorded).
    let cut_short = loop {
        let messages = rig.sqs.receive_records().await;
        if let Some(message) = messages.into_iter().next() {
            break message;
        }
    };
    rig.sqs
        .client
        .change_message_visibility()
        .queue_url(rig.sqs.queue.queue_url())
        .receipt_handle(cut_short.receipt_handle.unwrap_or_default())
        .visibility_timeout(0)
        .send()
        .await
        .expect("visible again");
    let (records, _) = rig.poll().await;
    assert!(records.is_empty(), "the 11th receive redrives it instead");
    assert_eq!(rig.sqs.dead_letters().await, vec![delivery_id.clone()]);
    let stuck = rig.delivery(&delivery_id).await;
    assert_eq!(
        (stuck.status, stuck.attempts.len()),
        (DeliveryStatus::Pending, MAX_ATTEMPTS as usize - 1),
        "without the reconcile the store never learns of it"
    );

    let marked = rig.reconcile().await;
    assert_eq!(marked, 1);
    let dead = rig.delivery(&delivery_id).await;
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert!(
        dead.status_reason
            .as_deref()
            .is_some_and(|r| r.contains("dead-lettered it after 10 receives")),
        "{:?}",
        dead.status_reason
    );
    assert_eq!(rig.dlq_depth().await, 1, "the dead letter stays for replay");
    assert_eq!(rig.reconcile().await, 0, "a second sweep finds nothing new");

    receiver.set(Behaviour::status(200));
    let replayed = rig.replay(&ReplaySelection::All).await;
    assert_eq!(replayed, 1);
    rig.poll_some().await;
    assert_eq!(
        rig.delivery(&delivery_id).await.status,
        DeliveryStatus::Delivered
    );
}

#[tokio::test]
async fn a_410_falls_back_through_sqs_to_the_fallback_endpoint() {
    let rig = Rig::new("fallback_through_sqs", "0ms").await;
    let gone = Receiver::start(Behaviour::status(410)).await;
    let backup = Receiver::start(Behaviour::status(200)).await;
    let backup_id = rig.endpoint(&backup).await;
    let primary_id = rig
        .service
        .create_endpoint(
            &rig.tenant,
            &json!({"name": "primary", "url": gone.url("/hooks"),
                    "fallback_endpoint_id": backup_id.as_str()}),
        )
        .await
        .expect("endpoint created")
        .id;
    let deliveries = rig.alert().await;
    let (dead_id, _) = deliveries
        .iter()
        .find(|(_, e)| *e == primary_id)
        .expect("a delivery to the primary")
        .clone();

    // The alert's two deliveries, then the fallback's task, which the service sent to SQS itself (this
    // store does not hold the queue).
    let mut seen = 0;
    while seen < 3 {
        let (records, failed) = rig.poll_some().await;
        assert!(failed.is_empty());
        seen += records.len();
    }
    let dead = rig.delivery(&dead_id).await;
    assert_eq!(dead.status, DeliveryStatus::Dead);
    let fallback_id = dead.fallback_delivery_id.expect("a fallback delivery");
    let fallback = rig.delivery(&fallback_id).await;
    assert_eq!(
        (fallback.status, fallback.fallback_of, fallback.endpoint_id),
        (DeliveryStatus::Delivered, Some(dead_id), backup_id)
    );
    assert_eq!(
        backup.received().len(),
        2,
        "its own delivery and the fallback"
    );
    assert_eq!(rig.queue_depth().await, 0);
}

impl Rig {
    /// Puts `task` into the dead-letter queue by hand.
    async fn put_dead_letter(&self, task: &Task) {
        self.sqs
            .client
            .send_message()
            .queue_url(self.sqs.queue.dlq_url())
            .message_body(serde_json::to_string(task).expect("json"))
            .send()
            .await
            .expect("a dead letter put by hand");
    }

    /// Stores a pending delivery of a new alert received at `received_at` to `endpoint`, without its
    /// task: as if the api stopped between storing the alert and sending its tasks.
    async fn record_without_task(
        &self,
        endpoint: &EndpointId,
        received_at: DateTime<Utc>,
    ) -> DeliveryId {
        let alert = AlertContent::from_json(&json!({"title": "Disk almost full"}))
            .expect("an alert")
            .into_alert(AlertId::generate(), self.tenant.clone(), received_at);
        let delivery = Delivery::pending(DeliveryId::generate(), &alert, endpoint.clone());
        let outcome = self
            .database
            .record_alert(AlertRecord {
                alert: &alert,
                deliveries: slice::from_ref(&delivery),
                idempotency: None,
                tasks: &[],
            })
            .await
            .expect("alert stored");
        assert_eq!(outcome, RecordOutcome::Recorded { enqueued: false });
        delivery.id
    }
}

/// Issue 15, fault 2: the new run's task is sent before the old dead letters are swept, and a sweep that
/// fails does not fail the resend.
#[tokio::test]
async fn a_resend_whose_dead_letter_sweep_fails_still_queues_its_new_run() {
    let rig = Rig::new("resend_sweep_fails", "0ms").await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    rig.endpoint(&receiver).await;
    let (delivery_id, _) = rig.alert().await.remove(0);
    rig.poll_some().await;
    assert_eq!(
        rig.delivery(&delivery_id).await.status,
        DeliveryStatus::Delivered
    );

    // The same store and delivery queue; a dead-letter queue that does not exist fails every sweep.
    let missing_dlq = format!("{}-missing", rig.sqs.queue.dlq_url());
    let queue = SqsQueue::new(
        rig.sqs.client.clone(),
        rig.sqs.queue.queue_url(),
        missing_dlq,
    );
    let sender = HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(5))
        .expect("an HTTP client");
    let service = Service::new(
        Ports::on_one_store(rig.database.clone(), Arc::new(queue)),
        sender,
        RetryPolicy::parse("0ms").expect("retry delays"),
    );
    let resent = service
        .resend(&rig.tenant, &delivery_id)
        .await
        .expect("the resend succeeds though the old dead letters could not be swept");
    assert_eq!((resent.status, resent.run), (DeliveryStatus::Pending, 1));

    let (records, failed) = rig.poll_some().await;
    assert!(failed.is_empty());
    assert!(matches!(
        records.first().and_then(task_of),
        Some(Task::DeliverV1 { run: 1, .. })
    ));
    assert_eq!(
        rig.delivery(&delivery_id).await.status,
        DeliveryStatus::Delivered
    );
    assert_eq!(receiver.received().len(), 2);
}

/// Issue 15, fault 4: a letter of run 0 while the delivery is pending on run 1 (it was resent) is
/// removed; the replay neither starts run 2 nor sends a second task.
#[tokio::test]
async fn a_dead_letter_of_an_older_run_is_removed_without_restarting_the_newer_run() {
    let rig = Rig::new("stale_run_letter", "0ms").await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let endpoint = rig.endpoint(&receiver).await;
    let (delivery_id, _) = rig.alert().await.remove(0);
    let resent = rig
        .service
        .resend(&rig.tenant, &delivery_id)
        .await
        .expect("resend");
    assert_eq!((resent.status, resent.run), (DeliveryStatus::Pending, 1));
    let tasks_before = rig.queue_depth().await;
    rig.put_dead_letter(&Task::deliver(
        rig.tenant.clone(),
        delivery_id.clone(),
        0,
        endpoint,
    ))
    .await;

    assert_eq!(rig.replay(&ReplaySelection::All).await, 0);
    assert_eq!(rig.dlq_depth().await, 0, "the stale letter is removed");
    let stored = rig.delivery(&delivery_id).await;
    assert_eq!((stored.status, stored.run), (DeliveryStatus::Pending, 1));
    assert_eq!(rig.queue_depth().await, tasks_before, "no task was sent");
}

/// Issue 15, fault 5: a sweep judges at most its limit of letters and says it stopped early; the next
/// sweep takes the rest.
#[tokio::test]
async fn a_sweep_looks_at_no_more_letters_than_its_limit_and_says_it_stopped_early() {
    let rig = Rig::new("sweep_limit", "0ms").await;
    for _ in 0..15 {
        rig.put_dead_letter(&Task::deliver(
            rig.tenant.clone(),
            DeliveryId::generate(),
            0,
            EndpointId::from("ep_gone"),
        ))
        .await;
    }
    let sweep = || replay_dlq(&rig.service, &rig.sqs.queue, &ReplaySelection::All, 10);
    let first = sweep().await.expect("replay");
    assert_eq!(
        (first.judged, first.removed, first.stopped_early),
        (10, 10, true),
        "{first:?}"
    );
    assert_eq!(rig.dlq_depth().await, 5);
    let second = sweep().await.expect("replay");
    assert_eq!(
        (second.judged, second.removed, second.stopped_early),
        (5, 5, false),
        "{second:?}"
    );
    assert_eq!(rig.dlq_depth().await, 0);
}

/// Issue 15, fault 13: the scheduled reconcile gives a pending delivery that lost its task (stored, never
/// enqueued) a new run and its task; a pending delivery younger than the threshold is left alone.
#[tokio::test]
async fn the_reconcile_requeues_a_pending_delivery_that_lost_its_task_and_leaves_a_fresh_one() {
    let rig = Rig::new("stranded_pending", "0ms").await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let endpoint = rig.endpoint(&receiver).await;
    let long_ago = Utc::now() - chrono::Duration::days(3);
    let stranded = rig.record_without_task(&endpoint, long_ago).await;
    let fresh = rig.record_without_task(&endpoint, Utc::now()).await;
    assert_eq!(rig.queue_depth().await, 0);

    let answer = ReplayRequest::Reconcile(true)
        .carry_out(&rig.service, &rig.sqs.queue)
        .await
        .expect("reconcile");
    assert_eq!(
        answer,
        json!({"marked_dead": 0, "requeued": 1, "stopped_early": false})
    );
    let (records, failed) = rig.poll_some().await;
    assert_eq!(records.len(), 1);
    assert!(failed.is_empty());
    let delivered = rig.delivery(&stranded).await;
    assert_eq!(
        (delivered.status, delivered.run),
        (DeliveryStatus::Delivered, 1)
    );
    let untouched = rig.delivery(&fresh).await;
    assert_eq!(
        (untouched.status, untouched.run),
        (DeliveryStatus::Pending, 0)
    );
    assert_eq!(rig.queue_depth().await, 0);

    let again = ReplayRequest::Reconcile(true)
        .carry_out(&rig.service, &rig.sqs.queue)
        .await
        .expect("reconcile");
    assert_eq!(again["requeued"], 0, "a second run finds nothing stranded");
}
