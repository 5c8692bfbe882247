//! Unit tests of operational alerts on the in-memory wiring: the setting's refusal, which events become an
//! alert to the operations endpoint only, and the debounce of `endpoint.failing` on the clock.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::delivery::Delivery;
use crate::delivery::decide::Decision;
use crate::service::in_memory::{
    PAST_THE_LIMIT, accepted_alert_to, answering_receiver, closed_port, endpoint_at,
    monday_morning, monday_service, received, service, stored_deliveries,
};

fn acme() -> TenantId {
    TenantId::from("acme")
}

/// GIVEN acme's endpoints `ops` (named in the settings) and `pager`, both to closed ports.
async fn with_operations(service: &Service) -> (EndpointId, EndpointId) {
    let ops = endpoint_at(service, &acme(), "ops", closed_port(), json!({})).await;
    let pager = endpoint_at(service, &acme(), "pager", closed_port(), json!({})).await;
    service
        .put_settings(&acme(), &json!({"operations_endpoint_id": ops.as_str()}))
        .await
        .unwrap();
    (ops, pager)
}

/// The deliveries of operational alerts (to whatever endpoint), with their alerts' content.
async fn operational(service: &Service) -> Vec<(Delivery, crate::alert::Alert)> {
    let mut found = Vec::new();
    for delivery in stored_deliveries(service, &acme()).await {
        let alert = service
            .ports
            .alerts
            .get_alert(&acme(), &delivery.alert_id)
            .await
            .unwrap()
            .unwrap();
        if alert.content.source.as_deref() == Some(OPERATIONS_SOURCE) {
            found.push((delivery, alert));
        }
    }
    found
}

/// GIVEN an alert accepted for acme: its delivery to `endpoint`.
async fn delivery_to(service: &Service, endpoint: &EndpointId) -> DeliveryId {
    accepted_alert_to(service, &acme(), endpoint).await.1
}

#[tokio::test]
async fn the_operations_endpoint_must_be_one_of_the_tenants_endpoints() {
    let service = monday_service();
    let theirs = endpoint_at(&service, &TenantId::from("globex"), "x", 9, json!({})).await;
    for id in ["ep_nope", theirs.as_str()] {
        let answer = service
            .put_settings(&acme(), &json!({"operations_endpoint_id": id}))
            .await;
        match answer {
            Err(ServiceError::Input(e)) => assert_eq!(e.field, "operations_endpoint_id"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        service.get_settings(&acme()).await.unwrap(),
        TenantSettings::default()
    );
}

#[tokio::test]
async fn a_dead_delivery_is_told_once_and_only_to_the_operations_endpoint() {
    let service = monday_service();
    let (ops, pager) = with_operations(&service).await;
    let dead = delivery_to(&service, &pager).await;

    // WHEN the delivery to the pager dies, and its death is handled once more
    service
        .attempt_delivery(&received(&acme(), &dead, 0, PAST_THE_LIMIT))
        .await
        .unwrap();
    let again = Decision::Dead {
        reason: "again".into(),
    };
    service
        .after_death(&acme(), &dead, 0, &again)
        .await
        .unwrap();

    // THEN one operational alert exists, from alertwire, about the pager, delivered only to ops
    let found = operational(&service).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let (delivery, alert) = &found[0];
    assert_eq!(delivery.endpoint_id, ops);
    assert_eq!(alert.content.context["event"], "delivery.dead");
    assert_eq!(alert.content.context["endpoint_id"], pager.as_str());
    assert_eq!(alert.content.context["delivery_id"], dead.as_str());
}

#[tokio::test]
async fn a_dead_delivery_to_the_operations_endpoint_tells_nobody() {
    let service = monday_service();
    let (ops, _) = with_operations(&service).await;
    let dead = delivery_to(&service, &ops).await;

    service
        .attempt_delivery(&received(&acme(), &dead, 0, PAST_THE_LIMIT))
        .await
        .unwrap();

    assert!(operational(&service).await.is_empty());
}

#[tokio::test]
async fn a_410_tells_the_death_and_the_disable() {
    let service = monday_service();
    let port = answering_receiver(410).await;
    let ops = endpoint_at(&service, &acme(), "ops", closed_port(), json!({})).await;
    service
        .put_settings(&acme(), &json!({"operations_endpoint_id": ops.as_str()}))
        .await
        .unwrap();
    let gone = endpoint_at(&service, &acme(), "gone", port, json!({})).await;
    let delivery = delivery_to(&service, &gone).await;

    service
        .attempt_delivery(&received(&acme(), &delivery, 0, 1))
        .await
        .unwrap();

    let mut events: Vec<String> = operational(&service)
        .await
        .iter()
        .map(|(_, a)| a.content.context["event"].as_str().unwrap().to_string())
        .collect();
    events.sort();
    assert_eq!(events, ["delivery.dead", "endpoint.disabled"]);
}

#[tokio::test]
async fn failing_is_told_at_most_once_an_hour_per_endpoint_and_never_about_ops_itself() {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let (ops, pager) = with_operations(&service).await;
    let failing = |endpoint: &EndpointId| OperationsEvent::EndpointFailing {
        endpoint_id: endpoint.clone(),
        last_error: Some("timeout".into()),
    };

    // WHEN the pager fails, again 59 minutes later, then an hour after the first
    assert!(
        service
            .notify_operations(&acme(), failing(&pager))
            .await
            .unwrap()
    );
    clock.advance(chrono::Duration::minutes(59));
    assert!(
        !service
            .notify_operations(&acme(), failing(&pager))
            .await
            .unwrap()
    );
    clock.advance(chrono::Duration::minutes(1));
    assert!(
        service
            .notify_operations(&acme(), failing(&pager))
            .await
            .unwrap()
    );
    // AND the ops endpoint itself fails, and recovers
    assert!(
        !service
            .notify_operations(&acme(), failing(&ops))
            .await
            .unwrap()
    );
    let recovered = OperationsEvent::EndpointRecovered {
        endpoint_id: ops.clone(),
    };
    assert!(!service.notify_operations(&acme(), recovered).await.unwrap());

    // THEN two alerts were accepted, both to ops
    let found = operational(&service).await;
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|(d, _)| d.endpoint_id == ops));
    assert_eq!(clock.now(), monday_morning() + FAILING_DEBOUNCE);
}

#[tokio::test]
async fn without_an_operations_endpoint_nothing_is_told() {
    let service = monday_service();
    let pager = endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;
    let recovered = OperationsEvent::EndpointRecovered { endpoint_id: pager };
    assert!(!service.notify_operations(&acme(), recovered).await.unwrap());
    assert!(stored_deliveries(&service, &acme()).await.is_empty());
}

#[tokio::test]
async fn an_operational_alert_dying_at_a_fallback_tells_nothing_more() {
    let service = monday_service();
    // GIVEN ops falls back to spare, and both are down
    let spare = endpoint_at(&service, &acme(), "spare", closed_port(), json!({})).await;
    let ops = endpoint_at(
        &service,
        &acme(),
        "ops",
        closed_port(),
        json!({"fallback_endpoint_id": spare.as_str()}),
    )
    .await;
    let pager = endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;
    service
        .put_settings(&acme(), &json!({"operations_endpoint_id": ops.as_str()}))
        .await
        .unwrap();
    let dead = delivery_to(&service, &pager).await;

    // WHEN the pager's delivery dies, then the operational alert's at ops, then its fallback at spare
    let dies = |id: DeliveryId| {
        let service = &service;
        async move {
            service
                .attempt_delivery(&received(&acme(), &id, 0, PAST_THE_LIMIT))
                .await
                .unwrap();
        }
    };
    dies(dead).await;
    let told = operational(&service).await;
    assert_eq!(told.len(), 1);
    dies(told[0].0.id.clone()).await;
    let at_spare = operational(&service)
        .await
        .into_iter()
        .find(|(d, _)| d.endpoint_id == spare)
        .expect("the operational alert's fallback")
        .0;
    dies(at_spare.id).await;

    // THEN only the one operational alert exists (its delivery to ops and the fallback to spare)
    let alerts: std::collections::BTreeSet<_> = operational(&service)
        .await
        .into_iter()
        .map(|(_, a)| a.id)
        .collect();
    assert_eq!(alerts.len(), 1);
}
