//! Bodies from Logz.io's documentation render unchanged, and interpolated values are escaped for where
//! they land: JSON string content, percent-encoding in URLs and form bodies, entities in XML.

use std::time::Duration;

use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(20);
const HOSTILE: &str =
    "He said \"hi\" & <b>bye</b>\n\\ tab\t 💥 a+b=c 100% #frag ?q=1 \u{2028} </script>";

/// Creates an endpoint with `extra` fields, sends `alert` to it and returns what the receiver got.
async fn deliver(extra: Value, alert: Value) -> alertwire_tests::Received {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let mut endpoint = json!({"name": "t", "url": receiver.url("/hook")});
    for (k, v) in extra.as_object().unwrap() {
        endpoint[k] = if k == "url" {
            json!(receiver.url(v.as_str().unwrap()))
        } else {
            v.clone()
        };
    }
    server.api.create_endpoint(&endpoint).await;
    let ids = server.api.send_alert(&alert).await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    receiver.received().remove(0)
}

fn full_alert() -> Value {
    json!({
        "title": HOSTILE,
        "description": "line one\nline \"two\"",
        "severity": "critical",
        "incident_key": "db/primary",
        "tags": ["prod", "db \"main\""],
        "samples": [{"host": "db-1", "msg": "disk \"full\""}, {"host": "db-2"}],
        "context": {"region": "eu-west-1"},
        "link": "https://app.example.com/alerts/1",
        "timeframe_start": "2026-11-23T10:00:00Z",
        "timeframe_end": "2026-11-23T10:05:00Z"
    })
}

#[tokio::test]
async fn the_logzio_custom_endpoint_example_renders_unchanged() {
    let body = r#"{
  "alert_title": "{{alert_title}}",
  "alert_description": "{{alert_description}}",
  "alert_severity": "{{alert_severity}}",
  "alert_event_samples": "{{alert_samples}}"
}"#;
    let got = deliver(json!({"body": body}), full_alert()).await.json();
    assert_eq!(got["alert_title"], HOSTILE);
    assert_eq!(got["alert_description"], "line one\nline \"two\"");
    assert_eq!(got["alert_severity"], "critical");
    let samples: Value =
        serde_json::from_str(got["alert_event_samples"].as_str().unwrap()).unwrap();
    assert_eq!(samples[0]["msg"], "disk \"full\"");
}

/// The examples of Logz.io's custom-endpoint documentation, pasted as they are.
#[tokio::test]
async fn the_logzio_documentation_examples_render() {
    let body = r#"{
"token": "<SomeSecurityToken>",
"alert_title": "{{alert_title}}",
"alert_description": "{{alert_description}}",
"alert_severity": "{{alert_severity}}",
"alert_event_samples": "{{alert_samples}}",
"alert_tags":["{{alert_tags_json}}"],
"explore_view_link": "{{&alert_app_url}}#/view-in-explore?&triggeredId={{&alert_event_id}}&switchToAccountId={{&account_id}}"
}"#;
    let got = deliver(json!({"body": body}), full_alert()).await.json();
    assert_eq!(got["token"], "<SomeSecurityToken>");
    assert_eq!(got["alert_title"], HOSTILE);
    assert_eq!(got["alert_tags"], json!(["prod", "db \"main\""]));
    let link = got["explore_view_link"].as_str().unwrap();
    assert!(
        link.starts_with("https://app.example.com/alerts/1#/view-in-explore?&triggeredId=al_"),
        "{link}"
    );
    assert!(link.ends_with("&switchToAccountId=alpha"), "{link}");
}

#[tokio::test]
async fn the_logzio_variables_all_render() {
    let body = r#"{
  "title": "{{alert_title}}",
  "event_id": "{{alert_event_id}}",
  "definition_id": "{{alert_definition_id}}",
  "tags": "{{alert_tags}}",
  "tags_json": {{alert_tags_json}},
  "samples_json": {{alert_samples_json}},
  "start": "{{alert_timeframe_start}}",
  "end": "{{alert_timeframe_end}}",
  "start_ms": {{alert_timeframe_start_epoch_millis}},
  "end_ms": {{alert_timeframe_end_epoch_millis}},
  "url": "{{alert_app_url}}",
  "each_tag": "{{#alert_tags}}[{{.}}]{{/alert_tags}}",
  "no_tags": "{{^alert_tags}}none{{/alert_tags}}",
  "hosts": "{{#alert_samples}}{{host}};{{/alert_samples}}",
  "region": "{{alert_context.region}}",
  "type": "{{message_type}}"
}"#;
    let got = deliver(json!({"body": body}), full_alert()).await.json();
    assert!(got["event_id"].as_str().unwrap().starts_with("al_"));
    assert_eq!(got["definition_id"], "db/primary");
    assert_eq!(got["tags"], "prod, db \"main\"");
    assert_eq!(got["tags_json"], json!(["prod", "db \"main\""]));
    assert_eq!(got["samples_json"][1], json!({"host": "db-2"}));
    assert_eq!(got["start_ms"], 1_795_428_000_000i64);
    assert_eq!(
        got["end_ms"].as_i64().unwrap() - got["start_ms"].as_i64().unwrap(),
        300_000
    );
    assert!(
        got["start"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-23T10:00:00")
    );
    assert_eq!(got["url"], "https://app.example.com/alerts/1");
    assert_eq!(got["each_tag"], "[prod][db \"main\"]");
    assert_eq!(got["no_tags"], "");
    assert_eq!(got["hosts"], "db-1;db-2;");
    assert_eq!(got["region"], "eu-west-1");
    assert_eq!(got["type"], "error");
}

#[tokio::test]
async fn the_default_body_carries_every_field_as_valid_json() {
    let got = deliver(json!({}), full_alert()).await;
    assert_eq!(got.header("content-type"), Some("application/json"));
    let got = got.json();
    assert_eq!(got["title"], HOSTILE);
    assert_eq!(got["tags"], json!(["prod", "db \"main\""]));
    assert_eq!(got["context"], json!({"region": "eu-west-1"}));
    assert_eq!(got["attempt"], 1);
    assert_eq!(got["severity"], "critical");
}

#[tokio::test]
async fn form_bodies_percent_encode_values() {
    let got = deliver(
        json!({"content_type": "application/x-www-form-urlencoded", "body": "title={{alert_title}}&severity={{alert_severity}}"}),
        full_alert(),
    )
    .await;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&got.body)
        .into_owned()
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("title".into(), HOSTILE.into()),
            ("severity".into(), "critical".into())
        ]
    );
}

#[tokio::test]
async fn xml_bodies_escape_entities() {
    let got = deliver(
        json!({"content_type": "application/xml", "body": "<alert><title>{{alert_title}}</title></alert>"}),
        full_alert(),
    )
    .await;
    let text = got.body_text();
    assert!(
        text.contains("&quot;hi&quot; &amp; &lt;b&gt;bye&lt;/b&gt;"),
        "{text}"
    );
    assert!(
        !text.contains("<b>") && !text.contains("</script>"),
        "{text}"
    );
}

#[tokio::test]
async fn url_templates_percent_encode_values() {
    let got = deliver(
        json!({"url": "/hook/{{incident_key}}?title={{alert_title}}"}),
        full_alert(),
    )
    .await;
    let (path, query) = got.path.split_once('?').unwrap();
    assert_eq!(path, "/hook/db%2Fprimary");
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(pairs, vec![("title".into(), HOSTILE.into())]);
}

#[tokio::test]
async fn text_bodies_are_sent_as_written() {
    let got = deliver(
        json!({"content_type": "text/plain", "body": "[{{alert_severity}}] {{alert_title}}"}),
        json!({"title": "a & b <c>", "severity": "low"}),
    )
    .await;
    assert_eq!(got.body_text(), "[low] a & b <c>");
}

#[test]
fn the_readme_documents_every_variable() {
    use alertwire_shared::render_context::{
        DIGEST_VARIABLES, UPTRENDS_VARIABLES, UptrendsSource, VARIABLES,
    };
    let readme = include_str!("../../README.md");
    for name in VARIABLES
        .iter()
        .chain(DIGEST_VARIABLES)
        .map(|(name, _, _)| *name)
        .chain(UPTRENDS_VARIABLES.iter().map(|(name, _, _)| *name))
    {
        assert!(
            readme.contains(&format!("`{name}`")),
            "README's variable table lacks `{name}`"
        );
    }
    // Side by side: an Uptrends name that renders a Mustache variable sits on that variable's row.
    for (name, source, _) in UPTRENDS_VARIABLES {
        if let UptrendsSource::Same(mustache) = source {
            let row = readme
                .lines()
                .find(|line| line.starts_with('|') && line.contains(&format!("`{name}`")))
                .unwrap_or_else(|| panic!("no table row names `{name}`"));
            assert!(
                row.starts_with(&format!("| `{mustache}`")),
                "`{name}` renders `{mustache}` but its README row is: {row}"
            );
        }
    }
}
