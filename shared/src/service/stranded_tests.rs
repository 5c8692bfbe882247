//! Unit tests of the sweep for pending deliveries that lost their task, on the in-memory wiring whose
//! clock the test moves.

#![cfg(feature = "embedded")]

use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;
use crate::ids::TenantId;
use crate::service::in_memory::{
    accepted_alert_to, answering_endpoint, monday_morning, service, stored_delivery,
    take_queued_tasks,
};

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_pending_delivery_unchanged_past_the_threshold_gets_a_new_run_and_a_fresher_one_does_not()
{
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let acme = TenantId::from("acme");
    let endpoint = answering_endpoint(&service, &acme, 200).await;
    let (_, first) = accepted_alert_to(&service, &acme, &endpoint).await;
    let (_, second) = accepted_alert_to(&service, &acme, &endpoint).await;
    // Their tasks are lost.
    assert_eq!(take_queued_tasks(&service).await.len(), 2);

    let threshold = chrono::Duration::from_std(service.stranded_after(LEASE)).unwrap();
    assert!(threshold > chrono::Duration::hours(30), "{threshold}");
    clock.advance(threshold - chrono::Duration::minutes(1));
    assert_eq!(
        service.requeue_stranded(LEASE, 10).await.unwrap(),
        StrandedReport::default(),
        "younger than the threshold: left alone"
    );
    assert!(take_queued_tasks(&service).await.is_empty());

    clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        service.requeue_stranded(LEASE, 1).await.unwrap(),
        StrandedReport {
            requeued: 1,
            stopped_early: true
        }
    );
    assert_eq!(
        service.requeue_stranded(LEASE, 10).await.unwrap(),
        StrandedReport {
            requeued: 1,
            stopped_early: false
        }
    );
    let mut requeued: Vec<(String, u32)> = take_queued_tasks(&service)
        .await
        .into_iter()
        .map(|t| match t {
            Task::DeliverV1 {
                delivery_id, run, ..
            } => (delivery_id.0, run),
        })
        .collect();
    requeued.sort();
    let mut expected = vec![(first.0.clone(), 1), (second.0.clone(), 1)];
    expected.sort();
    assert_eq!(requeued, expected, "each gets run 1 and its task");
    for id in [&first, &second] {
        let stored = stored_delivery(&service, &acme, id).await;
        assert_eq!((stored.status, stored.run), (DeliveryStatus::Pending, 1));
    }
}
