//! The API key port on DynamoDB: one item per key hash (a lookup is one read) and a marker item that
//! answers "is there any key" without a scan.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::Utc;

use super::item::{self, s};
use super::layout::{API_KEY_SK, KEYS_MARKER_PK, KEYS_MARKER_SK, PK, SK, api_key_pk};
use super::{DynamoError, DynamoStore, Transaction};
use crate::ids::TenantId;
use crate::ports::store::{ApiKeyStore, StoreError};

const TENANT: &str = "tenant";

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn tenant_for_key(&self, key_hash: &str) -> Result<Option<TenantId>, StoreError> {
        let Some(found) = self
            .get_live(api_key_pk(key_hash), API_KEY_SK.to_string())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(TenantId(item::string(&found, TENANT)?.to_string())))
    }

    /// Adds the key and the marker in one transaction; a key hash that exists already keeps its tenant.
    async fn add_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<(), StoreError> {
        let key = Put::builder()
            .table_name(&self.table)
            .item(PK, s(api_key_pk(key_hash)))
            .item(SK, s(API_KEY_SK))
            .item(TENANT, s(tenant.as_str()))
            .item("label", s(label))
            .item("created_at", item::time_value(&Utc::now()))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(DynamoError::Build)?;
        let marker = Put::builder()
            .table_name(&self.table)
            .item(PK, s(KEYS_MARKER_PK))
            .item(SK, s(KEYS_MARKER_SK))
            .build()
            .map_err(DynamoError::Build)?;
        let items = vec![
            TransactWriteItem::builder().put(key).build(),
            TransactWriteItem::builder().put(marker).build(),
        ];
        match self.transact(items).await? {
            Transaction::Committed | Transaction::ConditionFailed(_) => Ok(()),
        }
    }

    async fn has_keys(&self) -> Result<bool, StoreError> {
        Ok(self
            .get_live(KEYS_MARKER_PK.to_string(), KEYS_MARKER_SK.to_string())
            .await?
            .is_some())
    }
}
