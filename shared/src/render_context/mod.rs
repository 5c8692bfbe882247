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
use crate::template::Template;

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
#[derive(Debug, Clone, Copy)]
pub enum Names<'t> {
    /// The Mustache names only: enough for templates that use no `@` name.
    Mustache,
    /// The Mustache and the Uptrends names.
    MustacheAndUptrends,
    /// What these templates may look up ([`Template::may_look_up`]): an attempt builds only the variables
    /// its templates render. Every name if any of them uses an Uptrends name, as many of those copy a
    /// Mustache one.
    UsedBy(&'t [&'t Template]),
}

impl Names<'_> {
    /// Whether the context holds the Mustache variable `name`.
    fn hold(&self, name: &str) -> bool {
        match self {
            Names::Mustache | Names::MustacheAndUptrends => true,
            Names::UsedBy(templates) => templates.iter().any(|t| t.may_look_up(name)),
        }
    }

    /// Whether the context holds the Uptrends names.
    fn hold_uptrends(&self) -> bool {
        matches!(self, Names::MustacheAndUptrends)
    }

    /// The same names, with templates that use an Uptrends name given every name, once for the whole
    /// context: many Uptrends names copy a Mustache one.
    fn settled(self) -> Self {
        match self {
            Names::UsedBy(templates) if templates.iter().any(|t| t.uses_at_names()) => {
                Names::MustacheAndUptrends
            }
            names => names,
        }
    }
}

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

/// The template context for one attempt of one delivery, with every name (see [`context_with`]).
pub fn context(alert: &Alert, facts: &DeliveryFacts<'_>) -> Value {
    context_with(alert, facts, Names::MustacheAndUptrends)
}

/// A context being built: a variable's value is worked out only if the context holds its name.
struct Variables<'t> {
    map: Map<String, Value>,
    names: Names<'t>,
}

impl Variables<'_> {
    fn put(&mut self, name: &str, value: impl FnOnce() -> Value) {
        if self.names.hold(name) {
            self.map.insert(name.to_string(), value());
        }
    }
}

/// The template context for one attempt of one delivery, with the names `names` asks for: templates
/// that use few of them do not pay for building the others.
pub fn context_with(alert: &Alert, facts: &DeliveryFacts<'_>, names: Names) -> Value {
    let names = names.settled();
    let time = |t: Option<DateTime<Utc>>| t.map(|t| json!(t.to_rfc3339())).unwrap_or(json!(""));
    let millis =
        |t: Option<DateTime<Utc>>| t.map(|t| json!(t.timestamp_millis())).unwrap_or(json!(""));
    let samples = || Value::Array(alert.content.samples.clone());
    let tags = || json!(alert.content.tags);
    let context = || Value::Object(alert.content.context.clone());
    let text = |t: &Option<String>| json!(t.as_deref().unwrap_or(""));
    let capacity = match names {
        Names::Mustache => VARIABLES.len(),
        Names::MustacheAndUptrends => VARIABLES.len() + UPTRENDS_VARIABLES.len(),
        Names::UsedBy(_) => 0,
    };
    let mut v = Variables {
        map: Map::with_capacity(capacity),
        names,
    };
    let content = &alert.content;
    v.put("alert_title", || json!(content.title));
    v.put("alert_title_short", || {
        json!(shortened(&content.title, SHORT_TITLE_CHARS))
    });
    v.put("alert_description", || json!(content.description));
    v.put("alert_description_short", || {
        json!(shortened(&content.description, SHORT_DESCRIPTION_CHARS))
    });
    v.put("alert_severity", || json!(content.severity.as_str()));
    for severity in Severity::ALL {
        v.put(&format!("is_{}", severity.as_str()), || {
            json!(content.severity == severity)
        });
    }
    v.put("alert_event_id", || json!(alert.id));
    v.put("alert_definition_id", || text(&content.incident_key));
    v.put("alert_samples", samples);
    v.put("alert_samples_json", samples);
    v.put("alert_tags", tags);
    v.put("alert_tags_json", tags);
    v.put("alert_timeframe_start", || time(content.timeframe_start));
    v.put("alert_timeframe_end", || time(content.timeframe_end));
    v.put("alert_timeframe_start_epoch_millis", || {
        millis(content.timeframe_start)
    });
    v.put("alert_timeframe_end_epoch_millis", || {
        millis(content.timeframe_end)
    });
    v.put("alert_app_url", || text(&content.link));
    v.put("alert_event_html", || json!(samples_html(&content.samples)));
    v.put("alert_event_image", || json!(""));
    v.put("alert_severity_img", || {
        json!(content.severity.as_str().to_ascii_uppercase())
    });
    v.put("account_id", || json!(alert.tenant));
    v.put("account_name", || json!(alert.tenant));
    v.put("alert_source", || text(&content.source));
    v.put("alert_received_at", || {
        json!(alert.received_at.to_rfc3339())
    });
    v.put("alert_context", context);
    v.put("alert_context_json", context);
    v.put("alert_labels", || labels(alert));
    v.put("message_type", || json!(content.message_type.as_str()));
    v.put("is_error", || {
        json!(content.message_type == MessageType::Error)
    });
    v.put("is_reminder", || {
        json!(content.message_type == MessageType::Reminder)
    });
    v.put("is_ok", || json!(content.message_type == MessageType::Ok));
    v.put("incident_key", || text(&content.incident_key));
    v.put("dedup_key", || json!(alert.dedup_key()));
    v.put("verification_token", || {
        json!(facts.verification_token.unwrap_or(""))
    });
    v.put("delivery_id", || json!(facts.delivery_id));
    v.put("attempt", || json!(facts.attempt));
    v.put("endpoint_id", || json!(facts.endpoint_id));
    v.put("endpoint_name", || json!(facts.endpoint_name));
    v.put("fallback_of", || json!(facts.fallback_of.unwrap_or("")));
    v.put("captured", || {
        facts
            .captured
            .map_or_else(|| json!({}), |values| json!(values))
    });
    let mut map = v.map;
    if let Some(digest) = facts.digest {
        put_digest(&mut map, digest);
    }
    if names.hold_uptrends() {
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
