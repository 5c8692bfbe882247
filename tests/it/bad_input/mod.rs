//! Bad input gets a clear 4xx naming the field, never a 5xx, and leaves the store exactly as it was: every
//! table of the embedded database is read before and after each corpus and compared row by row.

mod access;
mod alerts;
mod endpoints;
mod render_cap;

use alertwire_tests::{ApiClient, TestServer};
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

/// Every row of every table of the embedded store and queue, across all tenants.
#[derive(Debug, PartialEq)]
pub(super) struct StoreSnapshot(Vec<(&'static str, Vec<Vec<SqlValue>>)>);

const TABLES: [&str; 8] = [
    "api_keys",
    "endpoints",
    "tenant_settings",
    "operations_notices",
    "alerts",
    "deliveries",
    "attempts",
    "queue",
];

impl StoreSnapshot {
    pub(super) async fn take(server: &TestServer) -> StoreSnapshot {
        let tables = server
            .server
            .database
            .run(|connection| {
                let mut tables = Vec::new();
                for table in TABLES {
                    let mut statement = connection.prepare(&format!("SELECT * FROM {table}"))?;
                    let columns = statement.column_count();
                    let mut rows: Vec<Vec<SqlValue>> = statement
                        .query_map([], |row| {
                            (0..columns).map(|i| row.get::<_, SqlValue>(i)).collect()
                        })?
                        .collect::<Result<_, _>>()?;
                    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
                    tables.push((table, rows));
                }
                Ok(tables)
            })
            .await
            .expect("the store reads");
        StoreSnapshot(tables)
    }

    /// The store once two snapshots 50 ms apart agree: what background work left once it stopped.
    pub(super) async fn settled(server: &TestServer) -> StoreSnapshot {
        let mut last = Self::take(server).await;
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let now = Self::take(server).await;
            if now == last {
                return now;
            }
            last = now;
        }
    }
}

/// One bad request and the answer it must get.
#[derive(Clone, Copy)]
pub(super) struct Expected<'a> {
    pub status: u16,
    pub code: &'a str,
    /// The field the error must name; `None` when the error is about the body as a whole (`field` is null).
    pub field: Option<&'a str>,
}

/// Asserts a 4xx `{"error": {code, message, field}}` with the expected status, code and field, and a message.
pub(super) fn assert_error(answer: &(u16, Value), expected: &Expected<'_>, case: &str) {
    let (status, body) = answer;
    assert!(
        (400..500).contains(status),
        "{case}: answered {status}: {body}"
    );
    assert_eq!(*status, expected.status, "{case}: {body}");
    let error = &body["error"];
    assert_eq!(error["code"], expected.code, "{case}: {body}");
    match expected.field {
        Some(field) => assert_eq!(error["field"], field, "{case}: {body}"),
        None => assert!(error["field"].is_null(), "{case}: {body}"),
    }
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{case}: no message: {body}");
}

/// POSTs raw bytes as JSON with the client's key.
pub(super) async fn post_raw(api: &ApiClient, path: &str, body: Vec<u8>) -> (u16, Value) {
    let auth = format!("Bearer {}", api.key);
    api.raw(
        "POST",
        path,
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/json"),
        ],
        body,
    )
    .await
}

#[tokio::test]
async fn template_errors_give_line_and_column() {
    let server = TestServer::start().await;
    let body = "{\n  \"title\": \"{{alert_title}}\",\n  \"x\": \"{{#alert_tags}}\"\n}";
    let (status, error) = server
        .api
        .post(
            "/v1/endpoints",
            &serde_json::json!({"name": "x", "url": "http://127.0.0.1:9/", "body": body}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["code"], "invalid_template");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("line 3"), "{message}");
    assert!(message.contains("column"), "{message}");
}
