//! Reading what was accepted: an alert, a delivery with every attempt, or a page of deliveries by filter.

use super::{Service, ServiceError};
use crate::alert::Alert;
use crate::delivery::Delivery;
use crate::ids::{AlertId, DeliveryId, TenantId};
use crate::ports::store::DeliveryFilter;

impl Service {
    /// The tenant's alert `id`, or `None`.
    pub async fn get_alert(
        &self,
        tenant: &TenantId,
        id: &AlertId,
    ) -> Result<Option<Alert>, ServiceError> {
        Ok(self.ports.alerts.get_alert(tenant, id).await?)
    }

    /// The tenant's alerts that no endpoint was routed, newest first, below `before` when given.
    pub async fn list_unrouted(
        &self,
        tenant: &TenantId,
        before: Option<&AlertId>,
        limit: usize,
    ) -> Result<Vec<Alert>, ServiceError> {
        Ok(self
            .ports
            .alerts
            .list_unrouted(tenant, before, limit)
            .await?)
    }

    /// The tenant's delivery `id` with every attempt, or `None`.
    pub async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, ServiceError> {
        Ok(self.ports.deliveries.get_delivery(tenant, id).await?)
    }

    /// A page of the tenant's deliveries that match `filter`, newest first.
    pub async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, ServiceError> {
        Ok(self
            .ports
            .deliveries
            .list_deliveries(tenant, filter)
            .await?)
    }
}
