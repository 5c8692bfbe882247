//! The dead-letter judgement: the replay's and the reconcile's rules as tables, and both reviews on the
//! embedded store with the metrics they report.

use chrono::Utc;

use super::*;
use crate::alert::MessageType;
use crate::ids::AlertId;

fn stored(status: DeliveryStatus, run: u32, endpoint: &str) -> Delivery {
    Delivery {
        id: DeliveryId::from("msg_1"),
        tenant: TenantId::from("tn_1"),
        alert_id: AlertId::from("al_1"),
        endpoint_id: EndpointId::from(endpoint),
        message_type: MessageType::Error,
        status,
        status_reason: None,
        run,
        attempts: Vec::new(),
        next_attempt_at: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        fallback_of: None,
        fallback_delivery_id: None,
        digest_delivery_id: None,
    }
}

#[test]
fn a_replay_resends_what_is_not_finished_removes_what_is_and_keeps_what_it_does_not_take() {
    use DeliveryStatus::{Dead, Delivered, Filtered, Pending};
    use ReplayStep::{Keep, Remove, Resend};
    let all = ReplaySelection::All;
    let ids = ReplaySelection::Ids(vec![DeliveryId::from("msg_1")]);
    let ep_a = ReplaySelection::Endpoint(EndpointId::from("ep_a"));
    let ep_b = ReplaySelection::Endpoint(EndpointId::from("ep_b"));
    let rows: [(&ReplaySelection, Option<DeliveryStatus>, ReplayStep); 16] = [
        (&all, Some(Dead), Resend),
        (&all, Some(Pending), Resend),
        (&all, Some(Delivered), Remove),
        (&all, Some(Filtered), Remove),
        (&all, None, Remove),
        (&ids, Some(Dead), Resend),
        (&ids, Some(Delivered), Remove),
        (&ids, None, Remove),
        (&ep_a, Some(Dead), Resend),
        (&ep_a, Some(Pending), Resend),
        (&ep_a, Some(Delivered), Remove),
        (&ep_a, Some(Filtered), Remove),
        // Whose letter it is cannot be told once the delivery is gone: an endpoint's replay keeps it.
        (&ep_a, None, Keep),
        (&ep_b, Some(Dead), Keep),
        (&ep_b, Some(Delivered), Keep),
        (&ep_b, None, Keep),
    ];
    for (selection, status, expected) in rows {
        let delivery = status.map(|s| stored(s, 0, "ep_a"));
        assert_eq!(
            replay_step(selection, 0, delivery.as_ref()),
            expected,
            "{selection:?} of a delivery {status:?}"
        );
    }
}

#[test]
fn a_replay_removes_a_letter_of_an_older_run_than_the_stored_one() {
    use DeliveryStatus::{Dead, Pending};
    use ReplayStep::{Keep, Remove, Resend};
    let all = ReplaySelection::All;
    let ep_b = ReplaySelection::Endpoint(EndpointId::from("ep_b"));
    let rows = [
        (&all, Pending, 2, 1, Remove),
        (&all, Dead, 2, 1, Remove),
        (&all, Dead, 2, 2, Resend),
        (&all, Pending, 2, 2, Resend),
        (&ep_b, Pending, 2, 1, Keep),
    ];
    for (selection, status, stored_run, letter_run, expected) in rows {
        let delivery = stored(status, stored_run, "ep_a");
        assert_eq!(
            replay_step(selection, letter_run, Some(&delivery)),
            expected,
            "{selection:?}: a letter of run {letter_run}, stored {status:?} on run {stored_run}"
        );
    }
}

#[test]
fn a_reconcile_marks_dead_only_the_pending_run_of_the_letter() {
    use DeliveryStatus::{Dead, Delivered, Filtered, Pending};
    let rows = [
        (Some((Pending, 0)), 0, true),
        (Some((Pending, 1)), 0, false),
        (Some((Pending, 0)), 1, false),
        (Some((Dead, 0)), 0, false),
        (Some((Delivered, 0)), 0, false),
        (Some((Filtered, 0)), 0, false),
        (None, 0, false),
    ];
    for (state, letter_run, expected) in rows {
        let delivery = state.map(|(status, run)| stored(status, run, "ep_a"));
        assert_eq!(
            reconcile_marks_dead(letter_run, delivery.as_ref()),
            expected,
            "a letter of run {letter_run}, stored {state:?}"
        );
    }
}

#[test]
fn the_replay_function_reads_the_selection_the_api_uses() {
    let read = |text: &str| serde_json::from_str::<ReplaySelection>(text);
    assert_eq!(read(r#""all""#).unwrap(), ReplaySelection::All);
    assert_eq!(
        read(r#"{"endpoint_id": "ep_1"}"#).unwrap(),
        ReplaySelection::Endpoint(EndpointId::from("ep_1"))
    );
    assert_eq!(
        read(r#"{"ids": ["msg_1"]}"#).unwrap(),
        ReplaySelection::Ids(vec![DeliveryId::from("msg_1")])
    );
    assert!(read(r#"{"endpoint": "ep_1"}"#).is_err());
    assert!(read(r#"{"ids": [], "endpoint_id": "ep_1"}"#).is_err());
}

#[cfg(feature = "embedded")]
mod on_the_embedded_store {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
    use serde_json::json;

    use super::*;
    use crate::delivery::Attempt;
    use crate::delivery::retry_policy::RetryPolicy;
    use crate::embedded::{Database, EmbeddedQueue, QueueSettings};
    use crate::metrics::Metrics;
    use crate::outbound::sender::HttpSender;
    use crate::outbound::target_policy::TargetPolicy;
    use crate::ports::store::{
        DeliveryFilter, DeliveryStore, FallbackOutcome, FallbackRecord, StoreError,
    };
    use crate::service::Ports;

    struct Rig {
        service: Service,
        prometheus: PrometheusHandle,
        tenant: TenantId,
        reads: Arc<ReadCounts>,
    }

    /// How often the service read a delivery, with its attempts or without.
    #[derive(Default)]
    struct ReadCounts {
        with_attempts: AtomicUsize,
        peeks: AtomicUsize,
    }

    /// The embedded store's delivery port, counting the service's reads of one delivery.
    struct CountingDeliveries {
        inner: Database,
        reads: Arc<ReadCounts>,
    }

    #[async_trait::async_trait]
    impl DeliveryStore for CountingDeliveries {
        async fn get_delivery(
            &self,
            tenant: &TenantId,
            id: &DeliveryId,
        ) -> Result<Option<Delivery>, StoreError> {
            self.reads.with_attempts.fetch_add(1, Ordering::Relaxed);
            self.inner.get_delivery(tenant, id).await
        }

        async fn peek_delivery(
            &self,
            tenant: &TenantId,
            id: &DeliveryId,
        ) -> Result<Option<Delivery>, StoreError> {
            self.reads.peeks.fetch_add(1, Ordering::Relaxed);
            self.inner.peek_delivery(tenant, id).await
        }

        async fn pending_unchanged_since(
            &self,
            changed_before: chrono::DateTime<Utc>,
            limit: usize,
        ) -> Result<Vec<Delivery>, StoreError> {
            self.inner
                .pending_unchanged_since(changed_before, limit)
                .await
        }

        async fn list_deliveries(
            &self,
            tenant: &TenantId,
            filter: &DeliveryFilter,
        ) -> Result<Vec<Delivery>, StoreError> {
            self.inner.list_deliveries(tenant, filter).await
        }

        async fn update_delivery(
            &self,
            tenant: &TenantId,
            id: &DeliveryId,
            run: u32,
            attempt: Option<&Attempt>,
            change: StatusChange<'_>,
        ) -> Result<bool, StoreError> {
            self.inner
                .update_delivery(tenant, id, run, attempt, change)
                .await
        }

        async fn record_fallback(
            &self,
            record: FallbackRecord<'_>,
        ) -> Result<FallbackOutcome, StoreError> {
            self.inner.record_fallback(record).await
        }

        async fn start_resend(
            &self,
            tenant: &TenantId,
            id: &DeliveryId,
            only_if: Option<DeliveryStatus>,
        ) -> Result<Option<u32>, StoreError> {
            self.inner.start_resend(tenant, id, only_if).await
        }
    }

    impl Rig {
        fn new() -> Rig {
            let database = Database::in_memory().expect("an in-memory database");
            let queue = EmbeddedQueue::new(
                database.clone(),
                QueueSettings {
                    visibility_timeout: Duration::from_secs(60),
                    max_receives: MAX_ATTEMPTS,
                },
            );
            let mut ports = Ports::on_one_store(database.clone(), Arc::new(queue));
            let reads = Arc::new(ReadCounts::default());
            ports.deliveries = Arc::new(CountingDeliveries {
                inner: database,
                reads: reads.clone(),
            });
            let sender = HttpSender::new(Arc::new(TargetPolicy::strict()), Duration::from_secs(5))
                .expect("an HTTP client");
            let recorder = PrometheusBuilder::new().build_recorder();
            let prometheus = recorder.handle();
            Rig {
                service: Service::new(ports, sender, RetryPolicy::default())
                    .with_metrics(Metrics::new(Arc::new(recorder))),
                prometheus,
                tenant: TenantId::from("tn_dead_letters"),
                reads,
            }
        }

        /// A pending delivery (run 0) of a new alert to a new endpoint, and its task.
        async fn pending_delivery(&self) -> Task {
            self.service
                .create_endpoint(
                    &self.tenant,
                    &json!({"name": "pager", "url": "https://pager.example.com/hooks"}),
                )
                .await
                .expect("endpoint created");
            let receipt = self
                .service
                .accept_alert(&self.tenant, &json!({"title": "Disk almost full"}), None)
                .await
                .expect("alert accepted");
            let (delivery_id, endpoint_id) = receipt.deliveries[0].clone();
            Task::deliver(self.tenant.clone(), delivery_id, 0, endpoint_id)
        }

        async fn stored(&self, task: &Task) -> Delivery {
            self.service
                .get_delivery(&self.tenant, task.delivery_id())
                .await
                .expect("store")
                .expect("the delivery exists")
        }

        /// The value of a metric line that starts with `prefix`, 0 when there is none.
        fn metric(&self, prefix: &str) -> f64 {
            self.prometheus
                .render()
                .lines()
                .find(|line| line.starts_with(prefix))
                .and_then(|line| line.rsplit(' ').next())
                .map_or(0.0, |value| value.parse().expect("a number"))
        }
    }

    const DEAD_FINISHED: &str = "alertwire_deliveries_finished_total{status=\"dead\"}";
    const REPLAYS: &str = "alertwire_resends_total{kind=\"replay\"}";

    #[tokio::test]
    async fn a_reconcile_marks_a_pending_delivery_dead_once_and_counts_it_finished() {
        let rig = Rig::new();
        let task = rig.pending_delivery().await;
        let mut review = rig.service.reconcile_review();
        assert_eq!(
            review.judge(Some(&task)).await.unwrap(),
            DeadLetterVerdict::Keep
        );
        assert_eq!(
            review.judge(Some(&task)).await.unwrap(),
            DeadLetterVerdict::Keep
        );
        assert_eq!(review.judge(None).await.unwrap(), DeadLetterVerdict::Keep);
        assert_eq!(review.marked_dead(), 1);
        let dead = rig.stored(&task).await;
        assert_eq!(dead.status, DeliveryStatus::Dead);
        assert!(
            dead.status_reason
                .as_deref()
                .is_some_and(|r| r.contains("dead-lettered it after 10 receives")),
            "{:?}",
            dead.status_reason
        );
        assert_eq!(rig.metric(DEAD_FINISHED), 1.0);
    }

    /// Issue 15, fault 5: the reconcile reads each letter's delivery once, without its attempts.
    #[tokio::test]
    async fn a_reconcile_reads_each_letters_delivery_once_without_its_attempts() {
        let rig = Rig::new();
        let letters = [rig.pending_delivery().await, rig.pending_delivery().await];
        let mut review = rig.service.reconcile_review();
        for letter in &letters {
            review.judge(Some(letter)).await.unwrap();
        }
        assert_eq!(review.marked_dead(), 2);
        assert_eq!(
            (
                rig.reads.peeks.load(Ordering::Relaxed),
                rig.reads.with_attempts.load(Ordering::Relaxed)
            ),
            (2, 0),
            "one read of each delivery, none with its attempts"
        );
    }

    #[tokio::test]
    async fn a_replay_resends_a_delivery_once_and_removes_its_other_letters() {
        let rig = Rig::new();
        let task = rig.pending_delivery().await;
        let selection = ReplaySelection::All;
        let mut review = rig.service.replay_review(&selection);
        let resent = Task::deliver(
            rig.tenant.clone(),
            task.delivery_id().clone(),
            1,
            task.endpoint().cloned().expect("an endpoint"),
        );
        assert_eq!(
            review.judge(Some(&task)).await.unwrap(),
            DeadLetterVerdict::Resend(resent)
        );
        assert_eq!(
            review.judge(Some(&task)).await.unwrap(),
            DeadLetterVerdict::Remove
        );
        assert_eq!(review.judge(None).await.unwrap(), DeadLetterVerdict::Keep);
        let pending = rig.stored(&task).await;
        assert_eq!((pending.status, pending.run), (DeliveryStatus::Pending, 1));
        assert_eq!(rig.metric(REPLAYS), 1.0);

        let gone = Task::DeliverV1 {
            tenant: rig.tenant.clone(),
            delivery_id: DeliveryId::from("msg_gone"),
            run: 0,
            endpoint: None,
            attempts_before: 0,
        };
        assert_eq!(
            review.judge(Some(&gone)).await.unwrap(),
            DeadLetterVerdict::Remove
        );
        let others = ReplaySelection::Ids(vec![DeliveryId::from("msg_other")]);
        let mut review = rig.service.replay_review(&others);
        assert_eq!(
            review.judge(Some(&task)).await.unwrap(),
            DeadLetterVerdict::Keep
        );
        assert_eq!(rig.stored(&task).await.run, 1);
    }
}
