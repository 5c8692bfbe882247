//! Unit tests of resends and replays, through the service's public use cases on the in-memory wiring.

#![cfg(feature = "embedded")]

use serde_json::json;

use super::*;
use crate::ports::queue::ReceivedTask;
use crate::service::Disposition;
use crate::service::in_memory::{
    PAST_THE_LIMIT, answering_endpoint, answering_receiver, endpoint_at, monday_service,
    stored_delivery, take_queued_tasks, task,
};

fn acme() -> TenantId {
    TenantId::from("acme")
}

/// GIVEN `alerts` alerts accepted for acme's endpoints: their tasks, as the worker receives them.
async fn accept_and_receive(service: &Service, alerts: usize) -> Vec<ReceivedTask> {
    for n in 0..alerts {
        let body = json!({"title": format!("alert {n}")});
        service.accept_alert(&acme(), &body, None).await.unwrap();
    }
    service.ports.queue.receive(1000).await.unwrap()
}

/// GIVEN acme's one endpoint, answering 200, and `alerts` alerts accepted for it: their tasks as received.
async fn pager_tasks(service: &Service, alerts: usize) -> Vec<ReceivedTask> {
    answering_endpoint(service, &acme(), 200).await;
    accept_and_receive(service, alerts).await
}

/// GIVEN acme's one endpoint with two dead deliveries and a delivered one, in that order.
async fn two_dead_and_a_delivered(service: &Service) -> [DeliveryId; 3] {
    let received = pager_tasks(service, 3).await;
    [
        make_dead(service, &received[0]).await,
        make_dead(service, &received[1]).await,
        make_delivered(service, &received[2]).await,
    ]
}

/// The delivery a received task is for.
fn delivery_of(received: &ReceivedTask) -> DeliveryId {
    received.task.as_ref().unwrap().delivery_id().clone()
}

/// GIVEN the task was received once too often: the delivery is dead and the task on the dead-letter
/// queue, as the worker leaves them.
async fn make_dead(service: &Service, received: &ReceivedTask) -> DeliveryId {
    let last = ReceivedTask {
        receive_count: PAST_THE_LIMIT,
        ..received.clone()
    };
    let disposition = service.attempt_delivery(&last).await.unwrap();
    assert_eq!(disposition, Disposition::DeadLetter);
    service.ports.queue.dead_letter(received).await.unwrap();
    delivery_of(received)
}

/// GIVEN the first attempt was answered 2XX: the delivery is delivered and its task removed with it (the
/// store holds the queue).
async fn make_delivered(service: &Service, received: &ReceivedTask) -> DeliveryId {
    let disposition = service.attempt_delivery(received).await.unwrap();
    assert_eq!(disposition, Disposition::Settled);
    delivery_of(received)
}

/// The task of run 1 of each delivery, in the order given.
fn second_runs(ids: &[&DeliveryId]) -> Vec<Task> {
    ids.iter().map(|id| task(&acme(), id, 1)).collect()
}

/// The queued tasks, in delivery-id order.
async fn queued_in_order(service: &Service) -> Vec<Task> {
    let mut tasks = take_queued_tasks(service).await;
    tasks.sort_by(|a, b| a.delivery_id().as_str().cmp(b.delivery_id().as_str()));
    tasks
}

fn in_order(mut tasks: Vec<Task>) -> Vec<Task> {
    tasks.sort_by(|a, b| a.delivery_id().as_str().cmp(b.delivery_id().as_str()));
    tasks
}

#[tokio::test]
async fn a_resend_of_a_delivered_delivery_starts_a_new_run_and_queues_it() {
    let service = monday_service();
    let received = pager_tasks(&service, 1).await;
    let delivered = make_delivered(&service, &received[0]).await;

    // WHEN it is resent
    let resent = service.resend(&acme(), &delivered).await.unwrap();

    // THEN it is pending again in run 1, as stored, and run 1's task is queued
    assert_eq!(resent.status, DeliveryStatus::Pending);
    assert_eq!(resent.run, 1);
    assert_eq!(stored_delivery(&service, &acme(), &delivered).await, resent);
    assert_eq!(
        take_queued_tasks(&service).await,
        second_runs(&[&delivered])
    );
}

#[tokio::test]
async fn a_resend_of_a_dead_delivery_takes_it_off_the_dead_letter_queue_and_queues_a_new_run() {
    let service = monday_service();
    let received = pager_tasks(&service, 1).await;
    let dead = make_dead(&service, &received[0]).await;

    // WHEN it is resent
    let resent = service.resend(&acme(), &dead).await.unwrap();

    // THEN it is pending in run 1, its old task left the dead-letter queue, and run 1's task is queued
    assert_eq!(resent.status, DeliveryStatus::Pending);
    assert_eq!(resent.run, 1);
    let still_dead_lettered = service
        .ports
        .queue
        .remove_dead_letters(std::slice::from_ref(&dead))
        .await;
    assert_eq!(still_dead_lettered.unwrap(), 0);
    assert_eq!(take_queued_tasks(&service).await, second_runs(&[&dead]));
}

#[tokio::test]
async fn a_resend_of_an_unknown_delivery_is_not_found_and_queues_nothing() {
    let service = monday_service();

    // WHEN a delivery that never existed is resent THEN it is not found
    let answer = service
        .resend(&acme(), &DeliveryId::from("dl_unknown"))
        .await;
    assert!(matches!(answer, Err(ServiceError::NotFound("delivery"))));
    assert!(take_queued_tasks(&service).await.is_empty());
}

#[tokio::test]
async fn another_tenant_cannot_resend_a_delivery() {
    let service = monday_service();
    let received = pager_tasks(&service, 1).await;
    let dead = make_dead(&service, &received[0]).await;

    // WHEN another tenant resends acme's delivery THEN it is not found, and acme's delivery stays dead
    let answer = service.resend(&TenantId::from("globex"), &dead).await;
    assert!(matches!(answer, Err(ServiceError::NotFound("delivery"))));
    let delivery = stored_delivery(&service, &acme(), &dead).await;
    assert_eq!(delivery.status, DeliveryStatus::Dead);
    assert!(take_queued_tasks(&service).await.is_empty());
}

#[tokio::test]
async fn a_replay_of_all_resends_only_the_dead_ones() {
    let service = monday_service();
    let [first_dead, second_dead, delivered] = two_dead_and_a_delivered(&service).await;

    // WHEN every dead letter is replayed
    let replayed = service
        .replay_dead_letters(&acme(), &ReplaySelection::All)
        .await
        .unwrap();

    // THEN the two dead ones start run 1 and are queued, and the delivered one is left alone
    assert_eq!(replayed, 2);
    let expected = in_order(second_runs(&[&first_dead, &second_dead]));
    assert_eq!(queued_in_order(&service).await, expected);
    let untouched = stored_delivery(&service, &acme(), &delivered).await;
    assert_eq!(
        (untouched.status, untouched.run),
        (DeliveryStatus::Delivered, 0)
    );
}

#[tokio::test]
async fn a_replay_of_ids_resends_the_dead_ones_among_them() {
    let service = monday_service();
    let [chosen_dead, other_dead, delivered] = two_dead_and_a_delivered(&service).await;

    // WHEN one dead, the delivered one and an unknown id are replayed
    let ids = vec![
        chosen_dead.clone(),
        delivered.clone(),
        DeliveryId::from("dl_unknown"),
    ];
    let replayed = service
        .replay_dead_letters(&acme(), &ReplaySelection::Ids(ids))
        .await
        .unwrap();

    // THEN only the chosen dead one is resent; the other dead one stays dead
    assert_eq!(replayed, 1);
    assert_eq!(
        take_queued_tasks(&service).await,
        second_runs(&[&chosen_dead])
    );
    let left = stored_delivery(&service, &acme(), &other_dead).await;
    assert_eq!((left.status, left.run), (DeliveryStatus::Dead, 0));
    let delivered = stored_delivery(&service, &acme(), &delivered).await;
    assert_eq!(delivered.run, 0);
}

#[tokio::test]
async fn a_replay_of_an_endpoint_resends_only_its_dead_ones() {
    let service = monday_service();
    let port = answering_receiver(200).await;
    let pager = endpoint_at(&service, &acme(), "pager", port, json!({})).await;
    endpoint_at(&service, &acme(), "chat", port, json!({})).await;
    // GIVEN an alert whose deliveries to both endpoints are dead
    let received = accept_and_receive(&service, 1).await;
    let mut to_pager = Vec::new();
    for task in &received {
        let dead = make_dead(&service, task).await;
        if stored_delivery(&service, &acme(), &dead).await.endpoint_id == pager {
            to_pager.push(dead);
        }
    }
    assert_eq!((received.len(), to_pager.len()), (2, 1));

    // WHEN the pager's dead letters are replayed
    let replayed = service
        .replay_dead_letters(&acme(), &ReplaySelection::Endpoint(pager))
        .await
        .unwrap();

    // THEN only its delivery is resent
    assert_eq!(replayed, 1);
    assert_eq!(
        take_queued_tasks(&service).await,
        second_runs(&[&to_pager[0]])
    );
}

#[tokio::test]
async fn a_replay_with_no_dead_letters_resends_nothing() {
    let service = monday_service();
    let received = pager_tasks(&service, 1).await;
    make_delivered(&service, &received[0]).await;

    // WHEN every dead letter is replayed while none exists THEN nothing is resent or queued
    let replayed = service
        .replay_dead_letters(&acme(), &ReplaySelection::All)
        .await
        .unwrap();
    assert_eq!(replayed, 0);
    assert!(take_queued_tasks(&service).await.is_empty());
}
