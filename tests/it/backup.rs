//! Online backup and restore on the real binary. `alertwire backup` copies the database while `serve` takes
//! alerts. The backup holds every alert answered before it began, and restore is refused while a server
//! holds the directory. Restored into a new data directory, with the key of the old one, the backup starts
//! there: every delivery it holds is there, and the pending ones are resumed, each acknowledged once by an
//! endpoint that never acknowledged it before (at most twice by one that may have, after the backup: that
//! is at-least-once).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port, wait_healthy};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, Behaviour, Receiver, alertwire_binary};
use serde_json::json;
use tokio::sync::watch;

const KEY: &str = "backup-test-key-0123456789abc";

fn settings() -> ServeSettings {
    ServeSettings {
        api_key: KEY.into(),
        // Ten attempts take about 18 s: a delivery that fails stays pending through the backup.
        retry_delays: "2s".into(),
        http_timeout_secs: 5,
        concurrency: 8,
        log: Default::default(),
    }
}

/// Failing deliveries run their ten attempts, not held by an open circuit.
const ENV: [(&str, &str); 1] = [("ALERTWIRE_BREAKER_FAILURES", "1000")];

fn alertwire(args: &[&str], data_dir: &Path) -> Output {
    Command::new(alertwire_binary())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .expect("the alertwire binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Posts alerts one after another until `stop`; returns each one's delivery ids and when it was answered.
async fn post_until(api: ApiClient, stop: watch::Receiver<bool>) -> Vec<(Instant, Vec<String>)> {
    let mut answered = Vec::new();
    let mut n = 0;
    while !*stop.borrow() {
        let ids = api
            .send_alert(&json!({"title": format!("load {n}"), "severity": "high"}))
            .await;
        answered.push((Instant::now(), ids));
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    answered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_elsewhere_and_its_pending_deliveries_resume() {
    let ok = Receiver::start(Behaviour::status(200)).await;
    let later = Receiver::start(Behaviour::status(503)).await;
    let source_dir = scratch_dir("backup-source");
    let source = ServeProcess::start_with_env(&source_dir, free_port(), &settings(), &ENV);
    let api = ApiClient::new(source.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    // A signing secret, sealed under the data directory's key.
    api.create_endpoint(&json!({"name": "ok", "url": ok.url("/hook"), "secret": "generate"}))
        .await;
    let later_id = api
        .create_endpoint(&json!({"name": "later", "url": later.url("/hook")}))
        .await["id"]
        .as_str()
        .expect("an id")
        .to_string();

    // GIVEN alerts pouring in
    let (stop, stopped) = watch::channel(false);
    let posting = tokio::spawn(post_until(api.clone(), stopped));
    tokio::time::sleep(Duration::from_secs(1)).await;

    // WHEN a backup is taken meanwhile
    let backup_dir = scratch_dir("backup-file");
    let backup_file = backup_dir.join("alertwire.backup");
    let backup_began = Instant::now();
    let backed_up = alertwire(
        &["backup", "--to", backup_file.to_str().expect("a path")],
        &source_dir,
    );
    let backup_ended = Instant::now();
    assert!(backed_up.status.success(), "{}", text(&backed_up));
    assert!(
        text(&backed_up).contains("backed up: "),
        "{}",
        text(&backed_up)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop.send(true);
    let posted = posting.await.expect("the poster");
    let during = posted
        .iter()
        .filter(|(at, _)| *at > backup_began && *at < backup_ended)
        .count();
    println!(
        "backup took {} ms; {during} alerts were answered 202 while it ran, {} in all",
        (backup_ended - backup_began).as_millis(),
        posted.len()
    );
    let again = alertwire(
        &["backup", "--to", backup_file.to_str().unwrap()],
        &source_dir,
    );
    assert!(!again.status.success(), "a backup never overwrites a file");
    assert!(text(&again).contains("exists already"), "{}", text(&again));

    // THEN a restore is refused while the source serves
    let refused = alertwire(
        &["restore", "--from", backup_file.to_str().unwrap()],
        &source_dir,
    );
    assert!(!refused.status.success());
    assert!(text(&refused).contains("serving"), "{}", text(&refused));
    drop(source);

    // AND the backup holds every alert answered before it began, failing deliveries still pending
    let in_backup: HashMap<String, (String, String)> = rusqlite::Connection::open(&backup_file)
        .and_then(|c| {
            c.prepare("SELECT id, status, endpoint_id FROM deliveries")?
                .query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
                .collect()
        })
        .expect("the backup reads as a database");
    for (answered, ids) in &posted {
        if *answered < backup_began {
            for id in ids {
                assert!(
                    in_backup.contains_key(id),
                    "{id} was answered before the backup"
                );
            }
        }
    }
    let pending: Vec<&String> = in_backup
        .iter()
        .filter(|(_, (status, _))| status == "pending")
        .map(|(id, _)| id)
        .collect();
    assert!(
        in_backup
            .values()
            .any(|(status, endpoint)| status == "pending" && *endpoint == later_id),
        "the failing endpoint's deliveries are pending in the backup"
    );

    // WHEN it is restored into a new data directory: refused without the key its secret is sealed under
    let restored_dir = scratch_dir("backup-restored");
    let keyless = alertwire(
        &["restore", "--from", backup_file.to_str().unwrap()],
        &restored_dir,
    );
    assert!(!keyless.status.success());
    assert!(text(&keyless).contains("secrets.key"), "{}", text(&keyless));
    let source_key = source_dir.join("secrets.key");
    let restored = alertwire(
        &[
            "restore",
            "--from",
            backup_file.to_str().unwrap(),
            "--secrets-key",
            source_key.to_str().unwrap(),
        ],
        &restored_dir,
    );
    assert!(restored.status.success(), "{}", text(&restored));

    // THEN it starts there with every delivery of the backup, and the pending ones are delivered
    later.set(Behaviour::status(200));
    let server = ServeProcess::start_with_env(&restored_dir, free_port(), &settings(), &ENV);
    let api = ApiClient::new(server.base.clone(), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    for id in in_backup.keys() {
        api.delivery(id).await;
    }
    for id in &pending {
        let delivery = api.settled(id, Duration::from_secs(60)).await;
        assert_eq!(delivery["status"], "delivered", "{delivery}");
    }
    // AND each was acknowledged once by `later` (which acknowledged nothing before the restore), at most
    // twice by `ok` (the source may have delivered it after the backup)
    let acknowledged = |receiver: &Receiver| -> HashMap<String, usize> {
        let mut seen = HashMap::new();
        for request in receiver.received() {
            if let Some(id) = request.header("webhook-id") {
                *seen.entry(id.to_string()).or_default() += 1;
            }
        }
        seen
    };
    let (by_later, by_ok) = (acknowledged(&later), acknowledged(&ok));
    for id in &pending {
        let (_, endpoint) = &in_backup[*id];
        if *endpoint == later_id {
            let successes = later
                .received()
                .iter()
                .filter(|r| r.header("webhook-id") == Some(id.as_str()) && r.answer.is_success())
                .count();
            assert_eq!(successes, 1, "{id}: {:?}", by_later.get(*id));
        } else {
            let times = by_ok.get(*id).copied().unwrap_or(0);
            assert!((1..=2).contains(&times), "{id} reached ok {times} times");
        }
    }
    drop(server);
}
