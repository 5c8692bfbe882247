//! The alert: what a monitoring system tells us happened, validated from its JSON form.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{AlertId, TenantId};
use crate::input_error::{FieldError, ObjectReader, check_text};

/// How bad it is. Ordered, so an endpoint can ask for `high` and above.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    Default,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Self::Info,
        Self::Low,
        Self::Medium,
        Self::High,
        Self::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Case-insensitive parse of one of the five names.
    pub fn parse(text: &str) -> Option<Severity> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }
}

/// Why the alert is being sent: a problem, a reminder that it is still there, or that it is over.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    #[default]
    Error,
    Reminder,
    Ok,
}

impl MessageType {
    pub const ALL: [MessageType; 3] = [Self::Error, Self::Reminder, Self::Ok];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Reminder => "reminder",
            Self::Ok => "ok",
        }
    }

    pub fn parse(text: &str) -> Option<MessageType> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(text))
    }
}

/// An accepted alert, as stored and rendered into webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub tenant: TenantId,
    pub received_at: DateTime<Utc>,
    #[serde(flatten)]
    pub content: AlertContent,
    /// How ingest routed it; `None` until it is recorded, and for alerts accepted before routing was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<crate::routing::RoutingOutcome>,
    /// The window of errors this alert stands for, when alertwire made it for a digest delivery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<crate::digest::DigestWindow>,
}

/// The longest [`Alert::dedup_key`], in characters: PagerDuty's `dedup_key` takes 255, Opsgenie's `alias` 512.
pub const DEDUP_KEY_CHARS: usize = 255;

impl Alert {
    /// What pairs this alert's messages at a service whose keys are short: the incident key (the alert's
    /// id when it has none), at most [`DEDUP_KEY_CHARS`] characters. A longer key is cut and ends with `~`
    /// and 16 hex digits of its SHA-256, so the ok still finds its error and two long keys that begin
    /// alike stay apart.
    pub fn dedup_key(&self) -> String {
        let key = match self.content.incident_key.as_deref() {
            Some(key) if !key.is_empty() => key,
            _ => self.id.as_str(),
        };
        fitted_key(key, DEDUP_KEY_CHARS)
    }
}

/// `key` as it is when it has at most `max_chars` characters; otherwise its beginning, `~` and 16 hex
/// digits of the SHA-256 of the whole key, `max_chars` characters in all.
fn fitted_key(key: &str, max_chars: usize) -> String {
    use sha2::{Digest, Sha256};
    const SUFFIX: usize = 17;
    if key.chars().count() <= max_chars {
        return key.to_string();
    }
    let digest = format!("{:x}", Sha256::digest(key.as_bytes()));
    let mut fitted: String = key.chars().take(max_chars.saturating_sub(SUFFIX)).collect();
    fitted.push('~');
    fitted.push_str(&digest[..SUFFIX - 1]);
    fitted
}

/// What the sender of an alert says; validated by [`AlertContent::from_json`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertContent {
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub message_type: MessageType,
    pub incident_key: Option<String>,
    pub tags: Vec<String>,
    pub samples: Vec<Value>,
    pub context: Map<String, Value>,
    pub link: Option<String>,
    pub source: Option<String>,
    pub timeframe_start: Option<DateTime<Utc>>,
    pub timeframe_end: Option<DateTime<Utc>>,
}

const FIELDS: &[&str] = &[
    "title",
    "description",
    "severity",
    "message_type",
    "incident_key",
    "tags",
    "samples",
    "context",
    "link",
    "source",
    "timeframe_start",
    "timeframe_end",
    // Which endpoints the alert is for: read by `routing::EndpointSelection`, not part of the content.
    "endpoints",
];
const MAX_TITLE: usize = 1_000;
const MAX_DESCRIPTION: usize = 65_536;
const MAX_SHORT: usize = 2_048;
const MAX_TAGS: usize = 100;
const MAX_TAG: usize = 256;

impl AlertContent {
    /// Validates the JSON body of `POST /v1/alerts`.
    pub fn from_json(body: &Value) -> Result<AlertContent, FieldError> {
        let reader = ObjectReader::new("", body, FIELDS)?;
        let severity = match reader.string("severity", 32)? {
            None => Severity::default(),
            Some(text) => Severity::parse(text).ok_or_else(|| {
                FieldError::invalid(
                    "severity",
                    "`severity` must be one of info, low, medium, high, critical",
                )
            })?,
        };
        let message_type = match reader.string("message_type", 32)? {
            None => MessageType::default(),
            Some(text) => MessageType::parse(text).ok_or_else(|| {
                FieldError::invalid(
                    "message_type",
                    "`message_type` must be one of error, reminder, ok",
                )
            })?,
        };
        let timeframe_start = timestamp(&reader, "timeframe_start")?;
        let timeframe_end = timestamp(&reader, "timeframe_end")?;
        if let (Some(start), Some(end)) = (timeframe_start, timeframe_end)
            && end < start
        {
            return Err(FieldError::invalid(
                "timeframe_end",
                "`timeframe_end` is before `timeframe_start`",
            ));
        }
        Ok(AlertContent {
            title: reader.required_string("title", MAX_TITLE)?.to_string(),
            description: reader
                .string("description", MAX_DESCRIPTION)?
                .unwrap_or_default()
                .to_string(),
            severity,
            message_type,
            incident_key: reader
                .string("incident_key", MAX_SHORT)?
                .map(str::to_string),
            tags: tags(&reader)?,
            samples: match reader.value("samples") {
                None => Vec::new(),
                Some(Value::Array(items)) => items.clone(),
                Some(_) => {
                    return Err(FieldError::invalid(
                        "samples",
                        "`samples` must be a JSON array",
                    ));
                }
            },
            context: match reader.value("context") {
                None => Map::new(),
                Some(Value::Object(map)) => map.clone(),
                Some(_) => {
                    return Err(FieldError::invalid(
                        "context",
                        "`context` must be a JSON object",
                    ));
                }
            },
            link: link(&reader)?,
            source: reader.string("source", MAX_SHORT)?.map(str::to_string),
            timeframe_start,
            timeframe_end,
        })
    }

    pub fn into_alert(self, id: AlertId, tenant: TenantId, received_at: DateTime<Utc>) -> Alert {
        Alert {
            id,
            tenant,
            received_at,
            content: self,
            routing: None,
            digest: None,
        }
    }
}

fn tags(reader: &ObjectReader<'_>) -> Result<Vec<String>, FieldError> {
    let Some(value) = reader.value("tags") else {
        return Ok(Vec::new());
    };
    let items = value
        .as_array()
        .ok_or_else(|| FieldError::invalid("tags", "`tags` must be a list of strings"))?;
    if items.len() > MAX_TAGS {
        return Err(FieldError::invalid(
            "tags",
            format!("`tags` has more than {MAX_TAGS} entries"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("tags[{i}]");
            let text = item
                .as_str()
                .ok_or_else(|| FieldError::invalid(&path, format!("`{path}` must be a string")))?;
            check_text(&path, text, MAX_TAG)?;
            Ok(text.to_string())
        })
        .collect()
}

fn link(reader: &ObjectReader<'_>) -> Result<Option<String>, FieldError> {
    let Some(text) = reader.string("link", MAX_SHORT)? else {
        return Ok(None);
    };
    match url::Url::parse(text) {
        // Kept normalised, with quotes, spaces, angle brackets and backslashes percent-encoded, so the
        // link is safe even where a template writes it unescaped (Logz.io's `{{&alert_app_url}}`).
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            Ok(Some(url.to_string().replace('\\', "%5C")))
        }
        _ => Err(FieldError::invalid(
            "link",
            "`link` must be an http or https URL",
        )),
    }
}

/// At most `max_chars` characters of `text`, the last an ellipsis when it was cut.
pub fn shortened(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    kept.push('…');
    kept
}

/// A link as stored: the URL's normal form with backslashes percent-encoded too.
pub fn normalised_link(url: &url::Url) -> String {
    url.as_str().replace('\\', "%5C")
}

/// RFC 3339 text or milliseconds since the epoch.
fn timestamp(reader: &ObjectReader<'_>, name: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    let Some(value) = reader.value(name) else {
        return Ok(None);
    };
    let parsed = match value {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        _ => None,
    };
    parsed.map(Some).ok_or_else(|| {
        FieldError::invalid(
            name,
            format!("`{name}` must be an RFC 3339 timestamp (2026-01-31T12:00:00Z) or epoch milliseconds"),
        )
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_long_key_is_cut_to_fit_with_a_hash_of_the_whole() {
        assert_eq!(fitted_key("db-1/disk", 255), "db-1/disk");
        let exact = "k".repeat(255);
        assert_eq!(fitted_key(&exact, 255), exact);
        let long = format!("{}{}", "é".repeat(300), "a");
        let other = format!("{}{}", "é".repeat(300), "b");
        let cut = fitted_key(&long, 255);
        assert_eq!(cut.chars().count(), 255);
        assert!(
            cut.starts_with(&"é".repeat(238)) && cut.contains('~'),
            "{cut}"
        );
        assert_eq!(
            cut,
            fitted_key(&long, 255),
            "the same key fits the same way"
        );
        assert_ne!(
            cut,
            fitted_key(&other, 255),
            "long keys that begin alike stay apart"
        );
    }
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_alert_parses() {
        let input = AlertContent::from_json(&json!({
            "title": "CPU high", "description": "node-1 at 97%", "severity": "HIGH", "message_type": "ok",
            "incident_key": "cpu/node-1", "tags": ["prod", "db"], "samples": [{"cpu": 97}],
            "context": {"host": "node-1"}, "link": "https://grafana.example.com/d/1", "source": "prometheus",
            "timeframe_start": "2026-01-01T00:00:00Z", "timeframe_end": 1767225660000i64
        }))
        .unwrap();
        assert_eq!(input.severity, Severity::High);
        assert_eq!(input.message_type, MessageType::Ok);
        assert_eq!(input.tags, vec!["prod", "db"]);
        assert_eq!(
            input.timeframe_end.unwrap().timestamp_millis(),
            1767225660000
        );
    }

    #[test]
    fn defaults_are_error_and_info() {
        let input = AlertContent::from_json(&json!({"title": "x"})).unwrap();
        assert_eq!(
            (input.severity, input.message_type),
            (Severity::Info, MessageType::Error)
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({}), "title"),
            (json!({"title": ""}), "title"),
            (json!({"title": 5}), "title"),
            (json!({"title": "a\u{0}b"}), "title"),
            (json!({"title": "x", "severity": "urgent"}), "severity"),
            (
                json!({"title": "x", "message_type": "warn"}),
                "message_type",
            ),
            (json!({"title": "x", "tags": "a"}), "tags"),
            (json!({"title": "x", "tags": ["a", 1]}), "tags[1]"),
            (json!({"title": "x", "samples": {}}), "samples"),
            (json!({"title": "x", "context": []}), "context"),
            (json!({"title": "x", "link": "javascript:alert(1)"}), "link"),
            (
                json!({"title": "x", "timeframe_start": "yesterday"}),
                "timeframe_start",
            ),
            (json!({"title": "x", "colour": "red"}), "colour"),
            (json!([1]), ""),
        ];
        for (body, field) in cases {
            let err = AlertContent::from_json(&body).unwrap_err();
            assert_eq!(err.field, field, "{body}: {err}");
        }
    }
}
