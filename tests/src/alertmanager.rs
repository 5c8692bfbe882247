//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) as a child process on 127.0.0.1,
//! clustering off, with alertwire as its webhook receiver: started from a configuration, fed alerts
//! through its own API as Prometheus feeds them, stopped when dropped; and the routing scenario the
//! embedded and AWS tests run through it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Behaviour, Receiver};

const BINARY: &str = "/usr/bin/prometheus-alertmanager";
/// How long Alertmanager may take to get ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// The Alertmanager process, stopped when dropped.
pub struct Alertmanager {
    child: Child,
    base: String,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (YAML) in `dir`, clustering off, and waits until it is ready.
    pub async fn start(dir: &Path, config: &str) -> Self {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: tests/run.sh installs Debian's prometheus-alertmanager"
        );
        std::fs::create_dir_all(dir).expect("a scratch directory");
        let config_file = dir.join("alertmanager.yml");
        std::fs::write(&config_file, config).expect("the configuration written");
        let port = crate::serve_process::free_port();
        let child = Command::new(BINARY)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.external-url=http://127.0.0.1:{port}"))
            // No gossip: a single Alertmanager, no traffic beyond loopback.
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("alertmanager.log")).expect("a log file"))
            .spawn()
            .expect("Alertmanager starts");
        let alertmanager = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = crate::http_client(Duration::from_secs(10));
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let ready = client
                .get(format!("{}/-/ready", alertmanager.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return alertmanager;
            }
            assert!(
                Instant::now() < deadline,
                "Alertmanager did not get ready; see {}",
                dir.join("alertmanager.log").display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fires alerts with these labels through Alertmanager's own API, as Prometheus does.
    pub async fn fire(&self, alerts: &[Value]) {
        let response = crate::http_client(Duration::from_secs(10))
            .post(format!("{}/api/v2/alerts", self.base))
            .json(&alerts)
            .send()
            .await
            .expect("Alertmanager answers");
        assert!(
            response.status().is_success(),
            "Alertmanager refused the alerts: {}",
            response.status()
        );
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An alert as Prometheus fires it, for team `team`.
fn alert(name: &str, team: &str) -> Value {
    json!({
        "labels": {"alertname": name, "team": team, "severity": "critical", "instance": "db-2:9100"},
        "annotations": {"summary": format!("{name} for team {team}")},
        "generatorURL": "http://prometheus.example/graph"
    })
}

/// The routing scenario of the Alertmanager tests, on the embedded default and on AWS alike: endpoints
/// `web` (`team="web"`), `db` and `tickets` (both `team="db"`), each posting to a receiver of its own, and
/// a `HighLatency` alert of team web and a `ReplicaLag` alert of team db fired at an Alertmanager that
/// [`routes_config`] configures.
pub struct RouteScenario {
    pub web: Receiver,
    pub db: Receiver,
    pub tickets: Receiver,
}

impl RouteScenario {
    pub async fn start() -> Self {
        Self {
            web: Receiver::start(Behaviour::status(200)).await,
            db: Receiver::start(Behaviour::status(200)).await,
            tickets: Receiver::start(Behaviour::status(200)).await,
        }
    }

    /// The three endpoints to create, each as its name and its body.
    pub fn endpoints(&self) -> [(&'static str, Value); 3] {
        let body = |name: &str, receiver: &Receiver, team: &str| json!({"name": name, "url": receiver.url("/hook"), "matchers": [format!("team=\"{team}\"")]});
        [
            ("web", body("web", &self.web, "web")),
            ("db", body("db", &self.db, "db")),
            ("tickets", body("tickets", &self.tickets, "db")),
        ]
    }

    /// Fires the web alert and the database replica-lag alert at `alertmanager`.
    pub async fn fire(&self, alertmanager: &Alertmanager) {
        alertmanager
            .fire(&[alert("HighLatency", "web"), alert("ReplicaLag", "db")])
            .await;
    }

    /// Waits until the web alert reaches the web endpoint (alertwire's matchers) and the replica-lag alert
    /// the tickets endpoint (the one its Alertmanager route names), and checks that the db endpoint,
    /// whose matcher holds too, got nothing.
    pub async fn assert_routed(&self, within: Duration) {
        let to_web = self.web.wait_for(1, within).await;
        assert_eq!(to_web[0].json()["title"], "HighLatency for team web");
        let to_tickets = self.tickets.wait_for(1, within).await;
        assert_eq!(to_tickets[0].json()["title"], "ReplicaLag for team db");
        assert_eq!(
            to_tickets[0].json()["context"]["receiver"],
            "alertwire-tickets"
        );
        assert!(
            self.db.received().is_empty(),
            "the replica-lag receiver names only tickets"
        );
    }
}

/// An Alertmanager configuration with one alertwire receiver per route, as a user writes it: the root
/// route's receiver posts to `alerts_url` (alertwire's Alertmanager receiver) and lets alertwire's matchers
/// route; the `ReplicaLag` route's receiver names the `tickets` endpoint in its URL (`?endpoints=`). Both
/// authenticate with `key`.
pub fn routes_config(alerts_url: &str, key: &str) -> String {
    format!(
        r#"
route:
  receiver: alertwire
  group_by: ['alertname']
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['alertname="ReplicaLag"']
      receiver: alertwire-tickets
receivers:
  - name: alertwire
    webhook_configs:
      - url: '{alerts_url}'
        send_resolved: false
        http_config:
          authorization:
            credentials: '{key}'
  - name: alertwire-tickets
    webhook_configs:
      - url: '{alerts_url}?endpoints=tickets'
        send_resolved: false
        http_config:
          authorization:
            credentials: '{key}'
"#
    )
}
