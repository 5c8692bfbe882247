//! A tenant's settings (`GET/PUT /v1/settings`): the endpoint that receives alertwire's own operational
//! alerts, and the endpoint that receives the alerts routed to no other (like Alertmanager's root route).
//! Its JSON input is read here; that the endpoints exist is checked by the service.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::EndpointId;
use crate::input_error::{FieldError, ObjectReader};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// The endpoint that receives alertwire's operational alerts (`delivery.dead`, `endpoint.disabled`,
    /// `endpoint.failing`, `endpoint.recovered`) as alerts of `source: "alertwire"`; none when absent.
    #[serde(default)]
    pub operations_endpoint_id: Option<EndpointId>,
    /// The endpoint that receives an alert that no endpoint is routed ([`crate::routing`]), whatever its
    /// own matchers say; its severity and message-type filters still apply. None: such an alert is only
    /// counted and kept as unrouted.
    #[serde(default)]
    pub default_endpoint_id: Option<EndpointId>,
}

impl TenantSettings {
    /// Reads a `PUT /v1/settings` body: every setting present or `null` (absent is `null`: a replace).
    pub fn from_json(body: &Value) -> Result<Self, FieldError> {
        let reader =
            ObjectReader::new("", body, &["operations_endpoint_id", "default_endpoint_id"])?;
        Ok(Self {
            operations_endpoint_id: reader
                .string("operations_endpoint_id", 200)?
                .map(EndpointId::from),
            default_endpoint_id: reader
                .string("default_endpoint_id", 200)?
                .map(EndpointId::from),
        })
    }
}
