//! Nothing lost amid chaos: the real binary delivers to three endpoints on a seeded chaos receiver (500s,
//! resets mid-answer, answers slower than the timeout, 429 with Retry-After) while alerts pour in and the
//! process is killed with SIGKILL at random moments and restarted on the same data directory. At the end
//! every delivery is accounted for exactly (see `alertwire_tests::chaos_accounting`) and the table is
//! printed. The first run prunes history as it goes (a retention of a few seconds), so the books also
//! hold what the pruner deleted; in it the first endpoint folds the storm's errors into digests and the
//! last is in a maintenance window at first, so the books hold digests and held deliveries too. The same books are kept for a backlog of about 10,000 deliveries killed
//! while it drains.
//!
//! Sized for CI by default; `CHAOS_ALERTS`, `CHAOS_BACKLOG_ALERTS`, `CHAOS_KILLS` and `CHAOS_SEED` change
//! it (`tests/chaos.sh` runs the long version).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
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
/// The retention of the first chaos run, in seconds: history is pruned while the run goes on. Longer
/// than a restart, so an alert whose answer a kill cut off is still known when its poster sends it again.
const RETENTION_SECS: u64 = 3;
/// In the first run, the first endpoint sends this many errors a window one by one and folds the others.
const DIGEST_AFTER: u32 = 15;
/// In the first run, the last endpoint is in maintenance for this long from the start.
const MAINTENANCE_SECS: i64 = 4;

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
    try_list_deliveries(api, endpoints)
        .await
        .unwrap_or_else(|e| panic!("listing deliveries: {e}"))
}

/// [`list_deliveries`], or why it could not list them all (the process may be down).
async fn try_list_deliveries(api: &ApiClient, endpoints: &[String]) -> Result<Vec<Stored>, String> {
    let client = alertwire_tests::http_client(Duration::from_secs(10));
    let mut all = Vec::new();
    for endpoint in endpoints {
        let mut before: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/v1/deliveries?endpoint_id={endpoint}&limit=500",
                api.base
            );
            if let Some(before) = &before {
                url.push_str(&format!("&before={before}"));
            }
            let response = client
                .get(&url)
                .bearer_auth(&api.key)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if response.status() != 200 {
                return Err(format!("answered {}", response.status()));
            }
            let page: Value = response.json().await.map_err(|e| e.to_string())?;
            for delivery in page["deliveries"].as_array().expect("deliveries") {
                all.push(Stored {
                    id: delivery["id"].as_str().expect("an id").to_string(),
                    status: serde_json::from_value::<DeliveryStatus>(delivery["status"].clone())
                        .expect("a status"),
                    attempts: serde_json::from_value::<Vec<Attempt>>(delivery["attempts"].clone())
                        .expect("attempts"),
                    digest_delivery_id: delivery["digest_delivery_id"].as_str().map(str::to_string),
                });
            }
            match page["next_before"].as_str() {
                Some(next) => before = Some(next.to_string()),
                None => break,
            }
        }
    }
    Ok(all)
}

/// Lists the deliveries again and again while a run with retention goes on, keeping each one's last
/// listing, so that those the pruner deletes before the end are still accounted for, attempt by
/// attempt. A retention of seconds is far longer than a round of listing.
struct ListingWatch {
    last: Arc<Mutex<HashMap<String, Stored>>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ListingWatch {
    fn start(api: ApiClient, endpoints: Vec<String>) -> Self {
        let last = Arc::new(Mutex::new(HashMap::new()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let kept = last.clone();
        let task = tokio::spawn(async move {
            while !*stopped.borrow() {
                // A listing cut off by a kill is dropped whole; the next round lists again.
                if let Ok(listing) = try_list_deliveries(&api, &endpoints).await {
                    let mut kept = kept.lock().unwrap();
                    for delivery in listing {
                        kept.insert(delivery.id.clone(), delivery);
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        Self { last, stop, task }
    }

    /// Stops watching; returns the last listing of every delivery that `now` (the final listing) lacks.
    async fn pruned(self, now: &[Stored]) -> Vec<Stored> {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        let present: HashSet<&str> = now.iter().map(|d| d.id.as_str()).collect();
        let last = self.last.lock().unwrap();
        last.values()
            .filter(|d| !present.contains(d.id.as_str()))
            .cloned()
            .collect()
    }
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
    receiver: &ChaosReceiver,
    kills: usize,
    watch: Option<ListingWatch>,
) -> Accounting {
    let promised = promised(receipts, endpoints);
    let settle_limit = Duration::from_secs(120 + promised.len() as u64 / 5);
    let stored = settled(api, endpoints, settle_limit).await;
    let pruning = watch.is_some();
    let pruned = match watch {
        Some(watch) => watch.pruned(&stored).await,
        None => Vec::new(),
    };
    let received = receiver.received();
    let books = Accounting::of(&ChaosRun {
        alerts: receipts.len(),
        promised: &promised,
        stored: &stored,
        received: &received,
        kills,
        numbering: Numbering::Contiguous,
        pruned: &pruned,
    });
    println!("{}", books.table(title));
    let routed: usize = (0..receipts.len())
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
        promised.len() + books.digests
    );
    if pruning {
        assert!(books.pruned > 0, "the pruner deleted nothing");
    }
    books
}

/// The chaos endpoints on `api`, their ids; with `digest_after`, the first folds errors into digests.
async fn create_endpoints(
    api: &ApiClient,
    receiver: &ChaosReceiver,
    digest_after: Option<u32>,
) -> Vec<String> {
    let mut endpoints = Vec::new();
    for n in 0..ENDPOINTS {
        let body = match digest_after {
            Some(after) => chaos_scenario::endpoint_folding(receiver, n, after),
            None => chaos_scenario::endpoint(receiver, n),
        };
        let view = api.create_endpoint(&body).await;
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
    let retention = RETENTION_SECS.to_string();
    let env = [("ALERTWIRE_RETENTION", retention.as_str())];
    let mut process = ServeProcess::start_with_env(&data_dir, port, &settings, &env);
    let api = ApiClient::new(process.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    let endpoints = create_endpoints(&api, &receiver, Some(DIGEST_AFTER)).await;
    // Holds too: the last endpoint's deliveries of the first seconds wait for a maintenance window's end.
    let window = chaos_scenario::maintenance_window(&endpoints[ENDPOINTS - 1], MAINTENANCE_SECS);
    let (status, created) = api.post("/v1/maintenance-windows", &window).await;
    assert_eq!(status, 201, "{created}");
    let watch = ListingWatch::start(api.clone(), endpoints.clone());
    let posters = start_posting(&api, alerts);

    // The killer: each process lives a random while (start-up and recovery included), then SIGKILL.
    let mut moments = StdRng::seed_from_u64(seed);
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(moments.random_range(200..2500))).await;
        process.kill();
        tokio::time::sleep(Duration::from_millis(moments.random_range(0..300))).await;
        process = ServeProcess::start_with_env(&data_dir, port, &settings, &env);
    }
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    let title = format!(
        "chaos on the embedded default (alertwire serve, SIGKILL, retention {RETENTION_SECS} s): seed {seed}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let receipts = posted(posters).await;
    assert_eq!(receipts.len(), alerts);
    let books = settle_and_account(
        &title,
        &api,
        &endpoints,
        &receipts,
        &receiver,
        kills,
        Some(watch),
    )
    .await;
    assert!(books.folded > 0, "no alert was folded into a digest");
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
    let endpoints = create_endpoints(&api, &receiver, None).await;
    let receipts = posted(start_posting(&api, alerts)).await;
    assert_eq!(receipts.len(), alerts);
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
    settle_and_account(&title, &api, &endpoints, &receipts, &receiver, kills, None).await;
}
