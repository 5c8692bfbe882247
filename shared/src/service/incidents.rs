//! An incident across an endpoint's messages, for the endpoints that capture values from an error's
//! answer ([`Endpoint::follows_incidents`]):
//!
//! - an `error` is noted as its incident's latest error to the endpoint before the alert is stored, so
//!   the incident's `ok` can never be looked at without it;
//! - a `reminder` or `ok` waits, held on the queue without spending an attempt, until that error is
//!   delivered or dead; it then renders with what the error's answer gave (`{{captured.<name>}}`), or is
//!   filtered when a capture is missing and the endpoint skips such messages;
//! - a delivered error's answer is captured before its status is recorded, so whoever sees it delivered
//!   finds the values.
//!
//! The queue's hold works alike in the embedded worker and on SQS (a delayed re-send), so no process or
//! Lambda waits for an error.

use std::time::Duration;

use super::{Service, ServiceError};
use crate::alert::{Alert, MessageType};
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::endpoint::Endpoint;
use crate::endpoint::captures::{self, CapturedValues, MissingCapture};
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::metrics::HoldReason;
use crate::ports::store::IncidentRef;

/// How long a message waits before it looks at its incident's error again while the error is being
/// attempted (not waiting for a retry).
const RECHECK: Duration = Duration::from_secs(1);
/// The longest single wait: a later look may find the error resent or settled sooner than its schedule.
const LONGEST_WAIT: Duration = Duration::from_secs(15 * 60);

/// What a message of an incident does before its attempt.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum IncidentGate {
    /// Attempt it, rendering with these captured values (none for an endpoint that captures nothing).
    Go(Option<CapturedValues>),
    /// Its incident's error to this endpoint is still pending: look again after this long.
    Hold(Duration),
    /// A capture is missing (named) and the endpoint skips such messages.
    Skip(String),
}

impl Service {
    /// Notes each of `deliveries` of an `error` to one of the `following` endpoints as its incident's
    /// latest error there. Called before the alert is stored.
    pub(super) async fn note_incident_errors(
        &self,
        alert: &Alert,
        deliveries: &[(DeliveryId, EndpointId)],
        following: &[EndpointId],
    ) -> Result<(), ServiceError> {
        let Some(key) = incident_key(alert) else {
            return Ok(());
        };
        if alert.content.message_type != MessageType::Error {
            return Ok(());
        }
        for (delivery_id, endpoint_id) in deliveries {
            if !following.contains(endpoint_id) {
                continue;
            }
            let incident = IncidentRef {
                tenant: &alert.tenant,
                endpoint_id,
                incident_key: key,
            };
            self.ports
                .incidents
                .note_error(incident, delivery_id, self.clock.now())
                .await?;
        }
        Ok(())
    }

    /// Whether `delivery` of `alert` to `endpoint` is attempted now, and with which captured values.
    pub(super) async fn incident_gate(
        &self,
        tenant: &TenantId,
        endpoint: &Endpoint,
        alert: &Alert,
    ) -> Result<IncidentGate, ServiceError> {
        if !endpoint.follows_incidents() || alert.content.message_type == MessageType::Error {
            return Ok(IncidentGate::Go(None));
        }
        let mut captured = CapturedValues::new();
        if let Some(key) = incident_key(alert) {
            let incident = IncidentRef {
                tenant,
                endpoint_id: &endpoint.id,
                incident_key: key,
            };
            if let Some(record) = self.ports.incidents.get_incident(incident).await? {
                // An ok is sent as always while a maintenance window holds its error: no waiting then.
                if let Some(error_id) = &record.error_delivery_id
                    && self
                        .in_maintenance_until(tenant, &endpoint.id, self.clock.now())
                        .await?
                        .is_none()
                {
                    let error = self.ports.deliveries.get_delivery(tenant, error_id).await?;
                    if let Some(error) = error.filter(|e| e.status == DeliveryStatus::Pending) {
                        self.metrics.delivery_held(HoldReason::AwaitingError);
                        return Ok(IncidentGate::Hold(self.wait_for(&error)));
                    }
                }
                captured = record.captured;
            }
        }
        let missing = endpoint
            .captures
            .keys()
            .find(|name| !captured.contains_key(*name));
        Ok(match (missing, endpoint.capture_missing) {
            (Some(name), MissingCapture::Skip) => IncidentGate::Skip(name.clone()),
            _ => IncidentGate::Go(Some(captured)),
        })
    }

    /// Keeps what a delivered `error`'s answer gives the endpoint's captures, for the incident's later
    /// messages. Nothing is kept when the answer gives none of them (an earlier error's values stay).
    pub(super) async fn capture(
        &self,
        endpoint: &Endpoint,
        alert: &Alert,
        delivery_id: &DeliveryId,
        attempt: &Attempt,
    ) -> Result<(), ServiceError> {
        if !endpoint.follows_incidents() || alert.content.message_type != MessageType::Error {
            return Ok(());
        }
        let Some(key) = incident_key(alert) else {
            return Ok(());
        };
        let values = captures::take(
            &endpoint.captures,
            attempt.response_body.as_deref(),
            &attempt.response_headers,
        );
        if values.is_empty() {
            return Ok(());
        }
        let incident = IncidentRef {
            tenant: &alert.tenant,
            endpoint_id: &endpoint.id,
            incident_key: key,
        };
        self.ports
            .incidents
            .keep_captured(incident, delivery_id, &values, self.clock.now())
            .await?;
        Ok(())
    }

    /// How long a message waits for `error`, still pending: until its next attempt is due (and a second
    /// to record it), or [`RECHECK`] while it is being attempted.
    fn wait_for(&self, error: &Delivery) -> Duration {
        error
            .next_attempt_at
            .and_then(|at| (at - self.clock.now()).to_std().ok())
            .map_or(RECHECK, |until| until + RECHECK)
            .min(LONGEST_WAIT)
    }
}

/// The alert's incident key, when it has a non-empty one.
fn incident_key(alert: &Alert) -> Option<&str> {
    alert
        .content
        .incident_key
        .as_deref()
        .filter(|key| !key.is_empty())
}

#[cfg(all(test, feature = "embedded"))]
#[path = "incidents_tests.rs"]
mod tests;
