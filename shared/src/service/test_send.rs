//! "Run the test": render a sample (or given) alert for an endpoint, send it now, and show exactly what
//! was sent and what the endpoint answered. Works on a stored endpoint or on an unsaved definition (the
//! console's "Run the test" before saving), validated exactly as saving it would be. An endpoint with
//! captures renders with sample captured values (or those given) and is shown what its answer gives
//! them. An endpoint with a digest can be sent a sample digest instead (the alert, or the sample, folded
//! twice, in a digest of 25). Nothing is stored.

use serde::Serialize;
use serde_json::Value;

use super::{Service, ServiceError};
use crate::alert::AlertContent;
use crate::delivery::decide::FilterReason;
use crate::endpoint::captures::{self, CapturedValues};
use crate::endpoint::{CompiledEndpoint, Endpoint, EndpointInput, MASK};
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::input_error::FieldError;
use crate::render_context;
use crate::webhook;
use crate::webhook::request::RequestFacts;

/// What a test stands in for beside the alert: what an incident's error captured (sample values
/// `sample-<name>` when absent), and whether the endpoint's digest is sent rather than the alert.
#[derive(Debug, Clone, Default)]
pub struct TestSample {
    pub captured: Option<CapturedValues>,
    pub digest: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TestSendReport {
    /// True when the endpoint answered 2XX.
    pub ok: bool,
    pub request: ShownRequest,
    pub response: Option<ShownResponse>,
    pub error: Option<ShownError>,
    /// For an endpoint with captures: what its answer gives them, by name (as an error's 2XX answer would
    /// be kept), a value taken from a credential header or a header the endpoint marks secret shown as
    /// `********`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured: Option<CapturedValues>,
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
        self.test_send_to(tenant, endpoint, alert, TestSample::default())
            .await
    }

    /// Tests an unsaved endpoint definition (the body `POST /v1/endpoints` takes); fields it rejects are
    /// named under `endpoint.`. `sample` stands for what an incident's error captured, for the
    /// templates that use it, and says whether the digest is sent.
    pub async fn test_send_definition(
        &self,
        tenant: &TenantId,
        definition: &Value,
        alert: Option<&Value>,
        sample: TestSample,
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
        self.test_send_to(tenant, endpoint, alert, sample).await
    }

    async fn test_send_to(
        &self,
        tenant: &TenantId,
        endpoint: Endpoint,
        alert: Option<&Value>,
        sample: TestSample,
    ) -> Result<TestSendReport, ServiceError> {
        if sample.digest && endpoint.digest.is_none() {
            return Err(FieldError::invalid(
                "digest",
                "`digest`: this endpoint has no digest to test; give it one (`endpoint.digest`)",
            )
            .into());
        }
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
        let follows = endpoint.follows_incidents();
        let digest = sample.digest.then(|| render_context::sample_digest(&alert));
        let sample = sample.captured.unwrap_or_else(|| {
            endpoint
                .captures
                .keys()
                .map(|name| (name.clone(), format!("sample-{name}")))
                .collect()
        });
        let facts = RequestFacts {
            delivery_id: delivery_id.as_str(),
            attempt: 1,
            now,
            fallback_of: None,
            captured: follows.then_some(&sample),
            digest: digest.as_ref(),
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
        let secret_headers: Vec<&str> = endpoint
            .headers
            .iter()
            .filter(|h| h.secret)
            .map(|h| h.name.as_str())
            .collect();
        let captured = (follows && attempt.succeeded()).then(|| {
            let mut values = captures::take(
                &endpoint.captures,
                attempt.response_body.as_deref(),
                &attempt.response_headers,
            );
            for (name, value) in &mut values {
                let source = endpoint.captures.get(name).map_or("", String::as_str);
                if captures::is_secret_source(source, &secret_headers) {
                    *value = MASK.to_string();
                }
            }
            values
        });
        Ok(TestSendReport {
            ok: attempt.succeeded(),
            request: shown,
            response,
            error,
            captured,
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

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::delivery::ErrorClass;
    use crate::service::in_memory::{
        answering_endpoint, answering_receiver, closed_port, endpoint_at, monday_service,
        stored_deliveries,
    };

    fn acme() -> TenantId {
        TenantId::from("acme")
    }

    #[tokio::test]
    async fn a_receiver_that_answers_is_reported_with_its_answer() {
        let service = monday_service();
        // GIVEN a stored endpoint whose receiver answers 200
        let port = answering_receiver(200).await;
        let id = endpoint_at(&service, &acme(), "pager", port, json!({})).await;

        // WHEN it is tested with a given alert
        let alert = json!({"title": "cpu high"});
        let report = service.test_send(&acme(), &id, Some(&alert)).await.unwrap();

        // THEN the report shows the request sent and the answer, and no error
        assert!(report.ok);
        assert_eq!(report.request.method, "POST");
        assert_eq!(report.request.url, format!("http://127.0.0.1:{port}/hook"));
        assert!(
            report.request.body.contains("cpu high"),
            "{}",
            report.request.body
        );
        let response = report.response.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, "thanks");
        assert!(!response.body_truncated);
        assert!(report.error.is_none());
    }

    #[tokio::test]
    async fn a_receiver_answering_500_is_reported_not_ok_with_its_answer() {
        let service = monday_service();
        let id = answering_endpoint(&service, &acme(), 500).await;

        // WHEN the endpoint is tested with the sample alert
        let report = service.test_send(&acme(), &id, None).await.unwrap();

        // THEN the report is not ok, shows the 500, and classes it
        assert!(!report.ok);
        assert_eq!(report.response.unwrap().status, 500);
        assert_eq!(report.error.unwrap().class, ErrorClass::Non2xx);
    }

    #[tokio::test]
    async fn a_refused_connection_is_reported_as_a_connect_error_without_answer() {
        let service = monday_service();
        // GIVEN an endpoint on a port nothing listens on
        let id = endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;

        // WHEN it is tested
        let report = service.test_send(&acme(), &id, None).await.unwrap();

        // THEN the report is not ok, has no answer, and says the connection failed
        assert!(!report.ok);
        assert!(report.response.is_none());
        let error = report.error.unwrap();
        assert_eq!(error.class, ErrorClass::Connect);
        assert!(!error.message.is_empty());
    }

    #[tokio::test]
    async fn a_test_send_stores_no_delivery() {
        let service = monday_service();
        let id = answering_endpoint(&service, &acme(), 200).await;

        // WHEN the endpoint is tested THEN no delivery is stored
        service.test_send(&acme(), &id, None).await.unwrap();
        assert!(stored_deliveries(&service, &acme()).await.is_empty());
    }

    #[tokio::test]
    async fn a_digest_is_tested_with_a_sample_storm() {
        let service = monday_service();
        let port = answering_receiver(200).await;
        let definition = json!({"name": "draft", "url": format!("http://127.0.0.1:{port}/hook"),
            "digest": {"after": 20, "window_seconds": 60,
                "body": "{\"n\": {{digest_count}}, \"first\": \"{{#digest_alerts}}{{title}}|{{/digest_alerts}}\"}"}});
        let alert = json!({"title": "disk full"});
        let digest = TestSample {
            captured: None,
            digest: true,
        };

        // WHEN the digest is tested THEN the digest's template rendered a sample storm of the alert
        let report = service
            .test_send_definition(&acme(), &definition, Some(&alert), digest.clone())
            .await
            .unwrap();
        assert!(report.ok);
        assert_eq!(
            report.request.body,
            r#"{"n": 25, "first": "disk full|disk full|"}"#
        );

        // WHEN an endpoint without a digest is asked for one THEN the field is named
        let plain = json!({"name": "draft", "url": format!("http://127.0.0.1:{port}/hook")});
        let refused = service
            .test_send_definition(&acme(), &plain, None, digest)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, ServiceError::Input(e) if e.field == "digest"),
            "{refused:?}"
        );
    }

    #[tokio::test]
    async fn an_unsaved_definition_is_tested_and_not_stored() {
        let service = monday_service();
        let port = answering_receiver(200).await;
        let definition = json!({"name": "draft", "url": format!("http://127.0.0.1:{port}/hook")});

        // WHEN an unsaved definition is tested
        let report = service
            .test_send_definition(&acme(), &definition, None, TestSample::default())
            .await
            .unwrap();

        // THEN it was sent and answered, and no endpoint was stored
        assert!(report.ok);
        assert!(service.list_endpoints(&acme()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn errors_in_a_definition_or_an_alert_are_named_from_the_request_body() {
        let service = monday_service();
        let definition = json!({"name": "draft"});

        // WHEN the definition lacks its url THEN the field is `endpoint.url`
        let answer = service
            .test_send_definition(&acme(), &definition, None, TestSample::default())
            .await;
        assert!(matches!(answer, Err(ServiceError::Input(e)) if e.field == "endpoint.url"));

        // WHEN the alert has an unknown severity THEN the field is `alert.severity`
        let definition = json!({"name": "draft", "url": "http://127.0.0.1:9/hook"});
        let alert = json!({"title": "x", "severity": "apocalyptic"});
        let answer = service
            .test_send_definition(&acme(), &definition, Some(&alert), TestSample::default())
            .await;
        assert!(matches!(answer, Err(ServiceError::Input(e)) if e.field == "alert.severity"));
    }

    #[tokio::test]
    async fn captures_render_with_sample_or_given_values_and_the_answer_shows_what_it_gives() {
        let service = monday_service();
        let port = answering_receiver(200).await;
        let definition = json!({"name": "tracker", "url": format!("http://127.0.0.1:{port}/issues"),
            "captures": {"ticket_id": "$.id", "kind": "header:Content-Type"},
            "message_types": {"ok": {"method": "PATCH",
                "url": format!("http://127.0.0.1:{port}/issues/{{{{captured.ticket_id}}}}")}}});
        let ok = json!({"title": "fine again", "message_type": "ok", "incident_key": "db-1"});

        // WHEN the ok is tested without values THEN the sample value is in the URL
        let report = service
            .test_send_definition(&acme(), &definition, Some(&ok), TestSample::default())
            .await
            .unwrap();
        assert!(
            report.request.url.ends_with("/issues/sample-ticket_id"),
            "{}",
            report.request.url
        );
        // AND the report shows what the answer gives the captures (a text body: only the header)
        let given = report
            .captured
            .expect("an endpoint with captures is shown them");
        assert_eq!(given.get("kind").map(String::as_str), Some("text/plain"));
        assert!(!given.contains_key("ticket_id"));

        // WHEN values are given THEN they are used
        let values = [("ticket_id".to_string(), "T-5".to_string())].into();
        let report = service
            .test_send_definition(
                &acme(),
                &definition,
                Some(&ok),
                TestSample {
                    captured: Some(values),
                    digest: false,
                },
            )
            .await
            .unwrap();
        assert!(
            report.request.url.ends_with("/issues/T-5"),
            "{}",
            report.request.url
        );
    }

    #[tokio::test]
    async fn a_message_type_the_endpoint_does_not_send_is_refused_on_message_type() {
        let service = monday_service();
        let extra = json!({"message_types": {"ok": null}});
        let id = endpoint_at(&service, &acme(), "pager", closed_port(), extra).await;

        // WHEN it is tested with an `ok` alert THEN nothing is sent and `message_type` is named
        let alert = json!({"title": "fine again", "message_type": "ok"});
        let answer = service.test_send(&acme(), &id, Some(&alert)).await;
        assert!(matches!(answer, Err(ServiceError::Input(e)) if e.field == "message_type"));
    }

    #[tokio::test]
    async fn an_unknown_or_foreign_endpoint_is_not_found() {
        let service = monday_service();
        let id = endpoint_at(&service, &acme(), "pager", closed_port(), json!({})).await;

        // WHEN another tenant tests acme's endpoint, or acme an unknown one THEN it is not found
        let foreign = service
            .test_send(&TenantId::from("globex"), &id, None)
            .await;
        assert!(matches!(foreign, Err(ServiceError::NotFound("endpoint"))));
        let unknown = service
            .test_send(&acme(), &EndpointId::from("ep_unknown"), None)
            .await;
        assert!(matches!(unknown, Err(ServiceError::NotFound("endpoint"))));
    }
}
