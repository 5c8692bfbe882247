//! Maintenance windows: times when a tenant's `error` and `reminder` messages to an endpoint (or to all its
//! endpoints) are held rather than sent, while `ok` messages go as always. A window is given once, as a
//! start and an end, or as a weekly schedule: weekdays and a time range in a named time zone (a range whose
//! end is not after its start runs past midnight into the next day).
//!
//! This module parses and checks windows and answers whether one is open at a moment, and until when;
//! holding the deliveries is the attempt's ([`crate::service`]), keeping the windows the store's.

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::EndpointId;
use crate::input_error::{FieldError, ObjectReader};

/// The most windows one tenant may keep.
pub const MAX_WINDOWS: usize = 100;
/// The longest single window: a longer one is more likely a mistake than maintenance.
pub const LONGEST_ONCE: Duration = Duration::days(31);

const FIELDS: &[&str] = &["name", "endpoint_id", "start", "end", "recurring"];
const RECURRING_FIELDS: &[&str] = &["time_zone", "days", "from", "to"];
const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// One maintenance window of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// `mw_…`, chosen when it is created.
    pub id: String,
    pub name: String,
    /// The endpoint it holds messages to; `None`: every endpoint of the tenant.
    pub endpoint_id: Option<EndpointId>,
    pub schedule: Schedule,
    pub created_at: DateTime<Utc>,
}

/// When a window is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// From `start` until `end`, once.
    Once {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    },
    /// Every listed weekday from `from` until `to`, local time in `time_zone` (an IANA name).
    Weekly {
        time_zone: String,
        days: Vec<String>,
        from: String,
        to: String,
    },
}

impl MaintenanceWindow {
    /// Whether the window applies to deliveries to `endpoint`.
    pub fn covers(&self, endpoint: &EndpointId) -> bool {
        self.endpoint_id.as_ref().is_none_or(|e| e == endpoint)
    }

    /// The end of the occurrence open at `now`, if one is.
    pub fn open_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.schedule {
            Schedule::Once { start, end } => (*start <= now && now < *end).then_some(*end),
            Schedule::Weekly {
                time_zone,
                days,
                from,
                to,
            } => {
                let weekly = Weekly::parse(time_zone, days, from, to).ok()?;
                weekly.open_until(now)
            }
        }
    }
}

/// Until when any of `windows` that covers `endpoint` is open at `now`: the latest end among them.
pub fn held_until(
    windows: &[MaintenanceWindow],
    endpoint: &EndpointId,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    windows
        .iter()
        .filter(|w| w.covers(endpoint))
        .filter_map(|w| w.open_until(now))
        .max()
}

/// A weekly schedule, parsed.
struct Weekly {
    zone: Tz,
    days: Vec<Weekday>,
    from: NaiveTime,
    to: NaiveTime,
}

impl Weekly {
    /// Parses the stored or given parts; the error names the part (`time_zone`, `days`, `from`, `to`).
    fn parse(
        zone: &str,
        days: &[String],
        from: &str,
        to: &str,
    ) -> Result<Self, (&'static str, String)> {
        let zone: Tz = zone.parse().map_err(|_| {
            (
                "time_zone",
                format!("`{zone}` is not a time zone name such as Europe/Berlin or UTC"),
            )
        })?;
        if days.is_empty() {
            return Err((
                "days",
                "name at least one day: mon, tue, wed, thu, fri, sat, sun".into(),
            ));
        }
        let days = days
            .iter()
            .map(|day| {
                DAYS.iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(day))
                    .map(|(_, weekday)| *weekday)
                    .ok_or_else(|| {
                        (
                            "days",
                            format!("`{day}` is not one of mon, tue, wed, thu, fri, sat, sun"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let time = |part: &'static str, text: &str| {
            NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| {
                (
                    part,
                    format!("`{text}` is not a time of day as HH:MM (24 hours)"),
                )
            })
        };
        let (from, to) = (time("from", from)?, time("to", to)?);
        if from == to {
            return Err(("to", "`to` must differ from `from`".into()));
        }
        Ok(Self {
            zone,
            days,
            from,
            to,
        })
    }

    /// The occurrences that could hold `now` start on its local date or the day before (a range past
    /// midnight); the end of the one that does.
    fn open_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&self.zone).date_naive();
        [today.pred_opt()?, today]
            .into_iter()
            .filter(|day| self.days.contains(&day.weekday()))
            .filter_map(|day| {
                let start = self.local(day.and_time(self.from))?;
                let end_day = if self.to > self.from {
                    day
                } else {
                    day.succ_opt()?
                };
                let end = self.local(end_day.and_time(self.to))?;
                (start <= now && now < end).then_some(end)
            })
            .max()
    }

    /// A local time as UTC: the earlier of an ambiguous time (the autumn change), the moment the clocks
    /// jump to for one that does not exist (the spring change).
    fn local(&self, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
        let mut probe = local;
        for _ in 0..4 {
            if let Some(at) = self.zone.from_local_datetime(&probe).earliest() {
                return Some(at.with_timezone(&Utc));
            }
            probe += Duration::minutes(30);
        }
        None
    }
}

/// What a `POST /v1/maintenance-windows` body gives: every field checked and named in its error.
pub fn from_json(
    body: &Value,
    id: String,
    now: DateTime<Utc>,
) -> Result<MaintenanceWindow, FieldError> {
    let reader = ObjectReader::new("", body, FIELDS)?;
    let name = reader.required_string("name", 200)?.to_string();
    let endpoint_id = reader.string("endpoint_id", 200)?.map(EndpointId::from);
    let start = reader.string("start", 64)?;
    let end = reader.string("end", 64)?;
    let recurring = reader.value("recurring").filter(|v| !v.is_null());
    let schedule = match (start, end, recurring) {
        (Some(start), Some(end), None) => once(start, end)?,
        (None, None, Some(recurring)) => weekly(recurring)?,
        (_, _, Some(_)) => {
            return Err(FieldError::invalid(
                "recurring",
                "give either `start` and `end`, or `recurring`, not both",
            ));
        }
        (None, _, None) => return Err(FieldError::missing("start")),
        (Some(_), None, None) => return Err(FieldError::missing("end")),
    };
    Ok(MaintenanceWindow {
        id,
        name,
        endpoint_id,
        schedule,
        created_at: now,
    })
}

fn once(start: &str, end: &str) -> Result<Schedule, FieldError> {
    let time = |field: &str, text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                FieldError::invalid(
                    field,
                    format!("`{field}` must be an RFC 3339 time such as 2026-12-06T22:00:00Z"),
                )
            })
    };
    let (start, end) = (time("start", start)?, time("end", end)?);
    if end <= start {
        return Err(FieldError::invalid("end", "`end` must be after `start`"));
    }
    if end - start > LONGEST_ONCE {
        return Err(FieldError::invalid(
            "end",
            format!("a window lasts at most {} days", LONGEST_ONCE.num_days()),
        ));
    }
    Ok(Schedule::Once { start, end })
}

fn weekly(value: &Value) -> Result<Schedule, FieldError> {
    let reader = ObjectReader::new("recurring", value, RECURRING_FIELDS)?;
    let time_zone = reader.required_string("time_zone", 64)?.to_string();
    let days: Vec<String> = match reader.value("days") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|d| d.as_str().map(str::to_ascii_lowercase))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                FieldError::invalid(
                    "recurring.days",
                    "`recurring.days` must be a list of day names",
                )
            })?,
        None => return Err(FieldError::missing("recurring.days")),
        Some(_) => {
            return Err(FieldError::invalid(
                "recurring.days",
                "`recurring.days` must be a list of day names such as [\"sat\", \"sun\"]",
            ));
        }
    };
    let from = reader.required_string("from", 5)?.to_string();
    let to = reader.required_string("to", 5)?.to_string();
    Weekly::parse(&time_zone, &days, &from, &to).map_err(|(part, message)| {
        let field = format!("recurring.{part}");
        FieldError::invalid(&field, format!("`{field}`: {message}"))
    })?;
    Ok(Schedule::Weekly {
        time_zone,
        days,
        from,
        to,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn window(body: Value) -> MaintenanceWindow {
        from_json(&body, "mw_1".into(), at("2026-12-01T00:00:00Z")).unwrap()
    }

    #[test]
    fn a_window_given_once_is_open_from_its_start_until_its_end() {
        let w = window(
            json!({"name": "upgrade", "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00+00:00"}),
        );
        assert_eq!(w.open_until(at("2026-12-06T21:59:59Z")), None);
        assert_eq!(
            w.open_until(at("2026-12-06T22:00:00Z")),
            Some(at("2026-12-07T02:00:00Z"))
        );
        assert_eq!(
            w.open_until(at("2026-12-07T01:59:59Z")),
            Some(at("2026-12-07T02:00:00Z"))
        );
        assert_eq!(w.open_until(at("2026-12-07T02:00:00Z")), None);
    }

    #[test]
    fn a_weekly_window_runs_past_midnight_in_its_time_zone() {
        // Saturdays 22:00 to 02:00 in Berlin (UTC+1 in December): 21:00 to 01:00 UTC.
        let w = window(json!({"name": "nightly", "recurring":
            {"time_zone": "Europe/Berlin", "days": ["sat"], "from": "22:00", "to": "02:00"}}));
        // 2026-12-05 is a Saturday.
        assert_eq!(w.open_until(at("2026-12-05T20:59:00Z")), None);
        assert_eq!(
            w.open_until(at("2026-12-05T21:00:00Z")),
            Some(at("2026-12-06T01:00:00Z"))
        );
        assert_eq!(
            w.open_until(at("2026-12-06T00:30:00Z")),
            Some(at("2026-12-06T01:00:00Z"))
        );
        assert_eq!(w.open_until(at("2026-12-06T01:00:00Z")), None);
        // Not on Sunday evening.
        assert_eq!(w.open_until(at("2026-12-06T21:30:00Z")), None);
    }

    #[test]
    fn daylight_saving_moves_a_weekly_window_with_local_time() {
        // Sundays 02:30 to 04:00 in Berlin. On 2026-03-29 the clocks jump from 02:00 to 03:00: the window
        // opens when they do (01:00 UTC) and ends at 04:00 CEST (02:00 UTC).
        let w = window(json!({"name": "dst", "recurring":
            {"time_zone": "Europe/Berlin", "days": ["sun"], "from": "02:30", "to": "04:00"}}));
        assert_eq!(
            w.open_until(at("2026-03-29T01:10:00Z")),
            Some(at("2026-03-29T02:00:00Z"))
        );
        assert_eq!(w.open_until(at("2026-03-29T02:00:00Z")), None);
        // A week later, summer time: 00:30 to 02:00 UTC.
        assert_eq!(
            w.open_until(at("2026-04-05T00:30:00Z")),
            Some(at("2026-04-05T02:00:00Z"))
        );
    }

    #[test]
    fn the_latest_end_of_the_open_windows_covering_the_endpoint_holds() {
        let all = window(
            json!({"name": "all", "start": "2026-12-06T22:00:00Z", "end": "2026-12-06T23:00:00Z"}),
        );
        let db = window(
            json!({"name": "db", "endpoint_id": "ep_db", "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T01:00:00Z"}),
        );
        let windows = [all, db];
        let now = at("2026-12-06T22:30:00Z");
        assert_eq!(
            held_until(&windows, &EndpointId::from("ep_db"), now),
            Some(at("2026-12-07T01:00:00Z"))
        );
        assert_eq!(
            held_until(&windows, &EndpointId::from("ep_web"), now),
            Some(at("2026-12-06T23:00:00Z"))
        );
        assert_eq!(
            held_until(
                &windows,
                &EndpointId::from("ep_web"),
                at("2026-12-06T23:30:00Z")
            ),
            None
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let field = |body: Value| {
            from_json(&body, "mw_1".into(), Utc::now())
                .unwrap_err()
                .field
        };
        assert_eq!(
            field(json!({"start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z"})),
            "name"
        );
        assert_eq!(field(json!({"name": "x"})), "start");
        assert_eq!(
            field(json!({"name": "x", "start": "2026-12-06T22:00:00Z"})),
            "end"
        );
        assert_eq!(
            field(json!({"name": "x", "start": "yesterday", "end": "2026-12-07T02:00:00Z"})),
            "start"
        );
        assert_eq!(
            field(
                json!({"name": "x", "start": "2026-12-07T02:00:00Z", "end": "2026-12-06T22:00:00Z"})
            ),
            "end"
        );
        assert_eq!(
            field(
                json!({"name": "x", "start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"})
            ),
            "end"
        );
        let recurring = |r: Value| field(json!({"name": "x", "recurring": r}));
        assert_eq!(
            recurring(
                json!({"time_zone": "Mars/Olympus", "days": ["sat"], "from": "22:00", "to": "02:00"})
            ),
            "recurring.time_zone"
        );
        assert_eq!(
            recurring(json!({"time_zone": "UTC", "days": [], "from": "22:00", "to": "02:00"})),
            "recurring.days"
        );
        assert_eq!(
            recurring(
                json!({"time_zone": "UTC", "days": ["someday"], "from": "22:00", "to": "02:00"})
            ),
            "recurring.days"
        );
        assert_eq!(
            recurring(json!({"time_zone": "UTC", "days": ["sat"], "from": "10pm", "to": "02:00"})),
            "recurring.from"
        );
        assert_eq!(
            recurring(json!({"time_zone": "UTC", "days": ["sat"], "from": "22:00", "to": "22:00"})),
            "recurring.to"
        );
        assert_eq!(
            recurring(json!({"time_zone": "UTC", "days": ["sat"], "from": "22:00"})),
            "recurring.to"
        );
        assert_eq!(
            field(
                json!({"name": "x", "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z",
            "recurring": {"time_zone": "UTC", "days": ["sat"], "from": "22:00", "to": "02:00"}})
            ),
            "recurring"
        );
        assert_eq!(field(json!({"name": "x", "when": "now"})), "when");
    }
}
