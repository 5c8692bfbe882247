//! When to try a failed delivery again: the backoff schedule, jitter, `Retry-After`, and the attempt limit.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Attempts per delivery run, the first included; the tenth failure makes the delivery dead.
pub const MAX_ATTEMPTS: u32 = 10;
/// A `Retry-After` longer than this is clamped to it.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(6 * 3600);

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay before attempt 2, 3, …; the last entry repeats when there are fewer entries than retries.
    delays: Vec<Duration>,
    /// Each delay is spread uniformly over ±this fraction so that retries of many deliveries do not
    /// arrive at a recovering endpoint in one burst.
    jitter: f64,
}

impl Default for RetryPolicy {
    /// 5 s, 30 s, 2 min, 5 min, 10 min, 20 min, 40 min, 1 h, 2 h: the tenth attempt comes about 4 h 17 min
    /// after the first, long enough to ride out an endpoint's deploy or outage, short enough to still matter.
    fn default() -> Self {
        let secs = [5, 30, 120, 300, 600, 1200, 2400, 3600, 7200];
        Self {
            delays: secs.into_iter().map(Duration::from_secs).collect(),
            jitter: 0.2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid retry delay `{0}`: use a comma-separated list such as `100ms,2s,5m,1h`")]
pub struct RetryDelaysError(String);

impl RetryPolicy {
    /// Parses `ALERTWIRE_RETRY_DELAYS`, e.g. `100ms,200ms,1s`; such a schedule has no jitter, so tests and
    /// trials are predictable.
    pub fn parse(text: &str) -> Result<Self, RetryDelaysError> {
        let delays = text
            .split(',')
            .map(|part| {
                parse_duration(part.trim()).ok_or_else(|| RetryDelaysError(part.trim().to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            delays,
            jitter: 0.0,
        })
    }

    /// The longest delay [`delay_after`](Self::delay_after) can give: the longest of the schedule with
    /// its jitter, or a `Retry-After` at the cap.
    pub fn longest_delay(&self) -> Duration {
        let longest = self.delays.iter().max().copied().unwrap_or_default();
        longest.mul_f64(1.0 + self.jitter).max(RETRY_AFTER_CAP)
    }

    /// The longest a run can spend waiting between its first and its last attempt: each of its
    /// [`MAX_ATTEMPTS`]` - 1` waits at its longest, or at [`RETRY_AFTER_CAP`] if a receiver asks for more.
    pub fn longest_run(&self) -> Duration {
        (1..MAX_ATTEMPTS)
            .map(|n| {
                let index = (n as usize - 1).min(self.delays.len().saturating_sub(1));
                let base = self.delays.get(index).copied().unwrap_or_default();
                base.mul_f64(1.0 + self.jitter).max(RETRY_AFTER_CAP)
            })
            .sum()
    }

    /// How long to wait after failed attempt number `failed_attempt` (1-based), given the receiver's
    /// `Retry-After` if it sent one. Never less than the schedule, never more than the cap.
    pub fn delay_after(&self, failed_attempt: u32, retry_after: Option<Duration>) -> Duration {
        let index = (failed_attempt.max(1) as usize - 1).min(self.delays.len().saturating_sub(1));
        let base = self.delays.get(index).copied().unwrap_or_default();
        let jittered = if self.jitter > 0.0 {
            base.mul_f64(1.0 + rand::random_range(-self.jitter..=self.jitter))
        } else {
            base
        };
        match retry_after {
            Some(asked) => jittered.max(asked.min(RETRY_AFTER_CAP)),
            None => jittered,
        }
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

/// `250ms`, `5s`, `10m`, `2h` or `5d`: the durations alertwire's settings take.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        "d" => Some(Duration::from_secs(n * 86_400)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_starts_in_seconds_and_ends_within_hours() {
        let policy = RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        };
        let total: Duration = (1..MAX_ATTEMPTS).map(|n| policy.delay_after(n, None)).sum();
        assert_eq!(policy.delay_after(1, None), Duration::from_secs(5));
        assert!(
            total > Duration::from_secs(3 * 3600) && total < Duration::from_secs(5 * 3600),
            "{total:?}"
        );
    }

    #[test]
    fn the_longest_delay_bounds_every_delay_with_jitter_and_retry_after() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.longest_delay(), RETRY_AFTER_CAP);
        let slow = RetryPolicy::parse("1m,10h").unwrap();
        assert_eq!(slow.longest_delay(), Duration::from_secs(10 * 3600));
        for n in 1..=MAX_ATTEMPTS {
            for asked in [None, Some(Duration::from_secs(24 * 3600))] {
                assert!(policy.delay_after(n, asked) <= policy.longest_delay());
                assert!(slow.delay_after(n, asked) <= slow.longest_delay());
            }
        }
    }

    #[test]
    fn jitter_stays_within_its_band() {
        let policy = RetryPolicy::default();
        for _ in 0..1000 {
            let d = policy.delay_after(2, None).as_secs_f64();
            assert!((24.0..=36.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn configured_delays_parse_and_the_last_repeats() {
        let policy = RetryPolicy::parse("100ms, 2s,5m,1h").unwrap();
        assert_eq!(policy.delay_after(1, None), Duration::from_millis(100));
        assert_eq!(policy.delay_after(2, None), Duration::from_secs(2));
        assert_eq!(policy.delay_after(9, None), Duration::from_secs(3600));
        assert!(RetryPolicy::parse("100,2s").is_err());
        assert!(RetryPolicy::parse("1w").is_err());
        assert_eq!(
            RetryPolicy::parse("1d").unwrap().delay_after(1, None),
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn the_longest_wait_and_run_count_jitter_and_retry_after() {
        let hour = Duration::from_secs(3600);
        let policy = RetryPolicy::parse("1s,10h,2h").unwrap();
        assert_eq!(policy.longest_delay(), 10 * hour);
        // Waits 1 s, 10 h, then 2 h seven times; a receiver may stretch each to 6 h.
        assert_eq!(policy.longest_run(), 6 * hour + 10 * hour + 7 * 6 * hour);
        let default = RetryPolicy::default();
        assert_eq!(
            default.longest_delay(),
            RETRY_AFTER_CAP,
            "2 h + 20 % is less than a Retry-After may ask"
        );
        assert_eq!(default.longest_run(), 9 * RETRY_AFTER_CAP);
    }

    #[test]
    fn retry_after_lengthens_but_never_shortens_and_is_clamped() {
        let policy = RetryPolicy::parse("1s").unwrap();
        assert_eq!(
            policy.delay_after(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            policy.delay_after(1, Some(Duration::ZERO)),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy.delay_after(1, Some(Duration::from_secs(10 * 86400))),
            RETRY_AFTER_CAP
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
