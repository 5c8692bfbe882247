//! Digests in the use cases ([`crate::digest`]):
//!
//! - at ingest, each pending `error` delivery to an endpoint with a digest is counted in the endpoint's
//!   window; past the first `after`, it is `filtered` (`digest`) and links to the window's digest
//!   delivery, and its alert is recorded as folded into that digest in the same write as the alert;
//! - the digest delivery is made once per window, before the first alert folded into it is stored, for
//!   an alert of alertwire's own (`source` `alertwire.digest`) that carries the window; its task is held on
//!   the queue until the window has ended, without spending an attempt;
//! - its attempt renders the endpoint's digest template with the folded alerts, and is retried and
//!   dead-lettered like any other delivery.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Map;

use super::{Service, ServiceError};
use crate::alert::{Alert, AlertContent, MessageType};
use crate::delivery::decide::{self, FilterReason};
use crate::delivery::{Delivery, DeliveryStatus};
use crate::digest::{DIGEST_SOURCE, DigestFacts, DigestWindow, LISTED_ALERTS};
use crate::endpoint::Endpoint;
use crate::ids::{AlertId, DeliveryId, TenantId};
use crate::metrics::HoldReason;
use crate::ports::queue::Task;
use crate::ports::store::{AlertRecord, RecordOutcome};
use crate::routing::RoutingOutcome;

/// Digest deliveries this process made or found made, at most; past it all are forgotten (and found made
/// again by their idempotency key).
const MADE_KEPT: usize = 10_000;

/// The digest deliveries this process knows are stored, so the later alerts of a window do not write
/// them again.
#[derive(Default)]
pub(super) struct MadeDigests {
    ids: Mutex<HashSet<DeliveryId>>,
}

impl MadeDigests {
    fn knows(&self, id: &DeliveryId) -> bool {
        self.ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    fn keep(&self, id: DeliveryId) {
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        if ids.len() >= MADE_KEPT {
            ids.clear();
        }
        ids.insert(id);
    }
}

/// What a delivery does about digests before its attempt.
#[derive(Debug)]
pub(super) enum DigestGate {
    /// Not a digest: attempt it as usual.
    NotADigest,
    /// A digest whose window has not ended: look again after this long.
    Hold(Duration),
    /// A digest no alert was folded into.
    Empty,
    /// A digest to send with these folded alerts.
    Send(DigestFacts),
}

impl Service {
    /// Counts each pending `error` of `alert` to an endpoint with a digest (`endpoints[i]` is the endpoint
    /// of `deliveries[i]`) in that endpoint's window, and folds it into the window's digest once the window
    /// has had its `after` errors, making the digest delivery if it is not made yet. Called before the
    /// alert is stored. A repeat of a request recorded under `idempotency_key` (a client's retry, a
    /// source's notification sent again while its alerts still fire) is not counted again: it will be
    /// answered with the first receipt.
    pub(super) async fn fold_into_digests(
        &self,
        alert: &Alert,
        idempotency_key: Option<&str>,
        endpoints: &[&Endpoint],
        deliveries: &mut [Delivery],
    ) -> Result<(), ServiceError> {
        if alert.content.message_type != MessageType::Error || alert.digest.is_some() {
            return Ok(());
        }
        if let Some(key) = idempotency_key
            && self.ports.alerts.is_recorded(&alert.tenant, key).await?
        {
            return Ok(());
        }
        for (endpoint, delivery) in endpoints.iter().zip(deliveries.iter_mut()) {
            let Some(policy) = &endpoint.digest else {
                continue;
            };
            if delivery.status != DeliveryStatus::Pending {
                continue;
            }
            let counted = self
                .ports
                .digests
                .count_error(
                    &alert.tenant,
                    &endpoint.id,
                    alert.received_at,
                    policy.window(),
                )
                .await?;
            if !policy.folds(counted.count) {
                continue;
            }
            let window = counted.digest(&alert.tenant, &endpoint.id);
            let digest_id = window.digest_id.clone();
            self.make_digest(endpoint, window, alert).await?;
            delivery.status = DeliveryStatus::Filtered;
            delivery.status_reason = Some(
                FilterReason::Digest {
                    digest_id: digest_id.clone(),
                }
                .reason(),
            );
            delivery.digest_delivery_id = Some(digest_id);
        }
        Ok(())
    }

    /// Stores the digest delivery of `window` at `endpoint` and queues its task, unless this process
    /// knows it is stored. Made once whoever asks: it is recorded under an idempotency key of its id, and
    /// only the one who recorded it queues its task (another maker, in another process, may find it
    /// recorded before the task is sent; should the first stop in between, the sweep of pending
    /// deliveries that lost their task sends it). `first_folded` gives it its severity.
    pub(super) async fn make_digest(
        &self,
        endpoint: &Endpoint,
        window: DigestWindow,
        first_folded: &Alert,
    ) -> Result<(), ServiceError> {
        let digest_id = window.digest_id.clone();
        if self.made_digests.knows(&digest_id) {
            return Ok(());
        }
        let tenant = &first_folded.tenant;
        let (window_end, send_at) = (window.end, window.send_at());
        let alert = digest_alert(tenant, endpoint, window, first_folded, self.clock.now());
        let mut delivery = Delivery::pending(digest_id.clone(), &alert, endpoint.id.clone());
        // Its first attempt is due when the window has ended: until then its task is held before the
        // endpoint's limits or circuit are consulted.
        delivery.next_attempt_at = Some(send_at);
        let tasks = [Task::deliver(
            tenant.clone(),
            digest_id.clone(),
            0,
            endpoint.id.clone(),
        )];
        let key = format!("{DIGEST_SOURCE}:{digest_id}");
        let record = AlertRecord {
            alert: &alert,
            deliveries: std::slice::from_ref(&delivery),
            idempotency: Some((&key, &key)),
            tasks: &tasks,
        };
        match self.ports.alerts.record_alert(record).await? {
            RecordOutcome::Recorded { enqueued } => {
                if !enqueued {
                    // A digest is recorded under a key of its own (`record` above).
                    self.enqueue(tenant, &alert.id, &tasks, true).await?;
                }
                tracing::info!(endpoint = %endpoint.id, digest = %digest_id,
                    window_end = %window_end, "errors folded into a digest from now to the window's end");
            }
            RecordOutcome::AlreadyRecorded { .. } => {}
        }
        self.made_digests.keep(digest_id);
        Ok(())
    }

    /// Whether a delivery of `alert` is a digest, and if so whether its window has ended and what it
    /// folded.
    pub(super) async fn digest_gate(
        &self,
        tenant: &TenantId,
        alert: &Alert,
    ) -> Result<DigestGate, ServiceError> {
        let Some(window) = alert.digest.clone() else {
            return Ok(DigestGate::NotADigest);
        };
        // Its delivery is created due then (a new run of it, by the stranded sweep, is not): see
        // `decide::not_due_for`.
        if let Some(wait) = decide::wait_until(window.send_at(), self.clock.now()) {
            self.metrics.delivery_held(HoldReason::Scheduled);
            return Ok(DigestGate::Hold(wait));
        }
        // The digest's own id: a delivery of it to a fallback endpoint has another.
        let members = self
            .ports
            .digests
            .digest_members(tenant, &window.digest_id, LISTED_ALERTS)
            .await?;
        if members.count == 0 {
            return Ok(DigestGate::Empty);
        }
        Ok(DigestGate::Send(DigestFacts { window, members }))
    }
}

/// The alert a digest delivery is made for: alertwire's own, as severe as the first alert folded, for the
/// errors of `window` at `endpoint`.
fn digest_alert(
    tenant: &TenantId,
    endpoint: &Endpoint,
    window: DigestWindow,
    first_folded: &Alert,
    now: chrono::DateTime<chrono::Utc>,
) -> Alert {
    let content = AlertContent {
        title: format!(
            "Storm at {}: further errors folded into a digest",
            endpoint.name
        ),
        description: format!(
            "More errors than {} reached this endpoint within its window; the further ones until {} are sent as one digest.",
            endpoint.digest.as_ref().map_or(0, |d| d.after),
            window.end.to_rfc3339()
        ),
        severity: first_folded.content.severity,
        message_type: MessageType::Error,
        incident_key: None,
        tags: Vec::new(),
        samples: Vec::new(),
        context: Map::new(),
        link: None,
        source: Some(DIGEST_SOURCE.to_string()),
        timeframe_start: Some(window.start),
        timeframe_end: Some(window.end),
    };
    let mut alert = content.into_alert(AlertId::generate(), tenant.clone(), now);
    alert.routing = Some(RoutingOutcome {
        endpoints: 1,
        unrouted: false,
    });
    alert.digest = Some(window);
    alert
}

#[cfg(all(test, feature = "embedded"))]
#[path = "digests_tests.rs"]
mod tests;
