//! What each kind of endpoint answer does to a delivery: acknowledged, retried, dead-lettered, replayed.

use std::time::Duration;

use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(20);

async fn endpoint_to(server: &TestServer, receiver: &Receiver, path: &str) -> String {
    let view = server
        .api
        .create_endpoint(&json!({"name": "receiver", "url": receiver.url(path)}))
        .await;
    view["id"].as_str().unwrap().to_string()
}

async fn one_delivery(server: &TestServer) -> String {
    let ids = server
        .api
        .send_alert(&json!({"title": "disk full", "severity": "high"}))
        .await;
    assert_eq!(ids.len(), 1);
    ids.into_iter().next().unwrap()
}

fn attempts(delivery: &Value) -> &Vec<Value> {
    delivery["attempts"].as_array().expect("attempts")
}

#[tokio::test]
async fn a_200_is_delivered_after_one_attempt_with_the_body_stored() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::Status(200, vec![], "thanks!".into())).await;
    endpoint_to(&server, &receiver, "/ok").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(attempts(&delivery).len(), 1);
    let attempt = &attempts(&delivery)[0];
    assert_eq!(attempt["status_code"], 200);
    assert_eq!(attempt["response_body"], "thanks!");
    assert_eq!(attempt["number"], 1);
    assert!(attempt["error_class"].is_null());
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn three_500s_then_a_200_is_delivered_after_four_attempts() {
    let server = TestServer::start().await;
    let fail = Behaviour::status(500);
    let receiver = Receiver::scripted(
        vec![fail.clone(), fail.clone(), fail],
        Behaviour::status(200),
    )
    .await;
    endpoint_to(&server, &receiver, "/flaky").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    let codes: Vec<&Value> = attempts(&delivery)
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(500), &json!(500), &json!(200)]);
    assert_eq!(attempts(&delivery)[0]["error_class"], "non2xx");
    let numbers: Vec<u64> = attempts(&delivery)
        .iter()
        .map(|a| a["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4]);
}

#[tokio::test]
async fn always_500_is_dead_after_exactly_ten_attempts_and_replay_delivers_it_with_the_same_webhook_id()
 {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(500)).await;
    let endpoint = endpoint_to(&server, &receiver, "/down").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    assert_eq!(attempts(&delivery).len(), 10);
    assert_eq!(receiver.received().len(), 10);
    assert!(
        delivery["status_reason"]
            .as_str()
            .unwrap()
            .contains("10 attempts")
    );

    let (status, dead) = server.api.get("/v1/dead-letters").await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = dead["dead_letters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [id.as_str()]);

    receiver.set(Behaviour::status(200));
    let (status, replay) = server
        .api
        .post("/v1/dead-letters/replay", &json!({"endpoint_id": endpoint}))
        .await;
    assert_eq!((status, &replay), (200, &json!({"replayed": 1})));
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(delivery["run"], 1);
    let last = attempts(&delivery).last().unwrap();
    assert_eq!(
        (last["resend"].as_bool(), last["number"].as_u64()),
        (Some(true), Some(1))
    );
    let received = receiver.received();
    assert_eq!(received.len(), 11);
    let first_id = received[0].header("webhook-id").unwrap();
    assert_eq!(first_id, id);
    assert!(
        received
            .iter()
            .all(|r| r.header("webhook-id") == Some(first_id))
    );

    let (_, dead) = server.api.get("/v1/dead-letters").await;
    assert_eq!(dead["dead_letters"], json!([]));
}

#[tokio::test]
async fn replay_takes_ids_and_counts_only_dead_letters() {
    let server = TestServer::start().await;
    // Always 500: ten fast attempts each. (A 410 would disable the endpoint after the first.)
    let receiver = Receiver::start(Behaviour::status(500)).await;
    endpoint_to(&server, &receiver, "/failing").await;
    let a = one_delivery(&server).await;
    let b = one_delivery(&server).await;
    server.api.settled(&a, SETTLE).await;
    server.api.settled(&b, SETTLE).await;
    receiver.set(Behaviour::status(200));
    let (status, replay) = server
        .api
        .post(
            "/v1/dead-letters/replay",
            &json!({"ids": [a, "msg_unknown"]}),
        )
        .await;
    assert_eq!((status, replay), (200, json!({"replayed": 1})));
    assert_eq!(server.api.settled(&a, SETTLE).await["status"], "delivered");
    assert_eq!(server.api.delivery(&b).await["status"], "dead");
    let (_, replay) = server.api.post("/v1/dead-letters/replay", &json!({})).await;
    assert_eq!(replay, json!({"replayed": 1}));
    assert_eq!(server.api.settled(&b, SETTLE).await["status"], "delivered");
}

#[tokio::test]
async fn a_410_is_dead_at_once() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(410)).await;
    endpoint_to(&server, &receiver, "/gone").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "dead");
    assert_eq!(attempts(&delivery).len(), 1);
    assert!(delivery["status_reason"].as_str().unwrap().contains("410"));
}

#[tokio::test]
async fn a_429_with_retry_after_waits_that_long() {
    let server = TestServer::start().await;
    let limited = Behaviour::Status(
        429,
        vec![("retry-after".into(), "1".into())],
        "slow down".into(),
    );
    let receiver = Receiver::scripted(vec![limited], Behaviour::status(200)).await;
    endpoint_to(&server, &receiver, "/limited").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let gap = received[1].at - received[0].at;
    // The schedule alone would retry after 20 ms.
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
    assert_eq!(attempts(&delivery)[0]["status_code"], 429);
}

#[tokio::test]
async fn a_slow_receiver_is_a_timeout_attempt() {
    let server = TestServer::with(|c| c.http_timeout = Duration::from_millis(300)).await;
    let receiver = Receiver::scripted(
        vec![Behaviour::Slow(Duration::from_secs(2))],
        Behaviour::status(200),
    )
    .await;
    endpoint_to(&server, &receiver, "/slow").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    let first = &attempts(&delivery)[0];
    assert_eq!(first["error_class"], "timeout");
    assert!(first["status_code"].is_null());
    assert!(first["duration_ms"].as_u64().unwrap() >= 250);
}

#[tokio::test]
async fn a_refused_port_is_a_connect_attempt() {
    let server = TestServer::start().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    server
        .api
        .create_endpoint(&json!({"name": "nobody home", "url": format!("http://{closed}/")}))
        .await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "dead");
    assert!(
        attempts(&delivery)
            .iter()
            .all(|a| a["error_class"] == "connect"),
        "{delivery}"
    );
}

#[tokio::test]
async fn a_reset_connection_is_a_failed_attempt() {
    let server = TestServer::start().await;
    let receiver = Receiver::scripted(vec![Behaviour::Reset], Behaviour::status(200)).await;
    endpoint_to(&server, &receiver, "/reset").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(attempts(&delivery)[0]["error_class"], "connect");
    assert_eq!(attempts(&delivery).len(), 2);
}

#[tokio::test]
async fn a_302_is_a_redirect_attempt_that_is_not_followed() {
    let server = TestServer::start().await;
    let target = Receiver::start(Behaviour::status(200)).await;
    let redirect = Behaviour::Status(
        302,
        vec![("location".into(), target.url("/elsewhere"))],
        String::new(),
    );
    let receiver = Receiver::scripted(vec![redirect], Behaviour::status(200)).await;
    endpoint_to(&server, &receiver, "/moved").await;
    let id = one_delivery(&server).await;
    let delivery = server.api.settled(&id, SETTLE).await;
    let first = &attempts(&delivery)[0];
    assert_eq!(first["error_class"], "redirect");
    assert_eq!(first["status_code"], 302);
    assert!(target.received().is_empty(), "the redirect was followed");
}

#[tokio::test]
async fn a_delivered_delivery_can_be_resent_by_hand() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    endpoint_to(&server, &receiver, "/ok").await;
    let id = one_delivery(&server).await;
    server.api.settled(&id, SETTLE).await;
    let (status, resent) = server
        .api
        .post(&format!("/v1/deliveries/{id}/resend"), &json!(null))
        .await;
    assert_eq!(status, 202, "{resent}");
    assert_eq!(resent["run"], 1);
    let delivery = server.api.settled(&id, SETTLE).await;
    assert_eq!(delivery["status"], "delivered");
    assert_eq!(attempts(&delivery).len(), 2);
    assert_eq!(attempts(&delivery)[1]["resend"], true);
    let received = receiver.wait_for(2, SETTLE).await;
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id")
    );
    let (status, _) = server
        .api
        .post("/v1/deliveries/msg_nope/resend", &json!(null))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deliveries_list_filters_by_status_endpoint_and_alert() {
    let server = TestServer::start().await;
    let good = Receiver::start(Behaviour::status(200)).await;
    let bad = Receiver::start(Behaviour::status(410)).await;
    let good_id = endpoint_to(&server, &good, "/").await;
    let bad_id = endpoint_to(&server, &bad, "/").await;
    let (_, receipt) = server.api.post("/v1/alerts", &json!({"title": "t"})).await;
    for d in receipt["deliveries"].as_array().unwrap() {
        server.api.settled(d["id"].as_str().unwrap(), SETTLE).await;
    }
    let alert = receipt["id"].as_str().unwrap();
    let ids = |body: Value| -> Vec<String> {
        body["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["endpoint_id"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, delivered) = server.api.get("/v1/deliveries?status=delivered").await;
    assert_eq!(ids(delivered), [good_id.as_str()]);
    let (_, by_endpoint) = server
        .api
        .get(&format!("/v1/deliveries?endpoint_id={bad_id}"))
        .await;
    assert_eq!(ids(by_endpoint), [bad_id.as_str()]);
    let (_, by_alert) = server
        .api
        .get(&format!("/v1/deliveries?alert_id={alert}"))
        .await;
    assert_eq!(ids(by_alert).len(), 2);
    let (status, error) = server.api.get("/v1/deliveries?status=lost").await;
    assert_eq!(
        (status, error["error"]["field"].as_str()),
        (400, Some("status"))
    );
}

#[tokio::test]
async fn a_repeated_post_with_the_same_idempotency_key_gets_the_first_answer() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    endpoint_to(&server, &receiver, "/").await;
    let alert = json!({"title": "once"});
    let post = |body: Value| {
        let api = server.api.clone();
        async move {
            api.raw(
                "POST",
                "/v1/alerts",
                &[
                    ("authorization", &format!("Bearer {}", api.key)),
                    ("content-type", "application/json"),
                    ("idempotency-key", "k-1"),
                ],
                body.to_string().into_bytes(),
            )
            .await
        }
    };
    let (s1, first) = post(alert.clone()).await;
    let (s2, second) = post(alert).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first, second);
    let (s3, conflict) = post(json!({"title": "different"})).await;
    assert_eq!(s3, 409, "{conflict}");
    server
        .api
        .settled(first["deliveries"][0]["id"].as_str().unwrap(), SETTLE)
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1);
}
