//! A kill -9 loses nothing: the real binary is killed while alerts pour in and deliveries are in flight,
//! restarted on the same data directory, and every accepted alert is delivered.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use alertwire_tests::serve_process::{self, ServeProcess, ServeSettings, free_port};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, Behaviour, Receiver};
use serde_json::json;

const KEY: &str = "durability-test-key-0123456789";

fn start_binary(data_dir: &std::path::Path, port: u16) -> ServeProcess {
    let settings = ServeSettings {
        api_key: KEY.to_string(),
        retry_delays: "50ms,100ms,200ms".to_string(),
        http_timeout_secs: 5,
        concurrency: 32,
        log: Default::default(),
    };
    ServeProcess::start(data_dir, port, &settings)
}

async fn wait_healthy(api: &ApiClient) {
    serve_process::wait_healthy(&api.base, Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_while_delivering_loses_nothing() {
    const ALERTS: usize = 200;
    let data_dir = scratch_dir("durability");
    let port = free_port();
    // Slow enough that many deliveries are in flight when the process dies.
    let receiver = Receiver::start(Behaviour::Slow(Duration::from_millis(300))).await;
    let child = start_binary(&data_dir, port);
    let api = ApiClient::new(format!("http://127.0.0.1:{port}"), KEY);
    wait_healthy(&api).await;
    api.create_endpoint(&json!({"name": "slow", "url": receiver.url("/slow")}))
        .await;

    // Post every alert until it is accepted, with an Idempotency-Key so a retry after the crash cannot
    // create it twice.
    let poster = {
        let api = api.clone();
        tokio::spawn(async move {
            let client = alertwire_tests::http_client(Duration::from_secs(5));
            let mut deliveries = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(180);
            for i in 0..ALERTS {
                loop {
                    assert!(Instant::now() < deadline, "alert {i} was never accepted");
                    let answer = client
                        .post(format!("{}/v1/alerts", api.base))
                        .bearer_auth(&api.key)
                        .header("idempotency-key", format!("alert-{i}"))
                        .json(&json!({"title": format!("alert {i}")}))
                        .send()
                        .await;
                    if let Ok(response) = answer
                        && response.status() == 202
                    {
                        let receipt: serde_json::Value = response.json().await.unwrap();
                        deliveries
                            .push(receipt["deliveries"][0]["id"].as_str().unwrap().to_string());
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            deliveries
        })
    };

    // Kill it mid-stream: some alerts accepted, some deliveries in flight, more alerts still to come.
    receiver.wait_for(40, Duration::from_secs(60)).await;
    drop(child); // SIGKILL, and reaped
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _restarted = start_binary(&data_dir, port);
    wait_healthy(&api).await;

    let deliveries = poster.await.unwrap();
    assert_eq!(deliveries.len(), ALERTS);
    assert_eq!(
        deliveries.iter().collect::<HashSet<_>>().len(),
        ALERTS,
        "an alert was accepted twice"
    );
    for id in &deliveries {
        let delivery = api.settled(id, Duration::from_secs(60)).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
    }
    let seen: HashSet<String> = receiver
        .received()
        .iter()
        .filter_map(|r| r.header("webhook-id").map(str::to_string))
        .collect();
    for id in &deliveries {
        assert!(seen.contains(id), "the receiver never saw {id}");
    }
    let total = receiver.received().len();
    eprintln!(
        "durability: {ALERTS} alerts, {total} requests received ({} duplicates)",
        total - ALERTS
    );
}
