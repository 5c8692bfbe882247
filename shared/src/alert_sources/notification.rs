//! One notification as Alertmanager and Grafana both send it: the group-level fields around `alerts[]`,
//! read and checked (payload version, at least one alert), then every alert mapped with the group's fields
//! in its context.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::labelled_alert::{Envelope, LabelledAlert};
use super::{SourceAlert, read_payload};
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

/// Alertmanager's `Data`, plus the three group fields Grafana adds (`orgId`, `title`, `state`). Alertmanager
/// reads those as `IgnoredAny`, skipping them unread like any other field it does not know; Grafana reads
/// them as `i64` and `String`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification<OrgId, Text> {
    version: String,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    truncated_alerts: Option<u64>,
    status: String,
    receiver: String,
    #[serde(default)]
    pub org_id: Option<OrgId>,
    #[serde(default)]
    pub title: Option<Text>,
    #[serde(default)]
    pub state: Option<Text>,
    #[serde(default)]
    group_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    common_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    common_annotations: Option<BTreeMap<String, String>>,
    #[serde(rename = "externalURL", default)]
    external_url: Option<String>,
    alerts: Vec<LabelledAlert>,
}

impl<OrgId, Text> Notification<OrgId, Text>
where
    Self: DeserializeOwned,
{
    /// Reads `body` as a notification of `source`: its version the one understood, `alerts` not empty.
    pub fn read(body: &Value, source: &Source) -> Result<Self, FieldError> {
        let notification: Self = read_payload(body)?;
        if notification.version != source.payload_version {
            return Err(FieldError::invalid(
                "version",
                format!(
                    "`version` is {:?}; alertwire reads {}'s webhook payload version {}",
                    notification.version, source.name, source.payload_version
                ),
            ));
        }
        if notification.alerts.is_empty() {
            return Err(FieldError::invalid("alerts", "`alerts` is empty"));
        }
        Ok(notification)
    }

    /// The group-level fields both sources send, under their own names, for every alert's context.
    pub fn group_context(&self) -> Map<String, Value> {
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

    /// Every alert mapped with `context` (see [`Self::group_context`]), or the first problem naming its
    /// field; nothing partial.
    pub fn into_source_alerts(
        self,
        source: &Source,
        context: Map<String, Value>,
    ) -> Result<Vec<SourceAlert>, FieldError> {
        let envelope = Envelope {
            source: source.key,
            context,
            fallback_link: self.external_url,
        };
        self.alerts
            .into_iter()
            .enumerate()
            .map(|(index, alert)| alert.into_source_alert(index, &envelope))
            .collect()
    }
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
