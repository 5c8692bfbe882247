//! The circuit breaker of an endpoint: after enough consecutive outage failures (no connection, no answer
//! in time, a 5XX) the circuit opens, and the endpoint's deliveries wait without spending attempts; after a
//! cool-down that grows with every failed probe, one probe attempt is let through, and its success closes
//! the circuit. Pure rules over the state the store keeps in [`EndpointHealth`]; no clock, no I/O.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::health::{EndpointHealth, PeriodError};
use crate::delivery::retry_policy::parse_duration;
use crate::delivery::{Attempt, ErrorClass};

/// An open circuit, as the store keeps it. A closed circuit has none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenCircuit {
    pub opened_at: DateTime<Utc>,
    /// When the next probe may be sent; while a probe is in flight, when it is given up as lost.
    pub probe_at: DateTime<Utc>,
    /// A probe was claimed and its outcome is not recorded yet.
    pub probing: bool,
}

/// The state shown in the API, `/metrics` and the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Attempts go through.
    Closed,
    /// Deliveries wait; a probe goes at `probe_at`.
    Open,
    /// One probe attempt is in flight.
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// When circuits open, how long they stay open, and how long a delivery may wait for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitPolicy {
    /// Consecutive outage failures that open the circuit.
    pub failures: u32,
    /// The first cool-down; it doubles with every failed probe.
    pub cooldown: Duration,
    /// The longest cool-down.
    pub max_cooldown: Duration,
    /// A delivery that waits for an open circuit longer than this goes dead (`circuit_open`).
    pub hold_limit: Duration,
}

/// The longest cool-down, in first cool-downs.
pub const MAX_COOLDOWN_FACTOR: u32 = 60;

impl Default for CircuitPolicy {
    /// Five failures in a row; 10 s doubling to 10 min between probes; a day of waiting at most.
    fn default() -> Self {
        Self {
            failures: 5,
            cooldown: Duration::from_secs(10),
            max_cooldown: Duration::from_secs(600),
            hold_limit: Duration::from_secs(86_400),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid circuit breaker failure count `{0}`: use a whole number from 1 to 1000")]
pub struct FailureCountError(String);

/// What to do with a delivery to this endpoint now, as far as the circuit is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitAdmission {
    /// Closed: send.
    Send,
    /// The cool-down is over: claim the probe (one sender wins), then send it.
    Probe { seen_probe_at: DateTime<Utc> },
    /// Open, or a probe is in flight: wait this long.
    Wait(Duration),
}

impl CircuitPolicy {
    /// Parses `ALERTWIRE_BREAKER_FAILURES`.
    pub fn with_failures(self, text: &str) -> Result<Self, FailureCountError> {
        match text.trim().parse::<u32>() {
            Ok(failures @ 1..=1000) => Ok(Self { failures, ..self }),
            _ => Err(FailureCountError(text.to_string())),
        }
    }

    /// Parses `ALERTWIRE_BREAKER_COOLDOWN`, e.g. `10s`, `1m`: the first cool-down, and
    /// [`MAX_COOLDOWN_FACTOR`] times it the longest (10 s and 10 min by default).
    pub fn with_cooldown(self, text: &str) -> Result<Self, PeriodError> {
        let cooldown = positive_period(text)?;
        Ok(Self {
            cooldown,
            max_cooldown: cooldown.saturating_mul(MAX_COOLDOWN_FACTOR),
            ..self
        })
    }

    /// Parses `ALERTWIRE_BREAKER_HOLD_LIMIT`, e.g. `24h`.
    pub fn with_hold_limit(self, text: &str) -> Result<Self, PeriodError> {
        Ok(Self {
            hold_limit: positive_period(text)?,
            ..self
        })
    }

    /// Whether a failed attempt counts toward opening the circuit: the endpoint could not be reached, did
    /// not answer in time, or answered 5XX; or its OAuth2 token endpoint could not be reached or answered
    /// 5XX, as no delivery can pass then either. A 4XX is an answer: the endpoint is up.
    pub fn is_outage(attempt: &Attempt) -> bool {
        match attempt.error_class {
            Some(ErrorClass::Timeout | ErrorClass::Connect | ErrorClass::Tls) => true,
            Some(ErrorClass::Non2xx) => attempt.status_code.is_some_and(|s| s >= 500),
            Some(ErrorClass::Auth) => attempt.status_code.is_none_or(|s| s >= 500),
            _ => false,
        }
    }

    /// The circuit to store after an outage failure at `at`, given the health with that failure counted:
    /// opened once the streak reaches the threshold; after a failed probe, kept open for a longer
    /// cool-down (twice the time it has been open, within the bounds). `None` when nothing changes: still
    /// closed, or an attempt that was already in flight when the circuit opened.
    pub fn after_outage(
        &self,
        health: &EndpointHealth,
        at: DateTime<Utc>,
        was_probe: bool,
    ) -> Option<OpenCircuit> {
        let cooldown = match &health.circuit {
            None if health.outage_streak >= self.failures => self.cooldown,
            None => return None,
            Some(open) if was_probe => (at - open.opened_at)
                .to_std()
                .unwrap_or_default()
                .saturating_mul(2)
                .clamp(self.cooldown, self.max_cooldown),
            Some(_) => return None,
        };
        Some(OpenCircuit {
            opened_at: health.circuit.as_ref().map_or(at, |c| c.opened_at),
            probe_at: at + chrono::Duration::from_std(cooldown).unwrap_or(chrono::Duration::MAX),
            probing: false,
        })
    }

    /// Whether a delivery may be sent now, as far as the circuit is concerned.
    pub fn admission(&self, health: &EndpointHealth, now: DateTime<Utc>) -> CircuitAdmission {
        let Some(circuit) = &health.circuit else {
            return CircuitAdmission::Send;
        };
        match (circuit.probe_at - now).to_std() {
            Ok(wait) if !wait.is_zero() => CircuitAdmission::Wait(wait),
            _ => CircuitAdmission::Probe {
                seen_probe_at: circuit.probe_at,
            },
        }
    }

    /// Whether a delivery of `created_at` has waited for the open circuit longer than the limit: since the
    /// circuit opened, or since the delivery was created if that was later.
    pub fn held_too_long(
        &self,
        health: &EndpointHealth,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        let Some(circuit) = &health.circuit else {
            return false;
        };
        let waiting_since = circuit.opened_at.max(created_at);
        (now - waiting_since)
            .to_std()
            .is_ok_and(|waited| waited >= self.hold_limit)
    }
}

/// The state of an endpoint's circuit.
pub fn state(health: &EndpointHealth) -> CircuitState {
    match &health.circuit {
        None => CircuitState::Closed,
        Some(c) if c.probing => CircuitState::HalfOpen,
        Some(_) => CircuitState::Open,
    }
}

fn positive_period(text: &str) -> Result<Duration, PeriodError> {
    parse_duration(text.trim())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| PeriodError::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + secs, 0).unwrap()
    }

    fn failing(outage_streak: u32, circuit: Option<OpenCircuit>) -> EndpointHealth {
        EndpointHealth {
            failure_streak: outage_streak,
            outage_streak,
            circuit,
            ..EndpointHealth::default()
        }
    }

    fn attempt(error_class: Option<ErrorClass>, status: Option<u16>) -> Attempt {
        Attempt {
            error_class,
            status_code: status,
            ..Attempt::unsent(at(0))
        }
    }

    #[test]
    fn outages_are_no_answer_or_a_server_error() {
        assert!(CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Timeout),
            None
        )));
        assert!(CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Connect),
            None
        )));
        assert!(CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Non2xx),
            Some(503)
        )));
        assert!(!CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Non2xx),
            Some(429)
        )));
        assert!(!CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Non2xx),
            Some(404)
        )));
        assert!(!CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Render),
            None
        )));
        // The token endpoint down or unreachable holds deliveries like the endpoint down; its refusal of
        // the credentials is an answer.
        assert!(CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Auth),
            Some(502)
        )));
        assert!(CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Auth),
            None
        )));
        assert!(!CircuitPolicy::is_outage(&attempt(
            Some(ErrorClass::Auth),
            Some(401)
        )));
    }

    #[test]
    fn the_circuit_opens_at_the_threshold_and_cools_down_longer_after_each_failed_probe() {
        let policy = CircuitPolicy::default();
        assert_eq!(policy.after_outage(&failing(4, None), at(0), false), None);
        let opened = policy
            .after_outage(&failing(5, None), at(0), false)
            .unwrap();
        assert_eq!((opened.opened_at, opened.probe_at), (at(0), at(10)));
        assert_eq!(
            policy.after_outage(&failing(6, Some(opened.clone())), at(1), false),
            None,
            "an attempt in flight when it opened changes nothing"
        );
        let reopened = policy
            .after_outage(&failing(6, Some(opened.clone())), at(10), true)
            .unwrap();
        assert_eq!(
            (reopened.opened_at, reopened.probe_at),
            (at(0), at(10 + 20)),
            "opened when it first opened; the next cool-down twice the time open"
        );
        let capped = policy
            .after_outage(&failing(40, Some(opened)), at(3_000), true)
            .unwrap();
        assert_eq!(capped.probe_at, at(3_000 + 600));
    }

    #[test]
    fn an_open_circuit_lets_one_probe_through_after_the_cooldown() {
        let policy = CircuitPolicy::default();
        assert_eq!(
            policy.admission(&EndpointHealth::default(), at(0)),
            CircuitAdmission::Send
        );
        let open = failing(
            5,
            Some(OpenCircuit {
                opened_at: at(0),
                probe_at: at(10),
                probing: false,
            }),
        );
        assert_eq!(
            policy.admission(&open, at(4)),
            CircuitAdmission::Wait(Duration::from_secs(6))
        );
        assert_eq!(
            policy.admission(&open, at(10)),
            CircuitAdmission::Probe {
                seen_probe_at: at(10)
            }
        );
        assert_eq!(state(&open), CircuitState::Open);
    }

    #[test]
    fn deliveries_wait_at_most_the_hold_limit_counted_from_when_they_started_waiting() {
        let policy = CircuitPolicy::default();
        let open = failing(
            5,
            Some(OpenCircuit {
                opened_at: at(0),
                probe_at: at(10),
                probing: false,
            }),
        );
        let day = 86_400;
        assert!(!policy.held_too_long(&open, at(-50), at(day - 1)));
        assert!(policy.held_too_long(&open, at(-50), at(day)));
        assert!(
            !policy.held_too_long(&open, at(100), at(day)),
            "created after the circuit opened"
        );
        assert!(!policy.held_too_long(&EndpointHealth::default(), at(0), at(10 * day)));
    }

    #[test]
    fn settings_parse_and_refuse_nonsense() {
        let policy = CircuitPolicy::default();
        assert_eq!(policy.with_failures("3").unwrap().failures, 3);
        assert!(policy.with_failures("0").is_err());
        assert!(policy.with_failures("many").is_err());
        let short = policy.with_cooldown("1s").unwrap();
        assert_eq!(
            (short.cooldown, short.max_cooldown),
            (Duration::from_secs(1), Duration::from_secs(60))
        );
        assert_eq!(
            policy.with_cooldown("10s").unwrap(),
            CircuitPolicy::default()
        );
        assert!(policy.with_cooldown("0s").is_err());
        assert_eq!(
            policy.with_hold_limit("2h").unwrap().hold_limit,
            Duration::from_secs(7200)
        );
    }
}
