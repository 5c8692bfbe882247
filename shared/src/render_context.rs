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

/// Where an Uptrends variable's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UptrendsSource {
    /// The value of this Mustache variable.
    Same(&'static str),
    /// `Alert`, `Ok` or `Reminder`, from the message type error, ok or reminder.
    AlertType,
    /// A moment of the alert, in one of Uptrends' formats.
    Time(Moment, TimeFormat),
    /// Nothing in an alertwire alert means this: always the empty string.
    Empty,
}

/// The moments Uptrends' timestamps name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// When alertwire accepted the alert.
    Received,
    /// When the problem began: the start of the alert's time frame, or without one when it was accepted.
    FirstError,
}

/// Uptrends' two ways of writing a time. alertwire has no account time zone or culture: times are UTC, and
/// "formatted" is the en-US form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// ISO 8601 without offset or fraction: `2026-11-23T10:05:00`.
    Iso,
    /// `11/23/2026 10:05 AM`.
    Formatted,
}

impl TimeFormat {
    fn format(self, time: DateTime<Utc>) -> String {
        match self {
            TimeFormat::Iso => time.format("%Y-%m-%dT%H:%M:%S").to_string(),
            TimeFormat::Formatted => time.format("%-m/%-d/%Y %-I:%M %p").to_string(),
        }
    }
}

/// Every variable of Uptrends' custom integrations ("Alerting system variables"), what it renders in
/// alertwire, and what that is; the README's catalogue shows them beside the Mustache names.
pub const UPTRENDS_VARIABLES: &[(&str, UptrendsSource, &str)] = &[
    (
        "@account.accountId",
        UptrendsSource::Same("account_id"),
        "the tenant's id",
    ),
    (
        "@alert.alertGuid",
        UptrendsSource::Same("alert_event_id"),
        "the alert's id (`al_…`, not a GUID)",
    ),
    (
        "@alert.description",
        UptrendsSource::Same("alert_description"),
        "the alert's description (may be empty)",
    ),
    (
        "@alert.firstErrorDescription",
        UptrendsSource::Same("alert_description"),
        "the alert's description (may be empty)",
    ),
    (
        "@alert.type",
        UptrendsSource::AlertType,
        "`Alert`, `Ok` or `Reminder` for message type `error`, `ok` or `reminder`",
    ),
    (
        "@alert.timestamp",
        UptrendsSource::Time(Moment::Received, TimeFormat::Iso),
        "when alertwire accepted the alert, UTC, as `2026-11-23T10:05:00`",
    ),
    (
        "@alert.timestampUtc",
        UptrendsSource::Time(Moment::Received, TimeFormat::Iso),
        "the same as `@alert.timestamp`",
    ),
    (
        "@alert.timestampFormatted",
        UptrendsSource::Time(Moment::Received, TimeFormat::Formatted),
        "the same time as `11/23/2026 10:05 AM`",
    ),
    (
        "@alert.timestampUtcFormatted",
        UptrendsSource::Time(Moment::Received, TimeFormat::Formatted),
        "the same as `@alert.timestampFormatted`",
    ),
    (
        "@alert.firstError",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Iso),
        "the start of the alert's time frame (without one, when alertwire accepted it), UTC, as `2026-11-23T10:00:00`",
    ),
    (
        "@alert.firstErrorUtc",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Iso),
        "the same as `@alert.firstError`",
    ),
    (
        "@alert.firstErrorFormatted",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Formatted),
        "the same time as `11/23/2026 10:00 AM`",
    ),
    (
        "@alert.firstErrorUtcFormatted",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Formatted),
        "the same as `@alert.firstErrorFormatted`",
    ),
    (
        "@alert.firstErrorCheckUrl",
        UptrendsSource::Same("alert_app_url"),
        "the alert's `link`, or empty",
    ),
    (
        "@monitor.dashboardUrl",
        UptrendsSource::Same("alert_app_url"),
        "the alert's `link`, or empty",
    ),
    (
        "@alertDefinition.guid",
        UptrendsSource::Same("alert_definition_id"),
        "the incident key, or empty",
    ),
    (
        "@alertDefinition.name",
        UptrendsSource::Same("alert_title"),
        "the alert's title",
    ),
    (
        "@monitor.name",
        UptrendsSource::Same("alert_title"),
        "the alert's title",
    ),
    (
        "@incident.key",
        UptrendsSource::Same("incident_key"),
        "pairs an ok with its error, or empty",
    ),
    (
        "@alert.checkpointName",
        UptrendsSource::Empty,
        "no checkpoints here",
    ),
    (
        "@alert.downtimeDuration",
        UptrendsSource::Empty,
        "alertwire does not know when a problem ended",
    ),
    (
        "@alert.errorTypeId",
        UptrendsSource::Empty,
        "no Uptrends error types",
    ),
    (
        "@alert.failureMessage",
        UptrendsSource::Empty,
        "no transaction steps",
    ),
    (
        "@alert.firstErrorCheckId",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.numberOfConsecutiveErrors",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.resolvedIpAddress",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.responseHeaders",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.responseBody",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.serverIpv4",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.serverIpv6",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.sslValidUntil",
        UptrendsSource::Empty,
        "no certificate checks",
    ),
    (
        "@escalationLevel.id",
        UptrendsSource::Empty,
        "no escalation levels",
    ),
    (
        "@escalationLevel.message",
        UptrendsSource::Empty,
        "no escalation levels",
    ),
    (
        "@monitor.editUrl",
        UptrendsSource::Empty,
        "no monitor settings",
    ),
    ("@monitor.monitorGuid", UptrendsSource::Empty, "no monitors"),
    (
        "@monitor.notes",
        UptrendsSource::Empty,
        "no monitor settings",
    ),
    ("@monitor.type", UptrendsSource::Empty, "no monitors"),
    (
        "@monitor.url",
        UptrendsSource::Empty,
        "no monitored address",
    ),
];

/// The Mustache and Uptrends variables together.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let entries: Vec<(&str, VarKind)> = VARIABLES
            .iter()
            .map(|(name, kind, _)| (*name, *kind))
            .chain(
                UPTRENDS_VARIABLES
                    .iter()
                    .map(|(name, _, _)| (*name, VarKind::Value)),
            )
            .collect();
        Catalogue::new(&entries)
    })
}

/// `Alert`, `Ok` or `Reminder`, as Uptrends' `@alert.type` says.
fn uptrends_alert_type(message_type: MessageType) -> &'static str {
    match message_type {
        MessageType::Error => "Alert",
        MessageType::Ok => "Ok",
        MessageType::Reminder => "Reminder",
    }
}

/// The delivery-specific values rendered next to the alert.
pub struct DeliveryFacts<'a> {
    pub delivery_id: &'a str,
    pub attempt: u32,
    pub endpoint_id: &'a str,
    pub endpoint_name: &'a str,
    pub verification_token: Option<&'a str>,
}

/// Which names a context holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Names {
    /// The Mustache names only: enough for templates that use no `@` name.
    Mustache,
    /// The Mustache and the Uptrends names.
    MustacheAndUptrends,
}

impl Names {
    /// What templates that use `@` names or not need.
    pub fn for_templates(uses_at_names: bool) -> Names {
        if uses_at_names {
            Names::MustacheAndUptrends
        } else {
            Names::Mustache
        }
    }
}

/// The template context for one attempt of one delivery, with every name (see [`context_with`]).
pub fn context(alert: &Alert, facts: &DeliveryFacts<'_>) -> Value {
    context_with(alert, facts, Names::MustacheAndUptrends)
}

/// The template context for one attempt of one delivery, with the Uptrends names only if `names` asks for them:
/// templates that use none do not pay for building them.
pub fn context_with(alert: &Alert, facts: &DeliveryFacts<'_>, names: Names) -> Value {
    let time = |t: Option<DateTime<Utc>>| t.map(|t| json!(t.to_rfc3339())).unwrap_or(json!(""));
    let millis =
        |t: Option<DateTime<Utc>>| t.map(|t| json!(t.timestamp_millis())).unwrap_or(json!(""));
    let samples = Value::Array(alert.content.samples.clone());
    let tags = json!(alert.content.tags);
    let context = Value::Object(alert.content.context.clone());
    let text = |t: &Option<String>| json!(t.as_deref().unwrap_or(""));
    let capacity = match names {
        Names::Mustache => VARIABLES.len(),
        Names::MustacheAndUptrends => VARIABLES.len() + UPTRENDS_VARIABLES.len(),
    };
    let mut map = Map::with_capacity(capacity);
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
    if names == Names::MustacheAndUptrends {
        put_uptrends(&mut map, alert);
    }
    Value::Object(map)
}

/// Adds the Uptrends names to a context that holds the Mustache ones.
fn put_uptrends(map: &mut Map<String, Value>, alert: &Alert) {
    // Each time is formatted once, however many names show it.
    let received = FormattedTime::new(alert.received_at);
    let first_error =
        FormattedTime::new(alert.content.timeframe_start.unwrap_or(alert.received_at));
    for (name, source, _) in UPTRENDS_VARIABLES {
        let value = match *source {
            UptrendsSource::Same(mustache) => map.get(mustache).cloned().unwrap_or(json!("")),
            UptrendsSource::AlertType => {
                json!(uptrends_alert_type(alert.content.message_type))
            }
            UptrendsSource::Time(moment, format) => {
                let time = match moment {
                    Moment::Received => &received,
                    Moment::FirstError => &first_error,
                };
                json!(time.text(format))
            }
            UptrendsSource::Empty => json!(""),
        };
        map.insert((*name).to_owned(), value);
    }
}

/// A time in both of Uptrends' formats.
struct FormattedTime {
    iso: String,
    formatted: String,
}

impl FormattedTime {
    fn new(time: DateTime<Utc>) -> FormattedTime {
        FormattedTime {
            iso: TimeFormat::Iso.format(time),
            formatted: TimeFormat::Formatted.format(time),
        }
    }

    fn text(&self, format: TimeFormat) -> &str {
        match format {
            TimeFormat::Iso => &self.iso,
            TimeFormat::Formatted => &self.formatted,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn alert(message_type: MessageType) -> Alert {
        let mut alert = sample_alert(crate::ids::TenantId::from("acme"));
        alert.id = crate::ids::AlertId::from("al_1");
        alert.received_at = Utc.with_ymd_and_hms(2026, 11, 23, 22, 5, 7).unwrap();
        alert.content.title = "Disk \"full\"".into();
        alert.content.description = "db-1\nat 97%".into();
        alert.content.message_type = message_type;
        alert.content.incident_key = Some("db/primary".into());
        alert.content.link = Some("https://app.example.com/a/1".into());
        alert.content.timeframe_start = Some(Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap());
        alert
    }

    fn uptrends_context(alert: &Alert) -> Value {
        context(alert, &sample_facts())
    }

    /// Every name of Uptrends' "Alerting system variables" table (but `@CustomField(…)`, a function).
    const DOCUMENTED: &[&str] = &[
        "@account.accountId",
        "@alert.alertGuid",
        "@alert.checkpointName",
        "@alert.description",
        "@alert.downtimeDuration",
        "@alert.errorTypeId",
        "@alert.failureMessage",
        "@alert.firstError",
        "@alert.firstErrorCheckId",
        "@alert.firstErrorCheckUrl",
        "@alert.firstErrorDescription",
        "@alert.firstErrorFormatted",
        "@alert.firstErrorUtc",
        "@alert.firstErrorUtcFormatted",
        "@alert.numberOfConsecutiveErrors",
        "@alert.resolvedIpAddress",
        "@alert.responseHeaders",
        "@alert.responseBody",
        "@alert.serverIpv4",
        "@alert.serverIpv6",
        "@alert.sslValidUntil",
        "@alert.timestamp",
        "@alert.timestampFormatted",
        "@alert.timestampUtc",
        "@alert.timestampUtcFormatted",
        "@alert.type",
        "@alertDefinition.guid",
        "@alertDefinition.name",
        "@escalationLevel.id",
        "@escalationLevel.message",
        "@incident.key",
        "@monitor.dashboardUrl",
        "@monitor.editUrl",
        "@monitor.monitorGuid",
        "@monitor.name",
        "@monitor.notes",
        "@monitor.type",
        "@monitor.url",
    ];

    #[test]
    fn every_documented_uptrends_variable_is_known_once() {
        let names: Vec<&str> = UPTRENDS_VARIABLES
            .iter()
            .map(|(name, _, _)| *name)
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a name is listed twice");
        let mut documented = DOCUMENTED.to_vec();
        documented.sort_unstable();
        assert_eq!(sorted, documented);
        for name in DOCUMENTED {
            assert_eq!(catalogue().kind(name), Some(VarKind::Value), "{name}");
        }
        for (name, source, _) in UPTRENDS_VARIABLES {
            if let UptrendsSource::Same(mustache) = source {
                assert!(catalogue().contains(mustache), "{name} → {mustache}");
            }
        }
    }

    #[test]
    fn uptrends_variables_render_the_alert() {
        let ctx = uptrends_context(&alert(MessageType::Error));
        let expected = [
            ("@account.accountId", "acme"),
            ("@alert.alertGuid", "al_1"),
            ("@alert.description", "db-1\nat 97%"),
            ("@alert.firstErrorDescription", "db-1\nat 97%"),
            ("@alert.type", "Alert"),
            ("@alert.timestamp", "2026-11-23T22:05:07"),
            ("@alert.timestampUtc", "2026-11-23T22:05:07"),
            ("@alert.timestampFormatted", "11/23/2026 10:05 PM"),
            ("@alert.timestampUtcFormatted", "11/23/2026 10:05 PM"),
            ("@alert.firstError", "2026-11-03T09:00:00"),
            ("@alert.firstErrorUtc", "2026-11-03T09:00:00"),
            ("@alert.firstErrorFormatted", "11/3/2026 9:00 AM"),
            ("@alert.firstErrorUtcFormatted", "11/3/2026 9:00 AM"),
            ("@alert.firstErrorCheckUrl", "https://app.example.com/a/1"),
            ("@monitor.dashboardUrl", "https://app.example.com/a/1"),
            ("@alertDefinition.guid", "db/primary"),
            ("@alertDefinition.name", "Disk \"full\""),
            ("@monitor.name", "Disk \"full\""),
            ("@incident.key", "db/primary"),
        ];
        for (name, value) in expected {
            assert_eq!(ctx[name], value, "{name}");
        }
        for (name, source, _) in UPTRENDS_VARIABLES {
            if *source == UptrendsSource::Empty {
                assert_eq!(ctx[*name], "", "{name}");
            } else {
                assert!(
                    expected.iter().any(|(known, _)| known == name),
                    "{name} has no expected value in this test"
                );
            }
        }
    }

    #[test]
    fn mustache_only_contexts_leave_the_uptrends_names_out() {
        let alert = alert(MessageType::Error);
        let full = context(&alert, &sample_facts());
        let mustache = context_with(&alert, &sample_facts(), Names::Mustache);
        let mustache = mustache.as_object().unwrap();
        assert_eq!(mustache.len(), VARIABLES.len());
        for (name, value) in mustache {
            assert_eq!(&full[name], value, "{name}");
        }
        assert_eq!(
            full.as_object().unwrap().len(),
            VARIABLES.len() + UPTRENDS_VARIABLES.len()
        );
        assert_eq!(Names::for_templates(false), Names::Mustache);
        assert_eq!(Names::for_templates(true), Names::MustacheAndUptrends);
    }

    #[test]
    fn alert_type_follows_the_message_type() {
        for (message_type, expected) in [
            (MessageType::Error, "Alert"),
            (MessageType::Ok, "Ok"),
            (MessageType::Reminder, "Reminder"),
        ] {
            assert_eq!(
                uptrends_context(&alert(message_type))["@alert.type"],
                expected
            );
        }
    }

    #[test]
    fn first_error_falls_back_to_the_acceptance_time_and_links_to_empty() {
        let mut bare = alert(MessageType::Ok);
        bare.content.timeframe_start = None;
        bare.content.link = None;
        bare.content.incident_key = None;
        let ctx = uptrends_context(&bare);
        assert_eq!(ctx["@alert.firstError"], "2026-11-23T22:05:07");
        assert_eq!(ctx["@alert.firstErrorFormatted"], "11/23/2026 10:05 PM");
        assert_eq!(ctx["@monitor.dashboardUrl"], "");
        assert_eq!(ctx["@incident.key"], "");
    }
}
