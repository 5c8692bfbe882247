//! Per-endpoint pacing inside one process (the embedded server, or one Lambda container): how many
//! attempts to an endpoint may be in flight at once, and the rate limit. A delivery that may not start now
//! is told how long to wait, and waits on the queue without spending an attempt.
//!
//! In-flight attempts are bounded by the endpoint's `max_in_flight` and by a window that opens as the
//! endpoint answers (TCP's slow start): an endpoint starts with two attempts at once, gains one for every
//! success, and falls back to one when an attempt times out. A healthy endpoint reaches its limit within a
//! few dozen deliveries; one that hangs never holds more than two of the worker's slots, even before
//! anything is known about it. Quick failures (refused, 5XX) hold no slot for long and leave the window as
//! it is; the circuit breaker deals with them.
//!
//! A delivery that finds a quick endpoint's slots taken waits for one in memory, briefly, before it is told
//! to wait on the queue: holding it there costs two writes (putting the task off, leasing it again) and the
//! reads of a second look, where a slot of an endpoint that answers in milliseconds frees in less. No more
//! deliveries wait this way than the endpoint may have in flight, and none longer than about one of its
//! attempts, so a slow or hanging endpoint (whose attempts are not quick) still holds only its in-flight
//! slots of the worker's.
//!
//! The rate limit hands out start times one interval apart (a generic cell rate algorithm with
//! reservations): a delivery told to wait is given its own future start, so a backlog held for a 1-per-
//! second endpoint comes back one per second instead of all at once, again and again.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use crate::ids::{EndpointId, TenantId};

/// How many attempts an endpoint may have in flight when it does not say: half the embedded worker's
/// default 32, so that no endpoint holds more than its share.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 16;
/// The most an endpoint may ask for.
pub const MAX_IN_FLIGHT_LIMIT: u32 = 256;
/// The slowest and fastest rate limits an endpoint may ask for, per second.
pub const RATE_LIMIT_RANGE: (f64, f64) = (0.01, 10_000.0);
/// The window of an endpoint nothing is known about yet, unless the process says otherwise.
pub const INITIAL_WINDOW: u32 = 2;
/// How long a delivery waits when the endpoint's in-flight slots are all taken: about one of its recent
/// attempts, within these bounds.
const FULL_WAIT: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(1));
/// The longest an endpoint's typical attempt may take for deliveries to wait in memory for its slots.
const QUICK_ATTEMPT: Duration = Duration::from_millis(50);
/// A reservation nobody came back for within this long after its time is dropped.
const RESERVATION_GRACE: chrono::Duration = chrono::Duration::seconds(30);

/// One endpoint's limits, as pacing applies them now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PaceLimits {
    pub max_in_flight: u32,
    /// Attempts started per second, at most.
    pub rate_per_second: Option<f64>,
}

/// Whether an attempt may start.
#[derive(Debug)]
pub enum Pace {
    /// Start it; the slot is given back when the guard is dropped.
    Go(InFlight),
    /// Not now, the endpoint's in-flight slots are all taken: try again after this long.
    Full(Duration),
    /// Not now, the rate limit gives the next start later: try again after this long.
    RateLimited(Duration),
}

type LaneKey = (TenantId, EndpointId);

/// The lanes of the endpoints this process has sent to.
#[derive(Debug)]
pub struct Pacing {
    lanes: Mutex<HashMap<LaneKey, Lane>>,
    initial_window: u32,
}

#[derive(Debug)]
struct Lane {
    in_flight: u32,
    /// Attempts allowed in flight by the endpoint's recent answers (see the module's doc).
    window: u32,
    /// How long its recent attempts took, smoothed.
    typical_attempt: Duration,
    /// The earliest start the rate limit allows for a delivery without a reservation.
    next_start: Option<DateTime<Utc>>,
    /// Starts promised to deliveries told to wait, in order.
    reserved: VecDeque<DateTime<Utc>>,
    /// Deliveries waiting in memory for a slot, and the signal that one freed.
    waiting: u32,
    freed: Arc<Notify>,
}

impl Lane {
    fn new(window: u32) -> Self {
        Self {
            in_flight: 0,
            window,
            typical_attempt: FULL_WAIT.0,
            next_start: None,
            reserved: VecDeque::new(),
            waiting: 0,
            freed: Arc::new(Notify::new()),
        }
    }
}

/// How an attempt went, as pacing learns from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The endpoint answered, or failed quickly: the window opens by one if it was a success.
    Answered { success: bool },
    /// No answer in time: the attempt held its slot for the whole timeout, and the window closes to one.
    Outage,
}

/// An attempt in flight; dropping it frees the endpoint's slot.
#[derive(Debug)]
pub struct InFlight {
    pacing: Arc<Pacing>,
    key: LaneKey,
}

impl InFlight {
    /// Teaches the endpoint's lane what this attempt met and how long it took.
    pub fn learn(&self, answer: Answer, took: Duration) {
        let mut lanes = self.pacing.lock();
        let Some(lane) = lanes.get_mut(&self.key) else {
            return;
        };
        lane.window = match answer {
            Answer::Answered { success: true } => (lane.window + 1).min(MAX_IN_FLIGHT_LIMIT),
            Answer::Answered { success: false } => lane.window,
            Answer::Outage => 1,
        };
        lane.typical_attempt = (lane.typical_attempt * 3 + took) / 4;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(lane) = self.pacing.lock().get_mut(&self.key) {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            lane.freed.notify_one();
        }
    }
}

impl Pacing {
    /// Lanes whose window starts at `initial_window`: [`INITIAL_WINDOW`] where the process picks among
    /// many tasks (the embedded worker), the batch size where one batch is all it sees (a deliver Lambda,
    /// whose container is often new and whose fairness across endpoints is SQS's).
    pub fn new(initial_window: u32) -> Arc<Self> {
        Arc::new(Self {
            lanes: Mutex::new(HashMap::new()),
            initial_window: initial_window.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<LaneKey, Lane>> {
        self.lanes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether an attempt to the endpoint may start at `now` under `limits`.
    pub fn admit(
        self: &Arc<Self>,
        tenant: &TenantId,
        endpoint: &EndpointId,
        limits: PaceLimits,
        now: DateTime<Utc>,
    ) -> Pace {
        let key = (tenant.clone(), endpoint.clone());
        let mut lanes = self.lock();
        let lane = lanes
            .entry(key.clone())
            .or_insert_with(|| Lane::new(self.initial_window));
        if lane.in_flight >= limits.max_in_flight.min(lane.window).max(1) {
            return Pace::Full(lane.typical_attempt.clamp(FULL_WAIT.0, FULL_WAIT.1));
        }
        if let Some(rate) = limits.rate_per_second {
            if let Some(wait) = lane.rate_wait(rate, now) {
                return Pace::RateLimited(wait);
            }
        } else {
            lane.next_start = None;
            lane.reserved.clear();
        }
        lane.in_flight += 1;
        Pace::Go(InFlight {
            pacing: self.clone(),
            key,
        })
    }

    /// [`Pacing::admit`], except that where the endpoint's slots are all taken and its attempts are quick,
    /// the delivery waits for a slot in memory (see the module's doc) before it is told to wait. `now`
    /// reads the time for each look.
    pub async fn admit_or_wait(
        self: &Arc<Self>,
        tenant: &TenantId,
        endpoint: &EndpointId,
        limits: PaceLimits,
        now: impl Fn() -> DateTime<Utc>,
    ) -> Pace {
        let pace = self.admit(tenant, endpoint, limits, now());
        let Pace::Full(_) = pace else { return pace };
        let key = (tenant.clone(), endpoint.clone());
        let Some((waiter, patience)) = self.wait_in_memory(&key, limits) else {
            return pace;
        };
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            if tokio::time::timeout_at(deadline, waiter.freed.notified())
                .await
                .is_err()
            {
                return self.admit(tenant, endpoint, limits, now());
            }
            match self.admit(tenant, endpoint, limits, now()) {
                Pace::Full(_) => continue,
                pace => return pace,
            }
        }
    }

    /// A place among the deliveries waiting in memory for the lane's slots, and how long to wait, if the
    /// lane's attempts are quick and fewer wait than it may have in flight.
    fn wait_in_memory(
        self: &Arc<Self>,
        key: &LaneKey,
        limits: PaceLimits,
    ) -> Option<(Waiting, Duration)> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(key)?;
        let may_wait = limits.max_in_flight.min(lane.window).max(1);
        if lane.typical_attempt > QUICK_ATTEMPT || lane.waiting >= may_wait {
            return None;
        }
        lane.waiting += 1;
        let patience = lane.typical_attempt.clamp(FULL_WAIT.0, QUICK_ATTEMPT);
        Some((
            Waiting {
                pacing: self.clone(),
                key: key.clone(),
                freed: lane.freed.clone(),
            },
            patience,
        ))
    }

    /// Attempts in flight to the endpoint, and how many its window allows now (what the tests look at).
    #[cfg(test)]
    fn in_flight(&self, tenant: &TenantId, endpoint: &EndpointId) -> (u32, u32) {
        self.lock()
            .get(&(tenant.clone(), endpoint.clone()))
            .map_or((0, self.initial_window), |lane| {
                (lane.in_flight, lane.window)
            })
    }
}

/// A delivery waiting in memory for a lane's slot; it stops counting as one when dropped.
struct Waiting {
    pacing: Arc<Pacing>,
    key: LaneKey,
    freed: Arc<Notify>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(lane) = self.pacing.lock().get_mut(&self.key) {
            lane.waiting = lane.waiting.saturating_sub(1);
        }
    }
}

impl Lane {
    /// `None` to start now (taking a due reservation or the next free start), or how long to wait for a
    /// start reserved now.
    fn rate_wait(&mut self, rate: f64, now: DateTime<Utc>) -> Option<Duration> {
        let interval = chrono::Duration::from_std(Duration::from_secs_f64(1.0 / rate))
            .unwrap_or(chrono::Duration::MAX);
        while self
            .reserved
            .front()
            .is_some_and(|&t| t + RESERVATION_GRACE < now)
        {
            self.reserved.pop_front();
        }
        if self.reserved.front().is_some_and(|&t| t <= now) {
            self.reserved.pop_front();
            return None;
        }
        let next = self.next_start.unwrap_or(now);
        if self.reserved.is_empty() && next <= now {
            self.next_start = Some(now + interval);
            return None;
        }
        let start = next.max(now);
        self.next_start = Some(start + interval);
        self.reserved.push_back(start);
        Some((start - now).to_std().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_790_000_000_000 + ms).unwrap()
    }

    fn ids() -> (TenantId, EndpointId) {
        (TenantId::from("acme"), EndpointId::from("ep_1"))
    }

    const TWO: PaceLimits = PaceLimits {
        max_in_flight: 2,
        rate_per_second: None,
    };

    #[test]
    fn the_window_opens_with_answers_and_closes_on_an_outage() {
        let pacing = Pacing::new(INITIAL_WINDOW);
        let (tenant, endpoint) = ids();
        let limits = PaceLimits {
            max_in_flight: 16,
            rate_per_second: None,
        };
        let admit = || pacing.admit(&tenant, &endpoint, limits, at_ms(0));
        let (Pace::Go(first), Pace::Go(second)) = (admit(), admit()) else {
            panic!("two at first");
        };
        assert!(
            matches!(admit(), Pace::Full(_)),
            "a new endpoint gets two slots"
        );
        first.learn(Answer::Answered { success: true }, Duration::from_millis(5));
        second.learn(Answer::Answered { success: true }, Duration::from_millis(5));
        drop((first, second));
        assert_eq!(pacing.in_flight(&tenant, &endpoint), (0, 4));
        let four: Vec<Pace> = (0..5).map(|_| admit()).collect();
        assert_eq!(
            four.iter().filter(|p| matches!(p, Pace::Go(_))).count(),
            4,
            "two answers opened two more"
        );
        if let Pace::Go(slot) = &four[0] {
            slot.learn(Answer::Outage, Duration::from_secs(2));
        }
        drop(four);
        assert_eq!(pacing.in_flight(&tenant, &endpoint), (0, 1));
    }

    #[test]
    fn an_endpoint_gets_at_most_its_slots_and_a_finished_attempt_frees_one() {
        let pacing = Pacing::new(INITIAL_WINDOW);
        let (tenant, endpoint) = ids();
        let first = pacing.admit(&tenant, &endpoint, TWO, at_ms(0));
        let second = pacing.admit(&tenant, &endpoint, TWO, at_ms(0));
        assert!(matches!((&first, &second), (Pace::Go(_), Pace::Go(_))));
        assert!(matches!(
            pacing.admit(&tenant, &endpoint, TWO, at_ms(0)),
            Pace::Full(_)
        ));
        let other = EndpointId::from("ep_2");
        assert!(
            matches!(pacing.admit(&tenant, &other, TWO, at_ms(0)), Pace::Go(_)),
            "another endpoint has slots of its own"
        );
        drop(first);
        assert_eq!(pacing.in_flight(&tenant, &endpoint).0, 1);
        assert!(matches!(
            pacing.admit(&tenant, &endpoint, TWO, at_ms(0)),
            Pace::Go(_)
        ));
    }

    #[test]
    fn the_rate_limit_gives_each_waiting_delivery_a_start_of_its_own() {
        let pacing = Pacing::new(INITIAL_WINDOW);
        let (tenant, endpoint) = ids();
        let limits = PaceLimits {
            max_in_flight: 100,
            rate_per_second: Some(2.0),
        };
        let mut waits = Vec::new();
        let mut held = Vec::new();
        for _ in 0..4 {
            match pacing.admit(&tenant, &endpoint, limits, at_ms(0)) {
                Pace::Go(slot) => held.push(slot),
                Pace::RateLimited(wait) => waits.push(wait.as_millis()),
                Pace::Full(_) => panic!("slots are free"),
            }
        }
        assert_eq!(held.len(), 1, "one start now");
        assert_eq!(waits, [500, 1000, 1500], "the others one interval apart");
        // The first one told to wait comes back on time and takes its start; a newcomer at that moment
        // waits behind the reservations already made.
        assert!(matches!(
            pacing.admit(&tenant, &endpoint, limits, at_ms(500)),
            Pace::Go(_)
        ));
        match pacing.admit(&tenant, &endpoint, limits, at_ms(500)) {
            Pace::RateLimited(wait) => assert_eq!(wait.as_millis(), 1500),
            Pace::Full(_) => panic!("slots are free"),
            Pace::Go(_) => panic!("a newcomer must not jump the reservations"),
        }
    }

    #[test]
    fn reservations_nobody_came_back_for_expire() {
        let pacing = Pacing::new(INITIAL_WINDOW);
        let (tenant, endpoint) = ids();
        let limits = PaceLimits {
            max_in_flight: 100,
            rate_per_second: Some(1.0),
        };
        let _first = pacing.admit(&tenant, &endpoint, limits, at_ms(0));
        assert!(matches!(
            pacing.admit(&tenant, &endpoint, limits, at_ms(0)),
            Pace::RateLimited(_)
        ));
        assert!(
            matches!(
                pacing.admit(&tenant, &endpoint, limits, at_ms(60_000)),
                Pace::Go(_)
            ),
            "a minute later the lost reservation no longer holds anyone back"
        );
    }

    /// The two slots a new endpoint starts with, taken.
    fn full_lane(pacing: &Arc<Pacing>) -> (InFlight, InFlight) {
        let (tenant, endpoint) = ids();
        let admit = || pacing.admit(&tenant, &endpoint, TWO, at_ms(0));
        let (Pace::Go(first), Pace::Go(second)) = (admit(), admit()) else {
            panic!("two at first");
        };
        (first, second)
    }

    #[tokio::test(start_paused = true)]
    async fn a_delivery_waits_in_memory_for_a_slot_of_a_quick_endpoint() {
        let pacing = Pacing::new(INITIAL_WINDOW);
        let (first, _second) = full_lane(&pacing);
        let waiter = tokio::spawn({
            let pacing = pacing.clone();
            async move {
                let (tenant, endpoint) = ids();
                let started = tokio::time::Instant::now();
                let pace = pacing
                    .admit_or_wait(&tenant, &endpoint, TWO, || at_ms(0))
                    .await;
                (matches!(pace, Pace::Go(_)), started.elapsed())
            }
        });
        tokio::time::sleep(Duration::from_millis(3)).await;
        drop(first);
        let (admitted, waited) = waiter.await.unwrap();
        assert!(admitted, "the freed slot goes to the waiting delivery");
        assert_eq!(waited, Duration::from_millis(3));
    }

    #[tokio::test(start_paused = true)]
    async fn no_slot_frees_in_time_and_the_delivery_is_told_to_wait_on_the_queue() {
        let pacing = Pacing::new(INITIAL_WINDOW);
        let _full = full_lane(&pacing);
        let (tenant, endpoint) = ids();
        let started = tokio::time::Instant::now();
        let pace = pacing
            .admit_or_wait(&tenant, &endpoint, TWO, || at_ms(0))
            .await;
        assert!(matches!(pace, Pace::Full(_)));
        assert_eq!(started.elapsed(), FULL_WAIT.0, "about one attempt");
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_wait_in_memory_than_the_endpoint_may_have_in_flight_nor_for_a_slow_one() {
        let pacing = Pacing::new(INITIAL_WINDOW);
        let (first, second) = full_lane(&pacing);
        let (tenant, endpoint) = ids();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pacing = pacing.clone();
                let (tenant, endpoint) = ids();
                tokio::spawn(async move {
                    pacing
                        .admit_or_wait(&tenant, &endpoint, TWO, || at_ms(0))
                        .await
                })
            })
            .collect();
        tokio::task::yield_now().await;
        let started = tokio::time::Instant::now();
        let third = pacing
            .admit_or_wait(&tenant, &endpoint, TWO, || at_ms(0))
            .await;
        assert!(matches!(third, Pace::Full(_)));
        assert_eq!(started.elapsed(), Duration::ZERO, "two wait already");
        for waiter in waiters {
            assert!(matches!(waiter.await.unwrap(), Pace::Full(_)));
        }

        // Attempts that take 200 ms: nobody waits for them in memory.
        first.learn(
            Answer::Answered { success: false },
            Duration::from_millis(200),
        );
        let started = tokio::time::Instant::now();
        let pace = pacing
            .admit_or_wait(&tenant, &endpoint, TWO, || at_ms(0))
            .await;
        assert!(matches!(pace, Pace::Full(_)));
        assert_eq!(started.elapsed(), Duration::ZERO);
        drop((first, second));
    }
}
