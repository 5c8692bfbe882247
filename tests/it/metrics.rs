//! Operator metrics at `GET /metrics`, scraped without an API key as Prometheus does. Each in-process
//! server records into a recorder of its own (none is installed process-wide), so every figure below is
//! exact even while the other tests run in the same process.

use std::time::Duration;

use alertwire_shared::endpoint::circuit::CircuitPolicy;
use alertwire_tests::{Behaviour, Exposition, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);

const ACCEPTED: &str = "alertwire_alerts_accepted_total";
const REFUSED: &str = "alertwire_alerts_refused_total";
const ATTEMPTS: &str = "alertwire_attempts_total";
const ATTEMPT_DURATION: &str = "alertwire_attempt_duration_seconds";
const LATENCY: &str = "alertwire_delivery_latency_seconds";
const FINISHED: &str = "alertwire_deliveries_finished_total";
const RESENDS: &str = "alertwire_resends_total";
const DISABLED: &str = "alertwire_endpoints_disabled_total";
const QUEUE_DEPTH: &str = "alertwire_queue_depth";
const DEAD_LETTERS: &str = "alertwire_dead_letters";
const CIRCUITS_OPEN: &str = "alertwire_circuits_open";
const TRANSITIONS: &str = "alertwire_circuit_transitions_total";
const HELD: &str = "alertwire_deliveries_held_total";

async fn endpoint(server: &TestServer, body: Value) -> String {
    let view = server.api.create_endpoint(&body).await;
    view["id"].as_str().unwrap().to_string()
}

fn attempts(m: &Exposition, outcome: &str, error_class: &str) -> f64 {
    m.value(
        ATTEMPTS,
        &[("outcome", outcome), ("error_class", error_class)],
    )
}

fn finished(m: &Exposition, status: &str) -> f64 {
    m.value(FINISHED, &[("status", status)])
}

fn timed(m: &Exposition, outcome: &str) -> f64 {
    m.value(
        &format!("{ATTEMPT_DURATION}_count"),
        &[("outcome", outcome)],
    )
}

/// Every label is one of a few names with values from small fixed sets: nothing of a tenant, an endpoint,
/// a URL or an alert can reach the scrape.
fn assert_labels_are_bounded(m: &Exposition) {
    for sample in &m.samples {
        for (name, value) in &sample.labels {
            let allowed: &[&str] = match name.as_str() {
                "message_type" => &["error", "reminder", "ok"],
                "reason" => &[
                    "invalid",
                    "idempotency_conflict",
                    "unavailable",
                    "in_flight",
                    "rate_limit",
                    "slowed",
                    "circuit_open",
                    "awaiting_error",
                    "scheduled",
                    "maintenance",
                    "disk_full",
                    "io_error",
                ],
                "record" => &[
                    "alerts",
                    "deliveries",
                    "attempts",
                    "dead_letters",
                    "incidents",
                ],
                "to" => &["open", "closed"],
                "outcome" => &["delivered", "retry", "dead"],
                "error_class" => &[
                    "none", "timeout", "connect", "tls", "redirect", "non2xx", "blocked", "render",
                    "auth",
                ],
                "status" => &["delivered", "dead", "filtered"],
                "kind" => &["resend", "replay"],
                "le" => {
                    assert!(
                        value == "+Inf" || value.parse::<f64>().is_ok(),
                        "{sample:?}"
                    );
                    continue;
                }
                other => panic!("unexpected label {other} on {sample:?}"),
            };
            assert!(allowed.contains(&value.as_str()), "{sample:?}");
        }
    }
}

#[tokio::test]
async fn deliveries_and_attempts_are_counted_by_outcome_and_timed_then_replays_add_up() {
    let server = TestServer::start().await;
    let ok = Receiver::start(Behaviour::status(200)).await;
    let down = Receiver::start(Behaviour::status(500)).await;
    let ok_id = endpoint(&server, json!({"name": "ok", "url": ok.url("/ok")})).await;
    let down_id = endpoint(&server, json!({"name": "down", "url": down.url("/down")})).await;
    let picky_id = endpoint(
        &server,
        json!({"name": "picky", "url": ok.url("/picky"), "min_severity": "critical"}),
    )
    .await;

    let before = server.api.scrape_metrics().await;
    assert_eq!(before.get(QUEUE_DEPTH, &[]), Some(0.0), "{before:?}");
    assert_eq!(before.get(DEAD_LETTERS, &[]), Some(0.0));
    assert!(
        before.all(ATTEMPTS).is_empty(),
        "a fresh server has counted nothing"
    );

    let mut deliveries = Vec::new();
    for title in ["disk full", "cpu hot"] {
        deliveries.extend(
            server
                .api
                .send_alert(&json!({"title": title, "severity": "high"}))
                .await,
        );
    }
    assert_eq!(deliveries.len(), 6);
    for id in &deliveries {
        server.api.settled(id, SETTLE).await;
    }
    let m = server
        .api
        .scrape_metrics_until(SETTLE, |m| {
            finished(m, "dead") == 2.0 && m.value(DEAD_LETTERS, &[]) == 2.0
        })
        .await;

    assert_eq!(m.value(ACCEPTED, &[("message_type", "error")]), 2.0);
    assert_eq!(m.all(ACCEPTED).len(), 1, "only `error` alerts were sent");
    assert_eq!(
        (
            finished(&m, "delivered"),
            finished(&m, "dead"),
            finished(&m, "filtered")
        ),
        (2.0, 2.0, 2.0)
    );
    // The 200 endpoint: one attempt per alert. The 500 endpoint: nine retries and a last, dead attempt.
    assert_eq!(attempts(&m, "delivered", "none"), 2.0);
    assert_eq!(attempts(&m, "retry", "non2xx"), 18.0);
    assert_eq!(attempts(&m, "dead", "non2xx"), 2.0);
    let counted: f64 = m.all(ATTEMPTS).iter().map(|s| s.value).sum();
    assert_eq!(counted, 22.0, "no attempt under other labels");
    assert_eq!(ok.received().len() + down.received().len(), 22);

    assert_eq!(m.types[ATTEMPT_DURATION], "histogram");
    assert_eq!(m.types[LATENCY], "histogram");
    assert_eq!(m.types[ATTEMPTS], "counter");
    assert_eq!(m.types[QUEUE_DEPTH], "gauge");
    assert_eq!(
        (
            timed(&m, "delivered"),
            timed(&m, "retry"),
            timed(&m, "dead")
        ),
        (2.0, 18.0, 2.0)
    );
    let all_buckets = m.value(
        &format!("{ATTEMPT_DURATION}_bucket"),
        &[("outcome", "retry"), ("le", "+Inf")],
    );
    assert_eq!(all_buckets, 18.0);
    let exchange_seconds = m.value(&format!("{ATTEMPT_DURATION}_sum"), &[("outcome", "retry")]);
    assert!(
        exchange_seconds < 18.0 * 2.0,
        "18 loopback exchanges under the 2 s timeout took {exchange_seconds} s"
    );
    assert_eq!(m.value(&format!("{LATENCY}_count"), &[]), 2.0);
    let latency = m.value(&format!("{LATENCY}_sum"), &[]);
    assert!(
        latency > 0.0 && latency < 2.0 * SETTLE.as_secs_f64(),
        "{latency}"
    );
    assert_eq!(m.value(QUEUE_DEPTH, &[]), 0.0);
    assert_eq!(m.value(DEAD_LETTERS, &[]), 2.0);
    assert_labels_are_bounded(&m);
    let names: Vec<&str> = m.samples.iter().map(|s| s.name.as_str()).collect();
    for id in [&ok_id, &down_id, &picky_id] {
        assert!(!names.iter().any(|n| n.contains(id.as_str())));
    }

    down.set(Behaviour::status(200));
    let (status, replay) = server.api.post("/v1/dead-letters/replay", &json!({})).await;
    assert_eq!((status, &replay), (200, &json!({"replayed": 2})));
    for id in &deliveries {
        server.api.settled(id, SETTLE).await;
    }
    let m = server
        .api
        .scrape_metrics_until(SETTLE, |m| {
            finished(m, "delivered") == 4.0 && m.value(DEAD_LETTERS, &[]) == 0.0
        })
        .await;
    assert_eq!(m.value(RESENDS, &[("kind", "replay")]), 2.0);
    assert_eq!(m.get(RESENDS, &[("kind", "resend")]), None);
    assert_eq!(attempts(&m, "delivered", "none"), 4.0);
    assert_eq!(
        (
            finished(&m, "delivered"),
            finished(&m, "dead"),
            finished(&m, "filtered")
        ),
        (4.0, 2.0, 2.0),
        "a counter of final statuses reached: the two dead ones stay counted"
    );
    assert_eq!(m.value(&format!("{LATENCY}_count"), &[]), 4.0);
    assert_eq!(m.value(DEAD_LETTERS, &[]), 0.0);
    assert_eq!(m.value(QUEUE_DEPTH, &[]), 0.0);
    assert_eq!(m.value(ACCEPTED, &[("message_type", "error")]), 2.0);
}

#[tokio::test]
async fn the_intake_counts_refusals_by_reason_and_a_repeated_alert_once() {
    let server = TestServer::start().await;
    let post = |body: Value, key: Option<&'static str>| {
        let api = server.api.clone();
        async move {
            let auth = format!("Bearer {}", api.key);
            let mut headers = vec![
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ];
            if let Some(key) = key {
                headers.push(("Idempotency-Key", key));
            }
            api.raw(
                "POST",
                "/v1/alerts",
                &headers,
                body.to_string().into_bytes(),
            )
            .await
            .0
        }
    };
    let reminder = json!({"title": "renew the certificate", "message_type": "reminder"});
    assert_eq!(post(reminder.clone(), Some("cert-1")).await, 202);
    assert_eq!(post(reminder, Some("cert-1")).await, 202, "a repeat");
    assert_eq!(
        post(json!({"title": "another body"}), Some("cert-1")).await,
        409
    );
    assert_eq!(post(json!({"severity": "high"}), None).await, 422);
    assert_eq!(
        post(json!({"title": "x", "colour": "red"}), None).await,
        422
    );
    assert_eq!(
        post(json!({"title": "all clear", "message_type": "ok"}), None).await,
        202
    );

    let m = server.api.scrape_metrics().await;
    assert_eq!(m.value(ACCEPTED, &[("message_type", "reminder")]), 1.0);
    assert_eq!(m.value(ACCEPTED, &[("message_type", "ok")]), 1.0);
    assert_eq!(m.get(ACCEPTED, &[("message_type", "error")]), None);
    assert_eq!(m.value(REFUSED, &[("reason", "invalid")]), 2.0);
    assert_eq!(m.value(REFUSED, &[("reason", "idempotency_conflict")]), 1.0);
    assert_eq!(m.get(REFUSED, &[("reason", "unavailable")]), None);
    assert!(m.all(FINISHED).is_empty(), "no endpoint, no delivery");
    assert_labels_are_bounded(&m);
}

#[tokio::test]
async fn resends_and_endpoints_disabled_by_a_410_are_counted() {
    let server = TestServer::start().await;
    let ok = Receiver::start(Behaviour::status(200)).await;
    let gone = Receiver::start(Behaviour::status(410)).await;
    endpoint(&server, json!({"name": "ok", "url": ok.url("/")})).await;
    endpoint(&server, json!({"name": "gone", "url": gone.url("/")})).await;
    let deliveries = server.api.send_alert(&json!({"title": "one"})).await;
    let mut delivered = None;
    for id in &deliveries {
        if server.api.settled(id, SETTLE).await["status"] == "delivered" {
            delivered = Some(id.clone());
        }
    }
    let delivered = delivered.expect("the 200 endpoint's delivery");
    let (status, _) = server
        .api
        .post(&format!("/v1/deliveries/{delivered}/resend"), &json!({}))
        .await;
    assert_eq!(status, 202);
    ok.wait_for(2, SETTLE).await;
    let m = server
        .api
        .scrape_metrics_until(SETTLE, |m| attempts(m, "delivered", "none") == 2.0)
        .await;

    assert_eq!(m.value(RESENDS, &[("kind", "resend")]), 1.0);
    assert_eq!(m.value(DISABLED, &[]), 1.0);
    assert_eq!(attempts(&m, "dead", "non2xx"), 1.0, "410 is dead at once");
    assert_eq!(attempts(&m, "delivered", "none"), 2.0);
    assert_eq!(finished(&m, "dead"), 1.0);
    assert_eq!(finished(&m, "delivered"), 2.0, "the resend delivered again");
    assert_eq!(m.value(&format!("{LATENCY}_count"), &[]), 2.0);

    // The next alert finds the endpoint disabled: filtered at intake, no attempt.
    server.api.send_alert(&json!({"title": "two"})).await;
    let m = server
        .api
        .scrape_metrics_until(SETTLE, |m| finished(m, "delivered") == 3.0)
        .await;
    assert_eq!(finished(&m, "filtered"), 1.0);
    assert_eq!(m.value(DISABLED, &[]), 1.0);
    assert_eq!(gone.received().len(), 1);
}

#[tokio::test]
async fn a_circuit_is_counted_open_while_it_holds_deliveries_and_closed_after() {
    // Three outages open the circuit, once however many attempts fail at the same moment; the probe comes
    // after 3 s, so the scrape sees it open before a failed probe could open it again.
    let server = TestServer::with(|config| {
        config.circuit = CircuitPolicy {
            failures: 3,
            cooldown: Duration::from_secs(3),
            max_cooldown: Duration::from_secs(3),
            ..CircuitPolicy::default()
        }
    })
    .await;
    let down = Receiver::start(Behaviour::status(503)).await;
    endpoint(&server, json!({"name": "down", "url": down.url("/")})).await;
    let mut deliveries = Vec::new();
    for n in 0..4 {
        deliveries.extend(
            server
                .api
                .send_alert(&json!({"title": format!("storm {n}")}))
                .await,
        );
    }
    let m = server
        .api
        .scrape_metrics_until(SETTLE, |m| m.get(CIRCUITS_OPEN, &[]) == Some(1.0))
        .await;
    assert_eq!(
        m.value(CIRCUITS_OPEN, &[]),
        1.0,
        "{:?}",
        m.all(CIRCUITS_OPEN)
    );
    assert_eq!(m.value(TRANSITIONS, &[("to", "open")]), 1.0);
    let m = server
        .api
        .scrape_metrics_until(SETTLE, |m| {
            m.get(HELD, &[("reason", "circuit_open")]).is_some()
        })
        .await;
    assert!(m.value(HELD, &[("reason", "circuit_open")]) >= 1.0);

    down.set(Behaviour::status(200));
    for id in &deliveries {
        assert_eq!(server.api.settled(id, SETTLE).await["status"], "delivered");
    }
    let m = server
        .api
        .scrape_metrics_until(SETTLE, |m| {
            m.get(TRANSITIONS, &[("to", "closed")]).is_some()
        })
        .await;
    assert_eq!(m.value(TRANSITIONS, &[("to", "closed")]), 1.0);
    assert_eq!(m.value(CIRCUITS_OPEN, &[]), 0.0);
    assert_labels_are_bounded(&m);
}
