//! One alert as Alertmanager and Grafana both send it (labels, annotations, start and end, fingerprint), and
//! its mapping to our alert: firing is `error`, resolved is `ok`, the fingerprint is the incident key, the
//! `severity` label gives the severity, `summary`/`description` annotations the title and description, labels
//! the tags, and everything the source sent stays in the context.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::SourceAlert;
use crate::alert::{AlertContent, MessageType, Severity, shortened};
use crate::input_error::FieldError;

/// Longest title and description kept; longer annotations are cut (the context keeps them whole).
const MAX_TITLE_CHARS: usize = 1_000;
const MAX_DESCRIPTION_CHARS: usize = 65_536;
/// Our tags are at most 100, each at most 256 characters; longer labels stay in the context only.
const MAX_TAGS: usize = 100;
const MAX_TAG_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = LabelledAlertStatus)]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One entry of a notification's `alerts[]`, as Alertmanager and Grafana send it.
// Alertmanager documents the first seven fields; Grafana adds the optional rest.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(as = LabelledAlertInput)]
pub struct LabelledAlert {
    status: AlertStatus,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(rename = "startsAt")]
    starts_at: DateTime<FixedOffset>,
    #[serde(rename = "endsAt", default)]
    ends_at: Option<DateTime<FixedOffset>>,
    #[serde(rename = "generatorURL", default)]
    generator_url: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    /// Grafana only.
    #[serde(rename = "silenceURL", default)]
    silence_url: Option<String>,
    /// Grafana only.
    #[serde(rename = "dashboardURL", default)]
    dashboard_url: Option<String>,
    /// Grafana only.
    #[serde(rename = "panelURL", default)]
    panel_url: Option<String>,
    /// Grafana only.
    #[serde(rename = "imageURL", default)]
    image_url: Option<String>,
    /// Grafana only.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    values: Option<Map<String, Value>>,
    /// Grafana only.
    #[serde(rename = "valueString", default)]
    value_string: Option<String>,
}

/// What the notification says about all its alerts, copied into each alert's context.
pub struct Envelope {
    /// `alertmanager` or `grafana`: the alert's `source` and the idempotency key's prefix.
    pub source: &'static str,
    /// The notification's group-level fields under the source's own names (`receiver`, `groupKey`, …).
    pub context: Map<String, Value>,
    /// A link for alerts whose own `generatorURL` is not an http(s) URL.
    pub fallback_link: Option<String>,
}

impl LabelledAlert {
    /// The entry the OpenAPI examples of both sources' payloads show.
    pub(super) fn example() -> Value {
        json!({
            "status": "firing",
            "labels": {"alertname": "HighLatency", "severity": "critical", "job": "api"},
            "annotations": {"summary": "p99 latency over 2 s", "description": "api p99 is 2.4 s"},
            "startsAt": "2026-03-02T09:14:05Z",
            "generatorURL": "https://prometheus.example.com/graph",
            "fingerprint": "a1b2c3d4e5f60718"
        })
    }

    /// Maps `alerts[index]`; errors name that path.
    pub fn into_source_alert(
        self,
        index: usize,
        envelope: &Envelope,
    ) -> Result<SourceAlert, FieldError> {
        let labels = self.labels.clone().unwrap_or_default();
        let annotations = self.annotations.clone().unwrap_or_default();
        let fingerprint = self
            .fingerprint
            .clone()
            .filter(|f| !f.trim().is_empty())
            .unwrap_or_else(|| label_fingerprint(&labels));
        let message_type = match self.status {
            AlertStatus::Firing => MessageType::Error,
            AlertStatus::Resolved => MessageType::Ok,
        };
        let title = first_present(&annotations, &["summary", "title"])
            .or_else(|| labels.get("alertname").filter(|t| !t.trim().is_empty()))
            .cloned()
            .unwrap_or_else(|| format!("{} alert {fingerprint}", envelope.source));
        let description =
            first_present(&annotations, &["description", "message"]).map_or("", String::as_str);
        let starts_at = self.starts_at.with_timezone(&Utc);
        // Firing alerts carry Go's zero time (0001-01-01) or a future expiry as their end: not an end yet.
        let ends_at = self
            .ends_at
            .map(|t| t.with_timezone(&Utc))
            .filter(|end| self.status == AlertStatus::Resolved && *end >= starts_at);
        let link = [
            self.generator_url.as_deref(),
            envelope.fallback_link.as_deref(),
        ]
        .into_iter()
        .flatten()
        .find(|url| is_web_url(url))
        .map(str::to_string);
        let tags: Vec<String> = labels
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .filter(|tag| tag.chars().count() <= MAX_TAG_CHARS)
            .take(MAX_TAGS)
            .collect();
        let idempotency_key = format!(
            "{}:{:x}",
            envelope.source,
            Sha256::digest(
                format!(
                    "{fingerprint}\n{}\n{}",
                    self.status.as_str(),
                    starts_at.to_rfc3339()
                )
                .as_bytes()
            )
        );
        let mut context = envelope.context.clone();
        context.insert("status".into(), json!(self.status.as_str()));
        context.insert("fingerprint".into(), json!(fingerprint));
        context.insert("labels".into(), json!(labels));
        context.insert("annotations".into(), json!(annotations));
        context.insert("startsAt".into(), json!(starts_at.to_rfc3339()));
        if let Some(end) = ends_at {
            context.insert("endsAt".into(), json!(end.to_rfc3339()));
        }
        let optional = [
            ("generatorURL", self.generator_url.map(Value::String)),
            ("silenceURL", self.silence_url.map(Value::String)),
            ("dashboardURL", self.dashboard_url.map(Value::String)),
            ("panelURL", self.panel_url.map(Value::String)),
            ("imageURL", self.image_url.map(Value::String)),
            ("values", self.values.map(Value::Object)),
            ("valueString", self.value_string.map(Value::String)),
        ];
        for (name, value) in optional {
            if let Some(value) = value.filter(|v| v.as_str() != Some("")) {
                context.insert(name.into(), value);
            }
        }
        // Through the API's own validation, so a source alert obeys exactly the rules of `POST /v1/alerts`.
        let ours = json!({
            "title": shortened(&title, MAX_TITLE_CHARS),
            "description": shortened(description, MAX_DESCRIPTION_CHARS),
            "severity": severity(labels.get("severity")).as_str(),
            "message_type": message_type.as_str(),
            "incident_key": fingerprint,
            "tags": tags,
            "context": context,
            "link": link,
            "source": envelope.source,
            "timeframe_start": starts_at.to_rfc3339(),
            "timeframe_end": ends_at.map(|t| t.to_rfc3339()),
        });
        let content = AlertContent::from_json(&ours).map_err(|e| {
            FieldError::new(
                e.kind,
                format!("alerts[{index}]"),
                format!("`alerts[{index}]` cannot be accepted: {}", e.message),
            )
        })?;
        Ok(SourceAlert {
            content,
            idempotency_key,
        })
    }
}

/// The value of the `severity` label as one of ours. The five names map to themselves; the names other
/// tools and rule sets commonly use map to the nearest; absent or unknown is `medium` (a firing alert is a
/// problem, so it is not demoted to `info`).
pub fn severity(label: Option<&String>) -> Severity {
    let Some(text) = label.map(|l| l.trim().to_ascii_lowercase()) else {
        return Severity::Medium;
    };
    if let Some(exact) = Severity::parse(&text) {
        return exact;
    }
    match text.as_str() {
        "page" | "emergency" | "fatal" | "disaster" | "p1" | "sev1" => Severity::Critical,
        "error" | "major" | "p2" | "sev2" => Severity::High,
        "warning" | "warn" | "average" | "p3" | "sev3" => Severity::Medium,
        "minor" | "p4" | "sev4" => Severity::Low,
        "informational" | "information" | "none" | "debug" | "p5" | "sev5" => Severity::Info,
        _ => Severity::Medium,
    }
}

fn first_present<'a>(map: &'a BTreeMap<String, String>, names: &[&str]) -> Option<&'a String> {
    names
        .iter()
        .filter_map(|name| map.get(*name))
        .find(|value| !value.trim().is_empty())
}

/// Stands in for the fingerprint when an older source sends none: a hash of the sorted label set, which is
/// what identifies an alert in Alertmanager too.
fn label_fingerprint(labels: &BTreeMap<String, String>) -> String {
    let digest = Sha256::digest(json!(labels).to_string().as_bytes());
    format!("{digest:x}").chars().take(16).collect()
}

fn is_web_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_labels_map_to_ours() {
        let of = |s: &str| severity(Some(&s.to_string()));
        assert_eq!(of("critical"), Severity::Critical);
        assert_eq!(of("Warning"), Severity::Medium);
        assert_eq!(of("page"), Severity::Critical);
        assert_eq!(of("minor"), Severity::Low);
        assert_eq!(of("none"), Severity::Info);
        assert_eq!(of("something-else"), Severity::Medium);
        assert_eq!(severity(None), Severity::Medium);
    }

    #[test]
    fn a_long_title_is_cut_to_the_limit() {
        let long = "é".repeat(1_500);
        let cut_text = shortened(&long, MAX_TITLE_CHARS);
        assert_eq!(cut_text.chars().count(), MAX_TITLE_CHARS);
        assert!(cut_text.ends_with('…'));
        assert_eq!(shortened("short", 10), "short");
    }
}
