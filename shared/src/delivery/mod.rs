//! A delivery: one alert on its way to one endpoint, its status, and the record of every attempt.

pub mod decide;
pub mod pacing;
pub mod retry_policy;
pub mod stats;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{Alert, MessageType};
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};

/// Largest response body kept per attempt.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024;
/// Most response headers kept per attempt; later ones are dropped.
pub const MAX_RESPONSE_HEADERS: usize = 64;
/// Longest response header value kept, in bytes; a longer one is cut and ends in `…`.
pub const MAX_RESPONSE_HEADER_VALUE: usize = 1024;
/// Most bytes of response headers (names and values) kept per attempt; the headers past it are dropped.
/// With the body's 16 KiB this keeps an attempt's record far below DynamoDB's 400 KB item limit, whatever
/// a receiver answers (an HTTP client accepts some 400 KB of headers).
pub const MAX_RESPONSE_HEADER_BYTES: usize = 8 * 1024;

/// The response headers an attempt keeps of `headers` (name, raw value), in order: at most
/// [`MAX_RESPONSE_HEADERS`] of them and [`MAX_RESPONSE_HEADER_BYTES`] in all, each value cut to
/// [`MAX_RESPONSE_HEADER_VALUE`] bytes. Values that are not UTF-8 are read lossily.
pub fn kept_response_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Vec<(String, String)> {
    let mut kept = Vec::new();
    let mut room = MAX_RESPONSE_HEADER_BYTES;
    for (name, value) in headers.into_iter().take(MAX_RESPONSE_HEADERS) {
        // A few bytes past the limit, so that cutting can tell a long value from one of exactly the limit.
        let head = &value[..value.len().min(MAX_RESPONSE_HEADER_VALUE + 4)];
        let mut text = String::from_utf8_lossy(head).into_owned();
        if text.len() > MAX_RESPONSE_HEADER_VALUE || head.len() < value.len() {
            let mut cut = MAX_RESPONSE_HEADER_VALUE - '…'.len_utf8();
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        let size = name.len() + text.len();
        if size > room {
            break;
        }
        room -= size;
        kept.push((name.to_string(), text));
    }
    kept
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Queued or waiting for its next attempt.
    Pending,
    /// An attempt was answered 2XX.
    Delivered,
    /// Every attempt failed (or the endpoint answered 410 Gone): a dead letter that can be replayed.
    Dead,
    /// Never sent, by the endpoint's own rules (severity filter, message type switched off, disabled).
    Filtered,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
            Self::Filtered => "filtered",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead, Self::Filtered]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// No complete answer within the timeout.
    Timeout,
    /// The connection could not be made, or broke before an answer.
    Connect,
    Tls,
    /// A 3XX answer; redirects are never followed.
    Redirect,
    /// Any other answer outside 2XX.
    Non2xx,
    /// The address the host resolved to is not allowed by the target policy.
    Blocked,
    /// The body template could not be rendered (e.g. output over the size limit).
    Render,
    /// No OAuth2 token could be had: the status and body are the token endpoint's.
    Auth,
}

impl ErrorClass {
    /// The name used in the API and as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Redirect => "redirect",
            Self::Non2xx => "non2xx",
            Self::Blocked => "blocked",
            Self::Render => "render",
            Self::Auth => "auth",
        }
    }
}

/// One HTTP attempt and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    /// 1-based within its run.
    pub number: u32,
    /// 0 for the original run, n for the n-th manual resend or replay.
    pub run: u32,
    pub resend: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub status_code: Option<u16>,
    /// `[name, value]` pairs in the order received.
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub response_body_truncated: bool,
    pub error_class: Option<ErrorClass>,
    pub error: Option<String>,
}

impl Attempt {
    /// An attempt begun at `started_at` that has sent nothing and heard nothing yet: the sender fills in
    /// what comes back, the service its number.
    pub fn unsent(started_at: DateTime<Utc>) -> Self {
        Self {
            number: 0,
            run: 0,
            resend: false,
            started_at,
            duration_ms: 0,
            status_code: None,
            response_headers: Vec::new(),
            response_body: None,
            response_body_truncated: false,
            error_class: None,
            error: None,
        }
    }

    /// This attempt as number `number` of run `run`: a resend unless it is the original run.
    pub fn numbered(self, number: u32, run: u32) -> Self {
        Self {
            number,
            run,
            resend: run > 0,
            ..self
        }
    }

    /// The endpoint itself answered `410 Gone` (not a token endpoint, whose status an `auth` failure
    /// carries).
    pub fn is_gone(&self) -> bool {
        self.error_class == Some(ErrorClass::Non2xx) && self.status_code == Some(410)
    }

    pub fn succeeded(&self) -> bool {
        self.error_class.is_none() && self.status_code.is_some_and(|s| (200..300).contains(&s))
    }

    /// Passes every text the receiver or the network produced through `scrub`, so an endpoint that
    /// echoes its request (a secret header, a token in the URL) does not put a secret in a status.
    pub fn scrub(&mut self, scrub: impl Fn(&str) -> String) {
        for (_, value) in &mut self.response_headers {
            *value = scrub(value);
        }
        for text in [&mut self.response_body, &mut self.error]
            .into_iter()
            .flatten()
        {
            *text = scrub(text);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub tenant: TenantId,
    pub alert_id: AlertId,
    pub endpoint_id: EndpointId,
    pub message_type: MessageType,
    pub status: DeliveryStatus,
    /// Why it is filtered or dead, in words.
    pub status_reason: Option<String>,
    /// The current run: 0, then +1 for each manual resend. Queue messages of older runs are dropped.
    pub run: u32,
    pub attempts: Vec<Attempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The dead delivery this one stands in for, at its endpoint's fallback endpoint.
    #[serde(default)]
    pub fallback_of: Option<DeliveryId>,
    /// The delivery made to the fallback endpoint when this one went dead (the latest, if several runs
    /// died).
    #[serde(default)]
    pub fallback_delivery_id: Option<DeliveryId>,
    /// The digest delivery this one's alert was folded into (the delivery is `filtered`, reason `digest`).
    #[serde(default)]
    pub digest_delivery_id: Option<DeliveryId>,
}

impl Delivery {
    /// The number of the run's next attempt, given the one the queue counts for this task (its receives,
    /// plus the attempts carried over from messages it was re-sent from): that, or one past the highest
    /// attempt the run has recorded if that is higher. A duplicate of the run's task (SQS delivers at least
    /// once; a re-send for a hold can leave the original behind) made attempts this copy's count misses,
    /// and numbering from the record keeps the run's numbers distinct and its attempts within the limit.
    pub fn next_attempt_number(&self, queue_number: u32) -> u32 {
        let recorded = self
            .attempts
            .iter()
            .filter(|attempt| attempt.run == self.run)
            .map(|attempt| attempt.number)
            .max()
            .unwrap_or(0);
        queue_number.max(recorded + 1)
    }

    /// A new delivery `id` of `alert` to `endpoint_id`: pending, in its first run, with no attempt yet.
    pub fn pending(id: DeliveryId, alert: &Alert, endpoint_id: EndpointId) -> Delivery {
        Delivery {
            id,
            tenant: alert.tenant.clone(),
            alert_id: alert.id.clone(),
            endpoint_id,
            message_type: alert.content.message_type,
            status: DeliveryStatus::Pending,
            status_reason: None,
            run: 0,
            attempts: Vec::new(),
            next_attempt_at: None,
            created_at: alert.received_at,
            updated_at: alert.received_at,
            fallback_of: None,
            fallback_delivery_id: None,
            digest_delivery_id: None,
        }
    }

    pub fn is_final(&self) -> bool {
        self.status != DeliveryStatus::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_headers_are_kept_within_their_limits() {
        let short = kept_response_headers([("content-type", b"text/plain".as_slice())]);
        assert_eq!(
            short,
            [("content-type".to_string(), "text/plain".to_string())]
        );

        let exact = vec![b'a'; MAX_RESPONSE_HEADER_VALUE];
        let long = vec![b'a'; 600 * 1024];
        let kept = kept_response_headers([("x-exact", exact.as_slice()), ("x-long", &long)]);
        assert_eq!(
            kept[0].1.len(),
            MAX_RESPONSE_HEADER_VALUE,
            "a value of the limit is whole"
        );
        assert!(!kept[0].1.ends_with('…'));
        assert!(kept[1].1.len() <= MAX_RESPONSE_HEADER_VALUE && kept[1].1.ends_with('…'));

        // A multi-byte character across the cut is not split.
        let accents = "é".repeat(MAX_RESPONSE_HEADER_VALUE);
        let kept = kept_response_headers([("x-accents", accents.as_bytes())]);
        assert!(kept[0].1.len() <= MAX_RESPONSE_HEADER_VALUE && kept[0].1.ends_with("é…"));

        // Many large headers: the total stops them, in order.
        let names: Vec<String> = (0..600).map(|i| format!("x-{i}")).collect();
        let many = kept_response_headers(names.iter().map(|n| (n.as_str(), long.as_slice())));
        let total: usize = many.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(total <= MAX_RESPONSE_HEADER_BYTES, "{total}");
        assert_eq!(
            many.len(),
            MAX_RESPONSE_HEADER_BYTES / (MAX_RESPONSE_HEADER_VALUE + 3)
        );
        assert_eq!(many[0].0, "x-0");

        // Many small headers: the count stops them.
        let tiny = kept_response_headers(names.iter().map(|n| (n.as_str(), b"1".as_slice())));
        assert_eq!(tiny.len(), MAX_RESPONSE_HEADERS);
    }

    #[test]
    fn the_next_attempt_number_goes_past_what_the_run_has_recorded() {
        let at = Utc::now();
        let attempt = |number, run| Attempt::unsent(at).numbered(number, run);
        let mut delivery = Delivery {
            id: DeliveryId::from("msg_1"),
            tenant: TenantId("acme".into()),
            alert_id: AlertId("alt_1".into()),
            endpoint_id: EndpointId("ep_1".into()),
            message_type: MessageType::Error,
            status: DeliveryStatus::Pending,
            status_reason: None,
            run: 1,
            attempts: Vec::new(),
            next_attempt_at: None,
            created_at: at,
            updated_at: at,
            fallback_of: None,
            fallback_delivery_id: None,
            digest_delivery_id: None,
        };
        assert_eq!(delivery.next_attempt_number(1), 1, "nothing recorded yet");
        assert_eq!(
            delivery.next_attempt_number(3),
            3,
            "receives whose attempts were never recorded are counted"
        );

        // The first run's attempts do not count in the second.
        delivery.attempts = vec![attempt(1, 0), attempt(9, 0), attempt(1, 1), attempt(2, 1)];
        assert_eq!(delivery.next_attempt_number(3), 3);
        // A copy of the task re-sent for a hold, whose receives start again, goes on from the record.
        assert_eq!(delivery.next_attempt_number(1), 3);
    }

    #[test]
    fn error_class_names_are_the_ones_the_api_shows() {
        for class in [
            ErrorClass::Timeout,
            ErrorClass::Connect,
            ErrorClass::Tls,
            ErrorClass::Redirect,
            ErrorClass::Non2xx,
            ErrorClass::Blocked,
            ErrorClass::Render,
            ErrorClass::Auth,
        ] {
            assert_eq!(serde_json::to_value(class).unwrap(), class.as_str());
        }
    }
}
