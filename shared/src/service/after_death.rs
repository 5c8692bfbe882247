//! What follows a delivery's recorded death of its attempts: the delivery to its endpoint's fallback
//! ([`super::fallback`]) and the operational alerts about it ([`super::operations`]).

use super::operations::{OPERATIONS_SOURCE, OperationsEvent};
use super::{Service, ServiceError};
use crate::delivery::DeliveryStatus;
use crate::delivery::decide::Decision;
use crate::endpoint::USER_DISABLED_REASON;
use crate::ids::{DeliveryId, TenantId};

impl Service {
    /// Called by the attempt once `dead_id`'s run `run` is recorded dead by `decision`. Only a death of
    /// its attempts (`Decision::Dead`) leads anywhere: not a delivery whose endpoint or alert is gone. The
    /// death of an operational alert's delivery has a fallback but tells no operational alert. An
    /// operational alert that cannot be accepted is logged, not failed: the death stands either way.
    pub(super) async fn after_death(
        &self,
        tenant: &TenantId,
        dead_id: &DeliveryId,
        run: u32,
        decision: &Decision,
    ) -> Result<(), ServiceError> {
        let Decision::Dead { reason } = decision else {
            return Ok(());
        };
        let ports = &self.ports;
        let Some(dead) = ports.deliveries.get_delivery(tenant, dead_id).await? else {
            return Ok(());
        };
        if dead.status != DeliveryStatus::Dead || dead.run != run {
            // A resend started another run meanwhile: this death is history.
            return Ok(());
        }
        let Some(endpoint) = ports
            .endpoints
            .get_endpoint(tenant, &dead.endpoint_id)
            .await?
        else {
            return Ok(());
        };
        let Some(alert) = ports.alerts.get_alert(tenant, &dead.alert_id).await? else {
            return Ok(());
        };
        self.fall_back(&dead, &endpoint, &alert).await?;
        if alert.content.source.as_deref() == Some(OPERATIONS_SOURCE) {
            // An operational alert's death tells nothing: when the operations endpoint fails, its
            // alerts' fallbacks failing too must not feed it more alerts in a loop.
            return Ok(());
        }
        let mut events = vec![OperationsEvent::DeliveryDead {
            endpoint_id: endpoint.id.clone(),
            delivery_id: dead.id.clone(),
            alert_id: dead.alert_id.clone(),
            run,
            reason: reason.clone(),
        }];
        // A `410 Gone` disables the endpoint in the same attempt, just before the death is recorded.
        if !endpoint.enabled
            && let Some(why) = endpoint
                .disabled_reason
                .as_ref()
                .filter(|why| why.as_str() != USER_DISABLED_REASON)
        {
            events.push(OperationsEvent::EndpointDisabled {
                endpoint_id: endpoint.id.clone(),
                version: endpoint.version,
                reason: why.clone(),
            });
        }
        for event in events {
            self.tell_operations(tenant, event).await;
        }
        Ok(())
    }
}
