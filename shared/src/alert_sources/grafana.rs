//! Grafana Alerting's webhook contact point payload (version 1), as documented at
//! <https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/>:
//! Alertmanager's fields plus `orgId`, `title`, `state`, `message`, and per alert `silenceURL`,
//! `dashboardURL`, `panelURL`, `values` and `valueString`.

use serde_json::{Value, json};

use super::SourceAlert;
use super::notification::{Notification, Source};
use crate::input_error::FieldError;

/// The payload version this reader understands.
pub const PAYLOAD_VERSION: &str = "1";

const GRAFANA: Source = Source {
    key: "grafana",
    name: "Grafana",
    payload_version: PAYLOAD_VERSION,
};

/// Every alert of the notification, or the first problem naming its field; nothing partial.
pub fn alerts_from_json(body: &Value) -> Result<Vec<SourceAlert>, FieldError> {
    let notification = Notification::<i64, String>::read(body, &GRAFANA)?;
    let mut context = notification.group_context();
    context.insert("orgId".into(), json!(notification.org_id));
    context.insert("groupTitle".into(), json!(notification.title));
    context.insert("state".into(), json!(notification.state));
    notification.into_source_alerts(&GRAFANA, context)
}
