//! Grafana Alerting's webhook contact point payload (version 1), as documented at
//! <https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/>:
//! Alertmanager's fields plus `orgId`, `title`, `state`, `message`, and per alert `silenceURL`,
//! `dashboardURL`, `panelURL`, `values` and `valueString`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::labelled_alert::LabelledAlert;
use super::notification::{Group, Source, into_source_alerts};
use super::{SourceAlert, read_payload};
use crate::input_error::FieldError;

/// The payload version this reader understands.
pub const PAYLOAD_VERSION: &str = "1";

const GRAFANA: Source = Source {
    key: "grafana",
    name: "Grafana",
    payload_version: PAYLOAD_VERSION,
};

/// Grafana's webhook payload, version 1.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = GrafanaNotification, example = json!({
    "version": "1",
    "status": "firing",
    "receiver": "alertwire",
    "orgId": 1,
    "title": "[FIRING:1] HighLatency",
    "externalURL": "https://grafana.example.com/",
    "alerts": [LabelledAlert::example()]
}))]
pub struct Notification {
    #[schema(pattern = "^1$")]
    version: String,
    #[serde(default)]
    group_key: Option<String>,
    #[serde(default)]
    truncated_alerts: Option<u64>,
    status: String,
    receiver: String,
    #[serde(default)]
    org_id: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    state: Option<String>,
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
    group.check(&GRAFANA)?;
    let mut context = group.context();
    context.insert("orgId".into(), json!(notification.org_id));
    context.insert("groupTitle".into(), json!(notification.title));
    context.insert("state".into(), json!(notification.state));
    into_source_alerts(
        notification.alerts,
        &GRAFANA,
        context,
        notification.external_url,
    )
}
