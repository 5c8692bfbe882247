//! Digests during storms, end to end on a real server: a storm of 500 errors to an endpoint that sends
//! 20 a minute one by one reaches its receiver as exactly 20 single requests and one digest listing the
//! other 480, and every alert is accounted for through the API; oks of the same storm are never folded;
//! a digest template is checked at save like any other.

use std::collections::BTreeMap;
use std::time::Duration;

use alertwire_tests::{ApiClient, Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const AFTER: usize = 20;
const STORM: usize = 500;
const OKS: usize = 5;
/// The window: long enough that the whole storm arrives within it on a slow machine.
const WINDOW_SECONDS: u64 = 60;

/// Every delivery of `endpoint_id`, page after page.
async fn deliveries_of(api: &ApiClient, endpoint_id: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/v1/deliveries?endpoint_id={endpoint_id}&limit=500");
        if let Some(before) = &before {
            path.push_str(&format!("&before={before}"));
        }
        let (status, page) = api.get(&path).await;
        assert_eq!(status, 200, "{page}");
        all.extend(page["deliveries"].as_array().cloned().unwrap_or_default());
        match page["next_before"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => return all,
        }
    }
}

/// WHEN `count` alerts made by `alert(n)` are posted, 25 at a time.
async fn post_all(api: &ApiClient, count: usize, alert: impl Fn(usize) -> Value) {
    for chunk in (0..count).collect::<Vec<_>>().chunks(25) {
        let mut posts = tokio::task::JoinSet::new();
        for &n in chunk {
            let (api, alert) = (api.clone(), alert(n));
            posts.spawn(async move { api.send_alert(&alert).await });
        }
        while let Some(posted) = posts.join_next().await {
            posted.expect("the post finished");
        }
    }
}

#[tokio::test]
async fn a_storm_of_500_errors_sends_after_singles_and_one_digest_with_every_alert_accounted_for() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let endpoint = server
        .api
        .create_endpoint(&json!({
            "name": "pager",
            "url": receiver.url("/hook"),
            "digest": {"after": AFTER, "window_seconds": WINDOW_SECONDS},
        }))
        .await;
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    assert_eq!(endpoint["digest"]["after"], AFTER, "{endpoint}");

    post_all(&server.api, STORM, |n| {
        json!({"title": format!("disk full on db-{n}"), "severity": "high",
            "incident_key": format!("disk-db-{n}"), "link": format!("https://grafana.example.com/d/{n}")})
    })
    .await;
    post_all(&server.api, OKS, |n| {
        json!({"title": format!("disk fine on db-{n}"), "message_type": "ok",
            "incident_key": format!("disk-db-{n}")})
    })
    .await;

    // THEN the receiver gets the singles and the oks at once, and the digest after the window
    let expected = AFTER + OKS + 1;
    let received = receiver
        .wait_for(expected, Duration::from_secs(WINDOW_SECONDS + 60))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = if receiver.received().len() > received.len() {
        receiver.received()
    } else {
        received
    };
    assert_eq!(received.len(), expected, "nothing more, nothing less");
    let bodies: Vec<Value> = received.iter().map(|r| r.json()).collect();
    let digests: Vec<&Value> = bodies.iter().filter(|b| b["digest"] == true).collect();
    assert_eq!(digests.len(), 1, "one digest for the window");
    let digest = digests[0];
    assert_eq!(digest["count"], STORM - AFTER);
    let listed = digest["alerts"].as_array().unwrap();
    assert_eq!(listed.len(), 100, "at most 100 listed");
    for alert in listed {
        assert!(
            alert["link"]
                .as_str()
                .unwrap()
                .starts_with("https://grafana.example.com/d/")
        );
        assert_eq!(alert["severity"], "high");
    }
    let oks = bodies.iter().filter(|b| b["message_type"] == "ok").count();
    assert_eq!(oks, OKS, "oks are never folded");

    // THEN every alert is accounted for: the singles and the digest delivered, the others filtered
    // (reason digest) linking to the digest delivery, which lists all of them
    let deliveries = deliveries_of(&server.api, &endpoint_id).await;
    assert_eq!(deliveries.len(), STORM + OKS + 1);
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for delivery in &deliveries {
        *by_status
            .entry(delivery["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(
        by_status,
        BTreeMap::from([
            ("delivered".to_string(), AFTER + OKS + 1),
            ("filtered".to_string(), STORM - AFTER),
        ])
    );
    let folded: Vec<&Value> = deliveries
        .iter()
        .filter(|d| d["status"] == "filtered")
        .collect();
    let digest_id = folded[0]["digest_delivery_id"].as_str().unwrap();
    for delivery in &folded {
        assert_eq!(delivery["digest_delivery_id"], digest_id, "{delivery}");
        assert_eq!(
            delivery["digest_delivery_url"],
            format!("/v1/deliveries/{digest_id}")
        );
        assert!(
            delivery["status_reason"]
                .as_str()
                .unwrap()
                .starts_with("digest: "),
            "{delivery}"
        );
    }
    let digest_delivery = server.api.delivery(digest_id).await;
    assert_eq!(digest_delivery["status"], "delivered", "{digest_delivery}");
    let webhook_ids: Vec<&str> = received
        .iter()
        .filter_map(|r| r.header("webhook-id"))
        .collect();
    assert!(webhook_ids.contains(&digest_id), "{webhook_ids:?}");
}

#[tokio::test]
async fn a_digest_template_is_checked_at_save_like_any_other() {
    let server = TestServer::start().await;
    let cases = [
        (
            json!({"after": 5, "window_seconds": 60, "body": "{\"n\": {{digest_count}}, \"x\": \"{{nope}}\"}"}),
            "digest.body",
        ),
        (
            json!({"after": 5, "window_seconds": 60, "body": "{\"alerts\": \"{{digest_alerts_json}}\"}"}),
            "digest.body",
        ),
        (json!({"after": 0, "window_seconds": 60}), "digest.after"),
        (
            json!({"after": 5, "window_seconds": 2}),
            "digest.window_seconds",
        ),
        (json!({"after": 5}), "digest.window_seconds"),
        (
            json!({"after": 5, "window_seconds": 60, "size": 1}),
            "digest.size",
        ),
    ];
    for (digest, field) in cases {
        let (status, answer) = server
            .api
            .post(
                "/v1/endpoints",
                &json!({"name": "pager", "url": "http://127.0.0.1:9/hook", "digest": digest}),
            )
            .await;
        assert_eq!(status, 422, "{digest}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{digest}: {answer}");
    }
    // The digest's variables are the digest's: an ordinary body may not use them.
    let (status, answer) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "pager", "url": "http://127.0.0.1:9/hook",
                "body": "{\"n\": {{digest_count}}}"}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["field"], "body", "{answer}");
    let (_, listed) = server.api.get("/v1/endpoints").await;
    assert_eq!(listed["endpoints"].as_array().map(Vec::len), Some(0));

    // Every preset's digest template passes the same checks.
    for (preset, url) in [
        ("slack", "https://hooks.slack.com/services/T0/B0/x"),
        ("teams", "https://example.webhook.office.com/webhookb2/x"),
        ("pagerduty", "https://events.pagerduty.com/v2/enqueue"),
        ("opsgenie", "https://api.opsgenie.com/v2/alerts"),
        ("panther", "https://panther.example.com/hook"),
    ] {
        let (status, view) = server
            .api
            .post(
                "/v1/endpoints",
                &json!({"preset": preset, "name": preset, "url": url, "verification_token": "key-1",
                    "digest": {"after": 20, "window_seconds": 60}}),
            )
            .await;
        assert_eq!(status, 201, "{preset}: {view}");
        assert!(
            view["digest"]["body"]
                .as_str()
                .unwrap()
                .contains("digest_count"),
            "{preset}: {view}"
        );
    }
}
