//! Ingest: alerts accepted per second through `POST /v1/alerts` of a real `alertwire serve` (the alert, its
//! delivery and its queued task durably committed before the 202), with p50/p99 latency. The baseline: a
//! bare axum handler answering 202, in a child process on 127.0.0.1 like the subject. The subject has one
//! endpoint, so every alert queues one task; its worker delivers them meanwhile, as in production. A second
//! subject runs with `--durability=process` (commits synced at checkpoints, not each one), interleaved with
//! the first: the goals apply to the default.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::load::{self, LoadResult, Request, Until};
use crate::process_cpu::cpu_seconds;
use crate::receiver::CountingReceiver;
use crate::serve_process::ServeProcess;
use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

const CONCURRENCY: usize = 16;
const P99_GOAL_MS: f64 = 5.0;
/// Longest wait for a server's queue to drain between runs.
const DRAIN_LIMIT: Duration = Duration::from_secs(120);

/// The bare 202 server, killed when dropped.
pub(crate) struct Bare202(Child, pub(crate) String);

impl Bare202 {
    pub(crate) fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Its CPU time per request for `requests` 202s asked by `clients` closed-loop clients.
    pub(crate) async fn cpu_micros_per_request(
        &self,
        client: &reqwest::Client,
        clients: usize,
        requests: u64,
    ) -> Result<f64, BenchError> {
        let before = cpu_seconds(self.pid())?;
        let answered =
            load::run(client, &request(&self.1), clients, Until::Count(requests)).await?;
        Ok(micros_per(cpu_seconds(self.pid())? - before, answered.sent))
    }

    pub(crate) async fn start() -> Result<Self, BenchError> {
        let port = crate::free_port()?;
        let child =
            Command::new(std::env::current_exe().map_err(|e| BenchError::Setup(e.to_string()))?)
                .args([crate::bare_202::COMMAND, &format!("127.0.0.1:{port}")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| BenchError::Setup(format!("cannot start the bare 202 server: {e}")))?;
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                return Err(BenchError::Setup(
                    "the bare 202 server does not listen".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Self(child, base))
    }
}

impl Drop for Bare202 {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn request(base: &str) -> Request {
    Request {
        url: format!("{base}/v1/alerts"),
        body: axum::body::Bytes::from_static(
            br#"{"title": "CPU above 90 % on web-1", "severity": "high", "tags": ["web", "prod"], "samples": [{"host": "web-1", "cpu": 97.5}]}"#,
        ),
        headers: vec![
            ("content-type", "application/json".into()),
            ServeProcess::auth_header(),
        ],
        expect: 202,
    }
}

/// Returns once `server` has no pending delivery.
async fn drained(server: &ServeProcess) -> Result<(), BenchError> {
    server
        .wait_until_drained(Instant::now() + DRAIN_LIMIT, Duration::from_millis(20))
        .await
}

/// Microseconds of CPU per request.
pub(crate) fn micros_per(cpu_seconds: f64, requests: u64) -> f64 {
    cpu_seconds * 1e6 / requests.max(1) as f64
}

pub fn run(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    block_on(async {
        let client = load::client();
        let receiver = CountingReceiver::start().await?;
        let server = ServeProcess::start(
            &crate::sibling_binary("alertwire")?,
            crate::scratch_dir("ingest"),
        )
        .await?;
        server.create_endpoint("ingest", &receiver.url()).await?;
        let process_dir = crate::scratch_dir("ingest-process-durability");
        let _ = std::fs::remove_dir_all(&process_dir);
        let process_durable = ServeProcess::open_with_env(
            &crate::sibling_binary("alertwire")?,
            process_dir,
            "warn",
            &[("ALERTWIRE_DURABILITY", "process".to_string())],
        )
        .await?;
        process_durable
            .create_endpoint("ingest", &receiver.url())
            .await?;
        let bare = Bare202::start().await?;
        let (subject_request, bare_request) = (request(&server.base), request(&bare.1));
        let process_request = request(&process_durable.base);
        let duration = Duration::from_millis(if settings.quick { 300 } else { 3000 });
        // Warm both up (connections, caches) before measuring.
        load::run(&client, &bare_request, CONCURRENCY, Until::Count(50)).await?;
        load::run(&client, &subject_request, CONCURRENCY, Until::Count(50)).await?;
        load::run(&client, &process_request, CONCURRENCY, Until::Count(50)).await?;
        let mut bare_rate = Figure::new("req/s");
        let mut rate = Figure::new("alerts/s");
        let (mut bare_p99, mut p50, mut p99) =
            (Figure::new("ms"), Figure::new("ms"), Figure::new("ms"));
        let (mut bare_cpu, mut cpu) = (Figure::new("µs"), Figure::new("µs"));
        let (mut process_rate, mut process_cpu, mut process_p99) = (
            Figure::new("alerts/s"),
            Figure::new("µs"),
            Figure::new("ms"),
        );
        // Each run starts with both servers' queues drained, so neither measures beside the other's
        // worker delivering what its own run left.
        for _ in 0..settings.runs {
            drained(&server).await?;
            drained(&process_durable).await?;
            let bare_before = cpu_seconds(bare.0.id())?;
            let b: LoadResult = load::run(
                &client,
                &bare_request,
                CONCURRENCY,
                Until::Elapsed(duration),
            )
            .await?;
            bare_cpu.push(micros_per(cpu_seconds(bare.0.id())? - bare_before, b.sent));
            bare_rate.push(b.per_second());
            bare_p99.push(b.percentile_ms(99.0));
            let before = cpu_seconds(server.pid())?;
            let s = load::run(
                &client,
                &subject_request,
                CONCURRENCY,
                Until::Elapsed(duration),
            )
            .await?;
            // Read at once: the worker goes on delivering the last alerts, which this leaves out.
            cpu.push(micros_per(cpu_seconds(server.pid())? - before, s.sent));
            rate.push(s.per_second());
            p50.push(s.percentile_ms(50.0));
            p99.push(s.percentile_ms(99.0));
            drained(&server).await?;
            let before = cpu_seconds(process_durable.pid())?;
            let p = load::run(
                &client,
                &process_request,
                CONCURRENCY,
                Until::Elapsed(duration),
            )
            .await?;
            process_cpu.push(micros_per(
                cpu_seconds(process_durable.pid())? - before,
                p.sent,
            ));
            process_rate.push(p.per_second());
            process_p99.push(p.percentile_ms(99.0));
        }
        let r = ratio(&rate, &bare_rate);
        let p99_median = p99.median();
        let process_rows = vec![
            Row {
                scenario: "ingest with `--durability=process`: accepted alerts/s".into(),
                ratio: Some(ratio(&process_rate, &bare_rate)),
                figure: process_rate,
                baseline: Some(bare_rate.clone()),
                goal: "– (reported: the goals apply to the default)".into(),
                met: None,
            },
            Row {
                scenario: "ingest with `--durability=process`: CPU time per accepted alert".into(),
                ratio: Some(ratio(&process_cpu, &bare_cpu)),
                figure: process_cpu,
                baseline: Some(bare_cpu.clone()),
                goal: "– (reported)".into(),
                met: None,
            },
            Row {
                scenario: "ingest with `--durability=process`: p99 latency".into(),
                ratio: Some(ratio(&process_p99, &bare_p99)),
                figure: process_p99,
                baseline: Some(bare_p99.clone()),
                goal: "– (reported)".into(),
                met: None,
            },
        ];
        notes.push(format!(
            "ingest: {CONCURRENCY} closed-loop clients (in-repo load generator, in the bench process) for {} ms a run; p50 {} ms [{}–{}].",
            duration.as_millis(),
            crate::stats::number(p50.median()),
            crate::stats::number(p50.min()),
            crate::stats::number(p50.max())
        ));
        let mut rows = vec![
            Row {
                scenario: "ingest: accepted alerts/s, `POST /v1/alerts`, durable queueing".into(),
                figure: rate,
                baseline: Some(bare_rate),
                ratio: Some(r),
                goal: "≥ 0.5×".into(),
                met: Some(r >= 0.5),
            },
            Row {
                scenario: "ingest: CPU time per accepted alert (the server process, its worker delivering meanwhile)".into(),
                ratio: Some(ratio(&cpu, &bare_cpu)),
                figure: cpu,
                baseline: Some(bare_cpu),
                goal: "– (reported: what a request costs, whatever the load)".into(),
                met: None,
            },
            Row {
                scenario: "ingest: p99 latency".into(),
                ratio: Some(ratio(&p99, &bare_p99)),
                figure: p99,
                baseline: Some(bare_p99),
                goal: format!("p99 ≤ {P99_GOAL_MS} ms"),
                met: Some(p99_median <= P99_GOAL_MS),
            },
        ];
        rows.extend(process_rows);
        Ok(rows)
    })
}
