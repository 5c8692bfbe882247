//! Endpoint health: the failure streak kept per endpoint, and the rule that switches off an endpoint that
//! answers `410 Gone` or has failed every attempt for too long, so a dead receiver stops costing attempts.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How an endpoint's recent attempts went. The store writes it only when it changes: on a failure, and on
/// the first success after failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointHealth {
    /// Failed attempts since the last success.
    pub failure_streak: u32,
    /// When the first of those failures happened.
    pub failing_since: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
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

impl HealthPolicy {
    /// Parses `ALERTWIRE_DISABLE_AFTER`, e.g. `5d`, `12h`, `2s`.
    pub fn parse(text: &str) -> Result<Self, PeriodError> {
        crate::delivery::retry_policy::parse_duration(text.trim())
            .filter(|d| !d.is_zero())
            .map(|disable_after| Self { disable_after })
            .ok_or_else(|| PeriodError(text.to_string()))
    }

    /// Why the endpoint should be disabled after a failed attempt that answered `status_code` (if any),
    /// given its health with that failure counted; `None` to keep it enabled.
    pub fn verdict(
        &self,
        health: &EndpointHealth,
        status_code: Option<u16>,
        now: DateTime<Utc>,
    ) -> Option<String> {
        if status_code == Some(410) {
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
        }
    }

    #[test]
    fn gone_disables_at_once() {
        let now = now();
        let verdict = HealthPolicy::default().verdict(&EndpointHealth::default(), Some(410), now);
        assert!(verdict.unwrap().contains("410 Gone"));
    }

    #[test]
    fn failures_disable_only_after_the_period() {
        let now = now();
        let policy = HealthPolicy::default();
        assert_eq!(
            policy.verdict(&failing(5 * 86_400 - 60, now), Some(500), now),
            None
        );
        let verdict = policy.verdict(&failing(5 * 86_400, now), Some(500), now);
        assert!(verdict.unwrap().contains("7 failures in a row"));
        assert_eq!(
            policy.verdict(&EndpointHealth::default(), None, now),
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
