//! The API's error answer: `{"error": {"code", "message", "field"}}` with a fitting status, and the sets
//! of error answers the routes document. Internal errors are logged and answered with a generic message,
//! never their text.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::IntoResponses;

use super::views::{ErrorBody, ErrorDetail};
use crate::input_error::{FieldError, FieldErrorKind, TextPosition};
use crate::service::ServiceError;

/// The error answers of every `/v1` route: its API key is checked first, against the store. Like
/// [`JsonBodyErrors`], a list for the OpenAPI document; the answers themselves are [`ApiError`]s.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum KeyErrors {
    /// No valid API key
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The store or queue failed; safe to retry
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The error answers of a route that reads a JSON body, as [`JsonBody`](super::json_body::JsonBody) and
/// the field-by-field reading of it give them.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum JsonBodyErrors {
    /// The body is not JSON, or is missing where required
    #[response(status = 400)]
    NotJson(ErrorBody),
    /// The body is larger than 256 KiB
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not application/json
    #[response(status = 415)]
    NotJsonMediaType(ErrorBody),
    /// A field is missing, unknown or invalid; `field` names it
    #[response(status = 422)]
    InvalidField(ErrorBody),
}

/// The error answers of a route that reads a JSON body and a query: [`JsonBodyErrors`], with the `400`
/// of an unknown query parameter beside that of a body that is not JSON.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum JsonBodyAndQueryErrors {
    /// The body is not JSON or is missing, or a query parameter is unknown (`field` names it)
    #[response(status = 400)]
    NotJsonOrBadQuery(ErrorBody),
    /// The body is larger than 256 KiB
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not application/json
    #[response(status = 415)]
    NotJsonMediaType(ErrorBody),
    /// A field is missing, unknown or invalid, or the query names an unknown endpoint; `field` names it
    #[response(status = 422)]
    InvalidField(ErrorBody),
}

/// The error answer of a route that reads the deliveries' list filters from its query.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum QueryErrors {
    /// An unknown or invalid query parameter; `field` names it
    #[response(status = 400)]
    InvalidQuery(ErrorBody),
}

/// The error answers of a route on one endpoint, `/v1/endpoints/{id}…`.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum EndpointErrors {
    /// No such endpoint
    #[response(status = 404)]
    NotFound(ErrorBody),
}

/// The error answers of a route that changes a stored endpoint, which must not have changed meanwhile.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum EndpointChangeErrors {
    /// No such endpoint
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Changed by another request meanwhile
    #[response(status = 409)]
    Conflict(ErrorBody),
}

/// The error answers of deleting an endpoint, which others may still name as their fallback.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum EndpointDeleteErrors {
    /// No such endpoint
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// Other endpoints name it as their `fallback_endpoint_id` (the message names them), or it is the
    /// tenant's `operations_endpoint_id`
    #[response(status = 409)]
    Conflict(ErrorBody),
}

/// The error answers of revoking an API key.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum KeyRevokeErrors {
    /// The tenant has no key with this id
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// It is the tenant's last key: revoking it would lock the tenant out
    #[response(status = 409)]
    Conflict(ErrorBody),
}

/// The error answer of a route on one delivery, `/v1/deliveries/{id}…`.
#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum AlertErrors {
    /// No such alert (or it expired with its deliveries)
    #[response(status = 404)]
    NotFound(ErrorBody),
}

#[derive(IntoResponses)]
#[allow(dead_code, reason = "never built: it documents answers ApiError gives")]
pub enum DeliveryErrors {
    /// No such delivery
    #[response(status = 404)]
    NotFound(ErrorBody),
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Line and column in the field's template, for template errors.
    pub position: Option<TextPosition>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            position: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed on this route",
        )
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }

    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the request could not be completed; it is safe to retry",
        )
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        let (status, code) = match e.kind {
            FieldErrorKind::Missing => (StatusCode::UNPROCESSABLE_ENTITY, "missing_field"),
            FieldErrorKind::Unknown => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_field"),
            FieldErrorKind::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            FieldErrorKind::Template => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_template"),
            FieldErrorKind::TargetNotAllowed => {
                (StatusCode::UNPROCESSABLE_ENTITY, "target_not_allowed")
            }
        };
        ApiError {
            position: e.position,
            ..ApiError::new(status, code, e.message).with_field(e.field)
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Input(field) => field.into(),
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::Conflict(message) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", message)
            }
            ServiceError::Queue(e) => {
                tracing::error!(error = %e, "queue failure");
                ApiError::unavailable()
            }
            ServiceError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                ApiError::unavailable()
            }
        }
    }
}

/// Seconds a client is asked to wait after a `503`.
const UNAVAILABLE_RETRY_AFTER: &str = "5";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail::new(self.code, self.message, self.field, self.position),
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // The store could not write (a full disk, an I/O error): worth trying again soon.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER),
            );
        }
        response
    }
}
