//! Digests during storms: an endpoint that opts in (`"digest": {"after": 20, "window_seconds": 60}`)
//! gets its first `after` errors of a window one by one; the further errors of that window are folded
//! into one digest delivery, sent when the window ends and rendered with the endpoint's digest template
//! (`digest_count`, `digest_alerts`, ...). `ok` and `reminder` messages are never folded.
//!
//! A window opens with the first error that reaches the endpoint when none is open, and lasts
//! `window_seconds`. This module holds the policy, its validation, the window and what a digest lists;
//! counting errors per window is the store's ([`crate::ports::store::DigestStore`]), folding and sending
//! the service's.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::alert::{Alert, Severity};
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::input_error::{FieldError, ObjectReader};

/// The fewest and most errors an endpoint may get one by one in a window before folding.
pub const AFTER_RANGE: (u32, u32) = (1, 10_000);
/// The shortest and longest window, in seconds.
pub const WINDOW_SECONDS_RANGE: (u32, u32) = (5, 24 * 3600);
/// The longest digest template, in characters.
const MAX_BODY: usize = 64 * 1024;
/// The most folded alerts a digest lists in `digest_alerts` (`digest_count` counts them all).
pub const LISTED_ALERTS: usize = 100;
/// How long after its window's end a digest is sent: an alert folded in the window's last moment has
/// been written by then. An ingest request ends within API Gateway's 29 seconds on AWS (the api
/// function's timeout is shorter), and its write with it.
pub const SEND_GRACE: Duration = Duration::seconds(30);
/// The `source` of the alert a digest delivery is made for.
pub const DIGEST_SOURCE: &str = "alertwire.digest";
/// The `status_reason` of a folded alert's delivery.
pub const FOLDED_REASON: &str = "digest";

/// The body a digest renders when the endpoint gives no template of its own.
pub const DEFAULT_DIGEST_BODY: &str = r#"{
  "digest": true,
  "count": {{digest_count}},
  "window_start": "{{digest_window_start}}",
  "window_end": "{{digest_window_end}}",
  "endpoint": "{{endpoint_name}}",
  "alerts": {{digest_alerts_json}}
}"#;

/// An endpoint's digest: how many errors a window sends one by one, how long a window lasts, and the
/// template of the digest (sent with the method, URL and headers of the endpoint's `error` messages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DigestPolicy {
    /// How many errors a window sends one by one.
    pub after: u32,
    /// How long a window lasts, from its first error.
    pub window_seconds: u32,
    /// The digest's template.
    pub body: String,
}

impl DigestPolicy {
    /// Reads the endpoint's `digest` field; `None` when absent or `null`. Without a `body`, the digest
    /// renders [`DEFAULT_DIGEST_BODY`] (a preset gives its own: [`crate::endpoint::presets`]).
    pub fn from_json(value: Option<&Value>) -> Result<Option<DigestPolicy>, FieldError> {
        let Some(value) = value else {
            return Ok(None);
        };
        let reader = ObjectReader::new("digest", value, &["after", "window_seconds", "body"])?;
        let required = |name: &str, range: (u32, u32)| {
            reader
                .whole_number_in(name, range.0, range.1)?
                .ok_or_else(|| FieldError::missing(reader.path(name)))
        };
        Ok(Some(DigestPolicy {
            after: required("after", AFTER_RANGE)?,
            window_seconds: required("window_seconds", WINDOW_SECONDS_RANGE)?,
            body: match reader.string("body", MAX_BODY)? {
                Some(body) => body.to_string(),
                None => DEFAULT_DIGEST_BODY.to_string(),
            },
        }))
    }

    pub fn window(&self) -> Duration {
        Duration::seconds(i64::from(self.window_seconds))
    }

    /// Whether the `count`th error of a window is folded rather than sent by itself.
    pub fn folds(&self, count: u64) -> bool {
        count > u64::from(self.after)
    }
}

/// A window of errors to one endpoint, as the store counted it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub started_at: DateTime<Utc>,
    /// When the store stops counting in it (its length when it began; a policy changed since does not
    /// move it).
    pub ends_at: DateTime<Utc>,
    /// The errors counted in the window so far, this one included.
    pub count: u64,
}

impl WindowCount {
    /// The digest of this window of `endpoint_id`.
    pub fn digest(&self, tenant: &TenantId, endpoint_id: &EndpointId) -> DigestWindow {
        DigestWindow {
            digest_id: digest_delivery_id(tenant, endpoint_id, self.started_at),
            start: self.started_at,
            end: self.ends_at,
        }
    }
}

/// The digest an alert of alertwire's own stands for: the digest delivery its folded alerts link to, and
/// the window it covers. A delivery of that alert to a fallback endpoint lists the same alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestWindow {
    pub digest_id: DeliveryId,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl DigestWindow {
    /// When the digest is sent: the window's end, and a moment more.
    pub fn send_at(&self) -> DateTime<Utc> {
        self.end + SEND_GRACE
    }
}

/// The id of the digest delivery of the window of `endpoint_id` that started at `started_at`: the same
/// wherever it is worked out, so every folded alert of the window links to it and it is made once. Like a
/// generated id (UUID v7) it begins with the time in milliseconds, so it sorts among the deliveries of
/// its window; the rest is a hash of the tenant, the endpoint and that time.
pub fn digest_delivery_id(
    tenant: &TenantId,
    endpoint_id: &EndpointId,
    started_at: DateTime<Utc>,
) -> DeliveryId {
    let mut hash = Sha256::new();
    for part in [tenant.as_str(), endpoint_id.as_str()] {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hash.update(started_at.timestamp_millis().to_be_bytes());
    let hex = format!("{:x}", hash.finalize());
    let millis = started_at.timestamp_millis().clamp(0, 0xffff_ffff_ffff);
    DeliveryId(format!("msg_{millis:012x}{}", &hex[..20]))
}

/// What a digest lists of one folded alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestMember {
    pub alert_id: AlertId,
    pub delivery_id: DeliveryId,
    pub title: String,
    pub severity: Severity,
    pub incident_key: Option<String>,
    pub link: Option<String>,
    pub received_at: DateTime<Utc>,
}

impl DigestMember {
    pub fn of(alert: &Alert, delivery_id: &DeliveryId) -> Self {
        Self {
            alert_id: alert.id.clone(),
            delivery_id: delivery_id.clone(),
            title: alert.content.title.clone(),
            severity: alert.content.severity,
            incident_key: alert.content.incident_key.clone(),
            link: alert.content.link.clone(),
            received_at: alert.received_at,
        }
    }
}

/// The alerts folded into one digest: how many, and the first [`LISTED_ALERTS`] of them, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestMembers {
    pub count: u64,
    pub listed: Vec<DigestMember>,
}

/// What a digest delivery renders beside its alert (`digest_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFacts {
    pub window: DigestWindow,
    pub members: DigestMembers,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_digest_needs_after_and_a_window_in_range() {
        let read = |v: Value| DigestPolicy::from_json(Some(&v));
        let policy = read(json!({"after": 20, "window_seconds": 60}))
            .unwrap()
            .unwrap();
        assert_eq!((policy.after, policy.window_seconds), (20, 60));
        assert_eq!(policy.body, DEFAULT_DIGEST_BODY);
        assert!(!policy.folds(20) && policy.folds(21));
        assert_eq!(
            read(json!({"window_seconds": 60})).unwrap_err().field,
            "digest.after"
        );
        assert_eq!(
            read(json!({"after": 20, "window_seconds": 1}))
                .unwrap_err()
                .field,
            "digest.window_seconds"
        );
        assert_eq!(
            read(json!({"after": 0, "window_seconds": 60}))
                .unwrap_err()
                .field,
            "digest.after"
        );
        assert_eq!(
            read(json!({"after": 2, "window_seconds": 60, "every": 1}))
                .unwrap_err()
                .field,
            "digest.every"
        );
        assert_eq!(
            read(json!({"after": 2, "window_seconds": 60, "body": 3}))
                .unwrap_err()
                .field,
            "digest.body"
        );
        assert_eq!(DigestPolicy::from_json(None).unwrap(), None);
        let own = json!({"after": 1, "window_seconds": 5, "body": "own"});
        assert_eq!(read(own).unwrap().unwrap().body, "own");
    }

    #[test]
    fn each_window_of_each_endpoint_has_its_own_digest_id() {
        let t = TenantId::from("tn_a");
        let (a, b) = (EndpointId::from("ep_a"), EndpointId::from("ep_b"));
        let start = Utc::now();
        let id = digest_delivery_id(&t, &a, start);
        assert_eq!(id, digest_delivery_id(&t, &a, start));
        assert_ne!(id, digest_delivery_id(&t, &b, start));
        assert_ne!(
            id,
            digest_delivery_id(&t, &a, start + Duration::milliseconds(1))
        );
        assert!(id.as_str().starts_with("msg_") && id.as_str().len() == 36);
        // Sorted among the ids generated at the window's start.
        let before = DeliveryId::generate();
        let later = digest_delivery_id(&t, &a, Utc::now() + Duration::seconds(1));
        assert!(
            before < later && later < digest_delivery_id(&t, &a, Utc::now() + Duration::days(1))
        );
    }
}
