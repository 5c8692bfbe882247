//! Unit tests of accepting alerts and source notifications, on the in-memory wiring.

use serde_json::json;

use super::*;
use crate::alert_sources::alertmanager;
use crate::ids::EndpointId;
use crate::service::in_memory::{
    closed_port, endpoint_at, monday_morning, monday_service, stored_deliveries, take_queued_tasks,
};

fn acme() -> TenantId {
    TenantId::from("acme")
}

/// The stored delivery of the receipt's alert to `endpoint`.
async fn delivery_to(service: &Service, receipt: &AlertReceipt, endpoint: &EndpointId) -> Delivery {
    let (delivery_id, _) = receipt
        .deliveries
        .iter()
        .find(|(_, e)| e == endpoint)
        .unwrap();
    service
        .ports
        .deliveries
        .get_delivery(&acme(), delivery_id)
        .await
        .unwrap()
        .unwrap()
}

/// The first run's task for `delivery`.
fn task_for(delivery: &Delivery) -> Task {
    Task::deliver(
        delivery.tenant.clone(),
        delivery.id.clone(),
        0,
        delivery.endpoint_id.clone(),
    )
}

#[tokio::test]
async fn an_alert_gets_one_pending_delivery_per_endpoint_each_queued() {
    let service = monday_service();
    // GIVEN two endpoints
    let pager = endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;
    let chat = endpoint_at(&service, &acme(), "chat", closed_port(), json!({})).await;

    // WHEN an alert is accepted
    let receipt = service
        .accept_alert(&acme(), &json!({"title": "cpu high"}), None)
        .await
        .unwrap();

    // THEN it has a pending delivery to each, received at the clock's time, and a task for each is queued
    assert_eq!(receipt.deliveries.len(), 2);
    let to_pager = delivery_to(&service, &receipt, &pager).await;
    let to_chat = delivery_to(&service, &receipt, &chat).await;
    for delivery in [&to_pager, &to_chat] {
        assert_eq!(delivery.status, DeliveryStatus::Pending);
        assert_eq!(delivery.alert_id, receipt.alert_id);
        assert_eq!(delivery.created_at, monday_morning());
    }
    let mut queued = take_queued_tasks(&service).await;
    queued.sort_by(|a, b| a.delivery_id().as_str().cmp(b.delivery_id().as_str()));
    let mut expected = vec![task_for(&to_pager), task_for(&to_chat)];
    expected.sort_by(|a, b| a.delivery_id().as_str().cmp(b.delivery_id().as_str()));
    assert_eq!(queued, expected);
}

#[tokio::test]
async fn an_alert_without_endpoints_is_accepted_with_no_delivery() {
    let service = monday_service();

    // WHEN an alert is accepted by a tenant with no endpoint
    let receipt = service
        .accept_alert(&acme(), &json!({"title": "cpu high"}), None)
        .await
        .unwrap();

    // THEN it is stored, with no delivery and nothing queued
    assert!(receipt.deliveries.is_empty());
    let alert = service
        .ports
        .alerts
        .get_alert(&acme(), &receipt.alert_id)
        .await
        .unwrap();
    assert!(alert.is_some());
    assert!(take_queued_tasks(&service).await.is_empty());
}

#[tokio::test]
async fn an_alert_below_the_minimum_severity_is_filtered_and_not_queued() {
    let service = monday_service();
    // GIVEN an endpoint that wants high alerts and above
    let extra = json!({"min_severity": "high"});
    let pager = endpoint_at(&service, &acme(), "pager", closed_port(), extra).await;

    // WHEN a medium alert is accepted
    let body = json!({"title": "disk filling", "severity": "medium"});
    let receipt = service.accept_alert(&acme(), &body, None).await.unwrap();

    // THEN its delivery is filtered, saying why, and nothing is queued
    let delivery = delivery_to(&service, &receipt, &pager).await;
    assert_eq!(delivery.status, DeliveryStatus::Filtered);
    assert_eq!(
        delivery.status_reason.as_deref(),
        Some("severity medium is below the endpoint's minimum high")
    );
    assert!(take_queued_tasks(&service).await.is_empty());
}

#[tokio::test]
async fn an_alert_at_the_minimum_severity_is_sent() {
    let service = monday_service();
    // GIVEN an endpoint that wants high alerts and above
    let extra = json!({"min_severity": "high"});
    let pager = endpoint_at(&service, &acme(), "pager", closed_port(), extra).await;

    // WHEN a high alert is accepted THEN its delivery is pending
    let body = json!({"title": "disk full", "severity": "high"});
    let receipt = service.accept_alert(&acme(), &body, None).await.unwrap();
    let delivery = delivery_to(&service, &receipt, &pager).await;
    assert_eq!(delivery.status, DeliveryStatus::Pending);
}

#[tokio::test]
async fn an_alert_of_a_message_type_switched_off_is_filtered() {
    let service = monday_service();
    // GIVEN an endpoint that sends nothing for `ok` messages
    let extra = json!({"message_types": {"ok": null}});
    let pager = endpoint_at(&service, &acme(), "pager", closed_port(), extra).await;

    // WHEN an `ok` alert is accepted
    let body = json!({"title": "cpu fine again", "message_type": "ok"});
    let receipt = service.accept_alert(&acme(), &body, None).await.unwrap();

    // THEN its delivery is filtered, naming the message type, and nothing is queued
    let delivery = delivery_to(&service, &receipt, &pager).await;
    assert_eq!(delivery.status, DeliveryStatus::Filtered);
    assert_eq!(
        delivery.status_reason.as_deref(),
        Some("the endpoint sends nothing for `ok` messages")
    );
    assert!(take_queued_tasks(&service).await.is_empty());
}

#[tokio::test]
async fn an_alert_to_a_disabled_endpoint_is_filtered_beside_the_enabled_one() {
    let service = monday_service();
    // GIVEN a disabled endpoint and an enabled one
    let extra = json!({"enabled": false});
    let off = endpoint_at(&service, &acme(), "off", closed_port(), extra).await;
    let on = endpoint_at(&service, &acme(), "on", closed_port(), json!({})).await;

    // WHEN an alert is accepted
    let receipt = service
        .accept_alert(&acme(), &json!({"title": "cpu high"}), None)
        .await
        .unwrap();

    // THEN the disabled one's delivery is filtered, and only the enabled one's is queued
    let filtered = delivery_to(&service, &receipt, &off).await;
    assert_eq!(filtered.status, DeliveryStatus::Filtered);
    assert_eq!(
        filtered.status_reason.as_deref(),
        Some("the endpoint is disabled: disabled by the user")
    );
    let pending = delivery_to(&service, &receipt, &on).await;
    assert_eq!(take_queued_tasks(&service).await, vec![task_for(&pending)]);
}

#[tokio::test]
async fn a_repeat_with_the_same_key_and_body_gets_the_first_receipt() {
    let service = monday_service();
    endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;
    let body = json!({"title": "cpu high"});
    // GIVEN an alert accepted under an Idempotency-Key
    let first = service
        .accept_alert(&acme(), &body, Some("key-1"))
        .await
        .unwrap();

    // WHEN the same request is repeated
    let repeat = service
        .accept_alert(&acme(), &body, Some("key-1"))
        .await
        .unwrap();

    // THEN it gets the same receipt, and neither a second delivery nor a second task exists
    assert_eq!(repeat, first);
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 1);
    assert_eq!(take_queued_tasks(&service).await.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_conflict_that_writes_nothing() {
    let service = monday_service();
    endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;
    // GIVEN an alert accepted under an Idempotency-Key
    let first = json!({"title": "cpu high"});
    service
        .accept_alert(&acme(), &first, Some("key-1"))
        .await
        .unwrap();

    // WHEN another body comes with the same key
    let other = json!({"title": "disk full"});
    let answer = service.accept_alert(&acme(), &other, Some("key-1")).await;

    // THEN it is a conflict, and only the first alert's delivery exists
    assert!(
        matches!(answer, Err(ServiceError::Conflict(_))),
        "{answer:?}"
    );
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 1);
}

#[tokio::test]
async fn the_same_key_in_another_tenant_is_another_alert() {
    let service = monday_service();
    let body = json!({"title": "cpu high"});
    // GIVEN acme used a key
    let acme_receipt = service
        .accept_alert(&acme(), &body, Some("key-1"))
        .await
        .unwrap();

    // WHEN another tenant uses the same key THEN it gets its own alert
    let other = TenantId::from("globex");
    let other_receipt = service
        .accept_alert(&other, &body, Some("key-1"))
        .await
        .unwrap();
    assert_ne!(other_receipt.alert_id, acme_receipt.alert_id);
}

#[tokio::test]
async fn an_invalid_alert_is_refused_naming_the_field_and_writes_nothing() {
    let service = monday_service();
    endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;

    // WHEN an alert with an unknown severity is sent
    let body = json!({"title": "cpu high", "severity": "apocalyptic"});
    let answer = service.accept_alert(&acme(), &body, Some("key-1")).await;

    // THEN it is refused on `severity`, and no delivery or task exists
    match answer {
        Err(ServiceError::Input(e)) => assert_eq!(e.field, "severity"),
        other => panic!("expected an input error, got {other:?}"),
    }
    assert!(stored_deliveries(&service, &acme()).await.is_empty());
    assert!(take_queued_tasks(&service).await.is_empty());
}

/// An Alertmanager notification of two firing alerts.
fn alertmanager_notification() -> Value {
    let alert = |name: &str, fingerprint: &str| {
        json!({"status": "firing", "labels": {"alertname": name, "severity": "critical"},
               "annotations": {}, "startsAt": "2026-01-05T08:59:00Z", "fingerprint": fingerprint})
    };
    json!({"version": "4", "status": "firing", "receiver": "r", "externalURL": "http://am.example.org:9093",
           "alerts": [alert("CpuHigh", "aa11"), alert("DiskFull", "bb22")]})
}

#[tokio::test]
async fn a_notification_gives_each_of_its_alerts_a_queued_delivery() {
    let service = monday_service();
    endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;
    let alerts = alertmanager::alerts_from_json(&alertmanager_notification()).unwrap();

    // WHEN an Alertmanager notification of two alerts is accepted
    let receipts = service
        .accept_source_alerts(&acme(), alerts, None)
        .await
        .unwrap();

    // THEN each alert has its own delivery, and both are queued
    assert_eq!(receipts.len(), 2);
    assert_ne!(receipts[0].alert_id, receipts[1].alert_id);
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 2);
    assert_eq!(take_queued_tasks(&service).await.len(), 2);
}

#[tokio::test]
async fn a_repeated_notification_answers_its_first_receipts_and_adds_nothing() {
    let service = monday_service();
    endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;
    let alerts = || alertmanager::alerts_from_json(&alertmanager_notification()).unwrap();
    // GIVEN a notification was accepted
    let first = service
        .accept_source_alerts(&acme(), alerts(), None)
        .await
        .unwrap();

    // WHEN Alertmanager sends it again
    let repeat = service
        .accept_source_alerts(&acme(), alerts(), None)
        .await
        .unwrap();

    // THEN the answer is the first one, and no delivery or task was added
    assert_eq!(repeat, first);
    assert_eq!(stored_deliveries(&service, &acme()).await.len(), 2);
    assert_eq!(take_queued_tasks(&service).await.len(), 2);
}

/// The endpoints the receipt's deliveries go to, sorted.
fn receipt_endpoints(receipt: &AlertReceipt) -> Vec<EndpointId> {
    let mut endpoints: Vec<EndpointId> =
        receipt.deliveries.iter().map(|(_, e)| e.clone()).collect();
    endpoints.sort();
    endpoints
}

#[tokio::test]
async fn an_alert_gets_deliveries_only_to_the_endpoints_whose_matchers_hold() {
    let service = monday_service();
    // GIVEN an endpoint per team, and one without matchers
    let db = endpoint_at(
        &service,
        &acme(),
        "db",
        closed_port(),
        json!({"matchers": ["team=\"db\""]}),
    )
    .await;
    let web = endpoint_at(
        &service,
        &acme(),
        "web",
        closed_port(),
        json!({"matchers": ["team=\"web\"", "severity=~\"high|critical\""]}),
    )
    .await;
    let tracker = endpoint_at(&service, &acme(), "tracker", closed_port(), json!({})).await;

    // WHEN a database alert is accepted
    let receipt = service
        .accept_alert(
            &acme(),
            &json!({"title": "replica lag", "severity": "high", "tags": ["team=db"]}),
            None,
        )
        .await
        .unwrap();

    // THEN only the database endpoint and the catch-all get a delivery and a task; the web one gets none
    let mut expected = vec![db, tracker];
    expected.sort();
    assert_eq!(receipt_endpoints(&receipt), expected);
    assert_eq!(take_queued_tasks(&service).await.len(), 2);
    assert!(
        stored_deliveries(&service, &acme())
            .await
            .iter()
            .all(|d| d.endpoint_id != web)
    );
}

#[tokio::test]
async fn an_alert_naming_endpoints_reaches_only_those_whose_filters_also_hold() {
    let service = monday_service();
    let db = endpoint_at(
        &service,
        &acme(),
        "db",
        closed_port(),
        json!({"matchers": ["team=\"db\""]}),
    )
    .await;
    let web = endpoint_at(
        &service,
        &acme(),
        "web",
        closed_port(),
        json!({"matchers": ["team=\"web\""]}),
    )
    .await;
    let _tracker = endpoint_at(&service, &acme(), "tracker", closed_port(), json!({})).await;
    let quiet = endpoint_at(
        &service,
        &acme(),
        "quiet",
        closed_port(),
        json!({"min_severity": "critical"}),
    )
    .await;

    // WHEN a database alert names the web endpoint by name, and the others by id
    let body = json!({"title": "replica lag", "tags": ["team=db"],
                      "endpoints": ["web", db.as_str(), quiet.as_str()]});
    let receipt = service.accept_alert(&acme(), &body, None).await.unwrap();

    // THEN the tracker is not considered, web's matcher excludes it, and the quiet one filters it by severity
    let mut expected = vec![db.clone(), quiet.clone()];
    expected.sort();
    assert_eq!(receipt_endpoints(&receipt), expected);
    assert_eq!(
        delivery_to(&service, &receipt, &quiet).await.status,
        DeliveryStatus::Filtered
    );
    assert_eq!(
        delivery_to(&service, &receipt, &db).await.status,
        DeliveryStatus::Pending
    );
    assert!(receipt.deliveries.iter().all(|(_, e)| *e != web));
}

#[tokio::test]
async fn an_unknown_named_endpoint_is_refused_with_nothing_written() {
    let service = monday_service();
    endpoint_at(&service, &acme(), "db", closed_port(), json!({})).await;

    // WHEN an alert names an endpoint the tenant does not have
    let body = json!({"title": "cpu", "endpoints": ["db", "dba"]});
    let error = service
        .accept_alert(&acme(), &body, None)
        .await
        .unwrap_err();

    // THEN it is refused naming the entry, and nothing is stored or queued
    let ServiceError::Input(error) = error else {
        panic!("expected an input error, got {error:?}");
    };
    assert_eq!(error.field, "endpoints[1]");
    assert!(stored_deliveries(&service, &acme()).await.is_empty());
    assert!(take_queued_tasks(&service).await.is_empty());
}

#[tokio::test]
async fn a_bad_matcher_is_refused_at_save_naming_it() {
    let service = monday_service();
    for (matchers, field) in [
        (json!(["team=\"db\"", "env=~\"(prod\""]), "matchers[1]"),
        (json!(["team=\"db"]), "matchers[0]"),
        (json!(["team"]), "matchers[0]"),
        (json!("team=\"db\""), "matchers"),
        (json!([7]), "matchers[0]"),
    ] {
        let body = json!({"name": "db", "url": "http://127.0.0.1:9/hook", "matchers": matchers});
        let Err(ServiceError::Input(error)) = service.create_endpoint(&acme(), &body).await else {
            panic!("{matchers} was accepted");
        };
        assert_eq!(error.field, field, "{matchers}");
    }
    assert!(
        service
            .ports
            .endpoints
            .list_endpoints(&acme())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn matchers_are_kept_in_their_canonical_form() {
    let service = monday_service();
    let id = endpoint_at(
        &service,
        &acme(),
        "db",
        closed_port(),
        json!({"matchers": ["team = db", "env=~\"prod|staging\""]}),
    )
    .await;
    let stored = service
        .ports
        .endpoints
        .get_endpoint(&acme(), &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.matchers, ["team=\"db\"", "env=~\"prod|staging\""]);
}

#[tokio::test]
async fn an_unrouted_alert_goes_to_the_default_endpoint_and_is_kept_as_unrouted() {
    let service = monday_service();
    // GIVEN a database endpoint, and a ticket tracker whose own matcher takes nothing, as default endpoint
    let db = endpoint_at(
        &service,
        &acme(),
        "db",
        closed_port(),
        json!({"matchers": ["team=\"db\""]}),
    )
    .await;
    let tickets = endpoint_at(
        &service,
        &acme(),
        "tickets",
        closed_port(),
        json!({"matchers": ["team=\"nobody\""]}),
    )
    .await;
    let web_alert = json!({"title": "5xx rate", "tags": ["team=web"]});

    // WHEN a web alert is accepted before and after the tracker is made the default endpoint
    let before = service
        .accept_alert(&acme(), &web_alert, None)
        .await
        .unwrap();
    service
        .put_settings(&acme(), &json!({"default_endpoint_id": tickets.as_str()}))
        .await
        .unwrap();
    let after = service
        .accept_alert(&acme(), &web_alert, None)
        .await
        .unwrap();
    let routed = service
        .accept_alert(&acme(), &json!({"title": "lag", "tags": ["team=db"]}), None)
        .await
        .unwrap();

    // THEN before, it reached nothing; after, only the default endpoint; both are unrouted, and an alert
    // that routing takes does not reach the default endpoint
    assert!(before.unrouted && before.deliveries.is_empty());
    assert!(after.unrouted);
    assert_eq!(receipt_endpoints(&after), vec![tickets.clone()]);
    assert!(!routed.unrouted);
    assert_eq!(receipt_endpoints(&routed), vec![db]);
    let stored = service
        .ports
        .alerts
        .get_alert(&acme(), &after.alert_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.routing,
        Some(RoutingOutcome {
            endpoints: 1,
            unrouted: true
        })
    );

    // AND both are listed as unrouted, newest first; the routed one is not
    let unrouted: Vec<AlertId> = service
        .list_unrouted(&acme(), None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(unrouted, [after.alert_id.clone(), before.alert_id.clone()]);

    // AND the default endpoint cannot be deleted while the setting names it
    assert!(matches!(
        service.delete_endpoint(&acme(), &tickets).await,
        Err(ServiceError::Conflict(m)) if m.contains("default_endpoint_id")
    ));
}

/// The embedded database as an alert store, counting the alerts marked enqueued.
struct CountedMarks {
    database: crate::embedded::Database,
    marks: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crate::ports::store::AlertStore for CountedMarks {
    async fn record_alert(
        &self,
        record: AlertRecord<'_>,
    ) -> Result<RecordOutcome, crate::ports::store::StoreError> {
        self.database.record_alert(record).await
    }

    async fn is_recorded(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<bool, crate::ports::store::StoreError> {
        self.database.is_recorded(tenant, key).await
    }

    async fn mark_enqueued(
        &self,
        tenant: &TenantId,
        alert_id: &AlertId,
    ) -> Result<(), crate::ports::store::StoreError> {
        self.marks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.database.mark_enqueued(tenant, alert_id).await
    }

    async fn get_alert(
        &self,
        tenant: &TenantId,
        id: &AlertId,
    ) -> Result<Option<Alert>, crate::ports::store::StoreError> {
        self.database.get_alert(tenant, id).await
    }

    async fn list_unrouted(
        &self,
        tenant: &TenantId,
        before: Option<&AlertId>,
        limit: usize,
    ) -> Result<Vec<Alert>, crate::ports::store::StoreError> {
        self.database.list_unrouted(tenant, before, limit).await
    }
}

#[tokio::test]
async fn only_an_alert_under_an_idempotency_key_is_marked_enqueued() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // GIVEN a store beside a queue of its own (as DynamoDB beside SQS): the service sends the tasks
    let database = crate::embedded::Database::in_memory().unwrap();
    let alerts = Arc::new(CountedMarks {
        database: database.clone(),
        marks: AtomicUsize::new(0),
    });
    let mut service = monday_service();
    service.ports.alerts = alerts.clone();
    service.ports.deliveries = Arc::new(database.clone());
    service.ports.endpoints = Arc::new(database);
    endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;

    // WHEN an alert is accepted without a key THEN its task is sent, and nothing marks it
    service
        .accept_alert(&acme(), &json!({"title": "cpu high"}), None)
        .await
        .unwrap();
    assert_eq!(take_queued_tasks(&service).await.len(), 1);
    assert_eq!(alerts.marks.load(Ordering::SeqCst), 0);

    // WHEN one is accepted under a key THEN it is marked, and its repeat sends nothing again
    let body = json!({"title": "disk full"});
    service
        .accept_alert(&acme(), &body, Some("key-1"))
        .await
        .unwrap();
    assert_eq!(take_queued_tasks(&service).await.len(), 1);
    assert_eq!(alerts.marks.load(Ordering::SeqCst), 1);
    service
        .accept_alert(&acme(), &body, Some("key-1"))
        .await
        .unwrap();
    assert!(take_queued_tasks(&service).await.is_empty());
}
