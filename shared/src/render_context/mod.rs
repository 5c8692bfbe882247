//! The template variables: the values an alert and its delivery give them. The catalogue of names lives
//! in [`variables`] and [`uptrends`], the sample and hostile alerts used to test a template in [`samples`].

mod samples;
#[cfg(test)]
mod tests;
mod uptrends;
mod variables;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::alert::{Alert, MessageType, Severity, shortened};
use crate::digest::DigestFacts;
use crate::endpoint::captures::CapturedValues;
use crate::routing::labels::{BARE_TAG, Labels};

pub use samples::{
    hostile_context, hostile_digest_context, sample_alert, sample_context, sample_digest,
    sample_digest_context,
};
pub use uptrends::{Moment, TimeFormat, UPTRENDS_VARIABLES, UptrendsSource};
pub use variables::{
    DEFAULT_JSON_BODY, DIGEST_VARIABLES, SHORT_DESCRIPTION_CHARS, SHORT_TITLE_CHARS, VARIABLES,
    catalogue, digest_catalogue,
};

use uptrends::put_uptrends;

/// The delivery-specific values rendered next to the alert.
pub struct DeliveryFacts<'a> {
    pub delivery_id: &'a str,
    pub attempt: u32,
    pub endpoint_id: &'a str,
    pub endpoint_name: &'a str,
    pub verification_token: Option<&'a str>,
    /// The dead delivery this one stands in for, when it goes to a fallback endpoint.
    pub fallback_of: Option<&'a str>,
    /// What the endpoint captured from the answer to this incident's error (`captured.<name>`).
    pub captured: Option<&'a CapturedValues>,
    /// The window and folded alerts of a digest delivery (`digest_*`); none on any other.
    pub digest: Option<&'a DigestFacts>,
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
/// The alert's routing labels ([`crate::routing::labels`]) as an object, the first value of each name; bare
/// tags (the label `tag`) are left out, as `alert_tags` has them.
fn labels(alert: &Alert) -> Value {
    let mut labels = Map::new();
    for (name, value) in Labels::of(&alert.content).pairs() {
        if name != BARE_TAG && !labels.contains_key(name) {
            labels.insert(name.to_string(), json!(value));
        }
    }
    Value::Object(labels)
}

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
    put("alert_labels", labels(alert));
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
    put("dedup_key", json!(alert.dedup_key()));
    put(
        "verification_token",
        json!(facts.verification_token.unwrap_or("")),
    );
    put("delivery_id", json!(facts.delivery_id));
    put("attempt", json!(facts.attempt));
    put("endpoint_id", json!(facts.endpoint_id));
    put("endpoint_name", json!(facts.endpoint_name));
    put("fallback_of", json!(facts.fallback_of.unwrap_or("")));
    put(
        "captured",
        facts
            .captured
            .map_or_else(|| json!({}), |values| json!(values)),
    );
    if let Some(digest) = facts.digest {
        put_digest(&mut map, digest);
    }
    if names == Names::MustacheAndUptrends {
        put_uptrends(&mut map, alert);
    }
    Value::Object(map)
}

/// The `digest_*` variables of a digest delivery.
fn put_digest(map: &mut Map<String, Value>, digest: &DigestFacts) {
    let alerts: Vec<Value> = digest
        .members
        .listed
        .iter()
        .map(|member| {
            json!({
                "title": member.title,
                "title_short": shortened(&member.title, SHORT_TITLE_CHARS),
                "severity": member.severity.as_str(),
                "incident_key": member.incident_key.as_deref().unwrap_or(""),
                "link": member.link.as_deref().unwrap_or(""),
                "alert_id": member.alert_id,
                "delivery_id": member.delivery_id,
                "received_at": member.received_at.to_rfc3339(),
            })
        })
        .collect();
    let mut put = |name: &str, value: Value| {
        map.insert(name.to_string(), value);
    };
    put("digest_count", json!(digest.members.count));
    put("digest_listed", json!(alerts.len()));
    put(
        "digest_window_start",
        json!(digest.window.start.to_rfc3339()),
    );
    put("digest_window_end", json!(digest.window.end.to_rfc3339()));
    put("digest_alerts_json", Value::Array(alerts.clone()));
    put("digest_alerts", Value::Array(alerts));
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
