//! Alert storms: whether endpoints that hang or fail delay the alerts of the healthy endpoints on the same
//! tenant. One tenant, N endpoints, each alert delivered to every one: a tenth hang far past the HTTP
//! timeout, a tenth answer 500, the rest answer 200 at once; 16 closed-loop clients post the alerts. The
//! baseline is the same run with every endpoint healthy, interleaved with it. A healthy delivery's latency
//! runs from the moment its alert's 202 reached the client to the moment the receiver read the delivery
//! (matched by `webhook-id`, the delivery id the 202 lists).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alertwire_shared::delivery::retry_policy::RetryPolicy;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

use crate::load::{self, Observer, Until};
use crate::serve_process::ServeProcess;
use crate::stats::{Figure, number, percentile_ms, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

/// Endpoints on the tenant and alerts posted: every alert is a delivery to each endpoint.
#[derive(Debug, Clone, Copy)]
pub struct StormSizes {
    pub endpoints: usize,
    pub alerts: usize,
}

/// 100 endpoints as in the issue, and 1,000 alerts (100,000 deliveries): an all-healthy run took 40 s on
/// a busy 2-core machine, so three pairs take minutes once no endpoint holds up another. The issue's
/// 10,000 alerts (1M deliveries, about 7 minutes a run) is `--storm-sizes 100,10000`.
pub const DEFAULT_SIZES: StormSizes = StormSizes {
    endpoints: 100,
    alerts: 1_000,
};
const QUICK_SIZES: StormSizes = StormSizes {
    endpoints: 10,
    alerts: 50,
};
/// The fewest endpoints that still have a hanging and a failing one among them.
pub const FEWEST_ENDPOINTS: usize = 10;

const POSTING_CONCURRENCY: usize = 16;
/// `ALERTWIRE_HTTP_TIMEOUT` for both runs, in seconds.
const HTTP_TIMEOUT_SECS: u64 = 2;
/// How long a hanging receiver holds a request before it answers: far past the timeout.
const HANG: Duration = Duration::from_secs(60);
const SETTLE_LIMIT: Duration = Duration::from_secs(1800);
const P99_GOAL: f64 = 1.5;
/// Requests an open circuit may let through per cool-down: the probe.
const PROBES_PER_COOLDOWN_GOAL: f64 = 1.0;
/// The breaker settings the bench gives `serve` unless its own environment sets them: the issue's
/// default threshold, and a cool-down short enough that a run holds many of them.
const BREAKER_FAILURES: (&str, &str) = ("ALERTWIRE_BREAKER_FAILURES", "5");
const BREAKER_COOLDOWN: (&str, &str) = ("ALERTWIRE_BREAKER_COOLDOWN", "1s");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Healthy,
    Hanging,
    Failing,
}

impl Kind {
    /// Every tenth endpoint hangs and the one after it fails, when the run has failing neighbours.
    fn of(endpoint: usize, neighbours: bool) -> Kind {
        match (neighbours, endpoint % 10) {
            (true, 0) => Kind::Hanging,
            (true, 1) => Kind::Failing,
            _ => Kind::Healthy,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Kind::Healthy => "healthy",
            Kind::Hanging => "hanging",
            Kind::Failing => "failing",
        }
    }

    fn from_path(segment: &str) -> Option<Kind> {
        [Kind::Healthy, Kind::Hanging, Kind::Failing]
            .into_iter()
            .find(|kind| kind.path() == segment)
    }
}

/// What the receiver saw.
#[derive(Default, Clone)]
struct Arrivals {
    /// The `webhook-id` and arrival of each request to a healthy endpoint.
    healthy: Vec<(String, Instant)>,
    /// The endpoint number and arrival of each request to a hanging endpoint.
    hanging: Vec<(usize, Instant)>,
    /// The endpoint number and arrival of each request to a failing endpoint.
    failing: Vec<(usize, Instant)>,
}

/// One listener on 127.0.0.1 for every endpoint of a run, told apart by path: `/healthy/<n>` answers 200
/// at once, `/hanging/<n>` answers 200 after [`HANG`], `/failing/<n>` answers 500 at once.
struct StormReceiver {
    addr: SocketAddr,
    arrivals: Arc<Mutex<Arrivals>>,
    serving: tokio::task::JoinHandle<()>,
}

impl StormReceiver {
    async fn start() -> Result<Self, BenchError> {
        let setup = |e: std::io::Error| BenchError::Setup(format!("the storm receiver: {e}"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(setup)?;
        let addr = listener.local_addr().map_err(setup)?;
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let state = arrivals.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let state = state.clone();
            async move { Self::answer(&state, &uri, &headers).await }
        });
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            arrivals,
            serving,
        })
    }

    async fn answer(state: &Mutex<Arrivals>, uri: &Uri, headers: &HeaderMap) -> StatusCode {
        let at = Instant::now();
        let mut segments = uri.path().trim_start_matches('/').split('/');
        let (Some(kind), Some(endpoint)) = (
            segments.next().and_then(Kind::from_path),
            segments.next().and_then(|n| n.parse::<usize>().ok()),
        ) else {
            return StatusCode::NOT_FOUND;
        };
        {
            let mut arrivals = state.lock().unwrap_or_else(|p| p.into_inner());
            match kind {
                Kind::Healthy => {
                    let id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    arrivals.healthy.push((id.to_string(), at));
                }
                Kind::Hanging => arrivals.hanging.push((endpoint, at)),
                Kind::Failing => arrivals.failing.push((endpoint, at)),
            }
        }
        match kind {
            Kind::Healthy => StatusCode::OK,
            Kind::Hanging => {
                tokio::time::sleep(HANG).await;
                StatusCode::OK
            }
            Kind::Failing => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn url(&self, kind: Kind, endpoint: usize) -> String {
        format!("http://{}/{}/{endpoint}", self.addr, kind.path())
    }

    fn healthy_count(&self) -> usize {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .healthy
            .len()
    }

    fn arrivals(&self) -> Arrivals {
        self.arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for StormReceiver {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// The circuit breaker's settings `serve` runs with: from the bench's environment, else
/// [`BREAKER_FAILURES`] and [`BREAKER_COOLDOWN`], given to `serve` either way so the bench knows them.
struct Breaker {
    failures: usize,
    cooldown: Duration,
    env: Vec<(&'static str, String)>,
}

impl Breaker {
    fn from_env() -> Result<Self, BenchError> {
        let setting = |(name, default): (&'static str, &str)| {
            (name, std::env::var(name).unwrap_or_else(|_| default.into()))
        };
        let failures = setting(BREAKER_FAILURES);
        let cooldown = setting(BREAKER_COOLDOWN);
        let invalid = |(name, value): &(&str, String)| {
            BenchError::Setup(format!("{name}={value} is not a valid setting"))
        };
        Ok(Self {
            failures: failures
                .1
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| invalid(&failures))?,
            // alertwire's own duration syntax (`500ms`, `1s`, `2m`), read by the parser of its settings.
            cooldown: RetryPolicy::parse(&cooldown.1)
                .map_err(|_| invalid(&cooldown))?
                .delay_after(1, None),
            env: vec![failures, cooldown],
        })
    }
}

/// What one run measured.
struct StormRun {
    /// Accepted → delivered of every healthy delivery, in microseconds, sorted.
    latencies_us: Vec<u64>,
    /// From the first post to the last healthy delivery.
    total: Duration,
    hanging_requests: usize,
    /// The most requests one failing endpoint got in one cool-down once its circuit should be open.
    most_per_cooldown: usize,
}

/// Creates the run's endpoints; returns the ids of the healthy ones.
async fn create_endpoints(
    server: &ServeProcess,
    receiver: &StormReceiver,
    endpoints: usize,
    neighbours: bool,
) -> Result<HashSet<String>, BenchError> {
    let mut healthy = HashSet::new();
    for endpoint in 0..endpoints {
        let kind = Kind::of(endpoint, neighbours);
        let id = server
            .create_endpoint(
                &format!("storm {} {endpoint}", kind.path()),
                &receiver.url(kind, endpoint),
            )
            .await?;
        if kind == Kind::Healthy {
            healthy.insert(id);
        }
    }
    Ok(healthy)
}

/// Remembers, from each 202, when each healthy endpoint's delivery was accepted.
fn accepted_recorder(
    healthy: HashSet<String>,
    accepted: Arc<Mutex<HashMap<String, Instant>>>,
) -> Observer {
    Arc::new(move |at, body| {
        let Ok(receipt) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        let mut accepted = accepted.lock().unwrap_or_else(|p| p.into_inner());
        for delivery in receipt["deliveries"].as_array().into_iter().flatten() {
            if let (Some(id), Some(endpoint)) =
                (delivery["id"].as_str(), delivery["endpoint_id"].as_str())
                && healthy.contains(endpoint)
            {
                accepted.insert(id.to_string(), at);
            }
        }
    })
}

/// The most requests to one endpoint within one cool-down, counted from half a cool-down after its
/// `failures`-th request (when its circuit should be open; the half leaves room for attempts already in
/// flight then). 0 when no endpoint got that many requests.
fn most_per_cooldown(arrivals: &[(usize, Instant)], breaker: &Breaker) -> usize {
    let mut by_endpoint: HashMap<usize, Vec<Instant>> = HashMap::new();
    for (endpoint, at) in arrivals {
        by_endpoint.entry(*endpoint).or_default().push(*at);
    }
    by_endpoint
        .into_values()
        .filter_map(|mut times| {
            times.sort_unstable();
            let opened = *times.get(breaker.failures - 1)? + breaker.cooldown / 2;
            let open: Vec<Instant> = times.into_iter().filter(|t| *t >= opened).collect();
            // A window of one cool-down starting at each request.
            let mut end = 0;
            (0..open.len())
                .map(|start| {
                    while end < open.len() && open[end] - open[start] < breaker.cooldown {
                        end += 1;
                    }
                    end - start
                })
                .max()
        })
        .max()
        .unwrap_or(0)
}

/// One run on a fresh `serve`: with failing neighbours (`neighbours`) or all healthy.
async fn storm_run(
    client: &reqwest::Client,
    sizes: StormSizes,
    breaker: &Breaker,
    neighbours: bool,
) -> Result<StormRun, BenchError> {
    let receiver = StormReceiver::start().await?;
    let data_dir = crate::scratch_dir("storm");
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut env = breaker.env.clone();
    env.push(("ALERTWIRE_HTTP_TIMEOUT", HTTP_TIMEOUT_SECS.to_string()));
    let server =
        ServeProcess::open_with_env(&crate::sibling_binary("alertwire")?, data_dir, "warn", &env)
            .await?;
    let healthy = create_endpoints(&server, &receiver, sizes.endpoints, neighbours).await?;
    let expected = healthy.len() * sizes.alerts;
    let accepted = Arc::new(Mutex::new(HashMap::with_capacity(expected)));
    let request = crate::e2e::alert_request(&server);
    let start = Instant::now();
    load::run_observed(
        client,
        &request,
        POSTING_CONCURRENCY,
        Until::Count(sizes.alerts as u64),
        accepted_recorder(healthy, accepted.clone()),
    )
    .await?;
    while receiver.healthy_count() < expected {
        if start.elapsed() > SETTLE_LIMIT {
            return Err(BenchError::Unexpected(format!(
                "only {} of {expected} healthy deliveries arrived in {} s",
                receiver.healthy_count(),
                SETTLE_LIMIT.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let arrivals = receiver.arrivals();
    drop(server);
    let accepted = accepted.lock().unwrap_or_else(|p| p.into_inner());
    let mut latencies_us = Vec::with_capacity(arrivals.healthy.len());
    let mut last = start;
    for (id, arrived) in &arrivals.healthy {
        let accepted_at = accepted.get(id).ok_or_else(|| {
            BenchError::Unexpected(format!(
                "a healthy endpoint got delivery {id:?}, which no 202 listed"
            ))
        })?;
        // A delivery can arrive before its 202 is read: that is a latency of 0.
        latencies_us.push(arrived.saturating_duration_since(*accepted_at).as_micros() as u64);
        last = last.max(*arrived);
    }
    latencies_us.sort_unstable();
    Ok(StormRun {
        latencies_us,
        total: last - start,
        hanging_requests: arrivals.hanging.len(),
        most_per_cooldown: most_per_cooldown(&arrivals.failing, breaker),
    })
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    block_on(async {
        let client = load::client();
        let sizes = settings.storm_sizes.unwrap_or(if settings.quick {
            QUICK_SIZES
        } else {
            DEFAULT_SIZES
        });
        let breaker = Breaker::from_env()?;
        // A run of the default sizes takes a minute or more: three pairs are enough.
        let runs = settings.runs.min(3);
        let percentiles = [50.0, 95.0, 99.0];
        let mut storm_percentiles = percentiles.map(|_| Figure::new("ms"));
        let mut healthy_percentiles = percentiles.map(|_| Figure::new("ms"));
        let mut storm_total = Figure::new("s");
        let mut healthy_total = Figure::new("s");
        let mut hanging = Figure::new("requests per hanging endpoint");
        let mut per_cooldown = Figure::new("requests");
        // Endpoints of each kind, in the order `Kind` declares them.
        let [healthy, hanging_endpoints, failing] =
            (0..sizes.endpoints).fold([0usize; 3], |mut counts, n| {
                counts[Kind::of(n, true) as usize] += 1;
                counts
            });
        for round in 1..=runs {
            for neighbours in [false, true] {
                let run = storm_run(&client, sizes, &breaker, neighbours).await?;
                // A run can take minutes: say how far it got.
                eprintln!(
                    "bench: storm {round}/{runs}, {}: last healthy delivery after {:.1} s, p99 {} ms",
                    if neighbours {
                        "with failing neighbours"
                    } else {
                        "all healthy"
                    },
                    run.total.as_secs_f64(),
                    number(percentile_ms(&run.latencies_us, 99.0))
                );
                let (figures, total) = if neighbours {
                    (&mut storm_percentiles, &mut storm_total)
                } else {
                    (&mut healthy_percentiles, &mut healthy_total)
                };
                for (figure, p) in figures.iter_mut().zip(percentiles) {
                    figure.push(percentile_ms(&run.latencies_us, p));
                }
                total.push(run.total.as_secs_f64());
                if neighbours {
                    hanging.push(run.hanging_requests as f64 / hanging_endpoints as f64);
                    per_cooldown.push(run.most_per_cooldown as f64);
                }
            }
        }
        let subject = format!(
            "{healthy} healthy of {} endpoints beside {hanging_endpoints} hanging and {failing} failing, {} alerts",
            sizes.endpoints, sizes.alerts
        );
        let mut rows = Vec::new();
        for ((figure, baseline), p) in storm_percentiles
            .into_iter()
            .zip(healthy_percentiles)
            .zip(percentiles)
        {
            let r = ratio(&figure, &baseline);
            let judged = p == 99.0;
            rows.push(Row {
                scenario: format!(
                    "storm: p{p} accepted → delivered, {subject} (÷ all {} healthy)",
                    sizes.endpoints
                ),
                figure,
                baseline: Some(baseline),
                ratio: Some(r),
                goal: if judged {
                    format!("≤ {P99_GOAL}×")
                } else {
                    "– (reported)".into()
                },
                met: judged.then_some(r <= P99_GOAL),
            });
        }
        rows.push(Row {
            scenario: format!(
                "storm: time to the last healthy delivery, {subject} (÷ all {} healthy)",
                sizes.endpoints
            ),
            ratio: Some(ratio(&storm_total, &healthy_total)),
            figure: storm_total,
            baseline: Some(healthy_total),
            goal: "– (reported)".into(),
            met: None,
        });
        rows.push(Row {
            scenario: format!(
                "storm: attempts spent on each hanging endpoint (requests it received), {subject}"
            ),
            figure: hanging,
            baseline: None,
            ratio: None,
            goal: "– (reported)".into(),
            met: None,
        });
        let most = per_cooldown.max();
        rows.push(Row {
            scenario: format!(
                "storm: most requests to one failing endpoint in one cool-down ({} ms) once open (after its {}th failure)",
                breaker.cooldown.as_millis(),
                breaker.failures
            ),
            figure: per_cooldown,
            baseline: None,
            ratio: None,
            goal: format!("≤ {PROBES_PER_COOLDOWN_GOAL}"),
            met: Some(most <= PROBES_PER_COOLDOWN_GOAL),
        });
        notes.push(format!(
            "storm: {} alerts posted by {POSTING_CONCURRENCY} clients to a fresh `serve` (`ALERTWIRE_HTTP_TIMEOUT={HTTP_TIMEOUT_SECS}`, {}), each delivered to every one of {} endpoints; hanging receivers answer after {} s, failing ones 500 at once. Latency: from the 202 at the client to the healthy receiver reading the delivery. Runs interleaved: all healthy, then with failing neighbours, {runs} times. A failing endpoint's cool-downs are counted from half a cool-down after its {}th request; the cool-down may grow, so this is the tightest reading.",
            sizes.alerts,
            breaker
                .env
                .iter()
                .map(|(name, value)| format!("`{name}={value}`"))
                .collect::<Vec<_>>()
                .join(", "),
            sizes.endpoints,
            HANG.as_secs(),
            breaker.failures,
        ));
        Ok(rows)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: usize, cooldown_ms: u64) -> Breaker {
        Breaker {
            failures,
            cooldown: Duration::from_millis(cooldown_ms),
            env: Vec::new(),
        }
    }

    #[test]
    fn one_probe_per_cooldown_after_the_opening_counts_one() {
        let t0 = Instant::now();
        let at = |ms: u64| (7, t0 + Duration::from_millis(ms));
        // Three failures, a straggler in flight, then a probe every second.
        let arrivals = [at(0), at(1), at(2), at(3), at(1003), at(2004), at(3005)];
        assert_eq!(most_per_cooldown(&arrivals, &breaker(3, 1000)), 1);
    }

    #[test]
    fn requests_closer_than_a_cooldown_once_open_count_together() {
        let t0 = Instant::now();
        let at = |ms: u64| (1, t0 + Duration::from_millis(ms));
        let arrivals = [at(0), at(10), at(20), at(600), at(900), at(1200)];
        assert_eq!(most_per_cooldown(&arrivals, &breaker(3, 1000)), 3);
    }

    #[test]
    fn an_endpoint_below_the_threshold_never_opened() {
        let t0 = Instant::now();
        assert_eq!(most_per_cooldown(&[(0, t0), (0, t0)], &breaker(3, 1000)), 0);
    }

    #[test]
    fn a_tenth_hang_and_a_tenth_fail_only_beside_neighbours() {
        let kinds: Vec<Kind> = (0..12).map(|n| Kind::of(n, true)).collect();
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Hanging).count(), 2);
        assert_eq!(kinds.iter().filter(|k| **k == Kind::Failing).count(), 2);
        assert!((0..12).all(|n| Kind::of(n, false) == Kind::Healthy));
    }
}
