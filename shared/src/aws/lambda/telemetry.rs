//! What the Lambda functions write besides their answers, both to stdout (CloudWatch Logs):
//!
//! - structured logs: one JSON object per `tracing` event (time, level, target, fields, and the
//!   invocation's `requestId` from the span lambda_runtime opens around each invocation);
//! - the operator metrics as CloudWatch Embedded Metric Format lines (namespace `alertwire`, one line per
//!   label set, the labels as dimensions), written by metrics_cloudwatch_embedded at the end of each
//!   invocation, so CloudWatch turns them into metrics without any API call from the function.
//!
//! Only the metrics named by `ALERTWIRE_EMF_METRICS` are written (`all` when it is unset): CloudWatch bills
//! every metric a month, so the template asks for those its alarms read.
//!
//! The queue's depth is not reported here: SQS publishes `ApproximateNumberOfMessagesVisible` for the
//! task queue and its dead-letter queue to CloudWatch by itself.

use metrics_cloudwatch_embedded::{Builder, Collector};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::metrics::{Metrics, Selection, UnknownMetric};

pub use metrics_cloudwatch_embedded::lambda::service::{run, run_http};

/// The CloudWatch namespace of every alertwire metric.
pub const NAMESPACE: &str = "alertwire";
/// The EMF property holding the invocation's request id, to find the logs of a data point.
const REQUEST_ID_PROPERTY: &str = "RequestId";
/// The log filter when none of `ALERTWIRE_LOG`, Lambda's `AWS_LAMBDA_LOG_LEVEL` (set by the function's
/// `ApplicationLogLevel`) and `RUST_LOG` is set.
const DEFAULT_LOG_FILTER: &str = "info";
/// The metrics written as EMF: `all`, `none`, or names separated by commas.
pub const EMF_METRICS_VAR: &str = "ALERTWIRE_EMF_METRICS";

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("cannot install the CloudWatch metrics recorder: {0}")]
    Recorder(String),
    #[error("{EMF_METRICS_VAR}: {0}")]
    Selection(#[from] UnknownMetric),
}

/// The metrics collector of this execution environment; [`run`] and [`run_http`] flush it after every
/// invocation.
#[derive(Clone, Copy)]
pub struct LambdaTelemetry {
    collector: &'static Collector,
    selection: &'static Selection,
}

impl LambdaTelemetry {
    /// JSON logs and the EMF collector, once per cold start (before anything logs).
    pub fn init() -> Result<Self, TelemetryError> {
        let filter = ["ALERTWIRE_LOG", "AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
            .into_iter()
            .find_map(|name| std::env::var(name).ok())
            .and_then(|text| EnvFilter::try_new(text.to_ascii_lowercase()).ok())
            .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG_FILTER));
        let _ = tracing::subscriber::set_global_default(json_logs(filter, std::io::stdout));
        Self::emf_only()
    }

    /// The EMF collector alone, installed as the process-wide recorder (a function runs one service);
    /// it lives as long as the execution environment.
    pub fn emf_only() -> Result<Self, TelemetryError> {
        let selection = match std::env::var(EMF_METRICS_VAR) {
            Ok(text) => text.parse()?,
            Err(_) => Selection::All,
        };
        let collector = Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .with_lambda_request_id(REQUEST_ID_PROPERTY)
            .init()
            .map_err(|e| TelemetryError::Recorder(e.to_string()))?;
        Ok(Self {
            collector,
            selection: Box::leak(Box::new(selection)),
        })
    }

    /// The service's metrics: those selected are recorded into this collector.
    pub fn metrics(&self) -> Metrics {
        Metrics::process_wide().selected(self.selection)
    }

    /// For [`run`] and [`run_http`], which flush it after each invocation.
    pub fn collector(&self) -> &'static Collector {
        self.collector
    }
}

/// One JSON object per event, fields at the top level, with the spans the event happened in.
fn json_logs<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use serde_json::Value;

    use super::*;
    use crate::alert::MessageType;
    use crate::delivery::{DeliveryStatus, ErrorClass};
    use crate::metrics::{ATTEMPT_DURATION, ATTEMPTS, AttemptOutcome, DELIVERIES_FINISHED};

    fn flushed(telemetry: &LambdaTelemetry) -> Vec<Value> {
        let mut out = Vec::new();
        telemetry.collector().flush(&mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).expect("each EMF line is one JSON object"))
            .collect()
    }

    /// The document carrying `metric`, checked against the EMF specification's required structure.
    fn document<'a>(lines: &'a [Value], metric: &str) -> &'a Value {
        let found = lines
            .iter()
            .filter(|line| !line[metric].is_null())
            .collect::<Vec<_>>();
        assert_eq!(found.len(), 1, "{metric} in {lines:?}");
        let line = found[0];
        let aws = &line["_aws"];
        let now = chrono::Utc::now().timestamp_millis();
        let timestamp = aws["Timestamp"].as_i64().expect("Timestamp in epoch ms");
        assert!((now - timestamp).abs() < 60_000, "{timestamp}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert_eq!(directives.len(), 1);
        assert_eq!(directives[0]["Namespace"], NAMESPACE);
        for set in directives[0]["Dimensions"].as_array().expect("Dimensions") {
            for dimension in set.as_array().expect("a dimension set") {
                let name = dimension.as_str().expect("a dimension name");
                assert!(
                    line[name].is_string(),
                    "dimension {name} has its value in {line}"
                );
            }
        }
        for declared in directives[0]["Metrics"].as_array().expect("Metrics") {
            let name = declared["Name"].as_str().expect("a metric name");
            assert!(
                line[name].is_number() || line[name].is_array(),
                "metric {name} has its value in {line}"
            );
        }
        line
    }

    #[test]
    fn emf_lines_carry_the_required_structure_and_each_flush_only_what_is_new() {
        // The only test that installs the process-wide recorder.
        let telemetry = LambdaTelemetry::emf_only().expect("no recorder installed before");
        let metrics = telemetry.metrics();
        for took in [120, 80] {
            metrics.attempt_finished(
                AttemptOutcome::Delivered,
                None,
                Some(Duration::from_millis(took)),
            );
        }
        metrics.attempt_finished(AttemptOutcome::Retry, Some(ErrorClass::Timeout), None);
        metrics.deliveries_finished(DeliveryStatus::Delivered, 2);
        metrics.alert_accepted(MessageType::Ok);

        let lines = flushed(&telemetry);
        let delivered = lines
            .iter()
            .find(|l| l["outcome"] == "delivered" && !l[ATTEMPTS].is_null())
            .expect("the delivered attempts' document");
        let delivered = document(std::slice::from_ref(delivered), ATTEMPTS);
        assert_eq!(delivered[ATTEMPTS], 2);
        assert_eq!(delivered["error_class"], "none");
        let directive = &delivered["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([{"Name": ATTEMPTS, "Unit": "Count"}])
        );
        assert_eq!(
            directive["Dimensions"],
            serde_json::json!([["outcome", "error_class"]])
        );
        // Histogram values travel as the list of samples; one document per label set.
        let timed = document(&lines, ATTEMPT_DURATION);
        assert_eq!(timed[ATTEMPT_DURATION], serde_json::json!([0.12, 0.08]));
        assert_eq!(timed["outcome"], "delivered");
        let directive = &timed["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], serde_json::json!([["outcome"]]));
        assert_eq!(
            directive["Metrics"],
            serde_json::json!([{"Name": ATTEMPT_DURATION, "Unit": "Seconds"}])
        );
        let timeout = lines
            .iter()
            .find(|l| l["error_class"] == "timeout")
            .expect("the timed-out attempt's document");
        assert_eq!(
            document(std::slice::from_ref(timeout), ATTEMPTS)[ATTEMPTS],
            1
        );
        assert_eq!(
            document(&lines, DELIVERIES_FINISHED)[DELIVERIES_FINISHED],
            2
        );

        assert!(
            flushed(&telemetry).is_empty(),
            "a flush with nothing new since the last writes nothing"
        );
        metrics.deliveries_finished(DeliveryStatus::Dead, 1);
        let lines = flushed(&telemetry);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(document(&lines, DELIVERIES_FINISHED)["status"], "dead");
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    #[test]
    fn logs_are_json_objects_with_fields_level_and_the_invocation_span() {
        let captured = Captured::default();
        let subscriber = json_logs(EnvFilter::new("info"), captured.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _entered = span.enter();
            tracing::info!(delivery = "dl_1", attempt = 3, "attempt finished");
            tracing::debug!("filtered out at info");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON log line"))
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "attempt finished");
        assert_eq!(line["delivery"], "dl_1");
        assert_eq!(line["attempt"], 3);
        assert!(line["timestamp"].is_string(), "{line}");
        assert_eq!(line["spans"][0]["requestId"], "req-1");
    }
}
