//! The operator CLI (`alertwire endpoints|deliveries|resend|dead-letters`), run as the real binary
//! against a running alertwire through its public API, with real receivers on 127.0.0.1.

use std::time::Duration;

use alertwire_tests::cli_run::{CliRun, run_alertwire};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);

/// Runs `alertwire <args>` against `server` with `key`.
async fn cli(server: &TestServer, key: &str, args: &[&str]) -> CliRun {
    let url = format!("http://{}", server.server.addr);
    run_alertwire(args, &[("ALERTWIRE_URL", &url), ("ALERTWIRE_API_KEY", key)]).await
}

async fn ok(server: &TestServer, args: &[&str]) -> String {
    let run = cli(server, &server.api.key, args).await;
    assert_eq!(
        run.code, 0,
        "alertwire {args:?}: {}{}",
        run.stdout, run.stderr
    );
    run.stdout
}

/// The first `ep_…` or `dl_…` word in `text`.
fn first_id(text: &str, prefix: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} id in {text}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_manages_endpoints_deliveries_and_dead_letters_from_the_cli() {
    let server = TestServer::start().await;
    let good = Receiver::start(Behaviour::status(200)).await;
    let bad = Receiver::start(Behaviour::status(500)).await;

    let created = ok(
        &server,
        &[
            "endpoints",
            "create",
            "--name",
            "good",
            "--url",
            &good.url("/"),
            "--secret",
            "generate",
        ],
    )
    .await;
    let good_id = first_id(&created, "ep_");
    assert!(
        created.contains("signing secret (shown only now): whsec_"),
        "{created}"
    );

    let file = scratch_dir("cli-endpoint").join("bad.json");
    std::fs::write(
        &file,
        json!({"name": "bad", "url": bad.url("/hook")}).to_string(),
    )
    .unwrap();
    let created = ok(
        &server,
        &["endpoints", "create", "--from-file", file.to_str().unwrap()],
    )
    .await;
    let bad_id = first_id(&created, "ep_");

    let list = ok(&server, &["endpoints", "list"]).await;
    assert!(list.starts_with("ID"), "{list}");
    assert!(list.contains(&good_id) && list.contains(&bad_id), "{list}");

    let tested = ok(&server, &["endpoints", "test", &good_id]).await;
    assert!(tested.contains("< 200"), "{tested}");
    assert!(tested.contains("> POST http://127.0.0.1:"), "{tested}");
    let failed_test = cli(&server, &server.api.key, &["endpoints", "test", &bad_id]).await;
    assert_eq!(failed_test.code, 1, "{}", failed_test.stdout);
    assert!(
        failed_test.stdout.contains("< 500"),
        "{}",
        failed_test.stdout
    );

    let mut dead = Vec::new();
    for n in 0..3 {
        let (_, receipt) = server
            .api
            .post("/v1/alerts", &json!({"title": format!("alert {n}")}))
            .await;
        for d in receipt["deliveries"].as_array().unwrap() {
            let settled = server.api.settled(d["id"].as_str().unwrap(), SETTLE).await;
            if settled["status"] == "dead" {
                dead.push(settled["id"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(dead.len(), 3);

    let listed = ok(&server, &["deliveries", "list", "--status", "dead"]).await;
    assert_eq!(listed.lines().count(), 1 + 3, "{listed}");
    let shown = ok(&server, &["deliveries", "show", &dead[0]]).await;
    assert_eq!(
        shown.lines().filter(|l| l.starts_with("0.")).count(),
        10,
        "{shown}"
    );
    assert!(shown.contains("500"), "{shown}");

    let letters = ok(&server, &["dead-letters", "list", "--endpoint", &bad_id]).await;
    assert_eq!(letters.lines().count(), 1 + 3, "{letters}");
    bad.set(Behaviour::status(200));
    let replayed = ok(&server, &["dead-letters", "replay", "--endpoint", &bad_id]).await;
    assert_eq!(replayed.trim(), "replayed 3 dead letters");
    for id in &dead {
        assert_eq!(server.api.settled(id, SETTLE).await["status"], "delivered");
    }

    let resent = ok(&server, &["resend", &dead[0]]).await;
    assert!(
        resent.starts_with(&format!("resending {}: run 2", dead[0])),
        "{resent}"
    );

    let as_json = ok(&server, &["deliveries", "list", "--json", "--limit", "2"]).await;
    let page: Value = serde_json::from_str(&as_json).expect("--json prints JSON");
    assert_eq!(page["deliveries"].as_array().map(Vec::len), Some(2));
    assert!(page["next_before"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_key_or_a_bad_field_is_one_clear_line_and_exit_code_1() {
    let server = TestServer::start().await;
    let run = cli(
        &server,
        "aw_not-a-real-key-0000000000",
        &["endpoints", "list"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("401") && run.stderr.contains("API key is not valid"),
        "{}",
        run.stderr
    );
    let run = cli(
        &server,
        &server.api.key,
        &[
            "endpoints",
            "create",
            "--name",
            "x",
            "--url",
            "ftp://example.com/",
        ],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("(field `url`)"), "{}", run.stderr);
    let run = cli(
        &server,
        &server.api.key,
        &["deliveries", "show", "dl_missing"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("404"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_has_help() {
    let server = TestServer::start().await;
    let commands: &[&[&str]] = &[
        &[],
        &["endpoints"],
        &["endpoints", "list"],
        &["endpoints", "show"],
        &["endpoints", "create"],
        &["endpoints", "test"],
        &["endpoints", "delete"],
        &["deliveries"],
        &["deliveries", "list"],
        &["deliveries", "show"],
        &["resend"],
        &["dead-letters"],
        &["dead-letters", "list"],
        &["dead-letters", "replay"],
        &["serve"],
        &["keys", "create"],
        &["listen"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let run = cli(&server, "unused", &args).await;
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert!(
            run.stdout.contains("Usage: alertwire"),
            "{args:?}: {}",
            run.stdout
        );
    }
}
