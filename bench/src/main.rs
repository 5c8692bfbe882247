//! `bench`: how close alertwire comes to what this machine can do. Every scenario runs beside its baseline
//! in the same process run, interleaved (baseline, subject, baseline, subject…) so the noise of a shared
//! machine hits both, and is reported as the median of repeated runs with its spread and the ratio of the
//! medians. `--quick` runs every scenario with small sizes in seconds (the CI smoke run). The process
//! exits non-zero only if a scenario fails to run, not when a goal is missed.

mod backlog;
mod bare_202;
mod e2e;
mod history;
mod ingest;
mod lambda;
mod load;
mod logging;
mod process_cpu;
mod receiver;
mod render;
mod replay;
#[cfg(feature = "aws")]
mod replay_dynamodb;
mod routing;
mod seeding;
mod serve_process;
mod signing;
mod stats;
mod storage_floor;
mod storm;
mod table;

use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("setup failed: {0}")]
    Setup(String),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Unexpected(String),
    #[error("store: {0}")]
    Store(String),
}

/// How much work each scenario does.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub quick: bool,
    /// Repetitions of each (baseline, subject) pair.
    pub runs: usize,
    /// The backlog scenario's two sizes when not its defaults (`--backlog-sizes`): to measure an older
    /// build, whose drain may be too slow for the default sizes, beside this one at the same sizes.
    pub backlog_sizes: Option<(usize, usize)>,
    /// The storm scenario's endpoints and alerts when not its defaults (`--storm-sizes`).
    pub storm_sizes: Option<storm::StormSizes>,
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(bare_202::COMMAND) {
        return bare_202::serve(args.get(1).map(String::as_str));
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "usage: bench [--quick] [--only <scenario>] [--backlog-sizes <small>,<large>] [--storm-sizes <endpoints>,<alerts>]\n  --quick  small sizes and 3 runs per scenario (the CI smoke run)\n  --only   run only the scenarios whose name contains <scenario> (e.g. `--only init`)\n  --backlog-sizes  the backlog scenario's two sizes (default 10000,100000)\n  --storm-sizes  the storm scenario's endpoints (at least {}) and alerts (default {},{})",
            storm::FEWEST_ENDPOINTS,
            storm::DEFAULT_SIZES.endpoints,
            storm::DEFAULT_SIZES.alerts
        );
        return std::process::ExitCode::SUCCESS;
    }
    let mut quick = false;
    let mut only = None;
    let mut backlog_sizes = None;
    let mut storm_sizes = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => match rest.next() {
                Some(name) => only = Some(name.to_lowercase()),
                None => {
                    eprintln!("bench: --only needs a scenario name");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "--backlog-sizes" => match rest.next().map(|list| number_pair(list)) {
                Some(Some(pair)) => backlog_sizes = Some(pair),
                _ => {
                    eprintln!("bench: --backlog-sizes needs two numbers, e.g. 10000,30000");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "--storm-sizes" => match rest.next().map(|list| number_pair(list)) {
                Some(Some((endpoints, alerts)))
                    if endpoints >= storm::FEWEST_ENDPOINTS && alerts > 0 =>
                {
                    storm_sizes = Some(storm::StormSizes { endpoints, alerts })
                }
                _ => {
                    eprintln!(
                        "bench: --storm-sizes needs the endpoints (at least {}) and the alerts, e.g. 100,1000",
                        storm::FEWEST_ENDPOINTS
                    );
                    return std::process::ExitCode::FAILURE;
                }
            },
            other => {
                eprintln!("bench: unknown argument {other}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let settings = Settings {
        quick,
        runs: if quick { 3 } else { 5 },
        backlog_sizes,
        storm_sizes,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    type Scenario = fn(Settings, &mut Vec<String>) -> Result<Vec<table::Row>, BenchError>;
    let scenarios: &[(&str, Scenario)] = &[
        ("end-to-end deliveries and memory", |s, n| e2e::run(s, n)),
        ("backlog drain and ingest beside it", |s, n| {
            backlog::run(s, n)
        }),
        (
            "storm: healthy endpoints beside hanging and failing ones",
            |s, n| storm::run(s, n),
        ),
        ("logging cost", |s, n| logging::run(s, n)),
        ("ingest", |s, n| ingest::run(s, n)),
        ("storage floor", |s, _| storage_floor::run(s)),
        ("history: a million delivered alerts stored", |s, n| {
            history::run(s, n)
        }),
        ("routing with many endpoints", |s, n| routing::run(s, n)),
        ("template render", |s, _| Ok(render::run(s))),
        ("signing", |s, _| Ok(signing::run(s))),
        ("dead-letter replay", |s, n| replay::run(s, n)),
        #[cfg(feature = "aws")]
        ("dead-letter replay on DynamoDB", |s, n| {
            replay_dynamodb::run(s, n)
        }),
        ("Lambda init", |s, n| lambda::init(s, n)),
        ("Lambda package", |s, n| lambda::package(s, n)),
    ];
    for &(name, scenario) in scenarios {
        if only
            .as_deref()
            .is_some_and(|wanted| !name.to_lowercase().contains(wanted))
        {
            continue;
        }
        eprintln!("bench: {name}…");
        let _guard = runtime.enter();
        match scenario(settings, &mut notes) {
            Ok(mut produced) => rows.append(&mut produced),
            Err(e) => {
                eprintln!("bench: {name} failed: {e}");
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    println!();
    println!(
        "alertwire benchmark{}, {} on {} ({} CPUs), {:.0} s",
        if quick { " (--quick)" } else { "" },
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        started.elapsed().as_secs_f64()
    );
    println!();
    table::print(&rows, &failures);
    if !notes.is_empty() {
        println!();
        for note in &notes {
            println!("- {note}");
        }
    }
    if failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// Two numbers separated by a comma, as `--backlog-sizes` and `--storm-sizes` take them.
fn number_pair(list: &str) -> Option<(usize, usize)> {
    let (first, second) = list.split_once(',')?;
    Some((first.trim().parse().ok()?, second.trim().parse().ok()?))
}

/// Runs a future on the current runtime (each scenario is async inside).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Handle::current().block_on(future)
}

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> Result<u16, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::Setup(format!("no free port: {e}")))
}

/// A fresh scratch directory for this run (on the disk of the temporary directory, so fsync is real).
pub fn scratch_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("alertwire-bench-{}-{name}", std::process::id()))
}

/// The directory holding this binary (`target/<profile>`), where the other workspace binaries are built.
pub fn binary_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_default()
}

/// A workspace binary built beside this one.
pub fn sibling_binary(name: &str) -> Result<PathBuf, BenchError> {
    let path = binary_dir().join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(BenchError::Setup(format!(
            "{} is missing: build it first (`cargo build --release -p alertwire -p hello-lambda`, see docs/performance.md)",
            path.display()
        )))
    }
}
