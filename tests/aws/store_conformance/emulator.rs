//! The DynamoDB half's set-up on the moto emulator (a fresh table per test), and the cases only DynamoDB
//! has: expiry, the table itself, unreadable items, an interrupted large alert, endpoint secrets sealed
//! under KMS. Built with the `aws` feature only.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use alertwire_shared::aws::dynamodb::{DEFAULT_RECORD_TTL, DynamoStore, create_table};
use alertwire_shared::aws::kms::KmsSealer;
use alertwire_shared::aws::load_sdk_config;
use alertwire_shared::ports::secret_sealer::{SealError, SecretSealer};
use alertwire_shared::sealing::LocalSealer;
use alertwire_shared::webhook::signing::WebhookSecret;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, BillingMode, TimeToLiveStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;

/// A client for the emulator. Panics without `AWS_ENDPOINT_URL`: these tests must never pass, or run
/// against real AWS, by accident.
async fn dynamodb_client() -> Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: the DynamoDB conformance tests need the moto emulator \
         (tests/run.sh starts it; or run `moto_server -H 127.0.0.1 -p PORT` and set \
         AWS_ENDPOINT_URL=http://127.0.0.1:PORT AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
         AWS_REGION=us-east-1)"
    );
    Client::new(&load_sdk_config().await)
}

/// A fresh, uniquely named table for one test.
async fn fresh_table(client: &Client, case: &str) -> String {
    let unique = TenantId::generate().0.replace("tn_", "");
    let table = format!("conformance-{case}-{unique}");
    create_table(client, &table)
        .await
        .unwrap_or_else(|e| panic!("cannot create the table {table}: {e}"));
    table
}

/// The four ports of a DynamoDB store on a fresh table named after `case`.
pub(super) async fn fresh_stores(case: &str) -> Stores {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, case).await;
    Stores::of(DynamoStore::new(
        client,
        table,
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    ))
}

#[tokio::test]
async fn dynamodb_expired_records_read_as_absent() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "expired").await;
    let sealer = Arc::new(LocalSealer::generate());
    let short = DynamoStore::new(
        client.clone(),
        table.clone(),
        Duration::ZERO,
        sealer.clone(),
    );
    let long = DynamoStore::new(client, table, DEFAULT_RECORD_TTL, sealer);
    let acme = tenant("acme");

    // One lasting delivery, older than the expired ones.
    let kept = alert("acme", "al_00");
    let kept_delivery = [delivery("acme", "msg_00", "al_00", "ep_01", "pending")];
    long.record_alert(record(&kept, &kept_delivery, None))
        .await
        .expect("recorded");

    // Expired on arrival: the records exist in the table but read as absent.
    let gone = alert("acme", "al_01");
    let gone_deliveries = [
        delivery("acme", "msg_01", "al_01", "ep_01", "pending"),
        delivery("acme", "msg_02", "al_01", "ep_02", "dead"),
    ];
    let outcome = short
        .record_alert(record(&gone, &gone_deliveries, Some(("k", "h1"))))
        .await
        .expect("recorded");
    assert!(matches!(outcome, RecordOutcome::Recorded { .. }));
    for store in [&short, &long] {
        assert_eq!(store.get_alert(&acme, &gone.id).await.expect("read"), None);
        for d in &gone_deliveries {
            assert_eq!(store.get_delivery(&acme, &d.id).await.expect("read"), None);
        }
        let filters = [
            DeliveryFilter {
                limit: 1,
                ..filter()
            },
            DeliveryFilter {
                alert_id: Some(gone.id.clone()),
                ..filter()
            },
            DeliveryFilter {
                status: Some(DeliveryStatus::Dead),
                ..filter()
            },
            DeliveryFilter {
                endpoint_id: Some(EndpointId::from("ep_02")),
                ..filter()
            },
        ];
        for filter in &filters {
            let listed = store.list_deliveries(&acme, filter).await.expect("listed");
            let expected = if filter.limit == 1 {
                vec!["msg_00"]
            } else {
                vec![]
            };
            assert_eq!(ids(&listed), expected, "{filter:?}");
        }
        assert!(
            !store
                .update_delivery(
                    &acme,
                    &gone_deliveries[0].id,
                    0,
                    Some(&attempt(1, 0, 200)),
                    change(DeliveryStatus::Delivered)
                )
                .await
                .expect("answered")
        );
        assert_eq!(
            store
                .start_resend(&acme, &gone_deliveries[1].id, None)
                .await
                .expect("answered"),
            None
        );
        store
            .mark_enqueued(&acme, &gone.id)
            .await
            .expect("answered");
    }

    // An expired idempotency key is free again.
    let again = alert("acme", "al_02");
    let again_deliveries = [delivery("acme", "msg_03", "al_02", "ep_01", "pending")];
    assert!(matches!(
        long.record_alert(record(&again, &again_deliveries, Some(("k", "h2"))))
            .await
            .expect("recorded"),
        RecordOutcome::Recorded { .. }
    ));
    assert_eq!(
        long.record_alert(record(&gone, &gone_deliveries, Some(("k", "h3"))))
            .await
            .expect("answered"),
        RecordOutcome::AlreadyRecorded {
            receipt: receipt(&again, &again_deliveries),
            request_hash: "h2".into(),
            enqueued: false,
        }
    );

    // Endpoints and keys never expire, whatever the store's TTL.
    short
        .insert_endpoint(&endpoint("acme", "ep_01", 1, "lasting"))
        .await
        .expect("inserted");
    assert!(
        short
            .get_endpoint(&acme, &EndpointId::from("ep_01"))
            .await
            .expect("read")
            .is_some()
    );
    short
        .add_key(&acme, "hash-a", "lasting")
        .await
        .expect("added");
    assert_eq!(
        short.tenant_for_key("hash-a").await.expect("read"),
        Some(acme.clone())
    );
    assert!(short.has_keys().await.expect("read"));
}

#[tokio::test]
async fn dynamodb_records_carry_their_expiry() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "expiry").await;
    let ttl = Duration::from_secs(3 * 24 * 3600);
    let store = DynamoStore::new(
        client.clone(),
        table.clone(),
        ttl,
        Arc::new(LocalSealer::generate()),
    );
    let acme = tenant("acme");
    let before = epoch_now();
    store
        .insert_endpoint(&endpoint("acme", "ep_01", 1, "first"))
        .await
        .expect("inserted");
    store.add_key(&acme, "hash-a", "key").await.expect("added");
    store
        .bootstrap_key(&acme, "hash-b", "deployment")
        .await
        .expect("registered");
    let deliveries = [delivery("acme", "msg_01", "al_01", "ep_01", "pending")];
    store
        .record_alert(record(
            &alert("acme", "al_01"),
            &deliveries,
            Some(("k", "h")),
        ))
        .await
        .expect("recorded");
    store
        .update_delivery(
            &acme,
            &deliveries[0].id,
            0,
            Some(&attempt(1, 0, 500)),
            change(DeliveryStatus::Pending),
        )
        .await
        .expect("updated");
    let after = epoch_now();

    let scanned = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .expect("the table scans");
    let mut kinds = BTreeSet::new();
    for item in scanned.items() {
        let sk = item
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .expect("every item has a sort key");
        let kind = sk.split('#').next().unwrap_or_default().to_string();
        let expires_at = item
            .get("expires_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok());
        match kind.as_str() {
            "AL" | "IDEM" | "DL" | "AT" => {
                let expires_at = expires_at.expect("an expiring record has expires_at");
                let ttl = ttl.as_secs();
                assert!(
                    (before + ttl..=after + ttl).contains(&expires_at),
                    "{sk}: {expires_at}"
                );
            }
            _ => assert_eq!(expires_at, None, "{sk} never expires"),
        }
        kinds.insert(kind);
    }
    let expected: BTreeSet<String> = [
        "AL",
        "IDEM",
        "DL",
        "AT",
        "EP",
        "KEY",
        "APIKEY",
        "BOOTSTRAPKEY",
        "META",
        // The tenant registry's items (sort key `T#<tenant>`).
        "T",
    ]
    .map(String::from)
    .into();
    assert_eq!(kinds, expected);
}

#[tokio::test]
async fn dynamodb_create_table_is_idempotent_and_enables_ttl() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "create").await;
    DynamoStore::create_table(&client, &table)
        .await
        .expect("creating an existing table is fine");

    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .expect("TTL is described")
        .time_to_live_description
        .expect("a TTL description");
    assert_eq!(ttl.time_to_live_status, Some(TimeToLiveStatus::Enabled));
    assert_eq!(ttl.attribute_name.as_deref(), Some("expires_at"));

    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the table is described")
        .table
        .expect("a table description");
    assert_eq!(
        described
            .billing_mode_summary
            .as_ref()
            .and_then(|b| b.billing_mode.clone()),
        Some(BillingMode::PayPerRequest)
    );
    // The layout template.yaml must declare too: index name, its hash and range key attributes.
    let indexes: BTreeSet<(String, Vec<String>)> = described
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let keys = i
                .key_schema()
                .iter()
                .map(|k| k.attribute_name.clone())
                .collect();
            (i.index_name.clone().unwrap_or_default(), keys)
        })
        .collect();
    let expected: BTreeSet<(String, Vec<String>)> = [
        ("by_endpoint", ["gsi1pk", "gsi1sk"]),
        ("by_status", ["gsi2pk", "gsi2sk"]),
        ("by_alert", ["gsi3pk", "gsi3sk"]),
        ("by_endpoint_status", ["gsi4pk", "gsi4sk"]),
    ]
    .into_iter()
    .map(|(name, keys)| (name.to_string(), keys.map(String::from).to_vec()))
    .collect();
    assert_eq!(indexes, expected);
}

#[tokio::test]
async fn dynamodb_unreadable_items_are_corrupt_not_panics() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "corrupt").await;
    let store = DynamoStore::new(
        client.clone(),
        table.clone(),
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let put = |sk: &str, extra: Vec<(&str, AttributeValue)>| {
        let mut request = client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("T#acme".into()))
            .item("sk", AttributeValue::S(sk.into()));
        for (name, value) in extra {
            request = request.item(name, value);
        }
        request.send()
    };
    put(
        "DL#msg_01",
        vec![
            ("delivery_id", AttributeValue::S("msg_01".into())),
            ("status", AttributeValue::N("7".into())),
        ],
    )
    .await
    .expect("written");
    put(
        "EP#ep_01",
        vec![("doc", AttributeValue::S("{not json".into()))],
    )
    .await
    .expect("written");
    put("AL#al_01", vec![("doc", AttributeValue::Bool(true))])
        .await
        .expect("written");

    let acme = tenant("acme");
    let corrupt = |result: Result<_, StoreError>| matches!(result, Err(StoreError::Corrupt(_)));
    assert!(corrupt(
        store
            .get_delivery(&acme, &DeliveryId::from("msg_01"))
            .await
            .map(|_| ())
    ));
    assert!(corrupt(
        store.list_deliveries(&acme, &filter()).await.map(|_| ())
    ));
    assert!(corrupt(
        store
            .get_endpoint(&acme, &EndpointId::from("ep_01"))
            .await
            .map(|_| ())
    ));
    assert!(corrupt(store.list_endpoints(&acme).await.map(|_| ())));
    assert!(corrupt(
        store
            .get_alert(&acme, &AlertId::from("al_01"))
            .await
            .map(|_| ())
    ));
}

#[tokio::test]
async fn dynamodb_an_interrupted_large_alert_is_finished_by_its_retry() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "interrupted").await;
    let store = DynamoStore::new(
        client.clone(),
        table.clone(),
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let acme = tenant("acme");
    let first = alert("acme", "al_01");
    let deliveries: Vec<Delivery> = (0..120)
        .map(|i| {
            delivery(
                "acme",
                &format!("msg_{i:04}"),
                "al_01",
                &format!("ep_{i:04}"),
                "pending",
            )
        })
        .collect();
    store
        .record_alert(record(&first, &deliveries, Some(("k", "h"))))
        .await
        .expect("recorded");

    // Put the table back in the state a crash between commit and publishing leaves: the alert marked
    // `publishing`, its first deliveries still `staged`.
    let update = |sk: String, expression: &'static str| {
        client
            .update_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("T#acme".into()))
            .key("sk", AttributeValue::S(sk))
            .update_expression(expression)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
    };
    update("AL#al_01".into(), "SET publishing = :yes")
        .await
        .expect("marked");
    for d in &deliveries[..30] {
        update(format!("DL#{}", d.id), "SET staged = :yes")
            .await
            .expect("staged");
    }
    assert_eq!(
        get_from(&store, &deliveries[0]).await,
        None,
        "staged reads as absent"
    );
    let listed = store
        .list_deliveries(&acme, &filter())
        .await
        .expect("listed");
    assert_eq!(listed.len(), 90, "staged deliveries are not listed");

    // The retried request finishes publishing before it answers.
    let retry = alert("acme", "al_02");
    assert_eq!(
        store
            .record_alert(record(&retry, &[], Some(("k", "h"))))
            .await
            .expect("answered"),
        RecordOutcome::AlreadyRecorded {
            receipt: receipt(&first, &deliveries),
            request_hash: "h".into(),
            enqueued: false,
        }
    );
    assert_eq!(
        get_from(&store, &deliveries[0]).await.as_ref(),
        Some(&deliveries[0])
    );
    let listed = store
        .list_deliveries(&acme, &filter())
        .await
        .expect("listed");
    assert_eq!(listed.len(), 120);
    let alert_item = client
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("T#acme".into()))
        .key("sk", AttributeValue::S("AL#al_01".into()))
        .send()
        .await
        .expect("read")
        .item
        .expect("the alert is stored");
    assert!(!alert_item.contains_key("publishing"), "publishing is done");
}

/// Item layouts: every record item is written with this build's layout; one without the attribute (written
/// before layouts) reads as before; one in a layout newer than this build reads is refused, naming both
/// layouts, not misread.
#[tokio::test]
async fn dynamodb_items_carry_their_layout_and_a_newer_one_is_refused() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "layouts").await;
    let store = DynamoStore::new(
        client.clone(),
        table.clone(),
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let first = alert("acme", "al_01");
    let deliveries = vec![delivery("acme", "msg_01", "al_01", "ep_01", "pending")];
    store
        .record_alert(record(&first, &deliveries, None))
        .await
        .expect("recorded");
    let raw = |sk: &'static str| {
        let client = client.clone();
        let table = table.clone();
        async move {
            client
                .get_item()
                .table_name(&table)
                .key("pk", AttributeValue::S("T#acme".into()))
                .key("sk", AttributeValue::S(sk.into()))
                .send()
                .await
                .expect("read")
                .item
                .expect("stored")
        }
    };
    for sk in ["AL#al_01", "DL#msg_01"] {
        assert_eq!(
            raw(sk).await.get("layout"),
            Some(&AttributeValue::N("1".into())),
            "{sk}"
        );
    }
    let update = |sk: &'static str, expression: &'static str, value: Option<&'static str>| {
        let mut request = client
            .update_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("T#acme".into()))
            .key("sk", AttributeValue::S(sk.into()))
            .update_expression(expression);
        if let Some(value) = value {
            request = request.expression_attribute_values(":v", AttributeValue::N(value.into()));
        }
        request.send()
    };
    let acme = tenant("acme");

    // An item from before layouts reads as before.
    update("AL#al_01", "REMOVE layout", None)
        .await
        .expect("removed");
    let read = store
        .get_alert(&acme, &AlertId::from("al_01"))
        .await
        .expect("a layout-0 alert reads");
    assert_eq!(read.map(|a| a.id), Some(first.id.clone()));

    // A newer layout is refused, by name.
    update("DL#msg_01", "SET layout = :v", Some("2"))
        .await
        .expect("set");
    let refused = store
        .get_delivery(&acme, &DeliveryId::from("msg_01"))
        .await
        .map(|_| ());
    let Err(StoreError::Corrupt(message)) = refused else {
        panic!("a layout-2 delivery was read: {refused:?}");
    };
    assert!(
        message.contains("layout 2") && message.contains("up to 1"),
        "{message}"
    );
}

/// A store on `table` with a local sealer.
fn plain_store(client: &Client, table: &str) -> DynamoStore {
    DynamoStore::new(
        client.clone(),
        table.to_string(),
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    )
}

/// Records the first attempt of acme's delivery `id` (run 0), answered `status_code`, ending it in
/// `status`.
async fn end_first_run(store: &DynamoStore, id: &str, status_code: u16, status: DeliveryStatus) {
    let ended = store
        .update_delivery(
            &tenant("acme"),
            &DeliveryId::from(id),
            0,
            Some(&attempt(1, 0, status_code)),
            change(status),
        )
        .await
        .expect("updated");
    assert!(ended, "{id} was pending in run 0");
}

/// Sets string attributes on acme's item `sk` directly, as the code of an earlier release left it.
async fn set_as_before(client: &Client, table: &str, sk: &str, attributes: &[(&str, &str)]) {
    let mut update = client
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S("T#acme".into()))
        .key("sk", AttributeValue::S(sk.into()));
    let mut clauses = Vec::new();
    for (n, (name, value)) in attributes.iter().enumerate() {
        clauses.push(format!("#a{n} = :v{n}"));
        update = update
            .expression_attribute_names(format!("#a{n}"), *name)
            .expression_attribute_values(format!(":v{n}"), AttributeValue::S((*value).into()));
    }
    update
        .update_expression(format!("SET {}", clauses.join(", ")))
        .send()
        .await
        .expect("set");
}

/// The ids of the deliveries `index` holds under `key_attribute` = `value`, sorted.
async fn ids_in_index(
    client: &Client,
    table: &str,
    index: &str,
    key_attribute: &str,
    value: &str,
) -> Vec<String> {
    let items = client
        .query()
        .table_name(table)
        .index_name(index)
        .key_condition_expression("#key = :key")
        .expression_attribute_names("#key", key_attribute)
        .expression_attribute_values(":key", AttributeValue::S(value.into()))
        .send()
        .await
        .expect("queried")
        .items
        .unwrap_or_default();
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|item| item.get("delivery_id")?.as_s().ok().cloned())
        .collect();
    ids.sort();
    ids
}

/// The ids of acme's deliveries that `filter` lists, in the order listed.
async fn listed_ids(store: &DynamoStore, filter: DeliveryFilter) -> Vec<String> {
    store
        .list_deliveries(
            &tenant("acme"),
            &DeliveryFilter {
                limit: 100,
                ..filter
            },
        )
        .await
        .expect("listed")
        .into_iter()
        .map(|d| d.id.0)
        .collect()
}

/// A delivered delivery leaves both status indexes (`by_status`, `by_endpoint_status`): a delete of each
/// entry, where a move to a `delivered` key would write two. It is still listed under `delivered`, from
/// the table and from `by_endpoint`, once; a resend puts it back in them as pending. A delivered item
/// written before this change, which still carries its `delivered` index keys, is listed the same.
#[tokio::test]
async fn dynamodb_a_delivered_delivery_leaves_the_status_indexes_and_is_still_listed() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "delivered_sparse").await;
    let store = plain_store(&client, &table);
    let acme = tenant("acme");
    for (alert_id, id) in [("al_1", "msg_1"), ("al_2", "msg_2")] {
        let deliveries = [delivery("acme", id, alert_id, "ep_1", "pending")];
        store
            .record_alert(record(&alert("acme", alert_id), &deliveries, None))
            .await
            .expect("recorded");
        end_first_run(&store, id, 200, DeliveryStatus::Delivered).await;
    }
    // msg_1 as the code before this change left it: in both indexes under `delivered`.
    set_as_before(
        &client,
        &table,
        "DL#msg_1",
        &[
            ("gsi2pk", "T#acme#ST#delivered"),
            ("gsi4pk", "T#acme#EP#ep_1#ST#delivered"),
        ],
    )
    .await;
    for (index, key, value) in [
        ("by_status", "gsi2pk", "T#acme#ST#delivered"),
        (
            "by_endpoint_status",
            "gsi4pk",
            "T#acme#EP#ep_1#ST#delivered",
        ),
    ] {
        assert_eq!(
            ids_in_index(&client, &table, index, key, value).await,
            vec!["msg_1"],
            "only the item written before the change is in {index} under delivered"
        );
    }
    let listed = |endpoint: Option<&'static str>, status: DeliveryStatus| {
        let filter = DeliveryFilter {
            endpoint_id: endpoint.map(EndpointId::from),
            status: Some(status),
            ..DeliveryFilter::default()
        };
        listed_ids(&store, filter)
    };
    for endpoint in [None, Some("ep_1")] {
        assert_eq!(
            listed(endpoint, DeliveryStatus::Delivered).await,
            vec!["msg_2", "msg_1"],
            "{endpoint:?}"
        );
    }

    // A resend puts msg_2 back in both indexes, as pending.
    assert_eq!(
        store
            .start_resend(&acme, &DeliveryId::from("msg_2"), None)
            .await
            .expect("resent"),
        Some(1)
    );
    for (index, key, value) in [
        ("by_status", "gsi2pk", "T#acme#ST#pending"),
        ("by_endpoint_status", "gsi4pk", "T#acme#EP#ep_1#ST#pending"),
    ] {
        assert_eq!(
            ids_in_index(&client, &table, index, key, value).await,
            vec!["msg_2"],
            "{index}"
        );
    }
    for endpoint in [None, Some("ep_1")] {
        assert_eq!(
            listed(endpoint, DeliveryStatus::Pending).await,
            vec!["msg_2"]
        );
        assert_eq!(
            listed(endpoint, DeliveryStatus::Delivered).await,
            vec!["msg_1"]
        );
    }
}

/// No delivery enters the retired `by_alert` index: an alert's deliveries, and the fallbacks they
/// lead to, are read by key from its receipt. A delivery written before, still in the index, leaves it
/// at its first change.
#[tokio::test]
async fn dynamodb_an_alerts_deliveries_are_read_from_its_receipt_not_an_index() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "by_receipt").await;
    let store = plain_store(&client, &table);
    let deliveries = [
        delivery("acme", "msg_1", "al_1", "ep_1", "pending"),
        delivery("acme", "msg_2", "al_1", "ep_2", "pending"),
    ];
    store
        .record_alert(record(&alert("acme", "al_1"), &deliveries, None))
        .await
        .expect("recorded");
    let in_by_alert = || ids_in_index(&client, &table, "by_alert", "gsi3pk", "T#acme#AL#al_1");
    assert_eq!(
        in_by_alert().await.len(),
        0,
        "a new delivery is not in by_alert"
    );
    // msg_1 as the code before this change wrote it.
    set_as_before(
        &client,
        &table,
        "DL#msg_1",
        &[("gsi3pk", "T#acme#AL#al_1"), ("gsi3sk", "msg_1")],
    )
    .await;
    assert_eq!(in_by_alert().await.len(), 1);
    // msg_1 dies, and so does its fallback msg_3; msg_3's fallback msg_4 is pending.
    end_first_run(&store, "msg_1", 410, DeliveryStatus::Dead).await;
    assert_eq!(
        in_by_alert().await.len(),
        0,
        "its first change takes it out"
    );
    for (dead, fallback, endpoint) in [("msg_1", "msg_3", "ep_3"), ("msg_3", "msg_4", "ep_4")] {
        let delivery = Delivery {
            fallback_of: Some(DeliveryId::from(dead)),
            ..delivery("acme", fallback, "al_1", endpoint, "pending")
        };
        store
            .record_fallback(FallbackRecord {
                delivery: &delivery,
                tasks: &[],
            })
            .await
            .expect("fallback recorded");
        if fallback == "msg_3" {
            end_first_run(&store, "msg_3", 410, DeliveryStatus::Dead).await;
        }
    }
    let listed = |status: Option<DeliveryStatus>| {
        let filter = DeliveryFilter {
            alert_id: Some(AlertId::from("al_1")),
            status,
            ..DeliveryFilter::default()
        };
        listed_ids(&store, filter)
    };
    assert_eq!(listed(None).await, vec!["msg_4", "msg_3", "msg_2", "msg_1"]);
    assert_eq!(
        listed(Some(DeliveryStatus::Dead)).await,
        vec!["msg_3", "msg_1"]
    );
    assert_eq!(in_by_alert().await.len(), 0);
}

/// The search for stranded deliveries reads the tenant registry, then each registered tenant's pending
/// deliveries: a tenant gets into the registry with its first key, or at a bootstrap (a deployment from
/// before the registry), and only the pending deliveries of registered tenants are found.
#[tokio::test]
async fn dynamodb_the_pending_search_covers_every_registered_tenant() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "pending_tenants").await;
    let store = DynamoStore::new(
        client.clone(),
        table.clone(),
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    store
        .add_key(&tenant("acme"), "hash-acme", "cli")
        .await
        .expect("a key");
    store
        .bootstrap_key(&tenant("beta"), "hash-beta", "deployment")
        .await
        .expect("a deployment key");
    let mut expected = Vec::new();
    for (tenant_name, alert_id) in [("acme", "al_1"), ("beta", "al_2"), ("gamma", "al_3")] {
        let deliveries: Vec<Delivery> = (0..3)
            .map(|n| {
                let id = format!("msg_{tenant_name}_{n}");
                if tenant_name != "gamma" {
                    expected.push(id.clone());
                }
                delivery(tenant_name, &id, alert_id, &format!("ep_{n}"), "pending")
            })
            .collect();
        store
            .record_alert(record(&alert(tenant_name, alert_id), &deliveries, None))
            .await
            .expect("recorded");
    }
    expected.sort();
    let before: DateTime<Utc> = "2026-01-03T00:00:00Z".parse().expect("a time");
    let mut found: Vec<String> = store
        .pending_unchanged_since(before, 100)
        .await
        .expect("searched")
        .into_iter()
        .map(|d| d.id.0)
        .collect();
    found.sort();
    assert_eq!(found, expected, "gamma has no key: never registered");
    assert_eq!(
        store
            .pending_unchanged_since(before, 4)
            .await
            .expect("searched")
            .len(),
        4
    );
}

async fn get_from(store: &DynamoStore, d: &Delivery) -> Option<Delivery> {
    store.get_delivery(&d.tenant, &d.id).await.expect("read")
}

fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A receiver may answer with some 400 KB of headers (what an HTTP client accepts): kept whole, they and
/// the body would pass DynamoDB's 400 KB item limit (moto enforces it), and the attempt could never be
/// recorded. The attempt keeps them within its limits, so it is.
#[tokio::test]
async fn dynamodb_records_an_attempt_answered_with_400_kb_of_headers() {
    use alertwire_shared::delivery::MAX_RESPONSE_HEADER_BYTES;
    use alertwire_shared::delivery::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
    use alertwire_shared::embedded::{EmbeddedQueue, QueueSettings};
    use alertwire_shared::outbound::sender::HttpSender;
    use alertwire_shared::ports::queue::TaskQueue;
    use alertwire_shared::service::{Ports, Service};
    use alertwire_tests::server::loopback_policy;
    use alertwire_tests::{Behaviour, Receiver};

    let client = dynamodb_client().await;
    let table = fresh_table(&client, "huge_headers").await;
    let store = DynamoStore::new(
        client,
        table,
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let queue = EmbeddedQueue::new(
        Database::in_memory().expect("an in-memory database"),
        QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_receives: MAX_ATTEMPTS,
        },
    );
    let service = Service::new(
        Ports::on_one_store(store.clone(), Arc::new(queue.clone())),
        HttpSender::new(Arc::new(loopback_policy()), Duration::from_secs(5)).expect("a client"),
        RetryPolicy::parse("0ms").expect("retry delays"),
    );
    let headers: Vec<(String, String)> = (0..61)
        .map(|i| (format!("x-big-{i:02}"), "a".repeat(6500)))
        .collect();
    let receiver = Receiver::start(Behaviour::Status(200, headers, "b".repeat(20 * 1024))).await;
    let tenant = TenantId::from("tn_headers");
    service
        .create_endpoint(
            &tenant,
            &json!({"name": "receiver", "url": receiver.url("/hooks")}),
        )
        .await
        .expect("endpoint created");
    let accepted = service
        .accept_alert(&tenant, &json!({"title": "Big answers"}), None)
        .await
        .expect("alert accepted");
    let received = queue.receive(1).await.expect("a receive");
    assert_eq!(received.len(), 1, "one task");
    service
        .attempt_delivery(&received[0])
        .await
        .expect("the attempt is recorded");

    let delivery = store
        .get_delivery(&tenant, &accepted.deliveries[0].0)
        .await
        .expect("store")
        .expect("the delivery exists");
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    let attempt = &delivery.attempts[0];
    let kept: usize = attempt
        .response_headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    assert!(kept <= MAX_RESPONSE_HEADER_BYTES, "{kept} bytes of headers");
    assert!(
        attempt
            .response_headers
            .iter()
            .any(|(name, value)| name == "x-big-00" && value.ends_with('…')),
        "the first large header is kept, cut: {:?}",
        attempt
            .response_headers
            .iter()
            .map(|(n, v)| (n, v.len()))
            .collect::<Vec<_>>()
    );
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn dynamodb_a_key_from_before_key_ids_is_adopted_as_the_deployment_key() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "legacy-key").await;
    let store = DynamoStore::new(
        client.clone(),
        table.clone(),
        DEFAULT_RECORD_TTL,
        Arc::new(LocalSealer::generate()),
    );
    let default = tenant("default");
    // The deployment key as an earlier version wrote it: the hash item alone, without id or entry.
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("KEY#hash-a".into()))
        .item("sk", AttributeValue::S("KEY".into()))
        .item("tenant", AttributeValue::S("default".into()))
        .item(
            "label",
            AttributeValue::S("ALERTWIRE_API_KEY_SHA256".into()),
        )
        .item(
            "created_at",
            AttributeValue::S("2026-01-05T09:00:00+00:00".into()),
        )
        .send()
        .await
        .expect("put");
    assert!(store.list_keys(&default).await.expect("read").is_empty());

    // The same hash at the next cold start: the key is given an id and listed, still valid.
    store
        .bootstrap_key(&default, "hash-a", "ALERTWIRE_API_KEY_SHA256")
        .await
        .expect("adopted");
    let listed = store.list_keys(&default).await.expect("read");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].label, "ALERTWIRE_API_KEY_SHA256");
    assert_eq!(
        store.tenant_for_key("hash-a").await.expect("read"),
        Some(default.clone())
    );

    // From then on it is rotated like any deployment key.
    store
        .bootstrap_key(&default, "hash-b", "ALERTWIRE_API_KEY_SHA256")
        .await
        .expect("rotated");
    assert_eq!(store.tenant_for_key("hash-a").await.expect("read"), None);
    assert_eq!(
        store.tenant_for_key("hash-b").await.expect("read"),
        Some(default.clone())
    );
    assert_eq!(store.list_keys(&default).await.expect("read").len(), 1);
}

/// A new KMS key in the emulator, and a sealer under it as a new Lambda container has (no data key yet).
async fn kms_key() -> (aws_sdk_kms::Client, String) {
    let kms = aws_sdk_kms::Client::new(&load_sdk_config().await);
    let key = kms.create_key().send().await.expect("a KMS key");
    (kms, key.key_metadata.expect("its metadata").key_id)
}

fn kms_store(client: &Client, table: &str, kms: &aws_sdk_kms::Client, key_id: &str) -> DynamoStore {
    let sealer = KmsSealer::new(kms.clone(), key_id.to_string());
    DynamoStore::new(
        client.clone(),
        table.to_string(),
        DEFAULT_RECORD_TTL,
        Arc::new(sealer),
    )
}

/// The endpoint item as stored, every attribute in its debug form.
async fn raw_endpoint_item(client: &Client, table: &str, id: &str) -> String {
    let found = client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S("T#acme".into()))
        .key("sk", AttributeValue::S(format!("EP#{id}")))
        .send()
        .await
        .expect("GetItem")
        .item
        .expect("the endpoint item");
    format!("{found:?}")
}

/// The fixture endpoint with a retiring secret beside its own: every kind of secret value.
fn endpoint_with_every_secret() -> Endpoint {
    let endpoint = endpoint("acme", "ep_01", 1, "sealed");
    let now = DateTime::parse_from_rfc3339(CREATED).unwrap().to_utc();
    let rotated =
        endpoint.with_rotated_secret(WebhookSecret::generate(), chrono::Duration::hours(1), now);
    Endpoint {
        version: 1,
        ..rotated
    }
}

#[tokio::test]
async fn kms_sealed_values_open_in_another_container_and_altered_ones_do_not() {
    let (kms, key_id) = kms_key().await;
    let sealed = KmsSealer::new(kms.clone(), key_id.clone())
        .seal(b"whsec_plain")
        .await
        .expect("sealed");
    assert!(sealed.starts_with("sealed:v1:") && !sealed.contains("whsec_plain"));
    // Another container: no data key cached, so KMS decrypts the one the value carries.
    let other = KmsSealer::new(kms.clone(), key_id.clone());
    assert_eq!(other.open(&sealed).await.expect("opened"), b"whsec_plain");

    let mut body = BASE64.decode(&sealed["sealed:v1:".len()..]).unwrap();
    let last = body.len() - 1;
    body[last] ^= 1;
    let altered = format!("sealed:v1:{}", BASE64.encode(&body));
    assert_eq!(other.open(&altered).await, Err(SealError::Refused));
    // The data key altered: KMS refuses to decrypt it.
    body[last] ^= 1;
    body[5] ^= 1;
    let altered_key = format!("sealed:v1:{}", BASE64.encode(&body));
    let fresh = KmsSealer::new(kms, key_id);
    assert!(matches!(
        fresh.open(&altered_key).await,
        Err(SealError::KeyService(_))
    ));
}

#[tokio::test]
async fn dynamodb_endpoint_secrets_are_sealed_in_the_item_under_kms() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "sealed").await;
    let (kms, key_id) = kms_key().await;
    let store = kms_store(&client, &table, &kms, &key_id);
    let endpoint = endpoint_with_every_secret();
    assert_eq!(
        endpoint.secret_values().len(),
        4,
        "secret, retiring, token, header"
    );
    store.insert_endpoint(&endpoint).await.expect("inserted");

    let raw = raw_endpoint_item(&client, &table, "ep_01").await;
    for value in endpoint.secret_values() {
        assert!(!raw.contains(&value), "{value} stored plain: {raw}");
    }
    assert!(raw.contains("sealed:v1:"), "{raw}");
    let acme = tenant("acme");
    let id = EndpointId::from("ep_01");
    assert_eq!(
        store.get_endpoint(&acme, &id).await.expect("read"),
        Some(endpoint.clone())
    );
    let other_container = kms_store(&client, &table, &kms, &key_id);
    assert_eq!(
        other_container.list_endpoints(&acme).await.expect("listed"),
        vec![endpoint]
    );
}

#[tokio::test]
async fn dynamodb_plain_endpoint_items_from_before_sealing_still_read() {
    let client = dynamodb_client().await;
    let table = fresh_table(&client, "plain").await;
    let (kms, key_id) = kms_key().await;
    let store = kms_store(&client, &table, &kms, &key_id);
    let endpoint = endpoint_with_every_secret();
    // As an alertwire from before sealing wrote it: the document with every value plain.
    client
        .put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("T#acme".into()))
        .item("sk", AttributeValue::S("EP#ep_01".into()))
        .item("version", AttributeValue::N("1".into()))
        .item(
            "doc",
            AttributeValue::S(serde_json::to_string(&endpoint).unwrap()),
        )
        .send()
        .await
        .expect("written");

    let acme = tenant("acme");
    let id = EndpointId::from("ep_01");
    assert_eq!(
        store.get_endpoint(&acme, &id).await.expect("read"),
        Some(endpoint.clone())
    );
    let renamed = Endpoint {
        name: "renamed".into(),
        version: 2,
        ..endpoint.clone()
    };
    assert!(store.replace_endpoint(&renamed, 1).await.expect("replaced"));
    let raw = raw_endpoint_item(&client, &table, "ep_01").await;
    for value in endpoint.secret_values() {
        assert!(!raw.contains(&value), "sealed at its next write: {raw}");
    }
    assert_eq!(
        store.get_endpoint(&acme, &id).await.expect("read"),
        Some(renamed)
    );
}
