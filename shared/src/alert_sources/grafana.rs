//! Grafana Alerting's webhook contact point payload (version 1), as documented at
//! <https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/>:
//! Alertmanager's fields plus `orgId`, `title`, `state`, `message`, and per alert `silenceURL`,
//! `dashboardURL`, `panelURL`, `values` and `valueString`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::labelled_alert::{Envelope, LabelledAlert};
use super::{SourceAlert, read_payload};
use crate::input_error::FieldError;

/// The payload version this reader understands.
pub const PAYLOAD_VERSION: &str = "1";

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

/// Every alert of the notification, or the first problem naming its field; nothing partial.
pub fn alerts_from_json(body: &Value) -> Result<Vec<SourceAlert>, FieldError> {
    let notification: Notification = read_payload(body)?;
    if notification.version != PAYLOAD_VERSION {
        return Err(FieldError::invalid(
            "version",
            format!(
                "`version` is {:?}; alertwire reads Grafana's webhook payload version {PAYLOAD_VERSION}",
                notification.version
            ),
        ));
    }
    if notification.alerts.is_empty() {
        return Err(FieldError::invalid("alerts", "`alerts` is empty"));
    }
    let mut context = Map::new();
    context.insert("receiver".into(), json!(notification.receiver));
    context.insert("groupStatus".into(), json!(notification.status));
    context.insert("orgId".into(), json!(notification.org_id));
    context.insert("groupTitle".into(), json!(notification.title));
    context.insert("state".into(), json!(notification.state));
    context.insert("groupKey".into(), json!(notification.group_key));
    context.insert("groupLabels".into(), json!(notification.group_labels));
    context.insert("commonLabels".into(), json!(notification.common_labels));
    context.insert(
        "commonAnnotations".into(),
        json!(notification.common_annotations),
    );
    context.insert("externalURL".into(), json!(notification.external_url));
    context.insert(
        "truncatedAlerts".into(),
        json!(notification.truncated_alerts.unwrap_or(0)),
    );
    let envelope = Envelope {
        source: "grafana",
        context,
        fallback_link: notification.external_url,
    };
    notification
        .alerts
        .into_iter()
        .enumerate()
        .map(|(index, alert)| alert.into_source_alert(index, &envelope))
        .collect()
}
