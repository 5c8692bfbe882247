//! Revoking API keys: `DELETE /v1/keys/{id}` (tenant-scoped, never a tenant's last key), `alertwire keys
//! revoke`, and a new `ALERTWIRE_API_KEY` replacing the previous one at the next start of the real binary.
//! A key revoked through the API is refused from the next request on; one revoked by another process (the
//! CLI) within the period a server keeps a key it found.

use std::time::Duration;

use alertwire_shared::service::KNOWN_KEY_PERIOD;
use alertwire_tests::cli_run::{CliRun, run_alertwire};
use alertwire_tests::serve_process::{ServeProcess, ServeSettings, free_port, wait_healthy};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{ApiClient, TestServer};

/// The ids `GET /v1/keys` lists for `client`'s tenant.
async fn listed_ids(client: &ApiClient) -> Vec<String> {
    let (status, body) = client.get("/v1/keys").await;
    assert_eq!(status, 200, "{body}");
    body["keys"]
        .as_array()
        .expect("a list of keys")
        .iter()
        .map(|k| k["id"].as_str().expect("an id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_is_refused_at_once_and_only_the_tenants_own_keys_can_be_revoked() {
    let server = TestServer::start().await;
    let first = server.api.clone();
    let second = first.with_key(&TestServer::add_key(&server.server, "alpha").await);
    let beta = server.tenant("beta").await;

    // Listed with ids and labels, never a key or its hash.
    let (status, listed) = first.get("/v1/keys").await;
    assert_eq!(status, 200, "{listed}");
    let keys = listed["keys"].as_array().expect("a list");
    assert_eq!(keys.len(), 2, "{listed}");
    for key in keys {
        let fields: Vec<&str> = key
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["created_at", "id", "label"], "{key}");
        assert!(key["id"].as_str().unwrap().starts_with("key_"), "{key}");
    }
    let text = listed.to_string();
    for secret in [&first.key, &second.key] {
        assert!(!text.contains(secret.as_str()), "a key is shown: {text}");
        let hash = alertwire_shared::service::hash_api_key(secret);
        assert!(!text.contains(&hash[..16]), "a hash is shown: {text}");
    }
    let ids = listed_ids(&first).await;
    let beta_ids = listed_ids(&beta).await;
    assert_eq!(beta_ids.len(), 1);

    // Another tenant's key id, and an unknown one, are not found; beta's key still works.
    for id in [beta_ids[0].as_str(), "key_0000", "not-a-key"] {
        let (status, body) = first.call("DELETE", &format!("/v1/keys/{id}"), None).await;
        assert_eq!(status, 404, "{id}: {body}");
        assert_eq!(body["error"]["code"], "not_found", "{body}");
        assert_eq!(body["error"]["field"], "id", "{body}");
    }
    assert_eq!(beta.get("/v1/endpoints").await.0, 200);

    // The first key revokes the second: refused from the next request on, the first goes on.
    assert_eq!(second.get("/v1/endpoints").await.0, 200);
    let (status, body) = first
        .call("DELETE", &format!("/v1/keys/{}", ids[1]), None)
        .await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = second.get("/v1/endpoints").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert_eq!(first.get("/v1/endpoints").await.0, 200);
    assert_eq!(listed_ids(&first).await, [ids[0].clone()]);
    let (status, _) = first
        .call("DELETE", &format!("/v1/keys/{}", ids[1]), None)
        .await;
    assert_eq!(status, 404, "revoked already");

    // The tenant's last key is kept: a conflict that names the field, and the key still works.
    let (status, body) = first
        .call("DELETE", &format!("/v1/keys/{}", ids[0]), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "conflict", "{body}");
    assert_eq!(body["error"]["field"], "id", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last API key"),
        "{body}"
    );
    assert_eq!(first.get("/v1/endpoints").await.0, 200);

    // A revoked key cannot revoke anything either.
    let (status, _) = second
        .call("DELETE", &format!("/v1/keys/{}", ids[0]), None)
        .await;
    assert_eq!(status, 401);
}

/// `alertwire keys <args> --data-dir <dir>`.
async fn keys(data_dir: &std::path::Path, args: &[&str]) -> CliRun {
    let data_dir = data_dir.to_str().expect("a UTF-8 scratch path");
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data-dir", data_dir]);
    run_alertwire(&all, &[]).await
}

/// `alertwire serve` on `data_dir` with `ALERTWIRE_API_KEY=api_key`, up, and a client with that key.
async fn serve(data_dir: &std::path::Path, api_key: &str) -> (ServeProcess, ApiClient) {
    let settings = ServeSettings {
        api_key: api_key.to_string(),
        retry_delays: "1s".to_string(),
        http_timeout_secs: 5,
        concurrency: 4,
        log: Default::default(),
    };
    let process = ServeProcess::start(data_dir, free_port(), &settings);
    wait_healthy(&process.base, Duration::from_secs(30)).await;
    let client = ApiClient::new(process.base.clone(), api_key);
    (process, client)
}

async fn status_with(client: &ApiClient, key: &str) -> u16 {
    client.with_key(key).get("/v1/endpoints").await.0
}

/// Asks with `key` until it is refused; fails if it is still taken after the period a server keeps a key
/// it found ([`KNOWN_KEY_PERIOD`]) and a margin. For a key revoked by another process (`keys revoke`).
async fn refused_within_the_known_key_period(client: &ApiClient, key: &str) {
    let deadline = std::time::Instant::now() + KNOWN_KEY_PERIOD + Duration::from_secs(3);
    loop {
        match status_with(client, key).await {
            401 => return,
            200 if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("the revoked key still answered {other} after {KNOWN_KEY_PERIOD:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_configured_key_replaces_the_previous_one_and_the_cli_revokes_keys() {
    const OLD: &str = "configured-key-old-0123456789";
    const NEW: &str = "configured-key-new-0123456789";
    let data_dir = scratch_dir("key-revocation");
    let (process, client) = serve(&data_dir, OLD).await;
    assert_eq!(status_with(&client, OLD).await, 200);

    // A key made with the CLI for the same tenant, beside the running server.
    let created = keys(
        &data_dir,
        &["create", "--tenant", "default", "--label", "by hand"],
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let by_hand = created.stdout.trim().to_string();
    assert!(by_hand.starts_with("awk_"), "{}", created.stdout);
    let by_hand_id = created
        .stderr
        .split_whitespace()
        .find(|w| w.starts_with("key_"))
        .unwrap_or_else(|| panic!("no key id in {}", created.stderr))
        .to_string();
    assert_eq!(status_with(&client, &by_hand).await, 200);
    process.kill();

    // The next start with another configured key: the old one is refused, the new one and the CLI's
    // key work; the same start again changes nothing.
    for _ in 0..2 {
        let (process, client) = serve(&data_dir, NEW).await;
        assert_eq!(
            status_with(&client, OLD).await,
            401,
            "the old key is revoked"
        );
        assert_eq!(status_with(&client, NEW).await, 200);
        assert_eq!(status_with(&client, &by_hand).await, 200);
        assert_eq!(listed_ids(&client).await.len(), 2);
        process.kill();
    }

    // The CLI lists the tenant's keys and revokes one; the server, another process, refuses it within the
    // period it keeps a key it found.
    let (process, client) = serve(&data_dir, NEW).await;
    let listed = keys(&data_dir, &["list", "--tenant", "default"]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert_eq!(listed.stdout.lines().count(), 2, "{}", listed.stdout);
    assert!(listed.stdout.contains(&by_hand_id), "{}", listed.stdout);
    assert!(!listed.stdout.contains("awk_"), "{}", listed.stdout);

    let revoked = keys(&data_dir, &["revoke", &by_hand_id, "--tenant", "default"]).await;
    assert_eq!(revoked.code, 0, "{}", revoked.stderr);
    refused_within_the_known_key_period(&client, &by_hand).await;
    assert_eq!(status_with(&client, NEW).await, 200);

    // Unknown, another tenant's, and the last key: refused with a message, nothing changes.
    let unknown = keys(&data_dir, &["revoke", &by_hand_id, "--tenant", "default"]).await;
    assert_ne!(unknown.code, 0);
    assert!(unknown.stderr.contains("no API key"), "{}", unknown.stderr);
    let other = keys(&data_dir, &["create", "--tenant", "acme"]).await;
    assert_eq!(other.code, 0, "{}", other.stderr);
    let remaining = listed_ids(&client).await;
    let wrong_tenant = keys(&data_dir, &["revoke", &remaining[0], "--tenant", "acme"]).await;
    assert_ne!(wrong_tenant.code, 0);
    let last = keys(&data_dir, &["revoke", &remaining[0], "--tenant", "default"]).await;
    assert_ne!(last.code, 0);
    assert!(last.stderr.contains("last API key"), "{}", last.stderr);
    assert_eq!(status_with(&client, NEW).await, 200);
    process.kill();
    let _ = std::fs::remove_dir_all(&data_dir);
}
