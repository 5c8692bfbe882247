//! The storage ports: what the service needs from a store, one trait per capability. The embedded SQLite
//! adapter implements them here; the DynamoDB adapter implements the same traits on AWS.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::alert::Alert;
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::digest::{DigestMembers, WindowCount};
use crate::endpoint::Endpoint;
use crate::endpoint::captures::CapturedValues;
use crate::endpoint::circuit::OpenCircuit;
use crate::endpoint::health::{EndpointHealth, FailureNote};
use crate::ids::{AlertId, ApiKeyId, DeliveryId, EndpointId, TenantId};
use crate::maintenance::MaintenanceWindow;
use crate::ports::queue::Task;
use crate::tenant_settings::TenantSettings;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the store failed: {0}")]
    Backend(String),
    /// The store cannot write at the moment (a full disk, a failing disk); nothing of the write was kept.
    #[error("the store cannot write ({}): {detail}", trouble.reason())]
    Unwritable {
        trouble: WriteTrouble,
        detail: String,
    },
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
}

/// A value that does not open is a corrupt record; a key service that fails is the store failing.
impl From<crate::ports::secret_sealer::SealError> for StoreError {
    fn from(e: crate::ports::secret_sealer::SealError) -> Self {
        use crate::ports::secret_sealer::SealError;
        match e {
            SealError::Malformed | SealError::Refused => Self::Corrupt(e.to_string()),
            SealError::KeyService(_) => Self::Backend(e.to_string()),
        }
    }
}

/// API keys, kept as SHA-256 hashes, each with a public id.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn tenant_for_key(&self, key_hash: &str) -> Result<Option<TenantId>, StoreError>;
    /// Adds a key under a new id, or returns `None` and changes nothing if the hash is a key already
    /// (which keeps its tenant).
    async fn add_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<Option<ApiKeyId>, StoreError>;
    async fn has_keys(&self) -> Result<bool, StoreError>;
    /// The tenant's keys, oldest first; never their hashes.
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Removes the tenant's key `id`, unless it is the tenant's last key. A key of another tenant is
    /// [`Revocation::NotFound`].
    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<Revocation, StoreError>;
    /// Makes `key_hash` the tenant's deployment key (the one configured for the process, not added
    /// through the API or the CLI). A tenant's deployment key is remembered on a marker: the same hash
    /// again changes nothing (a revoked deployment key stays revoked); another hash is added and the key
    /// it replaces removed in one transaction, so there is never a moment without either, and of two
    /// processes starting at once with the same new hash one adds it and the other finds it done. Keys
    /// added otherwise are never touched. A hash that is a key already is adopted as it is; a hash that
    /// is another tenant's key is [`StoreError::Backend`].
    async fn bootstrap_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<(), StoreError>;
}

/// What is shown of a stored API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub label: String,
    pub created_at: DateTime<Utc>,
}

/// What revoking a key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked,
    /// The tenant has no key with this id.
    NotFound,
    /// It is the tenant's only key: removing it would lock the tenant out. Nothing changed.
    LastKey,
}

/// Why a deployment key cannot be registered.
pub const BOOTSTRAP_KEY_OF_ANOTHER_TENANT: &str =
    "the configured bootstrap key is already a key of another tenant";

#[async_trait]
pub trait EndpointStore: Send + Sync {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError>;
    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError>;
    /// Replaces the endpoint if the stored one still has `expected_version`; false if it changed or is gone.
    async fn replace_endpoint(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
    ) -> Result<bool, StoreError>;
    async fn delete_endpoint(&self, tenant: &TenantId, id: &EndpointId)
    -> Result<bool, StoreError>;
    /// Counts a failed attempt: the streak grows and `failing_since` is set if it was not; an outage grows
    /// the outage streak, any other failure ends it and removes an open circuit; the error is kept and a
    /// later `slowed_until` replaces an earlier one. Returns the health with this failure counted, or None
    /// if the endpoint is gone. Leaves the version alone.
    async fn note_failure(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        note: FailureNote<'_>,
    ) -> Result<Option<EndpointHealth>, StoreError>;
    /// Opens the circuit, or keeps it open until a new `probe_at`. True if it was closed: this call opened
    /// it (of two attempts that fail at once, one opens it, the other finds it open).
    async fn open_circuit(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        circuit: &OpenCircuit,
    ) -> Result<bool, StoreError>;
    /// Claims the probe of an open circuit whose `probe_at` is still `seen_probe_at`: marks it probing until
    /// `lost_after` (when another may probe, if this one never reports). False if another claimed it first.
    async fn claim_probe(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        seen_probe_at: DateTime<Utc>,
        lost_after: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A success (or a re-enable) ends the failure streak, closes the circuit and ends a slowdown.
    async fn clear_failures(&self, tenant: &TenantId, id: &EndpointId) -> Result<(), StoreError>;
    /// Disables an enabled endpoint, saying why, as a new version. False if it is gone or already off.
    async fn disable_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// What `POST /v1/alerts` answered, kept so a retried POST with the same `Idempotency-Key` gets it again.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AlertReceipt {
    pub alert_id: AlertId,
    pub deliveries: Vec<(DeliveryId, EndpointId)>,
    /// No endpoint was routed the alert; its one delivery, if any, is to the tenant's default endpoint.
    /// Absent in receipts kept before it was: those had no default endpoint, so no delivery says unrouted.
    #[serde(default)]
    pub unrouted: bool,
}

impl AlertReceipt {
    /// The receipt of `alert`, recorded with `deliveries`.
    pub fn of(alert: &Alert, deliveries: &[Delivery]) -> Self {
        Self {
            alert_id: alert.id.clone(),
            deliveries: deliveries
                .iter()
                .map(|d| (d.id.clone(), d.endpoint_id.clone()))
                .collect(),
            unrouted: alert.routing.is_some_and(|r| r.unrouted) || deliveries.is_empty(),
        }
    }
}

/// An alert with its deliveries, written in one piece.
pub struct AlertRecord<'a> {
    pub alert: &'a Alert,
    pub deliveries: &'a [Delivery],
    /// The caller's key and a hash of the request it came with.
    pub idempotency: Option<(&'a str, &'a str)>,
    /// The tasks that queue its pending deliveries. A store that keeps the queue in its own database (the
    /// embedded one, once an `EmbeddedQueue` works on it) writes them in the same transaction; one that
    /// does not (DynamoDB beside SQS, or the embedded store beside SQS) leaves them to the caller.
    pub tasks: &'a [Task],
}

#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    /// Written; `enqueued` says whether the record's tasks were queued with it (and the alert marked
    /// enqueued). False when there were none to queue, as for any store that does not hold the queue.
    Recorded { enqueued: bool },
    /// The idempotency key was seen before: this is the first request's receipt, the hash of its body,
    /// and whether its deliveries reached the queue.
    AlreadyRecorded {
        receipt: AlertReceipt,
        request_hash: String,
        enqueued: bool,
    },
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Writes the alert and all its deliveries atomically, unless the idempotency key is taken.
    async fn record_alert(&self, record: AlertRecord<'_>) -> Result<RecordOutcome, StoreError>;
    /// Whether an alert is kept that was recorded under this idempotency key: a repeat of its request.
    async fn is_recorded(
        &self,
        tenant: &TenantId,
        idempotency_key: &str,
    ) -> Result<bool, StoreError>;
    /// Notes that the alert's deliveries are on the queue. Only an alert recorded under an idempotency
    /// key is marked: the mark answers a repeat of its request (`RecordOutcome::AlreadyRecorded`), and
    /// nothing else reads it.
    async fn mark_enqueued(&self, tenant: &TenantId, alert_id: &AlertId) -> Result<(), StoreError>;
    async fn get_alert(&self, tenant: &TenantId, id: &AlertId)
    -> Result<Option<Alert>, StoreError>;
    /// The tenant's alerts that no endpoint was routed (their routing says `unrouted`), newest first:
    /// at most `limit`, with ids below `before` when given. Kept as long as the alerts.
    async fn list_unrouted(
        &self,
        tenant: &TenantId,
        before: Option<&AlertId>,
        limit: usize,
    ) -> Result<Vec<Alert>, StoreError>;
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<EndpointId>,
    pub status: Option<DeliveryStatus>,
    pub alert_id: Option<AlertId>,
    /// Only deliveries with an id below this one (ids sort by creation time): the next page.
    pub before: Option<DeliveryId>,
    pub limit: usize,
}

/// How a delivery moves on after an attempt or a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange<'a> {
    pub status: DeliveryStatus,
    pub reason: Option<&'a str>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// What [`DeliveryStore::update_delivery_settling`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Settlement {
    /// The change was recorded (see [`DeliveryStore::update_delivery`]).
    pub recorded: bool,
    /// The task was removed from the queue with it: nothing is left for the queue to do.
    pub task_removed: bool,
}

/// A delivery added to an alert already stored: the fallback of a dead delivery, at the dead one's
/// endpoint's fallback endpoint. Like an [`AlertRecord`], a store that holds the queue writes the tasks in
/// the same transaction, and one that does not leaves them to the caller.
pub struct FallbackRecord<'a> {
    /// The new delivery. Its `fallback_of` names the dead delivery, which gets `fallback_delivery_id`
    /// in the same write.
    pub delivery: &'a Delivery,
    pub tasks: &'a [Task],
}

#[derive(Debug, Clone, PartialEq)]
pub enum FallbackOutcome {
    /// Written, with the dead delivery's link; `enqueued` as for [`RecordOutcome::Recorded`].
    Recorded { enqueued: bool },
    /// A delivery with this id exists already (an earlier call wrote it): nothing written.
    AlreadyRecorded,
}

/// A delivery and what its attempt reads beside it ([`DeliveryStore::get_delivery_to_attempt`]).
#[derive(Debug)]
pub struct DeliveryToAttempt {
    pub delivery: Delivery,
    /// The delivery's endpoint, its sealed values opened.
    pub endpoint: ReadAhead<Endpoint>,
    pub alert: ReadAhead<Alert>,
}

/// Something a store may read beside what it was asked for.
#[derive(Debug)]
pub enum ReadAhead<T> {
    /// Read in the same look: found, or not there.
    Read(Option<T>),
    /// Left to a read of its own.
    NotRead,
}

impl<T> ReadAhead<T> {
    /// What was read ahead, or else what `read` finds (only called then).
    pub async fn or_read<F, Fut, E>(self, read: F) -> Result<Option<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<T>, E>>,
    {
        match self {
            ReadAhead::Read(found) => Ok(found),
            ReadAhead::NotRead => read().await,
        }
    }
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError>;
    /// The delivery, with its attempts, and what its attempt reads beside it (its endpoint, its alert)
    /// where the store reads them in the same look: the embedded store in one read transaction instead of
    /// three, each a round trip to a reader thread. The default reads the delivery only and leaves the
    /// others to [`EndpointStore::get_endpoint`] and [`AlertStore::get_alert`], which an attempt may not
    /// need (a delivery held for its endpoint's pace reads no alert).
    async fn get_delivery_to_attempt(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<DeliveryToAttempt>, StoreError> {
        Ok(self
            .get_delivery(tenant, id)
            .await?
            .map(|delivery| DeliveryToAttempt {
                delivery,
                endpoint: ReadAhead::NotRead,
                alert: ReadAhead::NotRead,
            }))
    }
    /// The delivery without its attempts, possibly a moment behind the last write (DynamoDB: one
    /// eventually consistent read): for sweeps whose every write is conditional on what it changes. The
    /// default reads it as [`get_delivery`](Self::get_delivery) does.
    async fn peek_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StoreError> {
        Ok(self.get_delivery(tenant, id).await?.map(|mut d| {
            d.attempts.clear();
            d
        }))
    }
    /// Up to `limit` `pending` deliveries of any tenant last changed (`updated_at`) before `changed_before`,
    /// without their attempts: the candidates of the sweep for deliveries that lost their task. What it
    /// reads must not grow with the history the store keeps.
    async fn pending_unchanged_since(
        &self,
        changed_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Newest first, with their attempts.
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// The ids of what [`list_deliveries`](Self::list_deliveries) lists, in its order: what a replay pages
    /// through. A store that reads attempts apart from their deliveries skips them here.
    async fn list_delivery_ids(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryId>, StoreError> {
        let deliveries = self.list_deliveries(tenant, filter).await?;
        Ok(deliveries.into_iter().map(|d| d.id).collect())
    }
    /// Records an attempt (if any) and the new status, only while the delivery is pending in `run`.
    /// Returns false, writing nothing, if a resend started another run or it already finished, or if an
    /// attempt numbered as high as this one is recorded in the run already: a duplicate of the run's task
    /// (SQS delivers at least once) made it, and this copy ends.
    async fn update_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        change: StatusChange<'_>,
    ) -> Result<bool, StoreError>;
    /// [`update_delivery`](Self::update_delivery), and with it the end of the task with queue receipt
    /// `finishes` when the change finishes that task: a store that holds the queue (the embedded database
    /// serving its own) removes the task in the same write, so recording the outcome and settling the task
    /// are one commit, not two. By default, and whenever the change is not recorded, the task is left to
    /// the queue.
    async fn update_delivery_settling(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        run: u32,
        attempt: Option<&Attempt>,
        change: StatusChange<'_>,
        _finishes: Option<&str>,
    ) -> Result<Settlement, StoreError> {
        let recorded = self
            .update_delivery(tenant, id, run, attempt, change)
            .await?;
        Ok(Settlement {
            recorded,
            task_removed: false,
        })
    }
    /// Starts a new run for a manual resend: status pending, run + 1. Returns the new run, or None if the
    /// delivery does not exist. `only_if` restricts it to deliveries currently in that status.
    /// Writes a fallback delivery, its tasks (see [`FallbackRecord`]) and the dead delivery's
    /// `fallback_delivery_id` in one piece, unless a delivery with its id exists already.
    async fn record_fallback(
        &self,
        record: FallbackRecord<'_>,
    ) -> Result<FallbackOutcome, StoreError>;
    async fn start_resend(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
        only_if: Option<DeliveryStatus>,
    ) -> Result<Option<u32>, StoreError>;
    /// [`start_resend`](Self::start_resend) for each of `ids`: the new runs of those that exist (and are
    /// in `only_if`), in the order given. A store that can do it in one write overrides this one-by-one
    /// default.
    async fn start_resends(
        &self,
        tenant: &TenantId,
        ids: &[DeliveryId],
        only_if: Option<DeliveryStatus>,
    ) -> Result<Vec<(DeliveryId, u32)>, StoreError> {
        let mut started = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(run) = self.start_resend(tenant, id, only_if).await? {
                started.push((id.clone(), run));
            }
        }
        Ok(started)
    }
}

/// A tenant's settings, and the notices alertwire sends it about itself, debounced across processes.
#[async_trait]
pub trait SettingsStore: Send + Sync {
    /// The tenant's settings; the defaults when it never set any.
    async fn get_settings(&self, tenant: &TenantId) -> Result<TenantSettings, StoreError>;
    async fn put_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError>;
    /// Takes notice `key` of `tenant` at `at`, unless it was taken less than `window` before: true if
    /// taken now. One conditional write, so two processes cannot both take it.
    async fn claim_notice(
        &self,
        tenant: &TenantId,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<bool, StoreError>;
}

/// One endpoint's view of one incident: the endpoint, and the alerts' `incident_key`.
#[derive(Debug, Clone, Copy)]
pub struct IncidentRef<'a> {
    pub tenant: &'a TenantId,
    pub endpoint_id: &'a EndpointId,
    pub incident_key: &'a str,
}

/// What an endpoint knows of one incident: for an endpoint that follows incidents
/// ([`Endpoint::follows_incidents`]), its latest `error` delivery there and the values captured from the
/// answer to an error; for an endpoint in a maintenance window, when an `ok` resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentRecord {
    /// None until an error is noted.
    pub error_delivery_id: Option<DeliveryId>,
    /// Empty until an error is delivered with values to capture.
    pub captured: CapturedValues,
    /// When an `ok` of the incident last came while the endpoint was in a maintenance window.
    pub resolved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The incidents of the endpoints that follow them, so that an incident's `reminder` and `ok` wait for
/// its `error` and use what its answer gave. A record lives as long as the store keeps alerts (its
/// retention) after its last change.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Notes `delivery_id` as the incident's latest error delivery to the endpoint, at `at`; what was
    /// captured before stays.
    async fn note_error(
        &self,
        incident: IncidentRef<'_>,
        delivery_id: &DeliveryId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Keeps `captured`, taken from the answer to `delivery_id`, in place of what was captured before.
    async fn keep_captured(
        &self,
        incident: IncidentRef<'_>,
        delivery_id: &DeliveryId,
        captured: &CapturedValues,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Notes that an `ok` resolved the incident at `at` (while the endpoint was in a maintenance window).
    async fn note_resolved(
        &self,
        incident: IncidentRef<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// None when nothing was ever noted, or the record is past retention.
    async fn get_incident(
        &self,
        incident: IncidentRef<'_>,
    ) -> Result<Option<IncidentRecord>, StoreError>;
}

/// The errors an endpoint that folds them into digests got per window, and what each digest folded
/// ([`crate::digest`]).
#[async_trait]
pub trait DigestStore: Send + Sync {
    /// Counts one more error to the endpoint at `at`: in its open window, or in a new one that starts at
    /// `at` and lasts `window` when none is open (a window is open while `at` is before its end). One
    /// atomic write, so two processes counting at once count each error once.
    async fn count_error(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<WindowCount, StoreError>;
    /// The deliveries folded into the digest delivery `digest_id` (each recorded with its alert, linking
    /// to it): how many, and the first `listed` of them, oldest first.
    async fn digest_members(
        &self,
        tenant: &TenantId,
        digest_id: &DeliveryId,
        listed: usize,
    ) -> Result<DigestMembers, StoreError>;
}

/// A window of errors as a store keeps it: its start and end in epoch milliseconds, and its count.
pub fn stored_window(started_ms: i64, ends_ms: i64, count: u64) -> Result<WindowCount, StoreError> {
    let time = |millis: i64| {
        DateTime::from_timestamp_millis(millis).ok_or_else(|| {
            StoreError::Corrupt(format!("a digest window's time {millis} is out of range"))
        })
    };
    Ok(WindowCount {
        started_at: time(started_ms)?,
        ends_at: time(ends_ms)?,
        count,
    })
}

/// A tenant's maintenance windows ([`crate::maintenance`]).
#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// Every window of the tenant, oldest first.
    async fn list_windows(&self, tenant: &TenantId) -> Result<Vec<MaintenanceWindow>, StoreError>;
    async fn insert_window(
        &self,
        tenant: &TenantId,
        window: &MaintenanceWindow,
    ) -> Result<(), StoreError>;
    /// False when the tenant has no window of that id.
    async fn delete_window(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError>;
}

/// Why the store cannot write at the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteTrouble {
    /// No space left for the store's files.
    DiskFull,
    /// The disk failed a read or a write.
    Io,
}

impl WriteTrouble {
    /// As `/healthz` says it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::DiskFull => "disk full",
            Self::Io => "disk i/o error",
        }
    }

    /// As a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DiskFull => "disk_full",
            Self::Io => "io_error",
        }
    }
}

/// Whether the store's last write went through, as its adapter knows it; one that writes to a service
/// (DynamoDB) has no such condition.
pub trait WriteCondition: Send + Sync {
    /// The trouble of the last write that failed, until a write goes through again.
    fn write_trouble(&self) -> Option<WriteTrouble>;
}
