//! The endpoint: where a tenant's alerts go, how the request is shaped per message type, and which alerts
//! it wants. Its JSON input is validated in [`input`], so nothing invalid is ever stored.

pub mod auth;
mod auth_input;
pub mod captures;
pub mod certificates;
pub mod circuit;
mod compiled;
pub mod fallback_chain;
pub mod health;
mod input;
pub mod presets;
mod sealed_document;
mod secrets;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alert::{MessageType, Severity};
use crate::digest::DigestPolicy;
use crate::endpoint::auth::EndpointAuth;
use crate::endpoint::captures::{CaptureSpecs, MissingCapture};
use crate::endpoint::health::EndpointHealth;
use crate::ids::{EndpointId, TenantId};
use crate::webhook::signing::WebhookSecret;

pub use compiled::{CompiledEndpoint, CompiledRoute};
pub use input::{EndpointInput, SecretRotation};
pub use sealed_document::{OpenedDocuments, open_document, sealed_document};

/// What the API shows in place of a secret value. Sending it back in a replace keeps the stored value.
pub const MASK: &str = "********";
/// What the API shows in place of a signing secret; sent back, it keeps the stored one too.
pub const SECRET_MASK: &str = "whsec_********";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Post,
    Put,
    Patch,
    Get,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Get => "GET",
            Self::Delete => "DELETE",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Post, Self::Put, Self::Patch, Self::Get, Self::Delete]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text))
    }

    /// Whether the request carries the rendered body.
    pub fn has_body(self) -> bool {
        self != Self::Get
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderSpec {
    pub name: String,
    pub value: String,
    /// Masked in every API answer and log.
    pub secret: bool,
}

/// How one message type differs from the endpoint's defaults; `None` inherits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteOverride {
    pub method: Option<HttpMethod>,
    pub url: Option<String>,
    pub headers: Option<Vec<HeaderSpec>>,
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Route {
    /// Send with the endpoint's own method, URL, headers and body.
    #[default]
    Default,
    /// Send nothing for this message type (the delivery is `filtered`).
    Off,
    Override(RouteOverride),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageRoutes {
    pub error: Route,
    pub reminder: Route,
    pub ok: Route,
}

impl MessageRoutes {
    pub fn get(&self, message_type: MessageType) -> &Route {
        match message_type {
            MessageType::Error => &self.error,
            MessageType::Reminder => &self.reminder,
            MessageType::Ok => &self.ok,
        }
    }

    fn get_mut(&mut self, message_type: MessageType) -> &mut Route {
        match message_type {
            MessageType::Error => &mut self.error,
            MessageType::Reminder => &mut self.reminder,
            MessageType::Ok => &mut self.ok,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: EndpointId,
    pub tenant: TenantId,
    pub name: String,
    pub url: String,
    pub method: HttpMethod,
    pub headers: Vec<HeaderSpec>,
    pub content_type: String,
    pub body: String,
    pub min_severity: Severity,
    pub message_types: MessageRoutes,
    /// Label matchers in Alertmanager's syntax, each in its canonical form: the endpoint is routed an
    /// alert only when all of them hold ([`crate::routing`]). None: every alert of the tenant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    pub secret: Option<WebhookSecret>,
    /// Replaced secrets that still sign beside `secret` until their grace period ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retiring_secrets: Vec<RetiringSecret>,
    pub verification_token: Option<String>,
    /// How requests prove who sends them beyond the signature: at most one of each kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth: Vec<EndpointAuth>,
    /// The certificate authorities (PEM) the endpoint's HTTPS server is verified against, in place of the
    /// usual roots: for servers behind a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Attempts to this endpoint in flight at once, at most (per process, or per Lambda container).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: u32,
    /// Attempts started per second, at most (per process, or per Lambda container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_second: Option<f64>,
    /// Kept by the store beside the endpoint, not in it: a replace never overwrites it.
    #[serde(skip)]
    pub health: EndpointHealth,
    /// Increases with every replace; compiled templates are cached per version.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Another endpoint of the same tenant that gets the alert when a delivery here dies of its attempts
    /// (all spent, `410 Gone`): a new delivery, rendered with that endpoint's templates. Refused at save
    /// when it names this endpoint, an unknown (or another tenant's) endpoint, closes a cycle, or makes a
    /// chain of more than [`MAX_FALLBACK_CHAIN`] endpoints counted from the first, this one included:
    /// A→B→C (three endpoints, two fallbacks) is allowed, A→B→C→D (four) is not. Checked in
    /// [`fallback_chain::check`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_endpoint_id: Option<EndpointId>,
    /// Values taken from the 2XX answer to an incident's `error`, by name, for the incident's later
    /// messages (`{{captured.<name>}}`); see [`captures`].
    #[serde(default, skip_serializing_if = "CaptureSpecs::is_empty")]
    pub captures: CaptureSpecs,
    /// What a `reminder` or `ok` does when a capture it could use is missing.
    #[serde(default, skip_serializing_if = "is_default_missing")]
    pub capture_missing: MissingCapture,
    /// During a storm, the errors past the first `after` of a window are folded into one digest delivery
    /// ([`crate::digest`]); none: every error is sent by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestPolicy>,
}

fn is_default_missing(rule: &MissingCapture) -> bool {
    *rule == MissingCapture::default()
}

impl Endpoint {
    /// Whether this endpoint follows incidents: it captures values from an error's answer, so the
    /// incident's later messages wait for that error and use them.
    pub fn follows_incidents(&self) -> bool {
        !self.captures.is_empty()
    }
}

fn default_max_in_flight() -> u32 {
    crate::delivery::pacing::DEFAULT_MAX_IN_FLIGHT
}

/// The `disabled_reason` of an endpoint its owner switched off (any other was given by alertwire).
pub const USER_DISABLED_REASON: &str = "disabled by the user";

/// The most endpoints a fallback chain may hold, the first one included: A→B→C is allowed (two
/// fallbacks after A), A→B→C→D is not. So one alert reaches at most three endpoints of a chain.
pub const MAX_FALLBACK_CHAIN: usize = 3;

/// A secret that was replaced and keeps signing, beside the new one, until `until`: receivers that
/// still verify with it go on working while they switch (Standard Webhooks sends both signatures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringSecret {
    pub secret: WebhookSecret,
    pub until: DateTime<Utc>,
}

/// How long a replaced secret keeps signing when the request does not say.
pub const DEFAULT_SECRET_GRACE: chrono::Duration = chrono::Duration::hours(24);
/// The longest grace period a rotation may ask for.
pub const MAX_SECRET_GRACE: chrono::Duration = chrono::Duration::days(7);
