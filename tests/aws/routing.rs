//! Routing on the AWS path, against moto: the service on the DynamoDB store and the SQS queue, as the api
//! and deliver functions build it, and the SQS event source mapping played by the test. Alerts reach only
//! the endpoints their labels match or that they name, an unrouted alert reaches the default endpoint
//! and is kept as unrouted, 1,000 endpoints that match nothing add no delivery record, and a bad regex is
//! a 422 with nothing written. A real Alertmanager (Debian's `prometheus-alertmanager`) posts to the api
//! function's router over the same store and queue, configured as `tests/alertmanager` configures it for
//! the embedded default. Every delivery goes to a real receiver on 127.0.0.1.

use std::time::{Duration, Instant};

use alertwire_shared::api;
use alertwire_shared::ports::store::ApiKeyStore;
use alertwire_shared::ports::store::{AlertStore, DeliveryFilter, DeliveryStore};
use alertwire_shared::service::ServiceError;
use alertwire_shared::service::hash_api_key;
use alertwire_tests::alertmanager::{Alertmanager, RouteScenario, routes_config};
use alertwire_tests::server::scratch_dir;
use alertwire_tests::{Behaviour, Receiver};
use serde_json::{Value, json};

use crate::service_rig::{Rig, SETTLE};
/// Endpoints whose matchers no alert of the test holds.
const OTHER_ENDPOINTS: usize = 1000;

impl Rig {
    async fn endpoint(&self, name: &str, receiver: &Receiver, matchers: Value) -> String {
        self.create_endpoint(
            &json!({"name": name, "url": receiver.url("/hook"), "matchers": matchers}),
        )
        .await
    }

    /// Creates the endpoint `body` describes; returns its id.
    async fn create_endpoint(&self, body: &Value) -> String {
        let endpoint = self
            .service
            .create_endpoint(&self.tenant, body)
            .await
            .expect("the endpoint is created");
        endpoint.id.0
    }

    /// Serves the api function's router over the rig's service on 127.0.0.1, with `key` as the tenant's
    /// API key; returns its base URL.
    async fn serve_api(&self, key: &str) -> String {
        self.store
            .add_key(&self.tenant, &hash_api_key(key), "alertmanager")
            .await
            .expect("the key is added");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = api::router(self.service.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        base
    }

    /// Waits until the tenant has `count` deliveries (the alerts that make them arrive on their own).
    async fn wait_for_deliveries(&self, count: usize) {
        let deadline = Instant::now() + SETTLE;
        while self.deliveries().await.len() < count {
            assert!(
                Instant::now() < deadline,
                "only {:?} deliveries were made",
                self.deliveries().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every delivery of the tenant, as `(endpoint_id, status)`.
    async fn deliveries(&self) -> Vec<(String, String)> {
        let filter = DeliveryFilter {
            limit: 10_000,
            ..DeliveryFilter::default()
        };
        self.store
            .list_deliveries(&self.tenant, &filter)
            .await
            .expect("the deliveries")
            .into_iter()
            .map(|d| (d.endpoint_id.0, d.status.as_str().to_string()))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_and_sqs_alerts_reach_only_their_endpoints_and_the_rest_costs_nothing() {
    let rig = Rig::new("routing").await;
    let web = Receiver::start(Behaviour::status(200)).await;
    let db = Receiver::start(Behaviour::status(200)).await;
    let tickets = Receiver::start(Behaviour::status(200)).await;
    let others = Receiver::start(Behaviour::status(200)).await;
    let web_id = rig.endpoint("web", &web, json!(["team=\"web\""])).await;
    let db_id = rig.endpoint("db", &db, json!(["team=\"db\""])).await;
    let tickets_id = rig
        .endpoint("tickets", &tickets, json!(["team=\"none\""]))
        .await;
    for n in 0..OTHER_ENDPOINTS {
        let matchers = if n.is_multiple_of(20) {
            json!([format!("env=~\"staging-{n}|qa-{n}\"")])
        } else {
            json!([format!("team=\"t{n}\"")])
        };
        rig.endpoint(&format!("other-{n}"), &others, matchers).await;
    }
    rig.service
        .put_settings(&rig.tenant, &json!({"default_endpoint_id": tickets_id}))
        .await
        .expect("the default endpoint is set");

    // A bad regex is refused naming the matcher, and nothing is written
    let refused = rig
        .service
        .create_endpoint(
            &rig.tenant,
            &json!({"name": "bad", "url": db.url("/hook"), "matchers": ["team=\"db\"", "env=~\"(prod\""]}),
        )
        .await;
    match refused {
        Err(ServiceError::Input(e)) => assert_eq!(e.field, "matchers[1]"),
        other => panic!("a bad regex must be refused: {other:?}"),
    }
    let endpoints = rig.service.list_endpoints(&rig.tenant).await.unwrap();
    assert_eq!(endpoints.len(), OTHER_ENDPOINTS + 3);

    // WHEN a web alert, an alert naming the db endpoint and an alert no matcher takes are accepted
    let accept = |body: Value| {
        let (service, tenant) = (&rig.service, &rig.tenant);
        async move {
            service
                .accept_alert(tenant, &body, None)
                .await
                .expect("accepted")
        }
    };
    let to_web = accept(json!({"title": "5xx rate", "tags": ["team=web", "env=prod"]})).await;
    let named =
        accept(json!({"title": "lag", "tags": ["team=db"], "endpoints": ["db", "web"]})).await;
    let unrouted = accept(json!({"title": "orphan", "tags": ["team=mobile"]})).await;
    rig.deliver_everything().await;

    // THEN each reaches one endpoint: by its labels; of those it names, the one whose matcher holds; and
    // the default endpoint
    assert_eq!(to_web.deliveries.len(), 1);
    assert_eq!(to_web.deliveries[0].1.0, web_id);
    assert_eq!(named.deliveries.len(), 1, "{named:?}");
    assert_eq!(named.deliveries[0].1.0, db_id);
    assert!(!named.unrouted && !to_web.unrouted);
    assert!(unrouted.unrouted);
    assert_eq!(unrouted.deliveries.len(), 1);
    assert_eq!(unrouted.deliveries[0].1.0, tickets_id);
    assert_eq!(web.wait_for(1, SETTLE).await[0].json()["title"], "5xx rate");
    assert_eq!(db.wait_for(1, SETTLE).await[0].json()["title"], "lag");
    assert_eq!(
        tickets.wait_for(1, SETTLE).await[0].json()["title"],
        "orphan"
    );
    assert_eq!(
        web.received().len(),
        1,
        "the web endpoint was named but its matcher fails"
    );
    assert!(others.received().is_empty());

    // AND the 1,000 endpoints that match nothing added no delivery record: three alerts, three records
    let mut stored = rig.deliveries().await;
    stored.sort();
    let mut expected = vec![
        (web_id, "delivered".to_string()),
        (db_id, "delivered".to_string()),
        (tickets_id, "delivered".to_string()),
    ];
    expected.sort();
    assert_eq!(stored, expected);
    let kept = rig
        .store
        .get_alert(&rig.tenant, &unrouted.alert_id)
        .await
        .unwrap()
        .expect("the unrouted alert is kept");
    assert!(kept.routing.is_some_and(|r| r.unrouted && r.endpoints == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_reaches_only_the_endpoints_its_labels_and_routes_name_on_aws() {
    let rig = Rig::new("routing").await;
    let scenario = RouteScenario::start().await;
    let mut ids = std::collections::HashMap::new();
    for (name, body) in scenario.endpoints() {
        ids.insert(name, rig.create_endpoint(&body).await);
    }
    let key = "aw_alertmanager_on_aws_0123456789";
    let base = rig.serve_api(key).await;
    let config = routes_config(&format!("{base}/v1/alerts/alertmanager"), key);
    let alertmanager = Alertmanager::start(&scratch_dir("alertmanager-aws"), &config).await;

    // WHEN Prometheus fires a web alert and a database replica-lag alert at Alertmanager
    scenario.fire(&alertmanager).await;
    rig.wait_for_deliveries(2).await;
    rig.deliver_everything().await;

    // THEN the web alert reaches the web endpoint only (alertwire's matchers), and the replica-lag alert
    // only the endpoint its Alertmanager route names, not the db one
    scenario.assert_routed(SETTLE).await;
    let mut stored = rig.deliveries().await;
    stored.sort();
    let mut expected = vec![
        (ids["web"].clone(), "delivered".to_string()),
        (ids["tickets"].clone(), "delivered".to_string()),
    ];
    expected.sort();
    assert_eq!(stored, expected);
}
