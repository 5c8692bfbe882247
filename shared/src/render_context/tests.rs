//! The variables' values, checked against the catalogue and the sample alerts.

use super::samples::sample_facts;
use super::*;
use crate::template::VarKind;
use chrono::TimeZone;

fn alert(message_type: MessageType) -> Alert {
    let mut alert = sample_alert(crate::ids::TenantId::from("acme"), chrono::Utc::now());
    alert.id = crate::ids::AlertId::from("al_1");
    alert.received_at = Utc.with_ymd_and_hms(2026, 11, 23, 22, 5, 7).unwrap();
    alert.content.title = "Disk \"full\"".into();
    alert.content.description = "db-1\nat 97%".into();
    alert.content.message_type = message_type;
    alert.content.incident_key = Some("db/primary".into());
    alert.content.link = Some("https://app.example.com/a/1".into());
    alert.content.timeframe_start = Some(Utc.with_ymd_and_hms(2026, 11, 3, 9, 0, 0).unwrap());
    alert
}

fn uptrends_context(alert: &Alert) -> Value {
    context(alert, &sample_facts())
}

/// Every name of Uptrends' "Alerting system variables" table (but `@CustomField(…)`, a function).
const DOCUMENTED: &[&str] = &[
    "@account.accountId",
    "@alert.alertGuid",
    "@alert.checkpointName",
    "@alert.description",
    "@alert.downtimeDuration",
    "@alert.errorTypeId",
    "@alert.failureMessage",
    "@alert.firstError",
    "@alert.firstErrorCheckId",
    "@alert.firstErrorCheckUrl",
    "@alert.firstErrorDescription",
    "@alert.firstErrorFormatted",
    "@alert.firstErrorUtc",
    "@alert.firstErrorUtcFormatted",
    "@alert.numberOfConsecutiveErrors",
    "@alert.resolvedIpAddress",
    "@alert.responseHeaders",
    "@alert.responseBody",
    "@alert.serverIpv4",
    "@alert.serverIpv6",
    "@alert.sslValidUntil",
    "@alert.timestamp",
    "@alert.timestampFormatted",
    "@alert.timestampUtc",
    "@alert.timestampUtcFormatted",
    "@alert.type",
    "@alertDefinition.guid",
    "@alertDefinition.name",
    "@escalationLevel.id",
    "@escalationLevel.message",
    "@incident.key",
    "@monitor.dashboardUrl",
    "@monitor.editUrl",
    "@monitor.monitorGuid",
    "@monitor.name",
    "@monitor.notes",
    "@monitor.type",
    "@monitor.url",
];

#[test]
fn every_documented_uptrends_variable_is_known_once() {
    let names: Vec<&str> = UPTRENDS_VARIABLES
        .iter()
        .map(|(name, _, _)| *name)
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), names.len(), "a name is listed twice");
    let mut documented = DOCUMENTED.to_vec();
    documented.sort_unstable();
    assert_eq!(sorted, documented);
    for name in DOCUMENTED {
        assert_eq!(catalogue().kind(name), Some(VarKind::Value), "{name}");
    }
    for (name, source, _) in UPTRENDS_VARIABLES {
        if let UptrendsSource::Same(mustache) = source {
            assert!(catalogue().contains(mustache), "{name} → {mustache}");
        }
    }
}

#[test]
fn uptrends_variables_render_the_alert() {
    let ctx = uptrends_context(&alert(MessageType::Error));
    let expected = [
        ("@account.accountId", "acme"),
        ("@alert.alertGuid", "al_1"),
        ("@alert.description", "db-1\nat 97%"),
        ("@alert.firstErrorDescription", "db-1\nat 97%"),
        ("@alert.type", "Alert"),
        ("@alert.timestamp", "2026-11-23T22:05:07"),
        ("@alert.timestampUtc", "2026-11-23T22:05:07"),
        ("@alert.timestampFormatted", "11/23/2026 10:05 PM"),
        ("@alert.timestampUtcFormatted", "11/23/2026 10:05 PM"),
        ("@alert.firstError", "2026-11-03T09:00:00"),
        ("@alert.firstErrorUtc", "2026-11-03T09:00:00"),
        ("@alert.firstErrorFormatted", "11/3/2026 9:00 AM"),
        ("@alert.firstErrorUtcFormatted", "11/3/2026 9:00 AM"),
        ("@alert.firstErrorCheckUrl", "https://app.example.com/a/1"),
        ("@monitor.dashboardUrl", "https://app.example.com/a/1"),
        ("@alertDefinition.guid", "db/primary"),
        ("@alertDefinition.name", "Disk \"full\""),
        ("@monitor.name", "Disk \"full\""),
        ("@incident.key", "db/primary"),
    ];
    for (name, value) in expected {
        assert_eq!(ctx[name], value, "{name}");
    }
    for (name, source, _) in UPTRENDS_VARIABLES {
        if *source == UptrendsSource::Empty {
            assert_eq!(ctx[*name], "", "{name}");
        } else {
            assert!(
                expected.iter().any(|(known, _)| known == name),
                "{name} has no expected value in this test"
            );
        }
    }
}

#[test]
fn mustache_only_contexts_leave_the_uptrends_names_out() {
    let alert = alert(MessageType::Error);
    let full = context(&alert, &sample_facts());
    let mustache = context_with(&alert, &sample_facts(), Names::Mustache);
    let mustache = mustache.as_object().unwrap();
    assert_eq!(mustache.len(), VARIABLES.len());
    for (name, value) in mustache {
        assert_eq!(&full[name], value, "{name}");
    }
    assert_eq!(
        full.as_object().unwrap().len(),
        VARIABLES.len() + UPTRENDS_VARIABLES.len()
    );
}

#[test]
fn a_context_for_templates_holds_what_they_may_look_up_and_renders_as_the_whole_one() {
    use crate::template::{Escaping, Template};
    let alert = alert(MessageType::Error);
    let full = context(&alert, &sample_facts());
    // `endpoint_name` inside a section is looked up in the whole context; `message` only in a sample.
    let url = Template::compile("https://h.example/{{delivery_id}}", Escaping::Url).unwrap();
    let body = Template::compile(
        "{{alert_title}} {{#alert_samples}}{{message}} {{/alert_samples}}\
         {{#is_error}}{{endpoint_name}}{{/is_error}}{{^is_ok}}{{alert_tags.0}}{{/is_ok}}",
        Escaping::Json,
    )
    .unwrap();
    let used = context_with(&alert, &sample_facts(), Names::UsedBy(&[&url, &body]));
    let mut held: Vec<&str> = used
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    held.sort_unstable();
    assert_eq!(
        held,
        [
            "alert_samples",
            "alert_tags",
            "alert_title",
            "delivery_id",
            "endpoint_name",
            "is_error",
            "is_ok"
        ]
    );
    for (name, value) in used.as_object().unwrap() {
        assert_eq!(&full[name], value, "{name}");
    }
    for template in [&url, &body] {
        assert_eq!(
            template.render(&used, 1 << 16).unwrap(),
            template.render(&full, 1 << 16).unwrap()
        );
    }
}

#[test]
fn a_context_for_templates_is_whole_if_one_uses_an_uptrends_name() {
    use crate::template::{Escaping, Template};
    let alert = alert(MessageType::Error);
    let mustache = Template::compile("{{alert_title}}", Escaping::Json).unwrap();
    let uptrends = Template::compile("{{@alert.description}}", Escaping::Json).unwrap();
    let without = context_with(&alert, &sample_facts(), Names::UsedBy(&[&mustache]));
    assert_eq!(without.as_object().unwrap().len(), 1);
    let with = context_with(
        &alert,
        &sample_facts(),
        Names::UsedBy(&[&mustache, &uptrends]),
    );
    assert_eq!(with, uptrends_context(&alert));
    assert_eq!(with["@alert.description"], json!("db-1\nat 97%"));
}

#[test]
fn alert_type_follows_the_message_type() {
    for (message_type, expected) in [
        (MessageType::Error, "Alert"),
        (MessageType::Ok, "Ok"),
        (MessageType::Reminder, "Reminder"),
    ] {
        assert_eq!(
            uptrends_context(&alert(message_type))["@alert.type"],
            expected
        );
    }
}

#[test]
fn first_error_falls_back_to_the_acceptance_time_and_links_to_empty() {
    let mut bare = alert(MessageType::Ok);
    bare.content.timeframe_start = None;
    bare.content.link = None;
    bare.content.incident_key = None;
    let ctx = uptrends_context(&bare);
    assert_eq!(ctx["@alert.firstError"], "2026-11-23T22:05:07");
    assert_eq!(ctx["@alert.firstErrorFormatted"], "11/23/2026 10:05 PM");
    assert_eq!(ctx["@monitor.dashboardUrl"], "");
    assert_eq!(ctx["@incident.key"], "");
}

#[test]
fn alert_labels_are_the_routing_labels_by_name() {
    let mut alert = alert(MessageType::Error);
    alert.content.tags = vec![
        "team=db".into(),
        "team=web".into(),
        "nightly".into(),
        "severity=low".into(),
    ];
    alert.content.source = Some("alertmanager".into());
    let labels = &uptrends_context(&alert)["alert_labels"];
    // The first value of a name given twice; the alert's own severity, not the tag; no bare tags
    assert_eq!(
        labels,
        &json!({"team": "db", "severity": "high", "message_type": "error", "source": "alertmanager"})
    );
    let rendered = crate::template::Template::compile(
        "{{alert_labels.team}}",
        crate::template::Escaping::Plain,
    )
    .unwrap()
    .render(&uptrends_context(&alert), 1024)
    .unwrap();
    assert_eq!(rendered, "db");
}
