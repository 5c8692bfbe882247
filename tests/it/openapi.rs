//! The OpenAPI document: served at `GET /openapi.json` without an API key, and the same document as the
//! repository's `openapi.json`.

use alertwire_tests::TestServer;
use serde_json::Value;

const COMMITTED: &str = include_str!("../../openapi.json");

#[tokio::test]
async fn the_served_document_needs_no_key_and_is_the_committed_one() {
    let server = TestServer::start().await;
    let (status, served) = server
        .api
        .raw("GET", "/openapi.json", &[], Vec::new())
        .await;
    assert_eq!(status, 200, "{served}");
    let committed: Value = serde_json::from_str(COMMITTED).expect("openapi.json is JSON");
    assert_eq!(
        served, committed,
        "GET /openapi.json differs from the repository's openapi.json"
    );
    assert_eq!(served["openapi"], "3.1.0");
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let server = TestServer::start().await;
    let committed: Value = serde_json::from_str(COMMITTED).expect("openapi.json is JSON");
    let paths = committed["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path.replace("{id}", "no_such_id");
        for method in item.as_object().expect("a path item").keys() {
            let (status, body) = server
                .api
                .call(&method.to_ascii_uppercase(), &concrete, None)
                .await;
            assert!(
                status != 405 && body["error"]["message"] != "route not found",
                "{method} {path} is documented but not routed: {status} {body}"
            );
            operations += 1;
        }
    }
    assert!(
        operations >= paths.len(),
        "every documented path has an operation"
    );
}
