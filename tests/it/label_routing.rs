//! Routing on labels and names: an endpoint's Alertmanager matchers, the endpoints an alert (or a source
//! receiver's URL) names, unrouted alerts counted and sent to the default endpoint, the route test, and
//! endpoints that do not match costing no delivery.
//! Every delivery goes to a real receiver on 127.0.0.1.

use std::time::Duration;

use alertwire_tests::{ApiClient, Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

use crate::alert_sources::post_as_tool;

const SETTLE: Duration = Duration::from_secs(30);
const ALERTMANAGER_FIRING: &str = include_str!("../fixtures/alertmanager/firing.json");
const UNROUTED: &str = "alertwire_alerts_unrouted_total";

async fn endpoint(api: &ApiClient, name: &str, receiver: &Receiver, matchers: Value) -> String {
    let view = api
        .create_endpoint(&json!({"name": name, "url": receiver.url("/hook"), "matchers": matchers}))
        .await;
    view["id"].as_str().unwrap().to_string()
}

/// Posts the Alertmanager fixture to `path` as Alertmanager does.
async fn post_alertmanager_fixture(api: &ApiClient, path: &str) -> (u16, Value) {
    post_as_tool(api, path, "Alertmanager/0.28.1", ALERTMANAGER_FIRING).await
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
async fn an_unrouted_alert_is_counted_and_reaches_the_default_endpoint_once_one_is_set() {
    let server = TestServer::start().await;
    let db = Receiver::start(Behaviour::status(200)).await;
    let tickets = Receiver::start(Behaviour::status(200)).await;
    endpoint(&server.api, "db", &db, json!(["team=\"db\""])).await;
    let tickets_id = endpoint(&server.api, "tickets", &tickets, json!(["team=\"none\""])).await;
    let web_alert = json!({"title": "cpu", "tags": ["team=web"]});

    // WHEN an alert no endpoint's matchers take is accepted with no default endpoint
    let (status, receipt) = server.api.post("/v1/alerts", &web_alert).await;
    assert_eq!(status, 202, "{receipt}");

    // THEN it is accepted, routed nowhere, kept and counted as unrouted
    assert_eq!(receipt["routed_endpoints"], 0, "{receipt}");
    assert_eq!(receipt["unrouted"], true, "{receipt}");
    let (status, alert) = server
        .api
        .get(&format!("/v1/alerts/{}", receipt["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200, "{alert}");
    assert_eq!(alert["title"], "cpu");
    assert_eq!(alert["routed_endpoints"], 0, "{alert}");
    assert_eq!(alert["unrouted"], true, "{alert}");
    let metrics = server.api.scrape_metrics().await;
    assert_eq!(metrics.value(UNROUTED, &[("message_type", "error")]), 1.0);
    assert!(deliveries(&server.api).await.is_empty());

    // WHEN the tracker becomes the default endpoint and the same alert comes again
    let (status, settings) = server
        .api
        .put("/v1/settings", &json!({"default_endpoint_id": tickets_id}))
        .await;
    assert_eq!(status, 200, "{settings}");
    let (status, receipt) = server.api.post("/v1/alerts", &web_alert).await;
    assert_eq!(status, 202, "{receipt}");

    // THEN the tracker, and only it, receives it, and it is counted as unrouted again
    assert_eq!(receipt["routed_endpoints"], 1, "{receipt}");
    assert_eq!(receipt["unrouted"], true, "{receipt}");
    let received = tickets.wait_for(1, SETTLE).await;
    assert_eq!(received[0].json()["title"], "cpu");
    let metrics = server.api.scrape_metrics().await;
    assert_eq!(metrics.value(UNROUTED, &[("message_type", "error")]), 2.0);
    let stored = deliveries(&server.api).await;
    assert_eq!(stored, [(tickets_id.clone(), "delivered".to_string())]);
    assert!(db.received().is_empty());

    // AND both are listed as unrouted, newest first, a page at a time
    let (status, page) = server.api.get("/v1/alerts/unrouted?limit=1").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["alerts"][0]["id"], receipt["id"], "{page}");
    assert_eq!(page["alerts"][0]["routed_endpoints"], 1, "{page}");
    let next = page["next_before"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, page) = server
        .api
        .get(&format!("/v1/alerts/unrouted?limit=1&before={next}"))
        .await;
    assert_eq!(page["alerts"][0]["routed_endpoints"], 0, "{page}");
    let (status, error) = server.api.get("/v1/alerts/unrouted?limit=0").await;
    assert_eq!(status, 400, "{error}");

    // AND the default endpoint cannot be deleted while the setting names it
    let (status, error) = server
        .api
        .delete(&format!("/v1/endpoints/{tickets_id}"))
        .await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default_endpoint_id")
    );
}

#[tokio::test]
async fn the_route_test_says_what_each_endpoint_would_do_and_writes_nothing() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let db_id = endpoint(&server.api, "db", &receiver, json!(["team=\"db\""])).await;
    let web_id = endpoint(
        &server.api,
        "web",
        &receiver,
        json!(["team=\"web\"", "env=~\"prod|staging\""]),
    )
    .await;
    let (status, pager) = server
        .api
        .post(
            "/v1/endpoints",
            &json!({"name": "pager", "url": receiver.url("/hook"), "min_severity": "critical"}),
        )
        .await;
    assert_eq!(status, 201, "{pager}");

    let (status, test) = server
        .api
        .post(
            "/v1/routing/test",
            &json!({"title": "lag", "severity": "high", "tags": ["team=db", "env=prod"]}),
        )
        .await;
    assert_eq!(status, 200, "{test}");
    assert_eq!(test["routed_endpoints"], 2, "{test}");
    assert_eq!(test["unrouted"], false, "{test}");
    let route = |id: &str| {
        test["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["endpoint_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(route(&db_id)["matched"], true);
    assert_eq!(route(&db_id)["delivery"], "pending");
    assert_eq!(route(&web_id)["matched"], false);
    assert_eq!(route(&web_id)["not_matched_because"], "matcher");
    assert_eq!(route(&web_id)["failed_matcher"], "team=\"web\"");
    assert_eq!(route(&web_id)["delivery"], "none");
    let pager = route(pager["id"].as_str().unwrap());
    assert_eq!(pager["delivery"], "filtered", "{pager}");
    assert!(
        pager["filter"].as_str().unwrap().contains("severity"),
        "{pager}"
    );

    // A bad body is the 422 of POST /v1/alerts, naming the field
    let (status, error) = server
        .api
        .post(
            "/v1/routing/test",
            &json!({"title": "lag", "endpoints": ["nope"]}),
        )
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["field"], "endpoints[0]", "{error}");

    // Nothing was stored or sent
    assert!(deliveries(&server.api).await.is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty());
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
