//! How an endpoint proves who is calling, beyond the signature every request carries: an OAuth2 bearer
//! token from the receiver's own identity provider (client credentials, RFC 6749 §4.4), and a TLS client
//! certificate (mTLS). The token itself is never part of the endpoint: the sender fetches and caches it
//! ([`crate::outbound::oauth2`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One way of authenticating requests to an endpoint; an endpoint has at most one of each kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EndpointAuth {
    /// `Authorization: Bearer <token>`, the token fetched with the client credentials grant.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2(OAuth2ClientCredentials),
    /// A client certificate presented in the TLS handshake.
    Mtls(ClientCertificate),
}

impl EndpointAuth {
    /// The name of its kind, as `type` in the API.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OAuth2(_) => "oauth2_client_credentials",
            Self::Mtls(_) => "mtls",
        }
    }

    /// Its secret value: the client secret, or the private key.
    pub fn secret_value(&self) -> &str {
        match self {
            Self::OAuth2(credentials) => &credentials.client_secret,
            Self::Mtls(certificate) => &certificate.private_key_pem,
        }
    }
}

/// The client credentials grant: what is posted to `token_url` to get a bearer token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
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

impl std::fmt::Debug for OAuth2ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2ClientCredentials")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
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

/// A TLS client certificate and its key, checked at save ([`super::certificates`]): the PEM parses, the
/// key belongs to the certificate, and the certificate is valid then.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientCertificate {
    /// The client's certificate first, then any intermediates.
    pub certificate_pem: String,
    /// Sealed at rest, masked in every answer.
    pub private_key_pem: String,
    /// When the client's certificate expires, read from it at save.
    pub not_after: DateTime<Utc>,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// The OAuth2 credentials among `auth`, if any.
pub fn oauth2(auth: &[EndpointAuth]) -> Option<&OAuth2ClientCredentials> {
    auth.iter().find_map(|a| match a {
        EndpointAuth::OAuth2(credentials) => Some(credentials),
        _ => None,
    })
}

/// The client certificate among `auth`, if any.
pub fn client_certificate(auth: &[EndpointAuth]) -> Option<&ClientCertificate> {
    auth.iter().find_map(|a| match a {
        EndpointAuth::Mtls(certificate) => Some(certificate),
        _ => None,
    })
}
