//! Routing with many endpoints: alerts accepted per second through `POST /v1/alerts` of a real
//! `alertwire serve` whose tenant has 1, 100 or 1,000 endpoints, of which (at most) 2 match every alert.
//! The baseline is the tenant with one endpoint, measured in the same run, the counts interleaved run by
//! run. Most endpoints that do not match have an equality matcher the route table indexes (`team="t7"`);
//! every twentieth has only a regex (`env=~"staging-7|qa-7"`), which each alert evaluates. After the runs,
//! the delivery records each alert wrote are counted in the stopped servers' databases.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::load::{self, Request, Until};
use crate::receiver::CountingReceiver;
use crate::serve_process::ServeProcess;
use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

const CONCURRENCY: usize = 16;
const GOAL: f64 = 0.8;
/// How long the deliveries of one run may take to drain before the next run.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

fn request(base: &str) -> Request {
    Request {
        url: format!("{base}/v1/alerts"),
        body: axum::body::Bytes::from_static(
            br#"{"title": "Replica lag above 30 s on db-2", "severity": "high", "tags": ["team=db", "env=prod", "db"], "samples": [{"host": "db-2", "lag_s": 41}]}"#,
        ),
        headers: vec![
            ("content-type", "application/json".into()),
            ServeProcess::auth_header(),
        ],
        expect: 202,
    }
}

/// The matchers of the `index`th of `count` endpoints: the first two match the bench's alert.
fn matchers(index: usize) -> serde_json::Value {
    match index {
        0 | 1 => json!(["team=\"db\"", "env=~\"prod|staging\""]),
        i if i.is_multiple_of(20) => json!([format!("env=~\"staging-{i}|qa-{i}\"")]),
        i => json!([format!("team=\"t{i}\"")]),
    }
}

async fn tenant_with(
    count: usize,
    receiver: &CountingReceiver,
) -> Result<ServeProcess, BenchError> {
    let server = ServeProcess::start(
        &crate::sibling_binary("alertwire")?,
        crate::scratch_dir(&format!("routing-{count}")),
    )
    .await?;
    for i in 0..count {
        let body =
            json!({"name": format!("ep-{i}"), "url": receiver.url(), "matchers": matchers(i)});
        server.create_endpoint_from(&body).await?;
    }
    Ok(server)
}

/// Waits until the server has no pending delivery.
async fn drained(server: &ServeProcess) -> Result<(), BenchError> {
    let deadline = std::time::Instant::now() + DRAIN_LIMIT;
    while server.has_pending().await? {
        if std::time::Instant::now() > deadline {
            return Err(BenchError::Unexpected(
                "the deliveries did not drain between runs".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Delivery records per alert in a stopped server's database.
fn deliveries_per_alert(data_dir: &Path) -> Result<f64, BenchError> {
    let sqlite = |e: rusqlite::Error| BenchError::Store(e.to_string());
    let db = rusqlite::Connection::open(data_dir.join("alertwire.db")).map_err(sqlite)?;
    let count = |table: &str| -> Result<f64, BenchError> {
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as f64)
        .map_err(sqlite)
    };
    Ok(count("deliveries")? / count("alerts")?.max(1.0))
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    let counts: [usize; 3] = if settings.quick {
        [1, 10, 100]
    } else {
        [1, 100, 1000]
    };
    block_on(async {
        let client = load::client();
        let receiver = CountingReceiver::start().await?;
        let mut servers = Vec::new();
        for count in counts {
            servers.push(tenant_with(count, &receiver).await?);
        }
        let requests: Vec<Request> = servers.iter().map(|s| request(&s.base)).collect();
        let duration = Duration::from_millis(if settings.quick { 300 } else { 3000 });
        for request in &requests {
            load::run(&client, request, CONCURRENCY, Until::Count(50)).await?;
        }
        let mut rates: Vec<Figure> = counts.iter().map(|_| Figure::new("alerts/s")).collect();
        for server in &servers {
            drained(server).await?;
        }
        for _ in 0..settings.runs {
            for ((request, rate), server) in requests.iter().zip(&mut rates).zip(&servers) {
                let result =
                    load::run(&client, request, CONCURRENCY, Until::Elapsed(duration)).await?;
                rate.push(result.per_second());
                // The next count's run starts on a quiet machine, not beside this one's worker still
                // delivering what it queued.
                drained(server).await?;
            }
        }
        let mut rows = Vec::new();
        let baseline = rates[0].clone();
        for (i, (count, rate)) in counts.iter().zip(rates).enumerate() {
            let matching = (*count).min(2);
            let r = ratio(&rate, &baseline);
            rows.push(Row {
                scenario: format!(
                    "routing: accepted alerts/s with {count} endpoint{} of which {matching} match",
                    if *count == 1 { "" } else { "s" }
                ),
                figure: rate,
                baseline: (i > 0).then(|| baseline.clone()),
                ratio: (i > 0).then_some(r),
                goal: if i > 0 {
                    format!("≥ {GOAL}× the rate with 1 endpoint")
                } else {
                    "– (the baseline)".into()
                },
                met: (i > 0).then_some(r >= GOAL),
            });
        }
        for (count, server) in counts.iter().zip(servers) {
            let data_dir = server.stop_keeping_data();
            let mut per_alert = Figure::new("records");
            per_alert.push(deliveries_per_alert(&data_dir)?);
            let matching = (*count).min(2) as f64;
            rows.push(Row {
                scenario: format!("routing: delivery records written per alert, {count} endpoints"),
                met: Some(per_alert.median() == matching),
                figure: per_alert,
                baseline: None,
                ratio: None,
                goal: format!("= {matching} (the endpoints that match)"),
            });
            let _ = std::fs::remove_dir_all(&data_dir);
        }
        notes.push(format!(
            "routing: {CONCURRENCY} closed-loop clients for {} ms a run per endpoint count, the counts interleaved; each tenant is its own `alertwire serve` with its worker delivering the matching endpoints' deliveries meanwhile (the 1-endpoint tenant delivers one per alert, the others two), and each run waits until the previous one's deliveries are drained.",
            duration.as_millis()
        ));
        Ok(rows)
    })
}
