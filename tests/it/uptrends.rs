//! Bodies written for Uptrends custom integrations (`{{@alert.description}}`, `{{@JsonEncode(…)}}`) work as
//! pasted: a real receiver on 127.0.0.1 gets the values of the alert, encoded for where they land, for error,
//! ok and reminder messages alike; unknown `@` names are refused when the endpoint is saved.

use std::time::Duration;

use alertwire_tests::{Behaviour, Received, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(20);
const HOSTILE: &str = "Step 1: \"GET /\" failed\n\\ 500 & <b>bye</b>\t 💥 a+b=c 100% #frag ?q=1 \u{2028} </script> it's";

/// After Uptrends' documented examples: their "errordescription" and `@JsonEncode` message-formatting examples,
/// and the fields an incident tool's Uptrends payload asks for.
const UPTRENDS_BODY: &str = r#"{
  "errordescription": "{{@alert.description}}",
  "Notes": "{{@JsonEncode({{@alert.description}})}}",
  "alert_type": "{{@alert.type}}",
  "alert_id": "{{@alert.alertGuid}}",
  "incident_key": "{{@incident.key}}",
  "monitor": "{{@monitor.name}}",
  "monitor_notes": "{{@JsonEncode({{@monitor.notes}})}}",
  "timestamp": "{{@alert.timestampUtc}}",
  "first_error": "{{@alert.firstErrorUtcFormatted}}",
  "link": "{{@monitor.dashboardUrl}}",
  "account": "{{@account.accountId}}",
  "severity": "{{alert_severity}}"
}"#;

fn alert(message_type: &str) -> Value {
    json!({
        "title": "GalacticResorts.com - \"DNS\"",
        "description": HOSTILE,
        "severity": "high",
        "message_type": message_type,
        "incident_key": "dns/galactic resorts&co",
        "link": "https://app.example.com/alerts/7",
        "timeframe_start": "2026-11-23T21:58:00Z"
    })
}

/// Sends one alert per message type, in order, and returns what the receiver got for each.
async fn deliver_each_type(endpoint: Value) -> Vec<Received> {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let mut endpoint = endpoint;
    endpoint["name"] = json!("uptrends-style");
    endpoint["url"] = json!(receiver.url(endpoint["url"].as_str().unwrap_or("/hook")));
    server.api.create_endpoint(&endpoint).await;
    for message_type in ["error", "reminder", "ok"] {
        let ids = server.api.send_alert(&alert(message_type)).await;
        let delivery = server.api.settled(&ids[0], SETTLE).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
    }
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    received
}

#[tokio::test]
async fn an_uptrends_body_renders_for_error_reminder_and_ok() {
    let received = deliver_each_type(json!({
        "body": UPTRENDS_BODY,
        "url": "/incidents/{{@UrlEncode({{@incident.key}})}}?type={{@alert.type}}"
    }))
    .await;
    let mut alert_ids = Vec::new();
    for (got, expected_type) in received.iter().zip(["Alert", "Reminder", "Ok"]) {
        assert_eq!(got.header("content-type"), Some("application/json"));
        let body = got.json();
        assert_eq!(body["alert_type"], expected_type, "{body}");
        assert_eq!(body["errordescription"], HOSTILE);
        assert_eq!(body["Notes"], HOSTILE);
        assert_eq!(body["incident_key"], "dns/galactic resorts&co");
        assert_eq!(body["monitor"], "GalacticResorts.com - \"DNS\"");
        assert_eq!(body["monitor_notes"], "");
        assert_eq!(body["first_error"], "11/23/2026 9:58 PM");
        assert_eq!(body["link"], "https://app.example.com/alerts/7");
        assert_eq!(body["account"], "alpha");
        assert_eq!(body["severity"], "high");
        let timestamp = body["timestamp"].as_str().unwrap();
        assert!(
            chrono::NaiveDateTime::parse_from_str(timestamp, "%Y-%m-%dT%H:%M:%S").is_ok(),
            "{timestamp}"
        );
        let alert_id = body["alert_id"].as_str().unwrap().to_owned();
        assert!(alert_id.starts_with("al_"), "{alert_id}");
        alert_ids.push(alert_id);
        // Uptrends' @UrlEncode: a space is `+`, `&` and `/` are percent-encoded.
        assert_eq!(
            got.path,
            format!("/incidents/dns%2Fgalactic+resorts%26co?type={expected_type}")
        );
    }
    alert_ids.dedup();
    assert_eq!(alert_ids.len(), 3, "each message is its own alert");
}

#[tokio::test]
async fn uptrends_xml_bodies_encode_values_once() {
    let body = "<alert type=\"{{@alert.type}}\"><monitor>{{@monitor.name}}</monitor>\
                <description>{{@XmlEncode({{@alert.description}})}}</description></alert>";
    let received =
        deliver_each_type(json!({"content_type": "application/xml", "body": body})).await;
    let text = received[2].body_text();
    assert!(
        text.starts_with(
            "<alert type=\"Ok\"><monitor>GalacticResorts.com - &quot;DNS&quot;</monitor><description>"
        ),
        "{text}"
    );
    assert!(
        text.contains("&quot;GET /&quot; failed\n\\ 500 &amp; &lt;b&gt;bye&lt;/b&gt;"),
        "{text}"
    );
    assert!(text.ends_with("it&apos;s</description></alert>"), "{text}");
}

#[tokio::test]
async fn unknown_uptrends_names_are_refused_with_line_and_column() {
    let server = TestServer::start().await;
    let cases = [
        (
            "{\n  \"d\": \"{{@alert.description}}\",\n  \"t\": \"{{@alert.tipe}}\"\n}",
            "template error at line 3, column 9: unknown variable `@alert.tipe` (did you mean `@alert.type`?)",
        ),
        (
            "{\n  \"n\": \"{{@JsonEncode({{@monitor.note}})}}\"\n}",
            "template error at line 2, column 9: unknown variable `@monitor.note` (did you mean `@monitor.notes`?)",
        ),
        (
            "{\"n\": \"{{@HtmlEncode({{@monitor.notes}})}}\"}",
            "template error at line 1, column 8: unknown function `@HtmlEncode` (the functions are `@JsonEncode`, `@UrlEncode`, `@XmlEncode`, `@SlackEncode`)",
        ),
    ];
    for (body, message) in cases {
        let (status, error) = server
            .api
            .post(
                "/v1/endpoints",
                &json!({"name": "x", "url": "http://127.0.0.1:9/", "body": body}),
            )
            .await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"]["code"], "invalid_template");
        assert_eq!(error["error"]["field"], "body");
        assert_eq!(error["error"]["message"], message);
    }

    // A value outside a JSON string cannot be made JSON by any function: refused, pointing at the tag.
    let (status, error) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "x", "url": "http://127.0.0.1:9/", "body": "{\"d\": {{@JsonEncode({{@alert.description}})}}}"}),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("template error at line 1, column 7: the body is not valid JSON"),
        "{message}"
    );
}
