//! A real `alertwire serve` as a child process on 127.0.0.1 with a fresh data directory, opened to
//! loopback receivers, and its memory figures from `/proc/<pid>/status`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::BenchError;

pub const API_KEY: &str = "bench-key-0123456789abcdef";

pub struct ServeProcess {
    child: Child,
    data_dir: PathBuf,
    pub base: String,
    http: reqwest::Client,
}

impl ServeProcess {
    /// Starts `binary serve` on a free port with a fresh data directory and waits until `/healthz`
    /// answers.
    pub async fn start(binary: &Path, data_dir: PathBuf) -> Result<Self, BenchError> {
        let _ = std::fs::remove_dir_all(&data_dir);
        Self::open(binary, data_dir, "warn").await
    }

    /// Starts `binary serve` on the data directory as it is, logging at `log_level` (to nowhere: what is
    /// measured is what producing the lines costs), and waits until `/healthz` answers.
    pub async fn open(
        binary: &Path,
        data_dir: PathBuf,
        log_level: &str,
    ) -> Result<Self, BenchError> {
        Self::open_with_env(binary, data_dir, log_level, &[]).await
    }

    /// [`Self::open`] with further settings in the process's environment (`ALERTWIRE_HTTP_TIMEOUT`…).
    pub async fn open_with_env(
        binary: &Path,
        data_dir: PathBuf,
        log_level: &str,
        env: &[(&str, String)],
    ) -> Result<Self, BenchError> {
        let port = crate::free_port()?;
        let child = Command::new(binary)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--allow-target", "127.0.0.1/32", "--allow-port", "any"])
            .env("ALERTWIRE_API_KEY", API_KEY)
            .env("ALERTWIRE_LOG", log_level)
            .envs(env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start {}: {e}", binary.display())))?;
        let server = Self {
            child,
            data_dir,
            base: format!("http://127.0.0.1:{port}"),
            http: crate::load::client(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = server
                .http
                .get(format!("{}/healthz", server.base))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err(BenchError::Setup(
                    "alertwire serve did not answer /healthz".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn auth_header() -> (&'static str, String) {
        ("authorization", format!("Bearer {API_KEY}"))
    }

    /// Creates an endpoint with a signing secret and the default body, posting to `url`; returns its id.
    pub async fn create_endpoint(&self, name: &str, url: &str) -> Result<String, BenchError> {
        self.create_endpoint_from(&json!({"name": name, "url": url, "secret": "generate"}))
            .await
    }

    /// Creates the endpoint `body` defines and returns its id.
    pub async fn create_endpoint_from(&self, body: &Value) -> Result<String, BenchError> {
        let (status, answer) = self.call("POST", "/v1/endpoints", Some(body)).await?;
        if status != 201 {
            return Err(BenchError::Unexpected(format!(
                "creating an endpoint: {status} {answer}"
            )));
        }
        answer["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| BenchError::Unexpected(format!("an endpoint without an id: {answer}")))
    }

    /// Waits, asking every `poll`, until no delivery is pending; an error once `deadline` passes first.
    pub async fn wait_until_drained(
        &self,
        deadline: Instant,
        poll: Duration,
    ) -> Result<(), BenchError> {
        loop {
            let (status, answer) = self
                .call("GET", "/v1/deliveries?status=pending&limit=1", None)
                .await?;
            if status != 200 {
                return Err(BenchError::Unexpected(format!(
                    "listing deliveries: {status} {answer}"
                )));
            }
            if answer["deliveries"]
                .as_array()
                .is_some_and(|d| d.is_empty())
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(BenchError::Unexpected("deliveries stayed pending".into()));
            }
            tokio::time::sleep(poll).await;
        }
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), BenchError> {
        let (name, value) = Self::auth_header();
        let mut request = self
            .http
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", self.base),
            )
            .header(name, value);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    /// Stops the process and keeps its data directory, for a start on it again.
    pub fn stop_keeping_data(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::take(&mut self.data_dir)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far (VmHWM), in MB.
    pub fn peak_rss_mb(&self) -> Result<f64, BenchError> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| BenchError::Setup(format!("cannot read the process status: {e}")))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<f64>()
                    .ok()
            })
            .map(|kb| kb / 1024.0)
            .ok_or_else(|| BenchError::Setup("no VmHWM in /proc/<pid>/status".into()))
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.data_dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}
