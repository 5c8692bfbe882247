//! A backlog drains at full speed. 20,000 alerts are queued while their endpoint refuses connections; when
//! it answers again and their retries fall due, every one is delivered exactly once and accounted for in
//! the store, and the drain takes no longer than a bound derived from the steady-state rate measured in the
//! same test.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alertwire_shared::delivery::retry_policy::RetryPolicy;
use alertwire_tests::{Behaviour, Exposition, Receiver, TestServer};
use serde_json::{Value, json};

const BACKLOG: usize = 20_000;
const STEADY: usize = 2_000;
/// Alerts per Alertmanager notification: how the backlog is posted quickly. The README's `max_alerts`; a
/// fresh-clone run beside the rest of the suite took over the client's 30 s for one of 500.
const PER_NOTIFICATION: usize = 100;
/// The wait after a failed attempt: longer than the outage, so that each delivery meets it at most once.
/// When the endpoint is back, the test lets this time pass at once (see `retries_fall_due`).
const RETRY_DELAY: &str = "1h";
/// The drain may be this much slower than the steady state before the test fails. The bench's goal is
/// 0.8×; this leaves room for a shared CI machine.
const SLOWEST_RATIO: f64 = 0.4;
const LIMIT: Duration = Duration::from_secs(600);

const FINISHED: &str = "alertwire_deliveries_finished_total";
const ATTEMPTS: &str = "alertwire_attempts_total";
const QUEUE_DEPTH: &str = "alertwire_queue_depth";
const DEAD_LETTERS: &str = "alertwire_dead_letters";

/// An Alertmanager notification of `count` firing alerts, numbered from `first`. Each `tag` has fingerprints
/// of its own: a fingerprint names the alert, and alertwire takes a repeated one for a retried notification.
fn notification(tag: &str, first: usize, count: usize) -> Value {
    let tag_number = tag
        .bytes()
        .fold(0u64, |n, b| n.wrapping_mul(31).wrapping_add(u64::from(b)));
    let alerts: Vec<Value> = (first..first + count)
        .map(|i| {
            json!({
                "status": "firing",
                "labels": {"alertname": format!("{tag}-{i}"), "severity": "warning"},
                "annotations": {"summary": format!("{tag} alert {i}")},
                "startsAt": "2026-12-04T10:00:00Z",
                "fingerprint": format!("{:08x}{i:08x}", tag_number as u32),
            })
        })
        .collect();
    json!({"version": "4", "status": "firing", "receiver": "alertwire", "alerts": alerts})
}

/// Posts `count` alerts in notifications of `PER_NOTIFICATION`.
async fn post_alerts(server: &TestServer, tag: &str, count: usize) {
    for first in (0..count).step_by(PER_NOTIFICATION) {
        let body = notification(tag, first, PER_NOTIFICATION.min(count - first));
        let (status, answer) = server.api.post("/v1/alerts/alertmanager", &body).await;
        assert_eq!(status, 202, "{answer}");
    }
}

fn delivered(m: &Exposition) -> f64 {
    m.value(FINISHED, &[("status", "delivered")])
}

/// Time passes: every task waiting for its retry falls due now. Tasks in flight (leased) are left alone.
async fn retries_fall_due(server: &TestServer) {
    server
        .server
        .database
        .run(|c| {
            c.execute(
                "UPDATE queue SET visible_at = 0 WHERE queue = 'main' AND leased = 0",
                [],
            )?;
            Ok(())
        })
        .await
        .expect("the queue is writable");
    server.server.database.queue_wakeup().notify_one();
}

/// Every distinct `webhook-id` the receiver got, and how many requests in all.
fn webhook_ids(receiver: &Receiver) -> (HashSet<String>, usize) {
    let received = receiver.received();
    let ids = received
        .iter()
        .map(|r| r.header("webhook-id").expect("a webhook-id").to_string())
        .collect();
    (ids, received.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_left_by_an_outage_drains_at_the_steady_state_rate() {
    let server = TestServer::with(|c| {
        c.retry = RetryPolicy::parse(RETRY_DELAY).expect("a delay");
        c.concurrency = 32;
    })
    .await;

    // The steady state: alerts posted to a healthy endpoint while they are delivered.
    let healthy = Receiver::start(Behaviour::status(200)).await;
    let steady_endpoint = server
        .api
        .create_endpoint(&json!({"name": "steady", "url": healthy.url("/steady")}))
        .await;
    let started = Instant::now();
    post_alerts(&server, "steady", STEADY).await;
    let scrape = server
        .api
        .scrape_metrics_until(LIMIT, |m| delivered(m) >= STEADY as f64)
        .await;
    assert_eq!(
        delivered(&scrape),
        STEADY as f64,
        "the steady state did not settle"
    );
    let steady_rate = STEADY as f64 / started.elapsed().as_secs_f64();
    let (status, _) = server
        .api
        .call(
            "DELETE",
            &format!("/v1/endpoints/{}", steady_endpoint["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);

    // The outage: the endpoint's port refuses connections while the backlog is queued.
    let port: SocketAddr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    server
        .api
        .create_endpoint(&json!({"name": "down", "url": format!("http://{port}/back")}))
        .await;
    post_alerts(&server, "backlog", BACKLOG).await;
    let refused = server.api.scrape_metrics().await;
    let failed_during_outage = refused.value(
        ATTEMPTS,
        &[("outcome", "retry"), ("error_class", "connect")],
    );
    assert!(failed_during_outage > 0.0, "no attempt met the outage");

    // The endpoint comes back, and the retries fall due: again each second, for attempts that were in
    // flight when it came back and were refused all the same.
    let back = Receiver::start_at(port, Behaviour::status(200)).await;
    let drain_started = Instant::now();
    let drained = |m: &Exposition| {
        delivered(m) >= (STEADY + BACKLOG) as f64 && m.value(QUEUE_DEPTH, &[]) == 0.0
    };
    let scrape = loop {
        retries_fall_due(&server).await;
        let scrape = server
            .api
            .scrape_metrics_until(Duration::from_secs(1), drained)
            .await;
        if drained(&scrape) || drain_started.elapsed() > LIMIT {
            break scrape;
        }
    };
    let drain = drain_started.elapsed();

    // Accounted exactly: each delivery arrived once, was recorded delivered once, and nothing is left.
    let (ids, requests) = webhook_ids(&back);
    assert_eq!(ids.len(), BACKLOG, "distinct deliveries that arrived");
    assert_eq!(requests, BACKLOG, "requests: a delivery arrived twice");
    assert_eq!(delivered(&scrape), (STEADY + BACKLOG) as f64);
    assert_eq!(scrape.value(FINISHED, &[("status", "dead")]), 0.0);
    assert_eq!(scrape.value(QUEUE_DEPTH, &[]), 0.0);
    assert_eq!(scrape.value(DEAD_LETTERS, &[]), 0.0);
    let (pending_status, pending) = server
        .api
        .get("/v1/deliveries?status=pending&limit=1")
        .await;
    assert_eq!(pending_status, 200);
    assert_eq!(
        pending["deliveries"],
        json!([]),
        "a delivery is still pending"
    );

    // As fast as the steady state allows, with a margin for a shared machine.
    let bound = Duration::from_secs_f64(BACKLOG as f64 / (steady_rate * SLOWEST_RATIO));
    println!(
        "backlog: steady state {steady_rate:.0} deliveries/s; {BACKLOG} queued ({failed_during_outage} attempts refused) drained in {:.1} s ({:.0}/s), bound {:.1} s",
        drain.as_secs_f64(),
        BACKLOG as f64 / drain.as_secs_f64(),
        bound.as_secs_f64()
    );
    assert!(
        drain <= bound,
        "the backlog drained in {drain:?}, over the bound of {bound:?} derived from {steady_rate:.0} deliveries/s"
    );
}
