//! What the API answers: one typed view per response body, serialized as the answer and documented from the
//! same type, so the OpenAPI document cannot drift from the JSON. Views are built from the domain with
//! `From`; masking secrets is done here, as the API shows an endpoint, not by the domain.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::alert::{Alert, MessageType, Severity};
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::digest::DigestPolicy;
use crate::endpoint::auth::{ClientAuthentication, EndpointAuth};
use crate::endpoint::captures::MissingCapture;
use crate::endpoint::circuit::{self, CircuitState};
use crate::endpoint::health::EndpointHealth;
use crate::endpoint::{Endpoint, HeaderSpec, HttpMethod, MASK, Route, RouteOverride, SECRET_MASK};
use crate::ids::EndpointId;
use crate::input_error::TextPosition;
use crate::maintenance::{MaintenanceWindow, Schedule};
use crate::ports::store::{AlertReceipt, ApiKeyRecord};
use crate::retention::Retention;
use crate::service::{CappedStats, EndpointRoute, RouteMiss, RouteTest};
use crate::tenant_settings::TenantSettings;

/// An endpoint as the API shows it. Secret values are masked as `********` (`whsec_********` for signing
/// secrets), except the new signing secret in the answer that created or set it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: String,
    pub name: String,
    pub url: String,
    pub method: HttpMethod,
    pub headers: BTreeMap<String, HeaderView>,
    pub content_type: String,
    pub body: String,
    pub min_severity: Severity,
    pub message_types: MessageRoutesView,
    /// Label matchers in Alertmanager's syntax: the endpoint is routed an alert only when all hold.
    /// Empty: every alert.
    pub matchers: Vec<String>,
    pub secret: Option<String>,
    pub verification_token: Option<String>,
    /// How requests authenticate beyond the signature; secrets masked.
    pub auth: Vec<AuthView>,
    /// The CAs (PEM) the endpoint's server is verified against instead of the usual roots; none when absent.
    pub ca_pem: Option<String>,
    pub retiring_secrets: Vec<RetiringSecretView>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    /// Attempts in flight at once, at most (per process, or per Lambda container).
    pub max_in_flight: u32,
    /// Attempts started per second, at most; `null` for no limit.
    pub rate_limit_per_second: Option<f64>,
    pub health: HealthView,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Where this endpoint's dead deliveries go; none when absent.
    pub fallback_endpoint_id: Option<String>,
    /// Values taken from the answer to an incident's error, by name, with where each is taken from.
    pub captures: BTreeMap<String, String>,
    /// What an `ok` or `reminder` does when a capture is missing: `send_without` or `skip`.
    pub capture_missing: MissingCapture,
    /// The digest this endpoint gets in place of single errors during a storm; none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<DigestPolicy>,
}

impl EndpointView {
    /// The one answer that shows the signing secret: the one that created or set it.
    pub fn revealing_secret(endpoint: &Endpoint) -> Self {
        Self {
            secret: endpoint.secret.as_ref().map(|s| s.expose()),
            ..Self::from(endpoint)
        }
    }
}

/// Every other answer: every secret value masked.
impl From<&Endpoint> for EndpointView {
    fn from(endpoint: &Endpoint) -> Self {
        Self {
            id: endpoint.id.to_string(),
            name: endpoint.name.clone(),
            url: endpoint.url.clone(),
            method: endpoint.method,
            headers: header_views(&endpoint.headers),
            content_type: endpoint.content_type.clone(),
            body: endpoint.body.clone(),
            min_severity: endpoint.min_severity,
            message_types: MessageRoutesView {
                error: route_view(&endpoint.message_types.error),
                reminder: route_view(&endpoint.message_types.reminder),
                ok: route_view(&endpoint.message_types.ok),
            },
            matchers: endpoint.matchers.clone(),
            secret: endpoint.secret.as_ref().map(|_| SECRET_MASK.to_string()),
            verification_token: endpoint.verification_token.as_ref().map(|_| MASK.into()),
            auth: endpoint.auth.iter().map(AuthView::from).collect(),
            ca_pem: endpoint.ca_pem.clone(),
            retiring_secrets: endpoint
                .retiring_secrets
                .iter()
                .map(|r| RetiringSecretView {
                    secret: SECRET_MASK.to_string(),
                    until: r.until,
                })
                .collect(),
            enabled: endpoint.enabled,
            disabled_reason: endpoint.disabled_reason.clone(),
            max_in_flight: endpoint.max_in_flight,
            rate_limit_per_second: endpoint.rate_limit_per_second,
            health: HealthView::from(&endpoint.health),
            version: endpoint.version,
            created_at: endpoint.created_at,
            updated_at: endpoint.updated_at,
            fallback_endpoint_id: endpoint
                .fallback_endpoint_id
                .as_ref()
                .map(|f| f.to_string()),
            captures: endpoint.captures.clone(),
            capture_missing: endpoint.capture_missing,
            digest: endpoint.digest.clone(),
        }
    }
}

/// One way an endpoint's requests authenticate, its secret masked.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type")]
pub enum AuthView {
    /// A bearer token from `token_url` with the client credentials grant.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials {
        token_url: String,
        client_id: String,
        /// Always `********`.
        client_secret: String,
        scope: Option<String>,
        audience: Option<String>,
        client_auth: ClientAuthentication,
    },
    /// A client certificate presented in the TLS handshake.
    #[serde(rename = "mtls")]
    Mtls {
        certificate_pem: String,
        /// Always `********`.
        private_key_pem: String,
        /// When the certificate expires.
        not_after: DateTime<Utc>,
    },
}

impl From<&EndpointAuth> for AuthView {
    fn from(auth: &EndpointAuth) -> Self {
        match auth {
            EndpointAuth::OAuth2(c) => Self::OAuth2ClientCredentials {
                token_url: c.token_url.clone(),
                client_id: c.client_id.clone(),
                client_secret: MASK.to_string(),
                scope: c.scope.clone(),
                audience: c.audience.clone(),
                client_auth: c.client_auth,
            },
            EndpointAuth::Mtls(c) => Self::Mtls {
                certificate_pem: c.certificate_pem.clone(),
                private_key_pem: MASK.to_string(),
                not_after: c.not_after,
            },
        }
    }
}

/// How the endpoint's recent attempts went.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// Failed attempts since the last success.
    pub failure_streak: u32,
    pub failing_since: Option<DateTime<Utc>>,
    pub last_failure_at: Option<DateTime<Utc>>,
    /// No attempt before this time: the endpoint answered `429` with `Retry-After`.
    pub slowed_until: Option<DateTime<Utc>>,
    pub circuit: CircuitView,
}

/// The endpoint's circuit breaker.
#[derive(Debug, Serialize, ToSchema)]
pub struct CircuitView {
    pub state: CircuitState,
    /// When the circuit opened; `null` while closed.
    pub since: Option<DateTime<Utc>>,
    /// When the next probe goes (open), or when the probe in flight is given up (half open).
    pub probe_at: Option<DateTime<Utc>>,
    /// Connection failures, timeouts and 5XX answers in a row.
    pub outage_streak: u32,
    /// The last failure, in words.
    pub last_error: Option<String>,
}

impl From<&EndpointHealth> for HealthView {
    fn from(health: &EndpointHealth) -> Self {
        Self {
            failure_streak: health.failure_streak,
            failing_since: health.failing_since,
            last_failure_at: health.last_failure_at,
            slowed_until: health.slowed_until,
            circuit: CircuitView {
                state: circuit::state(health),
                since: health.circuit.as_ref().map(|c| c.opened_at),
                probe_at: health.circuit.as_ref().map(|c| c.probe_at),
                outage_streak: health.outage_streak,
                last_error: health.last_error.clone(),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HeaderView {
    pub value: String,
    pub secret: bool,
}

/// By name; a secret value is masked. Of two headers with one name, the later shows.
fn header_views(headers: &[HeaderSpec]) -> BTreeMap<String, HeaderView> {
    headers
        .iter()
        .map(|h| {
            let value = if h.secret { MASK } else { h.value.as_str() };
            let view = HeaderView {
                value: value.to_string(),
                secret: h.secret,
            };
            (h.name.clone(), view)
        })
        .collect()
}

/// Per message type: `{}` for the defaults, `null` when switched off, else what is overridden.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageRoutesView {
    pub error: Option<RouteView>,
    pub reminder: Option<RouteView>,
    pub ok: Option<RouteView>,
}

// What one message type overrides; a field it does not override is absent, never `null`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct RouteView {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub method: Option<HttpMethod>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub headers: Option<BTreeMap<String, HeaderView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub body: Option<String>,
}

/// `None` (shown as `null`) when the message type is switched off.
fn route_view(route: &Route) -> Option<RouteView> {
    match route {
        Route::Off => None,
        Route::Default => Some(RouteView::default()),
        Route::Override(RouteOverride {
            method,
            url,
            headers,
            body,
        }) => Some(RouteView {
            method: *method,
            url: url.clone(),
            headers: headers.as_deref().map(header_views),
            body: body.clone(),
        }),
    }
}

/// A replaced signing secret that still signs until `until`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetiringSecretView {
    /// Always masked.
    pub secret: String,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub endpoints: Vec<EndpointView>,
}

/// An API key as the API shows it: never the key, nor its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyView {
    /// The key's public id, for `DELETE /v1/keys/{id}`.
    #[schema(example = "key_01938f2a6c7e7b3d9a4f1e2d3c4b5a69")]
    pub id: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(record: &ApiKeyRecord) -> Self {
        Self {
            id: record.id.to_string(),
            label: record.label.clone(),
            created_at: record.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub keys: Vec<ApiKeyView>,
}

/// A maintenance window as the API shows it: its schedule as it was given, and whether it is open now.
#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceWindowView {
    pub id: String,
    pub name: String,
    /// The endpoint whose errors and reminders it holds; `null`: every endpoint of the tenant.
    pub endpoint_id: Option<String>,
    /// A window given once: its start and end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<DateTime<Utc>>,
    /// A weekly window: the days and the local time range in `time_zone`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recurring: Option<RecurringView>,
    pub created_at: DateTime<Utc>,
    /// The end of the occurrence open now; `null` when the window is closed.
    pub open_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RecurringView {
    pub time_zone: String,
    pub days: Vec<String>,
    pub from: String,
    pub to: String,
}

impl MaintenanceWindowView {
    pub fn of(window: &MaintenanceWindow, now: DateTime<Utc>) -> Self {
        let (start, end, recurring) = match &window.schedule {
            Schedule::Once { start, end } => (Some(*start), Some(*end), None),
            Schedule::Weekly {
                time_zone,
                days,
                from,
                to,
            } => (
                None,
                None,
                Some(RecurringView {
                    time_zone: time_zone.clone(),
                    days: days.clone(),
                    from: from.clone(),
                    to: to.clone(),
                }),
            ),
        };
        Self {
            id: window.id.clone(),
            name: window.name.clone(),
            endpoint_id: window.endpoint_id.as_ref().map(|e| e.to_string()),
            start,
            end,
            recurring,
            created_at: window.created_at,
            open_until: window.open_until(now),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MaintenanceWindowList {
    pub maintenance_windows: Vec<MaintenanceWindowView>,
}

/// A delivery as the API shows it, with every attempt of every run.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    pub alert_id: String,
    pub endpoint_id: String,
    pub message_type: MessageType,
    pub status: DeliveryStatus,
    pub status_reason: Option<String>,
    pub run: u32,
    pub attempt_count: u64,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attempts: Vec<Attempt>,
    /// The dead delivery this one stands in for, made at its endpoint's fallback endpoint.
    pub fallback_of: Option<String>,
    /// The delivery made at the fallback endpoint when this one went dead.
    pub fallback_delivery_id: Option<String>,
    /// The digest delivery this one's alert was folded into (status `filtered`, reason `digest`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_delivery_id: Option<String>,
    /// Where the API shows that digest delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest_delivery_url: Option<String>,
}

impl From<&Delivery> for DeliveryView {
    fn from(delivery: &Delivery) -> Self {
        Self {
            id: delivery.id.to_string(),
            alert_id: delivery.alert_id.to_string(),
            endpoint_id: delivery.endpoint_id.to_string(),
            message_type: delivery.message_type,
            status: delivery.status,
            status_reason: delivery.status_reason.clone(),
            run: delivery.run,
            attempt_count: delivery.attempts.len() as u64,
            next_attempt_at: delivery.next_attempt_at,
            created_at: delivery.created_at,
            updated_at: delivery.updated_at,
            attempts: delivery.attempts.clone(),
            fallback_of: delivery.fallback_of.as_ref().map(|d| d.to_string()),
            fallback_delivery_id: delivery
                .fallback_delivery_id
                .as_ref()
                .map(|d| d.to_string()),
            digest_delivery_id: delivery.digest_delivery_id.as_ref().map(|d| d.to_string()),
            digest_delivery_url: delivery
                .digest_delivery_id
                .as_ref()
                .map(|d| format!("/v1/deliveries/{d}")),
        }
    }
}

/// The tenant's settings, and the service's retention beside them.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// Where alertwire's operational alerts go; none when absent.
    pub operations_endpoint_id: Option<String>,
    /// Where an alert routed to no endpoint goes; none when absent.
    pub default_endpoint_id: Option<String>,
    /// How long history is kept: set by the operator for the whole service (`--retention`), read only.
    pub retention: RetentionView,
}

/// How long history is kept, in seconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionView {
    /// Finished alerts, deliveries and attempts, from when they finished.
    pub history_seconds: u64,
    /// Dead letters nobody replays; none: kept until replayed.
    pub dead_letter_seconds: Option<u64>,
}

impl SettingsView {
    pub fn new(settings: &TenantSettings, retention: Retention) -> Self {
        Self {
            retention: RetentionView {
                history_seconds: retention.history.as_secs(),
                dead_letter_seconds: retention.dead_letters.map(|d| d.as_secs()),
            },
            operations_endpoint_id: settings
                .operations_endpoint_id
                .as_ref()
                .map(|id| id.to_string()),
            default_endpoint_id: settings
                .default_endpoint_id
                .as_ref()
                .map(|id| id.to_string()),
        }
    }
}

/// `GET /v1/endpoints/{id}/stats`: how the endpoint's deliveries went over the last 24 hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointStatsView {
    pub endpoint_id: String,
    /// 24 hours before `window_end`.
    pub window_start: DateTime<Utc>,
    /// When the figures were made.
    pub window_end: DateTime<Utc>,
    /// 24 hours, oldest first.
    pub hours: Vec<HourStatsView>,
    /// Attempts started in the window.
    pub attempts: u64,
    /// Attempts answered 2XX ÷ attempts; `null` without attempts.
    #[schema(minimum = 0, maximum = 1)]
    pub success_rate: Option<f64>,
    /// The 95th percentile of the attempts' durations (nearest rank); `null` without attempts.
    pub p95_latency_ms: Option<u64>,
    /// Deliveries created in the window that the figures cover.
    pub deliveries: u64,
    /// True when the window held more deliveries than are read for one answer (the newest 5,000): the
    /// figures cover those.
    pub capped: bool,
}

/// One hour of [`EndpointStatsView`]: each delivery counts at most once in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourStatsView {
    pub start: DateTime<Utc>,
    /// Deliveries with an attempt answered 2XX in this hour.
    pub delivered: u64,
    /// Deliveries with a failed attempt in this hour and none answered 2XX in it.
    pub failed: u64,
}

impl EndpointStatsView {
    pub fn new(endpoint_id: &EndpointId, figures: &CappedStats) -> Self {
        let stats = &figures.stats;
        Self {
            endpoint_id: endpoint_id.to_string(),
            window_start: stats.window_start,
            window_end: stats.window_end,
            hours: stats
                .hours
                .iter()
                .map(|h| HourStatsView {
                    start: h.start,
                    delivered: h.delivered,
                    failed: h.failed,
                })
                .collect(),
            attempts: stats.attempts,
            success_rate: stats.success_rate,
            p95_latency_ms: stats.p95_latency_ms,
            deliveries: figures.deliveries as u64,
            capped: figures.capped,
        }
    }
}

/// A page of deliveries, newest first; `next_before` is the `before` of the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub deliveries: Vec<DeliveryView>,
    pub next_before: Option<String>,
}

/// A page of dead letters, newest first; `next_before` is the `before` of the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterPage {
    pub dead_letters: Vec<DeliveryView>,
    pub next_before: Option<String>,
}

/// What an accepted alert became: one delivery per endpoint it was routed to (see an endpoint's
/// `matchers` and the alert's `endpoints`); an endpoint it was not routed to has none.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertReceiptView {
    pub id: String,
    /// How many endpoints got a delivery of the alert (sent or filtered).
    pub routed_endpoints: usize,
    /// No endpoint's routing took the alert: it went only to the tenant's `default_endpoint_id`, or,
    /// with none set, nowhere. Counted in `alertwire_alerts_unrouted_total`.
    pub unrouted: bool,
    pub deliveries: Vec<DeliveryRef>,
}

impl From<&AlertReceipt> for AlertReceiptView {
    fn from(receipt: &AlertReceipt) -> Self {
        Self {
            id: receipt.alert_id.to_string(),
            routed_endpoints: receipt.deliveries.len(),
            unrouted: receipt.unrouted,
            deliveries: receipt
                .deliveries
                .iter()
                .map(|(id, endpoint_id)| DeliveryRef {
                    id: id.to_string(),
                    endpoint_id: endpoint_id.to_string(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryRef {
    pub id: String,
    pub endpoint_id: String,
}

/// The answer to a source notification: one receipt per entry of its `alerts[]`, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceReceipts {
    pub alerts: Vec<AlertReceiptView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayReport {
    pub replayed: u64,
}

/// The answer of `POST /v1/endpoints/validate` when the definition is accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Validity {
    pub valid: bool,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` while the store cannot write.
    #[schema(example = "ok")]
    pub status: String,
    /// Why it is degraded: `disk full` or `disk i/o error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Every error: `{"error": {"code", "message", "field"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable, e.g. `invalid_field`, `not_found`, `unauthorized`.
    pub code: String,
    /// For a person; never contains a secret.
    pub message: String,
    /// The JSON path, header or query parameter concerned; `""` for the body as a whole.
    pub field: Option<String>,
    /// For a template error: the line in the field's template, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    pub line: Option<usize>,
    /// For a template error: the column (in characters) in that line, from 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1)]
    pub column: Option<usize>,
}

impl ErrorDetail {
    pub fn new(
        code: &str,
        message: String,
        field: Option<String>,
        position: Option<TextPosition>,
    ) -> Self {
        Self {
            code: code.to_string(),
            message,
            field,
            line: position.map(|p| p.line),
            column: position.map(|p| p.column),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::auth::OAuth2ClientCredentials;
    use crate::endpoint::{MessageRoutes, RetiringSecret};
    use crate::ids::{EndpointId, TenantId};
    use crate::webhook::signing::WebhookSecret;
    use serde_json::json;

    fn endpoint() -> Endpoint {
        let at = "2026-03-02T09:14:05Z".parse().unwrap();
        let header = |name: &str, value: &str, secret| HeaderSpec {
            name: name.into(),
            value: value.into(),
            secret,
        };
        Endpoint {
            id: EndpointId::from("ep_1"),
            tenant: TenantId::from("tn_1"),
            name: "ops".into(),
            url: "https://hooks.example.com/{{alert.id}}".into(),
            method: HttpMethod::Post,
            headers: vec![
                header("X-Team", "ops", false),
                header("Authorization", "Bearer t", true),
            ],
            content_type: "application/json".into(),
            body: "{}".into(),
            min_severity: Severity::Medium,
            message_types: MessageRoutes {
                error: Route::Default,
                reminder: Route::Off,
                ok: Route::Override(RouteOverride {
                    method: Some(HttpMethod::Put),
                    url: None,
                    headers: Some(vec![header("X-Key", "k", true)]),
                    body: None,
                }),
            },
            matchers: vec![r#"team="db""#.into()],
            secret: Some(WebhookSecret::generate()),
            retiring_secrets: vec![RetiringSecret {
                secret: WebhookSecret::generate(),
                until: at,
            }],
            verification_token: Some("token".into()),
            ca_pem: None,
            auth: vec![EndpointAuth::OAuth2(OAuth2ClientCredentials {
                token_url: "https://idp.example.com/token".into(),
                client_id: "alertwire".into(),
                client_secret: "client-secret".into(),
                scope: Some("alerts".into()),
                audience: None,
                client_auth: ClientAuthentication::Body,
            })],
            enabled: true,
            disabled_reason: None,
            max_in_flight: 8,
            rate_limit_per_second: Some(1.0),
            health: EndpointHealth::default(),
            version: 3,
            created_at: at,
            updated_at: at,
            fallback_endpoint_id: Some(EndpointId::from("ep_2")),
            captures: [("ticket_id".to_string(), "$.id".to_string())].into(),
            capture_missing: MissingCapture::Skip,
            digest: None,
        }
    }

    #[test]
    fn an_endpoint_shows_every_field_with_secrets_masked() {
        let view = serde_json::to_value(EndpointView::from(&endpoint())).unwrap();
        assert_eq!(
            view,
            json!({
                "id": "ep_1",
                "name": "ops",
                "url": "https://hooks.example.com/{{alert.id}}",
                "method": "POST",
                "headers": {
                    "Authorization": {"value": "********", "secret": true},
                    "X-Team": {"value": "ops", "secret": false},
                },
                "content_type": "application/json",
                "body": "{}",
                "min_severity": "medium",
                "message_types": {
                    "error": {},
                    "reminder": null,
                    "ok": {"method": "PUT", "headers": {"X-Key": {"value": "********", "secret": true}}},
                },
                "matchers": ["team=\"db\""],
                "secret": "whsec_********",
                "verification_token": "********",
                "auth": [{"type": "oauth2_client_credentials", "token_url": "https://idp.example.com/token",
                    "client_id": "alertwire", "client_secret": "********", "scope": "alerts",
                    "audience": null, "client_auth": "body"}],
                "ca_pem": null,
                "retiring_secrets": [{"secret": "whsec_********", "until": "2026-03-02T09:14:05Z"}],
                "enabled": true,
                "disabled_reason": null,
                "max_in_flight": 8,
                "rate_limit_per_second": 1.0,
                "health": {
                    "failure_streak": 0, "failing_since": null, "last_failure_at": null, "slowed_until": null,
                    "circuit": {"state": "closed", "since": null, "probe_at": null, "outage_streak": 0, "last_error": null},
                },
                "version": 3,
                "created_at": "2026-03-02T09:14:05Z",
                "updated_at": "2026-03-02T09:14:05Z",
                "fallback_endpoint_id": "ep_2",
                "captures": {"ticket_id": "$.id"},
                "capture_missing": "skip",
            })
        );
    }

    #[test]
    fn only_the_revealing_answer_shows_the_signing_secret() {
        let endpoint = endpoint();
        let view = EndpointView::revealing_secret(&endpoint);
        let secret = endpoint.secret.as_ref().unwrap().expose();
        assert_eq!(view.secret.as_deref(), Some(secret.as_str()));
        assert_eq!(view.retiring_secrets[0].secret, SECRET_MASK);
        assert_eq!(view.verification_token.as_deref(), Some(MASK));
        let unsigned = Endpoint {
            secret: None,
            ..endpoint
        };
        assert_eq!(EndpointView::revealing_secret(&unsigned).secret, None);
    }

    #[test]
    fn an_error_has_a_position_only_when_it_has_one() {
        let plain = ErrorDetail::new("not_found", "endpoint not found".into(), None, None);
        assert_eq!(
            serde_json::to_value(&plain).unwrap(),
            json!({"code": "not_found", "message": "endpoint not found", "field": null})
        );
        let position = Some(TextPosition { line: 2, column: 7 });
        let placed = ErrorDetail::new(
            "invalid_template",
            "m".into(),
            Some("body".into()),
            position,
        );
        assert_eq!(
            serde_json::to_value(&placed).unwrap(),
            json!({"code": "invalid_template", "message": "m", "field": "body", "line": 2, "column": 7})
        );
    }
}

/// `GET /v1/alerts/{id}`: an accepted alert as it was received, and where routing sent it. Its deliveries
/// are listed by `GET /v1/deliveries?alert_id=`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    pub id: String,
    pub received_at: DateTime<Utc>,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub message_type: MessageType,
    pub incident_key: Option<String>,
    pub tags: Vec<String>,
    /// As sent: any JSON values.
    pub samples: Vec<serde_json::Value>,
    #[schema(value_type = Object)]
    pub context: serde_json::Map<String, serde_json::Value>,
    pub link: Option<String>,
    pub source: Option<String>,
    pub timeframe_start: Option<DateTime<Utc>>,
    pub timeframe_end: Option<DateTime<Utc>>,
    /// How many endpoints got a delivery of it (sent or filtered); `null` for an alert accepted before
    /// alertwire kept this.
    pub routed_endpoints: Option<usize>,
    /// No endpoint's routing took it (see the receipt's `unrouted`); `null` as above.
    pub unrouted: Option<bool>,
}

impl From<&Alert> for AlertView {
    fn from(alert: &Alert) -> Self {
        let content = &alert.content;
        Self {
            id: alert.id.to_string(),
            received_at: alert.received_at,
            title: content.title.clone(),
            description: content.description.clone(),
            severity: content.severity,
            message_type: content.message_type,
            incident_key: content.incident_key.clone(),
            tags: content.tags.clone(),
            samples: content.samples.clone(),
            context: content.context.clone(),
            link: content.link.clone(),
            source: content.source.clone(),
            timeframe_start: content.timeframe_start,
            timeframe_end: content.timeframe_end,
            routed_endpoints: alert.routing.map(|r| r.endpoints),
            unrouted: alert.routing.map(|r| r.unrouted),
        }
    }
}

/// A page of alerts, newest first; `next_before` is the `before` of the next page.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertPage {
    pub alerts: Vec<AlertView>,
    pub next_before: Option<String>,
}

/// `POST /v1/routing/test`: what each endpoint of the tenant would do with the alert. Nothing is stored
/// or sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteTestView {
    /// How many endpoints would get a delivery (sent or filtered).
    pub routed_endpoints: usize,
    /// No endpoint's routing takes the alert: only the tenant's `default_endpoint_id`, if set, gets it.
    pub unrouted: bool,
    /// Every endpoint of the tenant.
    pub endpoints: Vec<EndpointRouteView>,
}

/// One endpoint in a route test.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointRouteView {
    pub endpoint_id: String,
    pub name: String,
    pub matchers: Vec<String>,
    /// Routing takes the alert for this endpoint: the alert names it (or names none) and every matcher
    /// holds.
    pub matched: bool,
    /// Why routing does not take it: `not_named` (the alert names other endpoints) or `matcher` (see
    /// `failed_matcher`); `null` when routing takes it.
    #[schema(value_type = Option<String>)]
    pub not_matched_because: Option<&'static str>,
    /// The first of its matchers that does not hold.
    pub failed_matcher: Option<String>,
    /// It gets the alert as the tenant's default endpoint, since no endpoint's routing takes it.
    pub default_endpoint: bool,
    /// What ingest would record: `pending` (sent), `filtered` (kept, not sent) or `none`.
    #[schema(value_type = String)]
    pub delivery: &'static str,
    /// Why it would be filtered: disabled, below `min_severity`, or its message type is off.
    pub filter: Option<String>,
}

impl From<&RouteTest> for RouteTestView {
    fn from(test: &RouteTest) -> Self {
        Self {
            routed_endpoints: test.routed_endpoints(),
            unrouted: test.unrouted,
            endpoints: test.endpoints.iter().map(EndpointRouteView::from).collect(),
        }
    }
}

impl From<&EndpointRoute> for EndpointRouteView {
    fn from(route: &EndpointRoute) -> Self {
        let (because, failed_matcher) = match &route.not_routed {
            None => (None, None),
            Some(RouteMiss::NotNamed) => (Some("not_named"), None),
            Some(RouteMiss::MatcherFails(m)) => (Some("matcher"), Some(m.clone())),
        };
        Self {
            endpoint_id: route.endpoint_id.to_string(),
            name: route.name.clone(),
            matchers: route.matchers.clone(),
            matched: route.matched,
            not_matched_because: because,
            failed_matcher,
            default_endpoint: route.by_default,
            delivery: route.delivery.as_str(),
            filter: route.filter.clone(),
        }
    }
}
