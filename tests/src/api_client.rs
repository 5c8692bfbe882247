//! Calls alertwire's API as a user would, and waits for deliveries to settle.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::prometheus_text::Exposition;

#[derive(Clone)]
pub struct ApiClient {
    pub base: String,
    pub key: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            base: base.into(),
            key: key.into(),
            http: crate::http_client(Duration::from_secs(30)),
        }
    }

    /// Same server, another key.
    pub fn with_key(&self, key: &str) -> Self {
        Self {
            key: key.to_string(),
            ..self.clone()
        }
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", self.base),
            )
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(request).await
    }

    /// Sends raw bytes with the given headers (for malformed-input tests).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", self.base),
            )
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("alertwire answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("alertwire answered non-JSON ({status}): {text}"))
        };
        (status, body)
    }

    /// Scrapes `/metrics` until `done` holds (the worker settles a task with the queue just after the store
    /// shows the delivery's status), then returns that scrape; after `within`, returns the last one so the
    /// caller's exact assertions say what differs.
    pub async fn scrape_metrics_until(
        &self,
        within: Duration,
        done: impl Fn(&Exposition) -> bool,
    ) -> Exposition {
        let deadline = Instant::now() + within;
        loop {
            let scrape = self.scrape_metrics().await;
            if done(&scrape) || Instant::now() >= deadline {
                return scrape;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// `GET /metrics` as a Prometheus scrape does: no API key. Panics unless 200 with the text format.
    pub async fn scrape_metrics(&self) -> Exposition {
        let response = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("alertwire answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = response.text().await.expect("a body");
        assert_eq!(status, 200, "GET /metrics: {text}");
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "GET /metrics content type: {content_type}"
        );
        Exposition::parse(&text)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call("PUT", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.call("DELETE", path, None).await
    }

    /// Creates an endpoint and returns its view; panics unless 201.
    pub async fn create_endpoint(&self, body: &Value) -> Value {
        let (status, view) = self.post("/v1/endpoints", body).await;
        assert_eq!(status, 201, "creating an endpoint: {view}");
        view
    }

    /// Posts an alert and returns the delivery ids; panics unless 202.
    pub async fn send_alert(&self, alert: &Value) -> Vec<String> {
        let (status, receipt) = self.post("/v1/alerts", alert).await;
        assert_eq!(status, 202, "posting an alert: {receipt}");
        delivery_ids(&receipt)
    }

    pub async fn delivery(&self, id: &str) -> Value {
        let (status, delivery) = self.get(&format!("/v1/deliveries/{id}")).await;
        assert_eq!(status, 200, "reading delivery {id}: {delivery}");
        delivery
    }

    /// Waits until the delivery is no longer pending and returns it.
    pub async fn settled(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let delivery = self.delivery(id).await;
            if delivery["status"] != "pending" {
                return delivery;
            }
            assert!(
                Instant::now() < deadline,
                "delivery still pending after {timeout:?}: {delivery}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The delivery ids of an alert's `202` receipt.
pub fn delivery_ids(receipt: &Value) -> Vec<String> {
    receipt["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| d["id"].as_str().expect("an id").to_string())
        .collect()
}
