//! Unit tests of fallback endpoints in the use cases, on the in-memory wiring: the refusals at save and at
//! delete, and the fallback delivery made when a delivery dies.

use serde_json::{Value, json};

use super::*;
use crate::delivery::decide::{Decision, Disposition};
use crate::ids::AlertId;
use crate::ports::store::StatusChange;
use crate::service::in_memory::{
    PAST_THE_LIMIT, accepted_alert_to, answering_receiver, closed_port, endpoint_at,
    monday_service, received, stored_deliveries, stored_delivery, take_queued_tasks,
};

fn acme() -> TenantId {
    TenantId::from("acme")
}

/// GIVEN an endpoint named `name` that nothing answers, with `extra` fields.
async fn endpoint(service: &Service, name: &str, extra: Value) -> EndpointId {
    endpoint_at(service, &acme(), name, closed_port(), extra).await
}

/// An endpoint definition to a closed port falling back to `fallback`.
fn falling_back_to(fallback: &EndpointId) -> Value {
    json!({"name": "primary", "url": format!("http://127.0.0.1:{}/hook", closed_port()),
           "fallback_endpoint_id": fallback.as_str()})
}

/// GIVEN acme's endpoints `primary` falling back to `backup`, both to closed ports: (primary, backup).
async fn primary_and_backup(service: &Service) -> (EndpointId, EndpointId) {
    let backup = endpoint(service, "backup", json!({})).await;
    let primary = endpoint(
        service,
        "primary",
        json!({"fallback_endpoint_id": backup.as_str()}),
    )
    .await;
    (primary, backup)
}

/// The field an answer was refused on, if it was refused as input.
fn refused_field<T>(answer: Result<T, ServiceError>) -> String {
    match answer {
        Err(ServiceError::Input(e)) => e.field,
        Err(other) => panic!("expected a refusal naming a field, got {other:?}"),
        Ok(_) => panic!("expected a refusal naming a field, got a success"),
    }
}

/// GIVEN an alert accepted for acme: its id and its delivery to `endpoint`.
async fn alert_for(service: &Service, endpoint: &EndpointId) -> (AlertId, DeliveryId) {
    accepted_alert_to(service, &acme(), endpoint).await
}

/// WHEN the death of `dead`'s first run is handled once more (a repeated record of that run).
async fn handled_again(service: &Service, dead: &DeliveryId) {
    let again = Decision::Dead {
        reason: "again".into(),
    };
    service.after_death(&acme(), dead, 0, &again).await.unwrap();
}

/// WHEN the delivery's first run is received past the attempt limit: it is dead without a send.
async fn dies(service: &Service, delivery: &DeliveryId) {
    service
        .attempt_delivery(&received(&acme(), delivery, 0, PAST_THE_LIMIT))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_fallback_is_refused_at_save_unless_it_is_another_endpoint_of_the_tenant() {
    let service = monday_service();
    let own = endpoint(&service, "own", json!({})).await;
    let theirs = endpoint_at(&service, &TenantId::from("globex"), "theirs", 9, json!({})).await;

    // WHEN acme names an unknown id, or globex's endpoint THEN both are refused alike on the field
    for unknown in [EndpointId::from("ep_nope"), theirs.clone()] {
        let answer = service
            .create_endpoint(&acme(), &falling_back_to(&unknown))
            .await;
        match answer {
            Err(ServiceError::Input(e)) => {
                assert_eq!(e.field, "fallback_endpoint_id");
                assert!(e.message.contains("there is no endpoint"), "{}", e.message);
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    // WHEN an endpoint names itself THEN it is refused, and the stored one is unchanged
    let answer = service
        .replace_endpoint(&acme(), &own, &falling_back_to(&own))
        .await;
    assert_eq!(refused_field(answer), "fallback_endpoint_id");
    let stored = service.get_endpoint(&acme(), &own).await.unwrap();
    assert_eq!((stored.version, stored.fallback_endpoint_id), (1, None));
    // AND nothing was created by the refused creates
    assert_eq!(service.list_endpoints(&acme()).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_cycle_and_a_chain_of_four_are_refused_and_a_chain_of_three_is_kept() {
    let service = monday_service();
    let c = endpoint(&service, "c", json!({})).await;
    let b = endpoint(&service, "b", json!({"fallback_endpoint_id": c.as_str()})).await;
    // GIVEN a→b→c: three endpoints, allowed
    let a = endpoint(&service, "a", json!({"fallback_endpoint_id": b.as_str()})).await;

    // WHEN c falls back to a THEN it would close a cycle
    let answer = service
        .replace_endpoint(&acme(), &c, &falling_back_to(&a))
        .await;
    assert_eq!(refused_field(answer), "fallback_endpoint_id");
    // WHEN a new d falls back to a THEN d→a→b→c is four endpoints: refused
    let answer = service.create_endpoint(&acme(), &falling_back_to(&a)).await;
    assert_eq!(refused_field(answer), "fallback_endpoint_id");
    // WHEN c falls back to a new d THEN a→b→c→d is four endpoints: refused
    let d = endpoint(&service, "d", json!({})).await;
    let answer = service
        .replace_endpoint(&acme(), &c, &falling_back_to(&d))
        .await;
    assert_eq!(refused_field(answer), "fallback_endpoint_id");
    // AND c is as it was
    let stored = service.get_endpoint(&acme(), &c).await.unwrap();
    assert_eq!((stored.version, stored.fallback_endpoint_id), (1, None));
}

#[tokio::test]
async fn an_endpoint_named_as_a_fallback_cannot_be_deleted() {
    let service = monday_service();
    let (primary, backup) = primary_and_backup(&service).await;

    // WHEN the fallback is deleted THEN it is a conflict naming the endpoint that names it
    match service.delete_endpoint(&acme(), &backup).await {
        Err(ServiceError::Conflict(message)) => {
            assert!(message.contains(primary.as_str()), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(service.get_endpoint(&acme(), &backup).await.is_ok());
    // WHEN the primary is deleted first THEN the fallback can be deleted too
    service.delete_endpoint(&acme(), &primary).await.unwrap();
    service.delete_endpoint(&acme(), &backup).await.unwrap();
}

#[tokio::test]
async fn a_dead_delivery_gets_one_fallback_delivery_linked_both_ways() {
    let service = monday_service();
    let backup_port = answering_receiver(200).await;
    let backup = endpoint_at(&service, &acme(), "backup", backup_port, json!({})).await;
    let primary = endpoint(
        &service,
        "primary",
        json!({"fallback_endpoint_id": backup.as_str()}),
    )
    .await;
    let (alert_id, dead_id) = alert_for(&service, &primary).await;
    take_queued_tasks(&service).await;

    // WHEN the primary's delivery dies
    dies(&service, &dead_id).await;

    // THEN the dead delivery names a new pending delivery of the same alert to the backup, which names it
    let dead = stored_delivery(&service, &acme(), &dead_id).await;
    assert_eq!(dead.status, DeliveryStatus::Dead);
    let fallback_id = dead
        .fallback_delivery_id
        .clone()
        .expect("a fallback delivery");
    let fallback = stored_delivery(&service, &acme(), &fallback_id).await;
    assert_eq!(fallback.fallback_of.as_ref(), Some(&dead_id));
    assert_eq!(
        (&fallback.alert_id, &fallback.endpoint_id, fallback.status),
        (&alert_id, &backup, DeliveryStatus::Pending)
    );
    // AND its task is queued
    assert_eq!(
        take_queued_tasks(&service).await,
        vec![Task::deliver(
            acme(),
            fallback_id.clone(),
            0,
            backup.clone()
        )]
    );

    // WHEN the death is handled again (a repeated record of the same run)
    handled_again(&service, &dead_id).await;
    // THEN no second fallback is made
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 3);
    assert!(take_queued_tasks(&service).await.is_empty());

    // WHEN the fallback is attempted THEN the backup receives it and it is delivered
    service
        .attempt_delivery(&received(&acme(), &fallback_id, 0, 1))
        .await
        .unwrap();
    let fallback = stored_delivery(&service, &acme(), &fallback_id).await;
    assert_eq!(fallback.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn a_death_recorded_just_before_a_crash_gets_its_fallback_when_the_task_comes_back() {
    let service = monday_service();
    let (primary, _backup) = primary_and_backup(&service).await;
    let (_, dead_id) = alert_for(&service, &primary).await;
    take_queued_tasks(&service).await;
    // GIVEN the death recorded, and the process stopped before anything followed it
    let change = StatusChange {
        status: DeliveryStatus::Dead,
        reason: Some("all 10 attempts failed"),
        next_attempt_at: None,
    };
    assert!(
        service
            .ports
            .deliveries
            .update_delivery(&acme(), &dead_id, 0, None, change)
            .await
            .unwrap()
    );
    // (the alert went to both endpoints)
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 2);

    // WHEN its task of that run is received again (its lease ran out)
    let disposition = service
        .attempt_delivery(&received(&acme(), &dead_id, 0, 10))
        .await
        .unwrap();

    // THEN the task ends and the fallback is made, once
    assert_eq!(disposition, Disposition::Done);
    let dead = stored_delivery(&service, &acme(), &dead_id).await;
    assert!(dead.fallback_delivery_id.is_some(), "{dead:?}");
    service
        .attempt_delivery(&received(&acme(), &dead_id, 0, 10))
        .await
        .unwrap();
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 3);
}

#[tokio::test]
async fn a_resend_of_the_dead_delivery_makes_no_second_fallback_for_the_same_run() {
    let service = monday_service();
    let (primary, backup) = primary_and_backup(&service).await;
    let (_, dead_id) = alert_for(&service, &primary).await;
    dies(&service, &dead_id).await;
    let first = stored_delivery(&service, &acme(), &dead_id)
        .await
        .fallback_delivery_id;

    // WHEN the dead delivery is resent, and the old run's death is handled again
    service.resend(&acme(), &dead_id).await.unwrap();
    handled_again(&service, &dead_id).await;

    // THEN there is still one fallback, and the link is unchanged
    let to_backup = stored_deliveries(&service, &acme())
        .await
        .into_iter()
        .filter(|d| d.endpoint_id == backup)
        .count();
    assert_eq!(
        to_backup, 2,
        "the alert's own delivery to the backup and one fallback"
    );
    assert_eq!(
        stored_delivery(&service, &acme(), &dead_id)
            .await
            .fallback_delivery_id,
        first
    );
}

#[tokio::test]
async fn a_dead_fallback_follows_its_own_endpoints_fallback_to_the_end_of_the_chain() {
    let service = monday_service();
    let c = endpoint(&service, "c", json!({})).await;
    let b = endpoint(&service, "b", json!({"fallback_endpoint_id": c.as_str()})).await;
    let a = endpoint(&service, "a", json!({"fallback_endpoint_id": b.as_str()})).await;
    let (_, at_a) = alert_for(&service, &a).await;

    // WHEN the delivery to a dies, then its fallback to b, then b's fallback to c
    dies(&service, &at_a).await;
    let at_b = stored_delivery(&service, &acme(), &at_a)
        .await
        .fallback_delivery_id
        .unwrap();
    dies(&service, &at_b).await;
    let at_c = stored_delivery(&service, &acme(), &at_b)
        .await
        .fallback_delivery_id
        .unwrap();
    dies(&service, &at_c).await;

    // THEN each stands in for the one before, and c, the end of the chain, has no fallback
    let b_delivery = stored_delivery(&service, &acme(), &at_b).await;
    let c_delivery = stored_delivery(&service, &acme(), &at_c).await;
    assert_eq!(
        (&b_delivery.endpoint_id, b_delivery.fallback_of.as_ref()),
        (&b, Some(&at_a))
    );
    assert_eq!(
        (&c_delivery.endpoint_id, c_delivery.fallback_of.as_ref()),
        (&c, Some(&at_b))
    );
    assert_eq!(c_delivery.status, DeliveryStatus::Dead);
    assert_eq!(c_delivery.fallback_delivery_id, None);
}

#[tokio::test]
async fn a_delivery_gone_with_its_endpoint_or_filtered_makes_no_fallback() {
    let service = monday_service();
    let (primary, _) = primary_and_backup(&service).await;
    let (_, delivery) = alert_for(&service, &primary).await;

    // WHEN a death is handled that is not of its attempts (its endpoint or alert gone)
    service
        .after_death(
            &acme(),
            &delivery,
            0,
            &Decision::Gone {
                reason: "the endpoint was deleted".into(),
            },
        )
        .await
        .unwrap();
    // THEN nothing is made (and a pending delivery makes none either)
    dies(&service, &DeliveryId::from("msg_unknown")).await;
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 2);
    assert_eq!(
        stored_delivery(&service, &acme(), &delivery)
            .await
            .fallback_delivery_id,
        None
    );
}
