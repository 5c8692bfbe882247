//! Endpoint presets render, for an error and its ok, the request each service documents: the required
//! fields with their types, values and limits, checked at a real receiver on 127.0.0.1.

use std::time::Duration;

use alertwire_tests::{ApiClient, Behaviour, Received, Receiver, TestServer};
use serde_json::{Value, json};

const INCIDENT: &str = "db-1/disk-full";

/// A title longer than every service's short field, with quotes, a newline and a Slack mention.
fn long_title() -> String {
    format!(
        "Disk \"/var\" on db-1 <!channel> almost full\n{}",
        "and still filling ".repeat(20)
    )
}

fn alert(message_type: &str, severity: &str) -> Value {
    json!({
        "title": long_title(),
        "description": "Filesystem /var on db-1 has 3% left.\nCheck the \"WAL\" directory.",
        "severity": severity,
        "message_type": message_type,
        "incident_key": INCIDENT,
        "tags": ["db", "prod"],
        "context": {"runbook": "https://runbooks.example.org/disk", "host": "db-1"},
        "link": "https://prometheus.example.org/graph?g0.expr=disk",
        "source": "prometheus"
    })
}

/// Posts `alert` and returns the request the receiver got for it.
async fn deliver(api: &ApiClient, receiver: &Receiver, alert: &Value) -> Received {
    let before = receiver.received().len();
    let ids = api.send_alert(alert).await;
    let delivery = api.settled(&ids[0], Duration::from_secs(20)).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    let received = receiver.wait_for(before + 1, Duration::from_secs(10)).await;
    received[before].clone()
}

async fn preset_endpoint(api: &ApiClient, input: Value) -> Value {
    let (status, view) = api.post("/v1/endpoints", &input).await;
    assert_eq!(status, 201, "{view}");
    view
}

fn text<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} must be a string: {value}"))
}

fn chars(value: &Value, what: &str) -> usize {
    text(value, what).chars().count()
}

#[tokio::test]
async fn slack_gets_an_incoming_webhook_message_with_blocks() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    preset_endpoint(
        &server.api,
        json!({"preset": "slack", "name": "slack", "url": receiver.url("/services/T000/B000/XXXX")}),
    )
    .await;
    for message_type in ["error", "ok"] {
        let request = deliver(&server.api, &receiver, &alert(message_type, "critical")).await;
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
        let body = request.json();
        // `text` is required unless blocks are given; we send both (text is the notification).
        assert!(!text(&body["text"], "text").is_empty());
        let blocks = body["blocks"].as_array().expect("blocks is an array");
        assert!(!blocks.is_empty() && blocks.len() <= 50);
        for block in blocks {
            let kind = text(&block["type"], "block type");
            assert!(["header", "section", "context"].contains(&kind), "{kind}");
        }
        let header = &blocks[0];
        assert_eq!(header["type"], "header");
        assert_eq!(
            header["text"]["type"], "plain_text",
            "header text is plain_text"
        );
        let header_text = text(&header["text"]["text"], "header text");
        assert!(!header_text.is_empty() && header_text.chars().count() <= 150);
        assert!(header_text.contains("Disk \"/var\" on db-1 <!channel>"));
        assert_eq!(header_text.starts_with("Resolved: "), message_type == "ok");
        let section = &blocks[1];
        assert_eq!(section["type"], "section");
        let section_text = &section["text"]["text"];
        assert!(chars(section_text, "section text") <= 3000);
        assert_eq!(
            section_text,
            "Filesystem /var on db-1 has 3% left.\nCheck the \"WAL\" directory."
        );
        assert_eq!(
            section["text"]["type"], "plain_text",
            "alert text is never parsed for mentions"
        );
        let context = &blocks[2]["elements"][0]["text"];
        assert!(text(context, "context").contains("critical"));
    }
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_message() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(202)).await;
    preset_endpoint(
        &server.api,
        json!({"preset": "teams", "name": "teams", "url": receiver.url("/workflows/123/triggers/manual/paths/invoke")}),
    )
    .await;
    for message_type in ["error", "ok"] {
        let body = deliver(&server.api, &receiver, &alert(message_type, "high"))
            .await
            .json();
        assert_eq!(body["type"], "message");
        let attachments = body["attachments"].as_array().expect("attachments");
        assert_eq!(attachments.len(), 1);
        assert_eq!(
            attachments[0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let card = &attachments[0]["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(
            card["$schema"],
            "http://adaptivecards.io/schemas/adaptive-card.json"
        );
        assert!(text(&card["version"], "version").starts_with("1."));
        let elements = card["body"].as_array().expect("body is an array");
        for element in elements {
            // Text runs are never read as Markdown: the alert's text stays text.
            assert_eq!(element["type"], "RichTextBlock", "{element}");
            for run in element["inlines"].as_array().expect("inlines") {
                assert_eq!(run["type"], "TextRun", "{run}");
                text(&run["text"], "text run");
            }
        }
        let heading = &elements[0]["inlines"][0];
        let title = text(&heading["text"], "title");
        assert!(title.ends_with(&long_title()));
        assert_eq!(title.starts_with("Resolved: "), message_type == "ok");
        let expected_colour = if message_type == "ok" {
            "Good"
        } else {
            "Attention"
        };
        assert_eq!(heading["color"], expected_colour);
        let facts: Vec<(String, String)> = elements[2..]
            .iter()
            .map(|line| {
                let runs = line["inlines"].as_array().expect("inlines");
                (
                    text(&runs[0]["text"], "label").to_string(),
                    text(&runs[1]["text"], "value").to_string(),
                )
            })
            .collect();
        assert!(
            facts.contains(&("Severity: ".into(), "high".into())),
            "{facts:?}"
        );
        assert!(
            facts.contains(&("Incident: ".into(), INCIDENT.into())),
            "{facts:?}"
        );
        let action = &card["actions"][0];
        assert_eq!(action["type"], "Action.OpenUrl");
        assert_eq!(
            action["url"],
            "https://prometheus.example.org/graph?g0.expr=disk"
        );
    }
}

/// Alert text written to abuse a reader: a Slack mention and disguised link, a Markdown link, emphasis, HTML.
const HOSTILE: &str = "<!channel> <https://evil.example|click> [click](https://evil.example) **urgent** <b>x</b> & \"q\"";

/// Every string in `value`, with where it is.
fn strings(value: &Value, at: &str, found: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => found.push((at.to_string(), s.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, &format!("{at}[{i}]"), found);
            }
        }
        Value::Object(fields) => {
            for (name, item) in fields {
                strings(item, &format!("{at}.{name}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn hostile_alert_text_stays_text_in_every_preset() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(202)).await;
    let hostile = json!({
        "title": HOSTILE,
        "description": HOSTILE,
        "severity": "critical",
        "incident_key": "hostile-1",
        "tags": [HOSTILE],
        "source": HOSTILE,
    });
    for preset in ["slack", "teams", "pagerduty", "opsgenie", "panther"] {
        let path = format!("/{preset}");
        let mut input = json!({"preset": preset, "name": preset, "url": receiver.url(&path)});
        if matches!(preset, "pagerduty" | "opsgenie") {
            input["verification_token"] = json!("key-1");
        }
        preset_endpoint(&server.api, input).await;
    }
    let ids = server.api.send_alert(&hostile).await;
    for id in &ids {
        let delivery = server.api.settled(id, Duration::from_secs(20)).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
    }
    let received = receiver.wait_for(5, Duration::from_secs(10)).await;
    for request in &received {
        // Each body is JSON as the service reads it: the hostile text moved nothing around.
        let body = request.json();
        let mut found = Vec::new();
        strings(&body, "", &mut found);
        let carrying: Vec<&(String, String)> = found
            .iter()
            .filter(|(_, s)| s.contains("evil.example"))
            .collect();
        assert!(
            !carrying.is_empty(),
            "{}: the alert text went missing: {body}",
            request.path
        );
        match request.path.as_str() {
            "/slack" => {
                let notification = text(&body["text"], "text");
                assert!(
                    !notification.contains('<') && !notification.contains('>'),
                    "{notification}"
                );
                assert!(
                    notification.contains("&lt;!channel&gt; &lt;https://evil.example|click&gt;")
                );
                // Everywhere else the text is in plain_text objects, which Slack does not parse.
                for (at, _) in carrying.iter().filter(|(at, _)| at != ".text") {
                    let parent = at.rsplit_once('.').map_or("", |(p, _)| p);
                    let kind = found.iter().find(|(a, _)| *a == format!("{parent}.type"));
                    assert_eq!(kind.map(|(_, k)| k.as_str()), Some("plain_text"), "{at}");
                }
            }
            "/teams" => {
                for (at, _) in &carrying {
                    let parent = at.rsplit_once('.').map_or("", |(p, _)| p);
                    let kind = found.iter().find(|(a, _)| *a == format!("{parent}.type"));
                    assert_eq!(kind.map(|(_, k)| k.as_str()), Some("TextRun"), "{at}");
                }
            }
            // PagerDuty, Opsgenie and Panther read these fields as plain text: the text arrives as it was.
            _ => assert!(carrying.iter().any(|(_, s)| s.contains(HOSTILE)), "{body}"),
        }
    }
}

#[tokio::test]
async fn a_long_incident_key_fits_each_service_and_still_pairs() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(202)).await;
    for (preset, path) in [("pagerduty", "/v2/enqueue"), ("opsgenie", "/v2/alerts")] {
        preset_endpoint(
            &server.api,
            json!({"preset": preset, "name": preset, "url": receiver.url(path), "verification_token": "key-1"}),
        )
        .await;
    }
    // Two keys of 2,000 characters that differ only at the end.
    let key = |last: char| format!("{}{last}", "k".repeat(1_999));
    let mut keys = Vec::new();
    for (incident, message_type) in [(key('a'), "error"), (key('a'), "ok"), (key('b'), "error")] {
        let alert =
            json!({"title": "disk", "incident_key": incident, "message_type": message_type});
        for id in server.api.send_alert(&alert).await {
            let delivery = server.api.settled(&id, Duration::from_secs(20)).await;
            assert_eq!(delivery["status"], "delivered", "{delivery}");
        }
        let received = receiver.received();
        let by = |prefix: &str| {
            received
                .iter()
                .rev()
                .find(|r| r.path.starts_with(prefix))
                .expect("a request")
                .clone()
        };
        let pagerduty = by("/v2/enqueue").json()["dedup_key"].clone();
        let opsgenie = match message_type {
            // The close names the alias in its path.
            "ok" => {
                let path = by("/v2/alerts/").path;
                let alias = path
                    .strip_prefix("/v2/alerts/")
                    .and_then(|p| p.split_once("/close"))
                    .map(|(alias, _)| alias.to_string())
                    .expect("the close path");
                json!(alias)
            }
            _ => by("/v2/alerts").json()["alias"].clone(),
        };
        assert!(chars(&pagerduty, "dedup_key") <= 255, "{pagerduty}");
        assert!(chars(&opsgenie, "alias") <= 512, "{opsgenie}");
        keys.push((pagerduty, opsgenie));
    }
    assert_eq!(keys[0], keys[1], "the ok pairs with its error");
    assert_ne!(keys[0].0, keys[2].0, "two long keys stay apart");
}

#[tokio::test]
async fn pagerduty_gets_events_v2_trigger_and_resolve_with_the_dedup_key() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(202)).await;
    let routing_key = "R0UT1NGKEY0123456789abcdefABCDEF";
    let view = preset_endpoint(
        &server.api,
        json!({"preset": "pagerduty", "name": "pd", "url": receiver.url("/v2/enqueue"), "verification_token": routing_key}),
    )
    .await;
    assert_eq!(
        view["verification_token"], "********",
        "the routing key is masked"
    );

    let trigger = deliver(&server.api, &receiver, &alert("error", "critical"))
        .await
        .json();
    assert_eq!(trigger["routing_key"], routing_key);
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], INCIDENT);
    assert!(chars(&trigger["dedup_key"], "dedup_key") <= 255);
    let payload = &trigger["payload"];
    assert_eq!(payload["summary"], long_title());
    assert!(chars(&payload["summary"], "summary") <= 1024);
    assert_eq!(payload["source"], "prometheus");
    assert_eq!(payload["severity"], "critical");
    assert!(chrono::DateTime::parse_from_rfc3339(text(&payload["timestamp"], "timestamp")).is_ok());
    assert!(payload["custom_details"].is_object());
    assert_eq!(payload["custom_details"]["context"]["host"], "db-1");
    assert_eq!(
        trigger["links"],
        json!([{"href": "https://prometheus.example.org/graph?g0.expr=disk", "text": "Open the alert"}])
    );

    let resolve = deliver(&server.api, &receiver, &alert("ok", "critical"))
        .await
        .json();
    assert_eq!(
        resolve,
        json!({"routing_key": routing_key, "event_action": "resolve", "dedup_key": INCIDENT})
    );

    // Our five severities become PagerDuty's four.
    for (ours, theirs) in [
        ("critical", "critical"),
        ("high", "error"),
        ("medium", "warning"),
        ("low", "warning"),
        ("info", "info"),
    ] {
        let mut reminder = alert("reminder", ours);
        reminder["link"] = Value::Null;
        reminder["source"] = Value::Null;
        let body = deliver(&server.api, &receiver, &reminder).await.json();
        assert_eq!(body["event_action"], "trigger");
        assert_eq!(body["payload"]["severity"], theirs, "{ours}");
        assert_eq!(
            body["payload"]["source"], "alertwire",
            "a source is required"
        );
        assert_eq!(body["links"], json!([]));
    }
}

#[tokio::test]
async fn opsgenie_gets_create_and_close_by_alias_with_its_key() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(202)).await;
    let api_key = "eb243592-faa2-4ba2-a551q-1afdf565c889";
    preset_endpoint(
        &server.api,
        json!({"preset": "opsgenie", "name": "ops", "url": receiver.url("/v2/alerts"), "verification_token": api_key}),
    )
    .await;

    let create = deliver(&server.api, &receiver, &alert("error", "high")).await;
    assert_eq!(create.method, "POST");
    assert_eq!(create.path, "/v2/alerts");
    let expected_authorization = format!("GenieKey {api_key}");
    assert_eq!(
        create.header("authorization"),
        Some(expected_authorization.as_str())
    );
    let body = create.json();
    let message = text(&body["message"], "message");
    assert!(
        !message.is_empty() && message.chars().count() <= 130,
        "{message}"
    );
    assert!(long_title().starts_with(message.trim_end_matches('…')));
    assert_eq!(body["alias"], INCIDENT);
    assert!(chars(&body["alias"], "alias") <= 512);
    assert!(chars(&body["description"], "description") <= 15_000);
    assert_eq!(body["priority"], "P2");
    assert!(chars(&body["source"], "source") <= 100);
    for (_, value) in body["details"].as_object().expect("details is an object") {
        text(value, "details values are strings");
    }

    let close = deliver(&server.api, &receiver, &alert("ok", "high")).await;
    assert_eq!(close.method, "POST");
    assert_eq!(
        close.path, "/v2/alerts/db-1%2Fdisk-full/close?identifierType=alias",
        "the alias is percent-encoded into the path"
    );
    assert_eq!(
        close.header("authorization"),
        Some(expected_authorization.as_str())
    );
    let body = close.json();
    assert_eq!(body["source"], "alertwire");
    assert!(text(&body["note"], "note").starts_with("Resolved: "));

    for (ours, theirs) in [
        ("critical", "P1"),
        ("high", "P2"),
        ("medium", "P3"),
        ("low", "P4"),
        ("info", "P5"),
    ] {
        let body = deliver(&server.api, &receiver, &alert("reminder", ours))
            .await
            .json();
        assert_eq!(body["priority"], theirs, "{ours}");
    }
}

#[tokio::test]
async fn panther_gets_its_custom_webhook_fields() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    preset_endpoint(
        &server.api,
        json!({"preset": "panther", "name": "panther", "url": receiver.url("/panther")}),
    )
    .await;
    for (message_type, severity, capital) in [("error", "medium", "MEDIUM"), ("ok", "low", "LOW")] {
        let body = deliver(&server.api, &receiver, &alert(message_type, severity))
            .await
            .json();
        let fields = body.as_object().unwrap();
        let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "alertContext",
                "alertId",
                "createdAt",
                "description",
                "id",
                "link",
                "name",
                "runbook",
                "severity",
                "tags",
                "title",
                "type",
                "version"
            ]
        );
        for name in [
            "id",
            "createdAt",
            "severity",
            "type",
            "link",
            "title",
            "name",
            "alertId",
            "description",
            "runbook",
            "version",
        ] {
            text(&body[name], name);
        }
        assert!(
            chrono::DateTime::parse_from_rfc3339(text(&body["createdAt"], "createdAt")).is_ok()
        );
        assert_eq!(body["severity"], capital);
        assert_eq!(body["type"], "RULE");
        assert_eq!(body["id"], INCIDENT);
        assert_eq!(body["name"], long_title());
        assert!(text(&body["alertId"], "alertId").starts_with("al_"));
        assert_eq!(body["alertContext"]["host"], "db-1");
        assert_eq!(body["runbook"], "https://runbooks.example.org/disk");
        assert_eq!(body["tags"], json!(["db", "prod"]));
        assert_eq!(
            text(&body["title"], "title").starts_with("Resolved: "),
            message_type == "ok"
        );
    }
}

#[tokio::test]
async fn a_preset_is_plain_editable_fields_and_what_the_user_sends_wins() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let view = preset_endpoint(
        &server.api,
        json!({
            "preset": "slack", "name": "slack", "url": receiver.url("/hook"),
            "headers": {"X-Team": "storage"},
            "message_types": {"reminder": null}
        }),
    )
    .await;
    assert!(
        view.get("preset").is_none(),
        "a preset is not stored, its fields are"
    );
    let body = text(&view["body"], "body").to_string();
    assert!(
        body.contains("\"blocks\""),
        "the view shows the preset's body"
    );
    assert_eq!(view["message_types"]["reminder"], Value::Null);
    assert_eq!(view["headers"]["X-Team"]["value"], "storage");

    // The user's body replaces the preset's.
    let (status, edited) = server
        .api
        .call(
            "PUT",
            &format!("/v1/endpoints/{}", view["id"].as_str().unwrap()),
            Some(&json!({
                "preset": "slack", "name": "slack", "url": receiver.url("/hook"),
                "body": "{\"text\": \"{{alert_title_short}}\"}"
            })),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    let request = deliver(&server.api, &receiver, &alert("error", "high")).await;
    let expected = {
        let title = long_title();
        let mut short: String = title.chars().take(119).collect();
        short.push('…');
        short
    };
    assert_eq!(request.json(), json!({"text": expected}));

    // A preset's own body passes the same checks as any: a user body that is not JSON is refused.
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"preset": "panther", "name": "p", "url": receiver.url("/p"), "body": "{\"a\": {{alert_title}}}"}),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (422, Some("body"))
    );
}

#[tokio::test]
async fn preset_mistakes_name_the_field() {
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"preset": "hipchat", "name": "x", "url": "http://127.0.0.1:9/"}),
            "preset",
        ),
        (
            json!({"preset": 7, "name": "x", "url": "http://127.0.0.1:9/"}),
            "preset",
        ),
        (
            json!({"preset": "pagerduty", "name": "x", "url": "http://127.0.0.1:9/"}),
            "verification_token",
        ),
        (
            json!({"preset": "opsgenie", "name": "x", "url": "http://127.0.0.1:9/"}),
            "verification_token",
        ),
        (json!({"preset": "slack", "name": "x"}), "url"),
    ];
    for (input, field) in cases {
        let (status, answer) = server.api.post("/v1/endpoints", &input).await;
        assert_eq!(status, 422, "{input}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    // PagerDuty and Opsgenie default to their own API URL, which the target policy checks like any other.
    let (status, view) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"preset": "pagerduty", "name": "pd", "verification_token": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{view}");
    assert_eq!(view["url"], "https://events.pagerduty.com/v2/enqueue");
    let (_, endpoints) = server.api.get("/v1/endpoints").await;
    assert_eq!(endpoints["endpoints"].as_array().map(Vec::len), Some(1));
}

#[test]
fn every_preset_has_a_test_here() {
    let this_file = include_str!("presets.rs");
    for preset in alertwire_shared::endpoint::presets::Preset::ALL {
        assert!(
            this_file.contains(&format!("\"preset\": \"{}\"", preset.as_str())),
            "no test renders the {} preset",
            preset.as_str()
        );
    }
}
