//! Unit tests of attempting a delivery: the orchestration around the pure decision, on the in-memory wiring.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::delivery::DeliveryStatus;
use crate::service::in_memory::{
    PAST_THE_LIMIT, answering_receiver, closed_port, endpoint_at, monday_morning, monday_service,
    received, service, stored_delivery,
};

/// Receive number `number` of the first run's task.
fn task(tenant: &TenantId, delivery_id: &DeliveryId, number: u32) -> ReceivedTask {
    received(tenant, delivery_id, 0, number)
}

/// GIVEN the endpoint is replaced by a `pager` to a closed port with `extra` fields.
async fn replace_with(
    service: &Service,
    tenant: &TenantId,
    endpoint_id: &EndpointId,
    extra: serde_json::Value,
) {
    let mut body =
        json!({"name": "pager", "url": format!("http://127.0.0.1:{}/hook", closed_port())});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    service
        .replace_endpoint(tenant, endpoint_id, &body)
        .await
        .unwrap();
}

/// WHEN the first run's task is received for the first time: what the queue is told, and the delivery
/// as then stored.
async fn first_attempt(
    service: &Service,
    tenant: &TenantId,
    delivery_id: &DeliveryId,
) -> (Disposition, crate::delivery::Delivery) {
    let disposition = service
        .attempt_delivery(&task(tenant, delivery_id, 1))
        .await
        .unwrap();
    (
        disposition,
        stored_delivery(service, tenant, delivery_id).await,
    )
}

/// GIVEN an endpoint at `port` with `extra` fields and an alert accepted for it: the tenant and the
/// one delivery.
async fn one_delivery(
    service: &Service,
    port: u16,
    extra: serde_json::Value,
) -> (TenantId, EndpointId, DeliveryId) {
    let tenant = TenantId::from("acme");
    let endpoint_id = endpoint_at(service, &tenant, "pager", port, extra).await;
    let receipt = service
        .accept_alert(&tenant, &json!({"title": "cpu high"}), None)
        .await
        .unwrap();
    let (delivery_id, _) = receipt.deliveries[0].clone();
    (tenant, endpoint_id, delivery_id)
}

#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_disabled_on_the_clock_not_the_wall() {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let tenant = TenantId::from("acme");
    let url = format!("http://127.0.0.1:{}/hook", closed_port());
    let endpoint_id = service
        .create_endpoint(&tenant, &json!({"name": "down", "url": url}))
        .await
        .unwrap()
        .id;
    let receipt = service
        .accept_alert(&tenant, &json!({"title": "cpu high"}), None)
        .await
        .unwrap();
    let (delivery_id, _) = &receipt.deliveries[0];
    let stored = |service: &Service| {
        let (tenant, endpoint_id) = (tenant.clone(), endpoint_id.clone());
        let ports = service.ports.clone();
        async move {
            ports
                .endpoints
                .get_endpoint(&tenant, &endpoint_id)
                .await
                .unwrap()
                .unwrap()
        }
    };

    // GIVEN the first attempt fails on Monday morning
    let first = service
        .attempt_delivery(&task(&tenant, delivery_id, 1))
        .await
        .unwrap();
    // THEN it is retried 5 s later by the clock, and the alert was received at the clock's time
    assert_eq!(first, Disposition::RetryIn(Duration::from_secs(5)));
    let delivery = service
        .ports
        .deliveries
        .get_delivery(&tenant, delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        delivery.next_attempt_at,
        Some(monday_morning() + chrono::Duration::seconds(5))
    );
    let alert = service
        .ports
        .alerts
        .get_alert(&tenant, &receipt.alert_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(alert.received_at, monday_morning());
    let health = stored(&service).await.health;
    assert_eq!(health.failing_since, Some(monday_morning()));

    // WHEN it still fails a minute short of five days later THEN the endpoint stays enabled
    clock.advance(chrono::Duration::days(5) - chrono::Duration::minutes(1));
    service
        .attempt_delivery(&task(&tenant, delivery_id, 2))
        .await
        .unwrap();
    assert!(stored(&service).await.enabled);

    // WHEN it fails once the five days are over THEN alertwire disables it, saying since when
    clock.advance(chrono::Duration::minutes(1));
    service
        .attempt_delivery(&task(&tenant, delivery_id, 3))
        .await
        .unwrap();
    let endpoint = stored(&service).await;
    assert!(!endpoint.enabled);
    assert_eq!(
        endpoint.disabled_reason.as_deref(),
        Some("every attempt failed since 2026-01-05T09:00:00+00:00 (3 failures in a row)")
    );
    assert_eq!(clock.now(), monday_morning() + chrono::Duration::days(5));
}

#[tokio::test]
async fn an_answered_attempt_delivers_and_ends_the_task() {
    let service = monday_service();
    let (tenant, _, delivery_id) =
        one_delivery(&service, answering_receiver(200).await, json!({})).await;

    // WHEN the first attempt is answered 200
    let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

    // THEN the delivery is delivered with that one attempt, and the task is done
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].status_code, Some(200));
}

#[tokio::test]
async fn a_delivered_attempt_removes_its_task_in_the_same_write_as_the_outcome() {
    // GIVEN a delivery whose task the worker received from the queue in the store's own database
    let service = monday_service();
    let (tenant, _, delivery_id) =
        one_delivery(&service, answering_receiver(200).await, json!({})).await;
    let received = service.ports.queue.receive(10).await.unwrap();
    assert_eq!(received.len(), 1);

    // WHEN the first attempt is answered 200
    let disposition = service.attempt_delivery(&received[0]).await.unwrap();

    // THEN the store removed the task with the outcome: nothing is left for the queue, and releasing the
    // lease brings nothing back
    assert_eq!(disposition, Disposition::Settled);
    let delivery = stored_delivery(&service, &tenant, &delivery_id).await;
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    service
        .ports
        .queue
        .retry_later(&received[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    assert!(service.ports.queue.receive(10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_retried_attempt_leaves_its_task_to_the_queue() {
    // GIVEN a delivery whose task was received from the queue
    let service = monday_service();
    let (_, _, _) = one_delivery(&service, answering_receiver(503).await, json!({})).await;
    let received = service.ports.queue.receive(10).await.unwrap();

    // WHEN the attempt fails THEN the queue is told to retry: the task is still there
    let disposition = service.attempt_delivery(&received[0]).await.unwrap();
    assert!(
        matches!(disposition, Disposition::RetryIn(_)),
        "{disposition:?}"
    );
    service
        .ports
        .queue
        .retry_later(&received[0].receipt, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(service.ports.queue.receive(10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_task_for_a_stale_run_is_done_and_writes_nothing() {
    let service = monday_service();
    let (tenant, _, delivery_id) = one_delivery(&service, closed_port(), json!({})).await;
    // GIVEN a resend started run 1 of the delivery
    service.resend(&tenant, &delivery_id).await.unwrap();
    let before = stored_delivery(&service, &tenant, &delivery_id).await;
    assert_eq!(before.run, 1);

    // WHEN the task of run 0 is received
    let disposition = service
        .attempt_delivery(&task(&tenant, &delivery_id, 1))
        .await
        .unwrap();

    // THEN it is done, and the delivery is exactly as it was (no attempt recorded)
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(
        stored_delivery(&service, &tenant, &delivery_id).await,
        before
    );
}

#[tokio::test]
async fn a_task_for_a_delivery_already_delivered_is_done_and_writes_nothing() {
    let service = monday_service();
    let (tenant, _, delivery_id) =
        one_delivery(&service, answering_receiver(200).await, json!({})).await;
    // GIVEN the delivery was delivered at the first attempt
    service
        .attempt_delivery(&task(&tenant, &delivery_id, 1))
        .await
        .unwrap();

    // WHEN the same task is received again
    let disposition = service
        .attempt_delivery(&task(&tenant, &delivery_id, 2))
        .await
        .unwrap();

    // THEN it is done and no second attempt is recorded
    assert_eq!(disposition, Disposition::Done);
    let delivery = stored_delivery(&service, &tenant, &delivery_id).await;
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.attempts.len(), 1);
}

#[tokio::test]
async fn a_delivery_whose_endpoint_was_deleted_goes_dead_saying_so() {
    let service = monday_service();
    let (tenant, endpoint_id, delivery_id) = one_delivery(&service, closed_port(), json!({})).await;
    // GIVEN the endpoint is deleted after the alert was accepted
    service
        .delete_endpoint(&tenant, &endpoint_id)
        .await
        .unwrap();

    // WHEN its task is received
    let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

    // THEN the delivery is dead with the reason, nothing was sent, and the task ends (no dead letter)
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(delivery.status, DeliveryStatus::Dead);
    assert_eq!(
        delivery.status_reason.as_deref(),
        Some("the endpoint was deleted")
    );
    assert!(delivery.attempts.is_empty());
}

#[tokio::test]
async fn a_delivery_whose_endpoint_was_disabled_since_is_filtered() {
    let service = monday_service();
    let (tenant, endpoint_id, delivery_id) = one_delivery(&service, closed_port(), json!({})).await;
    // GIVEN the endpoint is switched off after the alert was accepted
    replace_with(&service, &tenant, &endpoint_id, json!({"enabled": false})).await;

    // WHEN its task is received
    let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

    // THEN the delivery is filtered as disabled, without an attempt
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(delivery.status, DeliveryStatus::Filtered);
    assert_eq!(
        delivery.status_reason.as_deref(),
        Some("the endpoint is disabled: disabled by the user")
    );
    assert!(delivery.attempts.is_empty());
}

#[tokio::test]
async fn a_message_type_switched_off_since_acceptance_filters_the_delivery() {
    let service = monday_service();
    let (tenant, endpoint_id, delivery_id) = one_delivery(&service, closed_port(), json!({})).await;
    // GIVEN the endpoint stops sending `error` messages after the alert was accepted
    let types_off = json!({"message_types": {"error": null}});
    replace_with(&service, &tenant, &endpoint_id, types_off).await;

    // WHEN its task is received
    let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

    // THEN the delivery is filtered, saying which message type is off
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(delivery.status, DeliveryStatus::Filtered);
    assert_eq!(
        delivery.status_reason.as_deref(),
        Some("the endpoint sends nothing for `error` messages")
    );
}

#[tokio::test]
async fn a_task_received_past_the_attempt_limit_dead_letters_without_sending() {
    let service = monday_service();
    let (tenant, _, delivery_id) =
        one_delivery(&service, answering_receiver(200).await, json!({})).await;

    // WHEN the task is received once more than the attempts allowed
    let disposition = service
        .attempt_delivery(&task(&tenant, &delivery_id, PAST_THE_LIMIT))
        .await
        .unwrap();

    // THEN the delivery is dead without a new attempt, and the task goes to the dead-letter queue
    assert_eq!(disposition, Disposition::DeadLetter);
    let delivery = stored_delivery(&service, &tenant, &delivery_id).await;
    assert_eq!(delivery.status, DeliveryStatus::Dead);
    assert!(delivery.attempts.is_empty());
}

#[tokio::test]
async fn an_answer_410_gone_makes_the_delivery_dead_at_once() {
    let service = monday_service();
    let (tenant, _, delivery_id) =
        one_delivery(&service, answering_receiver(410).await, json!({})).await;

    // WHEN the first attempt is answered 410
    let (disposition, delivery) = first_attempt(&service, &tenant, &delivery_id).await;

    // THEN the delivery is dead with the reason, and the task goes to the dead-letter queue
    assert_eq!(disposition, Disposition::DeadLetter);
    assert_eq!(delivery.status, DeliveryStatus::Dead);
    assert_eq!(
        delivery.status_reason.as_deref(),
        Some("the endpoint answered 410 Gone")
    );
}

#[tokio::test]
async fn an_unreadable_task_is_dropped_as_done() {
    let service = monday_service();
    let unreadable = ReceivedTask {
        task: None,
        receipt: "receipt-1".into(),
        receive_count: 1,
    };

    // WHEN a task that could not be read is received THEN it is done
    let disposition = service.attempt_delivery(&unreadable).await.unwrap();
    assert_eq!(disposition, Disposition::Done);
}
