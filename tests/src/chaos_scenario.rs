//! What a chaos run sends, the same on the embedded default and on AWS: three endpoints on the chaos
//! receiver (the second is routed only the alerts labelled `team="even"`, so routing is on and the others
//! get no delivery of it; the third takes only `high` and `critical` alerts, so some deliveries end
//! `filtered`), alerts whose severities cycle through all five, the receiver's settings, and the sizes and
//! seed read from the environment. A run may have the first endpoint fold a storm's errors into digests
//! ([`endpoint_folding`]) and hold the third's in a maintenance window ([`maintenance_window`]).

use std::time::Duration;

use serde_json::{Value, json};

use crate::chaos_receiver::{ChaosMix, ChaosReceiver, ChaosSettings};

/// The body template of the chaos endpoints: nothing random in it, so the chaos receiver's draws repeat
/// with the seed, and the attempt number so requests can be matched to recorded attempts.
pub const CHAOS_BODY: &str =
    r#"{"alert": "{{alert_title}}", "endpoint": "{{endpoint_name}}", "attempt": "{{attempt}}"}"#;

pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];
pub const ENDPOINTS: usize = 3;
/// The endpoint with a matcher: only even-numbered alerts are routed to it.
const ROUTED_ENDPOINT: usize = 1;
/// The last endpoint's minimum severity, as an index into [`SEVERITIES`].
const FILTERING_MIN_SEVERITY: usize = 3;
/// The seed when `CHAOS_SEED` is not set.
pub const DEFAULT_SEED: u64 = 20_261_123;

/// `name` from the environment as a number, or `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {text:?}")),
        Err(_) => default,
    }
}

/// `CHAOS_SEED`, or the default seed.
pub fn seed() -> u64 {
    env_number("CHAOS_SEED", DEFAULT_SEED)
}

/// The chaos receiver's settings for a sender with `http_timeout`: slow answers take twice as long,
/// 429s ask for one second.
pub fn receiver_settings(seed: u64, http_timeout: Duration) -> ChaosSettings {
    ChaosSettings {
        seed,
        mix: ChaosMix::STANDARD,
        slow: http_timeout * 2,
        retry_after_secs: 1,
    }
}

/// The body of endpoint `n` (0, 1, 2) to create.
pub fn endpoint(receiver: &ChaosReceiver, n: usize) -> Value {
    let mut body = json!({
        "name": format!("chaos-{n}"),
        "url": receiver.url(&format!("/chaos/{n}")),
        "body": CHAOS_BODY,
    });
    if n == ROUTED_ENDPOINT {
        body["matchers"] = json!(["team=\"even\""]);
    }
    if n == ENDPOINTS - 1 {
        body["min_severity"] = json!(SEVERITIES[FILTERING_MIN_SEVERITY]);
    }
    body
}

/// The body template of a chaos endpoint's digests: what the accounting reads of it (`folded`), and the
/// attempt number as in [`CHAOS_BODY`].
pub const CHAOS_DIGEST_BODY: &str = r#"{"alert": "digest", "endpoint": "{{endpoint_name}}", "attempt": "{{attempt}}", "folded": {{digest_count}}}"#;
/// The endpoint that folds errors into digests, in runs that have one.
const FOLDING_ENDPOINT: usize = 0;
/// How long its windows last, in seconds.
pub const DIGEST_WINDOW_SECONDS: u64 = 5;

/// The body of endpoint `n` as [`endpoint`] has it, the first one folding the errors past `after` of each
/// window into a digest.
pub fn endpoint_folding(receiver: &ChaosReceiver, n: usize, after: u32) -> Value {
    let mut body = endpoint(receiver, n);
    if n == FOLDING_ENDPOINT {
        body["digest"] = json!({"after": after, "window_seconds": DIGEST_WINDOW_SECONDS,
            "body": CHAOS_DIGEST_BODY});
    }
    body
}

/// A maintenance window over the last endpoint (`endpoint_id`) from now for `seconds`: its deliveries of
/// that time are held on the queue, then sent.
pub fn maintenance_window(endpoint_id: &str, seconds: i64) -> Value {
    let now = chrono::Utc::now();
    json!({
        "name": "chaos maintenance",
        "endpoint_id": endpoint_id,
        "start": (now - chrono::Duration::seconds(1)).to_rfc3339(),
        "end": (now + chrono::Duration::seconds(seconds)).to_rfc3339(),
    })
}

/// Alert number `i`.
pub fn alert(i: usize) -> Value {
    json!({
        "title": format!("chaos alert {i}"),
        "severity": SEVERITIES[i % SEVERITIES.len()],
        "tags": [if i.is_multiple_of(2) { "team=even" } else { "team=odd" }],
    })
}

/// Whether alert `i` is routed to endpoint `n` (gets a delivery there, sent or filtered).
pub fn routed(n: usize, i: usize) -> bool {
    n != ROUTED_ENDPOINT || i.is_multiple_of(2)
}

/// The endpoints alert `i` is routed to; a receipt must list exactly these.
pub fn routed_endpoints(i: usize) -> Vec<usize> {
    (0..ENDPOINTS).filter(|&n| routed(n, i)).collect()
}

/// Whether endpoint `n`'s rules filter alert `i` out.
pub fn filtered_by_rule(n: usize, i: usize) -> bool {
    n == ENDPOINTS - 1 && i % SEVERITIES.len() < FILTERING_MIN_SEVERITY
}
