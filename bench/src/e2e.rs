//! End-to-end deliveries per second on the embedded default, and the memory of `alertwire serve` under
//! that load. The subject: alerts POSTed to a real `alertwire serve` child process with 1 or 3 endpoints
//! (signing secret, default body); a delivery counts once the receiver answered 200 and no delivery is
//! pending in the store any more. The baseline: a raw `reqwest` loop POSTing the body alertwire rendered to
//! the same receiver, as many times, at the worker's concurrency.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::json;

use crate::load::{self, Request, Until};
use crate::process_cpu::cpu_seconds;
use crate::receiver::CountingReceiver;
use crate::serve_process::ServeProcess;
use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

/// `alertwire serve`'s default `--concurrency`: deliveries attempted at once.
const WORKER_CONCURRENCY: usize = 32;
/// Clients posting alerts at once.
const POSTING_CONCURRENCY: usize = 16;
const SETTLE_LIMIT: Duration = Duration::from_secs(300);
const PEAK_RSS_GOAL_MB: f64 = 60.0;

pub(crate) fn alert_body() -> Bytes {
    Bytes::from(
        json!({
            "title": "Disk almost full on db-1",
            "description": "Free space below 5 % for 10 minutes",
            "severity": "high",
            "tags": ["db", "prod", "disk"],
            "samples": [{"host": "db-1", "free_pct": 4.2}, {"host": "db-1", "free_pct": 3.9}],
            "context": {"region": "eu-west-1"},
            "link": "https://monitoring.example.com/alerts/42",
            "source": "bench"
        })
        .to_string(),
    )
}

/// `POST /v1/alerts` of [`alert_body`] to `server`, expecting its 202.
pub(crate) fn alert_request(server: &ServeProcess) -> Request {
    Request {
        url: format!("{}/v1/alerts", server.base),
        body: alert_body(),
        headers: vec![
            ("content-type", "application/json".into()),
            ServeProcess::auth_header(),
        ],
        expect: 202,
    }
}

/// The goal for the server's CPU time per accepted and delivered alert, and as a multiple of a bare 202.
const CPU_GOAL_MICROS: f64 = 150.0;
const CPU_GOAL_RATIO: f64 = 5.0;

pub(crate) struct SubjectRun {
    pub(crate) deliveries_per_second: f64,
    /// CPU time of the server process per delivery, from before the first alert to the last delivery.
    pub(crate) cpu_micros_per_delivery: f64,
    idle_rss_mb: f64,
    peak_rss_mb: f64,
}

/// One subject run on a fresh `alertwire serve` logging at `log_level`: `alerts` alerts to `endpoints`
/// endpoints, posted by [`POSTING_CONCURRENCY`] clients.
pub(crate) async fn subject(
    client: &reqwest::Client,
    receiver: &CountingReceiver,
    endpoints: usize,
    alerts: u64,
    log_level: &str,
) -> Result<SubjectRun, BenchError> {
    subject_posting(
        client,
        receiver,
        endpoints,
        alerts,
        POSTING_CONCURRENCY,
        log_level,
    )
    .await
}

/// [`subject`], the alerts posted by `posting` clients.
async fn subject_posting(
    client: &reqwest::Client,
    receiver: &CountingReceiver,
    endpoints: usize,
    alerts: u64,
    posting: usize,
    log_level: &str,
) -> Result<SubjectRun, BenchError> {
    let binary = crate::sibling_binary("alertwire")?;
    let data_dir = crate::scratch_dir("e2e");
    let _ = std::fs::remove_dir_all(&data_dir);
    let server = ServeProcess::open(&binary, data_dir, log_level).await?;
    for i in 0..endpoints {
        server
            .create_endpoint(&format!("bench {i}"), &receiver.url())
            .await?;
    }
    let idle_rss_mb = server.peak_rss_mb()?;
    let expected = receiver.count() + alerts * endpoints as u64;
    let request = alert_request(&server);
    let cpu_before = cpu_seconds(server.pid())?;
    let start = Instant::now();
    load::run(client, &request, posting, Until::Count(alerts)).await?;
    while receiver.count() < expected {
        if start.elapsed() > SETTLE_LIMIT {
            return Err(BenchError::Unexpected(format!(
                "only {} of {expected} deliveries arrived",
                receiver.count()
            )));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    server
        .wait_until_drained(start + SETTLE_LIMIT, Duration::from_millis(2))
        .await?;
    let elapsed = start.elapsed();
    let cpu = cpu_seconds(server.pid())? - cpu_before;
    if receiver.count() != expected {
        return Err(BenchError::Unexpected(format!(
            "{} deliveries arrived, expected {expected}",
            receiver.count()
        )));
    }
    Ok(SubjectRun {
        deliveries_per_second: (alerts * endpoints as u64) as f64 / elapsed.as_secs_f64(),
        cpu_micros_per_delivery: cpu * 1e6 / (alerts * endpoints as u64).max(1) as f64,
        idle_rss_mb,
        peak_rss_mb: server.peak_rss_mb()?,
    })
}

/// The raw loop: the same body, as many requests, at the worker's concurrency.
async fn baseline(
    client: &reqwest::Client,
    receiver: &CountingReceiver,
    body: Bytes,
    requests: u64,
) -> Result<f64, BenchError> {
    let request = Request {
        url: receiver.url(),
        body,
        headers: vec![("content-type", "application/json".into())],
        expect: 200,
    };
    let result = load::run(client, &request, WORKER_CONCURRENCY, Until::Count(requests)).await?;
    Ok(result.per_second())
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    block_on(async {
        let client = load::client();
        let receiver = CountingReceiver::start().await?;
        // A first delivery gives the rendered, signed body the baseline sends.
        subject(&client, &receiver, 1, 10, "warn").await?;
        let body = receiver
            .first_body()
            .ok_or_else(|| BenchError::Unexpected("the receiver got no body".into()))?;
        let deliveries: u64 = if settings.quick { 60 } else { 1500 };
        let mut rows = Vec::new();
        let mut idle = Figure::new("MB");
        let mut peak = Figure::new("MB");
        // The CPU baseline: a bare axum 202 server's CPU per request, for as many requests.
        let bare = crate::ingest::Bare202::start().await?;
        let (mut cpu, mut bare_cpu) = (Figure::new("µs"), Figure::new("µs"));
        for endpoints in [1usize, 3] {
            let alerts = deliveries / endpoints as u64;
            let mut raw = Figure::new("req/s");
            let mut alertwire = Figure::new("deliveries/s");
            for _ in 0..settings.runs {
                raw.push(
                    baseline(&client, &receiver, body.clone(), alerts * endpoints as u64).await?,
                );
                let run = subject(&client, &receiver, endpoints, alerts, "warn").await?;
                alertwire.push(run.deliveries_per_second);
                idle.push(run.idle_rss_mb);
                peak.push(run.peak_rss_mb);
                if endpoints == 1 {
                    cpu.push(run.cpu_micros_per_delivery);
                    bare_cpu.push(
                        bare.cpu_micros_per_request(&client, POSTING_CONCURRENCY, alerts)
                            .await?,
                    );
                }
            }
            let r = ratio(&alertwire, &raw);
            rows.push(Row {
                scenario: format!(
                    "end-to-end, {endpoints} endpoint{} per alert ({} deliveries a run)",
                    if endpoints == 1 { "" } else { "s" },
                    alerts * endpoints as u64
                ),
                figure: alertwire,
                baseline: Some(raw),
                ratio: Some(r),
                goal: "≥ 0.7×".into(),
                met: Some(r >= 0.7),
            });
        }
        let cpu_ratio = ratio(&cpu, &bare_cpu);
        let cpu_met = cpu.median() <= CPU_GOAL_MICROS && cpu_ratio <= CPU_GOAL_RATIO;
        rows.push(Row {
            scenario: "end-to-end: CPU time per accepted and delivered alert, 1 endpoint (`alertwire serve`, from the first alert to the last delivery)".into(),
            ratio: Some(cpu_ratio),
            figure: cpu,
            baseline: Some(bare_cpu),
            goal: format!("≤ {CPU_GOAL_MICROS} µs (≤ {CPU_GOAL_RATIO}×)"),
            met: Some(cpu_met),
        });
        // Light traffic: one client, one alert at a time, so the worker has caught up with each alert
        // before the next comes (as most of the time in production).
        let light_alerts: u64 = if settings.quick { 30 } else { 300 };
        let (mut light, mut bare_light) = (Figure::new("µs"), Figure::new("µs"));
        for _ in 0..settings.runs {
            let run = subject_posting(&client, &receiver, 1, light_alerts, 1, "warn").await?;
            light.push(run.cpu_micros_per_delivery);
            bare_light.push(
                bare.cpu_micros_per_request(&client, 1, light_alerts)
                    .await?,
            );
        }
        rows.push(Row {
            scenario: format!("end-to-end, light traffic: CPU time per accepted and delivered alert, 1 endpoint, one client posting one alert at a time ({light_alerts} alerts a run)"),
            ratio: Some(ratio(&light, &bare_light)),
            figure: light,
            baseline: Some(bare_light),
            goal: "– (reported)".into(),
            met: None,
        });
        let peak_median = peak.median();
        rows.push(Row {
            scenario: "memory: peak RSS of `alertwire serve` during the end-to-end runs".into(),
            ratio: Some(ratio(&peak, &idle)),
            figure: peak,
            baseline: Some(idle),
            goal: format!("≤ {PEAK_RSS_GOAL_MB} MB peak"),
            met: Some(peak_median <= PEAK_RSS_GOAL_MB),
        });
        notes.push(format!(
            "end-to-end: alerts posted by {POSTING_CONCURRENCY} clients; `alertwire serve` delivers {WORKER_CONCURRENCY} at once; the raw loop posts at {WORKER_CONCURRENCY}. Memory baseline: the same process idle, after start-up and endpoint creation."
        ));
        Ok(rows)
    })
}
