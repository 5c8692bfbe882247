//! The storage ports' conformance suite: every case runs, with the same code, on the embedded SQLite
//! store (`store_conformance::sqlite::*`, always) and on the DynamoDB store (`store_conformance::dynamodb::*`,
//! with the `aws` feature, against the emulator at `AWS_ENDPOINT_URL`, a fresh table per test), so the two
//! adapters cannot drift apart. The DynamoDB-only cases (expiry, the table itself, unreadable items) are in
//! `emulator`, with the DynamoDB half's set-up.
//!
//! Races are not tested here: moto serves requests on several threads without isolating them, so two
//! concurrent conditional writes can both succeed on it (real DynamoDB evaluates a condition atomically
//! with its write). Every condition is exercised sequentially instead: a stale version, another run, a
//! finished delivery, a taken idempotency key.

use std::sync::Arc;

use alertwire_shared::alert::Alert;
use alertwire_shared::delivery::{Attempt, Delivery, DeliveryStatus};
use alertwire_shared::embedded::Database;
use alertwire_shared::endpoint::Endpoint;
use alertwire_shared::endpoint::circuit::OpenCircuit;
use alertwire_shared::endpoint::health::{EndpointHealth, FailureNote};
use alertwire_shared::ids::{AlertId, ApiKeyId, DeliveryId, EndpointId, TenantId};
use alertwire_shared::ports::store::{
    AlertReceipt, AlertRecord, AlertStore, ApiKeyStore, DeliveryFilter, DeliveryStore, DigestStore,
    EndpointStore, FallbackOutcome, FallbackRecord, IncidentRef, IncidentStore, MaintenanceStore,
    ReadAhead, RecordOutcome, Revocation, SettingsStore, StatusChange, StoreError,
};
use alertwire_shared::routing::RoutingOutcome;
use alertwire_shared::tenant_settings::TenantSettings;
use chrono::{DateTime, Utc};
use serde_json::json;

type Outcome = Result<(), StoreError>;

/// The four ports of one store.
#[derive(Clone)]
struct Stores {
    keys: Arc<dyn ApiKeyStore>,
    endpoints: Arc<dyn EndpointStore>,
    alerts: Arc<dyn AlertStore>,
    deliveries: Arc<dyn DeliveryStore>,
    settings: Arc<dyn SettingsStore>,
    incidents: Arc<dyn IncidentStore>,
    maintenance: Arc<dyn MaintenanceStore>,
    digests: Arc<dyn DigestStore>,
}

impl Stores {
    fn of<S>(store: S) -> Self
    where
        S: ApiKeyStore
            + EndpointStore
            + AlertStore
            + DeliveryStore
            + SettingsStore
            + IncidentStore
            + MaintenanceStore
            + DigestStore
            + Clone
            + 'static,
    {
        Self {
            keys: Arc::new(store.clone()),
            endpoints: Arc::new(store.clone()),
            alerts: Arc::new(store.clone()),
            deliveries: Arc::new(store.clone()),
            settings: Arc::new(store.clone()),
            incidents: Arc::new(store.clone()),
            maintenance: Arc::new(store.clone()),
            digests: Arc::new(store),
        }
    }
}

fn sqlite() -> Stores {
    Stores::of(Database::in_memory().expect("an in-memory database opens"))
}

/// Stamps out one test per adapter for each case, so both always run the same cases.
macro_rules! conformance {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::sqlite()).await.expect("the store failed");
                }
            )+
        }

        #[cfg(feature = "aws")]
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $case() {
                    let stores = super::emulator::fresh_stores(stringify!($case)).await;
                    super::$case(&stores).await.expect("the store failed");
                }
            )+
        }
    };
}

conformance!(
    api_keys_find_their_tenant,
    keys_are_listed_and_revoked_by_id_within_their_tenant,
    a_new_bootstrap_key_replaces_the_previous_one,
    the_same_bootstrap_key_twice_is_one_key,
    keys_added_otherwise_survive_a_bootstrap_change,
    a_revoked_bootstrap_key_stays_revoked_until_a_new_one_is_configured,
    a_bootstrap_key_that_is_a_key_already_is_adopted,
    endpoints_are_created_read_replaced_and_deleted,
    endpoints_are_tenant_scoped,
    endpoint_health_is_kept_beside_the_endpoint,
    the_circuit_opens_admits_one_probe_and_closes,
    an_alert_is_recorded_with_its_deliveries,
    an_idempotency_key_answers_with_the_first_receipt,
    an_alert_to_many_endpoints_is_recorded_whole,
    marking_an_unknown_alert_enqueued_changes_nothing,
    unrouted_alerts_are_listed_newest_first_by_tenant,
    deliveries_are_listed_newest_first_under_every_filter,
    pages_follow_before_and_limit,
    attempts_are_kept_in_order,
    update_delivery_moves_only_a_pending_delivery_of_its_run,
    an_attempt_recorded_in_the_run_already_is_not_recorded_again,
    start_resend_begins_a_new_run,
    start_resends_begins_new_runs_of_those_in_the_status_in_the_order_given,
    pending_deliveries_unchanged_since_a_time_are_found_in_every_tenant,
    a_peek_reads_a_delivery_without_its_attempts,
    a_delivery_to_attempt_comes_with_what_its_store_read_beside_it,
    a_fallback_delivery_is_added_once_and_linked_both_ways,
    settings_are_per_tenant_and_a_notice_is_taken_once_per_window,
    every_read_and_write_is_tenant_scoped,
    an_incident_keeps_its_latest_error_and_what_was_captured,
    maintenance_windows_are_kept_per_tenant_and_deleted_once,
    an_endpoints_errors_are_counted_per_window,
    a_digest_lists_the_alerts_folded_into_it,
);

// ---------------------------------------------------------------------------------------------------
// Fixtures, built from their JSON form.

/// A domain value from its JSON form.
macro_rules! from_json {
    ($($json:tt)+) => {
        serde_json::from_value(json!($($json)+)).expect("a valid fixture")
    };
}

const CREATED: &str = "2026-01-02T03:04:05.123456789Z";

fn tenant(name: &str) -> TenantId {
    TenantId::from(name)
}

fn endpoint(tenant: &str, id: &str, version: u64, name: &str) -> Endpoint {
    from_json!({
        "id": id,
        "tenant": tenant,
        "name": name,
        "url": "https://hooks.example.com/{{alert_severity}}",
        "method": "POST",
        "headers": [{"name": "Authorization", "value": "Bearer t0ken", "secret": true}],
        "content_type": "application/json",
        "body": "{\"text\": \"{{alert_title}}\"}",
        "min_severity": "low",
        "message_types": {
            "error": {"mode": "default"},
            "reminder": {"mode": "off"},
            "ok": {"mode": "override", "method": "PUT", "url": null, "headers": null, "body": "ok"}
        },
        "secret": "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        "verification_token": "token-1",
        "enabled": true,
        "disabled_reason": null,
        "version": version,
        "created_at": CREATED,
        "updated_at": CREATED,
    })
}

fn alert(tenant: &str, id: &str) -> Alert {
    from_json!({
        "id": id,
        "tenant": tenant,
        "title": format!("Disk almost full ({id})"),
        "description": "db-1 at 97 %",
        "severity": "high",
        "message_type": "error",
        "incident_key": "disk-db-1",
        "tags": ["db", "prod"],
        "samples": [{"line": "ERROR no space left"}],
        "context": {"region": "eu-west-1", "quoted": "\"x\"\n"},
        "link": "https://monitoring.example.com/a/1",
        "source": "tests",
        "timeframe_start": "2026-01-02T03:00:00Z",
        "timeframe_end": null,
        "received_at": CREATED,
    })
}

fn delivery(tenant: &str, id: &str, alert: &str, endpoint: &str, status: &str) -> Delivery {
    let reason = match status {
        "filtered" => Some("below the endpoint's min_severity"),
        "dead" => Some("10 attempts failed"),
        _ => None,
    };
    from_json!({
        "id": id,
        "tenant": tenant,
        "alert_id": alert,
        "endpoint_id": endpoint,
        "message_type": "error",
        "status": status,
        "status_reason": reason,
        "run": 0,
        "attempts": [],
        "next_attempt_at": null,
        "created_at": CREATED,
        "updated_at": CREATED,
    })
}

/// An attempt with a full 16 KiB response body, as large as an attempt gets.
fn attempt(number: u32, run: u32, status_code: u16) -> Attempt {
    from_json!({
        "number": number,
        "run": run,
        "resend": run > 0,
        "started_at": format!("2026-01-02T04:00:{:02}.5Z", number % 60),
        "duration_ms": 120 + u64::from(number),
        "status_code": status_code,
        "response_headers": [["content-type", "text/plain"], ["x-attempt", number.to_string()]],
        "response_body": format!("{number}:{}", "é".repeat(8 * 1024 - 4)),
        "response_body_truncated": true,
        "error_class": if status_code >= 300 { json!("non2xx") } else { json!(null) },
        "error": null,
    })
}

/// A fixed later time, typed where it is used (the tests do not depend on chrono themselves).
macro_rules! later {
    () => {
        from_json!("2026-01-02T05:00:00Z")
    };
}

fn change(status: DeliveryStatus) -> StatusChange<'static> {
    StatusChange {
        status,
        reason: None,
        next_attempt_at: None,
    }
}

fn record<'a>(
    alert: &'a Alert,
    deliveries: &'a [Delivery],
    idempotency: Option<(&'a str, &'a str)>,
) -> AlertRecord<'a> {
    AlertRecord {
        alert,
        deliveries,
        idempotency,
        tasks: &[],
    }
}

fn receipt(alert: &Alert, deliveries: &[Delivery]) -> AlertReceipt {
    AlertReceipt::of(alert, deliveries)
}

fn filter() -> DeliveryFilter {
    DeliveryFilter {
        limit: 1000,
        ..DeliveryFilter::default()
    }
}

fn ids(deliveries: &[Delivery]) -> Vec<&str> {
    deliveries.iter().map(|d| d.id.as_str()).collect()
}

/// Records acme's alert `al_01` with one pending delivery, `msg_01` to `ep_01`, and returns that delivery.
async fn record_one_pending(stores: &Stores) -> Result<Delivery, StoreError> {
    let d = delivery("acme", "msg_01", "al_01", "ep_01", "pending");
    stores
        .alerts
        .record_alert(record(
            &alert("acme", "al_01"),
            std::slice::from_ref(&d),
            None,
        ))
        .await?;
    Ok(d)
}

/// [`record_one_pending`], its first attempt recorded as a `500` and the delivery left pending.
async fn record_one_pending_that_failed_once(stores: &Stores) -> Result<Delivery, StoreError> {
    let d = record_one_pending(stores).await?;
    let written = stores
        .deliveries
        .update_delivery(
            &d.tenant,
            &d.id,
            0,
            Some(&attempt(1, 0, 500)),
            change(DeliveryStatus::Pending),
        )
        .await?;
    assert!(written);
    Ok(d)
}

async fn get(stores: &Stores, tenant_name: &str, id: &str) -> Result<Option<Delivery>, StoreError> {
    stores
        .deliveries
        .get_delivery(&tenant(tenant_name), &DeliveryId::from(id))
        .await
}

// ---------------------------------------------------------------------------------------------------
// The cases.

async fn api_keys_find_their_tenant(stores: &Stores) -> Outcome {
    let keys = &stores.keys;
    assert!(!keys.has_keys().await?, "a new store has no keys");
    keys.add_key(&tenant("acme"), "hash-a", "acme's pager")
        .await?;
    assert!(keys.has_keys().await?);
    assert_eq!(keys.tenant_for_key("hash-a").await?, Some(tenant("acme")));
    assert_eq!(keys.tenant_for_key("hash-unknown").await?, None);
    assert_eq!(keys.tenant_for_key("").await?, None);

    // A hash that exists keeps its tenant.
    keys.add_key(&tenant("beta"), "hash-a", "again").await?;
    assert_eq!(keys.tenant_for_key("hash-a").await?, Some(tenant("acme")));
    keys.add_key(&tenant("beta"), "hash-b", "beta's").await?;
    assert_eq!(keys.tenant_for_key("hash-b").await?, Some(tenant("beta")));
    assert!(keys.has_keys().await?);
    Ok(())
}

/// The ids of the tenant's keys, as listed.
async fn key_ids(stores: &Stores, tenant_name: &str) -> Result<Vec<ApiKeyId>, StoreError> {
    Ok(stores
        .keys
        .list_keys(&tenant(tenant_name))
        .await?
        .into_iter()
        .map(|k| k.id)
        .collect())
}

async fn keys_are_listed_and_revoked_by_id_within_their_tenant(stores: &Stores) -> Outcome {
    let keys = &stores.keys;
    let first = keys
        .add_key(&tenant("acme"), "hash-a", "pager")
        .await?
        .expect("a new hash is added");
    let second = keys
        .add_key(&tenant("acme"), "hash-b", "ci")
        .await?
        .expect("a new hash is added");
    let betas = keys
        .add_key(&tenant("beta"), "hash-c", "beta's")
        .await?
        .expect("a new hash is added");
    assert_eq!(
        keys.add_key(&tenant("acme"), "hash-a", "again").await?,
        None
    );

    // Listed per tenant, oldest first, with their labels; an id is not the hash.
    let listed = keys.list_keys(&tenant("acme")).await?;
    let shown: Vec<(&ApiKeyId, &str)> = listed.iter().map(|k| (&k.id, k.label.as_str())).collect();
    assert_eq!(shown, [(&first, "pager"), (&second, "ci")]);
    assert!(first.as_str().starts_with("key_") && first != second);
    assert_eq!(key_ids(stores, "beta").await?, std::slice::from_ref(&betas));

    // Another tenant's id is not found, and changes nothing.
    assert_eq!(
        keys.revoke_key(&tenant("acme"), &betas).await?,
        Revocation::NotFound
    );
    assert_eq!(
        keys.revoke_key(&tenant("acme"), &ApiKeyId::from("key_unknown"))
            .await?,
        Revocation::NotFound
    );
    assert_eq!(keys.tenant_for_key("hash-c").await?, Some(tenant("beta")));

    // Revoked: its hash finds no tenant at once; the other key still works.
    assert_eq!(
        keys.revoke_key(&tenant("acme"), &first).await?,
        Revocation::Revoked
    );
    assert_eq!(keys.tenant_for_key("hash-a").await?, None);
    assert_eq!(keys.tenant_for_key("hash-b").await?, Some(tenant("acme")));
    assert_eq!(
        key_ids(stores, "acme").await?,
        std::slice::from_ref(&second)
    );
    assert_eq!(
        keys.revoke_key(&tenant("acme"), &first).await?,
        Revocation::NotFound
    );

    // The last key of a tenant is kept.
    assert_eq!(
        keys.revoke_key(&tenant("acme"), &second).await?,
        Revocation::LastKey
    );
    assert_eq!(keys.tenant_for_key("hash-b").await?, Some(tenant("acme")));
    Ok(())
}

async fn a_new_bootstrap_key_replaces_the_previous_one(stores: &Stores) -> Outcome {
    let keys = &stores.keys;
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    assert_eq!(
        keys.tenant_for_key("hash-a").await?,
        Some(tenant("default"))
    );
    assert!(keys.has_keys().await?);

    keys.bootstrap_key(&tenant("default"), "hash-b", "deployment")
        .await?;
    assert_eq!(keys.tenant_for_key("hash-a").await?, None, "A is revoked");
    assert_eq!(
        keys.tenant_for_key("hash-b").await?,
        Some(tenant("default"))
    );
    assert_eq!(key_ids(stores, "default").await?.len(), 1);

    // Back to A: B goes, A is a key again.
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    assert_eq!(
        keys.tenant_for_key("hash-a").await?,
        Some(tenant("default"))
    );
    assert_eq!(keys.tenant_for_key("hash-b").await?, None);
    assert_eq!(key_ids(stores, "default").await?.len(), 1);
    Ok(())
}

async fn the_same_bootstrap_key_twice_is_one_key(stores: &Stores) -> Outcome {
    let keys = &stores.keys;
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    let listed = keys.list_keys(&tenant("default")).await?;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].label, "deployment");
    assert_eq!(
        keys.tenant_for_key("hash-a").await?,
        Some(tenant("default"))
    );
    Ok(())
}

async fn keys_added_otherwise_survive_a_bootstrap_change(stores: &Stores) -> Outcome {
    let keys = &stores.keys;
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    let added = keys
        .add_key(&tenant("default"), "hash-api", "added through the API")
        .await?
        .expect("a new hash is added");
    keys.add_key(&tenant("acme"), "hash-acme", "another tenant's")
        .await?;

    keys.bootstrap_key(&tenant("default"), "hash-b", "deployment")
        .await?;
    keys.bootstrap_key(&tenant("default"), "hash-c", "deployment")
        .await?;
    assert_eq!(
        keys.tenant_for_key("hash-api").await?,
        Some(tenant("default"))
    );
    assert_eq!(
        keys.tenant_for_key("hash-acme").await?,
        Some(tenant("acme"))
    );
    assert_eq!(keys.tenant_for_key("hash-a").await?, None);
    assert_eq!(keys.tenant_for_key("hash-b").await?, None);
    let ids = key_ids(stores, "default").await?;
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_eq!(ids[0], added);

    // Another tenant's bootstrap marker is its own: it replaces nothing of `default`.
    keys.bootstrap_key(&tenant("acme"), "hash-acme-deploy", "deployment")
        .await?;
    assert_eq!(
        keys.tenant_for_key("hash-c").await?,
        Some(tenant("default"))
    );
    Ok(())
}

async fn a_revoked_bootstrap_key_stays_revoked_until_a_new_one_is_configured(
    stores: &Stores,
) -> Outcome {
    let keys = &stores.keys;
    keys.add_key(&tenant("default"), "hash-api", "added through the API")
        .await?;
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    let listed = keys.list_keys(&tenant("default")).await?;
    let deployment = listed
        .iter()
        .find(|k| k.label == "deployment")
        .expect("listed");
    assert_eq!(
        keys.revoke_key(&tenant("default"), &deployment.id).await?,
        Revocation::Revoked
    );

    // The next start with the same configuration does not bring it back.
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    assert_eq!(keys.tenant_for_key("hash-a").await?, None);

    // Its hash added again by hand is another key, which a new deployment key leaves alone.
    let by_hand = keys
        .add_key(&tenant("default"), "hash-a", "by hand")
        .await?
        .expect("a revoked hash can be added again");
    keys.bootstrap_key(&tenant("default"), "hash-b", "deployment")
        .await?;
    assert_eq!(
        keys.tenant_for_key("hash-b").await?,
        Some(tenant("default"))
    );
    assert_eq!(
        keys.tenant_for_key("hash-a").await?,
        Some(tenant("default"))
    );
    let ids = key_ids(stores, "default").await?;
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.contains(&by_hand));
    Ok(())
}

async fn a_bootstrap_key_that_is_a_key_already_is_adopted(stores: &Stores) -> Outcome {
    let keys = &stores.keys;
    let added = keys
        .add_key(&tenant("default"), "hash-a", "by hand")
        .await?
        .expect("a new hash is added");
    keys.bootstrap_key(&tenant("default"), "hash-a", "deployment")
        .await?;
    assert_eq!(key_ids(stores, "default").await?, [added]);

    // Another tenant's key is never taken over.
    keys.add_key(&tenant("acme"), "hash-acme", "acme's").await?;
    assert!(
        keys.bootstrap_key(&tenant("default"), "hash-acme", "deployment")
            .await
            .is_err()
    );
    assert_eq!(
        keys.tenant_for_key("hash-acme").await?,
        Some(tenant("acme"))
    );
    assert_eq!(
        keys.tenant_for_key("hash-a").await?,
        Some(tenant("default"))
    );
    Ok(())
}

async fn endpoints_are_created_read_replaced_and_deleted(stores: &Stores) -> Outcome {
    let endpoints = &stores.endpoints;
    let acme = tenant("acme");
    let first = endpoint("acme", "ep_01", 1, "first");
    let second = endpoint("acme", "ep_02", 1, "second");
    endpoints.insert_endpoint(&second).await?;
    endpoints.insert_endpoint(&first).await?;
    assert!(
        endpoints.insert_endpoint(&second).await.is_err(),
        "an id is inserted once"
    );

    assert_eq!(
        endpoints.get_endpoint(&acme, &first.id).await?,
        Some(first.clone())
    );
    assert_eq!(
        endpoints.list_endpoints(&acme).await?,
        vec![first.clone(), second.clone()],
        "listed by id"
    );

    let mut renamed = first.clone();
    renamed.name = "renamed".into();
    renamed.version = 2;
    assert!(endpoints.replace_endpoint(&renamed, 1).await?);
    assert_eq!(
        endpoints.get_endpoint(&acme, &first.id).await?,
        Some(renamed.clone())
    );

    let mut stale = first.clone();
    stale.name = "stale".into();
    stale.version = 2;
    assert!(
        !endpoints.replace_endpoint(&stale, 1).await?,
        "version 1 is no longer stored"
    );
    assert_eq!(
        endpoints.get_endpoint(&acme, &first.id).await?,
        Some(renamed.clone())
    );

    let missing = endpoint("acme", "ep_99", 2, "missing");
    assert!(!endpoints.replace_endpoint(&missing, 1).await?);
    assert_eq!(endpoints.get_endpoint(&acme, &missing.id).await?, None);

    assert!(endpoints.delete_endpoint(&acme, &first.id).await?);
    assert!(!endpoints.delete_endpoint(&acme, &first.id).await?);
    assert_eq!(endpoints.get_endpoint(&acme, &first.id).await?, None);
    assert_eq!(endpoints.list_endpoints(&acme).await?, vec![second]);
    assert_eq!(endpoints.list_endpoints(&tenant("nobody")).await?, vec![]);
    Ok(())
}

async fn endpoints_are_tenant_scoped(stores: &Stores) -> Outcome {
    let endpoints = &stores.endpoints;
    let (acme, beta) = (tenant("acme"), tenant("beta"));
    let theirs = endpoint("acme", "ep_01", 1, "acme's");
    endpoints.insert_endpoint(&theirs).await?;

    assert_eq!(endpoints.get_endpoint(&beta, &theirs.id).await?, None);
    assert_eq!(endpoints.list_endpoints(&beta).await?, vec![]);
    let hijack = endpoint("beta", "ep_01", 2, "hijacked");
    assert!(!endpoints.replace_endpoint(&hijack, 1).await?);
    assert!(!endpoints.delete_endpoint(&beta, &theirs.id).await?);
    assert_eq!(
        endpoints.get_endpoint(&acme, &theirs.id).await?,
        Some(theirs.clone())
    );

    // The same id in another tenant is another endpoint.
    let own = endpoint("beta", "ep_01", 1, "beta's");
    endpoints.insert_endpoint(&own).await?;
    assert_eq!(endpoints.get_endpoint(&beta, &own.id).await?, Some(own));
    assert_eq!(endpoints.list_endpoints(&acme).await?, vec![theirs]);

    // A tenant name holding the key separator is just a name.
    let tricky = tenant("acme#EP#ep_01");
    assert_eq!(endpoints.list_endpoints(&tricky).await?, vec![]);
    assert_eq!(
        endpoints
            .get_endpoint(&tricky, &EndpointId::from("ep_01"))
            .await?,
        None
    );
    Ok(())
}

/// An outage failure at `at`: the connection was refused.
fn refused(at: DateTime<Utc>) -> FailureNote<'static> {
    FailureNote {
        at,
        outage: true,
        error: "connection refused",
        slowed_until: None,
    }
}

async fn the_circuit_opens_admits_one_probe_and_closes(stores: &Stores) -> Outcome {
    let endpoints = &stores.endpoints;
    let acme = tenant("acme");
    let ep = endpoint("acme", "ep_01", 1, "flaky");
    endpoints.insert_endpoint(&ep).await?;
    let t1: DateTime<Utc> = CREATED.parse().expect("a time");
    let t2 = t1 + chrono::Duration::seconds(10);
    let t3 = t2 + chrono::Duration::seconds(360);
    for _ in 0..3 {
        endpoints.note_failure(&acme, &ep.id, refused(t1)).await?;
    }
    let opened = OpenCircuit {
        opened_at: t1,
        probe_at: t2,
        probing: false,
    };
    assert!(
        endpoints.open_circuit(&acme, &ep.id, &opened).await?,
        "this call opened it"
    );
    assert!(
        !endpoints.open_circuit(&acme, &ep.id, &opened).await?,
        "a second failure at once finds it open"
    );
    let health = endpoints
        .get_endpoint(&acme, &ep.id)
        .await?
        .expect("stored")
        .health;
    assert_eq!(
        (health.outage_streak, health.circuit.as_ref()),
        (3, Some(&opened))
    );

    // One claim wins the probe; a second with the same view loses.
    assert!(endpoints.claim_probe(&acme, &ep.id, t2, t3).await?);
    assert!(!endpoints.claim_probe(&acme, &ep.id, t2, t3).await?);
    let probing = endpoints
        .get_endpoint(&acme, &ep.id)
        .await?
        .expect("stored")
        .health;
    assert_eq!(
        probing.circuit,
        Some(OpenCircuit {
            opened_at: t1,
            probe_at: t3,
            probing: true
        })
    );

    // A 429 with Retry-After is an answer: the outage run ends, the circuit closes, the slowdown is kept.
    let answered = FailureNote {
        at: t2,
        outage: false,
        error: "the endpoint answered 429",
        slowed_until: Some(t3),
    };
    let health = endpoints
        .note_failure(&acme, &ep.id, answered)
        .await?
        .expect("counted");
    assert_eq!(
        (
            health.failure_streak,
            health.outage_streak,
            health.circuit,
            health.slowed_until
        ),
        (4, 0, None, Some(t3))
    );
    assert_eq!(
        health.last_error.as_deref(),
        Some("the endpoint answered 429")
    );
    assert!(
        !endpoints.claim_probe(&acme, &ep.id, t3, t3).await?,
        "no circuit, no probe"
    );

    // A success clears all of it.
    endpoints.open_circuit(&acme, &ep.id, &opened).await?;
    endpoints.clear_failures(&acme, &ep.id).await?;
    let health = endpoints
        .get_endpoint(&acme, &ep.id)
        .await?
        .expect("stored")
        .health;
    assert_eq!(health, EndpointHealth::default());
    assert!(endpoints.delete_endpoint(&acme, &ep.id).await?);
    Ok(())
}

async fn endpoint_health_is_kept_beside_the_endpoint(stores: &Stores) -> Outcome {
    let endpoints = &stores.endpoints;
    let (acme, beta) = (tenant("acme"), tenant("beta"));
    let ep = endpoint("acme", "ep_01", 1, "flaky");
    endpoints.insert_endpoint(&ep).await?;
    let t1: DateTime<Utc> = CREATED.parse().expect("a time");
    let t2 = t1 + chrono::Duration::seconds(90);

    let first = endpoints.note_failure(&acme, &ep.id, refused(t1)).await?;
    let second = endpoints.note_failure(&acme, &ep.id, refused(t2)).await?;
    let expected = EndpointHealth {
        failure_streak: 2,
        failing_since: Some(t1),
        last_failure_at: Some(t2),
        outage_streak: 2,
        last_error: Some("connection refused".into()),
        ..EndpointHealth::default()
    };
    assert_eq!(first.map(|h| h.failure_streak), Some(1));
    assert_eq!(second.as_ref(), Some(&expected));
    let read = endpoints
        .get_endpoint(&acme, &ep.id)
        .await?
        .expect("stored");
    assert_eq!(read.health, expected);
    assert_eq!(endpoints.list_endpoints(&acme).await?[0].health, expected);

    // A replace changes the settings, never the health beside them.
    let mut renamed = read.clone();
    renamed.name = "renamed".into();
    renamed.version = 2;
    renamed.health = EndpointHealth::default();
    assert!(endpoints.replace_endpoint(&renamed, 1).await?);
    let read = endpoints
        .get_endpoint(&acme, &ep.id)
        .await?
        .expect("stored");
    assert_eq!((read.name.as_str(), &read.health), ("renamed", &expected));

    // Other tenants and missing endpoints: nothing counted, nothing created.
    assert_eq!(
        endpoints.note_failure(&beta, &ep.id, refused(t2)).await?,
        None
    );
    let missing = EndpointId::from("ep_99");
    assert_eq!(
        endpoints.note_failure(&acme, &missing, refused(t2)).await?,
        None
    );
    assert_eq!(endpoints.get_endpoint(&acme, &missing).await?, None);
    assert!(!endpoints.disable_endpoint(&beta, &ep.id, "no", t2).await?);
    assert!(
        !endpoints
            .disable_endpoint(&acme, &missing, "no", t2)
            .await?
    );

    endpoints.clear_failures(&acme, &ep.id).await?;
    let read = endpoints
        .get_endpoint(&acme, &ep.id)
        .await?
        .expect("stored");
    assert_eq!(read.health, EndpointHealth::default());
    assert_eq!(
        endpoints
            .note_failure(&acme, &ep.id, refused(t2))
            .await?
            .and_then(|h| h.failing_since),
        Some(t2),
        "a new streak starts at its first failure"
    );

    assert!(
        endpoints
            .disable_endpoint(&acme, &ep.id, "gone", t2)
            .await?
    );
    let read = endpoints
        .get_endpoint(&acme, &ep.id)
        .await?
        .expect("stored");
    assert_eq!(
        (read.enabled, read.disabled_reason.as_deref(), read.version),
        (false, Some("gone"), 3)
    );
    assert_eq!(read.updated_at, t2);
    assert!(
        !endpoints
            .disable_endpoint(&acme, &ep.id, "again", t2)
            .await?,
        "already disabled"
    );

    assert!(endpoints.delete_endpoint(&acme, &ep.id).await?);
    assert_eq!(
        endpoints.note_failure(&acme, &ep.id, refused(t2)).await?,
        None
    );
    endpoints.insert_endpoint(&ep).await?;
    assert_eq!(
        endpoints
            .get_endpoint(&acme, &ep.id)
            .await?
            .map(|e| e.health),
        Some(EndpointHealth::default()),
        "a deleted endpoint's health goes with it"
    );
    Ok(())
}

async fn unrouted_alerts_are_listed_newest_first_by_tenant(stores: &Stores) -> Outcome {
    let routed = |endpoints: usize, unrouted: bool| {
        Some(RoutingOutcome {
            endpoints,
            unrouted,
        })
    };
    // Three unrouted alerts of acme (one sent to its default endpoint), one routed, one of globex
    let mut written = Vec::new();
    for (tenant, id, routing) in [
        ("acme", "al_01", routed(0, true)),
        ("acme", "al_02", routed(1, false)),
        ("acme", "al_03", routed(1, true)),
        ("globex", "al_04", routed(0, true)),
        ("acme", "al_05", routed(0, true)),
    ] {
        let mut unrouted = alert(tenant, id);
        unrouted.routing = routing;
        let deliveries = match routing {
            Some(r) if r.endpoints == 1 => {
                vec![delivery(
                    tenant,
                    &format!("msg_{id}"),
                    id,
                    "ep_01",
                    "pending",
                )]
            }
            _ => Vec::new(),
        };
        stores
            .alerts
            .record_alert(record(&unrouted, &deliveries, None))
            .await?;
        written.push(unrouted);
    }
    let ids = |alerts: Vec<Alert>| -> Vec<String> { alerts.into_iter().map(|a| a.id.0).collect() };
    let acme = tenant("acme");
    assert_eq!(
        ids(stores.alerts.list_unrouted(&acme, None, 10).await?),
        ["al_05", "al_03", "al_01"]
    );
    assert_eq!(
        ids(stores.alerts.list_unrouted(&acme, None, 2).await?),
        ["al_05", "al_03"]
    );
    assert_eq!(
        ids(stores
            .alerts
            .list_unrouted(&acme, Some(&AlertId::from("al_03")), 10)
            .await?),
        ["al_01"]
    );
    // The listed alert is the alert as recorded
    let listed = stores.alerts.list_unrouted(&acme, None, 1).await?;
    assert_eq!(listed, [written[4].clone()]);
    assert_eq!(
        ids(stores
            .alerts
            .list_unrouted(&tenant("globex"), None, 10)
            .await?),
        ["al_04"]
    );
    assert!(
        stores
            .alerts
            .list_unrouted(&tenant("initech"), None, 10)
            .await?
            .is_empty()
    );
    Ok(())
}

async fn an_alert_is_recorded_with_its_deliveries(stores: &Stores) -> Outcome {
    let acme = tenant("acme");
    let alert = alert("acme", "al_01");
    let mut deliveries = vec![
        delivery("acme", "msg_01", "al_01", "ep_01", "pending"),
        delivery("acme", "msg_02", "al_01", "ep_02", "filtered"),
        delivery("acme", "msg_03", "al_01", "ep_03", "pending"),
    ];
    // A delivery may arrive with an attempt already made.
    deliveries[2].attempts.push(attempt(1, 0, 503));
    assert!(matches!(
        stores
            .alerts
            .record_alert(record(&alert, &deliveries, None))
            .await?,
        RecordOutcome::Recorded { .. }
    ));

    assert_eq!(
        stores.alerts.get_alert(&acme, &alert.id).await?,
        Some(alert.clone())
    );
    assert_eq!(
        stores
            .alerts
            .get_alert(&acme, &AlertId::from("al_99"))
            .await?,
        None
    );
    for d in &deliveries {
        assert_eq!(get(stores, "acme", d.id.as_str()).await?.as_ref(), Some(d));
    }
    assert_eq!(get(stores, "acme", "msg_99").await?, None);
    let listed = stores
        .deliveries
        .list_deliveries(
            &acme,
            &DeliveryFilter {
                alert_id: Some(alert.id.clone()),
                ..filter()
            },
        )
        .await?;
    let newest_first: Vec<Delivery> = deliveries.iter().rev().cloned().collect();
    assert_eq!(listed, newest_first);
    Ok(())
}

async fn an_idempotency_key_answers_with_the_first_receipt(stores: &Stores) -> Outcome {
    let (acme, alerts) = (tenant("acme"), &stores.alerts);
    let first = alert("acme", "al_01");
    let first_deliveries = [
        delivery("acme", "msg_01", "al_01", "ep_01", "pending"),
        delivery("acme", "msg_02", "al_01", "ep_02", "pending"),
    ];
    let key = Some(("key-1", "hash-1"));
    assert!(matches!(
        alerts
            .record_alert(record(&first, &first_deliveries, key))
            .await?,
        RecordOutcome::Recorded { .. }
    ));

    let second = alert("acme", "al_02");
    let second_deliveries = [delivery("acme", "msg_03", "al_02", "ep_01", "pending")];
    let expected = |enqueued| RecordOutcome::AlreadyRecorded {
        receipt: receipt(&first, &first_deliveries),
        request_hash: "hash-1".into(),
        enqueued,
    };
    assert_eq!(
        alerts
            .record_alert(record(
                &second,
                &second_deliveries,
                Some(("key-1", "hash-2"))
            ))
            .await?,
        expected(false),
        "the first request's receipt and hash, not yet enqueued"
    );
    assert_eq!(alerts.get_alert(&acme, &second.id).await?, None);
    assert_eq!(get(stores, "acme", "msg_03").await?, None);

    alerts.mark_enqueued(&acme, &first.id).await?;
    assert_eq!(
        alerts
            .record_alert(record(&second, &second_deliveries, key))
            .await?,
        expected(true)
    );

    // Keys belong to a tenant.
    let other = alert("beta", "al_02");
    let other_deliveries = [delivery("beta", "msg_03", "al_02", "ep_01", "pending")];
    assert!(matches!(
        alerts
            .record_alert(record(&other, &other_deliveries, key))
            .await?,
        RecordOutcome::Recorded { .. }
    ));

    // Without a key every request is recorded.
    let third = alert("acme", "al_03");
    let fourth = alert("acme", "al_04");
    assert!(matches!(
        alerts.record_alert(record(&third, &[], None)).await?,
        RecordOutcome::Recorded { .. }
    ));
    assert!(matches!(
        alerts.record_alert(record(&fourth, &[], None)).await?,
        RecordOutcome::Recorded { .. }
    ));
    assert_eq!(alerts.get_alert(&acme, &fourth.id).await?, Some(fourth));
    Ok(())
}

async fn an_alert_to_many_endpoints_is_recorded_whole(stores: &Stores) -> Outcome {
    // More deliveries than one DynamoDB transaction can hold.
    const FANOUT: usize = 230;
    let acme = tenant("acme");
    let make = |alert_id: &str, prefix: &str| -> Vec<Delivery> {
        (0..FANOUT)
            .map(|i| {
                let status = if i % 7 == 0 { "filtered" } else { "pending" };
                delivery(
                    "acme",
                    &format!("msg_{prefix}{i:04}"),
                    alert_id,
                    &format!("ep_{i:04}"),
                    status,
                )
            })
            .collect()
    };
    let first = alert("acme", "al_01");
    let first_deliveries = make("al_01", "a");
    assert!(matches!(
        stores
            .alerts
            .record_alert(record(&first, &first_deliveries, Some(("big", "h1"))))
            .await?,
        RecordOutcome::Recorded { .. }
    ));
    let by_alert = DeliveryFilter {
        alert_id: Some(first.id.clone()),
        ..filter()
    };
    let listed = stores.deliveries.list_deliveries(&acme, &by_alert).await?;
    let expected: Vec<Delivery> = first_deliveries.iter().rev().cloned().collect();
    assert_eq!(listed, expected);
    assert_eq!(
        stores
            .deliveries
            .list_deliveries(&acme, &filter())
            .await?
            .len(),
        FANOUT
    );

    // A retry with the same key, carrying other ids, gets the first receipt and writes nothing.
    let retry = alert("acme", "al_02");
    let retry_deliveries = make("al_02", "b");
    assert_eq!(
        stores
            .alerts
            .record_alert(record(&retry, &retry_deliveries, Some(("big", "h1"))))
            .await?,
        RecordOutcome::AlreadyRecorded {
            receipt: receipt(&first, &first_deliveries),
            request_hash: "h1".into(),
            enqueued: false,
        }
    );
    assert_eq!(stores.alerts.get_alert(&acme, &retry.id).await?, None);
    assert_eq!(get(stores, "acme", "msg_b0000").await?, None);
    assert_eq!(
        stores
            .deliveries
            .list_deliveries(&acme, &filter())
            .await?
            .len(),
        FANOUT
    );

    // And without a key, a second large alert is recorded beside the first.
    assert!(matches!(
        stores
            .alerts
            .record_alert(record(&retry, &retry_deliveries, None))
            .await?,
        RecordOutcome::Recorded { .. }
    ));
    let filtered_only = DeliveryFilter {
        status: Some(DeliveryStatus::Filtered),
        ..filter()
    };
    assert_eq!(
        stores
            .deliveries
            .list_deliveries(&acme, &filtered_only)
            .await?
            .len(),
        2 * FANOUT.div_ceil(7)
    );
    Ok(())
}

async fn marking_an_unknown_alert_enqueued_changes_nothing(stores: &Stores) -> Outcome {
    let acme = tenant("acme");
    let unknown = AlertId::from("al_99");
    stores.alerts.mark_enqueued(&acme, &unknown).await?;
    assert_eq!(stores.alerts.get_alert(&acme, &unknown).await?, None);
    assert_eq!(
        stores.deliveries.list_deliveries(&acme, &filter()).await?,
        vec![]
    );
    Ok(())
}

/// acme's deliveries: (id, alert, endpoint, status).
const SPREAD: [(&str, &str, &str, &str); 8] = [
    ("msg_01", "al_1", "ep_1", "pending"),
    ("msg_02", "al_1", "ep_2", "delivered"),
    ("msg_03", "al_2", "ep_1", "dead"),
    ("msg_04", "al_2", "ep_2", "pending"),
    ("msg_05", "al_3", "ep_1", "dead"),
    ("msg_06", "al_3", "ep_2", "filtered"),
    ("msg_07", "al_4", "ep_1", "delivered"),
    ("msg_08", "al_4", "ep_3", "dead"),
];

/// Records [`SPREAD`] for acme, and for beta one delivery with the same alert and endpoint ids.
async fn record_spread(stores: &Stores) -> Result<Vec<Delivery>, StoreError> {
    let mut all = Vec::new();
    for alert_id in ["al_1", "al_2", "al_3", "al_4"] {
        let deliveries: Vec<Delivery> = SPREAD
            .iter()
            .filter(|(_, a, _, _)| *a == alert_id)
            .map(|(id, a, e, s)| delivery("acme", id, a, e, s))
            .collect();
        stores
            .alerts
            .record_alert(record(&alert("acme", alert_id), &deliveries, None))
            .await?;
        all.extend(deliveries);
    }
    let beta = [delivery("beta", "msg_09", "al_1", "ep_1", "pending")];
    stores
        .alerts
        .record_alert(record(&alert("beta", "al_1"), &beta, None))
        .await?;
    all.reverse();
    Ok(all)
}

/// The sweep for deliveries that lost their task finds them by status and last change, in any tenant
/// (that has an API key, as every tenant with deliveries has).
async fn pending_deliveries_unchanged_since_a_time_are_found_in_every_tenant(
    stores: &Stores,
) -> Outcome {
    for (tenant, hash) in [("acme", "hash-acme"), ("beta", "hash-beta")] {
        stores
            .keys
            .add_key(&TenantId::from(tenant), hash, "k")
            .await?;
    }
    record_spread(stores).await?;
    let at = |text: &str| -> DateTime<Utc> { text.parse().expect("a time") };
    let found = |before: DateTime<Utc>, limit: usize| async move {
        let mut found: Vec<(String, String)> = stores
            .deliveries
            .pending_unchanged_since(before, limit)
            .await?
            .into_iter()
            .map(|d| {
                assert_eq!(d.status, DeliveryStatus::Pending);
                (d.tenant.0, d.id.0)
            })
            .collect();
        found.sort();
        Ok::<_, StoreError>(found)
    };
    let pending = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(t, id)| (t.to_string(), id.to_string()))
            .collect()
    };
    // Changed at CREATED (…05.123456789): a later cutoff, even within the second, finds them.
    assert_eq!(
        found(at("2026-01-02T03:04:05.2Z"), 100).await?,
        pending(&[("acme", "msg_01"), ("acme", "msg_04"), ("beta", "msg_09")])
    );
    assert!(found(at(CREATED), 100).await?.is_empty(), "strictly before");
    assert!(found(at("2026-01-02T03:04:05Z"), 100).await?.is_empty());
    assert_eq!(found(at("2026-01-02T03:04:06Z"), 2).await?.len(), 2);

    // A change (an attempt recorded) makes a delivery recent.
    let written = stores
        .deliveries
        .update_delivery(
            &tenant("acme"),
            &DeliveryId::from("msg_04"),
            0,
            Some(&attempt(1, 0, 500)),
            change(DeliveryStatus::Pending),
        )
        .await?;
    assert!(written);
    assert_eq!(
        found(at("2026-01-03T00:00:00Z"), 100).await?,
        pending(&[("acme", "msg_01"), ("beta", "msg_09")])
    );
    Ok(())
}

async fn a_peek_reads_a_delivery_without_its_attempts(stores: &Stores) -> Outcome {
    let d = record_one_pending_that_failed_once(stores).await?;
    let mut full = get(stores, "acme", "msg_01").await?.expect("stored");
    assert_eq!(full.attempts.len(), 1);
    full.attempts.clear();
    assert_eq!(
        stores.deliveries.peek_delivery(&d.tenant, &d.id).await?,
        Some(full)
    );
    assert_eq!(
        stores
            .deliveries
            .peek_delivery(&tenant("beta"), &d.id)
            .await?,
        None
    );
    Ok(())
}

/// What a store reads beside a delivery to attempt is what its own reads give: the delivery with its
/// attempts, the endpoint with its health, the alert; an endpoint deleted since is read as absent; another
/// tenant's delivery is not found.
async fn a_delivery_to_attempt_comes_with_what_its_store_read_beside_it(
    stores: &Stores,
) -> Outcome {
    let acme = tenant("acme");
    let ep = endpoint("acme", "ep_01", 1, "first");
    stores.endpoints.insert_endpoint(&ep).await?;
    let d = record_one_pending_that_failed_once(stores).await?;
    stores
        .endpoints
        .note_failure(&acme, &ep.id, refused(CREATED.parse().expect("a time")))
        .await?;

    let found = stores
        .deliveries
        .get_delivery_to_attempt(&acme, &d.id)
        .await?
        .expect("found");
    assert_eq!(
        Some(&found.delivery),
        get(stores, "acme", "msg_01").await?.as_ref()
    );
    assert_eq!(found.delivery.attempts.len(), 1);
    if let ReadAhead::Read(endpoint) = found.endpoint {
        let read = stores.endpoints.get_endpoint(&acme, &ep.id).await?;
        assert_eq!(endpoint, read);
        assert_eq!(endpoint.expect("found").health.failure_streak, 1);
    }
    if let ReadAhead::Read(alert) = found.alert {
        assert_eq!(alert, stores.alerts.get_alert(&acme, &d.alert_id).await?);
        assert!(alert.is_some());
    }

    stores.endpoints.delete_endpoint(&acme, &ep.id).await?;
    let found = stores
        .deliveries
        .get_delivery_to_attempt(&acme, &d.id)
        .await?
        .expect("found");
    assert!(matches!(
        found.endpoint,
        ReadAhead::Read(None) | ReadAhead::NotRead
    ));
    assert!(
        stores
            .deliveries
            .get_delivery_to_attempt(&tenant("beta"), &d.id)
            .await?
            .is_none()
    );
    Ok(())
}

async fn deliveries_are_listed_newest_first_under_every_filter(stores: &Stores) -> Outcome {
    let acme = tenant("acme");
    let newest_first = record_spread(stores).await?;
    assert_eq!(
        stores.deliveries.list_deliveries(&acme, &filter()).await?,
        newest_first,
        "everything, newest first"
    );
    let endpoints = [None, Some("ep_1"), Some("ep_2"), Some("ep_3"), Some("ep_9")];
    let statuses = [
        None,
        Some(DeliveryStatus::Pending),
        Some(DeliveryStatus::Delivered),
        Some(DeliveryStatus::Dead),
        Some(DeliveryStatus::Filtered),
    ];
    let alerts = [None, Some("al_1"), Some("al_3"), Some("al_4"), Some("al_9")];
    let befores = [None, Some("msg_06"), Some("msg_01"), Some("msg_99")];
    for endpoint in endpoints {
        for status in statuses {
            for alert in alerts {
                for before in befores {
                    let filter = DeliveryFilter {
                        endpoint_id: endpoint.map(EndpointId::from),
                        status,
                        alert_id: alert.map(AlertId::from),
                        before: before.map(DeliveryId::from),
                        limit: 100,
                    };
                    let expected: Vec<&str> = newest_first
                        .iter()
                        .filter(|d| endpoint.is_none_or(|e| d.endpoint_id.as_str() == e))
                        .filter(|d| status.is_none_or(|s| d.status == s))
                        .filter(|d| alert.is_none_or(|a| d.alert_id.as_str() == a))
                        .filter(|d| before.is_none_or(|b| d.id.as_str() < b))
                        .map(|d| d.id.as_str())
                        .collect();
                    let listed = stores.deliveries.list_deliveries(&acme, &filter).await?;
                    assert_eq!(ids(&listed), expected, "{filter:?}");
                }
            }
        }
    }
    Ok(())
}

async fn pages_follow_before_and_limit(stores: &Stores) -> Outcome {
    let acme = tenant("acme");
    let mut newest_first = Vec::new();
    for i in 0..11 {
        let alert_id = format!("al_{i:02}");
        let status = ["pending", "dead", "dead", "delivered"][i % 4];
        let endpoint_id = if i % 3 == 0 { "ep_1" } else { "ep_2" };
        let deliveries = [delivery(
            "acme",
            &format!("msg_{i:02}"),
            &alert_id,
            endpoint_id,
            status,
        )];
        stores
            .alerts
            .record_alert(record(&alert("acme", &alert_id), &deliveries, None))
            .await?;
        newest_first.insert(0, deliveries[0].clone());
    }
    let filters = [
        DeliveryFilter::default(),
        DeliveryFilter {
            status: Some(DeliveryStatus::Dead),
            ..DeliveryFilter::default()
        },
        DeliveryFilter {
            endpoint_id: Some(EndpointId::from("ep_2")),
            ..DeliveryFilter::default()
        },
        DeliveryFilter {
            endpoint_id: Some(EndpointId::from("ep_2")),
            status: Some(DeliveryStatus::Dead),
            ..DeliveryFilter::default()
        },
        // On DynamoDB, delivered deliveries are in no status index: their status is checked item by item.
        DeliveryFilter {
            status: Some(DeliveryStatus::Delivered),
            ..DeliveryFilter::default()
        },
        DeliveryFilter {
            endpoint_id: Some(EndpointId::from("ep_1")),
            status: Some(DeliveryStatus::Delivered),
            ..DeliveryFilter::default()
        },
    ];
    for base in filters {
        for limit in [1, 2, 3, 5, 11, 20] {
            let mut filter = DeliveryFilter {
                limit,
                ..base.clone()
            };
            let mut pages = Vec::new();
            loop {
                let page = stores.deliveries.list_deliveries(&acme, &filter).await?;
                assert!(page.len() <= limit, "{filter:?}");
                // A replay pages through the ids alone: the same deliveries, in the same order.
                let page_ids: Vec<DeliveryId> = page.iter().map(|d| d.id.clone()).collect();
                assert_eq!(
                    stores.deliveries.list_delivery_ids(&acme, &filter).await?,
                    page_ids,
                    "{filter:?}"
                );
                let Some(last) = page.last() else { break };
                filter.before = Some(last.id.clone());
                pages.push(page);
            }
            let expected: Vec<&Delivery> = newest_first
                .iter()
                .filter(|d| base.status.is_none_or(|s| d.status == s))
                .filter(|d| {
                    base.endpoint_id
                        .as_ref()
                        .is_none_or(|e| d.endpoint_id == *e)
                })
                .collect();
            let seen: Vec<&Delivery> = pages.iter().flatten().collect();
            assert_eq!(seen, expected, "{base:?} in pages of {limit}");
            let (last, full) = pages
                .split_last()
                .map_or((0, &[][..]), |(l, f)| (l.len(), f));
            assert!(full.iter().all(|p| p.len() == limit), "{base:?}");
            assert!(last <= limit);
        }
    }
    // A limit of 0 reads as 1.
    let one = DeliveryFilter {
        limit: 0,
        ..DeliveryFilter::default()
    };
    assert_eq!(
        ids(&stores.deliveries.list_deliveries(&acme, &one).await?),
        vec!["msg_10"]
    );
    Ok(())
}

async fn attempts_are_kept_in_order(stores: &Stores) -> Outcome {
    let acme = tenant("acme");
    let d = record_one_pending(stores).await?;
    let attempts = [attempt(1, 0, 500), attempt(2, 0, 429), attempt(3, 0, 200)];
    let retry = StatusChange {
        status: DeliveryStatus::Pending,
        reason: Some("HTTP 500"),
        next_attempt_at: Some(later!()),
    };
    let updates = [retry.clone(), retry, change(DeliveryStatus::Delivered)];
    for (attempt, update) in attempts.iter().zip(updates) {
        assert!(
            stores
                .deliveries
                .update_delivery(&acme, &d.id, 0, Some(attempt), update)
                .await?
        );
    }
    let stored = get(stores, "acme", "msg_01")
        .await?
        .expect("the delivery is stored");
    assert_eq!(stored.attempts, attempts);
    assert_eq!(stored.status, DeliveryStatus::Delivered);
    assert_eq!(stored.status_reason, None);
    assert_eq!(stored.next_attempt_at, None);
    assert_eq!(stored.run, 0);
    assert_eq!(
        (&stored.alert_id, &stored.endpoint_id, stored.created_at),
        (&d.alert_id, &d.endpoint_id, d.created_at)
    );
    assert!(stored.updated_at > d.updated_at);

    let listed = stores
        .deliveries
        .list_deliveries(
            &acme,
            &DeliveryFilter {
                endpoint_id: Some(d.endpoint_id.clone()),
                ..filter()
            },
        )
        .await?;
    assert_eq!(listed, vec![stored]);
    Ok(())
}

async fn update_delivery_moves_only_a_pending_delivery_of_its_run(stores: &Stores) -> Outcome {
    let (acme, deliveries) = (tenant("acme"), &stores.deliveries);
    let d = record_one_pending(stores).await?;

    let first = attempt(1, 0, 503);
    assert!(
        !deliveries
            .update_delivery(&acme, &d.id, 1, Some(&first), change(DeliveryStatus::Dead))
            .await?,
        "run 1 has not started"
    );
    assert_eq!(get(stores, "acme", "msg_01").await?, Some(d.clone()));

    let waiting = StatusChange {
        status: DeliveryStatus::Pending,
        reason: Some("HTTP 503"),
        next_attempt_at: Some(later!()),
    };
    assert!(
        deliveries
            .update_delivery(&acme, &d.id, 0, Some(&first), waiting)
            .await?
    );
    let stored = get(stores, "acme", "msg_01").await?.expect("stored");
    assert_eq!(stored.status, DeliveryStatus::Pending);
    assert_eq!(stored.status_reason.as_deref(), Some("HTTP 503"));
    assert_eq!(stored.next_attempt_at, Some(later!()));
    assert_eq!(stored.attempts, vec![first.clone()]);

    // A decision without an attempt.
    let dead = StatusChange {
        status: DeliveryStatus::Dead,
        reason: Some("10 attempts failed"),
        next_attempt_at: None,
    };
    assert!(
        deliveries
            .update_delivery(&acme, &d.id, 0, None, dead)
            .await?
    );
    let stored = get(stores, "acme", "msg_01").await?.expect("stored");
    assert_eq!(stored.status, DeliveryStatus::Dead);
    assert_eq!(stored.status_reason.as_deref(), Some("10 attempts failed"));
    assert_eq!(stored.next_attempt_at, None);
    assert_eq!(stored.attempts, vec![first.clone()]);

    // Finished: nothing more is written.
    assert!(
        !deliveries
            .update_delivery(
                &acme,
                &d.id,
                0,
                Some(&attempt(2, 0, 200)),
                change(DeliveryStatus::Delivered)
            )
            .await?
    );
    assert_eq!(get(stores, "acme", "msg_01").await?, Some(stored.clone()));

    let missing = DeliveryId::from("msg_99");
    assert!(
        !deliveries
            .update_delivery(&acme, &missing, 0, None, change(DeliveryStatus::Dead))
            .await?
    );
    assert_eq!(get(stores, "acme", "msg_99").await?, None);
    Ok(())
}

/// Two copies of a run's task (SQS delivers at least once) may both make attempt 2: the second to record
/// it writes nothing, so the run's numbers stay distinct, and that copy ends.
async fn an_attempt_recorded_in_the_run_already_is_not_recorded_again(stores: &Stores) -> Outcome {
    let (acme, deliveries) = (tenant("acme"), &stores.deliveries);
    let d = record_one_pending(stores).await?;
    let retry = || StatusChange {
        status: DeliveryStatus::Pending,
        reason: Some("HTTP 503"),
        next_attempt_at: Some(later!()),
    };
    for number in [1, 2] {
        assert!(
            deliveries
                .update_delivery(&acme, &d.id, 0, Some(&attempt(number, 0, 503)), retry())
                .await?
        );
    }
    let before = get(stores, "acme", "msg_01").await?;
    for number in [1, 2] {
        assert!(
            !deliveries
                .update_delivery(
                    &acme,
                    &d.id,
                    0,
                    Some(&attempt(number, 0, 200)),
                    change(DeliveryStatus::Delivered)
                )
                .await?,
            "attempt {number} is recorded already"
        );
    }
    assert_eq!(get(stores, "acme", "msg_01").await?, before);
    // A decision without an attempt is not an attempt made twice.
    assert!(
        deliveries
            .update_delivery(&acme, &d.id, 0, None, retry())
            .await?
    );
    assert!(
        deliveries
            .update_delivery(&acme, &d.id, 0, Some(&attempt(3, 0, 503)), retry())
            .await?
    );
    // A new run numbers from 1 again.
    assert_eq!(deliveries.start_resend(&acme, &d.id, None).await?, Some(1));
    assert!(
        deliveries
            .update_delivery(
                &acme,
                &d.id,
                1,
                Some(&attempt(1, 1, 200)),
                change(DeliveryStatus::Delivered)
            )
            .await?
    );
    let stored = get(stores, "acme", "msg_01").await?.expect("stored");
    let numbers: Vec<(u32, u32)> = stored.attempts.iter().map(|a| (a.run, a.number)).collect();
    assert_eq!(numbers, [(0, 1), (0, 2), (0, 3), (1, 1)]);
    assert_eq!(stored.status, DeliveryStatus::Delivered);
    Ok(())
}

/// More than one transaction's worth (100 on DynamoDB), with deliveries in other states and an unknown id
/// among them.
async fn start_resends_begins_new_runs_of_those_in_the_status_in_the_order_given(
    stores: &Stores,
) -> Outcome {
    let acme = tenant("acme");
    let statuses = (0..130).map(|i| match i % 13 {
        5 => "pending",
        9 => "delivered",
        _ => "dead",
    });
    let records: Vec<Delivery> = statuses
        .enumerate()
        .map(|(i, status)| delivery("acme", &format!("msg_{i:03}"), "al_01", "ep_01", status))
        .collect();
    stores
        .alerts
        .record_alert(record(&alert("acme", "al_01"), &records, None))
        .await?;
    // Newest first, as a replay pages them, with an id that was never recorded in the middle.
    let mut ids: Vec<DeliveryId> = records.iter().rev().map(|d| d.id.clone()).collect();
    ids.insert(40, DeliveryId::from("msg_missing"));
    let started = stores
        .deliveries
        .start_resends(&acme, &ids, Some(DeliveryStatus::Dead))
        .await?;
    let expected: Vec<(DeliveryId, u32)> = records
        .iter()
        .rev()
        .filter(|d| d.status == DeliveryStatus::Dead)
        .map(|d| (d.id.clone(), 1))
        .collect();
    assert_eq!(expected.len(), 110);
    assert_eq!(started, expected);
    for d in &records {
        let stored = get(stores, "acme", &d.id.0).await?.expect("stored");
        let now = match d.status {
            DeliveryStatus::Dead => (DeliveryStatus::Pending, 1),
            other => (other, 0),
        };
        assert_eq!((stored.status, stored.run), now, "{}", d.id);
    }
    // Started once: they are no longer dead.
    let again = stores
        .deliveries
        .start_resends(&acme, &ids, Some(DeliveryStatus::Dead))
        .await?;
    assert_eq!(again, []);
    Ok(())
}

async fn start_resend_begins_a_new_run(stores: &Stores) -> Outcome {
    let (acme, deliveries) = (tenant("acme"), &stores.deliveries);
    let d = record_one_pending(stores).await?;
    let gone = StatusChange {
        status: DeliveryStatus::Dead,
        reason: Some("410 Gone"),
        next_attempt_at: Some(later!()),
    };
    assert!(
        deliveries
            .update_delivery(&acme, &d.id, 0, Some(&attempt(1, 0, 410)), gone)
            .await?
    );

    assert_eq!(
        deliveries
            .start_resend(&acme, &d.id, Some(DeliveryStatus::Delivered))
            .await?,
        None,
        "it is dead, not delivered"
    );
    assert_eq!(deliveries.start_resend(&acme, &d.id, None).await?, Some(1));
    let stored = get(stores, "acme", "msg_01").await?.expect("stored");
    assert_eq!(
        (
            stored.status,
            stored.run,
            stored.status_reason.as_deref(),
            stored.next_attempt_at
        ),
        (DeliveryStatus::Pending, 1, None, None)
    );
    assert_eq!(
        stored.attempts,
        vec![attempt(1, 0, 410)],
        "attempts are kept"
    );

    // The old run's worker can no longer write.
    assert!(
        !deliveries
            .update_delivery(&acme, &d.id, 0, None, change(DeliveryStatus::Dead))
            .await?
    );
    // Only a dead delivery is replayed.
    assert_eq!(
        deliveries
            .start_resend(&acme, &d.id, Some(DeliveryStatus::Dead))
            .await?,
        None
    );
    assert_eq!(get(stores, "acme", "msg_01").await?, Some(stored));

    let dead = StatusChange {
        status: DeliveryStatus::Dead,
        reason: Some("10 attempts failed"),
        next_attempt_at: None,
    };
    assert!(
        deliveries
            .update_delivery(&acme, &d.id, 1, Some(&attempt(1, 1, 500)), dead)
            .await?
    );
    assert_eq!(
        deliveries
            .start_resend(&acme, &d.id, Some(DeliveryStatus::Dead))
            .await?,
        Some(2)
    );
    // A resend of a pending delivery also starts a new run.
    assert_eq!(deliveries.start_resend(&acme, &d.id, None).await?, Some(3));
    let stored = get(stores, "acme", "msg_01").await?.expect("stored");
    assert_eq!((stored.run, stored.attempts.len()), (3, 2));
    assert!(
        deliveries
            .update_delivery(
                &acme,
                &d.id,
                3,
                Some(&attempt(1, 3, 200)),
                change(DeliveryStatus::Delivered)
            )
            .await?
    );

    assert_eq!(
        deliveries
            .start_resend(&acme, &DeliveryId::from("msg_99"), None)
            .await?,
        None
    );
    assert_eq!(get(stores, "acme", "msg_99").await?, None);
    Ok(())
}

async fn a_fallback_delivery_is_added_once_and_linked_both_ways(stores: &Stores) -> Outcome {
    let (acme, deliveries) = (tenant("acme"), &stores.deliveries);
    // An endpoint keeps the fallback it names.
    let primary = Endpoint {
        fallback_endpoint_id: Some(EndpointId::from("ep_02")),
        ..endpoint("acme", "ep_01", 1, "primary")
    };
    stores.endpoints.insert_endpoint(&primary).await?;
    let stored = stores
        .endpoints
        .get_endpoint(&acme, &primary.id)
        .await?
        .expect("stored");
    assert_eq!(stored.fallback_endpoint_id, primary.fallback_endpoint_id);

    // GIVEN msg_01 dead
    let d = record_one_pending(stores).await?;
    assert!(
        deliveries
            .update_delivery(
                &acme,
                &d.id,
                0,
                Some(&attempt(1, 0, 410)),
                change(DeliveryStatus::Dead)
            )
            .await?
    );
    // WHEN its fallback msg_02 to ep_02 is recorded
    let fallback = Delivery {
        fallback_of: Some(d.id.clone()),
        ..delivery("acme", "msg_02", "al_01", "ep_02", "pending")
    };
    let record = || FallbackRecord {
        delivery: &fallback,
        tasks: &[],
    };
    assert_eq!(
        deliveries.record_fallback(record()).await?,
        FallbackOutcome::Recorded { enqueued: false }
    );
    // THEN each names the other, in a read and in the alert's list
    let dead = get(stores, "acme", "msg_01").await?.expect("stored");
    assert_eq!(dead.fallback_delivery_id, Some(fallback.id.clone()));
    assert_eq!(dead.status, DeliveryStatus::Dead);
    assert_eq!(get(stores, "acme", "msg_02").await?, Some(fallback.clone()));
    let listed = deliveries
        .list_deliveries(
            &acme,
            &DeliveryFilter {
                alert_id: Some(AlertId::from("al_01")),
                ..filter()
            },
        )
        .await?;
    assert_eq!(listed, vec![fallback.clone(), dead.clone()]);

    // WHEN it is recorded again THEN nothing is written
    assert_eq!(
        deliveries.record_fallback(record()).await?,
        FallbackOutcome::AlreadyRecorded
    );
    assert_eq!(get(stores, "acme", "msg_01").await?, Some(dead));
    assert_eq!(get(stores, "acme", "msg_02").await?, Some(fallback));
    Ok(())
}

async fn settings_are_per_tenant_and_a_notice_is_taken_once_per_window(stores: &Stores) -> Outcome {
    let (acme, globex, settings) = (tenant("acme"), tenant("globex"), &stores.settings);
    assert_eq!(
        settings.get_settings(&acme).await?,
        TenantSettings::default()
    );
    let ops = TenantSettings {
        operations_endpoint_id: Some(EndpointId::from("ep_ops")),
        default_endpoint_id: Some(EndpointId::from("ep_tickets")),
    };
    settings.put_settings(&acme, &ops).await?;
    assert_eq!(settings.get_settings(&acme).await?, ops);
    assert_eq!(
        settings.get_settings(&globex).await?,
        TenantSettings::default()
    );
    settings
        .put_settings(&acme, &TenantSettings::default())
        .await?;
    assert_eq!(
        settings.get_settings(&acme).await?,
        TenantSettings::default()
    );

    let hour = chrono::Duration::hours(1);
    let at: DateTime<Utc> = CREATED.parse().expect("a time");
    let key = "endpoint.failing:ep_01";
    assert!(settings.claim_notice(&acme, key, at, hour).await?);
    let later = at + chrono::Duration::minutes(59);
    assert!(
        !settings.claim_notice(&acme, key, later, hour).await?,
        "within the hour"
    );
    assert!(
        settings.claim_notice(&globex, key, later, hour).await?,
        "per tenant"
    );
    assert!(
        settings
            .claim_notice(&acme, "endpoint.failing:ep_02", later, hour)
            .await?,
        "per key"
    );
    assert!(
        settings.claim_notice(&acme, key, at + hour, hour).await?,
        "the hour is over"
    );
    assert!(!settings.claim_notice(&acme, key, at + hour, hour).await?);
    Ok(())
}

async fn every_read_and_write_is_tenant_scoped(stores: &Stores) -> Outcome {
    let (acme, beta) = (tenant("acme"), tenant("beta"));
    let theirs = alert("acme", "al_01");
    let their_deliveries = [delivery("acme", "msg_01", "al_01", "ep_01", "pending")];
    stores
        .alerts
        .record_alert(record(&theirs, &their_deliveries, Some(("k", "h"))))
        .await?;

    assert_eq!(stores.alerts.get_alert(&beta, &theirs.id).await?, None);
    assert_eq!(get(stores, "beta", "msg_01").await?, None);
    let filters = [
        filter(),
        DeliveryFilter {
            alert_id: Some(theirs.id.clone()),
            ..filter()
        },
        DeliveryFilter {
            endpoint_id: Some(EndpointId::from("ep_01")),
            ..filter()
        },
        DeliveryFilter {
            status: Some(DeliveryStatus::Pending),
            ..filter()
        },
        DeliveryFilter {
            endpoint_id: Some(EndpointId::from("ep_01")),
            status: Some(DeliveryStatus::Pending),
            ..filter()
        },
        DeliveryFilter {
            before: Some(DeliveryId::from("msg_99")),
            ..filter()
        },
    ];
    for filter in &filters {
        assert_eq!(
            stores.deliveries.list_deliveries(&beta, filter).await?,
            vec![],
            "{filter:?}"
        );
    }
    let id = &their_deliveries[0].id;
    assert!(
        !stores
            .deliveries
            .update_delivery(
                &beta,
                id,
                0,
                Some(&attempt(1, 0, 200)),
                change(DeliveryStatus::Delivered)
            )
            .await?
    );
    assert_eq!(stores.deliveries.start_resend(&beta, id, None).await?, None);
    stores.alerts.mark_enqueued(&beta, &theirs.id).await?;
    assert_eq!(
        get(stores, "acme", "msg_01").await?.as_ref(),
        Some(&their_deliveries[0]),
        "untouched by beta"
    );
    let replay = stores
        .alerts
        .record_alert(record(&alert("acme", "al_02"), &[], Some(("k", "h"))))
        .await?;
    assert!(
        matches!(
            replay,
            RecordOutcome::AlreadyRecorded {
                enqueued: false,
                ..
            }
        ),
        "beta cannot mark acme's alert enqueued: {replay:?}"
    );

    // beta may use the very same ids and key: its own records, apart from acme's.
    let own = alert("beta", "al_01");
    let own_deliveries = [delivery("beta", "msg_01", "al_01", "ep_01", "pending")];
    assert!(matches!(
        stores
            .alerts
            .record_alert(record(&own, &own_deliveries, Some(("k", "h"))))
            .await?,
        RecordOutcome::Recorded { .. }
    ));
    assert!(
        stores
            .deliveries
            .update_delivery(&beta, id, 0, None, change(DeliveryStatus::Dead))
            .await?
    );
    assert_eq!(
        get(stores, "acme", "msg_01").await?.map(|d| d.status),
        Some(DeliveryStatus::Pending)
    );
    assert_eq!(
        stores.alerts.get_alert(&acme, &theirs.id).await?,
        Some(theirs)
    );
    for filter in &filters[1..] {
        assert_eq!(
            ids(&stores.deliveries.list_deliveries(&acme, filter).await?),
            if filter.status == Some(DeliveryStatus::Pending) || filter.status.is_none() {
                vec!["msg_01"]
            } else {
                vec![]
            },
            "{filter:?}"
        );
    }
    Ok(())
}

#[cfg(feature = "aws")]
mod emulator;

/// An incident of one endpoint: the error noted, values captured, a newer error noted (captures stay), new
/// values in place of the old; another endpoint, key or tenant sees nothing of it.
async fn an_incident_keeps_its_latest_error_and_what_was_captured(stores: &Stores) -> Outcome {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let (tracker, pager) = (EndpointId::from("ep_tracker"), EndpointId::from("ep_pager"));
    // An incident key is the sender's text: `#`, `%` and length must not matter.
    let key = "db#1%/prod ".repeat(40);
    let incident = IncidentRef {
        tenant: &acme,
        endpoint_id: &tracker,
        incident_key: &key,
    };
    let at = |s: &str| -> DateTime<Utc> { s.parse().expect("a time") };
    let incidents = &stores.incidents;
    assert_eq!(incidents.get_incident(incident).await?, None);

    let first = DeliveryId::from("msg_1");
    incidents
        .note_error(incident, &first, at("2026-01-02T03:04:05Z"))
        .await?;
    let noted = incidents.get_incident(incident).await?.expect("noted");
    assert_eq!(noted.error_delivery_id.as_ref(), Some(&first));
    assert_eq!(noted.resolved_at, None);
    assert!(noted.captured.is_empty());
    assert_eq!(noted.updated_at, at("2026-01-02T03:04:05Z"));

    let values = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    incidents
        .keep_captured(
            incident,
            &first,
            &values(&[("ticket_id", "T-17")]),
            at("2026-01-02T03:04:06Z"),
        )
        .await?;
    let second = DeliveryId::from("msg_2");
    incidents
        .note_error(incident, &second, at("2026-01-02T03:05:00Z"))
        .await?;
    let record = incidents.get_incident(incident).await?.expect("kept");
    assert_eq!(record.error_delivery_id.as_ref(), Some(&second));
    assert_eq!(record.captured, values(&[("ticket_id", "T-17")]));
    incidents
        .keep_captured(
            incident,
            &second,
            &values(&[("ticket_id", "T-18"), ("url", "/t/18")]),
            at("2026-01-02T03:05:01Z"),
        )
        .await?;
    let record = incidents.get_incident(incident).await?.expect("kept");
    assert_eq!(
        record.captured,
        values(&[("ticket_id", "T-18"), ("url", "/t/18")])
    );
    assert_eq!(record.error_delivery_id.as_ref(), Some(&second));

    // Values captured before any error was noted (an error stored before its endpoint captured) make the
    // record, with that error.
    let late = IncidentRef {
        incident_key: "late",
        ..incident
    };
    incidents
        .keep_captured(
            late,
            &first,
            &values(&[("ticket_id", "T-1")]),
            at("2026-01-02T03:04:05Z"),
        )
        .await?;
    assert_eq!(
        incidents
            .get_incident(late)
            .await?
            .expect("made")
            .error_delivery_id,
        Some(first.clone())
    );

    // An ok noted while the endpoint was in maintenance makes the record, with no error; an error noted
    // after it keeps the time it was resolved, and values captured later keep the error.
    let resolved = IncidentRef {
        incident_key: "resolved",
        ..incident
    };
    incidents
        .note_resolved(resolved, at("2026-01-02T04:00:00Z"))
        .await?;
    let record = incidents.get_incident(resolved).await?.expect("made");
    assert_eq!(
        (record.error_delivery_id, record.resolved_at),
        (None, Some(at("2026-01-02T04:00:00Z")))
    );
    incidents
        .keep_captured(
            resolved,
            &second,
            &values(&[("ticket_id", "T-2")]),
            at("2026-01-02T04:00:01Z"),
        )
        .await?;
    let record = incidents.get_incident(resolved).await?.expect("kept");
    assert_eq!(record.error_delivery_id.as_ref(), Some(&second));
    incidents
        .note_error(resolved, &first, at("2026-01-02T04:00:02Z"))
        .await?;
    let record = incidents.get_incident(resolved).await?.expect("kept");
    assert_eq!(record.error_delivery_id, Some(first));
    assert_eq!(record.resolved_at, Some(at("2026-01-02T04:00:00Z")));
    assert_eq!(record.captured, values(&[("ticket_id", "T-2")]));

    for elsewhere in [
        IncidentRef {
            endpoint_id: &pager,
            ..incident
        },
        IncidentRef {
            incident_key: "db#1",
            ..incident
        },
        IncidentRef {
            tenant: &globex,
            ..incident
        },
    ] {
        assert_eq!(incidents.get_incident(elsewhere).await?, None);
    }
    Ok(())
}

/// A tenant's windows, listed oldest first; deleted once (a second delete says so); another tenant sees
/// none of them.
async fn maintenance_windows_are_kept_per_tenant_and_deleted_once(stores: &Stores) -> Outcome {
    use alertwire_shared::maintenance;
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let created = |id: &str, body| {
        maintenance::from_json(&body, id.to_string(), CREATED.parse().expect("a time"))
            .expect("a valid window")
    };
    let upgrade = created(
        "mw_1",
        json!({"name": "upgrade", "endpoint_id": "ep_db",
            "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z"}),
    );
    let nightly = created(
        "mw_2",
        json!({"name": "nightly", "recurring":
            {"time_zone": "Europe/Berlin", "days": ["sat", "sun"], "from": "22:00", "to": "02:00"}}),
    );
    let windows = &stores.maintenance;
    assert!(windows.list_windows(&acme).await?.is_empty());
    windows.insert_window(&acme, &upgrade).await?;
    windows.insert_window(&acme, &nightly).await?;
    assert_eq!(
        windows.list_windows(&acme).await?,
        [upgrade.clone(), nightly.clone()]
    );
    assert!(windows.list_windows(&globex).await?.is_empty());
    assert!(!windows.delete_window(&globex, "mw_1").await?);

    assert!(windows.delete_window(&acme, "mw_1").await?);
    assert!(!windows.delete_window(&acme, "mw_1").await?);
    assert_eq!(windows.list_windows(&acme).await?, [nightly]);
    Ok(())
}

/// An endpoint's errors are counted in its open window; the first error after the window's end begins
/// the next one, counted from 1; other endpoints and tenants count apart.
async fn an_endpoints_errors_are_counted_per_window(stores: &Stores) -> Outcome {
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let (pager, chat) = (EndpointId::from("ep_pager"), EndpointId::from("ep_chat"));
    let at = |s: &str| -> DateTime<Utc> { s.parse().expect("a time") };
    let minute = chrono::Duration::minutes(1);
    let digests = &stores.digests;
    let mut counts = Vec::new();
    for time in [
        "2026-01-02T03:04:05Z",
        "2026-01-02T03:04:06Z",
        "2026-01-02T03:05:04.999Z",
    ] {
        counts.push(digests.count_error(&acme, &pager, at(time), minute).await?);
    }
    let started = at("2026-01-02T03:04:05Z");
    assert_eq!(
        counts
            .iter()
            .map(|c| (c.started_at, c.count))
            .collect::<Vec<_>>(),
        [(started, 1), (started, 2), (started, 3)]
    );
    // The window keeps the end it began with, whatever length a later count asks for.
    assert!(counts.iter().all(|c| c.ends_at == started + minute));
    let longer = digests
        .count_error(
            &acme,
            &pager,
            at("2026-01-02T03:05:00Z"),
            chrono::Duration::hours(1),
        )
        .await?;
    assert_eq!((longer.ends_at, longer.count), (started + minute, 4));
    // Another endpoint, or the same one of another tenant, has a window of its own.
    let chat_count = digests
        .count_error(&acme, &chat, at("2026-01-02T03:04:30Z"), minute)
        .await?;
    assert_eq!(chat_count.count, 1);
    let globex_count = digests
        .count_error(&globex, &pager, at("2026-01-02T03:04:30Z"), minute)
        .await?;
    assert_eq!(globex_count.count, 1);
    // At the window's end the next one begins.
    let next = digests
        .count_error(&acme, &pager, at("2026-01-02T03:05:05Z"), minute)
        .await?;
    assert_eq!(
        (next.started_at, next.count),
        (at("2026-01-02T03:05:05Z"), 1)
    );
    let next = digests
        .count_error(&acme, &pager, at("2026-01-02T03:05:06Z"), minute)
        .await?;
    assert_eq!((next.count, next.ends_at), (2, at("2026-01-02T03:06:05Z")));
    Ok(())
}

/// The alerts whose deliveries link to a digest are listed in it, oldest first, at most as many as asked
/// and all counted; another digest's, and another tenant's, are not.
async fn a_digest_lists_the_alerts_folded_into_it(stores: &Stores) -> Outcome {
    let acme = tenant("acme");
    let digest = DeliveryId::from("msg_dg_1");
    let other = DeliveryId::from("msg_dg_2");
    for (n, link) in [(1, &digest), (2, &digest), (3, &other), (4, &digest)] {
        let alert_id = format!("al_0{n}");
        let mut alert = alert("acme", &alert_id);
        alert.content.title = format!("storm {n}");
        let mut folded = delivery("acme", &format!("msg_0{n}"), &alert_id, "ep_01", "filtered");
        folded.status_reason = Some("digest: folded".into());
        folded.digest_delivery_id = Some(link.clone());
        stores
            .alerts
            .record_alert(record(&alert, &[folded], None))
            .await?;
    }
    // A delivery of another tenant naming the same digest id is not its.
    let stranger = alert("globex", "al_09");
    let mut theirs = delivery("globex", "msg_09", "al_09", "ep_01", "filtered");
    theirs.digest_delivery_id = Some(digest.clone());
    stores
        .alerts
        .record_alert(record(&stranger, &[theirs], None))
        .await?;

    let members = stores.digests.digest_members(&acme, &digest, 2).await?;
    assert_eq!(members.count, 3);
    let listed: Vec<(&str, &str)> = members
        .listed
        .iter()
        .map(|m| (m.delivery_id.as_str(), m.title.as_str()))
        .collect();
    assert_eq!(listed, [("msg_01", "storm 1"), ("msg_02", "storm 2")]);
    let first = &members.listed[0];
    assert_eq!(first.alert_id, AlertId::from("al_01"));
    assert_eq!(first.incident_key.as_deref(), Some("disk-db-1"));
    assert_eq!(
        first.link.as_deref(),
        Some("https://monitoring.example.com/a/1")
    );
    // The delivery keeps its link.
    let stored = stores
        .deliveries
        .get_delivery(&acme, &DeliveryId::from("msg_04"))
        .await?
        .expect("recorded");
    assert_eq!(stored.digest_delivery_id, Some(digest.clone()));

    let other_members = stores.digests.digest_members(&acme, &other, 100).await?;
    assert_eq!(other_members.count, 1);
    let none = stores
        .digests
        .digest_members(&acme, &DeliveryId::from("msg_dg_3"), 100)
        .await?;
    assert_eq!((none.count, none.listed.len()), (0, 0));
    Ok(())
}
