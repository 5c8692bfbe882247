//! Bearer tokens for endpoints that want OAuth2 client credentials (RFC 6749 §4.4): fetched from the
//! endpoint's token URL with the webhook sender's own guarded client (so the target policy holds for the
//! token URL on every dial, and redirects are not followed), and cached in memory per endpoint until
//! shortly before they expire. A token is never written anywhere: the cache belongs to the process (on
//! Lambda, to the container).
//!
//! Concurrent attempts to one endpoint wait for a single fetch instead of each asking for a token, and a
//! fetch that failed answers the attempts of the next few seconds: a token endpoint that hangs or refuses
//! is asked once per [`FAILURE_HOLD`], not once per attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize as _;
use sha2::{Digest, Sha256};

use crate::delivery::MAX_RESPONSE_BODY;
use crate::endpoint::MASK;
use crate::endpoint::auth::{ClientAuthentication, OAuth2ClientCredentials};
use crate::ids::EndpointId;
use crate::outbound::capped_body::read_capped;
use crate::outbound::target_policy::{TargetError, TargetPolicy, refusal_behind};

/// How long a token without `expires_in` is used.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// The longest a token is used, whatever `expires_in` says.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// A token is replaced this long before it expires (at most; a quarter of its lifetime when shorter), so
/// it does not expire on its way to the endpoint.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// The most of a token endpoint's answer that is read.
const MAX_TOKEN_ANSWER: usize = 64 * 1024;
/// Cache entries kept before expired ones are dropped.
const PRUNE_ABOVE: usize = 1024;
/// How long a failed fetch is the answer for its grant.
pub const FAILURE_HOLD: Duration = Duration::from_secs(5);

/// What an attempt to an OAuth2 endpoint presents: whose token (one cache entry per endpoint and set of
/// credentials, so a changed secret or scope fetches anew) and how to get one.
#[derive(Clone, PartialEq)]
pub struct TokenGrant {
    pub endpoint_id: EndpointId,
    pub credentials: OAuth2ClientCredentials,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("endpoint_id", &self.endpoint_id)
            .field("token_url", &self.credentials.token_url)
            .finish_non_exhaustive()
    }
}

impl TokenGrant {
    fn cache_key(&self) -> String {
        let c = &self.credentials;
        let mut digest = Sha256::new();
        for part in [
            c.token_url.as_str(),
            c.client_id.as_str(),
            c.client_secret.as_str(),
            c.scope.as_deref().unwrap_or(""),
            c.audience.as_deref().unwrap_or(""),
            c.client_auth.as_str(),
        ] {
            digest.update((part.len() as u64).to_be_bytes());
            digest.update(part.as_bytes());
        }
        format!("{}:{:x}", self.endpoint_id, digest.finalize())
    }
}

/// An access token and when to stop using it.
#[derive(Clone)]
pub struct BearerToken {
    value: String,
    use_until: Instant,
}

impl BearerToken {
    /// The token itself, for the `Authorization` header and for scrubbing echoes of it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    fn usable(&self) -> bool {
        Instant::now() < self.use_until
    }
}

/// What a grant's slot holds: a token, or the failure of the last fetch until it may be tried again.
#[derive(Clone)]
enum Cached {
    Token(BearerToken),
    Failed { error: TokenError, until: Instant },
}

impl Cached {
    fn current(&self) -> bool {
        match self {
            Self::Token(token) => token.usable(),
            Self::Failed { until, .. } => Instant::now() < *until,
        }
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(********)")
    }
}

/// Why no token could be had; each becomes an attempt failure of class `auth`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    #[error("the token URL is not allowed: {0}")]
    NotAllowed(TargetError),
    #[error("could not get a token: {0}")]
    Unreachable(String),
    #[error("the token endpoint answered {status}")]
    Refused {
        status: http::StatusCode,
        body: String,
        truncated: bool,
    },
    #[error("the token endpoint's answer ({status}) holds no usable bearer token: {reason}")]
    Unusable {
        status: http::StatusCode,
        reason: String,
    },
}

impl TokenError {
    /// The token endpoint's status, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } | Self::Unusable { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }

    /// What the token endpoint said when it refused, and whether it was cut. An answer that was accepted
    /// but unusable is not kept: it may hold a token.
    pub fn body(&self) -> Option<(&str, bool)> {
        match self {
            Self::Refused {
                body, truncated, ..
            } => Some((body, *truncated)),
            _ => None,
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// The tokens of this process, one slot per endpoint and credentials.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl TokenCache {
    /// A usable token for `grant`: the cached one, or one fetched now with `client` (while other attempts
    /// for the same grant wait for it).
    pub async fn token(
        &self,
        client: &reqwest::Client,
        policy: &TargetPolicy,
        grant: &TokenGrant,
    ) -> Result<BearerToken, TokenError> {
        let slot = self.slot(grant);
        let mut cached = slot.lock().await;
        let fetched = match cached.as_ref().filter(|c| c.current()) {
            Some(current) => current.clone(),
            None => match fetch(client, policy, &grant.credentials).await {
                Ok(token) => Cached::Token(token),
                Err(error) => Cached::Failed {
                    error,
                    until: Instant::now() + FAILURE_HOLD,
                },
            },
        };
        *cached = Some(fetched.clone());
        match fetched {
            Cached::Token(token) => Ok(token),
            Cached::Failed { error, .. } => Err(error),
        }
    }

    /// Drops `token` when the endpoint refused it (`401`), unless another attempt already replaced it.
    pub async fn forget(&self, grant: &TokenGrant, token: &BearerToken) {
        let slot = self.slot(grant);
        let mut cached = slot.lock().await;
        if matches!(cached.as_ref(), Some(Cached::Token(c)) if c.value == token.value) {
            *cached = None;
        }
    }

    fn slot(&self, grant: &TokenGrant) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() > PRUNE_ABOVE {
            slots.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .map_or(true, |c| c.as_ref().is_some_and(Cached::current))
            });
        }
        slots.entry(grant.cache_key()).or_default().clone()
    }
}

/// Asks the token endpoint for a token with the client credentials grant.
async fn fetch(
    client: &reqwest::Client,
    policy: &TargetPolicy,
    credentials: &OAuth2ClientCredentials,
) -> Result<BearerToken, TokenError> {
    // The client's resolver checks names; a literal address is checked here, as for webhooks.
    policy
        .check_url(&credentials.token_url)
        .map_err(TokenError::NotAllowed)?;
    let mut request = client
        .post(&credentials.token_url)
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    if credentials.client_auth == ClientAuthentication::Basic {
        request = request.header(
            http::header::AUTHORIZATION,
            basic_authorization(&credentials.client_id, &credentials.client_secret),
        );
    }
    let started = Instant::now();
    let mut response = request
        .body(token_request_form(credentials))
        .send()
        .await
        .map_err(|e| unreachable(&e))?;
    let status = response.status();
    let (body, broke) = read_capped(&mut response, MAX_TOKEN_ANSWER).await;
    if let Some(e) = broke {
        return Err(unreachable(&e));
    }
    if !status.is_success() {
        let shown = MAX_RESPONSE_BODY.min(body.bytes.len());
        let text = String::from_utf8_lossy(&body.bytes[..shown]);
        return Err(TokenError::Refused {
            status,
            body: without_credentials(&text, credentials),
            truncated: body.truncated || shown < body.bytes.len(),
        });
    }
    let body = body.bytes;
    let unusable = |reason: &str| TokenError::Unusable {
        status,
        reason: reason.to_string(),
    };
    let answer: TokenAnswer = serde_json::from_slice(&body)
        .map_err(|_| unusable("it is not a JSON object with `access_token`"))?;
    if !answer.token_type.eq_ignore_ascii_case("bearer") {
        return Err(unusable("`token_type` is not Bearer"));
    }
    let header_safe = !answer.access_token.is_empty()
        && answer.access_token.bytes().all(|b| b.is_ascii_graphic());
    if !header_safe {
        return Err(unusable(
            "`access_token` is empty or holds characters a header cannot carry",
        ));
    }
    // A negative, NaN or absurd `expires_in` is no lifetime at all: the default stands in for it.
    let lifetime = answer
        .expires_in
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .map_or(DEFAULT_TOKEN_LIFETIME, |d| d.min(MAX_TOKEN_LIFETIME));
    let margin = EXPIRY_MARGIN.min(lifetime / 4);
    Ok(BearerToken {
        value: answer.access_token,
        use_until: started + lifetime - margin,
    })
}

/// The form of a client credentials request; the client's id and secret are in it for `body` auth.
fn token_request_form(credentials: &OAuth2ClientCredentials) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = &credentials.scope {
        form.append_pair("scope", scope);
    }
    if let Some(audience) = &credentials.audience {
        form.append_pair("audience", audience);
    }
    if credentials.client_auth == ClientAuthentication::Body {
        form.append_pair("client_id", &credentials.client_id);
        form.append_pair("client_secret", &credentials.client_secret);
    }
    form.finish()
}

/// `text` (what a token endpoint answered) without the client secret, however it was sent back: as
/// given, form-encoded, or as the whole Basic credentials.
fn without_credentials(text: &str, credentials: &OAuth2ClientCredentials) -> String {
    let secret = &credentials.client_secret;
    let form_encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let basic = basic_authorization(&credentials.client_id, secret);
    let basic = basic.trim_start_matches("Basic ").to_string();
    [basic, form_encoded, secret.clone()]
        .iter()
        .filter(|value| !value.is_empty())
        .fold(text.to_string(), |text, value| {
            text.replace(value.as_str(), MASK)
        })
}

/// RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined and base64-encoded.
fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let encode =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(client_secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn unreachable(error: &reqwest::Error) -> TokenError {
    if let Some(refused) = refusal_behind(error) {
        return TokenError::NotAllowed(refused.clone());
    }
    if error.is_timeout() {
        return TokenError::Unreachable("no complete answer within the timeout".into());
    }
    let detail = std::error::Error::source(error)
        .map(|s| s.to_string())
        .unwrap_or_else(|| error.to_string());
    TokenError::Unreachable(detail)
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    #[serde(default, deserialize_with = "seconds")]
    expires_in: Option<f64>,
}

/// `expires_in` as a number, or as the string some servers send.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Seconds {
        Number(f64),
        Text(String),
    }
    Ok(match Option::<Seconds>::deserialize(d)? {
        Some(Seconds::Number(n)) => Some(n),
        Some(Seconds::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

#[cfg(test)]
mod tests;
