//! How long finished history is kept: alerts, their deliveries and attempts, idempotency records. The
//! same setting on both backends: DynamoDB items get it as their `expires_at`, the embedded store's
//! pruner deletes what is older. Pending deliveries are never history; dead letters are kept until a
//! person replays them, or until a separate dead-letter retention, if one is set, passes.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Thirty days, as DynamoDB kept records before the setting existed.
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(30 * 86_400);
/// Ten years: the longest retention taken (DynamoDB's `expires_at` and SQLite's dates stay far from
/// overflow).
pub const LONGEST: Duration = Duration::from_secs(3650 * 86_400);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// How long a finished alert, delivery and attempt stays after it finished.
    pub history: Duration,
    /// How long a dead letter stays when nobody replays it; `None`: until someone does.
    pub dead_letters: Option<Duration>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RetentionError {
    #[error(
        "{setting}: `{text}` is not a retention; give a duration such as `30d`, `12h`, `90m` or a number of seconds, from 1 second to 3650 days"
    )]
    Invalid { setting: &'static str, text: String },
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            history: DEFAULT_HISTORY,
            dead_letters: None,
        }
    }
}

impl Retention {
    /// From the `--retention` and `--dead-letter-retention` texts; `history` of `None` is the default.
    pub fn parse(
        history: Option<&str>,
        dead_letters: Option<&str>,
    ) -> Result<Self, RetentionError> {
        Ok(Self {
            history: match history {
                Some(text) => parse("retention", text)?,
                None => DEFAULT_HISTORY,
            },
            dead_letters: dead_letters
                .map(|text| parse("dead-letter retention", text))
                .transpose()?,
        })
    }

    /// History that finished before this moment is past retention.
    pub fn history_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        before(now, self.history)
    }

    /// Dead letters that died before this moment are past retention; `None` while they are kept.
    pub fn dead_letter_cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.dead_letters.map(|keep| before(now, keep))
    }
}

fn before(now: DateTime<Utc>, keep: Duration) -> DateTime<Utc> {
    let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    now.checked_sub_signed(keep)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `30d`, `12h`, `90m`, `45s`, or a bare number of seconds.
fn parse(setting: &'static str, text: &str) -> Result<Duration, RetentionError> {
    let trimmed = text.trim();
    let parsed = match trimmed.parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) => crate::delivery::retry_policy::parse_duration(trimmed),
    };
    parsed
        .filter(|d| *d >= Duration::from_secs(1) && *d <= LONGEST)
        .ok_or_else(|| RetentionError::Invalid {
            setting,
            text: text.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_hours_and_bare_seconds_are_taken_and_the_default_is_thirty_days() {
        assert_eq!(Retention::default().history, DEFAULT_HISTORY);
        let days = Retention::parse(Some("90d"), None).unwrap();
        assert_eq!(days.history, Duration::from_secs(90 * 86_400));
        assert_eq!(days.dead_letters, None);
        let short = Retention::parse(Some("5"), Some("12h")).unwrap();
        assert_eq!(short.history, Duration::from_secs(5));
        assert_eq!(short.dead_letters, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(Retention::parse(None, None).unwrap(), Retention::default());
    }

    #[test]
    fn nothing_shorter_than_a_second_longer_than_ten_years_or_unitless_is_taken() {
        for text in ["0", "500ms", "3651d", "30 days", "", "-1", "d"] {
            assert!(
                matches!(
                    Retention::parse(Some(text), None),
                    Err(RetentionError::Invalid {
                        setting: "retention",
                        ..
                    })
                ),
                "{text:?}"
            );
        }
        let refused = Retention::parse(None, Some("forever")).unwrap_err();
        assert!(
            refused
                .to_string()
                .starts_with("dead-letter retention: `forever`")
        );
    }

    #[test]
    fn the_cutoffs_lie_one_retention_before_now() {
        let now = DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let retention = Retention::parse(Some("1d"), Some("2d")).unwrap();
        assert_eq!(
            retention.history_cutoff(now).to_rfc3339(),
            "2026-12-04T12:00:00+00:00"
        );
        assert_eq!(
            retention.dead_letter_cutoff(now).map(|t| t.to_rfc3339()),
            Some("2026-12-03T12:00:00+00:00".to_string())
        );
        assert_eq!(Retention::default().dead_letter_cutoff(now), None);
    }
}
