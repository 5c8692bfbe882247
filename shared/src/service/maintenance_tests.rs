//! Unit tests of maintenance windows in the use cases, on the in-memory wiring with a clock the test moves:
//! errors held during a window without an attempt, oks sent, and once the window is over the errors whose
//! incident was resolved meanwhile filtered, the others delivered.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::clock::ManualClock;
use crate::delivery::DeliveryStatus;
use crate::delivery::decide::Disposition;
use crate::ids::DeliveryId;
use crate::service::in_memory::{
    accepted_delivery, answering_receiver, attempted_first, endpoint_at, monday_morning, service,
    stored_delivery,
};

fn acme() -> TenantId {
    TenantId::from("acme")
}

/// GIVEN a service whose clock the test moves, an endpoint `db` answering 200, and a window over it from a
/// minute ago for an hour.
async fn db_in_maintenance() -> (Service, Arc<ManualClock>, EndpointId) {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock.clone());
    let port = answering_receiver(200).await;
    let db = endpoint_at(&service, &acme(), "db", port, json!({})).await;
    let now = monday_morning();
    service
        .create_maintenance_window(
            &acme(),
            &json!({"name": "upgrade", "endpoint_id": db.as_str(),
                "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end": (now + chrono::Duration::hours(1)).to_rfc3339()}),
        )
        .await
        .unwrap();
    (service, clock, db)
}

/// WHEN an alert is accepted: its delivery (the only one).
async fn accepted(service: &Service, alert: Value) -> DeliveryId {
    accepted_delivery(service, &acme(), &alert).await
}

async fn attempted(service: &Service, delivery: &DeliveryId) -> Disposition {
    attempted_first(service, &acme(), delivery).await
}

#[tokio::test]
async fn errors_wait_for_the_window_oks_go_and_a_resolved_incident_sends_only_its_ok() {
    let (service, clock, _db) = db_in_maintenance().await;
    let resolved = accepted(
        &service,
        json!({"title": "db-1 down", "incident_key": "db-1"}),
    )
    .await;
    let open = accepted(
        &service,
        json!({"title": "db-2 down", "incident_key": "db-2"}),
    )
    .await;

    // WHEN the errors are attempted in the window THEN they are held until its end, without an attempt
    for error in [&resolved, &open] {
        match attempted(&service, error).await {
            Disposition::Hold(wait) => {
                assert!(wait >= Duration::from_secs(3600 - 60), "{wait:?}");
                assert!(wait <= Duration::from_secs(3601), "{wait:?}");
            }
            other => panic!("expected a hold, got {other:?}"),
        }
        let held = stored_delivery(&service, &acme(), error).await;
        assert_eq!(
            (held.status, held.attempts.len()),
            (DeliveryStatus::Pending, 0)
        );
    }
    // WHEN db-1's ok comes in the window THEN it is sent at once
    let ok = accepted(
        &service,
        json!({"title": "db-1 fine", "message_type": "ok", "incident_key": "db-1"}),
    )
    .await;
    attempted(&service, &ok).await;
    assert_eq!(
        stored_delivery(&service, &acme(), &ok).await.status,
        DeliveryStatus::Delivered
    );

    // WHEN the window is over
    clock.advance(chrono::Duration::hours(1));
    attempted(&service, &resolved).await;
    attempted(&service, &open).await;

    // THEN the resolved incident's error is filtered, the open one's delivered
    let filtered = stored_delivery(&service, &acme(), &resolved).await;
    assert_eq!(filtered.status, DeliveryStatus::Filtered);
    assert!(
        filtered
            .status_reason
            .unwrap_or_default()
            .starts_with("maintenance_resolved"),
    );
    let delivered = stored_delivery(&service, &acme(), &open).await;
    assert_eq!(delivered.status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn a_window_holds_only_the_endpoint_it_names_and_an_error_after_it_goes() {
    let (service, clock, _db) = db_in_maintenance().await;
    let port = answering_receiver(200).await;
    endpoint_at(
        &service,
        &acme(),
        "web",
        port,
        json!({"matchers": ["team=\"web\""]}),
    )
    .await;
    // GIVEN db routed only the db alerts
    let db_id = service.list_endpoints(&acme()).await.unwrap()[0].id.clone();
    service
        .replace_endpoint(
            &acme(),
            &db_id,
            &json!({"name": "db", "url": format!("http://127.0.0.1:{port}/hook"),
                "matchers": ["team=\"db\""]}),
        )
        .await
        .unwrap();
    let to_web = accepted(&service, json!({"title": "5xx", "tags": ["team=web"]})).await;
    assert_eq!(attempted(&service, &to_web).await, Disposition::Done);
    assert_eq!(
        stored_delivery(&service, &acme(), &to_web).await.status,
        DeliveryStatus::Delivered
    );

    // An error that comes after the window, of an incident resolved in it, is not held back
    let ok = accepted(
        &service,
        json!({"title": "db-1 fine", "message_type": "ok", "incident_key": "db-1", "tags": ["team=db"]}),
    )
    .await;
    attempted(&service, &ok).await;
    clock.advance(chrono::Duration::hours(2));
    let again = accepted(
        &service,
        json!({"title": "db-1 down again", "incident_key": "db-1", "tags": ["team=db"]}),
    )
    .await;
    attempted(&service, &again).await;
    assert_eq!(
        stored_delivery(&service, &acme(), &again).await.status,
        DeliveryStatus::Delivered
    );
}

#[tokio::test]
async fn windows_are_checked_and_deleted_once() {
    let clock = Arc::new(ManualClock::starting_at(monday_morning()));
    let service = service(clock);
    let answer = service
        .create_maintenance_window(
            &acme(),
            &json!({"name": "x", "endpoint_id": "ep_nope",
                "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z"}),
        )
        .await;
    assert!(matches!(answer, Err(ServiceError::Input(e)) if e.field == "endpoint_id"));
    let window = service
        .create_maintenance_window(
            &acme(),
            &json!({"name": "nightly", "recurring":
                {"time_zone": "UTC", "days": ["sat"], "from": "22:00", "to": "02:00"}}),
        )
        .await
        .unwrap();
    assert!(window.id.starts_with("mw_"));
    assert_eq!(
        service.list_maintenance_windows(&acme()).await.unwrap(),
        std::slice::from_ref(&window)
    );
    service
        .delete_maintenance_window(&acme(), &window.id)
        .await
        .unwrap();
    assert!(matches!(
        service.delete_maintenance_window(&acme(), &window.id).await,
        Err(ServiceError::NotFound(_))
    ));
    assert!(
        service
            .list_maintenance_windows(&acme())
            .await
            .unwrap()
            .is_empty()
    );
}
