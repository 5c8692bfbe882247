//! A full disk, for real: the data directory on a small tmpfs that the test mounts (the test command runs
//! as root), filled up while alerts come in. Every request gets an answer (`202`, or `503` with
//! `Retry-After` when the store cannot write), the process stays up, `/healthz` and a metric say `disk
//! full`, and the worker starts no attempt meanwhile. Once space comes back it is healthy again by itself
//! and takes alerts; every alert answered `202` is delivered. Both layouts: the log elsewhere, and
//! the log on the same full disk (where a failed log write used to panic the request and drop its
//! connection). An attempt in flight when the disk fills is recorded once space returns, and not sent
//! again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use alertwire_tests::api_client::delivery_ids;
use alertwire_tests::serve_process::{
    LogSettings, ServeProcess, ServeSettings, free_port, wait_healthy,
};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, Behaviour, Exposition, Receiver};
use serde_json::{Value, json};

const KEY: &str = "full-disk-test-key-0123456789";

/// A tmpfs of `size` mounted at a new directory, unmounted when dropped.
struct SmallDisk {
    dir: PathBuf,
}

impl SmallDisk {
    /// None when this process may not mount (not root): the test command runs as root, a developer's
    /// `cargo test` may not.
    fn mount(name: &str, size: &str) -> Option<SmallDisk> {
        let dir = scratch_dir(name);
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                std::env::var_os("CI").is_none(),
                "the test command runs as root and must be able to mount a tmpfs"
            );
            eprintln!("skipped: mounting a tmpfs needs root");
            return None;
        }
        Some(SmallDisk { dir })
    }

    /// Writes a file until the disk is full; returns it.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.dir.join("filler");
        let mut file = std::fs::File::create(&path).expect("the filler file");
        let chunk = vec![0u8; 64 * 1024];
        while file.write_all(&chunk).is_ok() {}
        // The last pages a partial chunk leaves.
        while file.write_all(&chunk[..512]).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

fn settings(log_file: Option<PathBuf>) -> ServeSettings {
    ServeSettings {
        api_key: KEY.into(),
        retry_delays: "200ms".into(),
        http_timeout_secs: 5,
        concurrency: 4,
        // A line for every request and attempt, so the log needs the disk as often as the store does.
        log: LogSettings {
            filter: "debug,tower_http=debug,hyper=info,reqwest=info,rustls=info".into(),
            file: log_file,
        },
    }
}

/// An alert of about 20 KiB.
fn big_alert(n: usize) -> Value {
    json!({"title": format!("big {n}"), "description": "x".repeat(20 * 1024)})
}

/// Posts `count` alerts; every one must be answered: returns the delivery ids of those answered 202 and
/// how many were answered 503 (with `Retry-After` and a JSON error).
async fn post_all(api: &ApiClient, first: usize, count: usize) -> (Vec<String>, usize) {
    let client = alertwire_tests::http_client(Duration::from_secs(20));
    let (mut accepted, mut unavailable) = (Vec::new(), 0);
    for n in first..first + count {
        let response = client
            .post(format!("{}/v1/alerts", api.base))
            .bearer_auth(KEY)
            .json(&big_alert(n))
            .send()
            .await
            .unwrap_or_else(|e| panic!("alert {n} got no answer: {e}"));
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").cloned();
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("alert {n}: an answer that is not JSON: {e}"));
        match status {
            202 => accepted.extend(delivery_ids(&body)),
            503 => {
                unavailable += 1;
                assert!(retry_after.is_some(), "a 503 without Retry-After: {body}");
                assert_eq!(body["error"]["code"], "unavailable", "{body}");
            }
            other => panic!("alert {n} answered {other}: {body}"),
        }
    }
    (accepted, unavailable)
}

async fn full_disk_run(disk: &SmallDisk, log_file: PathBuf) {
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let data_dir = disk.dir.join("data");
    let process = ServeProcess::start(&data_dir, free_port(), &settings(Some(log_file)));
    let api = ApiClient::new(process.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    api.create_endpoint(&json!({"name": "ok", "url": receiver.url("/hook")}))
        .await;
    let (mut accepted, _) = post_all(&api, 0, 5).await;

    // WHEN the disk fills up
    let filler = disk.fill();
    let (during, refused) = post_all(&api, 100, 40).await;
    let taken_while_full = during.len();
    accepted.extend(during);
    // THEN every request was answered, and the store's refusals were 503s
    assert!(refused > 0, "the full disk refused nothing");
    // AND /healthz and the metrics say so, and no attempt is spent while nothing can be recorded
    let (status, health) = api.get("/healthz").await;
    assert_eq!(
        (status, health),
        (503, json!({"status": "degraded", "reason": "disk full"}))
    );
    let scrape = api.scrape_metrics().await;
    assert_eq!(
        scrape.value("alertwire_store_unwritable", &[("reason", "disk_full")]),
        1.0
    );
    let requests_while_full = receiver.received().len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.received().len(), requests_while_full);

    // WHEN space comes back, THEN it is healthy again by itself, and alerts are taken
    remove(&filler);
    wait_until_healthy_again(&api).await;
    let (after, unavailable) = post_all(&api, 200, 5).await;
    assert_eq!((after.len(), unavailable), (5, 0));
    accepted.extend(after);
    // AND every alert answered 202 is delivered
    for id in &accepted {
        let delivery = api.settled(id, Duration::from_secs(60)).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
    }
    let metrics = api.scrape_metrics().await;
    println!(
        "full disk: of 40 alerts posted while it was full, {refused} answered 503 and {taken_while_full} \
         deliveries taken; unwritten log lines {}",
        metrics.value("alertwire_log_lines_unwritten_total", &[])
    );
    drop(process);
}

/// Posts small alerts until three in a row are refused: a failed commit leaves pages of the write-ahead
/// log allocated that small writes can still use. Returns the delivery ids of those accepted.
async fn use_the_last_pages(api: &ApiClient) -> Vec<String> {
    let mut accepted = Vec::new();
    let mut refused_in_a_row = 0;
    for n in 0..500 {
        let (status, body) = api
            .post("/v1/alerts", &json!({"title": format!("small {n}")}))
            .await;
        match status {
            202 => {
                refused_in_a_row = 0;
                accepted.extend(delivery_ids(&body));
            }
            503 => refused_in_a_row += 1,
            other => panic!("a small alert answered {other}: {body}"),
        }
        if refused_in_a_row == 3 {
            return accepted;
        }
    }
    panic!("the full disk still takes small alerts");
}

/// Scrapes the metrics until the gauge of outcomes waiting in memory reads `count` (panics after `within`).
async fn wait_for_unrecorded(api: &ApiClient, count: f64, within: Duration) {
    let gauge = |scrape: &Exposition| scrape.value("alertwire_attempt_outcomes_unrecorded", &[]);
    let scrape = api
        .scrape_metrics_until(within, |scrape| gauge(scrape) == count)
        .await;
    assert_eq!(gauge(&scrape), count, "outcomes waiting in memory");
}

async fn wait_until_healthy_again(api: &ApiClient) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, health) = api.get("/healthz").await;
        if status == 200 {
            assert_eq!(health, json!({"status": "ok"}));
            return;
        }
        assert!(std::time::Instant::now() < deadline, "still {health}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn remove(path: &Path) {
    std::fs::remove_file(path).expect("the filler goes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_every_request_and_recovers_with_the_log_elsewhere() {
    let Some(disk) = SmallDisk::mount("full-disk-data", "8m") else {
        return;
    };
    let log = scratch_dir("full-disk-log-elsewhere").join("alertwire.log");
    full_disk_run(&disk, log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_every_request_and_recovers_with_the_log_on_it_too() {
    let Some(disk) = SmallDisk::mount("full-disk-log", "8m") else {
        return;
    };
    let log = disk.dir.join("alertwire.log");
    full_disk_run(&disk, log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_in_flight_when_the_disk_fills_are_recorded_once_space_returns_and_not_sent_again()
{
    let Some(disk) = SmallDisk::mount("full-disk-in-flight", "8m") else {
        return;
    };
    let log = scratch_dir("full-disk-in-flight-log").join("alertwire.log");
    // Answers come back 4 s after the request, long enough to fill the disk meanwhile, with a body of the
    // most an attempt keeps (16 KiB): more than the last pages a nearly full disk has for small writes.
    let answer = format!("{{\"answer\":\"{}\"}}", "a".repeat(20 * 1024));
    let receiver = Receiver::start(Behaviour::SlowWith(Duration::from_secs(4), answer)).await;
    let process = ServeProcess::start(&disk.dir.join("data"), free_port(), &settings(Some(log)));
    let api = ApiClient::new(process.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    // Two endpoints, two alerts: four attempts in flight, two on each (an endpoint's first window).
    for name in ["slow-a", "slow-b"] {
        api.create_endpoint(&json!({"name": name, "url": receiver.url("/hook")}))
            .await;
    }
    let mut in_flight = Vec::new();
    for n in 0..2 {
        in_flight.extend(
            api.send_alert(&json!({"title": format!("in flight {n}")}))
                .await,
        );
    }
    receiver.wait_for(4, Duration::from_secs(10)).await;

    // WHEN the disk fills while the four attempts wait for their answers
    let filler = disk.fill();
    let (mut accepted, refused) = post_all(&api, 100, 40).await;
    assert!(refused > 0, "the full disk refused nothing");
    accepted.extend(use_the_last_pages(&api).await);
    // THEN their outcomes, which the store cannot take, wait in memory, and no attempt is made meanwhile
    wait_for_unrecorded(&api, 4.0, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        receiver.received().len(),
        4,
        "an attempt started on a full disk"
    );
    for id in &in_flight {
        assert_eq!(api.delivery(id).await["status"], "pending");
    }

    // WHEN space comes back
    remove(&filler);
    wait_until_healthy_again(&api).await;
    // THEN each is recorded as the one attempt that was made, and nothing was sent twice
    for id in &in_flight {
        let delivery = api.settled(id, Duration::from_secs(30)).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
        let attempts = delivery["attempts"].as_array().expect("attempts");
        assert_eq!(attempts.len(), 1, "{delivery}");
        assert_eq!(attempts[0]["status_code"], 200, "{delivery}");
    }
    wait_for_unrecorded(&api, 0.0, Duration::from_secs(5)).await;
    accepted.extend(in_flight);
    for id in &accepted {
        let delivery = api.settled(id, Duration::from_secs(60)).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
    }
    let requests: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.header("webhook-id").unwrap_or("-"),
                r.body_text().chars().take(80).collect::<String>()
            )
        })
        .collect();
    assert_eq!(
        requests.len(),
        accepted.len(),
        "one request for each delivery: {requests:#?} {accepted:?}"
    );
    drop(process);
}
