//! Reading deliveries: one with every attempt, or a page of them by filter.

use super::{Service, ServiceError};
use crate::delivery::Delivery;
use crate::ids::{DeliveryId, TenantId};
use crate::ports::store::DeliveryFilter;

impl Service {
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
