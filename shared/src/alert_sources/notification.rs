//! What Alertmanager and Grafana notifications share: the group-level fields around `alerts[]`, the checks
//! (payload version, at least one alert), the group context every alert carries, and the mapping of each
//! alert. Each source's own payload type (with its schema) lives in its module and lends its group fields
//! here as a [`Group`].

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::SourceAlert;
use super::labelled_alert::{Envelope, LabelledAlert};
use crate::input_error::FieldError;

/// Which source a notification comes from.
pub struct Source {
    /// `alertmanager` or `grafana`: the alert's `source` and the idempotency key's prefix.
    pub key: &'static str,
    /// The name error messages use.
    pub name: &'static str,
    /// The payload version this reader understands.
    pub payload_version: &'static str,
}

/// The group-level fields both sources send (Alertmanager's `Data`), borrowed from a notification.
pub struct Group<'a> {
    pub version: &'a str,
    pub group_key: Option<&'a str>,
    pub truncated_alerts: Option<u64>,
    pub status: &'a str,
    pub receiver: &'a str,
    pub group_labels: Option<&'a BTreeMap<String, String>>,
    pub common_labels: Option<&'a BTreeMap<String, String>>,
    pub common_annotations: Option<&'a BTreeMap<String, String>>,
    pub external_url: Option<&'a str>,
    pub alerts: &'a [LabelledAlert],
}

impl Group<'_> {
    /// The version is the one understood and `alerts` is not empty.
    pub fn check(&self, source: &Source) -> Result<(), FieldError> {
        if self.version != source.payload_version {
            return Err(FieldError::invalid(
                "version",
                format!(
                    "`version` is {:?}; alertwire reads {}'s webhook payload version {}",
                    self.version, source.name, source.payload_version
                ),
            ));
        }
        if self.alerts.is_empty() {
            return Err(FieldError::invalid("alerts", "`alerts` is empty"));
        }
        Ok(())
    }

    /// The group-level fields, under their own names, for every alert's context.
    pub fn context(&self) -> Map<String, Value> {
        let mut context = Map::new();
        context.insert("receiver".into(), json!(self.receiver));
        context.insert("groupStatus".into(), json!(self.status));
        context.insert("groupKey".into(), json!(self.group_key));
        context.insert("groupLabels".into(), json!(self.group_labels));
        context.insert("commonLabels".into(), json!(self.common_labels));
        context.insert("commonAnnotations".into(), json!(self.common_annotations));
        context.insert("externalURL".into(), json!(self.external_url));
        context.insert(
            "truncatedAlerts".into(),
            json!(self.truncated_alerts.unwrap_or(0)),
        );
        context
    }
}

/// Every alert mapped with `context`, or the first problem naming its field; nothing partial.
pub fn into_source_alerts(
    alerts: Vec<LabelledAlert>,
    source: &Source,
    context: Map<String, Value>,
    external_url: Option<String>,
) -> Result<Vec<SourceAlert>, FieldError> {
    let envelope = Envelope {
        source: source.key,
        context,
        fallback_link: external_url,
    };
    alerts
        .into_iter()
        .enumerate()
        .map(|(index, alert)| alert.into_source_alert(index, &envelope))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::alert_sources::{alertmanager, grafana};

    fn with_grafana_fields(version: &str) -> serde_json::Value {
        json!({"version": version, "status": "firing", "receiver": "r",
               "orgId": "not a number", "title": 5, "state": ["alerting"],
               "alerts": [{"status": "firing", "labels": {"alertname": "Up"},
                           "startsAt": "2026-03-02T09:14:05Z"}]})
    }

    #[test]
    fn alertmanager_skips_grafanas_group_fields_whatever_they_hold() {
        let alerts = alertmanager::alerts_from_json(&with_grafana_fields("4")).unwrap();
        let context = &alerts[0].content.context;
        assert_eq!(context["receiver"], json!("r"));
        for grafanas in ["orgId", "groupTitle", "state"] {
            assert!(!context.contains_key(grafanas), "{grafanas}");
        }
    }

    #[test]
    fn grafana_reads_its_group_fields_and_names_a_wrong_one() {
        let error = grafana::alerts_from_json(&with_grafana_fields("1")).unwrap_err();
        assert_eq!(error.field, "orgId");
        let mut body = with_grafana_fields("1");
        body["orgId"] = json!(3);
        body["title"] = json!("[FIRING:1] Up");
        body["state"] = json!("alerting");
        let alerts = grafana::alerts_from_json(&body).unwrap();
        let context = &alerts[0].content.context;
        assert_eq!(context["orgId"], json!(3));
        assert_eq!(context["groupTitle"], json!("[FIRING:1] Up"));
        assert_eq!(context["state"], json!("alerting"));
        assert!(alerts[0].idempotency_key.starts_with("grafana:"));
    }
}
