//! Tenant settings on DynamoDB: one item in the tenant's partition holding the settings as JSON, and one
//! item per operational notice whose conditional put is the debounce.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::item::{self, n, s};
use super::layout::{EXPIRES_AT, LAYOUT, PK, SK, WRITTEN_LAYOUT, notice_sk, tenant_pk};
use super::{DynamoStore, request_failed, written};
use crate::ids::TenantId;
use crate::ports::store::{SettingsStore, StoreError};
use crate::tenant_settings::TenantSettings;

const DOC: &str = "doc";
const SETTINGS_SK: &str = "SETTINGS";
/// When a notice was last taken, epoch milliseconds.
const SENT_AT: &str = "sent_at";

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn get_settings(&self, tenant: &TenantId) -> Result<TenantSettings, StoreError> {
        match self
            .get_live(tenant_pk(tenant), SETTINGS_SK.to_string())
            .await?
        {
            Some(found) => Ok(item::document(&found, DOC)?),
            None => Ok(TenantSettings::default()),
        }
    }

    async fn put_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(tenant_pk(tenant)))
            .item(SK, s(SETTINGS_SK))
            .item(DOC, item::json_value(settings)?)
            .item(LAYOUT, n(WRITTEN_LAYOUT))
            .send()
            .await
            .map_err(|e| request_failed("PutItem", e))?;
        Ok(())
    }

    /// A put on the condition that the notice is absent or was taken before the window; it expires (TTL)
    /// once the window is over.
    async fn claim_notice(
        &self,
        tenant: &TenantId,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let expires = (at + window).timestamp();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(tenant_pk(tenant)))
            .item(SK, s(notice_sk(key)))
            .item(SENT_AT, n(at.timestamp_millis()))
            .item(EXPIRES_AT, n(expires))
            .condition_expression("attribute_not_exists(#pk) OR #sent <= :cutoff")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sent", SENT_AT)
            .expression_attribute_values(":cutoff", n((at - window).timestamp_millis()))
            .send()
            .await;
        written("PutItem", result)
    }
}
