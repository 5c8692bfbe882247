//! SIGTERM on the real binary, as systemd or a container runtime stops it: it stops accepting at once,
//! lets the attempts in flight finish and records them, starts no new one, and exits 0. What was left stays
//! queued: the next start delivers it. Nothing is lost, and nothing is sent twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use alertwire_shared::delivery::pacing::INITIAL_WINDOW;
use alertwire_tests::receiver::gate;
use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port, wait_healthy};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, Receiver};
use serde_json::json;

const KEY: &str = "shutdown-test-key-0123456789";
/// Attempts at once: the rest of the alerts wait on the queue.
const CONCURRENCY: usize = 4;

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
    // The attempts in flight are answered only once SIGTERM has come: no slot frees up before it, however
    // slow the machine, so the count in flight is exact. Unanswered, the endpoint's window stays at its
    // first size: that many attempts are in flight, and no more start.
    let (open, held) = gate(200);
    let receiver = Receiver::start(held).await;
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
    let first_window = INITIAL_WINDOW as usize;
    receiver
        .wait_for(first_window, Duration::from_secs(30))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_flight = receiver.received().len();
    assert_eq!(in_flight, first_window);
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
    // The attempts in flight are answered now; their slots free up during the drain.
    open.send(true).expect("the receiver holds the gate");
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
