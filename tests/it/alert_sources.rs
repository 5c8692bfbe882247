//! Alertmanager and Grafana post their own webhook payloads (fixtures written after each tool's documented
//! format); each alert in them arrives at a real receiver as one of ours, rendered and signed.

use std::time::Duration;

use alertwire_tests::standard_webhooks::verifies;
use alertwire_tests::{ApiClient, Behaviour, Received, Receiver, TestServer};
use serde_json::{Value, json};

const ALERTMANAGER_FIRING: &str = include_str!("../fixtures/alertmanager/firing.json");
const ALERTMANAGER_RESOLVED: &str = include_str!("../fixtures/alertmanager/resolved.json");
const GRAFANA_FIRING: &str = include_str!("../fixtures/grafana/firing.json");
const GRAFANA_RESOLVED: &str = include_str!("../fixtures/grafana/resolved.json");

/// Posts `body` the way Alertmanager's `http_config.authorization` and Grafana's "Authorization header"
/// send it: `Authorization: Bearer <credentials>`, JSON, the tool's own user agent.
pub(crate) async fn post_as_tool(
    api: &ApiClient,
    path: &str,
    user_agent: &str,
    body: &str,
) -> (u16, Value) {
    let authorization = format!("Bearer {}", api.key);
    api.raw(
        "POST",
        path,
        &[
            ("Authorization", authorization.as_str()),
            ("Content-Type", "application/json"),
            ("User-Agent", user_agent),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

/// An endpoint with the default body (every field of the alert) and a signing secret; returns the secret.
async fn signed_endpoint(api: &ApiClient, receiver: &Receiver) -> String {
    let view = api
        .create_endpoint(
            &json!({"name": "sink", "url": receiver.url("/alerts"), "secret": "generate"}),
        )
        .await;
    view["secret"].as_str().expect("a secret").to_string()
}

/// The one received webhook whose `incident_key` is `key`.
fn by_incident<'a>(received: &'a [Received], key: &str) -> &'a Received {
    let matching: Vec<&Received> = received
        .iter()
        .filter(|r| r.json()["incident_key"] == key)
        .collect();
    assert_eq!(matching.len(), 1, "one webhook for incident {key}");
    matching[0]
}

fn alert_ids(receipt: &Value) -> Vec<String> {
    receipt["alerts"]
        .as_array()
        .expect("alerts in the receipt")
        .iter()
        .map(|a| a["id"].as_str().expect("an alert id").to_string())
        .collect()
}

#[tokio::test]
async fn an_alertmanager_notification_becomes_one_signed_alert_per_entry() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let secret = signed_endpoint(&server.api, &receiver).await;

    let (status, receipt) = post_as_tool(
        &server.api,
        "/v1/alerts/alertmanager",
        "Alertmanager/0.28.1",
        ALERTMANAGER_FIRING,
    )
    .await;
    assert_eq!(status, 202, "{receipt}");
    let ids = alert_ids(&receipt);
    assert_eq!(ids.len(), 2, "two alerts in, two accepted: {receipt}");
    assert_ne!(ids[0], ids[1]);
    for alert in receipt["alerts"].as_array().unwrap() {
        assert_eq!(alert["deliveries"].as_array().unwrap().len(), 1);
    }

    let received = receiver.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 2);
    for request in &received {
        assert!(
            verifies(&secret, request),
            "signed with the endpoint's secret"
        );
    }

    let critical = by_incident(&received, "3f1c2a9b8d7e6f50").json();
    assert_eq!(critical["title"], "Disk on db-1 is 97% full");
    assert_eq!(
        critical["description"],
        "Filesystem /var/lib/postgresql on db-1.example.org has 3% space left."
    );
    assert_eq!(critical["severity"], "critical");
    assert_eq!(critical["message_type"], "error");
    assert_eq!(critical["source"], "alertmanager");
    assert_eq!(
        critical["link"],
        "http://prometheus.example.org:9090/graph?g0.expr=node_filesystem_avail_bytes+%2F+node_filesystem_size_bytes+%3C+0.05&g0.tab=1"
    );
    assert_eq!(critical["timeframe_start"], "2026-03-02T09:14:05.321+00:00");
    assert_eq!(
        critical["timeframe_end"], "",
        "a firing alert has no end yet"
    );
    assert_eq!(
        critical["tags"],
        json!([
            "alertname=DiskAlmostFull",
            "instance=db-1.example.org:9100",
            "job=node",
            "mountpoint=/var/lib/postgresql",
            "severity=critical",
            "team=storage"
        ])
    );
    let context = &critical["context"];
    assert_eq!(context["labels"]["instance"], "db-1.example.org:9100");
    assert_eq!(
        context["annotations"]["runbook_url"],
        "https://runbooks.example.org/disk-full"
    );
    assert_eq!(context["receiver"], "alertwire");
    assert_eq!(
        context["groupKey"],
        "{}/{team=\"storage\"}:{alertname=\"DiskAlmostFull\"}"
    );
    assert_eq!(context["truncatedAlerts"], 0);
    assert_eq!(
        context["externalURL"],
        "http://alertmanager.example.org:9093"
    );

    let warning = by_incident(&received, "a04d55e1c2b3f789").json();
    assert_eq!(warning["title"], "Disk on db-2 is 91% full");
    assert_eq!(warning["severity"], "medium", "`warning` is our medium");
    assert_eq!(warning["message_type"], "error");
    assert_eq!(
        warning["timeframe_start"], "2026-03-02T08:16:35.004+00:00",
        "the start is kept in UTC"
    );
}

#[tokio::test]
async fn a_resolved_alertmanager_alert_is_an_ok_for_the_same_incident() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    signed_endpoint(&server.api, &receiver).await;

    for fixture in [ALERTMANAGER_FIRING, ALERTMANAGER_RESOLVED] {
        let (status, receipt) = post_as_tool(
            &server.api,
            "/v1/alerts/alertmanager",
            "Alertmanager/0.28.1",
            fixture,
        )
        .await;
        assert_eq!(status, 202, "{receipt}");
    }
    let received = receiver.wait_for(3, Duration::from_secs(20)).await;
    let for_db1: Vec<Value> = received
        .iter()
        .map(Received::json)
        .filter(|body| body["incident_key"] == "3f1c2a9b8d7e6f50")
        .collect();
    let types: Vec<&str> = for_db1
        .iter()
        .map(|b| b["message_type"].as_str().unwrap())
        .collect();
    assert_eq!(types.len(), 2, "firing and resolved for db-1: {for_db1:?}");
    assert!(
        types.contains(&"error") && types.contains(&"ok"),
        "{types:?}"
    );
    let resolved = for_db1.iter().find(|b| b["message_type"] == "ok").unwrap();
    assert_eq!(resolved["timeframe_end"], "2026-03-02T09:41:20+00:00");
    assert_eq!(resolved["context"]["status"], "resolved");
    assert_eq!(resolved["severity"], "critical");
}

#[tokio::test]
async fn a_retried_notification_duplicates_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    signed_endpoint(&server.api, &receiver).await;

    let path = "/v1/alerts/alertmanager";
    let (_, first) = post_as_tool(
        &server.api,
        path,
        "Alertmanager/0.28.1",
        ALERTMANAGER_FIRING,
    )
    .await;
    // Alertmanager retries a notification it got no 2XX for, and re-sends a group's firing alerts when the
    // group changes; an annotation may read differently by then.
    let changed = ALERTMANAGER_FIRING.replace("is 97% full", "is 98% full");
    let (status, again) = post_as_tool(&server.api, path, "Alertmanager/0.28.1", &changed).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(
        alert_ids(&again),
        alert_ids(&first),
        "the first receipt again"
    );
    assert_eq!(again, first);

    receiver.wait_for(2, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2, "each alert delivered once");
    let (_, page) = server.api.get("/v1/deliveries?limit=100").await;
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 2);

    // Another tenant posting the same notification gets alerts of its own.
    let other = server.tenant("beta").await;
    let (status, theirs) =
        post_as_tool(&other, path, "Alertmanager/0.28.1", ALERTMANAGER_FIRING).await;
    assert_eq!(status, 202);
    let theirs = alert_ids(&theirs);
    assert_eq!(theirs.len(), 2);
    assert!(theirs.iter().all(|id| !alert_ids(&first).contains(id)));
}

#[tokio::test]
async fn a_grafana_notification_maps_the_same_way_with_its_extras_in_the_context() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let secret = signed_endpoint(&server.api, &receiver).await;

    let (status, receipt) =
        post_as_tool(&server.api, "/v1/alerts/grafana", "Grafana", GRAFANA_FIRING).await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(alert_ids(&receipt).len(), 1);
    let received = receiver.wait_for(1, Duration::from_secs(20)).await;
    assert!(verifies(&secret, &received[0]));
    let firing = received[0].json();
    assert_eq!(firing["title"], "This alert was triggered for zone us-1");
    assert_eq!(firing["description"], "The system has high memory usage");
    assert_eq!(firing["severity"], "medium", "no severity label: medium");
    assert_eq!(firing["message_type"], "error");
    assert_eq!(firing["incident_key"], "c6eadffa33fcdf37");
    assert_eq!(firing["source"], "grafana");
    assert_eq!(
        firing["link"],
        "https://grafana.example.org/alerting/grafana/1afz29v7z/view"
    );
    assert_eq!(
        firing["tags"],
        json!([
            "alertname=High memory usage",
            "grafana_folder=Infrastructure",
            "team=blue",
            "zone=us-1"
        ])
    );
    let context = &firing["context"];
    assert_eq!(context["values"], json!({"B": 44.23943737541908, "C": 1}));
    assert_eq!(
        context["dashboardURL"],
        "https://grafana.example.org/d/mem01"
    );
    assert_eq!(
        context["panelURL"],
        "https://grafana.example.org/d/mem01?viewPanel=2"
    );
    assert!(
        context["silenceURL"]
            .as_str()
            .unwrap()
            .contains("/alerting/silence/new")
    );
    assert!(
        context["valueString"]
            .as_str()
            .unwrap()
            .starts_with("[ var='B'")
    );
    assert_eq!(context["orgId"], 1);
    assert_eq!(context["state"], "alerting");

    let (status, _) = post_as_tool(
        &server.api,
        "/v1/alerts/grafana",
        "Grafana",
        GRAFANA_RESOLVED,
    )
    .await;
    assert_eq!(status, 202);
    let received = receiver.wait_for(2, Duration::from_secs(20)).await;
    let resolved = received
        .iter()
        .map(Received::json)
        .find(|b| b["message_type"] == "ok")
        .expect("the resolved alert arrives as ok");
    assert_eq!(resolved["incident_key"], "c6eadffa33fcdf37");
    assert_eq!(
        resolved["timeframe_end"],
        "2026-03-02T09:06:03.157076+00:00"
    );
}

#[tokio::test]
async fn bad_notifications_name_the_field_and_write_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    signed_endpoint(&server.api, &receiver).await;
    let fixture: Value = serde_json::from_str(ALERTMANAGER_FIRING).unwrap();
    let grafana: Value = serde_json::from_str(GRAFANA_FIRING).unwrap();
    let edited = |base: &Value, edit: &dyn Fn(&mut Value)| {
        let mut copy = base.clone();
        edit(&mut copy);
        copy.to_string()
    };
    let am = "/v1/alerts/alertmanager";
    let gf = "/v1/alerts/grafana";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            am,
            edited(&fixture, &|v| v["version"] = json!("3")),
            "invalid_field",
            "version",
        ),
        (
            am,
            edited(&fixture, &|v| {
                v.as_object_mut().unwrap().remove("version");
            }),
            "missing_field",
            "version",
        ),
        (
            am,
            edited(&fixture, &|v| v["alerts"] = json!([])),
            "invalid_field",
            "alerts",
        ),
        (
            am,
            edited(&fixture, &|v| v["alerts"] = json!({})),
            "invalid_field",
            "alerts",
        ),
        // The second alert is bad: the first, valid one must not be written either.
        (
            am,
            edited(&fixture, &|v| {
                v["alerts"][1]["startsAt"] = json!("yesterday")
            }),
            "invalid_field",
            "alerts[1].startsAt",
        ),
        (
            am,
            edited(&fixture, &|v| v["alerts"][1]["status"] = json!("pending")),
            "invalid_field",
            "alerts[1].status",
        ),
        (
            am,
            edited(&fixture, &|v| {
                v["alerts"][1].as_object_mut().unwrap().remove("status");
            }),
            "missing_field",
            "alerts[1].status",
        ),
        (
            am,
            edited(&fixture, &|v| {
                v["alerts"][1]["labels"]["severity"] = json!(3)
            }),
            "invalid_field",
            "alerts[1].labels.severity",
        ),
        (
            am,
            edited(&fixture, &|v| {
                v["alerts"][1]["annotations"]["summary"] = json!("nul\u{0}byte")
            }),
            "invalid_field",
            "alerts[1]",
        ),
        (am, "[]".to_string(), "invalid_field", ""),
        (
            gf,
            edited(&grafana, &|v| v["version"] = json!("4")),
            "invalid_field",
            "version",
        ),
        (
            gf,
            edited(&grafana, &|v| v["alerts"][0]["values"] = json!("B=1")),
            "invalid_field",
            "alerts[0].values",
        ),
    ];
    for (path, body, code, field) in cases {
        let (status, answer) = post_as_tool(&server.api, path, "Alertmanager/0.28.1", &body).await;
        assert_eq!(status, 422, "{path} {field}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    let (status, _) = post_as_tool(&server.api, am, "Alertmanager/0.28.1", "{\"version\": ").await;
    assert_eq!(status, 400);

    // Without the bearer credentials, or with wrong ones, nothing is accepted.
    let (status, answer) = server
        .api
        .raw(
            "POST",
            am,
            &[("Content-Type", "application/json")],
            ALERTMANAGER_FIRING.into(),
        )
        .await;
    assert_eq!(
        (status, answer["error"]["field"].as_str()),
        (401, Some("Authorization"))
    );
    let stranger = server.api.with_key("awk_not-a-key");
    let (status, _) = post_as_tool(&stranger, gf, "Grafana", GRAFANA_FIRING).await;
    assert_eq!(status, 401);

    let (_, page) = server.api.get("/v1/deliveries?limit=100").await;
    assert_eq!(page["deliveries"], json!([]), "nothing was written");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty(), "nothing was sent");
}
