//! Dead letters: which ones a replay takes ([`ReplaySelection`]), and the judgement on one dead letter
//! found in a sweep of a dead-letter queue — resend it as a new run, remove it, or keep it — for the two
//! sweeps there are: the replay, and the reconcile that marks dead the deliveries whose letters sit in
//! the dead-letter queue while the store still says `pending`.
//!
//! The judgement is written once here; the adapter that owns a dead-letter queue only drives the sweep
//! (receives the letters, asks [`DeadLetterReview::judge`], then sends, deletes or releases).

use std::collections::HashSet;

use serde::Deserialize;

use super::{Service, ServiceError};
use crate::delivery::retry_policy::MAX_ATTEMPTS;
use crate::delivery::{Delivery, DeliveryStatus};
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::metrics::ResendKind;
use crate::ports::queue::Task;
use crate::ports::store::StatusChange;

/// Which dead letters a replay takes. The API reads it from its body; the replay function reads it as
/// `"all"`, `{"endpoint_id": "ep_…"}` or `{"ids": ["msg_…"]}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaySelection {
    All,
    /// These deliveries (in a sweep of the whole dead-letter queue: of any tenant).
    Ids(Vec<DeliveryId>),
    /// The deliveries to this endpoint.
    #[serde(rename = "endpoint_id")]
    Endpoint(EndpointId),
}

/// What a sweep does with one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterVerdict {
    /// Send this task, a new run of the letter's delivery, to the delivery queue; then delete the letter.
    Resend(Task),
    /// Delete it from the dead-letter queue.
    Remove,
    /// Leave it there.
    Keep,
}

/// What the stored state says about a dead letter a replay is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayStep {
    /// The selection does not take it.
    Keep,
    /// Obsolete: its delivery is no longer stored, was delivered or filtered, or is on a newer run.
    Remove,
    /// Start a new run of its delivery.
    Resend,
}

/// A replay's step for a dead letter of `run` whose delivery is stored as `stored` (`None`: no longer
/// stored). The ids of [`ReplaySelection::Ids`] are checked before the delivery is read. A letter of an
/// older run than the stored one is left over from before a resend: resending it would restart the newer
/// run (and send it twice).
fn replay_step(selection: &ReplaySelection, run: u32, stored: Option<&Delivery>) -> ReplayStep {
    if let ReplaySelection::Endpoint(endpoint) = selection
        && stored.is_none_or(|d| &d.endpoint_id != endpoint)
    {
        return ReplayStep::Keep;
    }
    match stored {
        None => ReplayStep::Remove,
        Some(d)
            if matches!(
                d.status,
                DeliveryStatus::Delivered | DeliveryStatus::Filtered
            ) =>
        {
            ReplayStep::Remove
        }
        Some(d) if d.run > run => ReplayStep::Remove,
        Some(_) => ReplayStep::Resend,
    }
}

/// Whether the reconcile marks dead the delivery of a dead letter of `run`: only while the store still
/// says that run is pending (the queue spent its receives without an attempt being recorded).
fn reconcile_marks_dead(run: u32, stored: Option<&Delivery>) -> bool {
    stored.is_some_and(|d| d.status == DeliveryStatus::Pending && d.run == run)
}

/// What one sweep is for.
enum Purpose<'a> {
    Replay {
        selection: &'a ReplaySelection,
        /// The ids of [`ReplaySelection::Ids`], to look up without reading the store.
        ids: Option<HashSet<&'a DeliveryId>>,
        /// Deliveries this sweep resent: their other letters are only removed.
        resent: HashSet<(TenantId, DeliveryId)>,
    },
    Reconcile {
        marked_dead: usize,
    },
}

/// The judge of one sweep of a dead-letter queue: shown the letters one at a time, it says what to do
/// with each, writing to the store what that takes, and remembers what the sweep already did.
pub struct DeadLetterReview<'a> {
    service: &'a Service,
    purpose: Purpose<'a>,
}

impl Service {
    /// A replay of the dead letters `selection` takes, across all tenants: each becomes a manual resend
    /// (a new run, `pending`); a letter whose delivery is gone, delivered or filtered is removed; the
    /// others, and letters that are not tasks, are kept. Several letters of one delivery resend it once.
    pub fn replay_review<'a>(&'a self, selection: &'a ReplaySelection) -> DeadLetterReview<'a> {
        DeadLetterReview {
            service: self,
            purpose: Purpose::Replay {
                selection,
                ids: match selection {
                    ReplaySelection::Ids(ids) => Some(ids.iter().collect()),
                    _ => None,
                },
                resent: HashSet::new(),
            },
        }
    }

    /// A reconcile: marks `dead` (and counts as finished) each delivery whose letter's run the store
    /// still says is `pending`, so it is listed and replayed like any other. Keeps every letter.
    pub fn reconcile_review(&self) -> DeadLetterReview<'_> {
        DeadLetterReview {
            service: self,
            purpose: Purpose::Reconcile { marked_dead: 0 },
        }
    }
}

impl DeadLetterReview<'_> {
    /// The verdict on one dead letter; `task` is `None` when its body is not a task this version reads.
    pub async fn judge(&mut self, task: Option<&Task>) -> Result<DeadLetterVerdict, ServiceError> {
        let Some(Task::DeliverV1 {
            tenant,
            delivery_id,
            run,
            ..
        }) = task
        else {
            if matches!(self.purpose, Purpose::Replay { .. }) {
                tracing::warn!("a dead letter that is not a task stays in the dead-letter queue");
            }
            return Ok(DeadLetterVerdict::Keep);
        };
        let service = self.service;
        match &mut self.purpose {
            Purpose::Replay {
                selection,
                ids,
                resent,
            } => {
                if ids.as_ref().is_some_and(|ids| !ids.contains(delivery_id)) {
                    return Ok(DeadLetterVerdict::Keep);
                }
                let key = (tenant.clone(), delivery_id.clone());
                if resent.contains(&key) {
                    return Ok(DeadLetterVerdict::Remove);
                }
                let verdict = service
                    .replay_letter(selection, tenant, delivery_id, *run)
                    .await?;
                if matches!(verdict, DeadLetterVerdict::Resend(_)) {
                    resent.insert(key);
                }
                Ok(verdict)
            }
            Purpose::Reconcile { marked_dead } => {
                if service.reconcile_letter(tenant, delivery_id, *run).await? {
                    *marked_dead += 1;
                }
                Ok(DeadLetterVerdict::Keep)
            }
        }
    }

    /// How many deliveries a reconcile marked dead so far (0 for a replay).
    pub fn marked_dead(&self) -> usize {
        match self.purpose {
            Purpose::Reconcile { marked_dead } => marked_dead,
            Purpose::Replay { .. } => 0,
        }
    }
}

impl Service {
    async fn replay_letter(
        &self,
        selection: &ReplaySelection,
        tenant: &TenantId,
        delivery_id: &DeliveryId,
        run: u32,
    ) -> Result<DeadLetterVerdict, ServiceError> {
        let deliveries = &self.ports.deliveries;
        let stored = deliveries.get_delivery(tenant, delivery_id).await?;
        match replay_step(selection, run, stored.as_ref()) {
            ReplayStep::Keep => return Ok(DeadLetterVerdict::Keep),
            ReplayStep::Remove => {
                match &stored {
                    None => tracing::info!(delivery = %delivery_id,
                        "removing the dead letter of a delivery no longer stored"),
                    Some(d) if d.run > run => tracing::info!(delivery = %delivery_id, run,
                        current_run = d.run, "removing the dead letter of an older run"),
                    Some(d) => tracing::info!(delivery = %delivery_id, status = d.status.as_str(),
                        "removing the dead letter of a finished delivery"),
                }
                return Ok(DeadLetterVerdict::Remove);
            }
            ReplayStep::Resend => {}
        }
        let Some(run) = deliveries.start_resend(tenant, delivery_id, None).await? else {
            return Ok(DeadLetterVerdict::Remove);
        };
        self.metrics.resends_started(ResendKind::Replay, 1);
        tracing::info!(delivery = %delivery_id, run, "replaying a dead letter");
        Ok(DeadLetterVerdict::Resend(Task::DeliverV1 {
            tenant: tenant.clone(),
            delivery_id: delivery_id.clone(),
            run,
            endpoint: stored.map(|d| d.endpoint_id),
            attempts_before: 0,
        }))
    }

    /// Marks the delivery dead if [`reconcile_marks_dead`] says so; true if it was marked (and counted).
    /// The delivery is read once, without its attempts and maybe a moment stale: the write that marks it
    /// holds only while the store still says that run is pending.
    async fn reconcile_letter(
        &self,
        tenant: &TenantId,
        delivery_id: &DeliveryId,
        run: u32,
    ) -> Result<bool, ServiceError> {
        let deliveries = &self.ports.deliveries;
        let stored = deliveries.peek_delivery(tenant, delivery_id).await?;
        if !reconcile_marks_dead(run, stored.as_ref()) {
            return Ok(false);
        }
        let reason = format!(
            "the delivery queue dead-lettered it after {MAX_ATTEMPTS} receives; the attempts not \
             recorded were cut short"
        );
        let change = StatusChange {
            status: DeliveryStatus::Dead,
            reason: Some(&reason),
            next_attempt_at: None,
        };
        let marked = deliveries
            .update_delivery(tenant, delivery_id, run, None, change)
            .await?;
        if marked {
            self.metrics.deliveries_finished(DeliveryStatus::Dead, 1);
            tracing::warn!(delivery = %delivery_id, run,
                "a dead letter's delivery was still pending; marked dead");
        }
        Ok(marked)
    }
}

#[cfg(test)]
mod tests;
