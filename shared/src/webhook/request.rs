//! The HTTP request one attempt sends: the route's method and URL, the rendered body, the endpoint's
//! headers and the Standard Webhooks signature headers, and the OAuth2 grant whose token the sender adds.

use chrono::{DateTime, Utc};

use crate::alert::Alert;
use crate::digest::DigestFacts;
use crate::endpoint::auth;
use crate::endpoint::captures::CapturedValues;
use crate::endpoint::{CompiledEndpoint, HttpMethod, MASK};
use crate::outbound::endpoint_tls::EndpointTls;
use crate::outbound::oauth2::TokenGrant;
use crate::render_context::{self, DeliveryFacts, Names};
use crate::template::RenderError;

/// Largest rendered body; a template that renders more fails that delivery with a clear error.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_URL_BYTES: usize = 8 * 1024;
pub const USER_AGENT: &str = concat!("alertwire/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingRequest {
    pub method: HttpMethod,
    pub url: String,
    /// In sending order; `secret` marks values that are never shown.
    pub headers: Vec<OutgoingHeader>,
    pub body: String,
    /// The endpoint's OAuth2 grant: the sender adds `Authorization: Bearer` with a token it gets for it.
    pub oauth2: Option<TokenGrant>,
    /// The endpoint's own CAs and client certificate, when it has them.
    pub tls: Option<EndpointTls>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingHeader {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

/// Who the request is for and which attempt it is.
pub struct RequestFacts<'a> {
    pub delivery_id: &'a str,
    pub attempt: u32,
    pub now: DateTime<Utc>,
    /// The dead delivery this one stands in for, on a fallback endpoint.
    pub fallback_of: Option<&'a str>,
    /// What the endpoint captured from the answer to the incident's error.
    pub captured: Option<&'a CapturedValues>,
    /// What a digest delivery lists; its body is the endpoint's digest template.
    pub digest: Option<&'a DigestFacts>,
}

/// Renders the request for `alert`, or `None` when the endpoint sends nothing for its message type. A
/// digest (`facts.digest`) is rendered with the endpoint's digest template, sent as its errors are.
pub fn build(
    endpoint: &CompiledEndpoint,
    alert: &Alert,
    facts: &RequestFacts<'_>,
) -> Result<Option<OutgoingRequest>, RenderError> {
    let Some(route) = endpoint.route(alert.content.message_type) else {
        return Ok(None);
    };
    let config = &endpoint.endpoint;
    let body_template = match facts.digest {
        Some(_) => endpoint.digest_body(),
        None => &route.body,
    };
    let context = render_context::context_with(
        alert,
        &DeliveryFacts {
            delivery_id: facts.delivery_id,
            attempt: facts.attempt,
            endpoint_id: config.id.as_str(),
            endpoint_name: &config.name,
            verification_token: config.verification_token.as_deref(),
            fallback_of: facts.fallback_of,
            captured: facts.captured,
            digest: facts.digest,
        },
        Names::UsedBy(&[&route.url, body_template]),
    );
    let url = route.url.render(&context, MAX_URL_BYTES)?;
    let body = if route.method.has_body() {
        body_template.render(&context, MAX_BODY_BYTES)?
    } else {
        String::new()
    };
    let mut headers: Vec<OutgoingHeader> = route
        .headers
        .iter()
        .map(|h| OutgoingHeader {
            name: h.name.clone(),
            value: h.value.clone(),
            secret: h.secret,
        })
        .collect();
    let mut add = |name: &str, value: String, secret: bool| {
        headers.push(OutgoingHeader {
            name: name.into(),
            value,
            secret,
        })
    };
    if route.method.has_body() {
        add("content-type", config.content_type.clone(), false);
    }
    add("user-agent", USER_AGENT.to_string(), false);
    let timestamp = facts.now.timestamp();
    add("webhook-id", facts.delivery_id.to_string(), false);
    add("webhook-timestamp", timestamp.to_string(), false);
    // During a rotation every signing secret signs; receivers accept any one that verifies.
    let signatures: Vec<String> = config
        .signing_secrets(facts.now)
        .map(|secret| secret.sign(facts.delivery_id, timestamp, body.as_bytes()))
        .collect();
    if !signatures.is_empty() {
        add("webhook-signature", signatures.join(" "), false);
    }
    Ok(Some(OutgoingRequest {
        method: route.method,
        url,
        headers,
        body,
        oauth2: auth::oauth2(&config.auth).map(|credentials| TokenGrant {
            endpoint_id: config.id.clone(),
            credentials: credentials.clone(),
        }),
        tls: EndpointTls::of(config),
    }))
}

impl OutgoingRequest {
    /// Headers as they may be shown: secret values masked.
    pub fn shown_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|h| {
                (
                    h.name.clone(),
                    if h.secret {
                        MASK.to_string()
                    } else {
                        h.value.clone()
                    },
                )
            })
            .collect()
    }
}
