//! The HTTP client the AWS SDK sends its requests with: reqwest on rustls, trusting the Mozilla roots
//! compiled into the binary, plugged in through the SDK's own `HttpClient` and `HttpConnector` traits
//! (`aws-smithy-runtime-api`).
//!
//! Why not the SDK's client (`aws-smithy-http-client`): it builds its TLS connector each time a service
//! client is built (STS for the credential chain, DynamoDB, SQS, KMS), and its trust store is either the
//! machine's, read from `/etc/ssl/certs` and decoded from PEM, or PEM it is given, decoded again for each
//! build. That was most of a Lambda function's init (see `docs/performance.md`). Here the roots are the
//! compiled-in trust anchors ([`TrustedRoots::CompiledIn`]), and one reqwest client is built per distinct
//! timeout setting, when the first request needs it rather than at init.
//!
//! Request bodies are the SDK's in-memory JSON bodies (DynamoDB, SQS, KMS send nothing else); a streaming
//! body is refused as a connector error. Responses are read whole.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

use crate::outbound::trusted_roots::TrustedRoots;

/// The timeouts a connector is built for: the SDK asks for one per client configuration.
type ConnectorKey = (Option<Duration>, Option<Duration>);

/// An SDK `HttpClient` handing out one [`ReqwestConnector`] per timeout setting.
#[derive(Debug, Default)]
pub struct SdkHttpClient {
    connectors: Mutex<HashMap<ConnectorKey, SharedHttpConnector>>,
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| {
                SharedHttpConnector::new(ReqwestConnector {
                    connect_timeout: key.0,
                    read_timeout: key.1,
                    client: Arc::new(OnceLock::new()),
                })
            })
            .clone()
    }
}

/// Sends the SDK's requests with a reqwest client built on the first of them.
#[derive(Debug, Clone)]
struct ReqwestConnector {
    connect_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
}

impl ReqwestConnector {
    fn client(&self) -> Result<reqwest::Client, ConnectorError> {
        self.client
            .get_or_init(|| {
                crate::outbound::sender::install_crypto_provider();
                let mut builder = reqwest::Client::builder()
                    // The SDK follows no redirect and uses no proxy unless configured to.
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy();
                if let Some(timeout) = self.connect_timeout {
                    builder = builder.connect_timeout(timeout);
                }
                if let Some(timeout) = self.read_timeout {
                    builder = builder.read_timeout(timeout);
                }
                TrustedRoots::CompiledIn
                    .apply(builder)
                    .and_then(reqwest::ClientBuilder::build)
                    .map_err(|e| format!("cannot build the AWS HTTP client: {e}"))
            })
            .clone()
            .map_err(|e| ConnectorError::other(e.into(), None))
    }
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let connector = self.clone();
        HttpConnectorFuture::new(async move {
            let client = connector.client()?;
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let (parts, body) = request.into_parts();
            let body = body
                .bytes()
                .ok_or_else(|| {
                    ConnectorError::other("a streaming request body is not supported".into(), None)
                })?
                .to_vec();
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(connector_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(connector_error)?;
            let mut answer = http::Response::new(SdkBody::from(bytes));
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// How the SDK's retry rules see a failed request: timeouts and I/O failures are retried.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}
