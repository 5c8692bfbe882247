//! Retention on the real binary, with a retention of seconds: finished history goes (delivered
//! deliveries with their attempts, then alerts left with nothing, their idempotency keys with them),
//! while a pending delivery and a dead letter stay, and so does their alert. A dead-letter retention,
//! set at the next start, takes the dead letters too; the pending delivery still stays. The metrics count
//! what was pruned and show the file's size.

use std::time::{Duration, Instant};

use alertwire_tests::prometheus_text::Exposition;
use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port, wait_healthy};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, Behaviour, Receiver};
use serde_json::{Value, json};

const KEY: &str = "retention-test-key-0123456789";
/// The retention of every run here, in seconds: the pruner passes every second.
const RETENTION: &str = "2";

fn settings() -> ServeSettings {
    ServeSettings {
        api_key: KEY.into(),
        retry_delays: "20ms".into(),
        http_timeout_secs: 5,
        concurrency: 8,
        log: Default::default(),
    }
}

fn alert(team: &str, n: usize) -> Value {
    json!({
        "title": format!("{team} alert {n}"),
        "severity": "high",
        "tags": [format!("team={team}")],
    })
}

/// The ids of the deliveries listed (all statuses), up to 500.
async fn listed(api: &ApiClient, query: &str) -> Vec<String> {
    let (status, page) = api.get(&format!("/v1/deliveries?limit=500{query}")).await;
    assert_eq!(status, 200, "{page}");
    page["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["id"].as_str().expect("an id").to_string())
        .collect()
}

/// Polls until `done` holds for the deliveries listed with `query`, or panics after `within`.
async fn until_listed(
    api: &ApiClient,
    query: &str,
    within: Duration,
    done: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        let ids = listed(api, query).await;
        if done(&ids) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "listed after {within:?}: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts an alert with an Idempotency-Key; returns the status and the receipt.
async fn post_once(api: &ApiClient, alert: &Value, key: &str) -> (u16, Value) {
    let authorization = format!("Bearer {}", api.key);
    api.raw(
        "POST",
        "/v1/alerts",
        &[
            ("authorization", &authorization),
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        serde_json::to_vec(alert).expect("JSON"),
    )
    .await
}

fn pruned(scrape: &Exposition, record: &str) -> f64 {
    scrape
        .get("alertwire_history_pruned_total", &[("record", record)])
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_history_goes_after_retention_while_pending_and_dead_deliveries_stay() {
    let ok = Receiver::start(Behaviour::status(200)).await;
    let failing = Receiver::start(Behaviour::status(500)).await;
    // Asks for an hour: its deliveries stay pending throughout.
    let slowed = Receiver::start(Behaviour::Status(
        429,
        vec![("retry-after".into(), "3600".into())],
        "{}".into(),
    ))
    .await;
    let data_dir = scratch_dir("retention");
    let port = free_port();
    let mut process = ServeProcess::start_with_env(
        &data_dir,
        port,
        &settings(),
        &[
            ("ALERTWIRE_RETENTION", RETENTION),
            // The failing endpoint's deliveries die in ten quick attempts, not held by an open circuit.
            ("ALERTWIRE_BREAKER_FAILURES", "1000"),
        ],
    );
    let api = ApiClient::new(process.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    api.create_endpoint(&json!({"name": "ok", "url": ok.url("/hook")}))
        .await;
    for (name, receiver) in [("failing", &failing), ("slowed", &slowed)] {
        api.create_endpoint(&json!({
            "name": name, "url": receiver.url("/hook"), "matchers": ["team=\"ops\""]
        }))
        .await;
    }
    let (status, settings_view) = api.get("/v1/settings").await;
    assert_eq!(status, 200);
    assert_eq!(
        settings_view["retention"],
        json!({"history_seconds": 2, "dead_letter_seconds": null})
    );

    // GIVEN web alerts (delivered only to `ok`) and ops alerts (delivered, dead and pending)
    let mut web_alerts = Vec::new();
    for n in 0..5 {
        let (status, receipt) = post_once(&api, &alert("web", n), &format!("web-{n}")).await;
        assert_eq!(status, 202, "{receipt}");
        web_alerts.push(receipt["id"].as_str().expect("an alert id").to_string());
    }
    let mut ops_deliveries = Vec::new();
    for n in 0..5 {
        ops_deliveries.extend(api.send_alert(&alert("ops", n)).await);
    }
    assert_eq!(ops_deliveries.len(), 15);
    ok.wait_for(10, Duration::from_secs(30)).await;

    // THEN once the failing ones are dead and the retention has passed, the delivered deliveries are
    // gone; the dead and pending stay
    until_listed(&api, "&status=dead", Duration::from_secs(60), |ids| {
        ids.len() == 5
    })
    .await;
    until_listed(&api, "", Duration::from_secs(60), |ids| ids.len() == 10).await;
    let dead = listed(&api, "&status=dead").await;
    let pending = listed(&api, "&status=pending").await;
    assert_eq!((dead.len(), pending.len()), (5, 5));
    assert!(
        dead.iter()
            .chain(&pending)
            .all(|id| ops_deliveries.contains(id))
    );
    for alert_id in &web_alerts {
        let (status, answer) = api.get(&format!("/v1/alerts/{alert_id}")).await;
        assert_eq!(status, 404, "a pruned alert is gone: {answer}");
    }
    // (An ops alert keeps its dead and pending deliveries, so it stays.)
    let (_, page) = api.get(&format!("/v1/deliveries/{}", dead[0])).await;
    let (status, _) = api
        .get(&format!(
            "/v1/alerts/{}",
            page["alert_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200, "an alert with a dead letter stays");
    // The idempotency key went with its alert: the same key now makes a new alert.
    let (status, receipt) = post_once(&api, &alert("web", 0), "web-0").await;
    assert_eq!(status, 202);
    assert_ne!(receipt["id"], web_alerts[0].as_str());
    let scrape = api
        .scrape_metrics_until(Duration::from_secs(30), |s| pruned(s, "alerts") >= 5.0)
        .await;
    assert_eq!(pruned(&scrape, "deliveries"), 10.0);
    assert_eq!(pruned(&scrape, "attempts"), 10.0);
    assert_eq!(pruned(&scrape, "alerts"), 5.0);
    assert_eq!(pruned(&scrape, "dead_letters"), 0.0);
    assert!(scrape.value("alertwire_store_bytes", &[]) > 0.0);

    // WHEN the next start sets a dead-letter retention
    drop(process);
    process = ServeProcess::start_with_env(
        &data_dir,
        port,
        &settings(),
        &[
            ("ALERTWIRE_RETENTION", RETENTION),
            ("ALERTWIRE_DEAD_LETTER_RETENTION", RETENTION),
            ("ALERTWIRE_BREAKER_FAILURES", "1000"),
        ],
    );
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    // THEN the dead letters go too, and only the pending deliveries stay (with the new alert's, once
    // delivered, gone as well)
    until_listed(&api, "", Duration::from_secs(60), |ids| {
        ids.len() == 5 && ids.iter().all(|id| pending.contains(id))
    })
    .await;
    let (_, dead_letters) = api.get("/v1/dead-letters").await;
    assert_eq!(dead_letters["dead_letters"], json!([]));
    let scrape = api
        .scrape_metrics_until(Duration::from_secs(30), |s| {
            pruned(s, "dead_letters") >= 5.0
        })
        .await;
    assert_eq!(pruned(&scrape, "dead_letters"), 5.0);
    assert!(!slowed.received().is_empty());
    drop(process);
}
