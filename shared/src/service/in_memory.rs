//! A service over an in-memory embedded store, whose clock a test moves: for the use cases' unit tests.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Ports, Service};
use crate::clock::ManualClock;
use crate::delivery::retry_policy::{MAX_ATTEMPTS, RetryPolicy};
use crate::embedded::{Database, EmbeddedQueue, QueueSettings};
use crate::outbound::sender::HttpSender;
use crate::outbound::target_policy::{PortAllowance, TargetPolicy};

/// Monday 5 January 2026, 09:00 UTC: when the tests' clocks start.
pub(super) fn monday_morning() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// A service on its own in-memory store that may send to 127.0.0.1 on any port, retries after 5 s, and
/// reads the time from `clock`.
pub(super) fn service(clock: Arc<ManualClock>) -> Service {
    let database = Database::in_memory().unwrap();
    let queue = EmbeddedQueue::new(
        database.clone(),
        QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_receives: MAX_ATTEMPTS,
        },
    );
    let ports = Ports {
        keys: Arc::new(database.clone()),
        endpoints: Arc::new(database.clone()),
        alerts: Arc::new(database.clone()),
        deliveries: Arc::new(database),
        queue: Arc::new(queue),
    };
    let policy = TargetPolicy::strict()
        .with_allowed_networks(TargetPolicy::parse_networks("127.0.0.1").unwrap())
        .with_allowed_ports(PortAllowance::Any);
    let sender = HttpSender::new(Arc::new(policy), Duration::from_secs(5)).unwrap();
    Service::new(ports, sender, RetryPolicy::parse("5s").unwrap()).with_clock(clock)
}
