//! Routing on labels and names: an endpoint's Alertmanager matchers, the endpoints an alert (or a source
//! receiver's URL) names, unrouted alerts counted, and endpoints that do not match costing no delivery.
//! Every delivery goes to a real receiver on 127.0.0.1.

use std::time::Duration;

use alertwire_tests::{ApiClient, Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(30);
const ALERTMANAGER_FIRING: &str = include_str!("../fixtures/alertmanager/firing.json");
const UNROUTED: &str = "alertwire_alerts_unrouted_total";

async fn endpoint(api: &ApiClient, name: &str, receiver: &Receiver, matchers: Value) -> String {
    let view = api
        .create_endpoint(&json!({"name": name, "url": receiver.url("/hook"), "matchers": matchers}))
        .await;
    view["id"].as_str().unwrap().to_string()
}

/// Posts the Alertmanager fixture to `path` as Alertmanager does: JSON, the key as bearer credentials.
async fn post_alertmanager_fixture(api: &ApiClient, path: &str) -> (u16, Value) {
    let authorization = format!("Bearer {}", api.key);
    api.raw(
        "POST",
        path,
        &[
            ("Authorization", authorization.as_str()),
            ("Content-Type", "application/json"),
        ],
        ALERTMANAGER_FIRING.as_bytes().to_vec(),
    )
    .await
}

/// Every delivery the tenant has, as `(endpoint_id, status)`.
async fn deliveries(api: &ApiClient) -> Vec<(String, String)> {
    let (status, page) = api.get("/v1/deliveries?limit=500").await;
    assert_eq!(status, 200, "{page}");
    page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["endpoint_id"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_alertmanager_notification_reaches_only_the_endpoints_its_labels_match() {
    let server = TestServer::start().await;
    let storage = Receiver::start(Behaviour::status(200)).await;
    let postgres = Receiver::start(Behaviour::status(200)).await;
    let web = Receiver::start(Behaviour::status(200)).await;
    endpoint(
        &server.api,
        "storage",
        &storage,
        json!(["team=\"storage\""]),
    )
    .await;
    endpoint(
        &server.api,
        "postgres",
        &postgres,
        json!(["team=\"storage\"", "mountpoint=~\"/var/lib/.*\""]),
    )
    .await;
    let web_id = endpoint(&server.api, "web", &web, json!(["team=\"web\""])).await;

    // WHEN Alertmanager posts its notification of two `team=storage` alerts, one for a postgres volume
    let (status, receipt) = post_alertmanager_fixture(&server.api, "/v1/alerts/alertmanager").await;
    assert_eq!(status, 202, "{receipt}");

    // THEN the storage endpoint gets both, the postgres one the postgres alert, the web one nothing
    let routed: Vec<u64> = receipt["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["routed_endpoints"].as_u64().unwrap())
        .collect();
    assert_eq!(routed, [2, 1], "{receipt}");
    storage.wait_for(2, SETTLE).await;
    let to_postgres = postgres.wait_for(1, SETTLE).await;
    assert_eq!(
        to_postgres[0].json()["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t.as_str() == Some("mountpoint=/var/lib/postgresql"))
            .count(),
        1,
        "the postgres alert: {}",
        to_postgres[0].json()
    );
    let stored = deliveries(&server.api).await;
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(stored.iter().all(|(endpoint, _)| *endpoint != web_id));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(web.received().is_empty());
    assert_eq!(postgres.received().len(), 1);
}

#[tokio::test]
async fn an_alert_naming_one_endpoint_reaches_only_that_one() {
    let server = TestServer::start().await;
    let pager = Receiver::start(Behaviour::status(200)).await;
    let tracker = Receiver::start(Behaviour::status(200)).await;
    endpoint(&server.api, "pager", &pager, json!([])).await;
    let tracker_id = endpoint(&server.api, "tracker", &tracker, json!([])).await;

    // WHEN an alert names the tracker by name, and a source notification names it by id in its URL
    let ids = server
        .api
        .send_alert(&json!({"title": "disk", "endpoints": ["tracker"]}))
        .await;
    assert_eq!(ids.len(), 1);
    let (status, receipt) = post_alertmanager_fixture(
        &server.api,
        &format!("/v1/alerts/alertmanager?endpoints={tracker_id}"),
    )
    .await;
    assert_eq!(status, 202, "{receipt}");

    // THEN the tracker gets all three alerts and the pager none
    tracker.wait_for(3, SETTLE).await;
    let stored = deliveries(&server.api).await;
    assert_eq!(stored.len(), 3, "{stored:?}");
    assert!(stored.iter().all(|(endpoint, _)| *endpoint == tracker_id));
    assert!(pager.received().is_empty());
}

#[tokio::test]
async fn an_unknown_endpoint_or_a_bad_matcher_is_a_422_with_nothing_written() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    endpoint(&server.api, "pager", &receiver, json!([])).await;

    // An alert naming an endpoint the tenant does not have
    let (status, error) = server
        .api
        .post(
            "/v1/alerts",
            &json!({"title": "disk", "endpoints": ["pager", "pagr"]}),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["field"], "endpoints[1]", "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("pagr"));
    // The same through a receiver's URL
    let (status, error) =
        post_alertmanager_fixture(&server.api, "/v1/alerts/alertmanager?endpoints=pager,nope")
            .await;
    assert_eq!(status, 422, "{error}");
    assert!(error["error"]["message"].as_str().unwrap().contains("nope"));
    assert!(deliveries(&server.api).await.is_empty());

    // An endpoint whose second matcher has a regex that does not compile
    let (status, error) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "db", "url": receiver.url("/hook"),
                    "matchers": ["team=\"db\"", "env=~\"(prod\""]}),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["field"], "matchers[1]", "{error}");
    let (_, list) = server.api.get("/v1/endpoints").await;
    assert_eq!(list["endpoints"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test]
async fn an_unrouted_alert_is_accepted_and_counted() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    endpoint(&server.api, "db", &receiver, json!(["team=\"db\""])).await;

    let (status, receipt) = server
        .api
        .post("/v1/alerts", &json!({"title": "cpu", "tags": ["team=web"]}))
        .await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["routed_endpoints"], 0, "{receipt}");
    let metrics = server.api.scrape_metrics().await;
    assert_eq!(metrics.value(UNROUTED, &[("message_type", "error")]), 1.0);
    assert!(deliveries(&server.api).await.is_empty());
}

#[tokio::test]
async fn a_thousand_endpoints_that_do_not_match_add_no_delivery() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    for team in 0..1000 {
        endpoint(
            &server.api,
            &format!("team-{team}"),
            &receiver,
            json!([format!("team=\"team-{team}\"")]),
        )
        .await;
    }
    let db = endpoint(&server.api, "db", &receiver, json!(["team=\"db\""])).await;

    let ids = server
        .api
        .send_alert(&json!({"title": "replica lag", "tags": ["team=db"]}))
        .await;
    assert_eq!(ids.len(), 1);
    assert_eq!(
        server.api.settled(&ids[0], SETTLE).await["status"],
        "delivered"
    );
    let stored = deliveries(&server.api).await;
    assert_eq!(stored, [(db, "delivered".to_string())]);
    assert_eq!(receiver.received().len(), 1);
}
