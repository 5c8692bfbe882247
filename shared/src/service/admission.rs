//! Whether a received delivery is attempted now or held back without spending an attempt: the slowdown an
//! endpoint asked for with `429`, its in-flight and rate limits ([`crate::delivery::pacing`]), and its
//! circuit breaker ([`crate::endpoint::circuit`]), whose single probe is claimed in the store so that one
//! sender probes, across processes and Lambda containers alike.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Service, ServiceError};
use crate::delivery::Delivery;
use crate::delivery::decide::{self, Decision};
use crate::delivery::pacing::{InFlight, Pace, PaceLimits};
use crate::endpoint::Endpoint;
use crate::endpoint::circuit::CircuitAdmission;
use crate::metrics::HoldReason;

/// How much longer than the HTTP timeout a probe may take before another sender may probe in its place (it
/// never reported: its process stopped).
const PROBE_GRACE: Duration = Duration::from_secs(5);
/// Held deliveries come back spread over up to this much beyond their time, so a backlog held for the same
/// moment does not return at once.
const MAX_SPREAD: Duration = Duration::from_secs(1);

/// What becomes of a received delivery before any attempt.
pub(super) enum Admission {
    /// Attempt it; `pass` holds its in-flight slot until dropped.
    Attempt(AttemptPass),
    /// Hold it back for this long; nothing is recorded.
    Hold(Duration),
    /// Settle it without an attempt (it waited for an open circuit too long).
    Settle(Decision),
}

/// Leave to attempt a delivery: its endpoint's in-flight slot, and whether it is the circuit's probe.
pub(super) struct AttemptPass {
    pub(super) slot: InFlight,
    pub(super) probe: bool,
}

impl Service {
    /// Whether `delivery` to `endpoint` is attempted now.
    pub(super) async fn admit(
        &self,
        delivery: &Delivery,
        endpoint: &Endpoint,
    ) -> Result<Admission, ServiceError> {
        let now = self.clock.now();
        let health = &endpoint.health;
        if let Some(wait) = health
            .slowed_until
            .and_then(|until| until_after(until, now))
        {
            return Ok(self.hold(HoldReason::Slowed, spread(wait)));
        }
        let limits = PaceLimits {
            max_in_flight: endpoint.max_in_flight,
            rate_per_second: endpoint.rate_limit_per_second,
        };
        let slot = match self
            .pacing
            .admit_or_wait(&endpoint.tenant, &endpoint.id, limits, || self.clock.now())
            .await
        {
            Pace::Go(slot) => slot,
            Pace::Full(wait) => return Ok(self.hold(HoldReason::InFlight, wait)),
            Pace::RateLimited(wait) => return Ok(self.hold(HoldReason::RateLimit, wait)),
        };
        let probe = match self.circuit.admission(health, now) {
            CircuitAdmission::Send => false,
            _ if self.circuit.held_too_long(health, delivery.created_at, now) => {
                return Ok(Admission::Settle(decide::circuit_held_too_long()));
            }
            CircuitAdmission::Wait(wait) => {
                return Ok(self.hold(HoldReason::CircuitOpen, spread(wait)));
            }
            CircuitAdmission::Probe { seen_probe_at } => {
                let lost_after = now
                    + chrono::Duration::from_std(self.sender.timeout() + PROBE_GRACE)
                        .unwrap_or_default();
                let claimed = self
                    .ports
                    .endpoints
                    .claim_probe(&endpoint.tenant, &endpoint.id, seen_probe_at, lost_after)
                    .await?;
                if !claimed {
                    // Another sender probes; its outcome is known within a cool-down or so.
                    return Ok(self.hold(HoldReason::CircuitOpen, spread(self.circuit.cooldown)));
                }
                tracing::info!(endpoint = %endpoint.id, "probing an open circuit");
                true
            }
        };
        Ok(Admission::Attempt(AttemptPass { slot, probe }))
    }

    fn hold(&self, reason: HoldReason, wait: Duration) -> Admission {
        self.metrics.delivery_held(reason);
        Admission::Hold(wait)
    }
}

/// How long from `now` until `until`, if it is still ahead.
fn until_after(until: DateTime<Utc>, now: DateTime<Utc>) -> Option<Duration> {
    (until - now).to_std().ok().filter(|d| !d.is_zero())
}

/// `wait` plus a random share of up to a tenth of it (at most [`MAX_SPREAD`]).
fn spread(wait: Duration) -> Duration {
    let most = (wait / 10).min(MAX_SPREAD);
    wait + most.mul_f64(rand::random::<f64>())
}
