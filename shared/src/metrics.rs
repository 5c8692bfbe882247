//! The metrics operators watch: their names, kinds, units and labels, and one method per event the use
//! cases report. Recorded through the `metrics` facade into the recorder the process hands over
//! (Prometheus text in the embedded process, CloudWatch Embedded Metric Format in the Lambdas).
//!
//! The embedded server hands over a recorder of its own rather than installing one process-wide, so two
//! servers in one process (the in-process tests) keep separate figures; a Lambda function, one service
//! per process, reports to the recorder installed process-wide. Every label has a small fixed set of values: no tenant,
//! endpoint, URL, alert content or secret ever becomes a label.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use metrics::{
    Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, NoopRecorder, Recorder,
    SharedString, Unit,
};

use crate::alert::MessageType;
use crate::delivery::{DeliveryStatus, ErrorClass};
use crate::ports::store::WriteTrouble;

/// Alerts accepted (answered 202 and queued), by `message_type`.
pub const ALERTS_ACCEPTED: &str = "alertwire_alerts_accepted_total";
/// Accepted alerts that no endpoint's routing took (and no default endpoint), by `message_type`.
pub const ALERTS_UNROUTED: &str = "alertwire_alerts_unrouted_total";
/// Alerts refused by the use case, by `reason`.
pub const ALERTS_REFUSED: &str = "alertwire_alerts_refused_total";
/// Delivery attempts, by `outcome` and `error_class`.
pub const ATTEMPTS: &str = "alertwire_attempts_total";
/// How long an attempt's HTTP exchange took, by `outcome`.
pub const ATTEMPT_DURATION: &str = "alertwire_attempt_duration_seconds";
/// From the alert's acceptance to the attempt that delivered it.
pub const DELIVERY_LATENCY: &str = "alertwire_delivery_latency_seconds";
/// Deliveries that reached a final status, by `status`.
pub const DELIVERIES_FINISHED: &str = "alertwire_deliveries_finished_total";
/// Manual resends and dead-letter replays started, by `kind`.
pub const RESENDS: &str = "alertwire_resends_total";
/// Endpoints disabled by the health policy.
pub const ENDPOINTS_DISABLED: &str = "alertwire_endpoints_disabled_total";
/// Circuit breakers that opened or closed, by `to` (`open`, `closed`).
pub const CIRCUIT_TRANSITIONS: &str = "alertwire_circuit_transitions_total";
/// Deliveries held back without an attempt, by `reason` (`in_flight`, `rate_limit`, `slowed`,
/// `circuit_open`, `awaiting_error`, `maintenance`).
pub const DELIVERIES_HELD: &str = "alertwire_deliveries_held_total";
/// Endpoints whose circuit is open or half open, counted at each scrape (embedded only).
pub const CIRCUITS_OPEN: &str = "alertwire_circuits_open";
/// Tasks on the embedded delivery queue (waiting for their time or being attempted).
pub const QUEUE_DEPTH: &str = "alertwire_queue_depth";
/// Tasks on the embedded dead-letter queue.
pub const DEAD_LETTERS: &str = "alertwire_dead_letters";
/// Records the embedded pruner deleted past retention, by `record` (`alerts`, `deliveries`, `attempts`,
/// `dead_letters`, `incidents`).
pub const HISTORY_PRUNED: &str = "alertwire_history_pruned_total";
/// Bytes the embedded database takes on disk (its file and its write-ahead log), at each scrape.
pub const STORE_BYTES: &str = "alertwire_store_bytes";
/// 1 while the embedded store cannot write, by `reason` (`disk_full`, `io_error`), at each scrape.
pub const STORE_UNWRITABLE: &str = "alertwire_store_unwritable";
/// Sent attempts whose outcome the embedded worker keeps in memory until the store writes again.
pub const OUTCOMES_UNRECORDED: &str = "alertwire_attempt_outcomes_unrecorded";
/// Log lines that could not be written (stderr on a full disk, a closed pipe), since the process started.
pub const LOG_LINES_UNWRITTEN: &str = "alertwire_log_lines_unwritten_total";

/// Every metric name above, for [`Selection`]'s check of the names it is given.
pub const ALL_METRICS: &[&str] = &[
    ALERTS_ACCEPTED,
    ALERTS_UNROUTED,
    ALERTS_REFUSED,
    ATTEMPTS,
    ATTEMPT_DURATION,
    DELIVERY_LATENCY,
    DELIVERIES_FINISHED,
    RESENDS,
    ENDPOINTS_DISABLED,
    CIRCUIT_TRANSITIONS,
    DELIVERIES_HELD,
    CIRCUITS_OPEN,
    QUEUE_DEPTH,
    DEAD_LETTERS,
    HISTORY_PRUNED,
    STORE_BYTES,
    STORE_UNWRITABLE,
    OUTCOMES_UNRECORDED,
    LOG_LINES_UNWRITTEN,
];

/// Which metrics reach the recorder. Where every metric has a price (CloudWatch bills each name and
/// label set a month), an operator records only those an alarm or a dashboard reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    /// These names only; empty records nothing.
    Only(BTreeSet<&'static str>),
}

/// A name in a [`Selection`] that is no alertwire metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an alertwire metric (\"all\", \"none\" or a comma-separated list of: {names})", names = ALL_METRICS.join(", "))]
pub struct UnknownMetric(pub String);

impl FromStr for Selection {
    type Err = UnknownMetric;

    /// `all`, `none`, or names separated by commas.
    fn from_str(text: &str) -> Result<Self, UnknownMetric> {
        match text.trim() {
            "all" => return Ok(Self::All),
            "none" => return Ok(Self::Only(BTreeSet::new())),
            _ => {}
        }
        text.split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(|name| {
                ALL_METRICS
                    .iter()
                    .find(|known| **known == name)
                    .copied()
                    .ok_or_else(|| UnknownMetric(name.to_string()))
            })
            .collect::<Result<_, _>>()
            .map(Self::Only)
    }
}

/// The process-wide count behind [`LOG_LINES_UNWRITTEN`]: the log writer adds to it, a scrape reads it.
static UNWRITTEN_LOG_LINES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts a log line the process could not write.
pub fn log_line_unwritten() {
    UNWRITTEN_LOG_LINES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Attempt durations: 5 ms to the longest HTTP timeout (300 s).
pub const ATTEMPT_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// End-to-end latencies: 10 ms to a day (the retry schedule spans about 4 h 17 min; a replay may come
/// later still).
pub const DELIVERY_LATENCY_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0,
    86400.0,
];

/// Why a delivery was held back without an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldReason {
    /// The endpoint's in-flight slots were all taken.
    InFlight,
    RateLimit,
    /// The endpoint asked for time with `429` and `Retry-After`.
    Slowed,
    CircuitOpen,
    /// A `reminder` or `ok` waits for its incident's `error` to the same endpoint to finish.
    AwaitingError,
    /// An `error` or `reminder` waits for the end of a maintenance window.
    Maintenance,
    /// A delivery whose first attempt is scheduled later waits for it: a digest, until its window ends.
    Scheduled,
}

impl HoldReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InFlight => "in_flight",
            Self::RateLimit => "rate_limit",
            Self::Slowed => "slowed",
            Self::CircuitOpen => "circuit_open",
            Self::AwaitingError => "awaiting_error",
            Self::Maintenance => "maintenance",
            Self::Scheduled => "scheduled",
        }
    }
}

/// What an attempt led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Acknowledged with a 2XX.
    Delivered,
    /// Failed; another attempt is scheduled.
    Retry,
    /// Failed for good: the last attempt, a 410 Gone, or a body that cannot be rendered.
    Dead,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry => "retry",
            Self::Dead => "dead",
        }
    }
}

/// Why the use case refused an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A field is missing or wrong (422).
    Invalid,
    /// The Idempotency-Key was used before with another body (409).
    IdempotencyConflict,
    /// The store or the queue failed (500).
    Unavailable,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::IdempotencyConflict => "idempotency_conflict",
            Self::Unavailable => "unavailable",
        }
    }
}

/// How a new run of a delivery was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendKind {
    /// `POST /v1/deliveries/{id}/resend`.
    Resend,
    /// A dead letter replayed (the API's replay or the replay function).
    Replay,
}

impl ResendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resend => "resend",
            Self::Replay => "replay",
        }
    }
}

/// What the embedded pruner deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrunedRecord {
    Alerts,
    /// Delivered and filtered deliveries.
    Deliveries,
    Attempts,
    /// Dead deliveries past the dead-letter retention.
    DeadLetters,
    /// Incidents no message changed within the retention.
    Incidents,
}

impl PrunedRecord {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Alerts => "alerts",
            Self::Deliveries => "deliveries",
            Self::Attempts => "attempts",
            Self::DeadLetters => "dead_letters",
            Self::Incidents => "incidents",
        }
    }
}

/// The recorder the use cases report to; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<dyn Recorder + Send + Sync>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Reports to `recorder`, and describes every metric to it first (help texts and units).
    pub fn new(recorder: Arc<dyn Recorder + Send + Sync>) -> Self {
        describe(recorder.as_ref());
        Self { recorder }
    }

    /// Records nothing.
    pub fn disabled() -> Self {
        Self::new(Arc::new(NoopRecorder))
    }

    /// Reports to the recorder installed process-wide (`metrics::set_global_recorder`) at each event;
    /// to nothing while none is.
    pub fn process_wide() -> Self {
        Self::new(Arc::new(ProcessWide))
    }

    /// These metrics, with only the `selection` of them reaching the recorder; the others cost nothing.
    pub fn selected(self, selection: &Selection) -> Self {
        match selection {
            Selection::All => self,
            Selection::Only(names) => Self {
                recorder: Arc::new(Selected {
                    inner: self.recorder,
                    names: names.clone(),
                }),
            },
        }
    }

    pub fn alert_accepted(&self, message_type: MessageType) {
        self.count(
            ALERTS_ACCEPTED,
            &[("message_type", message_type.as_str())],
            1,
        );
    }

    pub fn alert_unrouted(&self, message_type: MessageType) {
        self.count(
            ALERTS_UNROUTED,
            &[("message_type", message_type.as_str())],
            1,
        );
    }

    pub fn alert_refused(&self, reason: Refusal) {
        self.count(ALERTS_REFUSED, &[("reason", reason.as_str())], 1);
    }

    /// One attempt; `exchange` is how long its HTTP exchange took (`None` when nothing was sent).
    pub fn attempt_finished(
        &self,
        outcome: AttemptOutcome,
        error_class: Option<ErrorClass>,
        exchange: Option<Duration>,
    ) {
        let class = error_class.map_or("none", ErrorClass::as_str);
        self.count(
            ATTEMPTS,
            &[("outcome", outcome.as_str()), ("error_class", class)],
            1,
        );
        if let Some(took) = exchange {
            self.recorder
                .register_histogram(
                    &key(ATTEMPT_DURATION, &[("outcome", outcome.as_str())]),
                    &metadata(),
                )
                .record(took.as_secs_f64());
        }
    }

    /// `count` deliveries reached `status`; a pending status is not final and is not counted.
    pub fn deliveries_finished(&self, status: DeliveryStatus, count: u64) {
        if status != DeliveryStatus::Pending && count > 0 {
            self.count(DELIVERIES_FINISHED, &[("status", status.as_str())], count);
        }
    }

    /// A delivery was acknowledged `latency` after its alert was accepted.
    pub fn delivered_after(&self, latency: Duration) {
        self.recorder
            .register_histogram(&key(DELIVERY_LATENCY, &[]), &metadata())
            .record(latency.as_secs_f64());
    }

    pub fn resends_started(&self, kind: ResendKind, count: usize) {
        if count > 0 {
            self.count(
                RESENDS,
                &[("kind", kind.as_str())],
                u64::try_from(count).unwrap_or(u64::MAX),
            );
        }
    }

    pub fn endpoint_disabled(&self) {
        self.count(ENDPOINTS_DISABLED, &[], 1);
    }

    /// An endpoint's circuit opened (`open == true`) or closed.
    pub fn circuit_changed(&self, open: bool) {
        let to = if open { "open" } else { "closed" };
        self.count(CIRCUIT_TRANSITIONS, &[("to", to)], 1);
    }

    pub fn delivery_held(&self, reason: HoldReason) {
        self.count(DELIVERIES_HELD, &[("reason", reason.as_str())], 1);
    }

    /// Endpoints whose circuit is open now, refreshed before each scrape.
    pub fn circuits_open(&self, open: u64) {
        self.recorder
            .register_gauge(&key(CIRCUITS_OPEN, &[]), &metadata())
            .set(open as f64);
    }

    /// The embedded queue's current depth, refreshed before each scrape.
    pub fn queue_depth(&self, waiting: u64, dead: u64) {
        for (name, value) in [(QUEUE_DEPTH, waiting), (DEAD_LETTERS, dead)] {
            self.recorder
                .register_gauge(&key(name, &[]), &metadata())
                .set(value as f64);
        }
    }

    /// The pruner deleted `count` records past retention.
    pub fn history_pruned(&self, record: PrunedRecord, count: u64) {
        self.count(HISTORY_PRUNED, &[("record", record.as_str())], count);
    }

    /// The process's unwritten log lines so far, refreshed before each scrape.
    pub fn refresh_unwritten_log_lines(&self) {
        let total = UNWRITTEN_LOG_LINES.load(std::sync::atomic::Ordering::Relaxed);
        self.recorder
            .register_counter(&key(LOG_LINES_UNWRITTEN, &[]), &metadata())
            .absolute(total);
    }

    /// What keeps the embedded store from writing now (none: every reason 0), refreshed before each scrape.
    pub fn store_unwritable(&self, trouble: Option<WriteTrouble>) {
        for reason in [WriteTrouble::DiskFull, WriteTrouble::Io] {
            self.recorder
                .register_gauge(
                    &key(STORE_UNWRITABLE, &[("reason", reason.as_str())]),
                    &metadata(),
                )
                .set(if trouble == Some(reason) { 1.0 } else { 0.0 });
        }
    }

    /// How many sent attempts' outcomes (or their tasks' dispositions) the worker keeps in memory now.
    pub fn outcomes_unrecorded(&self, count: usize) {
        self.recorder
            .register_gauge(&key(OUTCOMES_UNRECORDED, &[]), &metadata())
            .set(count as f64);
    }

    /// The embedded database's size on disk, refreshed before each scrape.
    pub fn store_bytes(&self, bytes: u64) {
        self.recorder
            .register_gauge(&key(STORE_BYTES, &[]), &metadata())
            .set(bytes as f64);
    }

    fn count(&self, name: &'static str, labels: &[(&'static str, &'static str)], by: u64) {
        self.recorder
            .register_counter(&key(name, labels), &metadata())
            .increment(by);
    }
}

/// The recorder installed process-wide, looked up at each call.
struct ProcessWide;

impl Recorder for ProcessWide {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        metrics::with_recorder(|r| r.describe_counter(key, unit, description));
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        metrics::with_recorder(|r| r.describe_gauge(key, unit, description));
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        metrics::with_recorder(|r| r.describe_histogram(key, unit, description));
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        metrics::with_recorder(|r| r.register_counter(key, metadata))
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        metrics::with_recorder(|r| r.register_gauge(key, metadata))
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        metrics::with_recorder(|r| r.register_histogram(key, metadata))
    }
}

/// Passes the selected metrics on to `inner`; hands out no-op handles for the others.
struct Selected {
    inner: Arc<dyn Recorder + Send + Sync>,
    names: BTreeSet<&'static str>,
}

impl Selected {
    fn takes(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

impl Recorder for Selected {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.takes(key.as_str()) {
            self.inner.describe_counter(key, unit, description);
        }
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.takes(key.as_str()) {
            self.inner.describe_gauge(key, unit, description);
        }
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if self.takes(key.as_str()) {
            self.inner.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        if self.takes(key.name()) {
            self.inner.register_counter(key, metadata)
        } else {
            Counter::noop()
        }
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        if self.takes(key.name()) {
            self.inner.register_gauge(key, metadata)
        } else {
            Gauge::noop()
        }
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        if self.takes(key.name()) {
            self.inner.register_histogram(key, metadata)
        } else {
            Histogram::noop()
        }
    }
}

fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|(k, v)| Label::from_static_parts(k, v))
            .collect::<Vec<_>>(),
    )
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()))
}

/// Every metric with its kind, unit and help text.
fn describe(recorder: &dyn Recorder) {
    let counters = [
        (
            ALERTS_ACCEPTED,
            "Alerts accepted and queued, by message type.",
        ),
        (ALERTS_REFUSED, "Alerts refused by the intake, by reason."),
        (
            ATTEMPTS,
            "Delivery attempts, by what they led to and why they failed.",
        ),
        (
            DELIVERIES_FINISHED,
            "Deliveries that reached a final status.",
        ),
        (RESENDS, "Manual resends and dead-letter replays started."),
        (
            ALERTS_UNROUTED,
            "Accepted alerts that no endpoint's routing took.",
        ),
        (
            ENDPOINTS_DISABLED,
            "Endpoints disabled by the health policy.",
        ),
        (
            CIRCUIT_TRANSITIONS,
            "Endpoint circuit breakers that opened or closed.",
        ),
        (
            DELIVERIES_HELD,
            "Deliveries held back without spending an attempt, by reason.",
        ),
        (
            HISTORY_PRUNED,
            "Records deleted by the embedded pruner past retention, by record.",
        ),
        (
            LOG_LINES_UNWRITTEN,
            "Log lines that could not be written (a full disk, a closed stderr).",
        ),
    ];
    for (name, help) in counters {
        recorder.describe_counter(
            KeyName::from_const_str(name),
            Some(Unit::Count),
            SharedString::const_str(help),
        );
    }
    let histograms = [
        (
            ATTEMPT_DURATION,
            "How long an attempt's HTTP exchange took.",
        ),
        (
            DELIVERY_LATENCY,
            "From an alert's acceptance to the attempt that delivered it.",
        ),
    ];
    for (name, help) in histograms {
        recorder.describe_histogram(
            KeyName::from_const_str(name),
            Some(Unit::Seconds),
            SharedString::const_str(help),
        );
    }
    let gauges = [
        (QUEUE_DEPTH, "Tasks on the embedded delivery queue."),
        (DEAD_LETTERS, "Tasks on the embedded dead-letter queue."),
    ];
    for (name, help) in gauges {
        recorder.describe_gauge(
            KeyName::from_const_str(name),
            Some(Unit::Count),
            SharedString::const_str(help),
        );
    }
    recorder.describe_gauge(
        KeyName::from_const_str(STORE_UNWRITABLE),
        None,
        SharedString::const_str("1 while the embedded store cannot write, by reason."),
    );
    recorder.describe_gauge(
        KeyName::from_const_str(OUTCOMES_UNRECORDED),
        Some(Unit::Count),
        SharedString::const_str(
            "Sent attempts whose outcome waits in memory until the embedded store writes again.",
        ),
    );
    recorder.describe_gauge(
        KeyName::from_const_str(STORE_BYTES),
        Some(Unit::Bytes),
        SharedString::const_str(
            "Bytes the embedded database takes on disk, its write-ahead log included.",
        ),
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Remembers the name of every metric registered with it.
    #[derive(Default)]
    struct Registrations(Mutex<Vec<String>>);

    impl Recorder for Registrations {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            self.0.lock().unwrap().push(key.name().to_string());
            Counter::noop()
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            self.0.lock().unwrap().push(key.name().to_string());
            Gauge::noop()
        }
        fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
            self.0.lock().unwrap().push(key.name().to_string());
            Histogram::noop()
        }
    }

    fn report_one_of_each(metrics: &Metrics) {
        metrics.alert_accepted(MessageType::Error);
        metrics.attempt_finished(
            AttemptOutcome::Delivered,
            None,
            Some(Duration::from_millis(5)),
        );
        metrics.delivered_after(Duration::from_millis(7));
        metrics.deliveries_finished(DeliveryStatus::Delivered, 1);
        metrics.queue_depth(1, 0);
    }

    #[test]
    fn a_selection_passes_only_its_metrics_to_the_recorder() {
        let recorder = Arc::new(Registrations::default());
        let selection: Selection = "alertwire_delivery_latency_seconds, alertwire_queue_depth"
            .parse()
            .unwrap();
        report_one_of_each(&Metrics::new(recorder.clone()).selected(&selection));
        assert_eq!(*recorder.0.lock().unwrap(), [DELIVERY_LATENCY, QUEUE_DEPTH]);

        let recorder = Arc::new(Registrations::default());
        report_one_of_each(&Metrics::new(recorder.clone()).selected(&"none".parse().unwrap()));
        assert!(recorder.0.lock().unwrap().is_empty());

        let recorder = Arc::new(Registrations::default());
        report_one_of_each(&Metrics::new(recorder.clone()).selected(&"all".parse().unwrap()));
        assert_eq!(
            recorder.0.lock().unwrap().len(),
            7,
            "an attempt is a count and a duration; the queue depth two gauges"
        );
    }

    #[test]
    fn a_selection_names_the_metric_it_does_not_know() {
        let refused = "alertwire_delivery_latency_seconds,alertwire_latency"
            .parse::<Selection>()
            .unwrap_err();
        assert_eq!(refused, UnknownMetric("alertwire_latency".into()));
        let message = refused.to_string();
        assert!(message.starts_with("\"alertwire_latency\" is not an alertwire metric"));
        assert!(message.contains(DELIVERIES_FINISHED), "{message}");
    }
}
