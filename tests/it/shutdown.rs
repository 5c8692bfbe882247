//! SIGTERM on the real binary, as systemd or a container runtime stops it: it stops accepting at once,
//! lets the attempts in flight finish and records them, starts no new one, and exits 0. What was left stays
//! queued: the next start delivers it. Nothing is lost, and nothing is sent twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port, wait_healthy};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, Behaviour, Receiver};
use serde_json::json;

const KEY: &str = "shutdown-test-key-0123456789";
/// Attempts at once: the rest of the alerts wait on the queue.
const CONCURRENCY: usize = 4;
/// How long the receiver takes to answer each request.
const ANSWER_AFTER: Duration = Duration::from_millis(1500);

fn settings() -> ServeSettings {
    ServeSettings {
        api_key: KEY.into(),
        retry_delays: "1h".into(),
        http_timeout_secs: 10,
        concurrency: CONCURRENCY,
        log: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_attempts_in_flight_and_leaves_the_rest_queued() {
    let receiver = Receiver::start(Behaviour::Slow(ANSWER_AFTER)).await;
    let data_dir = scratch_dir("sigterm");
    let port = free_port();
    let process = ServeProcess::start(&data_dir, port, &settings());
    let api = ApiClient::new(process.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    api.create_endpoint(&json!({"name": "slow", "url": receiver.url("/hook")}))
        .await;
    let mut deliveries = Vec::new();
    for n in 0..20 {
        deliveries.extend(
            api.send_alert(&json!({"title": format!("alert {n}")}))
                .await,
        );
    }

    // WHEN SIGTERM comes while the first attempts are in flight
    receiver
        .wait_for(CONCURRENCY, Duration::from_secs(30))
        .await;
    let in_flight = receiver.received().len();
    let terminated =
        tokio::task::spawn_blocking(move || process.terminate(Duration::from_secs(30)));
    // THEN it stops accepting at once, while the attempts in flight are still being answered
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = alertwire_tests::http_client(Duration::from_secs(2))
        .post(format!("{}/v1/alerts", api.base))
        .bearer_auth(KEY)
        .json(&json!({"title": "too late"}))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "an alert posted during the drain was answered: {refused:?}"
    );
    let status = terminated
        .await
        .expect("the waiting thread")
        .expect("alertwire exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    // AND it started no attempt after SIGTERM
    let sent_before_exit = receiver.received().len();
    assert_eq!(
        sent_before_exit, in_flight,
        "only the attempts in flight were made"
    );

    // WHEN it starts again, THEN the rest is delivered, and each delivery was sent once
    let process = ServeProcess::start(&data_dir, port, &settings());
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    let deadline = Duration::from_secs(120);
    let started = Instant::now();
    for id in &deliveries {
        let delivery = api
            .settled(id, deadline.saturating_sub(started.elapsed()))
            .await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        assert_eq!(
            delivery["attempts"].as_array().map(Vec::len),
            Some(1),
            "{delivery}"
        );
    }
    let mut sent: HashMap<String, usize> = HashMap::new();
    for request in receiver.received() {
        let id = request
            .header("webhook-id")
            .expect("a webhook-id")
            .to_string();
        *sent.entry(id).or_default() += 1;
    }
    assert_eq!(sent.len(), deliveries.len());
    assert!(sent.values().all(|n| *n == 1), "sent twice: {sent:?}");
    drop(process);
}
