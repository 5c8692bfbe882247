//! The HTTP client of the CLI: the base URL and API key, JSON in and out, and the API's error body
//! (`{"error": {"code", "message", "field"}}`) turned into one readable line.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::cli::RemoteArgs;

pub struct ApiClient {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl ApiClient {
    pub fn new(remote: &RemoteArgs) -> Result<Self, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(remote.timeout.max(1)))
            .user_agent(concat!("alertwire-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let key = remote
            .api_key
            .clone()
            .filter(|k| !k.trim().is_empty())
            .ok_or("an API key is needed: --api-key or ALERTWIRE_API_KEY")?;
        Ok(Self {
            http,
            base: remote.api_url.trim_end_matches('/').to_string(),
            key,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, String> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, String> {
        self.call(Method::POST, path, body).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, String> {
        self.call(Method::DELETE, path, None).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .map_err(|_| format!("{method} {url}: {status}, not JSON: {text}"))?
        };
        if status.is_success() {
            return Ok(value);
        }
        let error = &value["error"];
        let message = error["message"].as_str().unwrap_or("no message");
        Err(match error["field"].as_str().filter(|f| !f.is_empty()) {
            Some(field) => format!("{status}: {message} (field `{field}`)"),
            None => format!("{status}: {message}"),
        })
    }
}
