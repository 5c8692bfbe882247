//! The exact accounting of a chaos run: what the service promised (the deliveries of every accepted
//! alert), what its store says at the end (status and recorded attempts), and what the receiver saw
//! (every request, matched by `webhook-id` and attempt number, with the answer it got) must agree, up to
//! the at-least-once window: an attempt in flight when the process died reached the receiver without
//! being recorded.
//!
//! - **lost**: a promised delivery that is not in the store; `delivered` though the receiver never
//!   answered its `webhook-id` with a 2XX; `dead` though its tenth attempt was never made; `filtered`
//!   though its endpoint takes it.
//! - **unaccounted**: a delivery still `pending` at the end; one in the store that was never promised; a
//!   recorded attempt the receiver has no matching request for, or numbered twice; more unrecorded
//!   requests for one delivery than there were crashes; a request with a `webhook-id` nobody promised.
//!   A timed-out attempt may have no request at the receiver: on a busy machine the sender can give up
//!   before the receiver has read the request. Those are counted, not faulted.
//! - **duplicates**: deliveries whose `webhook-id` the receiver answered 2XX more than once.
//! - **digests**: an endpoint that folds a storm's errors into digests has deliveries no receipt named,
//!   its digest deliveries, which the folded deliveries link to. Each is accounted for as a promise of its
//!   own (final, every attempt matched), a folded delivery (`filtered` though its endpoint takes it) is
//!   accounted for by its digest, which must be stored, and a digest answered 2XX must have said it folded
//!   exactly the deliveries that link to it (its body's `folded`).
//! - **pruned**: with retention running, the store deletes finished history during the run. A delivery
//!   it no longer holds at the end is accounted for from its last listing before the pruner deleted it
//!   (so it must have been listed final); one never listed is lost.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use alertwire_shared::delivery::retry_policy::MAX_ATTEMPTS;
use alertwire_shared::delivery::{Attempt, DeliveryStatus, ErrorClass};

use crate::receiver::{Behaviour, Received};

/// A delivery the service promised when it accepted an alert.
#[derive(Debug, Clone)]
pub struct Promised {
    pub id: String,
    /// The endpoint's rules filter this alert out (it must end `filtered`, never sent).
    pub filtered_by_rule: bool,
}

/// A delivery as the store reports it at the end.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<Attempt>,
    /// The digest delivery this one was folded into.
    pub digest_delivery_id: Option<String>,
}

/// How attempt numbers run after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// The embedded queue gives an interrupted attempt's number again: recorded numbers are 1, 2, 3, …
    Contiguous,
    /// SQS counts the receive of a killed batch: a number may be skipped.
    MaySkip,
}

/// Everything a run produced, to be accounted for.
pub struct ChaosRun<'a> {
    pub alerts: usize,
    pub promised: &'a [Promised],
    pub stored: &'a [Stored],
    pub received: &'a [Received],
    pub kills: usize,
    pub numbering: Numbering,
    /// Deliveries the store no longer holds at the end, as last listed during the run (the pruner
    /// deleted them); empty without retention.
    pub pruned: &'a [Stored],
}

#[derive(Debug, Clone, Default)]
pub struct Accounting {
    pub alerts: usize,
    pub deliveries: usize,
    pub kills: usize,
    pub delivered: usize,
    pub dead: usize,
    pub filtered: usize,
    /// Of the filtered, those folded into a digest.
    pub folded: usize,
    /// Digest deliveries, accounted for besides the promised ones.
    pub digests: usize,
    pub pending: usize,
    /// Deliveries accounted for from their last listing, as the pruner deleted them before the end.
    pub pruned: usize,
    pub lost: Vec<String>,
    pub unaccounted: Vec<String>,
    pub receiver_requests: usize,
    pub recorded_attempts: usize,
    /// Requests the receiver saw that no recorded attempt stands for: attempts in flight at a crash.
    pub unrecorded_requests: usize,
    /// The most unrecorded requests of one delivery.
    pub most_unrecorded_per_delivery: usize,
    /// Timed-out attempts whose request the receiver never read.
    pub unseen_timeouts: usize,
    /// Deliveries answered 2XX more than once.
    pub duplicates: usize,
}

impl Accounting {
    pub fn of(run: &ChaosRun<'_>) -> Accounting {
        let mut books = Accounting {
            alerts: run.alerts,
            deliveries: run.promised.len(),
            kills: run.kills,
            receiver_requests: run.received.len(),
            ..Accounting::default()
        };
        // Each digest a stored delivery links to is promised too, and folds the deliveries linking to it.
        let mut folded_into: HashMap<&str, usize> = HashMap::new();
        for delivery in run.stored.iter().chain(run.pruned) {
            if let Some(digest) = delivery.digest_delivery_id.as_deref() {
                *folded_into.entry(digest).or_default() += 1;
            }
        }
        let digests: Vec<Promised> = folded_into
            .keys()
            .map(|id| Promised {
                id: id.to_string(),
                filtered_by_rule: false,
            })
            .collect();
        books.digests = digests.len();
        let promised: HashSet<&str> = run
            .promised
            .iter()
            .chain(&digests)
            .map(|p| p.id.as_str())
            .collect();
        let stored: HashMap<&str, &Stored> =
            run.stored.iter().map(|s| (s.id.as_str(), s)).collect();
        let pruned: HashMap<&str, &Stored> =
            run.pruned.iter().map(|s| (s.id.as_str(), s)).collect();
        for request in run.received {
            let Some(id) = request.header("webhook-id") else {
                continue;
            };
            let Some(&folded) = folded_into.get(id) else {
                continue;
            };
            let said = digest_folded(request);
            if request.answer.is_success() && said != Some(folded as u64) {
                books.unaccounted.push(format!(
                    "digest {id} said it folded {said:?} alerts, but {folded} deliveries link to it"
                ));
            }
        }
        let mut requests: HashMap<&str, Vec<(Option<u32>, &Behaviour)>> = HashMap::new();
        for request in run.received {
            match request.header("webhook-id") {
                Some(id) if promised.contains(id) => requests
                    .entry(id)
                    .or_default()
                    .push((attempt_number(request), &request.answer)),
                other => books.unaccounted.push(format!(
                    "a request to {} with webhook-id {other:?} that no accepted alert has",
                    request.path
                )),
            }
        }
        for extra in run
            .stored
            .iter()
            .filter(|s| !promised.contains(s.id.as_str()))
        {
            books.unaccounted.push(format!(
                "{} is in the store but no accepted alert has it",
                extra.id
            ));
        }
        for promise in run.promised.iter().chain(&digests) {
            let seen = requests.remove(promise.id.as_str()).unwrap_or_default();
            let id = promise.id.as_str();
            match (stored.get(id), pruned.get(id)) {
                (Some(delivery), _) => books.account(promise, delivery, &seen, run),
                (None, Some(last_listed)) => {
                    books.pruned += 1;
                    books.account(promise, last_listed, &seen, run);
                }
                (None, None) => books.lost.push(format!(
                    "{} was accepted but is not in the store",
                    promise.id
                )),
            }
        }
        books
    }

    fn account(
        &mut self,
        promise: &Promised,
        delivery: &Stored,
        seen: &[(Option<u32>, &Behaviour)],
        run: &ChaosRun<'_>,
    ) {
        let id = &promise.id;
        self.recorded_attempts += delivery.attempts.len();
        let successes = seen
            .iter()
            .filter(|(_, answer)| answer.is_success())
            .count();
        if successes > 1 {
            self.duplicates += 1;
        }
        match delivery.status {
            DeliveryStatus::Pending => {
                self.pending += 1;
                self.unaccounted.push(format!(
                    "{id} is still pending after attempts {:?}",
                    numbers(&delivery.attempts)
                ));
            }
            DeliveryStatus::Delivered => {
                self.delivered += 1;
                if successes == 0 {
                    self.lost.push(format!(
                        "{id} is delivered but the receiver never answered it 2XX"
                    ));
                }
            }
            DeliveryStatus::Dead => {
                self.dead += 1;
                let last_made = delivery.attempts.iter().any(|a| a.number == MAX_ATTEMPTS)
                    || seen.iter().any(|(n, _)| *n == Some(MAX_ATTEMPTS));
                if !last_made || delivery.attempts.iter().any(Attempt::succeeded) {
                    self.lost.push(format!(
                        "{id} is dead after attempts {:?}",
                        numbers(&delivery.attempts)
                    ));
                }
            }
            DeliveryStatus::Filtered => {
                self.filtered += 1;
                if delivery.digest_delivery_id.is_some() && !promise.filtered_by_rule {
                    // Its digest is a promise of its own: lost if it is not stored.
                    self.folded += 1;
                    if !seen.is_empty() {
                        self.unaccounted.push(format!(
                            "{id} was folded into a digest but the receiver saw it {} times",
                            seen.len()
                        ));
                    }
                } else if !promise.filtered_by_rule {
                    self.lost
                        .push(format!("{id} is filtered though its endpoint takes it"));
                }
            }
        }
        let mut wrong = Vec::new();
        if promise.filtered_by_rule && delivery.status != DeliveryStatus::Filtered {
            wrong.push(format!(
                "ended {} though its endpoint filters it",
                delivery.status.as_str()
            ));
        }
        if promise.filtered_by_rule && !seen.is_empty() {
            wrong.push(format!("the receiver saw it {} times", seen.len()));
        }
        let recorded = numbers(&delivery.attempts);
        let distinct: BTreeSet<u32> = recorded.iter().copied().collect();
        if distinct.len() != recorded.len() {
            wrong.push(format!("attempt numbers recorded twice: {recorded:?}"));
        }
        if run.numbering == Numbering::Contiguous
            && !distinct.iter().copied().eq(1..=distinct.len() as u32)
        {
            wrong.push(format!("attempt numbers not 1, 2, 3, …: {recorded:?}"));
        }
        if recorded.iter().any(|n| *n > MAX_ATTEMPTS) {
            wrong.push(format!("more than {MAX_ATTEMPTS} attempts: {recorded:?}"));
        }
        let mut unseen_timeouts = 0;
        for attempt in &delivery.attempts {
            let matched = seen
                .iter()
                .any(|(n, answer)| *n == Some(attempt.number) && answered_as(answer, attempt));
            if !matched && attempt.error_class == Some(ErrorClass::Timeout) {
                unseen_timeouts += 1;
            } else if !matched {
                wrong.push(format!(
                    "attempt {} (status {:?}, error {:?}) has no matching request at the receiver",
                    attempt.number, attempt.status_code, attempt.error_class
                ));
            }
        }
        self.unseen_timeouts += unseen_timeouts;
        let reached_the_receiver = delivery.attempts.len() - unseen_timeouts;
        match seen.len().checked_sub(reached_the_receiver) {
            None => wrong.push(format!(
                "{reached_the_receiver} attempts recorded (besides {unseen_timeouts} unseen timeouts) but only {} requests received",
                seen.len()
            )),
            Some(unrecorded) => {
                self.unrecorded_requests += unrecorded;
                self.most_unrecorded_per_delivery =
                    self.most_unrecorded_per_delivery.max(unrecorded);
                if unrecorded > run.kills {
                    wrong.push(format!(
                        "{unrecorded} requests received without a recorded attempt, more than the {} crashes",
                        run.kills
                    ));
                }
            }
        }
        if !wrong.is_empty() {
            self.unaccounted.push(format!("{id}: {}", wrong.join("; ")));
        }
    }

    pub fn duplicate_rate(&self) -> f64 {
        if self.delivered == 0 {
            0.0
        } else {
            self.duplicates as f64 / self.delivered as f64
        }
    }

    /// The figures as a two-column table, then every lost and unaccounted item.
    pub fn table(&self, title: &str) -> String {
        let rows: [(&str, String); 18] = [
            ("alerts", self.alerts.to_string()),
            ("deliveries", self.deliveries.to_string()),
            ("kills", self.kills.to_string()),
            ("delivered", self.delivered.to_string()),
            ("dead", self.dead.to_string()),
            ("filtered", self.filtered.to_string()),
            ("  of them folded", self.folded.to_string()),
            (
                "digests",
                format!("{} (besides the deliveries)", self.digests),
            ),
            ("pending", self.pending.to_string()),
            (
                "pruned",
                format!("{} (accounted from their last listing)", self.pruned),
            ),
            ("lost", self.lost.len().to_string()),
            ("unaccounted", self.unaccounted.len().to_string()),
            ("receiver requests", self.receiver_requests.to_string()),
            ("recorded attempts", self.recorded_attempts.to_string()),
            (
                "in flight at a kill",
                format!(
                    "{} (at most {} for one delivery)",
                    self.unrecorded_requests, self.most_unrecorded_per_delivery
                ),
            ),
            (
                "timeouts unseen",
                format!(
                    "{} (the receiver never read their request)",
                    self.unseen_timeouts
                ),
            ),
            ("duplicates", self.duplicates.to_string()),
            (
                "duplicate rate",
                format!("{:.2} % of delivered", 100.0 * self.duplicate_rate()),
            ),
        ];
        let mut out = format!("{title}\n");
        for (name, value) in rows {
            let _ = writeln!(out, "  {name:<20} {value}");
        }
        for item in &self.lost {
            let _ = writeln!(out, "  LOST: {item}");
        }
        for item in &self.unaccounted {
            let _ = writeln!(out, "  UNACCOUNTED: {item}");
        }
        out
    }
}

fn numbers(attempts: &[Attempt]) -> Vec<u32> {
    attempts.iter().map(|a| a.number).collect()
}

/// How many alerts a digest's chaos body says it folded.
fn digest_folded(request: &Received) -> Option<u64> {
    let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
    body["folded"].as_u64()
}

/// The `attempt` the chaos body carries.
fn attempt_number(request: &Received) -> Option<u32> {
    let body: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
    body["attempt"].as_str()?.parse().ok()
}

/// Whether a recorded attempt's outcome is what the receiver's answer produces. A timeout fits any
/// answer: on a busy machine the sender may give up before even a quick answer arrives.
fn answered_as(answer: &Behaviour, attempt: &Attempt) -> bool {
    if attempt.error_class == Some(ErrorClass::Timeout) {
        return true;
    }
    match answer {
        Behaviour::Status(code, ..) if (200..300).contains(code) => attempt.succeeded(),
        Behaviour::Status(code, ..) => {
            attempt.status_code == Some(*code) && attempt.error_class == Some(ErrorClass::Non2xx)
        }
        Behaviour::Slow(_) | Behaviour::SlowWith(..) => false,
        // Its status once the gate opened; a timeout before.
        Behaviour::Held(_, code) if (200..300).contains(code) => attempt.succeeded(),
        Behaviour::Held(_, code) => {
            attempt.status_code == Some(*code) && attempt.error_class == Some(ErrorClass::Non2xx)
        }
        Behaviour::Reset | Behaviour::ResetMidResponse => {
            attempt.error_class == Some(ErrorClass::Connect)
        }
    }
}
