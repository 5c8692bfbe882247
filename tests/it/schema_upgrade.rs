//! Schema versions on the real binary. A data directory written by a release from before schema versions
//! (`tests/fixtures/schema/`, made by its `make-v0.sh` with that release) is upgraded at start and keeps
//! everything: its key, its endpoint with the sealed secret and header, its delivery with its refused
//! attempt, its unrouted alert. A file from a newer alertwire is refused with both versions named, a
//! non-zero exit and the file left as it was.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alertwire_shared::embedded::SCHEMA_VERSION;
use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port, wait_healthy};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, Behaviour, Receiver, alertwire_binary, standard_webhooks};
use serde_json::json;

/// The fixture's API key, signing secret and sealed header value (see `make-v0.sh`).
const KEY: &str = "fixture-key-0123456789abcdef";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const HEADER: &str = "Bearer fixture-header-secret";
/// The fixture's one delivery, pending after one refused attempt.
const FIXTURE_DELIVERY: &str = "msg_01a24642684a705c9ec8f1c89c446dba";

fn schema_version(db: &std::path::Path) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get(0)))
        .expect("the file's user_version")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_from_before_schema_versions_is_upgraded_at_start_and_keeps_everything() {
    let data_dir = scratch_dir("schema-upgrade");
    std::fs::create_dir_all(&data_dir).unwrap();
    let db = data_dir.join("alertwire.db");
    rusqlite::Connection::open(&db)
        .and_then(|c| c.execute_batch(include_str!("../fixtures/schema/v0.sql")))
        .expect("the fixture loads");
    assert_eq!(schema_version(&db), 0);
    let key_file = data_dir.join("secrets.key");
    std::fs::write(
        &key_file,
        include_bytes!("../fixtures/schema/v0-secrets.key"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    let port = free_port();
    let settings = ServeSettings {
        api_key: KEY.into(),
        retry_delays: "1h".into(),
        http_timeout_secs: 5,
        concurrency: 4,
        log: Default::default(),
    };
    let _server = ServeProcess::start(&data_dir, port, &settings);
    let api = ApiClient::new(format!("http://127.0.0.1:{port}"), KEY);
    wait_healthy(&api.base, Duration::from_secs(30)).await;
    assert_eq!(schema_version(&db), SCHEMA_VERSION);

    // THEN what the old release wrote is all there: the endpoint, the pending delivery with its refused
    // attempt, the unrouted alert
    let (_, endpoints) = api.get("/v1/endpoints").await;
    let endpoint = endpoints["endpoints"][0].clone();
    assert_eq!(endpoint["name"], "ops", "{endpoints}");
    assert_eq!(endpoint["matchers"], json!(["team=\"ops\""]));
    // (Its next attempt was due an hour after the fixture was made: by now the worker may have made it,
    // so only the first attempt is the fixture's.)
    let (_, deliveries) = api.get("/v1/deliveries?limit=10").await;
    let delivery = &deliveries["deliveries"][0];
    assert_eq!(delivery["id"], FIXTURE_DELIVERY, "{deliveries}");
    assert_eq!(delivery["attempts"][0]["number"], 1);
    assert_eq!(delivery["attempts"][0]["error_class"], "connect");
    assert_eq!(deliveries["deliveries"].as_array().unwrap().len(), 1);
    let (_, unrouted) = api.get("/v1/alerts/unrouted").await;
    assert_eq!(
        unrouted["alerts"][0]["title"], "Nobody routes this",
        "{unrouted}"
    );

    // AND its sealed secret and header open under the old key file: pointed at a receiver (the masked
    // values keep what is stored), the endpoint's test is signed with the fixture's secret
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let id = endpoint["id"].as_str().unwrap();
    let mut replaced = endpoint.clone();
    replaced["url"] = json!(receiver.url("/hook"));
    let (status, answer) = api.put(&format!("/v1/endpoints/{id}"), &replaced).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = api
        .post(
            &format!("/v1/endpoints/{id}/test"),
            &json!({"title": "Test after the upgrade"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let sent = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert!(standard_webhooks::verifies(SECRET, &sent[0]));
    assert_eq!(sent[0].header("authorization"), Some(HEADER));
    assert!(
        answer.to_string().contains("Test after the upgrade"),
        "{answer}"
    );

    // AND a new alert is accepted and delivered as before
    let (status, answer) = api
        .post(
            "/v1/alerts",
            &json!({"title": "After the upgrade", "tags": ["team=ops"]}),
        )
        .await;
    assert_eq!(status, 202, "{answer}");
    // (The fixture's delivery, overdue, may reach the receiver too, in any order.)
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sent = receiver.received();
        if let Some(new) = sent
            .iter()
            .find(|r| r.json()["title"] == "After the upgrade")
        {
            assert!(standard_webhooks::verifies(SECRET, new));
            break;
        }
        assert!(Instant::now() < deadline, "the new alert was not delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_file_from_a_newer_alertwire_is_refused_naming_both_versions_and_left_as_it_was() {
    let data_dir = scratch_dir("schema-newer");
    std::fs::create_dir_all(&data_dir).unwrap();
    let db = data_dir.join("alertwire.db");
    let newer = SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.execute_batch(&format!(
                "CREATE TABLE from_the_future (x TEXT); PRAGMA user_version = {newer};"
            ))
        })
        .expect("a file of a newer schema");
    let before = std::fs::read(&db).unwrap();

    let mut child = Command::new(alertwire_binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())])
        .arg("--data-dir")
        .arg(&data_dir)
        .env("ALERTWIRE_API_KEY", KEY)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("alertwire starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("alertwire kept running on a file from a newer version");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("schema version {newer}"))
            && stderr.contains(&format!("versions up to {SCHEMA_VERSION}")),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file was written");
    assert!(!data_dir.join("alertwire.db-wal").exists());
    assert!(
        !data_dir.join("secrets.key").exists(),
        "a key file was made"
    );
}
