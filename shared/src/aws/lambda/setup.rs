//! What the Lambda functions build once at cold start: settings from the environment set by
//! `template.yaml`, the SDK clients and adapters, and for each function a service given only the ports
//! that function uses (which is also what its IAM role must allow).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::alert::Alert;
use crate::aws::dynamodb::DynamoStore;
use crate::aws::kms::KmsSealer;
use crate::aws::load_sdk_config;
use crate::aws::sqs::queue::{MAX_VISIBILITY, SQS_BATCH_LIMIT, SqsQueue, TASK_RETENTION};
use crate::delivery::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use crate::digest::{DigestMembers, WindowCount};
use crate::endpoint::Endpoint;
use crate::endpoint::captures::CapturedValues;
use crate::endpoint::circuit::{CircuitPolicy, OpenCircuit};
use crate::endpoint::health::{EndpointHealth, FailureNote, HealthPolicy};
use crate::ids::{AlertId, ApiKeyId, DeliveryId, EndpointId, TenantId};
use crate::maintenance::MaintenanceWindow;
use crate::metrics::Metrics;
use crate::outbound::sender::{DEFAULT_TIMEOUT, HttpSender};
use crate::outbound::target_policy::TargetPolicy;
use crate::outbound::trusted_roots::TrustedRoots;
use crate::ports::store::{
    AlertRecord, AlertStore, ApiKeyRecord, ApiKeyStore, DigestStore, EndpointStore, IncidentRecord,
    IncidentRef, IncidentStore, MaintenanceStore, RecordOutcome, Revocation, SettingsStore,
    StoreError,
};
use crate::retention::Retention;
use crate::service::{Ports, Service};
use crate::tenant_settings::TenantSettings;

/// The tenant of the bootstrap key given as `ALERTWIRE_API_KEY_SHA256`.
pub const DEFAULT_TENANT: &str = "default";
/// The longest retry delay the deliver function accepts: one `ChangeMessageVisibility` must hold it, and
/// SQS ends a visibility at most 12 hours after the receive; an hour is left for the wait before the
/// invocation and the attempt itself.
pub const LONGEST_RETRY_DELAY: Duration = Duration::from_secs(MAX_VISIBILITY.as_secs() - 3600);

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the environment variable {0} is required")]
    Missing(&'static str),
    #[error("the environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("cannot register the bootstrap API key: {0}")]
    Bootstrap(#[from] crate::ports::store::StoreError),
}

/// Everything a function needs, read from the environment.
#[derive(Debug, Clone)]
pub struct LambdaSettings {
    pub table: String,
    pub queue_url: String,
    pub dlq_url: String,
    /// The KMS key endpoint secrets are sealed under (`ALERTWIRE_KMS_KEY_ID`: an id, ARN or alias).
    pub kms_key_id: String,
    /// How long records stay readable (`ALERTWIRE_RETENTION`): their `expires_at`.
    pub retention: Retention,
    pub retry: RetryPolicy,
    pub health: HealthPolicy,
    pub circuit: CircuitPolicy,
    pub http_timeout: Duration,
    pub policy: TargetPolicy,
    /// Hex SHA-256 of the bootstrap API key of the `default` tenant.
    pub api_key_sha256: Option<String>,
}

impl LambdaSettings {
    pub fn from_env() -> Result<Self, SetupError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SetupError> {
        let required = |name: &'static str| lookup(name).ok_or(SetupError::Missing(name));
        let invalid = |name: &'static str, reason: String| SetupError::Invalid { name, reason };
        let retention = match (
            lookup("ALERTWIRE_RETENTION"),
            lookup("ALERTWIRE_DELIVERY_TTL_DAYS"),
        ) {
            (Some(text), _) => Retention::parse(Some(&text), None)
                .map_err(|e| invalid("ALERTWIRE_RETENTION", e.to_string()))?,
            // The setting's name before `ALERTWIRE_RETENTION`, still read for stacks that set it.
            (None, Some(days)) => Retention::parse(Some(&format!("{}d", days.trim())), None)
                .map_err(|e| invalid("ALERTWIRE_DELIVERY_TTL_DAYS", e.to_string()))?,
            (None, None) => Retention::default(),
        };
        let retry = match lookup("ALERTWIRE_RETRY_DELAYS") {
            None => RetryPolicy::default(),
            Some(text) => RetryPolicy::parse(&text)
                .map_err(|e| invalid("ALERTWIRE_RETRY_DELAYS", e.to_string()))?,
        };
        retry_fits_the_queue(&retry).map_err(|reason| invalid("ALERTWIRE_RETRY_DELAYS", reason))?;
        let health = match lookup("ALERTWIRE_DISABLE_AFTER") {
            None => HealthPolicy::default(),
            Some(text) => HealthPolicy::parse(&text)
                .map_err(|e| invalid("ALERTWIRE_DISABLE_AFTER", e.to_string()))?,
        };
        let mut circuit = CircuitPolicy::default();
        if let Some(text) = lookup("ALERTWIRE_BREAKER_FAILURES") {
            circuit = circuit
                .with_failures(&text)
                .map_err(|e| invalid("ALERTWIRE_BREAKER_FAILURES", e.to_string()))?;
        }
        if let Some(text) = lookup("ALERTWIRE_BREAKER_COOLDOWN") {
            circuit = circuit
                .with_cooldown(&text)
                .map_err(|e| invalid("ALERTWIRE_BREAKER_COOLDOWN", e.to_string()))?;
        }
        if let Some(text) = lookup("ALERTWIRE_BREAKER_HOLD_LIMIT") {
            circuit = circuit
                .with_hold_limit(&text)
                .map_err(|e| invalid("ALERTWIRE_BREAKER_HOLD_LIMIT", e.to_string()))?;
        }
        let http_timeout = match lookup("ALERTWIRE_HTTP_TIMEOUT") {
            None => DEFAULT_TIMEOUT,
            Some(text) => text
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=300).contains(s))
                .map(Duration::from_secs)
                .ok_or_else(|| invalid("ALERTWIRE_HTTP_TIMEOUT", "seconds from 1 to 300".into()))?,
        };
        let mut policy = TargetPolicy::strict();
        if let Some(text) = lookup("ALERTWIRE_ALLOW_TARGETS") {
            let nets = TargetPolicy::parse_networks(&text)
                .map_err(|e| invalid("ALERTWIRE_ALLOW_TARGETS", e.to_string()))?;
            policy = policy.with_allowed_networks(nets);
        }
        if let Some(text) = lookup("ALERTWIRE_ALLOW_PORTS") {
            let ports = TargetPolicy::parse_ports(&text)
                .map_err(|e| invalid("ALERTWIRE_ALLOW_PORTS", e.to_string()))?;
            policy = policy.with_allowed_ports(ports);
        }
        let api_key_sha256 = match lookup("ALERTWIRE_API_KEY_SHA256") {
            None => None,
            Some(hex) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Some(hex.to_ascii_lowercase())
            }
            Some(_) => {
                return Err(invalid(
                    "ALERTWIRE_API_KEY_SHA256",
                    "64 hex digits (sha256sum of the key)".into(),
                ));
            }
        };
        Ok(Self {
            table: required("ALERTWIRE_TABLE")?,
            queue_url: required("ALERTWIRE_QUEUE_URL")?,
            dlq_url: required("ALERTWIRE_DLQ_URL")?,
            kms_key_id: required("ALERTWIRE_KMS_KEY_ID")?,
            retention,
            retry,
            health,
            circuit,
            http_timeout,
            policy,
            api_key_sha256,
        })
    }
}

/// Whether every retry of `retry` can wait on its SQS message: each delay within one visibility change
/// ([`LONGEST_RETRY_DELAY`]), and a whole run within the queue's retention ([`TASK_RETENTION`]), or SQS
/// would refuse the change or drop the message before its last attempt.
fn retry_fits_the_queue(retry: &RetryPolicy) -> Result<(), String> {
    let hours = |d: Duration| d.as_secs_f64() / 3600.0;
    let longest = retry.longest_delay();
    if longest > LONGEST_RETRY_DELAY {
        return Err(format!(
            "a delay of {:.1} h is longer than the {} h a retry can wait on its SQS message \
             (SQS ends a message's visibility at most 12 h after its receive)",
            hours(longest),
            LONGEST_RETRY_DELAY.as_secs() / 3600
        ));
    }
    let run = retry.longest_run();
    if run > TASK_RETENTION {
        return Err(format!(
            "the {} attempts of a run may take {:.1} h (each wait at least a Retry-After's 6 h), longer \
             than the delivery queue keeps a message ({} h)",
            MAX_ATTEMPTS,
            hours(run),
            TASK_RETENTION.as_secs() / 3600
        ));
    }
    Ok(())
}

/// The SDK clients and the adapters over them, built once at cold start. A function hands its service
/// only the ports it uses (see [`api_service`], [`deliver_service`] and [`replay_service`]).
#[derive(Clone, Debug)]
pub struct Adapters {
    pub store: DynamoStore,
    pub queue: SqsQueue,
}

impl Adapters {
    pub async fn connect(settings: &LambdaSettings) -> Self {
        let sdk = load_sdk_config().await;
        Self {
            store: DynamoStore::new(
                aws_sdk_dynamodb::Client::new(&sdk),
                settings.table.clone(),
                settings.retention.history,
                // Builds its KMS client, and asks KMS for anything, only when the first endpoint
                // secret is sealed or opened.
                Arc::new(KmsSealer::client_on_first_use(
                    sdk.clone(),
                    settings.kms_key_id.clone(),
                )),
            ),
            queue: SqsQueue::new(
                aws_sdk_sqs::Client::new(&sdk),
                settings.queue_url.clone(),
                settings.dlq_url.clone(),
            ),
        }
    }
}

/// The api function's service: every port (the whole HTTP API) and the sender (test sends). Registers
/// the bootstrap API key first, if one is configured: the only function that writes keys. A new hash
/// replaces the key of the previous one (see [`ApiKeyStore::bootstrap_key`]).
///
/// Needs: DynamoDB reads and writes of keys, endpoints, alerts and deliveries; KMS `GenerateDataKey`
/// and `Decrypt` on the secrets key (endpoint secrets sealed and opened); SQS `SendMessage` to the
/// delivery queue; on the dead-letter queue `ReceiveMessage`, `DeleteMessage` and
/// `ChangeMessageVisibility` (a resend or replay removes the deliveries' old dead letters).
pub async fn api_service(
    settings: &LambdaSettings,
    adapters: &Adapters,
    metrics: Metrics,
) -> Result<Arc<Service>, SetupError> {
    let store = &adapters.store;
    if let Some(hash) = &settings.api_key_sha256 {
        store
            .bootstrap_key(
                &TenantId::from(DEFAULT_TENANT),
                hash,
                "ALERTWIRE_API_KEY_SHA256",
            )
            .await?;
    }
    let ports = Ports::on_one_store(store.clone(), Arc::new(adapters.queue.clone()));
    Ok(Arc::new(service(settings, ports, metrics)?))
}

/// The deliver function's service: endpoints (read, and their health written), alerts (read) and
/// deliveries (read, attempts recorded), and the sender; no API keys.
///
/// Needs: DynamoDB `GetItem`, `Query` and `UpdateItem` (and what recording an attempt uses), no key
/// writes; KMS `Decrypt` and `GenerateDataKey` on the secrets key (an endpoint's secrets opened to
/// sign, sealed again when disabling it writes it back); on the delivery queue `ChangeMessageVisibility`
/// and `DeleteMessage` (beside what its event source mapping needs); SQS `SendMessage` to the dead-letter queue (a delivery dead before its last
/// attempt) and to the delivery queue (the task of a fallback delivery). Writing a fallback delivery
/// uses `TransactWriteItems`.
pub fn deliver_service(
    settings: &LambdaSettings,
    adapters: &Adapters,
    metrics: Metrics,
) -> Result<Service, SetupError> {
    let store = &adapters.store;
    let ports = Ports {
        keys: Arc::new(NotGiven("deliver")),
        endpoints: Arc::new(store.clone()),
        alerts: Arc::new(store.clone()),
        deliveries: Arc::new(store.clone()),
        settings: Arc::new(store.clone()),
        incidents: Arc::new(store.clone()),
        maintenance: Arc::new(store.clone()),
        digests: Arc::new(store.clone()),
        queue: Arc::new(adapters.queue.clone()),
    };
    // A container sees one batch at a time and is often new: an endpoint nothing is known about may take
    // the whole batch (fairness across endpoints is the fair queue's); an outage still closes its window.
    Ok(service(settings, ports, metrics)?.with_initial_window(SQS_BATCH_LIMIT as u32))
}

/// The replay function's service: the deliveries only (read, resends started, reconciled ones marked
/// dead); the sweep drives the queues itself.
///
/// Needs: DynamoDB `GetItem` and `Query` (a delivery and its attempts), `UpdateItem`, and `Scan` of the
/// `by_status` index (the reconcile's search for pending deliveries that lost their task); no `PutItem`.
/// On the dead-letter queue `ReceiveMessage`, `DeleteMessage` and `ChangeMessageVisibility`; SQS
/// `SendMessage` to the delivery queue. No key, endpoint or alert access.
pub fn replay_service(
    settings: &LambdaSettings,
    adapters: &Adapters,
    metrics: Metrics,
) -> Result<Service, SetupError> {
    let ports = Ports {
        keys: Arc::new(NotGiven("replay")),
        endpoints: Arc::new(NotGiven("replay")),
        alerts: Arc::new(NotGiven("replay")),
        deliveries: Arc::new(adapters.store.clone()),
        settings: Arc::new(NotGiven("replay")),
        incidents: Arc::new(NotGiven("replay")),
        maintenance: Arc::new(NotGiven("replay")),
        digests: Arc::new(NotGiven("replay")),
        queue: Arc::new(adapters.queue.clone()),
    };
    service(settings, ports, metrics)
}

fn service(
    settings: &LambdaSettings,
    ports: Ports,
    metrics: Metrics,
) -> Result<Service, SetupError> {
    // Compiled-in roots: no trust store to read and parse during the cold start.
    let sender = HttpSender::with_trusted_roots(
        Arc::new(settings.policy.clone()),
        settings.http_timeout,
        TrustedRoots::CompiledIn,
    )?;
    Ok(Service::new(ports, sender, settings.retry.clone())
        .with_health_policy(settings.health)
        .with_circuit_policy(settings.circuit)
        .with_retention(settings.retention)
        .with_metrics(metrics))
}

/// The port of a capability a function is not given: every call fails, naming the function. A use case
/// that reaches one is a wiring fault of that function, not a store outage.
struct NotGiven(&'static str);

impl NotGiven {
    fn refuse<T>(&self, capability: &str) -> Result<T, StoreError> {
        Err(StoreError::Backend(format!(
            "the {} function is not given {capability}",
            self.0
        )))
    }
}

#[async_trait]
impl ApiKeyStore for NotGiven {
    async fn tenant_for_key(&self, _: &str) -> Result<Option<TenantId>, StoreError> {
        self.refuse("API keys")
    }
    async fn add_key(
        &self,
        _: &TenantId,
        _: &str,
        _: &str,
    ) -> Result<Option<ApiKeyId>, StoreError> {
        self.refuse("API keys")
    }
    async fn has_keys(&self) -> Result<bool, StoreError> {
        self.refuse("API keys")
    }
    async fn list_keys(&self, _: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.refuse("API keys")
    }
    async fn revoke_key(&self, _: &TenantId, _: &ApiKeyId) -> Result<Revocation, StoreError> {
        self.refuse("API keys")
    }
    async fn bootstrap_key(&self, _: &TenantId, _: &str, _: &str) -> Result<(), StoreError> {
        self.refuse("API keys")
    }
}

#[async_trait]
impl EndpointStore for NotGiven {
    async fn insert_endpoint(&self, _: &Endpoint) -> Result<(), StoreError> {
        self.refuse("endpoints")
    }
    async fn get_endpoint(
        &self,
        _: &TenantId,
        _: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.refuse("endpoints")
    }
    async fn list_endpoints(&self, _: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
        self.refuse("endpoints")
    }
    async fn replace_endpoint(&self, _: &Endpoint, _: u64) -> Result<bool, StoreError> {
        self.refuse("endpoints")
    }
    async fn delete_endpoint(&self, _: &TenantId, _: &EndpointId) -> Result<bool, StoreError> {
        self.refuse("endpoints")
    }
    async fn note_failure(
        &self,
        _: &TenantId,
        _: &EndpointId,
        _: FailureNote<'_>,
    ) -> Result<Option<EndpointHealth>, StoreError> {
        self.refuse("endpoints")
    }
    async fn open_circuit(
        &self,
        _: &TenantId,
        _: &EndpointId,
        _: &OpenCircuit,
    ) -> Result<bool, StoreError> {
        self.refuse("endpoints")
    }
    async fn claim_probe(
        &self,
        _: &TenantId,
        _: &EndpointId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.refuse("endpoints")
    }
    async fn clear_failures(&self, _: &TenantId, _: &EndpointId) -> Result<(), StoreError> {
        self.refuse("endpoints")
    }
    async fn disable_endpoint(
        &self,
        _: &TenantId,
        _: &EndpointId,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.refuse("endpoints")
    }
}

#[async_trait]
impl AlertStore for NotGiven {
    async fn record_alert(&self, _: AlertRecord<'_>) -> Result<RecordOutcome, StoreError> {
        self.refuse("alerts")
    }
    async fn is_recorded(&self, _: &TenantId, _: &str) -> Result<bool, StoreError> {
        self.refuse("alerts")
    }
    async fn mark_enqueued(&self, _: &TenantId, _: &AlertId) -> Result<(), StoreError> {
        self.refuse("alerts")
    }
    async fn get_alert(&self, _: &TenantId, _: &AlertId) -> Result<Option<Alert>, StoreError> {
        self.refuse("alerts")
    }
    async fn list_unrouted(
        &self,
        _: &TenantId,
        _: Option<&AlertId>,
        _: usize,
    ) -> Result<Vec<Alert>, StoreError> {
        self.refuse("alerts")
    }
}

#[async_trait]
impl SettingsStore for NotGiven {
    async fn get_settings(&self, _: &TenantId) -> Result<TenantSettings, StoreError> {
        self.refuse("settings")
    }
    async fn put_settings(&self, _: &TenantId, _: &TenantSettings) -> Result<(), StoreError> {
        self.refuse("settings")
    }
    async fn claim_notice(
        &self,
        _: &TenantId,
        _: &str,
        _: DateTime<Utc>,
        _: chrono::Duration,
    ) -> Result<bool, StoreError> {
        self.refuse("settings")
    }
}

#[async_trait]
impl IncidentStore for NotGiven {
    async fn note_error(
        &self,
        _: IncidentRef<'_>,
        _: &DeliveryId,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.refuse("incidents")
    }
    async fn keep_captured(
        &self,
        _: IncidentRef<'_>,
        _: &DeliveryId,
        _: &CapturedValues,
        _: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.refuse("incidents")
    }
    async fn note_resolved(&self, _: IncidentRef<'_>, _: DateTime<Utc>) -> Result<(), StoreError> {
        self.refuse("incidents")
    }
    async fn get_incident(&self, _: IncidentRef<'_>) -> Result<Option<IncidentRecord>, StoreError> {
        self.refuse("incidents")
    }
}

#[async_trait]
impl MaintenanceStore for NotGiven {
    async fn list_windows(&self, _: &TenantId) -> Result<Vec<MaintenanceWindow>, StoreError> {
        self.refuse("maintenance windows")
    }
    async fn insert_window(&self, _: &TenantId, _: &MaintenanceWindow) -> Result<(), StoreError> {
        self.refuse("maintenance windows")
    }
    async fn delete_window(&self, _: &TenantId, _: &str) -> Result<bool, StoreError> {
        self.refuse("maintenance windows")
    }
}

#[async_trait]
impl DigestStore for NotGiven {
    async fn count_error(
        &self,
        _: &TenantId,
        _: &EndpointId,
        _: DateTime<Utc>,
        _: chrono::Duration,
    ) -> Result<WindowCount, StoreError> {
        self.refuse("digests")
    }
    async fn digest_members(
        &self,
        _: &TenantId,
        _: &DeliveryId,
        _: usize,
    ) -> Result<DigestMembers, StoreError> {
        self.refuse("digests")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    const BASE: [(&str, &str); 4] = [
        ("ALERTWIRE_TABLE", "t"),
        ("ALERTWIRE_QUEUE_URL", "http://q"),
        ("ALERTWIRE_DLQ_URL", "http://dlq"),
        ("ALERTWIRE_KMS_KEY_ID", "alias/alertwire"),
    ];

    #[test]
    fn defaults_apply_and_required_names_are_named() {
        let settings = LambdaSettings::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!(settings.retention.history, Duration::from_secs(30 * 86_400));
        let mut older = BASE.to_vec();
        older.push(("ALERTWIRE_DELIVERY_TTL_DAYS", "7"));
        let settings = LambdaSettings::from_lookup(lookup(&older)).unwrap();
        assert_eq!(settings.retention.history, Duration::from_secs(7 * 86_400));
        older.push(("ALERTWIRE_RETENTION", "12h"));
        let settings = LambdaSettings::from_lookup(lookup(&older)).unwrap();
        assert_eq!(settings.retention.history, Duration::from_secs(12 * 3600));
        assert_eq!(settings.http_timeout, DEFAULT_TIMEOUT);
        let err = LambdaSettings::from_lookup(lookup(&BASE[..2])).unwrap_err();
        assert!(err.to_string().contains("ALERTWIRE_DLQ_URL"));
        let err = LambdaSettings::from_lookup(lookup(&BASE[..3])).unwrap_err();
        assert!(err.to_string().contains("ALERTWIRE_KMS_KEY_ID"));
    }

    #[test]
    fn invalid_values_are_refused_by_name() {
        for (name, value) in [
            ("ALERTWIRE_DELIVERY_TTL_DAYS", "0"),
            ("ALERTWIRE_HTTP_TIMEOUT", "ten"),
            ("ALERTWIRE_RETRY_DELAYS", "soon"),
            ("ALERTWIRE_API_KEY_SHA256", "abc"),
            ("ALERTWIRE_ALLOW_PORTS", "http"),
        ] {
            let mut pairs = BASE.to_vec();
            pairs.push((name, value));
            let err = LambdaSettings::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn retry_delays_must_fit_one_visibility_change_and_the_queue_retention() {
        let with_delays = |delays: &str| {
            let mut pairs = BASE.to_vec();
            pairs.push(("ALERTWIRE_RETRY_DELAYS", delays));
            LambdaSettings::from_lookup(lookup(&pairs))
        };
        for (delays, why) in [
            ("12h", "longer than the 11 h"),
            ("1s,1d", "longer than the 11 h"),
            ("10h,11h", "longer than the delivery queue keeps"),
        ] {
            let err = with_delays(delays).unwrap_err().to_string();
            assert!(
                err.contains("ALERTWIRE_RETRY_DELAYS") && err.contains(why),
                "{delays}: {err}"
            );
        }
        for delays in ["0ms", "100ms,1s,1m", "11h,1s", "10h"] {
            assert!(with_delays(delays).is_ok(), "{delays}");
        }
        assert!(LambdaSettings::from_lookup(lookup(&BASE)).is_ok());
    }
}
