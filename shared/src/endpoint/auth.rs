//! How an endpoint proves who is calling, beyond the signature every request carries: an OAuth2 bearer
//! token from the receiver's own identity provider (client credentials, RFC 6749 §4.4). The token itself is
//! never part of the endpoint: the sender fetches and caches it ([`crate::outbound::oauth2`]).

use serde::{Deserialize, Serialize};

/// One way of authenticating requests to an endpoint; an endpoint has at most one of each kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EndpointAuth {
    /// `Authorization: Bearer <token>`, the token fetched with the client credentials grant.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2(OAuth2ClientCredentials),
}

impl EndpointAuth {
    /// The name of its kind, as `type` in the API.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OAuth2(_) => "oauth2_client_credentials",
        }
    }
}

/// The client credentials grant: what is posted to `token_url` to get a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuth2ClientCredentials {
    /// Checked against the target policy at save and on every fetch, like the endpoint's URL.
    pub token_url: String,
    pub client_id: String,
    /// Sealed at rest, masked in every answer and scrubbed from every stored response.
    pub client_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Asked for by Auth0 and others to name the API the token is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    pub client_auth: ClientAuthentication,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuthentication {
    /// HTTP Basic with the form-encoded id and secret: what the RFC says every server must accept.
    #[default]
    Basic,
    /// `client_id` and `client_secret` as fields of the form.
    Body,
}

impl ClientAuthentication {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Body => "body",
        }
    }
}

/// The OAuth2 credentials among `auth`, if any.
pub fn oauth2(auth: &[EndpointAuth]) -> Option<&OAuth2ClientCredentials> {
    auth.iter()
        .map(|a| match a {
            EndpointAuth::OAuth2(credentials) => credentials,
        })
        .next()
}
