//! Operational alerts: what alertwire tells a tenant about its own delivery (`delivery.dead`,
//! `endpoint.disabled`, `endpoint.failing`, `endpoint.recovered`), as alerts of `source: "alertwire"`
//! accepted through the normal ingest pipeline but delivered only to the tenant's operations endpoint,
//! and the tenant settings (`GET/PUT /v1/settings`) that name that endpoint.

use serde_json::{Value, json};

use super::{Service, ServiceError};
use crate::alert::AlertContent;
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::input_error::FieldError;
use crate::tenant_settings::TenantSettings;

/// The `source` of every operational alert.
pub const OPERATIONS_SOURCE: &str = "alertwire";
/// At most one `endpoint.failing` per endpoint in this long, across every process sharing the store.
pub const FAILING_DEBOUNCE: chrono::Duration = chrono::Duration::hours(1);

/// Something alertwire tells a tenant about its endpoints and deliveries.
#[derive(Debug, Clone, PartialEq)]
pub enum OperationsEvent {
    /// A delivery died of its attempts in run `run`.
    DeliveryDead {
        endpoint_id: EndpointId,
        delivery_id: DeliveryId,
        alert_id: AlertId,
        run: u32,
        reason: String,
    },
    /// alertwire disabled the endpoint (its version after the disable, so each disable is told once).
    EndpointDisabled {
        endpoint_id: EndpointId,
        version: u64,
        reason: String,
    },
    /// The endpoint's circuit opened; told at most once an hour per endpoint.
    EndpointFailing {
        endpoint_id: EndpointId,
        last_error: Option<String>,
    },
    /// The endpoint's circuit closed again.
    EndpointRecovered { endpoint_id: EndpointId },
}

impl OperationsEvent {
    /// The event's name, as the alert's `context.event`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::DeliveryDead { .. } => "delivery.dead",
            Self::EndpointDisabled { .. } => "endpoint.disabled",
            Self::EndpointFailing { .. } => "endpoint.failing",
            Self::EndpointRecovered { .. } => "endpoint.recovered",
        }
    }

    /// The endpoint the event is about.
    pub fn endpoint_id(&self) -> &EndpointId {
        match self {
            Self::DeliveryDead { endpoint_id, .. }
            | Self::EndpointDisabled { endpoint_id, .. }
            | Self::EndpointFailing { endpoint_id, .. }
            | Self::EndpointRecovered { endpoint_id } => endpoint_id,
        }
    }

    /// The idempotency key of the alert, for events that must be told once however often they are
    /// reported (a death is recorded once per run, but its handling may repeat).
    fn idempotency_key(&self) -> Option<String> {
        match self {
            Self::DeliveryDead {
                delivery_id, run, ..
            } => Some(format!("alertwire:delivery.dead:{delivery_id}:{run}")),
            Self::EndpointDisabled {
                endpoint_id,
                version,
                ..
            } => Some(format!(
                "alertwire:endpoint.disabled:{endpoint_id}:{version}"
            )),
            Self::EndpointFailing { .. } | Self::EndpointRecovered { .. } => None,
        }
    }

    /// The alert's JSON, as a user would post it.
    fn alert_json(&self) -> Value {
        let endpoint = self.endpoint_id().as_str();
        let mut context = json!({"event": self.name(), "endpoint_id": endpoint});
        let (title, description, severity, message_type) = match self {
            Self::DeliveryDead {
                delivery_id,
                alert_id,
                reason,
                ..
            } => {
                context["delivery_id"] = json!(delivery_id.as_str());
                context["alert_id"] = json!(alert_id.as_str());
                (
                    format!("Delivery {delivery_id} to endpoint {endpoint} is dead"),
                    reason.clone(),
                    "high",
                    "error",
                )
            }
            Self::EndpointDisabled { reason, .. } => (
                format!("Endpoint {endpoint} was disabled"),
                reason.clone(),
                "high",
                "error",
            ),
            Self::EndpointFailing { last_error, .. } => (
                format!("Endpoint {endpoint} is failing"),
                last_error.clone().unwrap_or_default(),
                "high",
                "error",
            ),
            Self::EndpointRecovered { .. } => (
                format!("Endpoint {endpoint} recovered"),
                String::new(),
                "info",
                "ok",
            ),
        };
        json!({
            "title": title,
            "description": description,
            "severity": severity,
            "message_type": message_type,
            "source": OPERATIONS_SOURCE,
            "incident_key": format!("alertwire:{endpoint}"),
            "context": context,
        })
    }
}

impl Service {
    pub async fn get_settings(&self, tenant: &TenantId) -> Result<TenantSettings, ServiceError> {
        Ok(self.ports.settings.get_settings(tenant).await?)
    }

    /// Replaces the tenant's settings; `operations_endpoint_id` and `default_endpoint_id` must name
    /// endpoints of the tenant (another tenant's is unknown here).
    pub async fn put_settings(
        &self,
        tenant: &TenantId,
        body: &Value,
    ) -> Result<TenantSettings, ServiceError> {
        let settings = TenantSettings::from_json(body)?;
        for (field, id) in [
            ("operations_endpoint_id", &settings.operations_endpoint_id),
            ("default_endpoint_id", &settings.default_endpoint_id),
        ] {
            if let Some(id) = id
                && self
                    .ports
                    .endpoints
                    .get_endpoint(tenant, id)
                    .await?
                    .is_none()
            {
                return Err(FieldError::invalid(
                    field,
                    format!("`{field}`: there is no endpoint `{id}`"),
                )
                .into());
            }
        }
        self.ports.settings.put_settings(tenant, &settings).await?;
        Ok(settings)
    }

    /// A conflict if `id` is the tenant's operations or default endpoint: it cannot be deleted while
    /// a setting names it.
    pub(super) async fn check_not_named_in_settings(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<(), ServiceError> {
        let settings = self.ports.settings.get_settings(tenant).await?;
        for (field, named) in [
            ("operations_endpoint_id", &settings.operations_endpoint_id),
            ("default_endpoint_id", &settings.default_endpoint_id),
        ] {
            if named.as_ref() == Some(id) {
                return Err(ServiceError::Conflict(format!(
                    "the endpoint is the tenant's `{field}`; change it in /v1/settings first"
                )));
            }
        }
        Ok(())
    }

    /// Tells the tenant's operations endpoint about `event`, as an alert of `source: "alertwire"` accepted
    /// like any other but delivered only there. Nothing when the tenant has no operations endpoint, when
    /// the event is about that endpoint itself (so its own failures never feed more operational alerts),
    /// or, for `endpoint.failing`, when one was told for that endpoint within [`FAILING_DEBOUNCE`] (kept
    /// in the store, so it holds across processes). Returns whether an alert was accepted.
    pub async fn notify_operations(
        &self,
        tenant: &TenantId,
        event: OperationsEvent,
    ) -> Result<bool, ServiceError> {
        let settings = self.ports.settings.get_settings(tenant).await?;
        let Some(operations_id) = settings.operations_endpoint_id else {
            return Ok(false);
        };
        if event.endpoint_id() == &operations_id {
            return Ok(false);
        }
        let Some(operations) = self
            .ports
            .endpoints
            .get_endpoint(tenant, &operations_id)
            .await?
        else {
            return Ok(false);
        };
        if let OperationsEvent::EndpointFailing { endpoint_id, .. } = &event {
            let key = format!("endpoint.failing:{endpoint_id}");
            let now = self.clock.now();
            if !self
                .ports
                .settings
                .claim_notice(tenant, &key, now, FAILING_DEBOUNCE)
                .await?
            {
                return Ok(false);
            }
        }
        let content = AlertContent::from_json(&event.alert_json())?;
        let key = event.idempotency_key();
        let idempotency = key.as_deref().map(|k| (k, k));
        self.record_and_enqueue(
            tenant,
            content,
            &super::ingest::Destinations::only(&operations),
            idempotency,
        )
        .await?;
        tracing::info!(event = event.name(), endpoint = %event.endpoint_id(), "operational alert accepted");
        Ok(true)
    }

    /// [`Service::notify_operations`] for a use case whose own outcome stands either way: an operational
    /// alert that cannot be accepted is logged, not failed.
    pub(super) async fn tell_operations(&self, tenant: &TenantId, event: OperationsEvent) {
        let name = event.name();
        let endpoint = event.endpoint_id().clone();
        if let Err(e) = self.notify_operations(tenant, event).await {
            tracing::warn!(error = %e, event = name, endpoint = %endpoint, "operational alert not accepted");
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
#[path = "operations_tests.rs"]
mod tests;
