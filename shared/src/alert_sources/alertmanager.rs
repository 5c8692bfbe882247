//! Prometheus Alertmanager's webhook payload (`webhook_configs`, payload version 4), as documented at
//! <https://prometheus.io/docs/alerting/latest/configuration/#webhook_config> and defined by `Data` in
//! prometheus/alertmanager `template/template.go`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::labelled_alert::LabelledAlert;
use super::notification::{Group, Source, into_source_alerts};
use super::{SourceAlert, read_payload};
use crate::input_error::FieldError;

/// The payload version this reader understands.
pub const PAYLOAD_VERSION: &str = "4";

const ALERTMANAGER: Source = Source {
    key: "alertmanager",
    name: "Alertmanager",
    payload_version: PAYLOAD_VERSION,
};

/// Alertmanager's webhook payload, version 4.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AlertmanagerNotification, example = json!({
    "version": "4",
    "groupKey": "{}:{alertname=\"HighLatency\"}",
    "status": "firing",
    "receiver": "alertwire",
    "externalURL": "https://alertmanager.example.com",
    "alerts": [LabelledAlert::example()]
}))]
pub struct Notification {
    #[schema(pattern = "^4$")]
    version: String,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    truncated_alerts: Option<u64>,
    status: String,
    receiver: String,
    #[serde(default)]
    group_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    common_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    common_annotations: Option<BTreeMap<String, String>>,
    #[serde(rename = "externalURL", default)]
    external_url: Option<String>,
    #[schema(min_items = 1)]
    alerts: Vec<LabelledAlert>,
}

impl Notification {
    fn group(&self) -> Group<'_> {
        Group {
            version: &self.version,
            group_key: self.group_key.as_deref(),
            truncated_alerts: self.truncated_alerts,
            status: &self.status,
            receiver: &self.receiver,
            group_labels: self.group_labels.as_ref(),
            common_labels: self.common_labels.as_ref(),
            common_annotations: self.common_annotations.as_ref(),
            external_url: self.external_url.as_deref(),
            alerts: &self.alerts,
        }
    }
}

/// Every alert of the notification, or the first problem naming its field; nothing partial.
pub fn alerts_from_json(body: &Value) -> Result<Vec<SourceAlert>, FieldError> {
    let notification: Notification = read_payload(body)?;
    let group = notification.group();
    group.check(&ALERTMANAGER)?;
    let context = group.context();
    into_source_alerts(
        notification.alerts,
        &ALERTMANAGER,
        context,
        notification.external_url,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn minimal(alert: Value) -> Value {
        json!({"version": "4", "status": "firing", "receiver": "r", "externalURL": "http://am.example.org:9093",
               "alerts": [alert]})
    }

    #[test]
    fn an_older_alert_without_fingerprint_gets_one_from_its_labels() {
        let alert = json!({"status": "firing", "labels": {"alertname": "Up", "job": "node"},
                           "startsAt": "2026-03-02T09:14:05Z", "generatorURL": ""});
        let first = alerts_from_json(&minimal(alert.clone())).unwrap();
        let again = alerts_from_json(&minimal(alert)).unwrap();
        let key = first[0].content.incident_key.clone().unwrap();
        assert_eq!(key.len(), 16);
        assert_eq!(again[0].content.incident_key.as_deref(), Some(key.as_str()));
        assert_eq!(first[0].idempotency_key, again[0].idempotency_key);
        assert_eq!(
            first[0].content.title, "Up",
            "the alert name when there is no summary"
        );
        assert_eq!(
            first[0].content.link.as_deref(),
            Some("http://am.example.org:9093/"),
            "externalURL when generatorURL is empty"
        );
    }

    #[test]
    fn firing_and_resolved_of_one_alert_have_different_idempotency_keys() {
        let firing = json!({"status": "firing", "labels": {"alertname": "Up"}, "fingerprint": "ab12",
                            "startsAt": "2026-03-02T09:14:05Z"});
        let mut resolved = firing.clone();
        resolved["status"] = json!("resolved");
        resolved["endsAt"] = json!("2026-03-02T09:20:00Z");
        let firing = alerts_from_json(&minimal(firing)).unwrap();
        let resolved = alerts_from_json(&minimal(resolved)).unwrap();
        assert_ne!(firing[0].idempotency_key, resolved[0].idempotency_key);
        assert!(firing[0].idempotency_key.starts_with("alertmanager:"));
        assert_eq!(
            firing[0].content.incident_key,
            resolved[0].content.incident_key
        );
    }
}
