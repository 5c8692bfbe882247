//! The template variables: their catalogue, the values an alert gives them, and the sample and hostile
//! alerts used to test a template before it is saved.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::alert::{Alert, AlertContent, MessageType, Severity, shortened};
use crate::template::{Catalogue, VarKind};

/// The body an endpoint gets when it sets none: every field of the alert as JSON.
pub const DEFAULT_JSON_BODY: &str = r#"{
  "webhook_id": "{{delivery_id}}",
  "alert_id": "{{alert_event_id}}",
  "title": "{{alert_title}}",
  "description": "{{alert_description}}",
  "severity": "{{alert_severity}}",
  "message_type": "{{message_type}}",
  "incident_key": "{{incident_key}}",
  "tags": {{alert_tags_json}},
  "samples": {{alert_samples_json}},
  "context": {{alert_context_json}},
  "link": "{{alert_app_url}}",
  "source": "{{alert_source}}",
  "timeframe_start": "{{alert_timeframe_start}}",
  "timeframe_end": "{{alert_timeframe_end}}",
  "received_at": "{{alert_received_at}}",
  "attempt": {{attempt}}
}"#;

/// `alert_title_short` is at most this many characters: it fits Opsgenie's 130-character `message` and
/// Slack's 150-character header with room for a prefix such as `Resolved: `.
pub const SHORT_TITLE_CHARS: usize = 120;
/// `alert_description_short` is at most this many characters: it fits a Slack section (3,000).
pub const SHORT_DESCRIPTION_CHARS: usize = 2_000;

/// Every variable, its kind and what it holds; the README's catalogue is this table.
pub const VARIABLES: &[(&str, VarKind, &str)] = &[
    ("alert_title", VarKind::Value, "the alert's title"),
    (
        "alert_title_short",
        VarKind::Value,
        "the title cut to at most 120 characters (ending in `…` when cut), for services with short fields",
    ),
    (
        "alert_description",
        VarKind::Value,
        "its description (may be empty)",
    ),
    (
        "alert_description_short",
        VarKind::Value,
        "the description cut to at most 2,000 characters",
    ),
    (
        "alert_severity",
        VarKind::Value,
        "info, low, medium, high or critical",
    ),
    (
        "is_critical",
        VarKind::Value,
        "true when the severity is critical (for sections; likewise the four below)",
    ),
    ("is_high", VarKind::Value, "true when the severity is high"),
    (
        "is_medium",
        VarKind::Value,
        "true when the severity is medium",
    ),
    ("is_low", VarKind::Value, "true when the severity is low"),
    ("is_info", VarKind::Value, "true when the severity is info"),
    ("alert_event_id", VarKind::Value, "the alert's id (al_…)"),
    (
        "alert_definition_id",
        VarKind::Value,
        "the incident key, or empty",
    ),
    (
        "alert_samples",
        VarKind::Opaque,
        "the samples; interpolated as compact JSON text",
    ),
    (
        "alert_samples_json",
        VarKind::Opaque,
        "the samples as a raw JSON array",
    ),
    (
        "alert_tags",
        VarKind::List,
        "the tags; a list for sections, `tag1, tag2` when interpolated",
    ),
    (
        "alert_tags_json",
        VarKind::Opaque,
        "the tags as raw JSON; inside Logz.io's `[\"{{alert_tags_json}}\"]` the items",
    ),
    (
        "alert_timeframe_start",
        VarKind::Value,
        "RFC 3339 start of the alert's time frame, or empty",
    ),
    (
        "alert_timeframe_end",
        VarKind::Value,
        "RFC 3339 end of the time frame, or empty",
    ),
    (
        "alert_timeframe_start_epoch_millis",
        VarKind::Value,
        "the start in epoch milliseconds, or empty",
    ),
    (
        "alert_timeframe_end_epoch_millis",
        VarKind::Value,
        "the end in epoch milliseconds, or empty",
    ),
    (
        "alert_app_url",
        VarKind::Value,
        "the alert's link, or empty",
    ),
    (
        "alert_event_html",
        VarKind::Value,
        "the samples as an HTML list (use `{{&alert_event_html}}`)",
    ),
    (
        "alert_event_image",
        VarKind::Value,
        "always empty: alertwire renders no images",
    ),
    (
        "alert_severity_img",
        VarKind::Value,
        "the severity in capitals, e.g. `HIGH`",
    ),
    ("account_id", VarKind::Value, "the tenant's id"),
    ("account_name", VarKind::Value, "the tenant's name (its id)"),
    (
        "alert_source",
        VarKind::Value,
        "the alert's source, or empty",
    ),
    (
        "alert_received_at",
        VarKind::Value,
        "RFC 3339 time alertwire accepted the alert",
    ),
    (
        "alert_context",
        VarKind::Opaque,
        "the free context object, for dotted names and sections",
    ),
    (
        "alert_context_json",
        VarKind::Opaque,
        "the context as a raw JSON object",
    ),
    ("message_type", VarKind::Value, "error, reminder or ok"),
    (
        "is_error",
        VarKind::Value,
        "true for error messages (for sections)",
    ),
    ("is_reminder", VarKind::Value, "true for reminders"),
    ("is_ok", VarKind::Value, "true for ok (resolved) messages"),
    (
        "incident_key",
        VarKind::Value,
        "pairs an ok with its error, or empty",
    ),
    (
        "verification_token",
        VarKind::Value,
        "the endpoint's verification token, or empty",
    ),
    (
        "delivery_id",
        VarKind::Value,
        "this delivery's id, also the webhook-id header",
    ),
    (
        "attempt",
        VarKind::Value,
        "the attempt number within this run, from 1",
    ),
    ("endpoint_id", VarKind::Value, "the endpoint's id"),
    ("endpoint_name", VarKind::Value, "the endpoint's name"),
];

pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let entries: Vec<(&str, VarKind)> = VARIABLES
            .iter()
            .map(|(name, kind, _)| (*name, *kind))
            .collect();
        Catalogue::new(&entries)
    })
}

/// The delivery-specific values rendered next to the alert.
pub struct DeliveryFacts<'a> {
    pub delivery_id: &'a str,
    pub attempt: u32,
    pub endpoint_id: &'a str,
    pub endpoint_name: &'a str,
    pub verification_token: Option<&'a str>,
}

/// The template context for one attempt of one delivery.
pub fn context(alert: &Alert, facts: &DeliveryFacts<'_>) -> Value {
    let time = |t: Option<DateTime<Utc>>| t.map(|t| json!(t.to_rfc3339())).unwrap_or(json!(""));
    let millis =
        |t: Option<DateTime<Utc>>| t.map(|t| json!(t.timestamp_millis())).unwrap_or(json!(""));
    let samples = Value::Array(alert.content.samples.clone());
    let tags = json!(alert.content.tags);
    let context = Value::Object(alert.content.context.clone());
    let text = |t: &Option<String>| json!(t.as_deref().unwrap_or(""));
    let mut map = Map::with_capacity(VARIABLES.len());
    let mut put = |name: &str, value: Value| {
        map.insert(name.to_string(), value);
    };
    put("alert_title", json!(alert.content.title));
    put(
        "alert_title_short",
        json!(shortened(&alert.content.title, SHORT_TITLE_CHARS)),
    );
    put("alert_description", json!(alert.content.description));
    put(
        "alert_description_short",
        json!(shortened(
            &alert.content.description,
            SHORT_DESCRIPTION_CHARS
        )),
    );
    put("alert_severity", json!(alert.content.severity.as_str()));
    for severity in Severity::ALL {
        put(
            &format!("is_{}", severity.as_str()),
            json!(alert.content.severity == severity),
        );
    }
    put("alert_event_id", json!(alert.id));
    put("alert_definition_id", text(&alert.content.incident_key));
    put("alert_samples", samples.clone());
    put("alert_samples_json", samples);
    put("alert_tags", tags.clone());
    put("alert_tags_json", tags);
    put("alert_timeframe_start", time(alert.content.timeframe_start));
    put("alert_timeframe_end", time(alert.content.timeframe_end));
    put(
        "alert_timeframe_start_epoch_millis",
        millis(alert.content.timeframe_start),
    );
    put(
        "alert_timeframe_end_epoch_millis",
        millis(alert.content.timeframe_end),
    );
    put("alert_app_url", text(&alert.content.link));
    put(
        "alert_event_html",
        json!(samples_html(&alert.content.samples)),
    );
    put("alert_event_image", json!(""));
    put(
        "alert_severity_img",
        json!(alert.content.severity.as_str().to_ascii_uppercase()),
    );
    put("account_id", json!(alert.tenant));
    put("account_name", json!(alert.tenant));
    put("alert_source", text(&alert.content.source));
    put("alert_received_at", json!(alert.received_at.to_rfc3339()));
    put("alert_context", context.clone());
    put("alert_context_json", context);
    put("message_type", json!(alert.content.message_type.as_str()));
    put(
        "is_error",
        json!(alert.content.message_type == MessageType::Error),
    );
    put(
        "is_reminder",
        json!(alert.content.message_type == MessageType::Reminder),
    );
    put(
        "is_ok",
        json!(alert.content.message_type == MessageType::Ok),
    );
    put("incident_key", text(&alert.content.incident_key));
    put(
        "verification_token",
        json!(facts.verification_token.unwrap_or("")),
    );
    put("delivery_id", json!(facts.delivery_id));
    put("attempt", json!(facts.attempt));
    put("endpoint_id", json!(facts.endpoint_id));
    put("endpoint_name", json!(facts.endpoint_name));
    Value::Object(map)
}

/// `<ul><li>sample</li>…</ul>`, each sample as compact JSON, entity-escaped.
fn samples_html(samples: &[Value]) -> String {
    let mut html = String::from("<ul>");
    for sample in samples {
        let text = match sample {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        html.push_str("<li>");
        crate::template::Escaping::Xml.escape_into(&mut html, &text);
        html.push_str("</li>");
    }
    html.push_str("</ul>");
    html
}

/// The alert "Run the test" sends when the caller gives none.
pub fn sample_alert(tenant: crate::ids::TenantId) -> Alert {
    let now = Utc::now();
    Alert {
        id: crate::ids::AlertId::from("al_sample"),
        tenant,
        received_at: now,
        content: AlertContent {
            title: "alertwire test alert".into(),
            description: "A sample alert sent by \"Run the test\".".into(),
            severity: Severity::High,
            message_type: MessageType::Error,
            incident_key: Some("sample/cpu-high".into()),
            tags: vec!["test".into(), "alertwire".into()],
            samples: vec![
                json!({"host": "web-1", "cpu": 97.5}),
                json!({"host": "web-2", "cpu": 91.0}),
            ],
            context: json!({"region": "eu-west-1", "runbook": "https://example.com/runbook"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            link: Some("https://example.com/alerts/sample".into()),
            source: Some("alertwire".into()),
            timeframe_start: Some(now - chrono::Duration::minutes(5)),
            timeframe_end: Some(now),
        },
    }
}

/// A context of ordinary values, used to render an endpoint's URL at save time.
pub fn sample_context() -> Value {
    let alert = sample_alert(crate::ids::TenantId::from("tn_sample"));
    context(&alert, &sample_facts())
}

/// A context whose every string is as hostile as we can make it, to prove a JSON body stays JSON.
pub fn hostile_context() -> Value {
    const HOSTILE: &str =
        "q\"uote \\back\\slash\nnew\r\tline </script> \u{2028}\u{2029} é 💥 ' & <x> {{x}} \u{1}";
    // Ids and links are validated (ids are generated, tenants are names, links normalised URLs), so they
    // are hostile only within what validation lets through.
    let mut alert = sample_alert(crate::ids::TenantId::from("tenant-1.x_y"));
    alert.content.title = HOSTILE.into();
    alert.content.description = HOSTILE.into();
    alert.content.incident_key = Some(HOSTILE.into());
    alert.content.tags = vec![HOSTILE.into(), String::new()];
    alert.content.samples = vec![json!({"message": HOSTILE}), json!(HOSTILE), json!([])];
    alert.content.context = json!({"k": HOSTILE, "n": [HOSTILE]})
        .as_object()
        .cloned()
        .unwrap_or_default();
    alert.content.link = url::Url::parse("https://example.com/a b/\"q\"?x=<y>&z='w'#f\\g")
        .ok()
        .as_ref()
        .map(crate::alert::normalised_link);
    alert.content.source = Some(HOSTILE.into());
    let facts = DeliveryFacts {
        verification_token: Some(HOSTILE),
        endpoint_name: HOSTILE,
        ..sample_facts()
    };
    context(&alert, &facts)
}

fn sample_facts() -> DeliveryFacts<'static> {
    DeliveryFacts {
        delivery_id: "msg_sample",
        attempt: 1,
        endpoint_id: "ep_sample",
        endpoint_name: "sample endpoint",
        verification_token: Some("sample-token"),
    }
}
