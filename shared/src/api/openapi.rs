//! The API's OpenAPI 3.1 document: its top level (title, bearer security, tags) and the schemas of the
//! request bodies, which the handlers read by hand from JSON so that an error names the field (the sources'
//! notifications are read by their mappers' own types, which document themselves). Each schema here says
//! what that code reads. The response schemas are the [`views`](super::views) the handlers answer with;
//! the paths come from the `#[utoipa::path]` of each handler, gathered by the router.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::alert::{MessageType, Severity};
use crate::endpoint::HttpMethod;
use crate::endpoint::auth::ClientAuthentication;
use crate::endpoint::captures::MissingCapture;

/// The name of the bearer security scheme, as `security` refers to it.
const API_KEY: &str = "api_key";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "alertwire",
        description = "Alert ingestion, per-endpoint webhook templates, signed delivery with retries, resend and dead-letter replay."
    ),
    modifiers(&BearerApiKey),
    components(schemas(super::views::ErrorBody)),
    security(("api_key" = [])),
    tags(
        (name = "alerts", description = "Alerts in: our own format, Alertmanager and Grafana notifications; read back; and the route test"),
        (name = "endpoints", description = "Where alerts go and how each request is shaped"),
        (name = "deliveries", description = "Each alert on its way to each endpoint, with every attempt"),
        (name = "dead-letters", description = "Deliveries whose attempts all failed, and their replay"),
        (name = "settings", description = "The tenant's settings: where alertwire's own operational alerts go, and the default endpoint"),
        (name = "keys", description = "The tenant's API keys: listed by id and revoked"),
        (name = "maintenance", description = "Maintenance windows: when errors and reminders to an endpoint are held, and oks still sent"),
        (name = "service", description = "Health and this document"),
    )
)]
pub struct ApiDoc;

/// `Authorization: Bearer <API key>` on every `/v1` route.
struct BearerApiKey;

impl Modify for BearerApiKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The body of `POST /v1/alerts` and of a test send. Only `title` is required.
#[derive(ToSchema)]
#[schema(example = json!({
    "title": "Disk almost full on db-1",
    "description": "/var is 93% full",
    "severity": "high",
    "message_type": "error",
    "incident_key": "db-1-disk-var",
    "tags": ["db", "disk"],
    "context": {"host": "db-1", "used_percent": 93},
    "link": "https://monitoring.example.com/hosts/db-1",
    "source": "monitoring"
}))]
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertInput {
    #[schema(min_length = 1, max_length = 1000, pattern = r"\S")]
    pub title: String,
    #[schema(max_length = 65536)]
    pub description: Option<String>,
    /// Default `info`.
    pub severity: Option<Severity>,
    /// Default `error`.
    pub message_type: Option<MessageType>,
    /// Ties the error, reminders and ok of one incident together.
    #[schema(max_length = 2048)]
    pub incident_key: Option<String>,
    #[schema(max_items = 100, value_type = Option<Vec<String>>)]
    pub tags: Option<Vec<String>>,
    pub samples: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Map<String, Value>>,
    /// An http(s) URL.
    #[schema(max_length = 2048)]
    pub link: Option<String>,
    #[schema(max_length = 2048)]
    pub source: Option<String>,
    pub timeframe_start: Option<TimestampInput>,
    /// Not before `timeframe_start`.
    pub timeframe_end: Option<TimestampInput>,
    /// Names or ids of the tenant's endpoints this alert is for, at most 50: only they are considered,
    /// and their matchers, severity and message-type filters still apply. An unknown one is a `422` and
    /// nothing is stored. Absent: every endpoint.
    #[schema(max_items = 50)]
    pub endpoints: Option<Vec<String>>,
}

/// An RFC 3339 time, or epoch milliseconds.
#[derive(ToSchema, serde::Deserialize)]
#[serde(untagged)]
pub enum TimestampInput {
    Rfc3339(DateTime<Utc>),
    EpochMillis(i64),
}

/// The body of `POST /v1/endpoints` and `PUT /v1/endpoints/{id}`. `name` and `url` are required unless a
/// `preset` gives the URL. `url` and `body` are Mustache templates. `********` sent back for a masked value
/// keeps the stored one. A read view may be sent back as it is: its other fields are ignored.
#[derive(ToSchema)]
#[schema(example = json!({
    "name": "Ops webhook",
    "url": "https://hooks.example.com/alertwire",
    "method": "POST",
    "headers": {"X-Team": "ops", "Authorization": {"value": "Bearer abc123", "secret": true}},
    "min_severity": "medium",
    "message_types": {"reminder": null},
    "secret": "generate"
}))]
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointInput {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// A URL template; every URL it renders must pass the target policy.
    #[schema(min_length = 1, max_length = 4096, pattern = r"\S")]
    pub url: String,
    /// Fills method, URL (where the service has one), headers, content type and body.
    pub preset: Option<EndpointPreset>,
    /// Default `POST`.
    pub method: Option<HttpMethod>,
    /// Header name to value, or to `{"value", "secret"}`; at most 50.
    pub headers: Option<BTreeMap<String, HeaderInput>>,
    /// Default `application/json`.
    #[schema(max_length = 255)]
    pub content_type: Option<String>,
    /// A body template; default: the alert as JSON.
    #[schema(max_length = 65536)]
    pub body: Option<String>,
    /// Default `info`.
    pub min_severity: Option<Severity>,
    pub message_types: Option<MessageRoutesInput>,
    /// Label matchers in Alertmanager's syntax (`team="db"`, `env=~"prod|staging"`, `service!="canary"`,
    /// `tag!~"noisy|test"`), at most 32: the endpoint is routed an alert only when all hold. Labels: the
    /// alert's `name=value` tags, `severity`, `message_type`, `source`, and each bare tag as a value of
    /// `tag`. Regexes are fully anchored; a missing label has the value `""`. Absent or empty: every alert.
    #[schema(max_items = 32)]
    pub matchers: Option<Vec<String>>,
    /// `generate`, or a `whsec_` secret; none: requests are not signed.
    #[schema(
        max_length = 200,
        pattern = r"^(generate|\*{8}|whsec_\*{8}|whsec_((?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?))$"
    )]
    pub secret: Option<String>,
    #[schema(max_length = 1024)]
    pub verification_token: Option<String>,
    /// How requests authenticate beyond the signature: one method or a list, at most one of each type.
    /// Absent or `null`: none.
    pub auth: Option<AuthInput>,
    /// PEM certificates of the CAs the endpoint's HTTPS server is verified against, instead of the usual
    /// roots: for a server behind a private CA. Absent or `null`: the usual roots.
    #[schema(max_length = 65536)]
    pub ca_pem: Option<String>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Accepted and ignored, like the other read-only fields of a read view sent back.
    pub id: Option<Value>,
    /// Accepted and ignored.
    pub version: Option<Value>,
    /// Accepted and ignored.
    pub created_at: Option<Value>,
    /// Accepted and ignored.
    pub updated_at: Option<Value>,
    /// Accepted and ignored.
    pub disabled_reason: Option<Value>,
    /// Accepted and ignored.
    pub retiring_secrets: Option<Value>,
    /// Accepted and ignored.
    pub health: Option<Value>,
    /// Another endpoint of this tenant that receives the alert when a delivery here goes dead (all
    /// attempts failed, or `410 Gone`), rendered with that endpoint's own templates. Not this endpoint,
    /// no cycle, and a chain of at most 3 endpoints counting this one (A→B→C; A→B→C→D is refused).
    /// Absent or `null`: none.
    pub fallback_endpoint_id: Option<String>,
    /// Named values to take from the endpoint's 2XX answer to an incident's `error`, for the incident's
    /// `reminder` and `ok` templates (URL included) as `{{captured.<name>}}`: a JSON pointer (`/id`), a
    /// simple JSONPath (`$.id`, `$.result[0].sys_id`) or `header:<name>`. At most 10; names of lowercase
    /// letters, digits and `_`. With captures, an incident's `reminder` and `ok` wait until its `error` to
    /// this endpoint is delivered or dead. Absent or `null`: none.
    pub captures: Option<BTreeMap<String, String>>,
    /// What a `reminder` or `ok` does when a capture is missing: `send_without` (default; the variable
    /// renders empty) or `skip` (the delivery is `filtered`, reason `capture_missing`).
    pub capture_missing: Option<MissingCapture>,
    /// Opt in to digests during storms: once more than `after` `error` alerts reach this endpoint within
    /// `window_seconds` (5 to 86,400; a window opens with the first error), the further errors of the
    /// window are `filtered` (reason `digest`, linking to the digest delivery) and sent as one digest when
    /// the window ends, rendered with `body` (the `digest_*` variables beside every other; by default a
    /// JSON summary, or the preset's digest). `ok` and `reminder` are never folded. Absent or `null`: none.
    pub digest: Option<DigestInput>,
}

/// An endpoint's digest during storms.
#[derive(ToSchema, serde::Deserialize)]
#[allow(dead_code)]
pub struct DigestInput {
    /// How many errors a window sends one by one (1 to 10,000).
    #[schema(minimum = 1, maximum = 10_000)]
    pub after: u32,
    /// How long a window lasts, from its first error (5 to 86,400 seconds).
    #[schema(minimum = 5, maximum = 86_400)]
    pub window_seconds: u32,
    /// The digest's template, sent with the method, URL and headers of `error` messages.
    pub body: Option<String>,
}

/// One authentication method, or a list of them.
#[derive(ToSchema, serde::Deserialize)]
#[serde(untagged)]
pub enum AuthInput {
    One(AuthMethodInput),
    /// At most 4.
    Many(Vec<AuthMethodInput>),
}

#[derive(ToSchema, serde::Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum AuthMethodInput {
    /// `Authorization: Bearer <token>` with a token from `token_url` (OAuth2 client credentials grant,
    /// RFC 6749 §4.4), cached in memory until shortly before `expires_in`, fetched again once when the
    /// endpoint answers `401`. The token URL must pass the target policy like the endpoint's URL. No
    /// `Authorization` header may be configured beside it.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials {
        #[schema(min_length = 1, max_length = 4096)]
        token_url: String,
        #[schema(min_length = 1, max_length = 1024)]
        client_id: String,
        /// `********` keeps the stored secret, as long as `token_url` is unchanged.
        #[schema(min_length = 1, max_length = 4096)]
        client_secret: String,
        #[schema(max_length = 1024)]
        scope: Option<String>,
        #[schema(max_length = 1024)]
        audience: Option<String>,
        /// Default `basic`.
        client_auth: Option<ClientAuthentication>,
    },
    /// A TLS client certificate presented to the endpoint. Checked at save: the PEM parses, the key
    /// belongs to the certificate, and the certificate is valid now. Not presented to an OAuth2 token URL.
    #[serde(rename = "mtls")]
    Mtls {
        /// The client's certificate first, then any intermediates (at most 16).
        #[schema(min_length = 1, max_length = 65536)]
        certificate_pem: String,
        /// PKCS#8, PKCS#1 or SEC1 PEM; `********` keeps the stored key.
        #[schema(min_length = 1, max_length = 65536)]
        private_key_pem: String,
        /// Accepted and ignored (a read view's expiry sent back).
        not_after: Option<Value>,
    },
}

#[derive(ToSchema, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointPreset {
    Slack,
    Teams,
    Pagerduty,
    Opsgenie,
    Panther,
}

/// A header's value; secret unless said otherwise for `Authorization`, `X-Api-Key`, `Cookie` and
/// `Proxy-Authorization`.
#[derive(ToSchema, serde::Deserialize)]
#[serde(untagged)]
pub enum HeaderInput {
    Value(String),
    Detailed(HeaderValueInput),
}

#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderValueInput {
    pub value: String,
    pub secret: Option<bool>,
}

/// Per message type: absent for the endpoint's defaults, `null` to send nothing, an object to override.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageRoutesInput {
    pub error: Option<RouteInput>,
    pub reminder: Option<RouteInput>,
    pub ok: Option<RouteInput>,
}

#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteInput {
    pub method: Option<HttpMethod>,
    #[schema(max_length = 4096)]
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, HeaderInput>>,
    #[schema(max_length = 65536)]
    pub body: Option<String>,
}

/// The optional body of `POST /v1/endpoints/{id}/rotate-secret`.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRotationInput {
    /// `generate` (the default) or a `whsec_` secret.
    #[schema(
        max_length = 200,
        pattern = r"^(generate|whsec_((?:[A-Za-z0-9+/]{4}){8,20}(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?|(?:[A-Za-z0-9+/]{4}){21}(?:[A-Za-z0-9+/][AQgw]==)?))$"
    )]
    pub secret: Option<String>,
    /// How long the old secret keeps signing; default 86400 (24 h).
    #[schema(minimum = 0, maximum = 604800)]
    pub grace_period_seconds: Option<i64>,
}

/// The optional body of `POST /v1/dead-letters/replay`: none or `{}` for all, else `ids` or `endpoint_id`.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayInput {
    #[schema(max_items = 10000)]
    pub ids: Option<Vec<String>>,
    #[schema(max_length = 200)]
    pub endpoint_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// The repository's `openapi.json` is the document the code generates. To bring it up to date after a
    /// change to the API: `UPDATE_OPENAPI=1 cargo test -p alertwire-shared committed_openapi_json`.
    #[test]
    fn committed_openapi_json_is_what_the_code_generates() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi.json");
        let generated = super::super::openapi_json();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, generated).expect("openapi.json is writable");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            let first_difference = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || "one is a prefix of the other".to_string(),
                    |i| format!("first at line {}", i + 1),
                );
            panic!(
                "openapi.json differs from the document the code generates ({first_difference}); \
                 regenerate it with `UPDATE_OPENAPI=1 cargo test -p alertwire-shared committed_openapi_json` \
                 and commit it"
            );
        }
    }

    #[test]
    fn the_document_is_openapi_3_1_with_bearer_security() {
        let document: serde_json::Value =
            serde_json::from_str(super::super::openapi_json()).expect("valid JSON");
        assert_eq!(document["openapi"], "3.1.0");
        assert_eq!(
            document["components"]["securitySchemes"]["api_key"]["scheme"],
            "bearer"
        );
        assert_eq!(document["security"][0]["api_key"], serde_json::json!([]));
        assert_eq!(
            document["paths"]["/healthz"]["get"]["security"],
            serde_json::json!([{}]),
            "the health check needs no key"
        );
    }
}

/// "Run the test" before saving: an endpoint definition as `POST /v1/endpoints` takes it, and optionally an
/// alert to send instead of the sample.
#[derive(ToSchema)]
pub struct UnsavedEndpointTest {
    pub endpoint: EndpointInput,
    pub alert: Option<AlertInput>,
    /// What an incident's error captured, for templates naming `captured.<name>`; absent: the sample
    /// value `sample-<name>` for each declared capture.
    pub captured: Option<BTreeMap<String, String>>,
    /// Send the endpoint's digest (its `digest.body`) of a sample storm: the alert, or the sample, folded
    /// twice, in a digest of 25. Default `false`.
    pub digest: Option<bool>,
}

/// The body of `POST /v1/maintenance-windows`: a name, the endpoint (absent: every endpoint of the
/// tenant), and either `start` and `end`, or `recurring`.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "never built: it documents the body the handler reads field by field"
)]
pub struct MaintenanceWindowInput {
    #[schema(max_length = 200)]
    pub name: String,
    pub endpoint_id: Option<String>,
    /// RFC 3339, with `end`: a window given once, at most 31 days long.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub recurring: Option<RecurringInput>,
}

/// A weekly window: every listed day from `from` until `to` (local time in `time_zone`); a `to` not after
/// `from` ends the next day.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "never built: it documents the body the handler reads field by field"
)]
pub struct RecurringInput {
    /// An IANA time zone name: `Europe/Berlin`, `America/New_York`, `UTC`.
    pub time_zone: String,
    /// `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`.
    pub days: Vec<String>,
    /// `HH:MM`, 24 hours.
    #[schema(pattern = r"^[0-2][0-9]:[0-5][0-9]$")]
    pub from: String,
    #[schema(pattern = r"^[0-2][0-9]:[0-5][0-9]$")]
    pub to: String,
}

/// The body of `PUT /v1/settings`: every setting; one absent or `null` is cleared.
#[derive(ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsInput {
    /// An endpoint of this tenant that receives alertwire's operational alerts (`delivery.dead`,
    /// `endpoint.disabled`, `endpoint.failing` at most once an hour per endpoint, `endpoint.recovered`)
    /// as alerts of `source: "alertwire"`, never about itself.
    #[schema(max_length = 200)]
    pub operations_endpoint_id: Option<String>,
    /// An endpoint of this tenant that receives every alert routed to no endpoint (no endpoint's
    /// `matchers` held, or none it named took it), like Alertmanager's root route; its own matchers are
    /// not asked, its severity and message-type filters still apply. The alert stays counted as unrouted.
    #[schema(max_length = 200)]
    pub default_endpoint_id: Option<String>,
}
