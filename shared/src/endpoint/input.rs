//! Validation of an endpoint's JSON input (create, replace, validate, rotate the secret): every field
//! checked and named in its error, masked values resolved against the stored endpoint, templates compiled
//! and probed with hostile values, URLs checked against the target policy.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::alert::{MessageType, Severity};
use crate::delivery::pacing::{DEFAULT_MAX_IN_FLIGHT, MAX_IN_FLIGHT_LIMIT, RATE_LIMIT_RANGE};
use crate::digest::DigestPolicy;
use crate::endpoint::auth::{EndpointAuth, oauth2};
use crate::endpoint::auth_input;
use crate::endpoint::captures::{self, CaptureSpecs, MissingCapture};
use crate::endpoint::health::EndpointHealth;
use crate::endpoint::presets;
use crate::ids::{EndpointId, TenantId};
use crate::input_error::{FieldError, FieldErrorKind, ObjectReader, check_text};
use crate::outbound::target_policy::TargetPolicy;
use crate::render_context;
use crate::routing::matcher::{MAX_MATCHERS, Matcher};
use crate::template::Escaping;
use crate::webhook::signing::WebhookSecret;

use super::{
    CompiledEndpoint, DEFAULT_SECRET_GRACE, Endpoint, HeaderSpec, HttpMethod, MASK,
    MAX_SECRET_GRACE, MessageRoutes, Route, RouteOverride, SECRET_MASK,
};

/// Header names that hold credentials unless the user says otherwise.
const SECRET_BY_DEFAULT: &[&str] = &[
    "authorization",
    "x-api-key",
    "cookie",
    "proxy-authorization",
];
/// Headers the sender sets itself, or that would let a template break the HTTP framing.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
    "content-type",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];
const MAX_TEMPLATE: usize = 64 * 1024;
const MAX_HEADERS: usize = 50;
const MAX_HEADER_VALUE: usize = 8 * 1024;
const MAX_URL: usize = 4096;

/// The parts of an endpoint a user sets; see `POST /v1/endpoints`.
#[derive(Debug, Clone)]
pub struct EndpointInput {
    pub name: String,
    pub url: String,
    pub method: HttpMethod,
    pub headers: Vec<HeaderSpec>,
    pub content_type: String,
    pub body: String,
    pub min_severity: Severity,
    pub message_types: MessageRoutes,
    /// Canonical forms, every one parsed.
    pub matchers: Vec<String>,
    pub secret: Option<WebhookSecret>,
    pub verification_token: Option<String>,
    pub auth: Vec<EndpointAuth>,
    pub ca_pem: Option<String>,
    pub enabled: bool,
    pub max_in_flight: u32,
    pub rate_limit_per_second: Option<f64>,
    /// Checked against the tenant's other endpoints by the service, which can see them.
    pub fallback_endpoint_id: Option<EndpointId>,
    pub captures: CaptureSpecs,
    pub capture_missing: MissingCapture,
    pub digest: Option<DigestPolicy>,
}

const FIELDS: &[&str] = &[
    "name",
    "url",
    "method",
    "headers",
    "content_type",
    "body",
    "min_severity",
    "message_types",
    "matchers",
    "secret",
    "verification_token",
    "auth",
    "ca_pem",
    "enabled",
    "max_in_flight",
    "rate_limit_per_second",
    "fallback_endpoint_id",
    "captures",
    "capture_missing",
    "digest",
    // What `GET` answers beside the settings; accepted and ignored, so a read view can be sent back.
    "id",
    "version",
    "created_at",
    "updated_at",
    "disabled_reason",
    "retiring_secrets",
    "health",
];
const ROUTE_FIELDS: &[&str] = &["method", "url", "headers", "body"];

impl EndpointInput {
    /// Validates a create or replace body. `previous` is the stored endpoint on replace: masked values sent
    /// back (`********`) keep what it holds. Templates must compile and name known variables, a JSON body
    /// must stay valid JSON for hostile alert values, and every URL must pass the target policy. A `preset`
    /// is expanded first ([`presets::expand`]), so its templates pass the same checks.
    pub fn from_json(
        body: &Value,
        previous: Option<&Endpoint>,
        policy: &TargetPolicy,
    ) -> Result<Self, FieldError> {
        let expanded = presets::expand(body, previous)?;
        let body = &expanded;
        let reader = ObjectReader::new("", body, FIELDS)?;
        let content_type = match reader.string("content_type", 255)? {
            None => "application/json".to_string(),
            Some(ct) => content_type(ct)?,
        };
        let min_severity = match reader.string("min_severity", 32)? {
            None => Severity::Info,
            Some(text) => Severity::parse(text).ok_or_else(|| {
                FieldError::invalid(
                    "min_severity",
                    "`min_severity` must be one of info, low, medium, high, critical",
                )
            })?,
        };
        let previous_headers = previous.map(|p| p.headers.as_slice()).unwrap_or_default();
        let input = EndpointInput {
            name: reader.required_string("name", 200)?.to_string(),
            url: reader.required_string("url", MAX_URL)?.to_string(),
            method: method(&reader, "method")?.unwrap_or(HttpMethod::Post),
            headers: match reader.value("headers") {
                None => Vec::new(),
                Some(value) => headers("headers", value, previous_headers)?,
            },
            content_type,
            body: match reader.string("body", MAX_TEMPLATE)? {
                None => render_context::DEFAULT_JSON_BODY.to_string(),
                Some(body) => body.to_string(),
            },
            min_severity,
            message_types: routes(&reader, previous)?,
            matchers: matchers(&reader)?,
            secret: secret(&reader, previous)?,
            verification_token: verification_token(&reader, previous)?,
            auth: auth_input::auth(reader.value("auth"), previous, policy, Utc::now())?,
            ca_pem: auth_input::ca_pem(reader.value("ca_pem"))?,
            enabled: reader.bool("enabled")?.unwrap_or(true),
            max_in_flight: reader
                .whole_number_in("max_in_flight", 1, MAX_IN_FLIGHT_LIMIT)?
                .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            rate_limit_per_second: reader.number_in(
                "rate_limit_per_second",
                RATE_LIMIT_RANGE.0,
                RATE_LIMIT_RANGE.1,
            )?,
            fallback_endpoint_id: reader
                .string("fallback_endpoint_id", 200)?
                .map(EndpointId::from),
            captures: captures::specs(reader.value("captures"))?,
            capture_missing: captures::missing_rule(reader.value("capture_missing"))?,
            digest: DigestPolicy::from_json(reader.value("digest"))?,
        };
        input.check(policy)?;
        Ok(input)
    }

    pub fn into_endpoint(
        self,
        id: EndpointId,
        tenant: TenantId,
        previous: Option<&Endpoint>,
        now: DateTime<Utc>,
    ) -> Endpoint {
        Endpoint {
            id,
            tenant,
            name: self.name,
            url: self.url,
            method: self.method,
            headers: self.headers,
            content_type: self.content_type,
            body: self.body,
            min_severity: self.min_severity,
            message_types: self.message_types,
            matchers: self.matchers,
            retiring_secrets: previous
                .map(|p| p.retire_secret(self.secret.as_ref(), DEFAULT_SECRET_GRACE, now))
                .unwrap_or_default(),
            secret: self.secret,
            verification_token: self.verification_token,
            auth: self.auth,
            ca_pem: self.ca_pem,
            disabled_reason: match (self.enabled, previous) {
                (true, _) => None,
                (false, Some(p)) if !p.enabled => p.disabled_reason.clone(),
                (false, _) => Some(super::USER_DISABLED_REASON.to_string()),
            },
            enabled: self.enabled,
            max_in_flight: self.max_in_flight,
            rate_limit_per_second: self.rate_limit_per_second,
            health: match previous {
                Some(p) if p.enabled || !self.enabled => p.health.clone(),
                _ => EndpointHealth::default(),
            },
            version: previous.map_or(1, |p| p.version + 1),
            created_at: previous.map_or(now, |p| p.created_at),
            updated_at: now,
            fallback_endpoint_id: self.fallback_endpoint_id,
            captures: self.captures,
            capture_missing: self.capture_missing,
            digest: self.digest,
        }
    }

    /// The checks that need the templates compiled: variables, JSON validity, target URLs.
    fn check(&self, policy: &TargetPolicy) -> Result<(), FieldError> {
        self.check_authorization_header()?;
        let probe = self.clone().into_endpoint(
            EndpointId::from("ep_probe"),
            TenantId::from("tn_probe"),
            None,
            Utc::now(),
        );
        let compiled = CompiledEndpoint::compile(probe)?;
        // `captured.<name>` may name the declared captures only.
        let catalogue =
            &render_context::catalogue().with_fields("captured", self.captures.keys().cloned());
        let sample = render_context::sample_context();
        let hostile = render_context::hostile_context();
        let escaping = Escaping::for_content_type(&self.content_type);
        for message_type in MessageType::ALL {
            let Some(route) = compiled.route(message_type) else {
                continue;
            };
            let (url_field, body_field) = route_fields(&self.message_types, message_type);
            let template_error =
                |field: &str, e: crate::template::TemplateError| FieldError::template(field, &e);
            route
                .url
                .check_variables(catalogue)
                .map_err(|e| template_error(&url_field, e))?;
            route
                .body
                .check_variables(catalogue)
                .map_err(|e| template_error(&body_field, e))?;
            if escaping == Escaping::Json {
                route
                    .body
                    .check_json_output(&hostile)
                    .map_err(|e| template_error(&body_field, e))?;
            }
            let url = route
                .url
                .render(&sample, MAX_URL)
                .map_err(|e| FieldError::invalid(&url_field, format!("`{url_field}`: {e}")))?;
            policy.check_url(&url).map_err(|e| {
                FieldError::new(
                    FieldErrorKind::TargetNotAllowed,
                    &url_field,
                    format!("`{url_field}`: {e}"),
                )
            })?;
        }
        self.check_digest(&compiled, escaping)
    }

    /// A digest's template may use the `digest_*` variables beside every other, and must stay JSON for
    /// hostile folded alerts; it is sent to the `error` messages' URL, so those must not be off.
    fn check_digest(
        &self,
        compiled: &CompiledEndpoint,
        escaping: Escaping,
    ) -> Result<(), FieldError> {
        if self.digest.is_none() {
            return Ok(());
        }
        let body = compiled.digest_body();
        if compiled.route(MessageType::Error).is_none() {
            return Err(FieldError::invalid(
                "digest",
                "`digest` folds `error` messages, but this endpoint sends none (`message_types.error` is off)",
            ));
        }
        let template_error = |e: crate::template::TemplateError| {
            FieldError::template(super::compiled::DIGEST_BODY_FIELD, &e)
        };
        body.check_variables(render_context::digest_catalogue())
            .map_err(template_error)?;
        if escaping == Escaping::Json {
            body.check_json_output(&render_context::hostile_digest_context())
                .map_err(template_error)?;
        }
        Ok(())
    }

    /// With OAuth2 the sender sets `Authorization` itself, so no header may set it too.
    fn check_authorization_header(&self) -> Result<(), FieldError> {
        if oauth2(&self.auth).is_none() {
            return Ok(());
        }
        let base = self.headers.iter().map(|h| ("headers".to_string(), h));
        let overrides = MessageType::ALL.into_iter().flat_map(|message_type| {
            let headers = match self.message_types.get(message_type) {
                Route::Override(o) => o.headers.as_deref().unwrap_or_default(),
                _ => &[],
            };
            let path = format!("message_types.{}.headers", message_type.as_str());
            headers.iter().map(move |h| (path.clone(), h))
        });
        match base
            .chain(overrides)
            .find(|(_, h)| h.name.eq_ignore_ascii_case("authorization"))
        {
            None => Ok(()),
            Some((path, header)) => {
                let field = format!("{path}.{}", header.name);
                Err(FieldError::invalid(
                    &field,
                    format!(
                        "`{field}`: the OAuth2 `auth` sets the Authorization header; remove this one"
                    ),
                ))
            }
        }
    }
}

/// Which input field a route's URL and body came from, so errors name the one the user wrote.
fn route_fields(routes: &MessageRoutes, message_type: MessageType) -> (String, String) {
    match routes.get(message_type) {
        Route::Override(o) => {
            let prefix = format!("message_types.{}.", message_type.as_str());
            let url = if o.url.is_some() {
                format!("{prefix}url")
            } else {
                "url".into()
            };
            let body = if o.body.is_some() {
                format!("{prefix}body")
            } else {
                "body".into()
            };
            (url, body)
        }
        _ => ("url".into(), "body".into()),
    }
}

/// `["team=\"db\"", "env=~\"prod|staging\""]`: each one parsed (its regex compiled) and kept in its
/// canonical form; an error names the matcher by its place in the list.
fn matchers(reader: &ObjectReader<'_>) -> Result<Vec<String>, FieldError> {
    let Some(value) = reader.value("matchers") else {
        return Ok(Vec::new());
    };
    let items = value.as_array().ok_or_else(|| {
        FieldError::invalid(
            "matchers",
            "`matchers` must be a list of label matchers such as team=\"db\"",
        )
    })?;
    if items.len() > MAX_MATCHERS {
        return Err(FieldError::invalid(
            "matchers",
            format!("`matchers` has more than {MAX_MATCHERS} matchers"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let field = format!("matchers[{index}]");
            let text = item.as_str().ok_or_else(|| {
                FieldError::invalid(
                    &field,
                    format!("`{field}` must be a string such as team=\"db\""),
                )
            })?;
            Matcher::parse(text).map(|m| m.to_string()).map_err(|e| {
                let shown: String = text.chars().take(100).collect();
                FieldError::invalid(&field, format!("`{field}`: the matcher {shown:?} {e}"))
            })
        })
        .collect()
}

fn method(reader: &ObjectReader<'_>, name: &str) -> Result<Option<HttpMethod>, FieldError> {
    let path = reader.path(name);
    match reader.string(name, 16)? {
        None => Ok(None),
        Some(text) => HttpMethod::parse(text).map(Some).ok_or_else(|| {
            FieldError::invalid(
                &path,
                format!("`{path}` must be one of POST, PUT, PATCH, GET, DELETE"),
            )
        }),
    }
}

fn content_type(text: &str) -> Result<String, FieldError> {
    let valid = http::HeaderValue::from_str(text).is_ok()
        && text.split(';').next().is_some_and(|essence| {
            let mut parts = essence.trim().split('/');
            let token =
                |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(is_token_byte));
            token(parts.next()) && token(parts.next()) && parts.next().is_none()
        });
    if valid {
        Ok(text.trim().to_string())
    } else {
        Err(FieldError::invalid(
            "content_type",
            "`content_type` must be a media type such as application/json",
        ))
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `{"Name": "value"}` or `{"Name": {"value": "…", "secret": true}}`.
fn headers(
    path: &str,
    value: &Value,
    previous: &[HeaderSpec],
) -> Result<Vec<HeaderSpec>, FieldError> {
    let object = value.as_object().ok_or_else(|| {
        FieldError::invalid(
            path,
            format!("`{path}` must be an object of header names to values"),
        )
    })?;
    if object.len() > MAX_HEADERS {
        return Err(FieldError::invalid(
            path,
            format!("`{path}` has more than {MAX_HEADERS} headers"),
        ));
    }
    let mut specs = Vec::with_capacity(object.len());
    for (name, value) in object {
        let field = format!("{path}.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(FieldError::invalid(
                &field,
                format!("`{name}` is not a valid header name"),
            ));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str())
            || lower.starts_with("proxy-") && lower != "proxy-authorization"
        {
            let hint = if lower == "content-type" {
                ": use `content_type`"
            } else {
                ""
            };
            return Err(FieldError::invalid(
                &field,
                format!("the header `{name}` is set by alertwire and cannot be configured{hint}"),
            ));
        }
        let (text, secret) = match value {
            Value::String(text) => (text.as_str(), SECRET_BY_DEFAULT.contains(&lower.as_str())),
            Value::Object(_) => {
                let reader = ObjectReader::new(&field, value, &["value", "secret"])?;
                let text = reader
                    .value("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        FieldError::invalid(
                            format!("{field}.value"),
                            format!("`{field}.value` must be a string"),
                        )
                    })?;
                let secret = reader
                    .bool("secret")?
                    .unwrap_or(SECRET_BY_DEFAULT.contains(&lower.as_str()));
                (text, secret)
            }
            _ => {
                return Err(FieldError::invalid(
                    &field,
                    format!("`{field}` must be a string or {{\"value\", \"secret\"}}"),
                ));
            }
        };
        let text = if text == MASK {
            previous
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.as_str())
                .ok_or_else(|| {
                    FieldError::invalid(
                        &field,
                        format!("`{field}` is masked but no earlier value exists"),
                    )
                })?
        } else {
            text
        };
        check_text(&field, text, MAX_HEADER_VALUE)?;
        if http::HeaderValue::from_str(text).is_err() {
            return Err(FieldError::invalid(
                &field,
                format!("`{field}` must not contain control characters such as CR or LF"),
            ));
        }
        specs.push(HeaderSpec {
            name: name.clone(),
            value: text.to_string(),
            secret,
        });
    }
    Ok(specs)
}

fn routes(
    reader: &ObjectReader<'_>,
    previous: Option<&Endpoint>,
) -> Result<MessageRoutes, FieldError> {
    let mut routes = MessageRoutes::default();
    let Some(value) = reader.value("message_types") else {
        return Ok(routes);
    };
    let types = ObjectReader::new("message_types", value, &["error", "reminder", "ok"])?;
    for message_type in MessageType::ALL {
        let name = message_type.as_str();
        if types.is_null(name) {
            *routes.get_mut(message_type) = Route::Off;
            continue;
        }
        let Some(value) = types.value(name) else {
            continue;
        };
        let path = types.path(name);
        let route = ObjectReader::new(&path, value, ROUTE_FIELDS)?;
        let previous_headers = previous
            .and_then(|p| match p.message_types.get(message_type) {
                Route::Override(o) => o.headers.as_deref(),
                _ => None,
            })
            .unwrap_or_default();
        *routes.get_mut(message_type) = Route::Override(RouteOverride {
            method: method(&route, "method")?,
            url: route.string("url", MAX_URL)?.map(str::to_string),
            headers: match route.value("headers") {
                None => None,
                Some(v) => Some(headers(&route.path("headers"), v, previous_headers)?),
            },
            body: route.string("body", MAX_TEMPLATE)?.map(str::to_string),
        });
    }
    Ok(routes)
}

fn secret(
    reader: &ObjectReader<'_>,
    previous: Option<&Endpoint>,
) -> Result<Option<WebhookSecret>, FieldError> {
    match reader.string("secret", 200)? {
        None => Ok(None),
        Some("generate") => Ok(Some(WebhookSecret::generate())),
        Some(MASK | SECRET_MASK) => previous
            .and_then(|p| p.secret.clone())
            .map(Some)
            .ok_or_else(|| {
                FieldError::invalid(
                    "secret",
                    "`secret` is masked but the endpoint has no secret",
                )
            }),
        Some(text) => WebhookSecret::parse(text).map(Some).map_err(|e| {
            FieldError::invalid("secret", format!("`secret`: {e}, or use \"generate\""))
        }),
    }
}

/// A request to rotate an endpoint's signing secret: `POST /v1/endpoints/{id}/rotate-secret` with
/// `secret` (`"generate"`, the default, or a `whsec_` value) and `grace_period_seconds` (how long the old
/// secret keeps signing; 24 h by default, at most 7 days, 0 to drop it at once).
#[derive(Debug)]
pub struct SecretRotation {
    pub secret: WebhookSecret,
    pub grace: chrono::Duration,
}

impl SecretRotation {
    pub fn from_json(body: &Value) -> Result<Self, FieldError> {
        let empty = json!({});
        let body = if body.is_null() { &empty } else { body };
        let reader = ObjectReader::new("", body, &["secret", "grace_period_seconds"])?;
        let secret = match reader.string("secret", 200)? {
            None | Some("generate") => WebhookSecret::generate(),
            Some(text) => WebhookSecret::parse(text).map_err(|e| {
                FieldError::invalid("secret", format!("`secret`: {e}, or use \"generate\""))
            })?,
        };
        let max = MAX_SECRET_GRACE.num_seconds();
        let grace = match reader.value("grace_period_seconds") {
            None | Some(Value::Null) => DEFAULT_SECRET_GRACE,
            Some(value) => match value.as_i64() {
                Some(seconds) if (0..=max).contains(&seconds) => chrono::Duration::seconds(seconds),
                _ => {
                    return Err(FieldError::invalid(
                        "grace_period_seconds",
                        format!("`grace_period_seconds` must be a whole number from 0 to {max}"),
                    ));
                }
            },
        };
        Ok(Self { secret, grace })
    }
}

fn verification_token(
    reader: &ObjectReader<'_>,
    previous: Option<&Endpoint>,
) -> Result<Option<String>, FieldError> {
    match reader.string("verification_token", 1024)? {
        None => Ok(None),
        Some(MASK) => previous
            .and_then(|p| p.verification_token.clone())
            .map(Some)
            .ok_or_else(|| {
                FieldError::invalid(
                    "verification_token",
                    "`verification_token` is masked but none is stored",
                )
            }),
        Some(text) if text.chars().any(char::is_control) => Err(FieldError::invalid(
            "verification_token",
            "`verification_token` must not contain control characters",
        )),
        Some(text) => Ok(Some(text.to_string())),
    }
}
