//! The Lambda functions: init time (process start to the first `GET …/runtime/invocation/next` poll) and
//! package size, each beside the `hello-lambda` function built the same way.
//!
//! Init runs the built binaries against a small Runtime API on 127.0.0.1 that records the first poll and
//! never answers it. The functions get the settings `template.yaml` gives them, with `AWS_ENDPOINT_URL` on a
//! closed loopback port and no bootstrap key: their init builds the SDK clients and the service but sends
//! no request, so nothing leaves loopback and no emulator is needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::{get, post};
use tokio::sync::mpsc;

use crate::stats::{Figure, number, ratio};
use crate::table::Row;
use crate::{BenchError, Settings, block_on};

/// Issue 16's goal for init beside `hello-lambda`.
const INIT_GOAL_RATIO: f64 = 1.5;
const PACKAGE_GOAL_MB: f64 = 8.0;
const BASELINE: &str = "hello-lambda";
const FUNCTIONS: [&str; 2] = ["api", "deliver"];
const INIT_LIMIT: Duration = Duration::from_secs(20);

enum RuntimeCall {
    FirstPoll(Instant),
    InitError(String),
}

/// Where a function's binary is: the `cargo lambda build --release` package if there is one, else the binary
/// cargo built beside this one. The second says which.
fn function_binary(name: &str) -> Result<(PathBuf, &'static str), BenchError> {
    let dir = crate::binary_dir();
    if let Some(target) = dir.parent() {
        let packaged = target.join("lambda").join(name).join("bootstrap");
        if packaged.exists() {
            return Ok((packaged, "`cargo lambda build --release` packages"));
        }
    }
    let built = crate::sibling_binary(name)?;
    Ok((
        built,
        "binaries of this cargo profile (no `cargo lambda build` packages found)",
    ))
}

async fn runtime_api() -> Result<(u16, mpsc::UnboundedReceiver<RuntimeCall>), BenchError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| BenchError::Setup(e.to_string()))?;
    let port = listener
        .local_addr()
        .map_err(|e| BenchError::Setup(e.to_string()))?
        .port();
    let (tx, rx) = mpsc::unbounded_channel();
    let (poll, error) = (tx.clone(), tx);
    let app = axum::Router::new()
        .route(
            "/2018-06-01/runtime/invocation/next",
            get(move || {
                let _ = poll.send(RuntimeCall::FirstPoll(Instant::now()));
                // Never answered: the function waits here until it is stopped.
                std::future::pending::<()>()
            }),
        )
        .route(
            "/2018-06-01/runtime/init/error",
            post(move |body: String| {
                let _ = error.send(RuntimeCall::InitError(body));
                async { "" }
            }),
        );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((port, rx))
}

/// Milliseconds from spawning `binary` to its first poll of the Runtime API.
async fn init_time(
    binary: &Path,
    name: &str,
    port: u16,
    calls: &mut mpsc::UnboundedReceiver<RuntimeCall>,
) -> Result<f64, BenchError> {
    while calls.try_recv().is_ok() {}
    let closed = crate::free_port()?;
    let aws = format!("http://127.0.0.1:{closed}");
    let start = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &aws)
        .env("ALERTWIRE_TABLE", "alertwire-bench")
        .env(
            "ALERTWIRE_QUEUE_URL",
            format!("{aws}/123456789012/alertwire-bench"),
        )
        .env(
            "ALERTWIRE_DLQ_URL",
            format!("{aws}/123456789012/alertwire-bench-dlq"),
        )
        // Asked for nothing at cold start: KMS is called when the first secret is sealed or opened.
        .env("ALERTWIRE_KMS_KEY_ID", "alias/alertwire-bench")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| BenchError::Setup(format!("cannot start {}: {e}", binary.display())))?;
    let outcome = tokio::time::timeout(INIT_LIMIT, calls.recv()).await;
    let _ = child.kill();
    let _ = child.wait();
    match outcome {
        Ok(Some(RuntimeCall::FirstPoll(at))) => Ok((at - start).as_secs_f64() * 1000.0),
        Ok(Some(RuntimeCall::InitError(body))) => Err(BenchError::Unexpected(format!(
            "{name} reported an init error: {body}"
        ))),
        _ => Err(BenchError::Unexpected(format!(
            "{name} did not poll the Runtime API within {INIT_LIMIT:?}"
        ))),
    }
}

pub fn init(settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    block_on(async {
        let (port, mut calls) = runtime_api().await?;
        let (hello, built_as) = function_binary(BASELINE)?;
        let mut rows = Vec::new();
        let mut links = vec![format!("{BASELINE} {}", link_kind(&hello)?)];
        let runs = if settings.quick {
            settings.runs
        } else {
            2 * settings.runs + 1
        };
        for name in FUNCTIONS {
            let (binary, _) = function_binary(name)?;
            links.push(format!("{name} {}", link_kind(&binary)?));
            let mut baseline = Figure::new("ms");
            let mut subject = Figure::new("ms");
            for _ in 0..runs {
                baseline.push(init_time(&hello, BASELINE, port, &mut calls).await?);
                subject.push(init_time(&binary, name, port, &mut calls).await?);
            }
            let r = ratio(&subject, &baseline);
            rows.push(Row {
                scenario: format!("Lambda init `{name}`: start to first `next` poll"),
                figure: subject,
                baseline: Some(baseline),
                ratio: Some(r),
                goal: format!("≤ {INIT_GOAL_RATIO}×"),
                met: Some(r <= INIT_GOAL_RATIO),
            });
        }
        notes.push(format!(
            "Lambda init: {built_as} ({}); no bootstrap key set, so init sends no request (AWS_ENDPOINT_URL is a closed port on 127.0.0.1).",
            links.join(", ")
        ));
        Ok(rows)
    })
}

/// How `binary` was linked, from its ELF header's type: position-dependent (`EXEC`, no relocations for
/// the loader to apply; see `functions/lambda_link.rs`) or position-independent (`DYN`).
fn link_kind(binary: &Path) -> Result<&'static str, BenchError> {
    use std::io::Read;
    let mut header = [0u8; 18];
    std::fs::File::open(binary)
        .and_then(|mut file| file.read_exact(&mut header))
        .map_err(|e| BenchError::Setup(format!("cannot read {}: {e}", binary.display())))?;
    // e_type, little-endian, after the 16 bytes of e_ident.
    Ok(match header[16..18] {
        [2, 0] => "position-dependent",
        [3, 0] => "position-independent",
        _ => "of an unknown ELF type",
    })
}

/// Size of `binary` zipped with deflate as the test command zips packages, in MB.
fn zipped_mb(binary: &Path) -> Result<f64, BenchError> {
    const ZIP: &str = "import io, sys, zipfile\nb = io.BytesIO()\nwith zipfile.ZipFile(b, 'w', zipfile.ZIP_DEFLATED) as z:\n    z.write(sys.argv[1], 'bootstrap')\nprint(len(b.getvalue()))";
    let output = Command::new("python3")
        .args(["-c", ZIP])
        .arg(binary)
        .output()
        .map_err(|e| BenchError::Setup(format!("python3 is needed to zip the packages: {e}")))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<f64>()
        .map(|bytes| bytes / 1e6)
        .map_err(|_| BenchError::Unexpected(format!("zipping {} failed", binary.display())))
}

pub fn package(_settings: Settings, notes: &mut Vec<String>) -> Result<Vec<Row>, BenchError> {
    let (hello, built_as) = function_binary(BASELINE)?;
    let mut baseline = Figure::new("MB zipped");
    baseline.push(zipped_mb(&hello)?);
    let mut rows = Vec::new();
    let mut sizes = Vec::new();
    for name in FUNCTIONS {
        let (binary, _) = function_binary(name)?;
        let mut figure = Figure::new("MB zipped");
        let zipped = zipped_mb(&binary)?;
        figure.push(zipped);
        let unzipped = std::fs::metadata(&binary)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(f64::NAN);
        sizes.push(format!("{name} {} MB", number(unzipped)));
        rows.push(Row {
            scenario: format!("Lambda package `{name}` (x86_64)"),
            figure,
            baseline: Some(baseline.clone()),
            ratio: Some(zipped / baseline.median()),
            goal: format!("≤ {PACKAGE_GOAL_MB} MB"),
            met: Some(zipped <= PACKAGE_GOAL_MB),
        });
    }
    let hello_unzipped = std::fs::metadata(&hello)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(f64::NAN);
    notes.push(format!(
        "Lambda packages: {built_as}; unzipped {}, {BASELINE} {} MB. Sizes are deterministic: one measurement.",
        sizes.join(", "),
        number(hello_unzipped)
    ));
    Ok(rows)
}
