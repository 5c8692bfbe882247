//! The Mustache variables: their names, kinds and meanings, the default body, and the catalogue that
//! template checks use (Mustache and Uptrends names together).

use std::sync::OnceLock;

use crate::template::{Catalogue, VarKind};

use super::uptrends::UPTRENDS_VARIABLES;

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
    (
        "alert_labels",
        VarKind::Opaque,
        "the labels endpoints are routed on, by name: its name=value tags (Alertmanager's and Grafana's labels), severity, message_type and source, e.g. {{alert_labels.team}}; a name given twice keeps its first value; bare tags are in alert_tags",
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
        "dedup_key",
        VarKind::Value,
        "the incident key, or the alert's id when it has none, at most 255 characters (a longer key is cut and ends with `~` and a hash of the whole, so it still pairs): fits PagerDuty's `dedup_key` and Opsgenie's `alias`",
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
    (
        "captured",
        VarKind::Record,
        "the values the endpoint's `captures` took from its answer to this incident's error, by name: {{captured.ticket_id}}; empty until the error is delivered (see the README's Captures)",
    ),
    (
        "fallback_of",
        VarKind::Value,
        "on a delivery to a fallback endpoint, the id of the dead delivery it stands in for; else empty",
    ),
];

/// The variables a digest's template has beside every other ([`crate::digest`]).
pub const DIGEST_VARIABLES: &[(&str, VarKind, &str)] = &[
    (
        "digest_count",
        VarKind::Value,
        "how many errors were folded into this digest",
    ),
    (
        "digest_alerts",
        VarKind::Opaque,
        "the folded alerts, oldest first (at most 100), for a section: {{#digest_alerts}}{{severity}}: {{title}}{{/digest_alerts}}; each has title, title_short, severity, incident_key, link, alert_id, delivery_id, received_at",
    ),
    (
        "digest_alerts_json",
        VarKind::Opaque,
        "the same list as raw JSON",
    ),
    (
        "digest_listed",
        VarKind::Value,
        "how many alerts digest_alerts lists (digest_count, or 100 when more were folded)",
    ),
    (
        "digest_window_start",
        VarKind::Value,
        "when the window of the folded errors began (RFC 3339)",
    ),
    (
        "digest_window_end",
        VarKind::Value,
        "when it ended (RFC 3339)",
    ),
];

/// The variables of a digest's template: every other, and [`DIGEST_VARIABLES`].
pub fn digest_catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| catalogue_of(DIGEST_VARIABLES))
}

/// The Mustache and Uptrends variables together.
pub fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| catalogue_of(&[]))
}

/// The Mustache variables, `extra` ones and the Uptrends variables.
fn catalogue_of(extra: &[(&str, VarKind, &str)]) -> Catalogue {
    let entries: Vec<(&str, VarKind)> = VARIABLES
        .iter()
        .chain(extra)
        .map(|(name, kind, _)| (*name, *kind))
        .chain(
            UPTRENDS_VARIABLES
                .iter()
                .map(|(name, _, _)| (*name, VarKind::Value)),
        )
        .collect();
    Catalogue::new(&entries)
}
