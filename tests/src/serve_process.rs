//! The real `alertwire serve` as a child process on a data directory and a loopback port, opened to
//! receivers on 127.0.0.1; killed with SIGKILL (and reaped) when dropped, so a failing test leaves no
//! process behind.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::alertwire_binary;

/// The settings a test chooses for the process; every other setting is the binary's default.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub api_key: String,
    pub retry_delays: String,
    /// Whole seconds (the binary's unit).
    pub http_timeout_secs: u64,
    pub concurrency: usize,
    /// The `ALERTWIRE_LOG` filter, and a file to write the log to (else it goes to the test's stderr).
    pub log: LogSettings,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub filter: String,
    pub file: Option<std::path::PathBuf>,
}

impl Default for LogSettings {
    /// Warnings and errors, on the test's stderr.
    fn default() -> Self {
        Self {
            filter: "warn".into(),
            file: None,
        }
    }
}

pub struct ServeProcess {
    child: Child,
    pub base: String,
}

impl ServeProcess {
    pub fn start(data_dir: &Path, port: u16, settings: &ServeSettings) -> ServeProcess {
        Self::start_with_env(data_dir, port, settings, &[])
    }

    /// [`Self::start`] with further variables in the process's environment, for settings that
    /// [`ServeSettings`] does not name (`ALERTWIRE_BREAKER_FAILURES`…).
    pub fn start_with_env(
        data_dir: &Path,
        port: u16,
        settings: &ServeSettings,
        env: &[(&str, &str)],
    ) -> ServeProcess {
        let child = Command::new(alertwire_binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir)
            .env("ALERTWIRE_API_KEY", &settings.api_key)
            .env("ALERTWIRE_ALLOW_TARGETS", "127.0.0.0/8")
            .env("ALERTWIRE_ALLOW_PORTS", "any")
            .env("ALERTWIRE_RETRY_DELAYS", &settings.retry_delays)
            .env(
                "ALERTWIRE_HTTP_TIMEOUT",
                settings.http_timeout_secs.to_string(),
            )
            .env("ALERTWIRE_CONCURRENCY", settings.concurrency.to_string())
            .env("ALERTWIRE_LOG", &settings.log.filter)
            // The breaker on, as in production, with cool-downs short enough (0.1 s, at most 6 s) for tests
            // whose endpoints fail on purpose to see every delivery through its ten attempts in time.
            .env("ALERTWIRE_BREAKER_COOLDOWN", "100ms")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(match &settings.log.file {
                None => Stdio::inherit(),
                Some(path) => std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("the log file opens")
                    .into(),
            })
            .spawn()
            .expect("alertwire starts");
        ServeProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Whether the process has ended (for instance because another listener took its port first).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGTERM, as a service manager stops it; then waits up to `within` for the process to exit and
    /// returns its exit status (`None` if it had not exited by then: it is killed).
    pub fn terminate(mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was not sent");
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL, then reap: the data directory's lock is free when this returns.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until `base` answers `GET /healthz`, or panics after `within`.
pub async fn wait_healthy(base: &str, within: Duration) {
    let deadline = Instant::now() + within;
    let client = crate::http_client(Duration::from_secs(2));
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "alertwire did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A loopback port free at the moment.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}
