//! The sample alert "Run the test" sends, and the ordinary and hostile contexts a template is checked
//! against before it is saved.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::alert::{Alert, AlertContent, MessageType, Severity};
use crate::digest::{DigestFacts, DigestMember, DigestMembers, DigestWindow};

use super::{DeliveryFacts, context};

/// The alert "Run the test" sends at `now` when the caller gives none.
pub fn sample_alert(tenant: crate::ids::TenantId, now: DateTime<Utc>) -> Alert {
    Alert {
        id: crate::ids::AlertId::from("al_sample"),
        tenant,
        received_at: now,
        content: AlertContent {
            title: "alertwire test alert".into(),
            description: "A sample alert sent by \"Run the test\".".into(),
            severity: Severity::High,
            message_type: MessageType::Error,
            incident_key: Some("sample/cpu-high".into()),
            tags: vec!["test".into(), "alertwire".into()],
            samples: vec![
                json!({"host": "web-1", "cpu": 97.5}),
                json!({"host": "web-2", "cpu": 91.0}),
            ],
            context: json!({"region": "eu-west-1", "runbook": "https://example.com/runbook"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            link: Some("https://example.com/alerts/sample".into()),
            source: Some("alertwire".into()),
            timeframe_start: Some(now - chrono::Duration::minutes(5)),
            timeframe_end: Some(now),
        },
        routing: None,
        digest: None,
    }
}

/// A context of ordinary values, used to render an endpoint's URL at save time.
pub fn sample_context() -> Value {
    let alert = sample_alert(crate::ids::TenantId::from("tn_sample"), Utc::now());
    context(&alert, &sample_facts())
}

const HOSTILE: &str =
    "q\"uote \\back\\slash\nnew\r\tline </script> \u{2028}\u{2029} é 💥 ' & <x> {{x}} \u{1}";

/// A context whose every string is as hostile as we can make it, to prove a JSON body stays JSON.
pub fn hostile_context() -> Value {
    let facts = DeliveryFacts {
        verification_token: Some(HOSTILE),
        endpoint_name: HOSTILE,
        fallback_of: Some(HOSTILE),
        ..sample_facts()
    };
    context(&hostile_alert(), &facts)
}

/// A digest's context, its folded alerts as hostile as [`hostile_context`]'s, to prove a digest's JSON
/// body stays JSON.
pub fn hostile_digest_context() -> Value {
    let alert = hostile_alert();
    let digest = sample_digest(&alert);
    let facts = DeliveryFacts {
        verification_token: Some(HOSTILE),
        endpoint_name: HOSTILE,
        digest: Some(&digest),
        ..sample_facts()
    };
    context(&alert, &facts)
}

/// A digest's context of ordinary values, used to render its URL at save time.
pub fn sample_digest_context() -> Value {
    let alert = sample_alert(crate::ids::TenantId::from("tn_sample"), Utc::now());
    let digest = sample_digest(&alert);
    let facts = DeliveryFacts {
        digest: Some(&digest),
        ..sample_facts()
    };
    context(&alert, &facts)
}

/// A digest of `alert` twice, once with nothing but a title.
pub fn sample_digest(alert: &Alert) -> DigestFacts {
    let mut bare = alert.clone();
    bare.content.incident_key = None;
    bare.content.link = None;
    let listed = vec![
        DigestMember::of(alert, &crate::ids::DeliveryId::from("msg_sample_1")),
        DigestMember::of(&bare, &crate::ids::DeliveryId::from("msg_sample_2")),
    ];
    DigestFacts {
        window: DigestWindow {
            digest_id: crate::ids::DeliveryId::from("msg_sample_digest"),
            start: alert.received_at,
            end: alert.received_at + chrono::Duration::seconds(60),
        },
        members: DigestMembers { count: 25, listed },
    }
}

fn hostile_alert() -> Alert {
    // Ids and links are validated (ids are generated, tenants are names, links normalised URLs), so they
    // are hostile only within what validation lets through.
    let mut alert = sample_alert(crate::ids::TenantId::from("tenant-1.x_y"), Utc::now());
    alert.content.title = HOSTILE.into();
    alert.content.description = HOSTILE.into();
    alert.content.incident_key = Some(HOSTILE.into());
    alert.content.tags = vec![HOSTILE.into(), String::new()];
    alert.content.samples = vec![json!({"message": HOSTILE}), json!(HOSTILE), json!([])];
    alert.content.context = json!({"k": HOSTILE, "n": [HOSTILE]})
        .as_object()
        .cloned()
        .unwrap_or_default();
    alert.content.link = url::Url::parse("https://example.com/a b/\"q\"?x=<y>&z='w'#f\\g")
        .ok()
        .as_ref()
        .map(crate::alert::normalised_link);
    alert.content.source = Some(HOSTILE.into());
    alert
}

pub(super) fn sample_facts() -> DeliveryFacts<'static> {
    DeliveryFacts {
        delivery_id: "msg_sample",
        attempt: 1,
        endpoint_id: "ep_sample",
        endpoint_name: "sample endpoint",
        verification_token: Some("sample-token"),
        fallback_of: None,
        captured: None,
        digest: None,
    }
}
