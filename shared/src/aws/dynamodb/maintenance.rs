//! Maintenance windows on DynamoDB: one item per window in the tenant's partition, `MW#<window id>`,
//! holding the window as JSON; a tenant's windows are one `Query` of that prefix.

use async_trait::async_trait;

use super::item::{self, n, s};
use super::layout::{LAYOUT, PK, SK, WRITTEN_LAYOUT, tenant_pk};
use super::{DynamoStore, request_failed, written};
use crate::ids::TenantId;
use crate::maintenance::MaintenanceWindow;
use crate::ports::store::{MaintenanceStore, StoreError};

const WINDOW_PREFIX: &str = "MW#";
const DOC: &str = "doc";

fn window_sk(id: &str) -> String {
    format!("{WINDOW_PREFIX}{id}")
}

#[async_trait]
impl MaintenanceStore for DynamoStore {
    async fn list_windows(&self, tenant: &TenantId) -> Result<Vec<MaintenanceWindow>, StoreError> {
        self.query_prefix(tenant_pk(tenant), WINDOW_PREFIX)
            .await?
            .iter()
            .map(|found| Ok(item::document(found, DOC)?))
            .collect()
    }

    async fn insert_window(
        &self,
        tenant: &TenantId,
        window: &MaintenanceWindow,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(tenant_pk(tenant)))
            .item(SK, s(window_sk(&window.id)))
            .item(DOC, item::json_value(window)?)
            .item(LAYOUT, n(WRITTEN_LAYOUT))
            .send()
            .await
            .map_err(|e| request_failed("PutItem", e))?;
        Ok(())
    }

    async fn delete_window(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(tenant)))
            .key(SK, s(window_sk(id)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        written("DeleteItem", result)
    }
}
