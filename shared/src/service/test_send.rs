//! "Run the test": render a sample (or given) alert for an endpoint, send it now, and show exactly what
//! was sent and what the endpoint answered. Works on a stored endpoint or on an unsaved definition (the
//! console's "Run the test" before saving), validated exactly as saving it would be. Nothing is stored.

use serde::Serialize;
use serde_json::Value;

use super::{Service, ServiceError};
use crate::alert::AlertContent;
use crate::delivery::decide::FilterReason;
use crate::endpoint::{CompiledEndpoint, Endpoint, EndpointInput};
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::input_error::FieldError;
use crate::render_context;
use crate::webhook;
use crate::webhook::request::RequestFacts;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestSendReport {
    /// True when the endpoint answered 2XX.
    pub ok: bool,
    pub request: ShownRequest,
    pub response: Option<ShownResponse>,
    pub error: Option<ShownError>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShownRequest {
    #[schema(value_type = crate::endpoint::HttpMethod)]
    pub method: &'static str,
    pub url: String,
    /// `[name, value]` pairs as sent or received; secret values masked.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShownResponse {
    pub status: u16,
    /// `[name, value]` pairs as sent or received; secret values masked.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub body_truncated: bool,
    pub duration_ms: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShownError {
    pub class: crate::delivery::ErrorClass,
    pub message: String,
    pub duration_ms: u64,
}

impl Service {
    /// Tests a stored endpoint.
    pub async fn test_send(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        alert: Option<&Value>,
    ) -> Result<TestSendReport, ServiceError> {
        let endpoint = self.get_endpoint(tenant, id).await?;
        self.test_send_to(tenant, endpoint, alert).await
    }

    /// Tests an unsaved endpoint definition (the body `POST /v1/endpoints` takes); fields it rejects are
    /// named under `endpoint.`.
    pub async fn test_send_definition(
        &self,
        tenant: &TenantId,
        definition: &Value,
        alert: Option<&Value>,
    ) -> Result<TestSendReport, ServiceError> {
        let input =
            EndpointInput::from_json(definition, None, self.sender.policy()).map_err(|e| {
                FieldError {
                    field: prefixed("endpoint", &e.field),
                    ..e
                }
            })?;
        let endpoint = input.into_endpoint(
            EndpointId::generate(),
            tenant.clone(),
            None,
            self.clock.now(),
        );
        self.test_send_to(tenant, endpoint, alert).await
    }

    async fn test_send_to(
        &self,
        tenant: &TenantId,
        endpoint: Endpoint,
        alert: Option<&Value>,
    ) -> Result<TestSendReport, ServiceError> {
        let now = self.clock.now();
        let alert = match alert {
            Some(body) => AlertContent::from_json(body)
                .map_err(|e| FieldError {
                    field: prefixed("alert", &e.field),
                    ..e
                })?
                .into_alert(AlertId::from("al_test"), tenant.clone(), now),
            None => render_context::sample_alert(tenant.clone(), now),
        };
        let compiled = CompiledEndpoint::compile(endpoint.clone())?;
        let delivery_id = DeliveryId::generate();
        let facts = RequestFacts {
            delivery_id: delivery_id.as_str(),
            attempt: 1,
            now,
        };
        let request = webhook::request::build(&compiled, &alert, &facts)
            .map_err(|e| {
                FieldError::invalid("body", format!("the body could not be rendered: {e}"))
            })?
            .ok_or_else(|| {
                let filter = FilterReason::MessageTypeOff(alert.content.message_type);
                FieldError::invalid("message_type", filter.reason())
            })?;
        let exchange = self.sender.send(&request).await;
        let mut attempt = exchange.attempt;
        attempt.scrub(|text| endpoint.scrub(text));
        let shown = ShownRequest {
            method: request.method.as_str(),
            url: endpoint.scrub(&request.url),
            headers: request.shown_headers(),
            body: endpoint.scrub(&request.body),
        };
        let response = attempt.status_code.map(|status| ShownResponse {
            status,
            headers: attempt.response_headers.clone(),
            body: attempt.response_body.clone().unwrap_or_default(),
            body_truncated: attempt.response_body_truncated,
            duration_ms: attempt.duration_ms,
        });
        let error = attempt.error_class.map(|class| ShownError {
            class,
            message: attempt.error.clone().unwrap_or_default(),
            duration_ms: attempt.duration_ms,
        });
        Ok(TestSendReport {
            ok: attempt.succeeded(),
            request: shown,
            response,
            error,
        })
    }
}

/// `field` of a nested object, as a path from the request body.
fn prefixed(object: &str, field: &str) -> String {
    if field.is_empty() {
        object.into()
    } else {
        format!("{object}.{field}")
    }
}
