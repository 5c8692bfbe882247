//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, on 127.0.0.1) sending its webhook
//! notifications to alertwire: alertwire's matchers route a `team=web` alert to the web endpoint only, and
//! an Alertmanager route that sends `team=db` to a receiver whose URL names one endpoint
//! (`?endpoints=tracker`) reaches only that one. Every delivery goes to a real receiver on 127.0.0.1.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alertwire_tests::server::scratch_dir;
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const BINARY: &str = "/usr/bin/prometheus-alertmanager";
const SETTLE: Duration = Duration::from_secs(30);

/// The Alertmanager process, stopped when dropped.
struct Alertmanager {
    child: Child,
    base: String,
}

impl Alertmanager {
    /// Starts Alertmanager with `config` (YAML) in `dir`, clustering off, and waits until it is ready.
    async fn start(dir: &Path, config: &str) -> Self {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} is missing: tests/run.sh installs Debian's prometheus-alertmanager"
        );
        std::fs::create_dir_all(dir).expect("a scratch directory");
        let config_file = dir.join("alertmanager.yml");
        std::fs::write(&config_file, config).expect("the configuration written");
        let port = alertwire_tests::browser::free_port();
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
        let client = alertwire_tests::http_client(Duration::from_secs(10));
        let deadline = Instant::now() + SETTLE;
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
    async fn fire(&self, alerts: &[Value]) {
        let response = alertwire_tests::http_client(Duration::from_secs(10))
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

fn alert(name: &str, team: &str) -> Value {
    json!({
        "labels": {"alertname": name, "team": team, "severity": "critical", "instance": "db-2:9100"},
        "annotations": {"summary": format!("{name} for team {team}")},
        "generatorURL": "http://prometheus.example/graph"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_reaches_only_the_endpoints_its_labels_and_routes_name() {
    let server = TestServer::start().await;
    let web = Receiver::start(Behaviour::status(200)).await;
    let db = Receiver::start(Behaviour::status(200)).await;
    let tickets = Receiver::start(Behaviour::status(200)).await;
    for (name, receiver) in [("web", &web), ("db", &db), ("tickets", &tickets)] {
        let matchers = if name == "web" {
            json!(["team=\"web\""])
        } else {
            json!(["team=\"db\""])
        };
        server
            .api
            .create_endpoint(
                &json!({"name": name, "url": receiver.url("/hook"), "matchers": matchers}),
            )
            .await;
    }
    // One alertwire URL per Alertmanager receiver: the root route's lets alertwire's matchers route; the
    // replica-lag route's names the tickets endpoint, so the db endpoint, whose matcher also holds, is
    // left out.
    let alerts_url = format!("{}/v1/alerts/alertmanager", server.api.base);
    let config = format!(
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
"#,
        key = server.api.key
    );
    let alertmanager = Alertmanager::start(&scratch_dir("alertmanager"), &config).await;

    // WHEN Prometheus fires a web alert and a database replica-lag alert at Alertmanager
    alertmanager
        .fire(&[alert("HighLatency", "web"), alert("ReplicaLag", "db")])
        .await;

    // THEN the web alert reaches the web endpoint only (alertwire's matchers), and the replica-lag alert
    // only the endpoint its Alertmanager route names, not the db one
    let to_web = web.wait_for(1, SETTLE).await;
    assert_eq!(to_web[0].json()["title"], "HighLatency for team web");
    let to_tickets = tickets.wait_for(1, SETTLE).await;
    assert_eq!(to_tickets[0].json()["title"], "ReplicaLag for team db");
    assert_eq!(
        to_tickets[0].json()["context"]["receiver"],
        "alertwire-tickets"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(web.received().len(), 1);
    assert_eq!(tickets.received().len(), 1);
    assert!(
        db.received().is_empty(),
        "the replica-lag receiver names only tickets"
    );
    let (_, page) = server.api.get("/v1/deliveries?limit=100").await;
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 2, "{page}");
}
