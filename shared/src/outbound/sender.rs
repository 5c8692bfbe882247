//! Sends one rendered request and describes what came back: the only place that talks HTTP to endpoints.
//!
//! Redirects are never followed, every address dialled passes the target policy (literal IPs are checked
//! here, names through the policy resolver), the response body is read only up to the stored limit, and
//! one client (connection pool, TLS config) serves every delivery but those of endpoints with TLS settings of
//! their own ([`crate::outbound::endpoint_tls`]). Endpoints with OAuth2 get a bearer token from
//! [`crate::outbound::oauth2`], fetched through the shared client.

use std::error::Error as _;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use chrono::Utc;
use url::Url;

use crate::delivery::retry_policy::parse_retry_after;
use crate::delivery::{Attempt, ErrorClass, MAX_RESPONSE_BODY, kept_response_headers};
use crate::endpoint::{HttpMethod, MASK};
use crate::outbound::capped_body::read_capped;
use crate::outbound::endpoint_tls::{ClientRecipe, EndpointClients};
use crate::outbound::oauth2::{BearerToken, TokenCache, TokenGrant};
use crate::outbound::target_policy::{HostResolver, SystemResolver, TargetPolicy, refusal_behind};
use crate::outbound::trusted_roots::TrustedRoots;
use crate::webhook::request::OutgoingRequest;

/// Default time for the whole exchange, connect to last byte read.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct HttpSender {
    client: reqwest::Client,
    policy: Arc<TargetPolicy>,
    timeout: Duration,
    /// How `client` was built, for the endpoints that need a client of their own.
    recipe: ClientRecipe,
    /// Clients of endpoints with their own TLS settings; shared by every clone of the sender.
    endpoint_clients: Arc<EndpointClients>,
    /// OAuth2 tokens of the endpoints that want them; shared by every clone of the sender.
    tokens: Arc<TokenCache>,
}

/// The outcome of one exchange, before it is numbered as an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    pub attempt: Attempt,
    /// From a `Retry-After` answer header, if any.
    pub retry_after: Option<Duration>,
}

/// Makes ring the process's rustls crypto provider, once (reqwest is built without one).
pub(crate) fn install_crypto_provider() {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Another part of the process may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl HttpSender {
    /// Trusting the machine's certificate store for HTTPS endpoints.
    pub fn new(policy: Arc<TargetPolicy>, timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::with_trusted_roots(policy, timeout, TrustedRoots::System)
    }

    /// Trusting `roots` for HTTPS endpoints (the Lambda functions use the compiled-in set).
    pub fn with_trusted_roots(
        policy: Arc<TargetPolicy>,
        timeout: Duration,
        roots: TrustedRoots,
    ) -> Result<Self, reqwest::Error> {
        Self::build(policy, timeout, Arc::new(SystemResolver), roots)
    }

    /// With a chosen name resolver (tests simulate DNS answers with it), trusting the machine's store.
    pub fn with_resolver(
        policy: Arc<TargetPolicy>,
        timeout: Duration,
        resolver: Arc<dyn HostResolver>,
    ) -> Result<Self, reqwest::Error> {
        Self::build(policy, timeout, resolver, TrustedRoots::System)
    }

    /// With a chosen name resolver, trusting `roots` (a container image without a trust store takes the
    /// compiled-in set).
    pub fn with_resolver_trusting(
        policy: Arc<TargetPolicy>,
        timeout: Duration,
        resolver: Arc<dyn HostResolver>,
        roots: TrustedRoots,
    ) -> Result<Self, reqwest::Error> {
        Self::build(policy, timeout, resolver, roots)
    }

    fn build(
        policy: Arc<TargetPolicy>,
        timeout: Duration,
        resolver: Arc<dyn HostResolver>,
        roots: TrustedRoots,
    ) -> Result<Self, reqwest::Error> {
        let recipe = ClientRecipe {
            policy: policy.clone(),
            resolver,
            roots,
            timeout,
        };
        Ok(Self {
            client: recipe.build(None)?,
            policy,
            timeout,
            recipe,
            endpoint_clients: Arc::default(),
            tokens: Arc::default(),
        })
    }

    pub fn policy(&self) -> &TargetPolicy {
        &self.policy
    }

    /// The longest an exchange takes, connect to last byte.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `request`; never fails, every problem is described in the attempt.
    pub async fn send(&self, request: &OutgoingRequest) -> Exchange {
        let started_at = Utc::now();
        let clock = Instant::now();
        let mut attempt = Attempt::unsent(started_at);
        let mut retry_after = None;
        // reqwest does not ask the resolver about literal IP hosts, so the URL is checked here on every
        // send, before anything else (a token fetch included) is done for it.
        let exchanged = match (self.policy.check_url(&request.url), &request.oauth2) {
            (Err(e), _) => Err((ErrorClass::Blocked, e.to_string())),
            (Ok(url), None) => {
                self.exchange(request, &url, None, &mut attempt, &mut retry_after)
                    .await
            }
            (Ok(url), Some(grant)) => {
                self.exchange_with_token(request, &url, grant, &mut attempt, &mut retry_after)
                    .await
            }
        };
        if let Err((class, message)) = exchanged {
            attempt.error_class = Some(class);
            attempt.error = Some(message);
        }
        attempt.duration_ms = u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX);
        Exchange {
            attempt,
            retry_after,
        }
    }

    /// The exchange with a bearer token for `grant`: when the endpoint answers `401`, the token is
    /// dropped and the exchange made once more with a new one. No token, no request: the attempt fails
    /// with class `auth` and the token endpoint's answer. Tokens echoed back are masked.
    async fn exchange_with_token(
        &self,
        request: &OutgoingRequest,
        url: &Url,
        grant: &TokenGrant,
        attempt: &mut Attempt,
        retry_after: &mut Option<Duration>,
    ) -> Result<(), (ErrorClass, String)> {
        let mut used = Vec::new();
        let mut outcome = Ok(());
        for _ in 0..2 {
            let token = match self.tokens.token(&self.client, &self.policy, grant).await {
                Ok(token) => token,
                Err(e) => {
                    *attempt = Attempt::unsent(attempt.started_at);
                    *retry_after = None;
                    attempt.status_code = e.status();
                    if let Some((body, truncated)) = e.body() {
                        attempt.response_body = Some(body.to_string());
                        attempt.response_body_truncated = truncated;
                    }
                    outcome = Err((ErrorClass::Auth, e.to_string()));
                    break;
                }
            };
            *attempt = Attempt::unsent(attempt.started_at);
            *retry_after = None;
            outcome = self
                .exchange(request, url, Some(&token), attempt, retry_after)
                .await;
            used.push(token.clone());
            if attempt.status_code != Some(401) {
                break;
            }
            self.tokens.forget(grant, &token).await;
        }
        attempt.scrub(|text| {
            used.iter().fold(text.to_string(), |text, token| {
                text.replace(token.expose(), MASK)
            })
        });
        outcome
    }

    /// One request to `url`, `request.url` as the target policy parsed and allowed it (sent as checked,
    /// not parsed again).
    async fn exchange(
        &self,
        request: &OutgoingRequest,
        url: &Url,
        bearer: Option<&BearerToken>,
        attempt: &mut Attempt,
        retry_after: &mut Option<Duration>,
    ) -> Result<(), (ErrorClass, String)> {
        let method = match request.method {
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let client = match &request.tls {
            None => self.client.clone(),
            Some(tls) => self
                .endpoint_clients
                .client(&self.recipe, tls)
                .map_err(|e| {
                    (
                        ErrorClass::Tls,
                        format!("the endpoint's TLS settings could not be loaded: {e}"),
                    )
                })?,
        };
        let mut builder = client.request(method, url.clone());
        for header in &request.headers {
            builder = builder.header(&header.name, &header.value);
        }
        if let Some(token) = bearer {
            let mut value = http::HeaderValue::try_from(format!("Bearer {}", token.expose()))
                .map_err(|_| {
                    (
                        ErrorClass::Auth,
                        "the bearer token is not a header value".into(),
                    )
                })?;
            value.set_sensitive(true);
            builder = builder.header(http::header::AUTHORIZATION, value);
        }
        if request.method.has_body() {
            builder = builder.body(request.body.clone());
        }
        let mut response = builder.send().await.map_err(|e| classify(&e))?;
        let status = response.status();
        attempt.status_code = Some(status.as_u16());
        attempt.response_headers = kept_response_headers(
            response
                .headers()
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes())),
        );
        let after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let (body, broke) = read_capped(&mut response, MAX_RESPONSE_BODY).await;
        attempt.response_body = Some(body.text());
        attempt.response_body_truncated = body.truncated;
        if let Some(e) = broke {
            return Err(classify(&e));
        }
        *retry_after = after;
        if status.is_success() {
            Ok(())
        } else if status.is_redirection() {
            let location = attempt
                .response_headers
                .iter()
                .find(|(n, _)| n == "location")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            Err((
                ErrorClass::Redirect,
                format!("answered {status} to `{location}`; redirects are not followed"),
            ))
        } else {
            Err((ErrorClass::Non2xx, format!("answered {status}")))
        }
    }
}

/// The rustls error `cause` is, or wraps: rustls errors reach hyper inside an `io::Error` (at times inside
/// another), and an `io::Error`'s `source` skips the error it wraps.
fn rustls_error<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut current = cause;
    loop {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        current = current.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// Sorts a client error into the attempt's error class, with a message fit for the user.
fn classify(error: &reqwest::Error) -> (ErrorClass, String) {
    if let Some(refused) = refusal_behind(error) {
        return (ErrorClass::Blocked, refused.to_string());
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(tls) = rustls_error(cause) {
            return (ErrorClass::Tls, format!("TLS failed: {tls}"));
        }
        source = cause.source();
    }
    let detail = error
        .source()
        .map(|s| s.to_string())
        .unwrap_or_else(|| error.to_string());
    if error.is_timeout() {
        (
            ErrorClass::Timeout,
            "no complete answer within the timeout".to_string(),
        )
    } else if error.is_connect() {
        (ErrorClass::Connect, format!("could not connect: {detail}"))
    } else {
        (
            ErrorClass::Connect,
            format!("the connection failed: {detail}"),
        )
    }
}
