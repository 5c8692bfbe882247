//! The api function's cold start on moto: the bootstrap key from `ALERTWIRE_API_KEY_SHA256` (the
//! template's `ApiKeySha256`), registered by `setup::api_service` as each new container starts. A new
//! hash revokes the previous key (refused at once by the new container, and by the older ones within the
//! period a service keeps a key it found); keys added otherwise stay.

use alertwire_shared::aws::dynamodb::DynamoStore;
use alertwire_shared::aws::lambda::setup::{Adapters, DEFAULT_TENANT, LambdaSettings, api_service};
use alertwire_shared::aws::load_sdk_config;
use alertwire_shared::ids::TenantId;
use alertwire_shared::metrics::Metrics;
use alertwire_shared::ports::store::ApiKeyStore;
use alertwire_shared::service::{KNOWN_KEY_PERIOD, Service, hash_api_key};

const KEY_A: &str = "awk_deployment-key-a-0123456789";
const KEY_B: &str = "awk_deployment-key-b-0123456789";
const ADDED: &str = "awk_added-otherwise-0123456789";

/// One cold start of the api function on `table` with `key`'s hash configured.
async fn cold_start(table: &str, key: &str) -> std::sync::Arc<Service> {
    let hash = hash_api_key(key);
    let settings = LambdaSettings::from_lookup(|name| match name {
        "ALERTWIRE_TABLE" => Some(table.to_string()),
        // Registering the key touches no queue.
        "ALERTWIRE_QUEUE_URL" => Some("http://127.0.0.1:9/unused".into()),
        "ALERTWIRE_DLQ_URL" => Some("http://127.0.0.1:9/unused-dlq".into()),
        "ALERTWIRE_API_KEY_SHA256" => Some(hash.clone()),
        // Registering the key seals nothing: KMS is not asked.
        "ALERTWIRE_KMS_KEY_ID" => Some("alias/unused".into()),
        _ => None,
    })
    .expect("valid settings");
    let adapters = Adapters::connect(&settings).await;
    api_service(&settings, &adapters, Metrics::disabled())
        .await
        .expect("the cold start registers its key")
}

async fn tenant_of(service: &Service, key: &str) -> Option<TenantId> {
    service.authenticate(key).await.expect("the store answers")
}

#[tokio::test]
async fn a_new_api_key_sha256_revokes_the_previous_key_at_the_next_cold_start() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
        "AWS_ENDPOINT_URL is not set: this test needs the moto emulator"
    );
    let table = format!(
        "deployment-key-{}",
        TenantId::generate().0.replace("tn_", "")
    );
    let client = aws_sdk_dynamodb::Client::new(&load_sdk_config().await);
    DynamoStore::create_table(&client, &table)
        .await
        .expect("table");
    let default = TenantId::from(DEFAULT_TENANT);

    let first = cold_start(&table, KEY_A).await;
    assert_eq!(tenant_of(&first, KEY_A).await, Some(default.clone()));
    // A key added otherwise for the same tenant, through the store port (as `keys create` adds keys).
    DynamoStore::new(
        client.clone(),
        table.clone(),
        std::time::Duration::from_secs(3600),
        std::sync::Arc::new(alertwire_shared::sealing::LocalSealer::generate()),
    )
    .add_key(&default, &hash_api_key(ADDED), "added otherwise")
    .await
    .expect("added");

    // Another container with the same configuration changes nothing.
    let again = cold_start(&table, KEY_A).await;
    assert_eq!(again.list_keys(&default).await.expect("read").len(), 2);

    // Redeployed with B: at the next cold start A is refused by the new container at once, and by an
    // older container that used it a moment ago once the period it keeps a key is over.
    let redeployed = cold_start(&table, KEY_B).await;
    assert_eq!(tenant_of(&redeployed, KEY_A).await, None);
    let started = std::time::Instant::now();
    while tenant_of(&first, KEY_A).await.is_some() {
        assert!(
            started.elapsed() < KNOWN_KEY_PERIOD + std::time::Duration::from_secs(3),
            "an older container still takes the replaced key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(tenant_of(&redeployed, KEY_B).await, Some(default.clone()));
    assert_eq!(tenant_of(&redeployed, ADDED).await, Some(default.clone()));
    assert_eq!(redeployed.list_keys(&default).await.expect("read").len(), 2);
}
