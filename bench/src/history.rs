//! History: does a database that already holds months of finished deliveries slow `alertwire serve` down?
//! A data directory is seeded once with 1,000,000 delivered alerts (20,000 with `--quick`), each with its
//! delivery and its 200 attempt, written through the store (`record_alert`, then `mark_enqueued` as the
//! service does), not through HTTP. Then, in rounds, a server on it and a server on an empty database are
//! measured one after the other (which goes first alternating): start-up (spawn to `/healthz`), ingest and
//! end-to-end delivery; then both are served at once and listed in turns, for the p99 of
//! `GET /v1/deliveries`'s first page and of its 50th (the 5th in the quick run), reached by its keyset
//! cursor. Each history figure is set beside the empty one of the same round. Then a day's worth of history (a thirtieth) past the 30-day retention is added, and
//! ingest while the pruner deletes it is set beside ingest on the same server once it is done.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use alertwire_shared::delivery::{Attempt, Delivery, DeliveryStatus};
use alertwire_shared::ids::{AlertId, DeliveryId};
use alertwire_shared::ports::store::{AlertRecord, AlertStore};
use serde_json::Value;

use crate::load::{self, Until};
use crate::receiver::CountingReceiver;
use crate::seeding::{Seed, store_error, write_all};
use crate::serve_process::ServeProcess;
use crate::stats::{Figure, number, paired_ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

const HISTORY: usize = 1_000_000;
const QUICK_HISTORY: usize = 20_000;
/// Clients posting alerts at once, as in the ingest and end-to-end scenarios.
const POSTING_CONCURRENCY: usize = 16;
/// Requests timed per listing page, server and round, after [`LISTING_WARMUP`] untimed ones.
const LISTINGS: usize = 1_000;
const LISTING_WARMUP: usize = 20;
/// The page timed besides the first (in the quick run, whose empty database holds about a dozen pages: the
/// 5th), and the page size.
const DEEP_PAGE: usize = 50;
const QUICK_DEEP_PAGE: usize = 5;
const PAGE_SIZE: usize = 50;
const SETTLE_LIMIT: Duration = Duration::from_secs(300);
const GOAL: f64 = 0.8;

/// One round's figures of one server.
struct Round {
    startup_ms: f64,
    ingest_per_s: f64,
    e2e_per_s: f64,
    first_page_p99_ms: f64,
    deep_page_p99_ms: f64,
    /// The medians beside the p99s, for the notes: what a listing costs when the machine is quiet.
    first_page_p50_ms: f64,
    deep_page_p50_ms: f64,
}

/// A delivered alert's one delivery, with its attempt answered 200.
fn delivered(delivery: &mut Delivery) {
    let at = delivery.created_at;
    let mut attempt = Attempt::unsent(at);
    attempt.number = 1;
    attempt.duration_ms = 12;
    attempt.status_code = Some(200);
    attempt.response_headers = vec![("content-type".into(), "application/json".into())];
    attempt.response_body = Some("{\"ok\":true}".into());
    delivery.attempts = vec![attempt];
    delivery.status = DeliveryStatus::Delivered;
}

/// An id made at `moment` with `prefix`, as `generate` makes one now (UUID v7: the time comes first).
fn id_at(prefix: &str, moment: chrono::DateTime<chrono::Utc>) -> String {
    let seconds = u64::try_from(moment.timestamp()).unwrap_or(0);
    let stamp =
        uuid::Timestamp::from_unix(uuid::NoContext, seconds, moment.timestamp_subsec_nanos());
    format!("{prefix}_{}", uuid::Uuid::new_v7(stamp).simple())
}

/// Writes `alerts` delivered alerts to the only endpoint of the stopped server's data directory, received
/// one a millisecond from `from` on (so that their ids, time-ordered, come in order as a live server's
/// do), or now, as they are written, when `from` is None.
async fn seed(
    data_dir: &Path,
    alerts: usize,
    from: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), BenchError> {
    let seed = Seed::open(data_dir).await?;
    write_all(alerts, |n| {
        let at = from.map_or_else(chrono::Utc::now, |from| {
            from + chrono::Duration::milliseconds(n as i64)
        });
        let (database, tenant) = (seed.database.clone(), seed.tenant.clone());
        let (endpoint_id, content) = (seed.endpoint.id.clone(), seed.content.clone());
        async move {
            let alert = content.into_alert(AlertId(id_at("al", at)), tenant, at);
            let mut delivery = Delivery::pending(DeliveryId(id_at("msg", at)), &alert, endpoint_id);
            delivered(&mut delivery);
            database
                .record_alert(AlertRecord {
                    alert: &alert,
                    deliveries: std::slice::from_ref(&delivery),
                    idempotency: None,
                    tasks: &[],
                })
                .await
                .map_err(store_error)?;
            // As the service does once an alert's tasks are queued (here: none left to queue).
            database
                .mark_enqueued(&alert.tenant, &alert.id)
                .await
                .map_err(store_error)
        }
    })
    .await
}

/// Bytes of the database file and its write-ahead log.
fn disk_bytes(data_dir: &Path) -> u64 {
    ["alertwire.db", "alertwire.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(data_dir.join(name)).ok())
        .map(|m| m.len())
        .sum()
}

/// One listing request; its time in µs.
async fn time_listing(
    client: &reqwest::Client,
    server: &ServeProcess,
    path: &str,
) -> Result<u64, BenchError> {
    let (name, value) = ServeProcess::auth_header();
    let started = Instant::now();
    let response = client
        .get(format!("{}{path}", server.base))
        .header(name, &value)
        .send()
        .await?;
    let status = response.status();
    response.bytes().await?;
    if status != 200 {
        return Err(BenchError::Unexpected(format!("{path}: {status}")));
    }
    Ok(started.elapsed().as_micros() as u64)
}

/// The p50 and p99 of a listing, in ms.
#[derive(Clone, Copy, Default)]
struct ListingTimes {
    p50_ms: f64,
    p99_ms: f64,
}

/// The times of [`LISTINGS`] requests of each server's path, the two servers taking turns (the one that
/// goes first alternating), so that the machine's noise falls on both alike.
async fn interleaved_listings(
    client: &reqwest::Client,
    servers: [&ServeProcess; 2],
    paths: [&str; 2],
) -> Result<[ListingTimes; 2], BenchError> {
    for (server, path) in servers.iter().zip(paths) {
        for _ in 0..LISTING_WARMUP {
            time_listing(client, server, path).await?;
        }
    }
    let mut latencies = [Vec::with_capacity(LISTINGS), Vec::with_capacity(LISTINGS)];
    for n in 0..LISTINGS {
        let order = if n % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            latencies[k].push(time_listing(client, servers[k], paths[k]).await?);
        }
    }
    Ok(latencies.map(|mut l| {
        l.sort_unstable();
        ListingTimes {
            p50_ms: crate::stats::percentile_ms(&l, 50.0),
            p99_ms: crate::stats::percentile_ms(&l, 99.0),
        }
    }))
}

/// Both servers' times of the first page and of page `deep`, on the two data directories (the empty
/// database's, the history's), served at once; stops them keeping the data.
async fn measure_listings(
    client: &reqwest::Client,
    dirs: [PathBuf; 2],
    deep: usize,
) -> Result<([[ListingTimes; 2]; 2], [PathBuf; 2]), BenchError> {
    let binary = crate::sibling_binary("alertwire")?;
    let [a, b] = dirs;
    let servers = [
        ServeProcess::open(&binary, a, "warn").await?,
        ServeProcess::open(&binary, b, "warn").await?,
    ];
    let mut pages = [[ListingTimes::default(); 2]; 2];
    for (figures, page) in pages.iter_mut().zip([1, deep]) {
        let paths = [
            page_path(client, &servers[0], page).await?,
            page_path(client, &servers[1], page).await?,
        ];
        *figures = interleaved_listings(client, [&servers[0], &servers[1]], [&paths[0], &paths[1]])
            .await?;
    }
    let [a, b] = servers;
    Ok((pages, [a.stop_keeping_data(), b.stop_keeping_data()]))
}

/// The listing path of page `page` (1-based), following the keyset cursor from the first; of the last
/// page when there are fewer (an empty database has a few pages, of the round's own alerts).
async fn page_path(
    client: &reqwest::Client,
    server: &ServeProcess,
    page: usize,
) -> Result<String, BenchError> {
    let (name, value) = ServeProcess::auth_header();
    let mut path = format!("/v1/deliveries?limit={PAGE_SIZE}");
    for _ in 1..page {
        let answer: Value = client
            .get(format!("{}{path}", server.base))
            .header(name, &value)
            .send()
            .await?
            .json()
            .await?;
        let Some(next) = answer["next_before"].as_str() else {
            break;
        };
        path = format!("/v1/deliveries?limit={PAGE_SIZE}&before={next}");
    }
    Ok(path)
}

/// One round on the data directory: start-up, ingest, end-to-end (the listings are measured after, with
/// both databases: [`measure_listings`]). Returns the figures and the directory.
async fn measure(
    client: &reqwest::Client,
    receiver: &CountingReceiver,
    data_dir: PathBuf,
    fresh: bool,
    settings: Settings,
) -> Result<(Round, PathBuf), BenchError> {
    let binary = crate::sibling_binary("alertwire")?;
    let began = Instant::now();
    let server = ServeProcess::open(&binary, data_dir, "warn").await?;
    let startup_ms = began.elapsed().as_secs_f64() * 1e3;
    if fresh {
        server.create_endpoint("history", &receiver.url()).await?;
    }
    let request = crate::e2e::alert_request(&server);
    let duration = Duration::from_millis(if settings.quick { 300 } else { 3_000 });
    let ingest = load::run(
        client,
        &request,
        POSTING_CONCURRENCY,
        Until::Elapsed(duration),
    )
    .await?;
    server
        .wait_until_drained(Instant::now() + SETTLE_LIMIT, Duration::from_millis(20))
        .await?;
    let alerts: u64 = if settings.quick { 300 } else { 3_000 };
    let expected = receiver.count() + alerts;
    let start = Instant::now();
    load::run(client, &request, POSTING_CONCURRENCY, Until::Count(alerts)).await?;
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
    let e2e_per_s = alerts as f64 / start.elapsed().as_secs_f64();
    let round = Round {
        startup_ms,
        ingest_per_s: ingest.per_second(),
        e2e_per_s,
        first_page_p99_ms: 0.0,
        deep_page_p99_ms: 0.0,
        first_page_p50_ms: 0.0,
        deep_page_p50_ms: 0.0,
    };
    Ok((round, server.stop_keeping_data()))
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    block_on(async {
        let client = load::client();
        let receiver = CountingReceiver::start().await?;
        let history = if settings.quick {
            QUICK_HISTORY
        } else {
            HISTORY
        };
        let binary = crate::sibling_binary("alertwire")?;

        let server = ServeProcess::start(&binary, crate::scratch_dir("history")).await?;
        server.create_endpoint("history", &receiver.url()).await?;
        let mut history_dir = server.stop_keeping_data();
        let seeding = Instant::now();
        seed(&history_dir, history, None).await?;
        let seeded_in = seeding.elapsed();
        let bytes_per_alert = disk_bytes(&history_dir) as f64 / history as f64;

        let deep = if settings.quick {
            QUICK_DEEP_PAGE
        } else {
            DEEP_PAGE
        };
        let deep_row = format!("GET /v1/deliveries page {deep} (keyset cursor), p99 ms");
        let names = [
            ("start-up, spawn to /healthz, ms", false),
            ("ingest, alerts/s", true),
            ("end-to-end, deliveries/s", true),
            ("GET /v1/deliveries first page, p99 ms", false),
            (deep_row.as_str(), false),
        ];
        let unit = |higher_is_better: bool| if higher_is_better { "/s" } else { "ms" };
        let mut with_history: Vec<Figure> =
            names.iter().map(|(_, up)| Figure::new(unit(*up))).collect();
        let mut empty: Vec<Figure> = names.iter().map(|(_, up)| Figure::new(unit(*up))).collect();
        let rounds = settings.runs;
        let mut medians = Vec::new();
        for n in 0..rounds {
            let fresh_dir = crate::scratch_dir("history-empty");
            let _ = std::fs::remove_dir_all(&fresh_dir);
            // Which goes first alternates, so that a drift of the machine falls on both alike.
            let (mut fresh_round, fresh_dir, mut history_round, kept) = if n % 2 == 0 {
                let (fresh_round, fresh_dir) =
                    measure(&client, &receiver, fresh_dir, true, settings).await?;
                let (history_round, kept) =
                    measure(&client, &receiver, history_dir, false, settings).await?;
                (fresh_round, fresh_dir, history_round, kept)
            } else {
                let (history_round, kept) =
                    measure(&client, &receiver, history_dir, false, settings).await?;
                let (fresh_round, fresh_dir) =
                    measure(&client, &receiver, fresh_dir, true, settings).await?;
                (fresh_round, fresh_dir, history_round, kept)
            };
            // The empty database has its pages by then: the alerts of the round.
            let (pages, [fresh_dir, kept]) =
                measure_listings(&client, [fresh_dir, kept], deep).await?;
            let [[fresh_first, history_first], [fresh_deep, history_deep]] = pages;
            for (round, first, deep) in [
                (&mut fresh_round, fresh_first, fresh_deep),
                (&mut history_round, history_first, history_deep),
            ] {
                round.first_page_p99_ms = first.p99_ms;
                round.first_page_p50_ms = first.p50_ms;
                round.deep_page_p99_ms = deep.p99_ms;
                round.deep_page_p50_ms = deep.p50_ms;
            }
            medians.push([
                fresh_first.p50_ms,
                history_first.p50_ms,
                fresh_deep.p50_ms,
                history_deep.p50_ms,
            ]);
            let _ = std::fs::remove_dir_all(&fresh_dir);
            history_dir = kept;
            push(&mut empty, &fresh_round);
            push(&mut with_history, &history_round);
        }
        let pruning = prune_a_day(&client, &history_dir, history / 30, settings).await?;
        let _ = std::fs::remove_dir_all(&history_dir);

        let mut rows = Vec::new();
        for (((name, higher_is_better), figure), baseline) in
            names.iter().zip(with_history).zip(empty)
        {
            // As speed: for times, the empty database's time over the history's.
            let r = if *higher_is_better {
                paired_ratio(&figure, &baseline)
            } else {
                paired_ratio(&baseline, &figure)
            };
            rows.push(Row {
                scenario: format!(
                    "history: {name} with {history} delivered alerts stored (÷ an empty database{})",
                    if *higher_is_better { "" } else { ", as speed: empty ÷ history" }
                ),
                figure,
                baseline: Some(baseline),
                ratio: Some(r),
                goal: format!("≥ {GOAL}×"),
                met: Some(r >= GOAL),
            });
        }
        let r = paired_ratio(&pruning.during, &pruning.after);
        rows.push(Row {
            scenario: format!(
                "history: ingest, alerts/s, while the pruner deletes a day past retention ({} alerts) from {history} (÷ the same server once it is done)",
                history / 30
            ),
            figure: pruning.during,
            baseline: Some(pruning.after),
            ratio: Some(r),
            goal: "reported".into(),
            met: None,
        });
        let listed = |k: usize| {
            medians
                .iter()
                .map(|m: &[f64; 4]| format!("{:.2}", m[k]))
                .collect::<Vec<_>>()
                .join(", ")
        };
        notes.push(format!(
            "history: the listings' medians by round, ms (empty; history): first page {}; {}; page {deep} {}; {}. Their p99s, the rows above, are mostly the machine's scheduling.",
            listed(0),
            listed(1),
            listed(2),
            listed(3)
        ));
        notes.push(format!(
            "history: pruning a day ({} delivered alerts, each with its delivery and attempt) took {:.1} s with ingest beside it.",
            history / 30,
            pruning.took.as_secs_f64()
        ));
        notes.push(format!(
            "history: {history} delivered alerts (one delivery and one 200 attempt each) written through the store in {:.0} s; {} bytes on disk per delivered alert (database and write-ahead log). {rounds} rounds, each an empty database and the history measured one after the other (which goes first alternating): start-up, ingest ({POSTING_CONCURRENCY} clients), end-to-end; then both served at once, {LISTINGS} listings of each's first page and of its page {deep} ({PAGE_SIZE} a page), the two taking turns.",
            seeded_in.as_secs_f64(),
            number(bytes_per_alert)
        ));
        Ok(rows)
    })
}

fn push(figures: &mut [Figure], round: &Round) {
    for (figure, value) in figures.iter_mut().zip([
        round.startup_ms,
        round.ingest_per_s,
        round.e2e_per_s,
        round.first_page_p99_ms,
        round.deep_page_p99_ms,
    ]) {
        figure.push(value);
    }
}

/// Ingest while the pruner deletes a day's worth of history, and on the same server once it is done.
struct PruningCost {
    during: Figure,
    after: Figure,
    /// From the first batch counted to the last.
    took: Duration,
}

/// The `record`s pruned so far, as `/metrics` counts them.
async fn pruned_so_far(
    client: &reqwest::Client,
    server: &ServeProcess,
    record: &str,
) -> Result<f64, BenchError> {
    let series = format!("alertwire_history_pruned_total{{record=\"{record}\"}}");
    let text = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .find(|line| line.starts_with(&series))
        .and_then(|line| line.split_whitespace().last())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0))
}

/// Adds `alerts` delivered alerts received 31 days ago to the history, starts `serve` on it (retention
/// 30 days, so its pruner's first pass, soon after the start, deletes them), and measures ingest while
/// the pruner works, then once it has finished.
async fn prune_a_day(
    client: &reqwest::Client,
    history_dir: &Path,
    alerts: usize,
    settings: Settings,
) -> Result<PruningCost, BenchError> {
    let long_ago = chrono::Utc::now() - chrono::Duration::days(31);
    seed(history_dir, alerts, Some(long_ago)).await?;
    let binary = crate::sibling_binary("alertwire")?;
    let server = ServeProcess::open(&binary, history_dir.to_path_buf(), "warn").await?;
    let request = crate::e2e::alert_request(&server);
    let window = Duration::from_millis(if settings.quick { 50 } else { 1_000 });
    let deadline = Instant::now() + SETTLE_LIMIT;
    while pruned_so_far(client, &server, "deliveries").await? == 0.0 {
        if Instant::now() > deadline {
            return Err(BenchError::Unexpected("the pruner never started".into()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let mut during = Figure::new("alerts/s");
    // Windows of ingest while the pruner still has rows to delete.
    // Windows of ingest while the pruner works: each counts if the pruner deleted something during it
    // (its alerts go last, once their deliveries are gone).
    loop {
        let before = pruned_so_far(client, &server, "alerts").await?;
        if before >= alerts as f64 || during.values.len() >= 5 {
            break;
        }
        let deliveries_before = pruned_so_far(client, &server, "deliveries").await?;
        let result = load::run(
            client,
            &request,
            POSTING_CONCURRENCY,
            Until::Elapsed(window),
        )
        .await?;
        let progressed = pruned_so_far(client, &server, "deliveries").await? > deliveries_before
            || pruned_so_far(client, &server, "alerts").await? > before;
        if progressed {
            during.push(result.per_second());
        }
    }
    while pruned_so_far(client, &server, "alerts").await? < alerts as f64 {
        if Instant::now() > deadline {
            return Err(BenchError::Unexpected(
                "the pruner did not finish the day".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    if during.values.is_empty() {
        return Err(BenchError::Unexpected(format!(
            "the pruner deleted the day in {took:?}, before a window of ingest ended"
        )));
    }
    let mut after = Figure::new("alerts/s");
    for _ in 0..during.values.len() {
        let result = load::run(
            client,
            &request,
            POSTING_CONCURRENCY,
            Until::Elapsed(window),
        )
        .await?;
        after.push(result.per_second());
    }
    drop(server);
    Ok(PruningCost {
        during,
        after,
        took,
    })
}
