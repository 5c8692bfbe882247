//! The Lambda binaries end to end: `cargo lambda watch` runs api, deliver and replay against a moto that
//! checks IAM, each function with credentials allowed only what its role in template.yaml allows
//! (tests/run.sh starts them, and tests/lambda_iam.py derives the credentials from the template); this
//! test plays API Gateway and the SQS event source mapping as an admin, and real receivers on 127.0.0.1
//! take the webhooks. A call a function's role does not allow fails the test, with the function's error.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use alertwire_shared::aws::dynamodb::DynamoStore;
use alertwire_shared::aws::load_sdk_config;
use alertwire_shared::aws::sqs::queue::SqsQueue;
use alertwire_tests::standard_webhooks::verifies;
use alertwire_tests::{Behaviour, Receiver, http_client};
use aws_sdk_sqs::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run tests/run.sh, which starts moto and cargo lambda watch")
    })
}

/// The functions, each under its own `cargo lambda watch` with its role's credentials.
const FUNCTIONS: [&str; 3] = ["api", "deliver", "replay"];

/// The `KEY=VALUE` lines of an env file tests/lambda_iam.py wrote.
fn read_env_file(path: &str) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The calls moto refused, from the functions' logs (`logs_dir/lambda-<function>.log`), one line each:
/// `function: what failed: moto's refusal`.
fn denied_calls(logs: &HashMap<&'static str, PathBuf>) -> Vec<String> {
    let mut denied = Vec::new();
    for (function, path) in logs {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        denied.extend(
            text.lines()
                .filter(|line| line.contains("AccessDenied"))
                .map(|line| format!("{function}: {}", refusal(line))),
        );
    }
    denied.sort();
    denied
}

/// A log line's message and moto's "User: … is not authorized to perform: <action>" in it (the SDK
/// cannot parse moto's XML error body, so the refusal is only in the raw body its error prints).
fn refusal(line: &str) -> String {
    let message = serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|entry| entry["message"].as_str().map(str::to_string))
        // Not a JSON log line: the error a function's process ended with.
        .unwrap_or_else(|| line.chars().take(80).collect());
    let reason = line
        .find("User: arn:")
        .map(|start| {
            let rest = &line[start..];
            &rest[..rest.find("</Message>").unwrap_or(rest.len())]
        })
        .unwrap_or(line);
    format!("{message}: {reason}")
}

/// Waits until the function's process ends after `offset` in its log (cargo lambda logs
/// `command exited`), and returns what it logged since, each line cut at 200 characters. A function whose cold start fails never
/// answers its invocation: this is how the test learns of it.
async fn process_exit(log: &PathBuf, offset: usize) -> String {
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let since = text.get(offset..).unwrap_or_default();
        if since.contains("command exited") {
            let shortened: Vec<String> = since
                .lines()
                .map(|line| line.chars().take(200).collect())
                .collect();
            return shortened.join("\n");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Lambdas {
    /// Invoke base URL of each function's `cargo lambda watch`.
    invoke_bases: HashMap<&'static str, String>,
    /// Each function's log (its watch's output).
    logs: HashMap<&'static str, PathBuf>,
    http: reqwest::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    dlq_url: String,
}

impl Lambdas {
    async fn invoke(&self, function: &str, payload: &Value) -> Value {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.invoke_bases[function]
        );
        let log = &self.logs[function];
        let offset = std::fs::read_to_string(log).map_or(0, |text| text.len());
        let response = tokio::select! {
            response = self.http.post(url).json(payload).send() => response.expect("cargo lambda answers"),
            logged = process_exit(log, offset) => panic!("{function} stopped without answering:\n{logged}"),
        };
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON answer");
        assert!(status.is_success(), "{function} failed ({status}): {body}");
        body
    }

    /// Calls the api function as API Gateway (HTTP API, payload 2.0) would; returns status and JSON body.
    /// The event of events/api-post-alert.json carries the bootstrap key tests/run.sh configures.
    async fn api(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut event = load_event("api-post-alert.json");
        event["rawPath"] = json!(path);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        event["body"] = body.map_or(Value::Null, |b| json!(b.to_string()));
        let answer = self.invoke("api", &event).await;
        let status = answer["statusCode"].as_u64().expect("a status code") as u16;
        let body = answer["body"]
            .as_str()
            .map_or(Value::Null, |b| serde_json::from_str(b).unwrap_or(json!(b)));
        (status, body)
    }

    /// Creates an endpoint through the api function; returns it as the API answered.
    async fn create_endpoint(&self, endpoint: Value) -> Value {
        let (status, created) = self.api("POST", "/v1/endpoints", Some(&endpoint)).await;
        assert_eq!(status, 201, "{created}");
        created
    }

    async fn delete_endpoint(&self, endpoint: &Value) {
        let id = endpoint["id"].as_str().unwrap();
        let (status, _) = self
            .api("DELETE", &format!("/v1/endpoints/{id}"), None)
            .await;
        assert_eq!(status, 204);
    }

    /// Posts an alert with this title to the only endpoint; returns its delivery's id.
    async fn post_alert(&self, title: &str) -> String {
        let (status, receipt) = self
            .api("POST", "/v1/alerts", Some(&json!({ "title": title })))
            .await;
        assert_eq!(status, 202, "{receipt}");
        receipt["deliveries"][0]["id"].as_str().unwrap().to_string()
    }

    async fn delivery(&self, id: &str) -> Value {
        self.api("GET", &format!("/v1/deliveries/{id}"), None)
            .await
            .1
    }

    /// One round of the event source mapping: receive a batch, invoke deliver, delete what it did not
    /// report as failed. Returns how many messages it handed over.
    async fn event_source_round(&self) -> usize {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("receive from moto");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return 0;
        }
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                let count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .cloned()
                    .unwrap_or_else(|| "1".into());
                json!({
                    "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                    "attributes": {"ApproximateReceiveCount": count}, "messageAttributes": {},
                    "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:alertwire-e2e",
                    "awsRegion": "us-east-1"
                })
            })
            .collect();
        let answer = self.invoke("deliver", &json!({ "Records": records })).await;
        let failed: Vec<&str> = answer["batchItemFailures"]
            .as_array()
            .expect("a batch response")
            .iter()
            .map(|f| f["itemIdentifier"].as_str().expect("an identifier"))
            .collect();
        for m in &messages {
            if !failed.contains(&m.message_id().unwrap_or_default()) {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
            }
        }
        messages.len()
    }

    /// Plays the event source mapping until the queue stays empty.
    async fn drain(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut idle_rounds = 0;
        while idle_rounds < 3 {
            assert!(Instant::now() < deadline, "the queue did not drain");
            if self.event_source_round().await == 0 {
                idle_rounds += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            } else {
                idle_rounds = 0;
            }
        }
    }

    async fn dlq_depth(&self) -> u64 {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .expect("queue attributes");
        attributes
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                    .cloned()
            })
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

fn load_event(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every failure shows the calls moto refused, if any: whatever assertion failed, a refused call (which a
/// function may only log) is the likely cause.
impl Drop for Lambdas {
    fn drop(&mut self) {
        let denied = denied_calls(&self.logs);
        if std::thread::panicking() && !denied.is_empty() {
            eprintln!(
                "\ncalls their role in template.yaml does not allow (whole lines in \
                 $ALERTWIRE_LAMBDA_LOGS/lambda-<function>.log):\n{}",
                denied.join("\n")
            );
        }
    }
}

async fn setup() -> Lambdas {
    // The admin of the IAM-checked moto: allowed everything, unlike the functions.
    let admin = read_env_file(&env("ALERTWIRE_LAMBDA_ADMIN_ENV"));
    let credentials = Credentials::new(
        &admin["AWS_ACCESS_KEY_ID"],
        &admin["AWS_SECRET_ACCESS_KEY"],
        None,
        None,
        "lambda e2e admin",
    );
    let sdk = load_sdk_config()
        .await
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .build();
    // On the clients: the other suites' AWS_ENDPOINT_URL would win over the shared configuration's.
    let endpoint = &admin["AWS_ENDPOINT_URL"];
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(endpoint)
            .build(),
    );
    DynamoStore::create_table(&dynamodb, &env("ALERTWIRE_TABLE"))
        .await
        .expect("table");
    let (queue_url, dlq_url) =
        SqsQueue::create_queues(&sqs, "alertwire-e2e", Duration::from_secs(60))
            .await
            .expect("queues");
    assert_eq!(
        (queue_url.as_str(), dlq_url.as_str()),
        (
            env("ALERTWIRE_QUEUE_URL").as_str(),
            env("ALERTWIRE_DLQ_URL").as_str()
        )
    );
    let logs_dir = PathBuf::from(env("ALERTWIRE_LAMBDA_LOGS"));
    Lambdas {
        invoke_bases: FUNCTIONS
            .iter()
            .map(|&f| {
                (
                    f,
                    env(&format!("ALERTWIRE_LAMBDA_INVOKE_{}", f.to_uppercase())),
                )
            })
            .collect(),
        logs: FUNCTIONS
            .iter()
            .map(|&f| (f, logs_dir.join(format!("lambda-{f}.log"))))
            .collect(),
        // The first invocation of each function compiles it.
        http: http_client(Duration::from_secs(900)),
        sqs,
        queue_url,
        dlq_url,
    }
}

#[tokio::test]
async fn the_functions_deliver_retry_dead_letter_and_replay() {
    let lambdas = setup().await;

    // Every event in events/ invokes without error.
    let health = lambdas
        .invoke("api", &load_event("api-get-healthz.json"))
        .await;
    assert_eq!(health["statusCode"], 200, "{health}");
    let empty = lambdas
        .invoke("deliver", &load_event("deliver-sqs-batch.json"))
        .await;
    assert_eq!(
        empty["batchItemFailures"],
        json!([]),
        "unknown deliveries are dropped, not retried"
    );
    for replay in ["replay-all.json", "replay-endpoint.json", "replay-ids.json"] {
        let answer = lambdas.invoke("replay", &load_event(replay)).await;
        assert_eq!(
            answer,
            json!({"replayed": 0, "stopped_early": false}),
            "{replay}"
        );
    }
    let reconciled = lambdas
        .invoke("replay", &load_event("replay-reconcile.json"))
        .await;
    assert_eq!(
        reconciled,
        json!({"marked_dead": 0, "requeued": 0, "stopped_early": false})
    );

    // An alert posted through the api function reaches a real receiver, signed and rendered.
    let good = Receiver::start(Behaviour::status(200)).await;
    let endpoint = lambdas
        .create_endpoint(json!({"name": "good", "url": good.url("/hook"), "secret": "generate"}))
        .await;
    let secret = endpoint["secret"].as_str().unwrap().to_string();
    let accepted = lambdas
        .invoke("api", &load_event("api-post-alert.json"))
        .await;
    assert_eq!(accepted["statusCode"], 202, "{accepted}");
    let receipt: Value = serde_json::from_str(accepted["body"].as_str().unwrap()).unwrap();
    let delivery_id = receipt["deliveries"][0]["id"].as_str().unwrap().to_string();
    lambdas.drain().await;
    let request = &good.received()[0];
    assert!(verifies(&secret, request), "the signature does not verify");
    let sent_alert: Value =
        serde_json::from_str(load_event("api-post-alert.json")["body"].as_str().unwrap()).unwrap();
    assert_eq!(request.json()["title"], sent_alert["title"]);
    let delivery = lambdas.delivery(&delivery_id).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");

    // Alertmanager's payload through the api function on DynamoDB: one alert per entry, and the same
    // notification again (Alertmanager's retry) gets the first receipt and duplicates nothing.
    let notification: Value =
        serde_json::from_str(include_str!("../fixtures/alertmanager/firing.json")).unwrap();
    let (status, first) = lambdas
        .api("POST", "/v1/alerts/alertmanager", Some(&notification))
        .await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["alerts"].as_array().unwrap().len(), 2, "{first}");
    let (status, again) = lambdas
        .api("POST", "/v1/alerts/alertmanager", Some(&notification))
        .await;
    assert_eq!((status, &again), (202, &first));
    lambdas.drain().await;
    let received = good.received();
    assert_eq!(
        received.len(),
        3,
        "one earlier webhook and one per Alertmanager alert"
    );
    let mut incidents: Vec<String> = received[1..]
        .iter()
        .map(|r| r.json()["incident_key"].as_str().unwrap().to_string())
        .collect();
    incidents.sort();
    assert_eq!(incidents, ["3f1c2a9b8d7e6f50", "a04d55e1c2b3f789"]);
    assert!(received[1..].iter().all(|r| verifies(&secret, r)));

    lambdas.delete_endpoint(&endpoint).await;

    // An always-500 receiver: dead after exactly 10 attempts, the message in the DLQ by redrive.
    let down = Receiver::start(Behaviour::status(500)).await;
    let endpoint = lambdas
        .create_endpoint(json!({"name": "down", "url": down.url("/down")}))
        .await;
    let dead_id = lambdas.post_alert("will die").await;
    lambdas.drain().await;
    let delivery = lambdas.delivery(&dead_id).await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 10);
    assert_eq!(down.received().len(), 10);
    assert_eq!(
        lambdas.dlq_depth().await,
        1,
        "redrive put the message in the DLQ"
    );

    // The replay function puts it back; with the receiver fixed it is delivered, same webhook-id.
    down.set(Behaviour::status(200));
    let replayed = lambdas
        .invoke("replay", &json!({"filter": {"ids": [dead_id]}}))
        .await;
    assert_eq!(replayed, json!({"replayed": 1, "stopped_early": false}));
    lambdas.drain().await;
    let delivery = lambdas.delivery(&dead_id).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(
        delivery["attempts"].as_array().unwrap().last().unwrap()["resend"],
        true
    );
    let received = down.received();
    assert_eq!(received.len(), 11);
    assert!(
        received
            .iter()
            .all(|r| r.header("webhook-id") == Some(dead_id.as_str()))
    );
    assert_eq!(lambdas.dlq_depth().await, 0);

    // A receiver that answers 410 Gone: the delivery is dead at once, and deliver itself sends its task
    // to the DLQ (not SQS's redrive).
    lambdas.delete_endpoint(&endpoint).await;
    let gone = Receiver::start(Behaviour::status(410)).await;
    let endpoint = lambdas
        .create_endpoint(json!({"name": "gone", "url": gone.url("/gone")}))
        .await;
    let gone_id = lambdas.post_alert("gone").await;
    lambdas.drain().await;
    let delivery = lambdas.delivery(&gone_id).await;
    assert_eq!(delivery["status"], "dead", "{delivery}");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 1);
    assert_eq!(lambdas.dlq_depth().await, 1, "deliver sent it to the DLQ");

    // A replay through the API, under the api function's own role: the dead deliveries are read in
    // batches (`BatchGetItem`), the new runs sent, and the old letter taken out of the DLQ. The 410
    // disabled the endpoint; it is enabled again first, as the console's "Enable" does.
    gone.set(Behaviour::status(200));
    let path = format!("/v1/endpoints/{}", endpoint["id"].as_str().unwrap());
    let (status, mut view) = lambdas.api("GET", &path, None).await;
    assert_eq!((status, &view["enabled"]), (200, &json!(false)), "{view}");
    view["enabled"] = json!(true);
    let (status, enabled) = lambdas.api("PUT", &path, Some(&view)).await;
    assert_eq!(
        (status, &enabled["enabled"]),
        (200, &json!(true)),
        "{enabled}"
    );
    let (status, replayed) = lambdas
        .api("POST", "/v1/dead-letters/replay", Some(&json!({})))
        .await;
    assert_eq!((status, replayed), (200, json!({"replayed": 1})));
    assert_eq!(
        lambdas.dlq_depth().await,
        0,
        "the replay removed the letter"
    );
    lambdas.drain().await;
    let delivery = lambdas.delivery(&gone_id).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(gone.received().len(), 2);

    // A storm to an endpoint that sends one error a window by itself: the api function counts the
    // window and folds the others, deliver holds the digest by delayed re-sends until the window ends,
    // then sends it listing both, all under the functions' own roles.
    lambdas.delete_endpoint(&endpoint).await;
    let storm = Receiver::start(Behaviour::status(200)).await;
    lambdas
        .create_endpoint(json!({"name": "storm", "url": storm.url("/storm"),
            "digest": {"after": 1, "window_seconds": 5}}))
        .await;
    let storm_ids = [
        lambdas.post_alert("storm 0").await,
        lambdas.post_alert("storm 1").await,
        lambdas.post_alert("storm 2").await,
    ];
    let folded = lambdas.delivery(&storm_ids[2]).await;
    assert_eq!(folded["status"], "filtered", "{folded}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while storm.received().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the digest never came: {:?}",
            storm.received()
        );
        if lambdas.event_source_round().await == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let digest = storm.received()[1].json();
    assert_eq!(digest["count"], 2, "{digest}");
    let digest_id = folded["digest_delivery_id"].as_str().unwrap();
    assert_eq!(storm.received()[1].header("webhook-id"), Some(digest_id));
    lambdas.drain().await;
    assert_eq!(lambdas.delivery(digest_id).await["status"], "delivered");

    // A refused call a function only logged (and worked around) fails the test too.
    assert!(
        denied_calls(&lambdas.logs).is_empty(),
        "a function's call was refused (the calls follow)"
    );
}
