//! An endpoint's figures over the last 24 hours, summarized from its deliveries: deliveries delivered and
//! failed per hour, the attempts' success rate and their p95 latency. Pure: given the deliveries and `now`.

use chrono::{DateTime, Duration, Utc};

use super::Delivery;

/// Hours summarized, one bucket each.
pub const WINDOW_HOURS: usize = 24;

/// What [`summarize`] answers.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointStats {
    /// `now` less 24 hours: the first bucket's start.
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// [`WINDOW_HOURS`] buckets of one hour, oldest first.
    pub hours: Vec<HourCounts>,
    /// Attempts started in the window (every recorded attempt has finished).
    pub attempts: u64,
    /// Of those, the ones answered 2XX.
    pub delivered_attempts: u64,
    /// `delivered_attempts / attempts`; `None` without attempts.
    pub success_rate: Option<f64>,
    /// The 95th percentile (nearest rank) of the attempts' durations; `None` without attempts.
    pub p95_latency_ms: Option<u64>,
}

/// One hour of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCounts {
    pub start: DateTime<Utc>,
    /// Deliveries with an attempt answered 2XX in this hour.
    pub delivered: u64,
    /// Deliveries with a failed attempt in this hour and none that succeeded in it.
    pub failed: u64,
}

/// Summarizes the attempts of `deliveries` started in the 24 hours up to `now`. A delivery counts at most
/// once per hour: as delivered if one of its attempts that hour succeeded, else as failed if one failed.
/// An attempt stamped after `now` (another process's clock running ahead) counts in the last hour.
pub fn summarize(deliveries: &[Delivery], now: DateTime<Utc>) -> EndpointStats {
    let hour = Duration::hours(1);
    let window_start = now - hour * WINDOW_HOURS as i32;
    let mut hours: Vec<HourCounts> = (0..WINDOW_HOURS)
        .map(|i| HourCounts {
            start: window_start + hour * i as i32,
            delivered: 0,
            failed: 0,
        })
        .collect();
    let mut durations = Vec::new();
    let mut delivered_attempts = 0;
    for delivery in deliveries {
        // Per hour of this delivery: (succeeded in it, failed in it).
        let mut outcomes = [(false, false); WINDOW_HOURS];
        for attempt in delivery
            .attempts
            .iter()
            .filter(|a| a.started_at >= window_start)
        {
            let offset = (attempt.started_at - window_start).num_seconds() / hour.num_seconds();
            let bucket = usize::try_from(offset).map_or(0, |o| o.min(WINDOW_HOURS - 1));
            durations.push(attempt.duration_ms);
            if attempt.succeeded() {
                delivered_attempts += 1;
                outcomes[bucket].0 = true;
            } else {
                outcomes[bucket].1 = true;
            }
        }
        for (counts, outcome) in hours.iter_mut().zip(outcomes) {
            match outcome {
                (true, _) => counts.delivered += 1,
                (false, true) => counts.failed += 1,
                (false, false) => {}
            }
        }
    }
    let attempts = durations.len() as u64;
    EndpointStats {
        window_start,
        window_end: now,
        hours,
        attempts,
        delivered_attempts,
        success_rate: (attempts > 0).then(|| delivered_attempts as f64 / attempts as f64),
        p95_latency_ms: percentile(&mut durations, 95),
    }
}

/// The `p`-th percentile by nearest rank: the smallest value with at least `p`% of the values at or below
/// it. `None` for no values.
fn percentile(values: &mut [u64], p: usize) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * p).div_ceil(100).max(1);
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::MessageType;
    use crate::delivery::{Attempt, DeliveryStatus, ErrorClass};
    use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};

    fn now() -> DateTime<Utc> {
        "2026-03-02T12:30:00Z".parse().unwrap()
    }

    /// `minutes_ago` before `now`, answered `status` (or a timeout for `None`) after `duration_ms`.
    fn attempt(minutes_ago: i64, status: Option<u16>, duration_ms: u64) -> Attempt {
        Attempt {
            duration_ms,
            status_code: status,
            error_class: match status {
                None => Some(ErrorClass::Timeout),
                Some(s) if !(200..300).contains(&s) => Some(ErrorClass::Non2xx),
                Some(_) => None,
            },
            ..Attempt::unsent(now() - Duration::minutes(minutes_ago))
        }
    }

    fn delivery(attempts: Vec<Attempt>) -> Delivery {
        let at = attempts
            .first()
            .map_or(now(), |a| a.started_at - Duration::seconds(1));
        Delivery {
            id: DeliveryId::from("dl_1"),
            tenant: TenantId::from("tn_1"),
            alert_id: AlertId::from("al_1"),
            endpoint_id: EndpointId::from("ep_1"),
            message_type: MessageType::Error,
            status: DeliveryStatus::Pending,
            status_reason: None,
            run: 0,
            attempts,
            next_attempt_at: None,
            created_at: at,
            updated_at: at,
            fallback_of: None,
            fallback_delivery_id: None,
            digest_delivery_id: None,
        }
    }

    #[test]
    fn no_deliveries_give_24_empty_hours_and_no_rate_or_latency() {
        let stats = summarize(&[], now());
        assert_eq!(stats.hours.len(), WINDOW_HOURS);
        assert_eq!(stats.hours[0].start, now() - Duration::hours(24));
        assert_eq!(stats.hours[23].start, now() - Duration::hours(1));
        assert!(
            stats
                .hours
                .iter()
                .all(|h| h.delivered == 0 && h.failed == 0)
        );
        assert_eq!(
            (stats.attempts, stats.success_rate, stats.p95_latency_ms),
            (0, None, None)
        );
    }

    #[test]
    fn a_delivery_counts_once_per_hour_delivered_over_failed() {
        let retried_then_delivered = delivery(vec![
            attempt(50, Some(500), 10),
            attempt(40, None, 2000),
            attempt(35, Some(200), 20),
        ]);
        let failed_twice = delivery(vec![attempt(10, Some(503), 5), attempt(5, Some(503), 5)]);
        let stats = summarize(&[retried_then_delivered, failed_twice], now());
        let last = stats.hours[23];
        assert_eq!((last.delivered, last.failed), (1, 1));
        assert_eq!((stats.attempts, stats.delivered_attempts), (5, 1));
        assert_eq!(stats.success_rate, Some(0.2));
    }

    #[test]
    fn attempts_land_in_the_hour_they_started_and_older_ones_are_left_out() {
        let spread = delivery(vec![
            attempt(25 * 60, Some(500), 1),
            attempt(23 * 60 + 59, Some(500), 1),
            attempt(61, Some(500), 1),
            attempt(59, Some(200), 1),
        ]);
        let stats = summarize(&[spread], now());
        assert_eq!((stats.hours[0].delivered, stats.hours[0].failed), (0, 1));
        assert_eq!((stats.hours[22].delivered, stats.hours[22].failed), (0, 1));
        assert_eq!((stats.hours[23].delivered, stats.hours[23].failed), (1, 0));
        assert_eq!(stats.attempts, 3, "the attempt 25 hours ago is outside");
    }

    #[test]
    fn an_attempt_stamped_after_now_counts_in_the_last_hour() {
        let ahead = delivery(vec![attempt(-2, Some(200), 7)]);
        let stats = summarize(&[ahead], now());
        assert_eq!(stats.hours[23].delivered, 1);
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let attempts = (1..=100).map(|ms| attempt(1, Some(200), ms)).collect();
        assert_eq!(
            summarize(&[delivery(attempts)], now()).p95_latency_ms,
            Some(95)
        );
        let one = delivery(vec![attempt(1, Some(200), 42)]);
        assert_eq!(summarize(&[one], now()).p95_latency_ms, Some(42));
        let mut twenty: Vec<u64> = (1..=20).rev().collect();
        assert_eq!(percentile(&mut twenty, 95), Some(19));
    }
}
