//! Sweeping the SQS dead-letter queue: receive its letters in pages, ask a judge what to do with each,
//! then resend, delete or release it. What to do is the service's judgement
//! ([`crate::service::DeadLetterReview`]): the replay the `replay` function runs when invoked by hand,
//! and the reconcile it runs on a schedule (see `template.yaml`). The queue port's
//! `remove_dead_letters` is a sweep too, with a judge of its own that needs no store.
//!
//! Why the reconcile exists: a delivery whose tenth receive was spent without an attempt being recorded
//! (an invocation that crashed, timed out or was throttled) is moved to the dead-letter queue by SQS
//! redrive while the store still says `pending`: no code of ours saw that receive.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry;

use super::queue::{SQS_BATCH_LIMIT, SqsQueue};
use crate::ids::DeliveryId;
use crate::ports::queue::{QueueError, Task};
use crate::service::{DeadLetterReview, DeadLetterVerdict, ReplaySelection, Service, ServiceError};

/// How long a dead letter looked at by a sweep stays hidden, so one sweep sees each message once. Kept
/// messages are made visible again when the sweep ends.
const SWEEP_LEASE_SECONDS: i32 = 300;

/// The most dead letters one sweep looks at, unless told otherwise. A replayed letter costs about two
/// calls of its own (read the delivery, start the run) and a share of its page's (one receive, one send
/// and one delete for each ten letters), 20–50 ms each: 200 letters end well inside the replay
/// function's 300 s and the sweep's lease, and a removal-only sweep (three calls for each ten letters)
/// well inside the API's 29 s. A sweep that stops there says so; the next one goes on. A removal looks
/// at as many letters as it has deliveries to remove, if that is more.
pub const DEFAULT_SWEEP_LETTERS: usize = 200;

/// A message in the dead-letter queue, as a sweep shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub message_id: String,
    /// `None` when the body is not a task this version can read.
    pub task: Option<Task>,
}

/// Decides, one dead letter at a time, what a sweep of the dead-letter queue does with it.
#[async_trait]
pub trait DeadLetterJudge: Send {
    type Error: From<QueueError> + Send;
    async fn judge(&mut self, letter: &DeadLetter) -> Result<DeadLetterVerdict, Self::Error>;
    /// Whether the judge has seen every letter it looks for: the sweep then ends without asking for more
    /// (a receive that finds the queue empty waits a second first).
    fn satisfied(&self) -> bool {
        false
    }
}

#[async_trait]
impl DeadLetterJudge for DeadLetterReview<'_> {
    type Error = ServiceError;

    async fn judge(&mut self, letter: &DeadLetter) -> Result<DeadLetterVerdict, ServiceError> {
        DeadLetterReview::judge(self, letter.task.as_ref()).await
    }
}

/// Removes the dead letters of some deliveries (the port's `remove_dead_letters`).
struct RemoveDeliveries<'a> {
    wanted: HashSet<&'a DeliveryId>,
    /// The wanted deliveries a letter was found of.
    found: HashSet<&'a DeliveryId>,
}

#[async_trait]
impl<'a> DeadLetterJudge for RemoveDeliveries<'a> {
    type Error = QueueError;

    async fn judge(&mut self, letter: &DeadLetter) -> Result<DeadLetterVerdict, QueueError> {
        let wanted = letter
            .task
            .as_ref()
            .and_then(|task| self.wanted.get(task.delivery_id()).copied());
        Ok(match wanted {
            Some(id) => {
                self.found.insert(id);
                DeadLetterVerdict::Remove
            }
            None => DeadLetterVerdict::Keep,
        })
    }

    fn satisfied(&self) -> bool {
        self.found.len() == self.wanted.len()
    }
}

/// What became of one page of dead letters.
struct Settled {
    /// Letters deleted, whether resent first or not.
    removed: usize,
    /// Letters whose task was sent to the delivery queue before they were deleted.
    resent: usize,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Letters shown to the judge.
    pub judged: usize,
    /// Letters deleted, whether resent first or not.
    pub removed: usize,
    /// Letters whose new run was sent to the delivery queue before they were deleted.
    pub resent: usize,
    /// The sweep stopped at its limit of letters: more may be waiting for the next sweep.
    pub stopped_early: bool,
}

/// Replays the dead letters `selection` takes, across all tenants, as manual resends (see
/// [`Service::replay_review`]), looking at `max_letters` letters at most; the report's `resent` is how
/// many deliveries were replayed.
///
/// On an error the replay stops; what was replayed so far stays replayed, and the dead letter being
/// handled stays in the dead-letter queue. If its new run was started but its task not sent, the next
/// replay finds the letter of an older run than the stored one and removes it, and the delivery waits,
/// `pending`, for the reconcile's sweep for deliveries that lost their task.
pub async fn replay_dlq(
    service: &Service,
    queue: &SqsQueue,
    selection: &ReplaySelection,
    max_letters: usize,
) -> Result<SweepReport, ServiceError> {
    let mut review = service.replay_review(selection);
    queue.sweep_dead_letters(&mut review, max_letters).await
}

/// What a reconcile did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Pending deliveries whose letter sat in the dead-letter queue, marked dead.
    pub marked_dead: usize,
    /// The sweep of the dead-letter queue stopped at its limit.
    pub stopped_early: bool,
}

/// Reconciles the dead-letter queue with the store (see [`Service::reconcile_review`]), looking at
/// `max_letters` letters at most. Every message stays where it is.
pub async fn reconcile_dlq(
    service: &Service,
    queue: &SqsQueue,
    max_letters: usize,
) -> Result<Reconciled, ServiceError> {
    let mut review = service.reconcile_review();
    let report = queue.sweep_dead_letters(&mut review, max_letters).await?;
    Ok(Reconciled {
        marked_dead: review.marked_dead(),
        stopped_early: report.stopped_early,
    })
}

impl SqsQueue {
    /// Shows the messages of the dead-letter queue once each to `judge`, at most `max_letters` of them;
    /// sends the task of each it says to resend to the delivery queue, deletes those it says to resend
    /// or remove, and makes the others visible again when done (also when `judge` or SQS fails). The
    /// sweep ends when the queue yields nothing new, or at `max_letters` (`stopped_early`); a message
    /// first seen after the sweep's lease ran out on others may be left for the next sweep. Two sweeps at
    /// once hide messages from each other.
    pub async fn sweep_dead_letters<J: DeadLetterJudge>(
        &self,
        judge: &mut J,
        max_letters: usize,
    ) -> Result<SweepReport, J::Error> {
        let mut seen = HashSet::new();
        let mut kept = Vec::new();
        let mut report = SweepReport::default();
        let outcome = 'sweep: loop {
            let room = max_letters.saturating_sub(report.judged);
            if room == 0 {
                report.stopped_early = true;
                break Ok(());
            }
            let batch = match self
                .receive_from(
                    self.dlq_url(),
                    room.min(SQS_BATCH_LIMIT),
                    Some(SWEEP_LEASE_SECONDS),
                )
                .await
            {
                Ok(batch) => batch,
                Err(e) => break Err(J::Error::from(QueueError::from(e))),
            };
            let mut fresh = Vec::with_capacity(batch.len());
            for incoming in batch {
                if seen.insert(incoming.message_id.clone()) {
                    fresh.push(incoming);
                } else {
                    kept.push(incoming.receipt);
                }
            }
            if fresh.is_empty() {
                break Ok(());
            }
            let mut verdicts = Vec::with_capacity(fresh.len());
            let mut unjudged = fresh.into_iter();
            let mut judging_failed = None;
            while let Some(incoming) = unjudged.next() {
                let letter = DeadLetter {
                    message_id: incoming.message_id,
                    task: incoming.task,
                };
                report.judged += 1;
                match judge.judge(&letter).await {
                    Ok(verdict) => verdicts.push((incoming.receipt, verdict)),
                    Err(e) => {
                        kept.push(incoming.receipt);
                        kept.extend(unjudged.by_ref().map(|rest| rest.receipt));
                        judging_failed = Some(e);
                        break;
                    }
                }
            }
            // What was judged before a failure is carried out all the same: a resend judged is a run
            // started in the store, which needs its task.
            match self.settle_page(verdicts, &mut kept).await {
                Ok(settled) => {
                    report.removed += settled.removed;
                    report.resent += settled.resent;
                }
                Err(e) => break 'sweep Err(J::Error::from(e)),
            }
            if let Some(e) = judging_failed {
                break 'sweep Err(e);
            }
            if judge.satisfied() {
                break Ok(());
            }
        };
        self.release_dead_letters(&kept).await;
        outcome.map(|()| report)
    }

    /// Carries out the verdicts on one page of dead letters (at most 10, as received): the tasks to resend
    /// are sent in one batch, then the letters resent or removed are deleted in one batch; the kept ones
    /// join `kept`. If the send fails, nothing is deleted and the page's letters are all kept: a letter
    /// whose task did reach the queue is of an older run than the stored one, which the next replay
    /// removes without resending.
    async fn settle_page(
        &self,
        verdicts: Vec<(String, DeadLetterVerdict)>,
        kept: &mut Vec<String>,
    ) -> Result<Settled, QueueError> {
        let mut tasks = Vec::new();
        let mut resent = Vec::new();
        let mut removed = Vec::new();
        for (receipt, verdict) in verdicts {
            match verdict {
                DeadLetterVerdict::Keep => kept.push(receipt),
                DeadLetterVerdict::Remove => removed.push(receipt),
                DeadLetterVerdict::Resend(task) => {
                    tasks.push(task);
                    resent.push(receipt);
                }
            }
        }
        if !tasks.is_empty()
            && let Err(e) = self.send_chunk(self.queue_url(), &tasks).await
        {
            kept.extend(resent);
            kept.extend(removed);
            return Err(e.into());
        }
        let settled = Settled {
            removed: removed.len() + resent.len(),
            resent: resent.len(),
        };
        removed.extend(resent);
        if !removed.is_empty() {
            let receipts: Vec<&str> = removed.iter().map(String::as_str).collect();
            self.delete_batch_from(self.dlq_url(), &receipts).await?;
        }
        Ok(settled)
    }

    /// Removes the dead letters of these deliveries; returns how many were removed.
    pub(super) async fn remove_dead_letters_of(
        &self,
        delivery_ids: &[DeliveryId],
    ) -> Result<usize, QueueError> {
        if delivery_ids.is_empty() {
            return Ok(0);
        }
        let mut judge = RemoveDeliveries {
            wanted: delivery_ids.iter().collect(),
            found: HashSet::new(),
        };
        let most = DEFAULT_SWEEP_LETTERS.max(delivery_ids.len());
        Ok(self.sweep_dead_letters(&mut judge, most).await?.removed)
    }

    /// Makes these dead letters visible again at once. Failures are logged, not returned: the messages
    /// come back by themselves when the sweep's lease ends.
    async fn release_dead_letters(&self, receipts: &[String]) {
        for chunk in receipts.chunks(SQS_BATCH_LIMIT) {
            let entries = chunk.iter().enumerate().filter_map(|(i, receipt)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            });
            let answer = self
                .client
                .change_message_visibility_batch()
                .queue_url(self.dlq_url())
                .set_entries(Some(entries.collect()))
                .send()
                .await;
            match answer {
                Ok(answer) => {
                    for failed in answer.failed() {
                        tracing::warn!(code = failed.code(), message = ?failed.message(),
                            "a kept dead letter stays hidden until the sweep's lease ends");
                    }
                }
                Err(e) => tracing::warn!(error = %DisplayErrorContext(e),
                    "kept dead letters stay hidden until the sweep's lease ends"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::TenantId;

    fn letter_of(delivery: &str) -> DeadLetter {
        DeadLetter {
            message_id: format!("m-{delivery}"),
            task: Some(Task::DeliverV1 {
                tenant: TenantId::from("acme"),
                delivery_id: DeliveryId::from(delivery),
                run: 0,
                endpoint: None,
                attempts_before: 0,
            }),
        }
    }

    /// A removal ends its sweep once it has found a letter of each delivery it was given, instead of
    /// receiving until the queue is empty (a receive that finds nothing waits a second).
    #[tokio::test]
    async fn a_removal_is_satisfied_once_every_delivery_it_wants_is_found() {
        let wanted = [DeliveryId::from("msg_1"), DeliveryId::from("msg_2")];
        let mut judge = RemoveDeliveries {
            wanted: wanted.iter().collect(),
            found: HashSet::new(),
        };
        assert!(!judge.satisfied());
        for (delivery, verdict) in [
            ("msg_9", DeadLetterVerdict::Keep),
            ("msg_1", DeadLetterVerdict::Remove),
            ("msg_1", DeadLetterVerdict::Remove),
        ] {
            assert_eq!(judge.judge(&letter_of(delivery)).await.unwrap(), verdict);
            assert!(!judge.satisfied(), "msg_2 is still wanted");
        }
        let unreadable = DeadLetter {
            message_id: "m-x".into(),
            task: None,
        };
        assert_eq!(
            judge.judge(&unreadable).await.unwrap(),
            DeadLetterVerdict::Keep
        );
        assert_eq!(
            judge.judge(&letter_of("msg_2")).await.unwrap(),
            DeadLetterVerdict::Remove
        );
        assert!(judge.satisfied());
    }
}
