//! What a chaos run sends, the same on the embedded default and on AWS: three endpoints on the chaos
//! receiver (the second is routed only the alerts labelled `team="even"`, so routing is on and the others
//! get no delivery of it; the third takes only `high` and `critical` alerts, so some deliveries end
//! `filtered`), alerts whose severities cycle through all five, the receiver's settings, and the sizes and
//! seed read from the environment.

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
