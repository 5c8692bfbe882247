//! Uptrends' custom-integration variables (`@alert.description`, `@monitor.name`, …): what each renders
//! in alertwire, and how they are added to a context.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::alert::{Alert, MessageType};

/// Where an Uptrends variable's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UptrendsSource {
    /// The value of this Mustache variable.
    Same(&'static str),
    /// `Alert`, `Ok` or `Reminder`, from the message type error, ok or reminder.
    AlertType,
    /// A moment of the alert, in one of Uptrends' formats.
    Time(Moment, TimeFormat),
    /// Nothing in an alertwire alert means this: always the empty string.
    Empty,
}

/// The moments Uptrends' timestamps name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// When alertwire accepted the alert.
    Received,
    /// When the problem began: the start of the alert's time frame, or without one when it was accepted.
    FirstError,
}

/// Uptrends' two ways of writing a time. alertwire has no account time zone or culture: times are UTC, and
/// "formatted" is the en-US form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// ISO 8601 without offset or fraction: `2026-11-23T10:05:00`.
    Iso,
    /// `11/23/2026 10:05 AM`.
    Formatted,
}

impl TimeFormat {
    fn format(self, time: DateTime<Utc>) -> String {
        match self {
            TimeFormat::Iso => time.format("%Y-%m-%dT%H:%M:%S").to_string(),
            TimeFormat::Formatted => time.format("%-m/%-d/%Y %-I:%M %p").to_string(),
        }
    }
}

/// Every variable of Uptrends' custom integrations ("Alerting system variables"), what it renders in
/// alertwire, and what that is; the README's catalogue shows them beside the Mustache names.
pub const UPTRENDS_VARIABLES: &[(&str, UptrendsSource, &str)] = &[
    (
        "@account.accountId",
        UptrendsSource::Same("account_id"),
        "the tenant's id",
    ),
    (
        "@alert.alertGuid",
        UptrendsSource::Same("alert_event_id"),
        "the alert's id (`al_…`, not a GUID)",
    ),
    (
        "@alert.description",
        UptrendsSource::Same("alert_description"),
        "the alert's description (may be empty)",
    ),
    (
        "@alert.firstErrorDescription",
        UptrendsSource::Same("alert_description"),
        "the alert's description (may be empty)",
    ),
    (
        "@alert.type",
        UptrendsSource::AlertType,
        "`Alert`, `Ok` or `Reminder` for message type `error`, `ok` or `reminder`",
    ),
    (
        "@alert.timestamp",
        UptrendsSource::Time(Moment::Received, TimeFormat::Iso),
        "when alertwire accepted the alert, UTC, as `2026-11-23T10:05:00`",
    ),
    (
        "@alert.timestampUtc",
        UptrendsSource::Time(Moment::Received, TimeFormat::Iso),
        "the same as `@alert.timestamp`",
    ),
    (
        "@alert.timestampFormatted",
        UptrendsSource::Time(Moment::Received, TimeFormat::Formatted),
        "the same time as `11/23/2026 10:05 AM`",
    ),
    (
        "@alert.timestampUtcFormatted",
        UptrendsSource::Time(Moment::Received, TimeFormat::Formatted),
        "the same as `@alert.timestampFormatted`",
    ),
    (
        "@alert.firstError",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Iso),
        "the start of the alert's time frame (without one, when alertwire accepted it), UTC, as `2026-11-23T10:00:00`",
    ),
    (
        "@alert.firstErrorUtc",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Iso),
        "the same as `@alert.firstError`",
    ),
    (
        "@alert.firstErrorFormatted",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Formatted),
        "the same time as `11/23/2026 10:00 AM`",
    ),
    (
        "@alert.firstErrorUtcFormatted",
        UptrendsSource::Time(Moment::FirstError, TimeFormat::Formatted),
        "the same as `@alert.firstErrorFormatted`",
    ),
    (
        "@alert.firstErrorCheckUrl",
        UptrendsSource::Same("alert_app_url"),
        "the alert's `link`, or empty",
    ),
    (
        "@monitor.dashboardUrl",
        UptrendsSource::Same("alert_app_url"),
        "the alert's `link`, or empty",
    ),
    (
        "@alertDefinition.guid",
        UptrendsSource::Same("alert_definition_id"),
        "the incident key, or empty",
    ),
    (
        "@alertDefinition.name",
        UptrendsSource::Same("alert_title"),
        "the alert's title",
    ),
    (
        "@monitor.name",
        UptrendsSource::Same("alert_title"),
        "the alert's title",
    ),
    (
        "@incident.key",
        UptrendsSource::Same("incident_key"),
        "pairs an ok with its error, or empty",
    ),
    (
        "@alert.checkpointName",
        UptrendsSource::Empty,
        "no checkpoints here",
    ),
    (
        "@alert.downtimeDuration",
        UptrendsSource::Empty,
        "alertwire does not know when a problem ended",
    ),
    (
        "@alert.errorTypeId",
        UptrendsSource::Empty,
        "no Uptrends error types",
    ),
    (
        "@alert.failureMessage",
        UptrendsSource::Empty,
        "no transaction steps",
    ),
    (
        "@alert.firstErrorCheckId",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.numberOfConsecutiveErrors",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.resolvedIpAddress",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.responseHeaders",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.responseBody",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.serverIpv4",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.serverIpv6",
        UptrendsSource::Empty,
        "no monitor checks",
    ),
    (
        "@alert.sslValidUntil",
        UptrendsSource::Empty,
        "no certificate checks",
    ),
    (
        "@escalationLevel.id",
        UptrendsSource::Empty,
        "no escalation levels",
    ),
    (
        "@escalationLevel.message",
        UptrendsSource::Empty,
        "no escalation levels",
    ),
    (
        "@monitor.editUrl",
        UptrendsSource::Empty,
        "no monitor settings",
    ),
    ("@monitor.monitorGuid", UptrendsSource::Empty, "no monitors"),
    (
        "@monitor.notes",
        UptrendsSource::Empty,
        "no monitor settings",
    ),
    ("@monitor.type", UptrendsSource::Empty, "no monitors"),
    (
        "@monitor.url",
        UptrendsSource::Empty,
        "no monitored address",
    ),
];

/// `Alert`, `Ok` or `Reminder`, as Uptrends' `@alert.type` says.
fn uptrends_alert_type(message_type: MessageType) -> &'static str {
    match message_type {
        MessageType::Error => "Alert",
        MessageType::Ok => "Ok",
        MessageType::Reminder => "Reminder",
    }
}

/// Adds the Uptrends names to a context that holds the Mustache ones.
pub(super) fn put_uptrends(map: &mut Map<String, Value>, alert: &Alert) {
    // Each time is formatted once, however many names show it.
    let received = FormattedTime::new(alert.received_at);
    let first_error =
        FormattedTime::new(alert.content.timeframe_start.unwrap_or(alert.received_at));
    for (name, source, _) in UPTRENDS_VARIABLES {
        let value = match *source {
            UptrendsSource::Same(mustache) => map.get(mustache).cloned().unwrap_or(json!("")),
            UptrendsSource::AlertType => {
                json!(uptrends_alert_type(alert.content.message_type))
            }
            UptrendsSource::Time(moment, format) => {
                let time = match moment {
                    Moment::Received => &received,
                    Moment::FirstError => &first_error,
                };
                json!(time.text(format))
            }
            UptrendsSource::Empty => json!(""),
        };
        map.insert((*name).to_owned(), value);
    }
}

/// A time in both of Uptrends' formats.
struct FormattedTime {
    iso: String,
    formatted: String,
}

impl FormattedTime {
    fn new(time: DateTime<Utc>) -> FormattedTime {
        FormattedTime {
            iso: TimeFormat::Iso.format(time),
            formatted: TimeFormat::Formatted.format(time),
        }
    }

    fn text(&self, format: TimeFormat) -> &str {
        match format {
            TimeFormat::Iso => &self.iso,
            TimeFormat::Formatted => &self.formatted,
        }
    }
}
