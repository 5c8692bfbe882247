//! Template render: the Logz.io custom-endpoint documentation body against an alert with 10 log samples,
//! rendered by alertwire's compiled template (the context built once, as the per-attempt context is built
//! once for URL and body). The baseline: `serde_json` serialising the same values as a JSON document.

use std::hint::black_box;
use std::time::Instant;

use alertwire_shared::alert::{Alert, AlertContent, MessageType, Severity};
use alertwire_shared::ids::{AlertId, TenantId};
use alertwire_shared::render_context::{self, DeliveryFacts, Names};
use alertwire_shared::template::{Escaping, Template};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};

use crate::Settings;
use crate::stats::{Figure, ratio};
use crate::table::Row;

/// Logz.io's documented custom-endpoint body, as pasted.
const LOGZIO_BODY: &str = r#"{
"token": "<SomeSecurityToken>",
"alert_title": "{{alert_title}}",
"alert_description": "{{alert_description}}",
"alert_severity": "{{alert_severity}}",
"alert_event_samples": "{{alert_samples}}",
"alert_tags":["{{alert_tags_json}}"],
"explore_view_link": "{{&alert_app_url}}#/view-in-explore?&triggeredId={{&alert_event_id}}&switchToAccountId={{&account_id}}"
}"#;
const GOAL_RATIO: f64 = 3.0;
const GOAL_NS: f64 = 2000.0;

fn alert() -> Alert {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 23, 14, 0, 0)
        .single()
        .expect("a valid time");
    let samples = (0..10)
        .map(|i| {
            json!({
                "@timestamp": format!("2026-11-23T13:59:{i:02}.000Z"),
                "level": "ERROR",
                "host": format!("web-{}", i % 3),
                "message": format!("upstream timed out (110: Connection timed out) while reading \"/api/orders/{i}\""),
            })
        })
        .collect();
    Alert {
        id: AlertId::from("al_0192b1c2d3e4f5a6b7c8d9e0f1a2b3c4"),
        tenant: TenantId::from("acme"),
        received_at: at,
        content: AlertContent {
            title: "Error rate above 5 % on checkout".into(),
            description: "More than 50 errors in 5 minutes on the checkout service".into(),
            severity: Severity::High,
            message_type: MessageType::Error,
            incident_key: Some("checkout/error-rate".into()),
            tags: vec!["checkout".into(), "prod".into(), "nginx".into()],
            samples,
            context: serde_json::Map::new(),
            link: Some("https://app.logz.io/#/dashboard/alerts/1234".into()),
            source: Some("logz.io".into()),
            timeframe_start: Some(at - chrono::Duration::minutes(5)),
            timeframe_end: Some(at),
        },
        routing: None,
        digest: None,
    }
}

/// Nanoseconds per call of `f`, over `iterations` calls.
pub fn nanos_per_call<T>(iterations: u32, mut f: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(f());
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

pub fn run(settings: Settings) -> Vec<Row> {
    let alert = alert();
    let facts = DeliveryFacts {
        delivery_id: "msg_0192b1c2d3e4f5a6b7c8d9e0f1a2b3c4",
        attempt: 1,
        endpoint_id: "ep_0192b1c2d3e4f5a6b7c8d9e0f1a2b3c4",
        endpoint_name: "logz.io style",
        verification_token: None,
        fallback_of: None,
        captured: None,
        digest: None,
    };
    let context = render_context::context(&alert, &facts);
    let template =
        Template::compile(LOGZIO_BODY, Escaping::Json).expect("the Logz.io body compiles");
    // The same values as one JSON document.
    let same_data: Value = json!({
        "token": "<SomeSecurityToken>",
        "alert_title": context["alert_title"],
        "alert_description": context["alert_description"],
        "alert_severity": context["alert_severity"],
        "alert_event_samples": context["alert_samples"],
        "alert_tags": context["alert_tags_json"],
        "alert_app_url": context["alert_app_url"],
        "alert_event_id": context["alert_event_id"],
        "account_id": context["account_id"],
    });
    let rendered = template
        .render(&context, 1 << 20)
        .expect("the body renders");
    serde_json::from_str::<Value>(&rendered).expect("the rendered body is JSON");
    let iterations = if settings.quick { 2_000 } else { 100_000 };
    let mut baseline = Figure::new("µs");
    let mut subject = Figure::new("µs");
    for _ in 0..settings.runs {
        baseline.push(nanos_per_call(iterations, || serde_json::to_string(&same_data)) / 1000.0);
        subject.push(nanos_per_call(iterations, || template.render(&context, 1 << 20)) / 1000.0);
    }
    let r = ratio(&subject, &baseline);
    let met = r <= GOAL_RATIO && subject.median() * 1000.0 <= GOAL_NS;
    let context_row = context_for_an_attempt(settings, &alert, &facts, &template, iterations);
    vec![
        Row {
            scenario: format!(
                "template render, Logz.io JSON body, 10 samples ({} B)",
                rendered.len()
            ),
            figure: subject,
            baseline: Some(baseline),
            ratio: Some(r),
            goal: format!("≤ {GOAL_RATIO}× and ≤ {} µs", GOAL_NS / 1000.0),
            met: Some(met),
        },
        context_row,
    ]
}

/// Building an attempt's context with the names its templates use (what an attempt does), against
/// building it with every Mustache name (what it did before).
fn context_for_an_attempt(
    settings: Settings,
    alert: &Alert,
    facts: &DeliveryFacts<'_>,
    template: &Template,
    iterations: u32,
) -> Row {
    let used = Names::UsedBy(&[template]);
    let mut every = Figure::new("µs");
    let mut subject = Figure::new("µs");
    for _ in 0..settings.runs {
        every.push(
            nanos_per_call(iterations, || {
                render_context::context_with(alert, facts, Names::Mustache)
            }) / 1000.0,
        );
        subject.push(
            nanos_per_call(iterations, || {
                render_context::context_with(alert, facts, used)
            }) / 1000.0,
        );
    }
    let r = ratio(&subject, &every);
    Row {
        scenario: "template context for one attempt of the Logz.io body: its names only (baseline: every name)"
            .into(),
        figure: subject,
        baseline: Some(every),
        ratio: Some(r),
        goal: "– (reported)".into(),
        met: None,
    }
}
