//! What alerts cost on AWS, measured from the requests they cause: the api and deliver functions'
//! services, built by the same setup functions their `main`s call, run in this process against moto
//! through `tests/cost/metering_proxy.py`, which prices every DynamoDB and SQS request it forwards.
//! `tests/cost.sh` starts moto and the proxy, runs this test, and turns the meter into dollars
//! (`tests/cost/price.py`); docs/aws.md has the table.
//!
//! The test plays API Gateway (each alert is one `POST /v1/alerts`, one api invocation) and the SQS
//! event source mapping: after each alert one poll of up to ten messages, one deliver invocation with
//! what it got, and a `DeleteMessageBatch` of the messages not reported as failed. At a million alerts a
//! month (0.4 a second) batches hold one task, and so do they here. Every DynamoDB and SQS request the
//! functions and the event source make is metered; the phase markers keep set-up out of the figures.
//!
//! `COST_ALERTS` (1,000) alerts, of which every `COST_RETRY_EVERY`-th (0 = none) is answered 500 twice
//! before its 2XX, so it needs three attempts. Every alert is routed to the one receiving endpoint; the
//! tenant also has `COST_OTHER_ENDPOINTS` (0) endpoints whose matchers (`team="t7"`) no alert holds, which
//! should cost nothing per alert. Run only by tests/cost.sh (`--ignored`).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use alertwire_shared::api;
use alertwire_shared::aws::dynamodb::DynamoStore;
use alertwire_shared::aws::lambda::deliver_batch::deliver_batch;
use alertwire_shared::aws::lambda::replay_request::ReplayRequest;
use alertwire_shared::aws::lambda::setup::{self, Adapters, LambdaSettings};
use alertwire_shared::aws::lambda::telemetry::LambdaTelemetry;
use alertwire_shared::aws::load_sdk_config;
use alertwire_shared::aws::sqs::queue::SqsQueue;
use alertwire_shared::service::{Service, hash_api_key};
use alertwire_tests::{Behaviour, Receiver, http_client};
use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use serde_json::{Value, json};

use crate::queue_conformance::backends::Sqs;

const KEY: &str = "cost-key-0123456789abcdef";

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} is not a number"))
        })
        .unwrap_or(default)
}

/// Names the phase of the requests that follow, for the meter.
async fn phase(http: &reqwest::Client, name: &str) {
    let meter = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL: the metering proxy");
    http.post(format!("{meter}/__meter/phase"))
        .json(&json!({ "phase": name }))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the metering proxy answers");
}

/// Answers 500 to the first two requests of every `every`-th alert's webhook, 200 otherwise.
async fn receiver(every: usize) -> Receiver {
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    Receiver::ruled(Arc::new(move |_, body| {
        let title = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|b| b["title"].as_str().map(str::to_string))
            .unwrap_or_default();
        let number: usize = title
            .trim_start_matches("alert-")
            .parse()
            .unwrap_or(usize::MAX);
        let mut seen = seen.lock().unwrap();
        let tries = seen.entry(title).or_default();
        *tries += 1;
        if every > 0 && number.is_multiple_of(every) && *tries <= 2 {
            Behaviour::status(500)
        } else {
            Behaviour::status(200)
        }
    }))
    .await
}

/// The functions' CloudWatch EMF lines, flushed after each invocation as the Lambda runtime wrapper does:
/// their bytes (logs ingested) and the distinct metrics they create (name and dimension values).
struct Emf {
    telemetry: LambdaTelemetry,
    api_bytes: usize,
    deliver_bytes: usize,
    metrics: BTreeSet<String>,
}

impl Emf {
    /// Flushes what the last invocation recorded; returns its bytes.
    fn flush(&mut self) -> usize {
        let mut out = Vec::new();
        self.telemetry
            .collector()
            .flush(&mut out)
            .expect("flush the EMF lines");
        for line in String::from_utf8_lossy(&out).lines() {
            let document: Value = serde_json::from_str(line).expect("an EMF line is JSON");
            let directive = &document["_aws"]["CloudWatchMetrics"][0];
            let dimensions: Vec<String> = directive["Dimensions"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|set| set.as_array().cloned().unwrap_or_default())
                .map(|name| {
                    let name = name.as_str().unwrap_or_default();
                    format!("{name}={}", document[name].as_str().unwrap_or_default())
                })
                .collect();
            for metric in directive["Metrics"].as_array().into_iter().flatten() {
                let name = metric["Name"].as_str().unwrap_or_default();
                self.metrics
                    .insert(format!("{name}{{{}}}", dimensions.join(",")));
            }
        }
        out.len()
    }
}

/// The SQS event source mapping, played: the deliver function's task queue, and what it handed over.
struct EventSource {
    tasks: Sqs,
    /// Messages handed to deliver, and deliver invocations.
    handed: usize,
    invocations: usize,
}

impl EventSource {
    /// One poll; when it gets messages, one deliver invocation and one `DeleteMessageBatch` of what
    /// succeeded (what the mapping sends, so what is priced).
    async fn round(&mut self, service: &Service) -> bool {
        let batch = self.tasks.receive_batch().await;
        if batch.is_empty() {
            return false;
        }
        self.handed += batch.len();
        self.invocations += 1;
        let failed = deliver_batch(service, &self.tasks.queue, batch.clone()).await;
        let done: Vec<DeleteMessageBatchRequestEntry> = batch
            .iter()
            .filter(|m| !failed.contains(&m.message_id))
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(&m.receipt_handle)
                    .build()
                    .expect("an entry")
            })
            .collect();
        if !done.is_empty() {
            self.tasks
                .client
                .delete_message_batch()
                .queue_url(self.tasks.queue.queue_url())
                .set_entries(Some(done))
                .send()
                .await
                .expect("delete the finished messages");
        }
        true
    }
}

#[tokio::test]
#[ignore = "run by tests/cost.sh, behind the metering proxy"]
async fn requests_per_alert() {
    let alerts = env_number("COST_ALERTS", 1000);
    let retry_every = env_number("COST_RETRY_EVERY", 0);
    let other_endpoints = env_number("COST_OTHER_ENDPOINTS", 0);
    let name = format!("alertwire-cost-{retry_every}");
    let http = http_client(Duration::from_secs(30));
    phase(&http, "setup").await;

    let sdk = load_sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &name)
        .await
        .expect("table");
    let (queue_url, dlq_url) = SqsQueue::create_queues(&sqs, &name, Duration::from_secs(360))
        .await
        .expect("queues");
    let kms_key = aws_sdk_kms::Client::new(&sdk)
        .create_key()
        .send()
        .await
        .expect("a KMS key for endpoint secrets")
        .key_metadata
        .expect("the key's metadata")
        .key_id;
    let key_hash = hash_api_key(KEY);
    let variables: HashMap<&str, String> = HashMap::from([
        ("ALERTWIRE_TABLE", name.clone()),
        ("ALERTWIRE_QUEUE_URL", queue_url.clone()),
        ("ALERTWIRE_DLQ_URL", dlq_url),
        ("ALERTWIRE_KMS_KEY_ID", kms_key),
        ("ALERTWIRE_API_KEY_SHA256", key_hash),
        ("ALERTWIRE_RETRY_DELAYS", "0ms".into()),
        ("ALERTWIRE_ALLOW_TARGETS", "127.0.0.0/8".into()),
        ("ALERTWIRE_ALLOW_PORTS", "any".into()),
        ("ALERTWIRE_HTTP_TIMEOUT", "5".into()),
    ]);
    let settings =
        LambdaSettings::from_lookup(|v| variables.get(v).cloned()).expect("the settings");

    phase(&http, "cold-start").await;
    let mut emf = Emf {
        telemetry: LambdaTelemetry::emf_only().expect("the EMF recorder"),
        api_bytes: 0,
        deliver_bytes: 0,
        metrics: BTreeSet::new(),
    };
    let adapters = Adapters::connect(&settings).await;
    let api_service = setup::api_service(&settings, &adapters, emf.telemetry.metrics())
        .await
        .expect("the api function's service");
    let deliver_service = setup::deliver_service(&settings, &adapters, emf.telemetry.metrics())
        .expect("the deliver function's service");
    let replay_service = setup::replay_service(&settings, &adapters, emf.telemetry.metrics())
        .expect("the replay function's service");

    phase(&http, "setup").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api::router(api_service)).await });
    let receiver = receiver(retry_every).await;
    let endpoint: Value = http
        .post(format!("{api_url}/v1/endpoints"))
        .bearer_auth(KEY)
        .json(&json!({"name": "receiver", "url": receiver.url("/hook")}))
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .expect("the endpoint is created")
        .json()
        .await
        .unwrap();
    assert!(endpoint["id"].is_string(), "{endpoint}");
    for team in 0..other_endpoints {
        let body = json!({"name": format!("team-{team}"), "url": receiver.url("/other"),
                          "matchers": [format!("team=\"t{team}\"")]});
        http.post(format!("{api_url}/v1/endpoints"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("an endpoint that matches no alert is created");
    }

    let mut source = EventSource {
        tasks: Sqs {
            client: sqs,
            queue: adapters.queue.clone(),
        },
        handed: 0,
        invocations: 0,
    };
    phase(&http, "alerts").await;
    for number in 0..alerts {
        let answer = http
            .post(format!("{api_url}/v1/alerts"))
            .bearer_auth(KEY)
            .json(&json!({
                "title": format!("alert-{number}"),
                "description": "disk almost full on db-1",
                "severity": "high",
                "tags": ["db", "disk"],
            }))
            .send()
            .await
            .expect("the api answers");
        assert_eq!(answer.status(), 202, "alert {number}");
        emf.api_bytes += emf.flush();
        source.round(&deliver_service).await;
        emf.deliver_bytes += emf.flush();
    }
    let mut idle = 0;
    while idle < 3 {
        if source.round(&deliver_service).await {
            idle = 0;
        } else {
            idle += 1;
        }
        emf.deliver_bytes += emf.flush();
    }

    phase(&http, "reconcile").await;
    let reconciled = ReplayRequest::from_payload(json!({"reconcile": true}))
        .expect("a reconcile request")
        .carry_out(&replay_service, &adapters.queue)
        .await
        .expect("reconcile runs");
    phase(&http, "done").await;

    // The measurement is of a run that did its job: every alert delivered once, retries as scripted.
    let received = receiver.received();
    let delivered = received.iter().filter(|r| r.answer.is_success()).count();
    let retried = if retry_every == 0 {
        0
    } else {
        alerts.div_ceil(retry_every)
    };
    assert_eq!(delivered, alerts, "every alert delivered");
    assert_eq!(
        received.len(),
        alerts + 2 * retried,
        "two failed attempts per retried alert"
    );
    let summary = json!({
        "alerts": alerts,
        "retry_every": retry_every,
        "other_endpoints": other_endpoints,
        "attempts": received.len(),
        "api_invocations": alerts,
        "deliver_invocations": source.invocations,
        "tasks_handed_to_deliver": source.handed,
        "reconcile": reconciled,
        "emf_bytes_api": emf.api_bytes,
        "emf_bytes_deliver": emf.deliver_bytes,
        "emf_metrics": emf.metrics,
    });
    println!("cost run: {summary}");
    if let Ok(path) = std::env::var("COST_SUMMARY") {
        std::fs::write(path, summary.to_string()).expect("write the summary");
    }
}
