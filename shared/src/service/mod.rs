//! The use cases, written once over the ports so the embedded process and the Lambdas behave alike:
//! managing endpoints, accepting alerts, attempting deliveries, reading and resending them, judging dead
//! letters, test-sending and authenticating. Callers outside this module go through these calls, never
//! through the ports.

mod admission;
mod after_death;
mod attempt;
mod auth;
mod catalogue;
mod dead_letters;
mod deliveries;
mod digests;
mod endpoint_stats;
mod endpoints;
mod fallback;
#[cfg(all(test, feature = "embedded"))]
mod in_memory;
mod incidents;
mod ingest;
mod known_keys;
mod maintenance;
mod operations;
mod resend;
mod route_tables;
mod route_test;
mod stranded;
mod test_send;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub use attempt::{AttemptError, Disposition, SentAttempt};
pub use auth::{generate_api_key, hash_api_key};
pub use dead_letters::{DeadLetterReview, DeadLetterVerdict, ReplaySelection};
pub use endpoint_stats::{CappedStats, STATS_DELIVERY_CAP};
pub use endpoints::ReplacedEndpoint;
pub use known_keys::KNOWN_KEY_PERIOD;
pub use operations::{FAILING_DEBOUNCE, OPERATIONS_SOURCE, OperationsEvent};
pub use route_tables::ROUTE_TABLE_PERIOD;
pub use route_test::{EndpointRoute, RouteMiss, RouteTest, WouldRecord};
pub use stranded::StrandedReport;
pub use test_send::{TestSample, TestSendReport};

use crate::clock::{Clock, SystemClock};
use crate::delivery::pacing::{INITIAL_WINDOW, Pacing};
use crate::delivery::retry_policy::RetryPolicy;
use crate::endpoint::circuit::CircuitPolicy;
use crate::endpoint::health::HealthPolicy;
use crate::endpoint::{CompiledEndpoint, Endpoint};
use crate::ids::{EndpointId, TenantId};
use crate::input_error::FieldError;
use crate::metrics::Metrics;
use crate::outbound::sender::HttpSender;
use crate::ports::queue::{QueueError, TaskQueue};
use crate::ports::store::{
    AlertStore, ApiKeyStore, DeliveryStore, DigestStore, EndpointStore, IncidentStore,
    MaintenanceStore, SettingsStore, StoreError, WriteCondition, WriteTrouble,
};
use crate::retention::Retention;

/// The adapters a service runs on, chosen once at start-up.
#[derive(Clone)]
pub struct Ports {
    pub keys: Arc<dyn ApiKeyStore>,
    pub endpoints: Arc<dyn EndpointStore>,
    pub alerts: Arc<dyn AlertStore>,
    pub deliveries: Arc<dyn DeliveryStore>,
    pub settings: Arc<dyn SettingsStore>,
    pub incidents: Arc<dyn IncidentStore>,
    pub maintenance: Arc<dyn MaintenanceStore>,
    pub digests: Arc<dyn DigestStore>,
    pub queue: Arc<dyn TaskQueue>,
}

impl Ports {
    /// Every store port on `store`, one adapter that is all five stores (the embedded database, the
    /// DynamoDB table), and `queue`.
    pub fn on_one_store<S>(store: S, queue: Arc<dyn TaskQueue>) -> Ports
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
        Ports {
            keys: Arc::new(store.clone()),
            endpoints: Arc::new(store.clone()),
            alerts: Arc::new(store.clone()),
            deliveries: Arc::new(store.clone()),
            settings: Arc::new(store.clone()),
            incidents: Arc::new(store.clone()),
            maintenance: Arc::new(store.clone()),
            digests: Arc::new(store),
            queue,
        }
    }
}

pub struct Service {
    ports: Ports,
    sender: HttpSender,
    retry: RetryPolicy,
    health: HealthPolicy,
    circuit: CircuitPolicy,
    /// In-flight slots and rate limits of the endpoints this process sends to.
    pacing: Arc<Pacing>,
    metrics: Metrics,
    /// Where the use cases read the time; domain rules are given it.
    clock: Arc<dyn Clock>,
    /// Compiled templates per endpoint version, so a template is parsed once, not per delivery.
    compiled: Mutex<HashMap<(TenantId, EndpointId), Arc<CompiledEndpoint>>>,
    /// Each tenant's endpoints indexed for routing, read once per period.
    route_tables: route_tables::RouteTables,
    /// API keys found lately, read again once per period.
    known_keys: known_keys::KnownKeys,
    /// Each tenant's maintenance windows, read again once per period.
    windows: maintenance::KnownWindows,
    /// The digest deliveries known to be stored.
    made_digests: digests::MadeDigests,
    /// How long finished history is kept; the adapters apply it, the API shows it.
    retention: Retention,
    /// Whether the store can write now, where its adapter can tell.
    write_condition: Option<Arc<dyn WriteCondition>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Input(#[from] FieldError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

const COMPILED_CACHE_LIMIT: usize = 10_000;

impl Service {
    pub fn new(ports: Ports, sender: HttpSender, retry: RetryPolicy) -> Self {
        Self {
            ports,
            sender,
            retry,
            health: HealthPolicy::default(),
            circuit: CircuitPolicy::default(),
            pacing: Pacing::new(INITIAL_WINDOW),
            metrics: Metrics::disabled(),
            clock: Arc::new(SystemClock),
            compiled: Mutex::new(HashMap::new()),
            route_tables: route_tables::RouteTables::new(ROUTE_TABLE_PERIOD),
            known_keys: known_keys::KnownKeys::new(KNOWN_KEY_PERIOD),
            windows: maintenance::KnownWindows::default(),
            made_digests: digests::MadeDigests::default(),
            retention: Retention::default(),
            write_condition: None,
        }
    }

    /// Reports, on `/healthz` and to the worker, what keeps the store from writing (a full disk).
    pub fn with_write_condition(mut self, condition: Arc<dyn WriteCondition>) -> Self {
        self.write_condition = Some(condition);
        self
    }

    /// What keeps the store from writing now, if its adapter knows of something.
    pub fn write_trouble(&self) -> Option<WriteTrouble> {
        self.write_condition.as_ref()?.write_trouble()
    }

    /// How long finished history is kept, as the store applies it (by default [`Retention::default`]).
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// The time as the use cases read it.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// How long ingest routes on a tenant's endpoints as read before reading them again (by default
    /// [`ROUTE_TABLE_PERIOD`]); this process's own endpoint writes are seen at once.
    pub fn with_route_table_period(mut self, period: std::time::Duration) -> Self {
        self.route_tables = route_tables::RouteTables::new(period);
        self
    }

    /// How long a key found in the store is taken as valid before it is read again (by default
    /// [`KNOWN_KEY_PERIOD`]); a key revoked through this service is refused at once.
    pub fn with_known_key_period(mut self, period: std::time::Duration) -> Self {
        self.known_keys = known_keys::KnownKeys::new(period);
        self
    }

    /// When endpoints are disabled by themselves (by default after 5 days of failures).
    pub fn with_health_policy(mut self, health: HealthPolicy) -> Self {
        self.health = health;
        self
    }

    /// When endpoint circuits open and how long they stay open (by default after 5 outages in a row).
    pub fn with_circuit_policy(mut self, circuit: CircuitPolicy) -> Self {
        self.circuit = circuit;
        self
    }

    /// How many attempts at once an endpoint nothing is known about yet may have (by default
    /// [`INITIAL_WINDOW`]; see [`crate::delivery::pacing`]).
    pub fn with_initial_window(mut self, window: u32) -> Self {
        self.pacing = Pacing::new(window);
        self
    }

    /// Where the use cases report what they did (by default, nowhere).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where the use cases read the time (by default, the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The endpoint with its templates and matchers compiled, from the cache when the version matches.
    fn compiled(&self, endpoint: &Endpoint) -> Result<Arc<CompiledEndpoint>, FieldError> {
        let key = (endpoint.tenant.clone(), endpoint.id.clone());
        let mut cache = self.compiled.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = cache
            .get(&key)
            .filter(|c| c.endpoint.version == endpoint.version)
        {
            return Ok(hit.clone());
        }
        let compiled = Arc::new(CompiledEndpoint::compile(endpoint.clone())?);
        if cache.len() >= COMPILED_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, compiled.clone());
        Ok(compiled)
    }
}
