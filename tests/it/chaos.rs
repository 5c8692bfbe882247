//! Nothing lost amid chaos: the real binary delivers to three endpoints on a seeded chaos receiver (500s,
//! resets mid-answer, answers slower than the timeout, 429 with Retry-After) while alerts pour in and the
//! process is killed with SIGKILL at random moments and restarted on the same data directory. At the end
//! every delivery is accounted for exactly (see `alertwire_tests::chaos_accounting`) and the table is
//! printed. The same books are kept for a backlog of about 10,000 deliveries killed while it drains.
//!
//! Sized for CI by default; `CHAOS_ALERTS`, `CHAOS_BACKLOG_ALERTS`, `CHAOS_KILLS` and `CHAOS_SEED` change
//! it (`tests/chaos.sh` runs the long version).

use std::time::{Duration, Instant};

use alertwire_shared::delivery::{Attempt, DeliveryStatus};
use alertwire_tests::ApiClient;
use alertwire_tests::chaos_accounting::{Accounting, ChaosRun, Numbering, Promised, Stored};
use alertwire_tests::chaos_receiver::{ChaosMix, ChaosReceiver, ChaosSettings};
use alertwire_tests::chaos_scenario::{self, ENDPOINTS, env_number};
use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port, wait_healthy};
use alertwire_tests::server::scratch_dir;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const KEY: &str = "chaos-test-key-0123456789abcdef";
const CONCURRENCY: usize = 32;
/// Short, so slow answers cost little; not shorter, so a busy machine's scheduling is not a timeout.
const HTTP_TIMEOUT: Duration = Duration::from_secs(2);
const POSTERS: usize = 4;

/// Posts alerts `first, first + step, …` below `count` until each is answered 202, retrying through
/// crashes with the same Idempotency-Key; returns (alert number, receipt).
async fn post_alerts(
    api: ApiClient,
    first: usize,
    step: usize,
    count: usize,
    within: Duration,
) -> Vec<(usize, Value)> {
    let client = alertwire_tests::http_client(Duration::from_secs(5));
    let deadline = Instant::now() + within;
    let mut receipts = Vec::new();
    for i in (first..count).step_by(step) {
        let alert = chaos_scenario::alert(i);
        loop {
            assert!(Instant::now() < deadline, "alert {i} was never accepted");
            let answer = client
                .post(format!("{}/v1/alerts", api.base))
                .bearer_auth(&api.key)
                .header("idempotency-key", format!("chaos-{i}"))
                .json(&alert)
                .send()
                .await;
            if let Ok(response) = answer
                && response.status() == 202
                && let Ok(receipt) = response.json::<Value>().await
            {
                receipts.push((i, receipt));
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    receipts
}

/// Every delivery of the endpoints, as the API lists them (all pages).
async fn list_deliveries(api: &ApiClient, endpoints: &[String]) -> Vec<Stored> {
    let mut all = Vec::new();
    for endpoint in endpoints {
        let mut before: Option<String> = None;
        loop {
            let mut path = format!("/v1/deliveries?endpoint_id={endpoint}&limit=500");
            if let Some(before) = &before {
                path.push_str(&format!("&before={before}"));
            }
            let (status, page) = api.get(&path).await;
            assert_eq!(status, 200, "listing deliveries: {page}");
            for delivery in page["deliveries"].as_array().expect("deliveries") {
                all.push(Stored {
                    id: delivery["id"].as_str().expect("an id").to_string(),
                    status: serde_json::from_value::<DeliveryStatus>(delivery["status"].clone())
                        .expect("a status"),
                    attempts: serde_json::from_value::<Vec<Attempt>>(delivery["attempts"].clone())
                        .expect("attempts"),
                });
            }
            match page["next_before"].as_str() {
                Some(next) => before = Some(next.to_string()),
                None => break,
            }
        }
    }
    all
}

/// Lists until no delivery is pending, or `within` passed; returns the last listing.
async fn settled(api: &ApiClient, endpoints: &[String], within: Duration) -> Vec<Stored> {
    let deadline = Instant::now() + within;
    loop {
        let stored = list_deliveries(api, endpoints).await;
        let pending = stored
            .iter()
            .filter(|d| d.status == DeliveryStatus::Pending)
            .count();
        if pending == 0 || Instant::now() >= deadline {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The deliveries each receipt promised, by endpoint; each receipt lists exactly the endpoints its alert
/// is routed to.
fn promised(receipts: &[(usize, Value)], endpoints: &[String]) -> Vec<Promised> {
    let mut promised = Vec::new();
    for (i, receipt) in receipts {
        let mut routed = Vec::new();
        for delivery in receipt["deliveries"].as_array().expect("deliveries") {
            let n = endpoints
                .iter()
                .position(|e| delivery["endpoint_id"] == e.as_str())
                .expect("a delivery to one of the endpoints");
            routed.push(n);
            promised.push(Promised {
                id: delivery["id"].as_str().expect("an id").to_string(),
                filtered_by_rule: chaos_scenario::filtered_by_rule(n, *i),
            });
        }
        routed.sort_unstable();
        assert_eq!(
            routed,
            chaos_scenario::routed_endpoints(*i),
            "alert {i}'s receipt: {receipt}"
        );
    }
    promised
}

/// Posts `alerts` alerts with `POSTERS` clients, each retried through crashes until it is accepted.
fn start_posting(
    api: &ApiClient,
    alerts: usize,
) -> Vec<tokio::task::JoinHandle<Vec<(usize, Value)>>> {
    let posting_limit = Duration::from_secs(60 + alerts as u64 / 5);
    (0..POSTERS)
        .map(|first| {
            tokio::spawn(post_alerts(
                api.clone(),
                first,
                POSTERS,
                alerts,
                posting_limit,
            ))
        })
        .collect()
}

/// Every poster's receipts, once all have finished.
async fn posted(posters: Vec<tokio::task::JoinHandle<Vec<(usize, Value)>>>) -> Vec<(usize, Value)> {
    let mut receipts = Vec::new();
    for poster in posters {
        receipts.extend(poster.await.expect("a poster"));
    }
    receipts
}

/// Waits for every delivery the receipts promised to settle, and checks the books: every one is stored,
/// final and accounted for by what the receiver saw.
async fn settle_and_account(
    title: &str,
    api: &ApiClient,
    endpoints: &[String],
    receipts: &[(usize, Value)],
    alerts: usize,
    receiver: &ChaosReceiver,
    kills: usize,
) {
    let promised = promised(receipts, endpoints);
    let settle_limit = Duration::from_secs(120 + promised.len() as u64 / 5);
    let stored = settled(api, endpoints, settle_limit).await;
    let received = receiver.received();
    let books = Accounting::of(&ChaosRun {
        alerts: receipts.len(),
        promised: &promised,
        stored: &stored,
        received: &received,
        kills,
        numbering: Numbering::Contiguous,
    });
    println!("{}", books.table(title));
    assert_eq!(receipts.len(), alerts);
    let routed: usize = (0..alerts)
        .map(|i| chaos_scenario::routed_endpoints(i).len())
        .sum();
    assert_eq!(promised.len(), routed);
    assert!(books.lost.is_empty(), "lost deliveries: {:#?}", books.lost);
    assert!(
        books.unaccounted.is_empty(),
        "unaccounted: {:#?}",
        books.unaccounted
    );
    assert!(
        books.unrecorded_requests <= kills * CONCURRENCY,
        "{} requests without a recorded attempt: more than {kills} crashes × {CONCURRENCY} attempts in flight",
        books.unrecorded_requests
    );
    assert_eq!(
        books.delivered + books.dead + books.filtered,
        promised.len()
    );
}

/// The chaos endpoints on `api`, their ids.
async fn create_endpoints(api: &ApiClient, receiver: &ChaosReceiver) -> Vec<String> {
    let mut endpoints = Vec::new();
    for n in 0..ENDPOINTS {
        let view = api
            .create_endpoint(&chaos_scenario::endpoint(receiver, n))
            .await;
        endpoints.push(view["id"].as_str().expect("an endpoint id").to_string());
    }
    endpoints
}

fn serve_settings(concurrency: usize) -> ServeSettings {
    ServeSettings {
        api_key: KEY.to_string(),
        retry_delays: "20ms,40ms,80ms".to_string(),
        http_timeout_secs: HTTP_TIMEOUT.as_secs(),
        concurrency,
        log: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkills_amid_chaos_lose_nothing_and_every_attempt_is_accounted_for() {
    let alerts = env_number("CHAOS_ALERTS", 200) as usize;
    let kills = env_number("CHAOS_KILLS", 5) as usize;
    let seed = chaos_scenario::seed();
    let started = Instant::now();
    let receiver =
        ChaosReceiver::start(chaos_scenario::receiver_settings(seed, HTTP_TIMEOUT)).await;
    let data_dir = scratch_dir("chaos");
    let port = free_port();
    let settings = serve_settings(CONCURRENCY);
    let mut process = ServeProcess::start(&data_dir, port, &settings);
    let api = ApiClient::new(process.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    let endpoints = create_endpoints(&api, &receiver).await;
    let posters = start_posting(&api, alerts);

    // The killer: each process lives a random while (start-up and recovery included), then SIGKILL.
    let mut moments = StdRng::seed_from_u64(seed);
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(moments.random_range(200..2500))).await;
        process.kill();
        tokio::time::sleep(Duration::from_millis(moments.random_range(0..300))).await;
        process = ServeProcess::start(&data_dir, port, &settings);
    }
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    let title = format!(
        "chaos on the embedded default (alertwire serve, SIGKILL): seed {seed}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let receipts = posted(posters).await;
    settle_and_account(
        &title, &api, &endpoints, &receipts, alerts, &receiver, kills,
    )
    .await;
}

/// A backlog of about 10,000 deliveries, queued while a worker of one slot could not keep up, drains amid
/// milder chaos while the process is killed with SIGKILL again and again: nothing is lost, every attempt
/// is accounted for. `CHAOS_BACKLOG_ALERTS` changes its size (each alert makes about 2.4 deliveries to
/// send: the third endpoint filters three severities of five).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkills_while_a_backlog_drains_lose_nothing() {
    let alerts = env_number("CHAOS_BACKLOG_ALERTS", 4_200) as usize;
    let kills = env_number("CHAOS_KILLS", 5) as usize;
    let seed = chaos_scenario::seed();
    let started = Instant::now();
    let settings = ChaosSettings {
        mix: ChaosMix {
            server_error: 10,
            reset_mid_response: 3,
            slower_than_timeout: 1,
            too_many_requests: 1,
        },
        ..chaos_scenario::receiver_settings(seed, HTTP_TIMEOUT)
    };
    let receiver = ChaosReceiver::start(settings).await;
    let data_dir = scratch_dir("chaos-backlog");
    let port = free_port();
    // While the alerts come in, one attempt at a time: the backlog builds.
    let mut process = ServeProcess::start(&data_dir, port, &serve_settings(1));
    let api = ApiClient::new(process.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    let endpoints = create_endpoints(&api, &receiver).await;
    let receipts = posted(start_posting(&api, alerts)).await;
    let (status, waiting) = api.get("/v1/deliveries?status=pending&limit=500").await;
    assert_eq!(status, 200);
    assert_eq!(
        waiting["deliveries"].as_array().map(Vec::len),
        Some(500),
        "a backlog built up"
    );

    // The drain at full concurrency, killed at random moments.
    let settings = serve_settings(CONCURRENCY);
    let mut moments = StdRng::seed_from_u64(seed);
    for _ in 0..kills {
        process.kill();
        tokio::time::sleep(Duration::from_millis(moments.random_range(0..300))).await;
        process = ServeProcess::start(&data_dir, port, &settings);
        tokio::time::sleep(Duration::from_millis(moments.random_range(500..3000))).await;
    }
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    let title = format!(
        "chaos with a backlog of {alerts} alerts (alertwire serve, SIGKILL during the drain): seed {seed}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    settle_and_account(
        &title, &api, &endpoints, &receipts, alerts, &receiver, kills,
    )
    .await;
}
