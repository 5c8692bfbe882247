//! Secrets at rest on the embedded default: an endpoint's signing secrets, verification token, secret
//! header values and OAuth2 client secret are sealed in the SQLite file under the data directory's key file, deliveries are still
//! signed with them, a plain document from before sealing still reads, and a lost key file stops the start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alertwire_shared::embedded::{Database, OpenError};
use alertwire_shared::endpoint::Endpoint;
use alertwire_shared::ids::{EndpointId, TenantId};
use alertwire_shared::ports::store::EndpointStore;
use alertwire_tests::server::scratch_dir;
use alertwire_tests::standard_webhooks::verifies;
use alertwire_tests::token_server::{TokenPolicy, TokenServer};
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);
const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TOKEN: &str = "verify-token-4c1d9e";
const HEADER_VALUE: &str = "Bearer header-secret-7f3a2b";

async fn serving_from(dir: &Path) -> TestServer {
    let dir = dir.to_path_buf();
    TestServer::with(move |config| config.data_dir = Some(dir)).await
}

/// An endpoint with a signing secret, a retiring one, a verification token and a secret header; returns
/// its id and the current secret.
async fn endpoint_with_secrets(server: &TestServer, receiver: &Receiver) -> (String, String) {
    let view = server
        .api
        .create_endpoint(&json!({
            "name": "sealed",
            "url": receiver.url("/"),
            "secret": OLD,
            "verification_token": TOKEN,
            "headers": {"Authorization": HEADER_VALUE},
        }))
        .await;
    let id = view["id"].as_str().unwrap().to_string();
    let (status, rotated) = server
        .api
        .post(&format!("/v1/endpoints/{id}/rotate-secret"), &json!({}))
        .await;
    assert_eq!(status, 200, "{rotated}");
    (id, rotated["secret"].as_str().unwrap().to_string())
}

/// A server on a fresh data directory named after `case`, with an [`endpoint_with_secrets`] delivering
/// to a receiver: the directory, receiver, server, the endpoint's id and its current secret.
async fn serving_secrets(case: &str) -> (PathBuf, Receiver, TestServer, String, String) {
    let dir = scratch_dir(case);
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let server = serving_from(&dir).await;
    let (id, secret) = endpoint_with_secrets(&server, &receiver).await;
    (dir, receiver, server, id, secret)
}

/// The endpoint `id` of tenant `alpha` as the server's store reads it (its values opened).
async fn stored_endpoint(server: &TestServer, id: &str) -> Endpoint {
    let (tenant, id) = (TenantId::from("alpha"), EndpointId::from(id));
    let found = server.server.database.get_endpoint(&tenant, &id).await;
    found.unwrap().expect("the endpoint")
}

/// Sends an alert and checks the request the receiver got: signed by `secrets`, the secret header sent.
async fn delivered_signed(server: &TestServer, receiver: &Receiver, secrets: &[&str]) {
    let seen = receiver.received().len();
    let ids = server.api.send_alert(&json!({"title": "sealed"})).await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    let request = &receiver.received()[seen];
    for secret in secrets {
        assert!(verifies(secret, request), "signed with {secret}");
    }
    assert_eq!(request.header("authorization"), Some(HEADER_VALUE));
}

/// Every byte of the data directory's database files (the database, its WAL and shared memory).
fn database_bytes(dir: &Path) -> Vec<u8> {
    ["alertwire.db", "alertwire.db-wal", "alertwire.db-shm"]
        .iter()
        .filter_map(|name| std::fs::read(dir.join(name)).ok())
        .flatten()
        .collect()
}

fn stored_docs(dir: &Path) -> Vec<String> {
    let connection = rusqlite::Connection::open(dir.join("alertwire.db")).unwrap();
    let mut statement = connection.prepare("SELECT doc FROM endpoints").unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn secrets_are_sealed_in_the_database_file_and_still_sign() {
    let (dir, receiver, server, _, new_secret) = serving_secrets("secrets-sealed").await;
    delivered_signed(&server, &receiver, &[&new_secret, OLD]).await;
    server.server.stop().await;

    // The secret parts only: `whsec_` is in every secret, sealed or not.
    let plain = [&OLD[6..], &new_secret[6..], TOKEN, HEADER_VALUE];
    let docs = stored_docs(&dir);
    assert_eq!(docs.len(), 1);
    let bytes = database_bytes(&dir);
    for value in plain {
        assert!(
            !docs[0].contains(value),
            "{value} stored plain: {}",
            docs[0]
        );
        assert!(!contains(&bytes, value), "{value} in the database files");
    }
    assert!(docs[0].contains("sealed:v1:"), "{}", docs[0]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(dir.join("secrets.key")).expect("the key file");
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }

    // A restart reads the key file again: the same secrets sign.
    let server = serving_from(&dir).await;
    delivered_signed(&server, &receiver, &[&new_secret, OLD]).await;
    server.server.stop().await;
}

#[tokio::test]
async fn an_oauth2_client_secret_is_sealed_and_still_gets_tokens_after_a_restart() {
    let client_secret = "oauth-client-secret-61be0f";
    let tokens = TokenServer::start(TokenPolicy {
        client_id: "sealed-client".into(),
        client_secret: client_secret.into(),
        lifetime: Duration::from_secs(3600),
        token_prefix: "sealed-token".into(),
    })
    .await;
    let dir = scratch_dir("secrets-oauth2");
    let deliver = |server: &TestServer| {
        let api = server.api.clone();
        async move {
            let ids = api.send_alert(&json!({"title": "sealed oauth2"})).await;
            let delivery = api.settled(&ids[0], SETTLE).await;
            assert_eq!(delivery["status"], "delivered", "{delivery}");
        }
    };
    let server = serving_from(&dir).await;
    server
        .api
        .create_endpoint(
            &json!({"name": "oauth2", "url": tokens.hook_url(), "auth": {
            "type": "oauth2_client_credentials", "token_url": tokens.token_url(),
            "client_id": "sealed-client", "client_secret": client_secret}}),
        )
        .await;
    deliver(&server).await;
    server.server.stop().await;
    let docs = stored_docs(&dir);
    assert!(docs[0].contains("sealed-client"), "the id is not secret");
    assert!(
        !docs[0].contains(client_secret),
        "stored plain: {}",
        docs[0]
    );
    assert!(!contains(&database_bytes(&dir), client_secret));

    // Tokens are never stored: the restarted process fetches its own, with the opened secret.
    let server = serving_from(&dir).await;
    deliver(&server).await;
    server.server.stop().await;
    assert_eq!(tokens.issued(), 2);
    assert!(!contains(&database_bytes(&dir), "sealed-token-"));
}

#[tokio::test]
async fn a_plain_document_from_before_sealing_still_reads_and_is_sealed_at_its_next_write() {
    let (dir, receiver, server, id, new_secret) = serving_secrets("secrets-plain-before").await;
    let endpoint = stored_endpoint(&server, &id).await;
    server.server.stop().await;

    // As an alertwire from before sealing wrote it: every value plain.
    let plain_doc = serde_json::to_string(&endpoint).unwrap();
    assert!(plain_doc.contains(TOKEN));
    let connection = rusqlite::Connection::open(dir.join("alertwire.db")).unwrap();
    connection
        .execute("UPDATE endpoints SET doc = ?1", [&plain_doc])
        .unwrap();
    drop(connection);

    let server = serving_from(&dir).await;
    assert_eq!(stored_endpoint(&server, &id).await, endpoint);
    delivered_signed(&server, &receiver, &[&new_secret, OLD]).await;

    // A replace that keeps every secret: the endpoint as the API shows it (masked), renamed.
    let (_, mut replacement) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    replacement["name"] = json!("renamed");
    let (status, renamed) = server
        .api
        .call("PUT", &format!("/v1/endpoints/{id}"), Some(&replacement))
        .await;
    assert_eq!(status, 200, "{renamed}");
    server.server.stop().await;
    let docs = stored_docs(&dir);
    for value in [TOKEN, HEADER_VALUE, &new_secret[6..]] {
        assert!(
            !docs[0].contains(value),
            "sealed at its next write: {}",
            docs[0]
        );
    }
    let doc: Value = serde_json::from_str(&docs[0]).unwrap();
    assert_eq!(doc["name"], "renamed");
}

#[tokio::test]
async fn a_lost_key_file_stops_the_start_instead_of_making_a_new_key() {
    let (dir, _receiver, server, _, _) = serving_secrets("secrets-key-lost").await;
    server.server.stop().await;

    std::fs::remove_file(dir.join("secrets.key")).unwrap();
    let err = Database::open(&dir, true).err().expect("refused");
    assert!(matches!(err, OpenError::KeyFile(_)), "{err}");
    assert!(err.to_string().contains("secrets.key"), "{err}");
    assert!(!dir.join("secrets.key").exists(), "no new key made");
}
