//! Endpoint health: the failure streak kept per endpoint, and the rule that switches off an endpoint that
//! answers `410 Gone` or has failed every attempt for too long, so a dead receiver stops costing attempts.
//! The same record carries the circuit breaker's state ([`super::circuit`]) and a slowdown asked for by a
//! `429` with `Retry-After`.

use std::time::Duration;

use super::circuit::OpenCircuit;
use chrono::{DateTime, Utc};

/// How an endpoint's recent attempts went. The store writes it only when it changes: on a failure, and on
/// the first success after failures (which clears it all).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointHealth {
    /// Failed attempts since the last success.
    pub failure_streak: u32,
    /// When the first of those failures happened.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// Outage failures (see [`super::circuit::CircuitPolicy::is_outage`]) in a row; any answer that is not
    /// a 5XX ends the run.
    pub outage_streak: u32,
    /// The last failure, in words (scrubbed of secrets like every attempt's error).
    pub last_error: Option<String>,
    /// No attempt before this time: the endpoint answered `429` with `Retry-After`.
    pub slowed_until: Option<DateTime<Utc>>,
    /// The circuit, when open.
    pub circuit: Option<OpenCircuit>,
}

/// A failed attempt, as the store notes it in the endpoint's health.
#[derive(Debug, Clone, Copy)]
pub struct FailureNote<'a> {
    pub at: DateTime<Utc>,
    /// Counts toward opening the circuit; any other failure ends the outage run and closes the circuit.
    pub outage: bool,
    pub error: &'a str,
    /// The endpoint asked for no attempt before this time.
    pub slowed_until: Option<DateTime<Utc>>,
}

/// When to disable an endpoint by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: Duration,
}

impl Default for HealthPolicy {
    /// Five days: long enough for a weekend outage plus a slow Monday, short enough to stop the waste.
    fn default() -> Self {
        Self {
            disable_after: Duration::from_secs(5 * 86_400),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid period `{0}`: use a duration such as `5d`, `12h` or `30s`")]
pub struct PeriodError(String);

impl PeriodError {
    pub fn new(text: &str) -> Self {
        Self(text.to_string())
    }
}

impl HealthPolicy {
    /// Parses `ALERTWIRE_DISABLE_AFTER`, e.g. `5d`, `12h`, `2s`.
    pub fn parse(text: &str) -> Result<Self, PeriodError> {
        crate::delivery::retry_policy::parse_duration(text.trim())
            .filter(|d| !d.is_zero())
            .map(|disable_after| Self { disable_after })
            .ok_or_else(|| PeriodError(text.to_string()))
    }

    /// Why the endpoint should be disabled after a failed attempt (`gone`: it answered `410 Gone`), given
    /// its health with that failure counted; `None` to keep it enabled.
    pub fn verdict(
        &self,
        health: &EndpointHealth,
        gone: bool,
        now: DateTime<Utc>,
    ) -> Option<String> {
        if gone {
            return Some(format!(
                "the endpoint answered 410 Gone at {}",
                now.to_rfc3339()
            ));
        }
        let since = health.failing_since?;
        let failing_for = (now - since).to_std().unwrap_or_default();
        (failing_for >= self.disable_after).then(|| {
            format!(
                "every attempt failed since {} ({} failures in a row)",
                since.to_rfc3339(),
                health.failure_streak
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed time: the rule reads no clock.
    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn failing(for_secs: i64, now: DateTime<Utc>) -> EndpointHealth {
        EndpointHealth {
            failure_streak: 7,
            failing_since: Some(now - chrono::Duration::seconds(for_secs)),
            last_failure_at: Some(now),
            ..EndpointHealth::default()
        }
    }

    #[test]
    fn gone_disables_at_once() {
        let now = now();
        let verdict = HealthPolicy::default().verdict(&EndpointHealth::default(), true, now);
        assert!(verdict.unwrap().contains("410 Gone"));
    }

    #[test]
    fn failures_disable_only_after_the_period() {
        let now = now();
        let policy = HealthPolicy::default();
        assert_eq!(
            policy.verdict(&failing(5 * 86_400 - 60, now), false, now),
            None
        );
        let verdict = policy.verdict(&failing(5 * 86_400, now), false, now);
        assert!(verdict.unwrap().contains("7 failures in a row"));
        assert_eq!(
            policy.verdict(&EndpointHealth::default(), false, now),
            None,
            "no streak, nothing to judge"
        );
    }

    #[test]
    fn periods_parse_in_days_and_seconds() {
        assert_eq!(
            HealthPolicy::parse("5d").unwrap().disable_after,
            Duration::from_secs(432_000)
        );
        assert_eq!(
            HealthPolicy::parse("2s").unwrap().disable_after,
            Duration::from_secs(2)
        );
        assert!(HealthPolicy::parse("0s").is_err());
        assert!(HealthPolicy::parse("soon").is_err());
    }
}
