//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, on 127.0.0.1) sending its webhook
//! notifications to alertwire on the embedded store: alertwire's matchers route a `team=web` alert to the
//! web endpoint only, and an Alertmanager route that sends `ReplicaLag` to a receiver whose URL names one
//! endpoint (`?endpoints=tickets`) reaches only that one. Every delivery goes to a real receiver on
//! 127.0.0.1. The AWS path runs the same configuration against moto (`tests/aws/routing.rs`).

use std::time::Duration;

use alertwire_tests::TestServer;
use alertwire_tests::alertmanager::{Alertmanager, RouteScenario, routes_config};
use alertwire_tests::server::scratch_dir;

const SETTLE: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_reaches_only_the_endpoints_its_labels_and_routes_name() {
    let server = TestServer::start().await;
    let scenario = RouteScenario::start().await;
    for (_, body) in scenario.endpoints() {
        server.api.create_endpoint(&body).await;
    }
    // One alertwire URL per Alertmanager receiver: the root route's lets alertwire's matchers route; the
    // replica-lag route's names the tickets endpoint, so the db endpoint, whose matcher also holds, is
    // left out.
    let config = routes_config(
        &format!("{}/v1/alerts/alertmanager", server.api.base),
        &server.api.key,
    );
    let alertmanager = Alertmanager::start(&scratch_dir("alertmanager"), &config).await;

    // WHEN Prometheus fires a web alert and a database replica-lag alert at Alertmanager
    scenario.fire(&alertmanager).await;

    // THEN the web alert reaches the web endpoint only (alertwire's matchers), and the replica-lag alert
    // only the endpoint its Alertmanager route names, not the db one
    scenario.assert_routed(SETTLE).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(scenario.web.received().len(), 1);
    assert_eq!(scenario.tickets.received().len(), 1);
    assert!(
        scenario.db.received().is_empty(),
        "the replica-lag receiver names only tickets"
    );
    let (_, page) = server.api.get("/v1/deliveries?limit=100").await;
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 2, "{page}");
}
