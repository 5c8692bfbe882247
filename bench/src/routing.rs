//! Routing with many endpoints: alerts accepted per second through `POST /v1/alerts` of a real
//! `alertwire serve` whose tenant has 2, 100 or 1,000 endpoints, of which 2 match every alert, so that
//! every tenant writes and delivers the same two deliveries per alert and only the endpoints that do not
//! match differ. The baseline is the tenant with 2 endpoints, measured in the same run, the counts
//! interleaved run by run. A tenant with 1 endpoint is measured beside them for reference: it writes and
//! delivers one delivery per alert, not two. Most endpoints that do not match have an equality matcher
//! the route table indexes (`team="t7"`); every twentieth has only a regex (`env=~"staging-7|qa-7"`),
//! which each alert evaluates. After the runs, the delivery records each alert wrote are counted in the
//! stopped servers' databases.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use alertwire_shared::alert::AlertContent;
use alertwire_shared::endpoint::Endpoint;
use alertwire_shared::routing::labels::Labels;
use alertwire_shared::routing::table::RouteTable;

use crate::load::{self, Request, Until};
use crate::process_cpu::cpu_seconds;
use crate::receiver::CountingReceiver;
use crate::serve_process::ServeProcess;
use crate::stats::{Figure, paired_ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

const CONCURRENCY: usize = 16;
const GOAL: f64 = 0.8;
/// The position in the counts of the baseline: the tenant whose endpoints are the two that match.
const BASELINE: usize = 1;
/// Runs per endpoint count (the rates of this scenario vary more from run to run than most).
const ROUNDS: usize = 15;
/// How long the deliveries of one run may take to drain before the next run.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

/// The alert every run posts: the first two endpoints' matchers hold for it.
const ALERT: &[u8] = br#"{"title": "Replica lag above 30 s on db-2", "severity": "high", "tags": ["team=db", "env=prod", "db"], "samples": [{"host": "db-2", "lag_s": 41}]}"#;

fn request(base: &str) -> Request {
    Request {
        url: format!("{base}/v1/alerts"),
        body: axum::body::Bytes::from_static(ALERT),
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

/// Microseconds one routing decision takes in this process, as ingest makes it: the alert's labels taken
/// and the route table of `count` endpoints asked, the table built once (as the server keeps it).
fn routing_decision_us(count: usize, calls: u32) -> Result<f64, BenchError> {
    let endpoints = (0..count)
        .map(|i| {
            serde_json::from_value::<Endpoint>(json!({
                "id": format!("ep_{i}"), "tenant": "tn_bench", "name": format!("ep-{i}"),
                "url": "http://127.0.0.1/", "method": "POST", "headers": [],
                "content_type": "application/json", "body": "{}", "min_severity": "info",
                "message_types": {"error": {"mode": "default"}, "reminder": {"mode": "default"},
                                  "ok": {"mode": "default"}},
                "matchers": matchers(i), "secret": null, "verification_token": null,
                "enabled": true, "disabled_reason": null, "version": 1,
                "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            }))
            .map_err(|e| BenchError::Unexpected(format!("a stored endpoint document: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let table = RouteTable::new(endpoints, None);
    let body: serde_json::Value = serde_json::from_slice(ALERT)
        .map_err(|e| BenchError::Unexpected(format!("the bench's alert: {e}")))?;
    let content = AlertContent::from_json(&body)
        .map_err(|e| BenchError::Unexpected(format!("the bench's alert: {e}")))?;
    let start = Instant::now();
    let mut routed = 0;
    for _ in 0..calls {
        routed += std::hint::black_box(table.routed(&Labels::of(&content), None)).len();
    }
    let elapsed = start.elapsed();
    if routed != calls as usize * count.min(2) {
        return Err(BenchError::Unexpected(format!(
            "the route table routed {routed} endpoints in {calls} decisions among {count}"
        )));
    }
    Ok(elapsed.as_secs_f64() * 1e6 / f64::from(calls))
}

/// Waits until the server has no pending delivery.
async fn drained(server: &ServeProcess) -> Result<(), BenchError> {
    server
        .wait_until_drained(Instant::now() + DRAIN_LIMIT, Duration::from_millis(50))
        .await
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
    let counts: [usize; 4] = if settings.quick {
        [1, 2, 10, 100]
    } else {
        [1, 2, 100, 1000]
    };
    block_on(async {
        let client = load::client();
        let receiver = CountingReceiver::start().await?;
        let mut servers = Vec::new();
        for count in counts {
            servers.push(tenant_with(count, &receiver).await?);
        }
        let requests: Vec<Request> = servers.iter().map(|s| request(&s.base)).collect();
        let duration = Duration::from_millis(if settings.quick { 300 } else { 1500 });
        for request in &requests {
            load::run(&client, request, CONCURRENCY, Until::Count(50)).await?;
        }
        let mut rates: Vec<Figure> = counts.iter().map(|_| Figure::new("alerts/s")).collect();
        let mut cpu: Vec<Figure> = counts.iter().map(|_| Figure::new("ms CPU")).collect();
        for server in &servers {
            drained(server).await?;
        }
        // Each round starts at the next count, so that no count always runs first or after the same one.
        let rounds = if settings.quick {
            settings.runs
        } else {
            ROUNDS
        };
        for round in 0..rounds {
            for k in 0..counts.len() {
                let i = (round + k) % counts.len();
                let cpu_before = cpu_seconds(servers[i].pid())?;
                let result =
                    load::run(&client, &requests[i], CONCURRENCY, Until::Elapsed(duration)).await?;
                rates[i].push(result.per_second());
                // The next count's run starts on a quiet machine, not beside this one's worker still
                // delivering what it queued; the CPU counted is the server's for the alerts and for
                // their deliveries.
                drained(&servers[i]).await?;
                let cpu_ms = (cpu_seconds(servers[i].pid())? - cpu_before) * 1000.0;
                cpu[i].push(cpu_ms / result.sent.max(1) as f64);
            }
        }
        let mut rows = Vec::new();
        for (i, count) in counts.iter().enumerate() {
            let matching = (*count).min(2);
            let endpoints = format!(
                "{count} endpoint{} of which {matching} match",
                if *count == 1 { "" } else { "s" }
            );
            let rate = paired_ratio(&rates[i], &rates[BASELINE]);
            let cost = paired_ratio(&cpu[i], &cpu[BASELINE]);
            let (rate_goal, met) = match i {
                BASELINE => ("– (the baseline)".into(), None),
                0 => (
                    "– (for reference: 1 delivery per alert, not 2)".into(),
                    None,
                ),
                _ => (
                    format!("≥ {GOAL}× the rate with 2 endpoints"),
                    Some(rate >= GOAL),
                ),
            };
            let cost_goal = if i == BASELINE {
                "– (the baseline)"
            } else {
                "– (reported: a cost that moves less with the machine's load than a rate)"
            };
            rows.push(Row {
                scenario: format!("routing: accepted alerts/s with {endpoints}"),
                figure: rates[i].clone(),
                baseline: (i != BASELINE).then(|| rates[BASELINE].clone()),
                ratio: (i != BASELINE).then_some(rate),
                goal: rate_goal,
                met,
            });
            rows.push(Row {
                scenario: format!(
                    "routing: server CPU per accepted alert (ingest and delivery) with {endpoints}"
                ),
                figure: cpu[i].clone(),
                baseline: (i != BASELINE).then(|| cpu[BASELINE].clone()),
                ratio: (i != BASELINE).then_some(cost),
                goal: cost_goal.into(),
                met: None,
            });
        }
        let calls = if settings.quick { 1_000 } else { 20_000 };
        let mut decisions: Vec<Figure> = counts.iter().map(|_| Figure::new("µs")).collect();
        for _ in 0..settings.runs {
            for (count, decision) in counts.iter().zip(&mut decisions) {
                decision.push(routing_decision_us(*count, calls)?);
            }
        }
        for (i, count) in counts.iter().enumerate() {
            let share = decisions[i].median() / (cpu[BASELINE].median() * 1000.0);
            rows.push(Row {
                scenario: format!(
                    "routing: one routing decision (labels and route table) among {count} endpoints"
                ),
                figure: decisions[i].clone(),
                baseline: None,
                ratio: None,
                goal: format!(
                    "– ({:.2}% of the CPU per alert with 2 endpoints)",
                    share * 100.0
                ),
                met: None,
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
        let largest = counts.len() - 1;
        notes.push(format!(
            "routing: against the 1-endpoint tenant instead (one delivery per alert, not two), {} endpoints reach {:.3}× its rate, paired by round.",
            counts[largest],
            paired_ratio(&rates[largest], &rates[0])
        ));
        notes.push(format!(
            "routing: {CONCURRENCY} closed-loop clients for {} ms a run per endpoint count, the counts interleaved, each round starting at the next count; ratios are the median of each round's ratio to the 2-endpoint run of that round; the CPU is the server process's (user + system) from the start of a run until its deliveries are drained, per alert accepted; each tenant is its own `alertwire serve` with its worker delivering the matching endpoints' deliveries meanwhile (the 1-endpoint tenant delivers one per alert, the others two), and each run waits until the previous one's deliveries are drained.",
            duration.as_millis()
        ));
        Ok(rows)
    })
}
