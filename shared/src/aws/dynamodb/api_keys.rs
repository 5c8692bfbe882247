//! The API key port on DynamoDB: one item per key hash (a lookup is one read), an entry per key in its
//! tenant's partition under the key's public id (listing and revoking), a marker per tenant naming its
//! deployment key, and a marker item that answers "is there any key" without a scan. Every change is one
//! transaction, so the hash item and the tenant's entry come and go together.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{self, Item, ItemError, s};
use super::layout::{
    API_KEY_SK, BOOTSTRAP_KEY_SK, KEYS_MARKER_PK, KEYS_MARKER_SK, PK, SK, TENANT_KEY_PREFIX,
    TENANTS_PK, api_key_pk, tenant_key_sk, tenant_pk,
};
use super::{DynamoError, DynamoStore, Transaction, WRITE_TRIES, key, request_failed};
use crate::ids::{ApiKeyId, TenantId};
use crate::ports::store::{
    ApiKeyRecord, ApiKeyStore, BOOTSTRAP_KEY_OF_ANOTHER_TENANT, Revocation, StoreError,
};

const TENANT: &str = "tenant";
const ID: &str = "id";
const KEY_HASH: &str = "key_hash";
const LABEL: &str = "label";
const CREATED_AT: &str = "created_at";

/// When a delete in a transaction may happen (else the transaction is cancelled).
enum DeleteIf<'a> {
    Always,
    /// The item is there.
    Present,
    /// The item is gone already, or its attribute still holds this value (it is still the same key).
    AbsentOr(&'static str, &'a str),
}

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

    /// Adds the key, its tenant's entry and the marker in one transaction; a key hash that exists
    /// already keeps its tenant.
    async fn add_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<Option<ApiKeyId>, StoreError> {
        let id = ApiKeyId::generate();
        let items = self.new_key(tenant, &id, key_hash, label)?;
        match self.transact(items).await? {
            Transaction::Committed => Ok(Some(id)),
            Transaction::ConditionFailed(_) => Ok(None),
        }
    }

    async fn has_keys(&self) -> Result<bool, StoreError> {
        Ok(self
            .get_live(KEYS_MARKER_PK.to_string(), KEYS_MARKER_SK.to_string())
            .await?
            .is_some())
    }

    /// In id order, which is creation order (ids are time-ordered).
    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let entries = self
            .query_prefix(tenant_pk(tenant), TENANT_KEY_PREFIX)
            .await?;
        entries
            .iter()
            .map(|entry| {
                Ok(ApiKeyRecord {
                    id: ApiKeyId(item::string(entry, ID)?.to_string()),
                    label: item::string(entry, LABEL)?.to_string(),
                    created_at: item::time(entry, CREATED_AT)?,
                })
            })
            .collect()
    }

    /// Removes the key's two items on the condition that another key of the tenant is still there: of
    /// two revocations at once of a tenant's last two keys, DynamoDB commits only one.
    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<Revocation, StoreError> {
        for _ in 0..WRITE_TRIES {
            let entries = self
                .query_prefix(tenant_pk(tenant), TENANT_KEY_PREFIX)
                .await?;
            let keys = entries
                .iter()
                .map(|entry| Ok((item::string(entry, ID)?, item::string(entry, KEY_HASH)?)))
                .collect::<Result<Vec<_>, ItemError>>()?;
            let Some((_, key_hash)) = keys.iter().find(|(k, _)| *k == id.as_str()) else {
                return Ok(Revocation::NotFound);
            };
            let Some((other, _)) = keys.iter().find(|(k, _)| *k != id.as_str()) else {
                return Ok(Revocation::LastKey);
            };
            let items = vec![
                self.delete(key(tenant_pk(tenant), tenant_key_sk(id)), DeleteIf::Present)?,
                self.delete(
                    key(api_key_pk(key_hash), API_KEY_SK.to_string()),
                    DeleteIf::AbsentOr(TENANT, tenant.as_str()),
                )?,
                self.still_there(key(
                    tenant_pk(tenant),
                    tenant_key_sk(&ApiKeyId::from(*other)),
                ))?,
            ];
            if let Transaction::Committed = self.transact(items).await? {
                return Ok(Revocation::Revoked);
            }
        }
        Err(DynamoError::Contended("the tenant's API keys").into())
    }

    /// One transaction: the new key (or the adopted one), the marker moved on the condition that it
    /// still names what was read, and the replaced key's items removed. Two cold starts with the same
    /// new hash: one commits, the other's marker condition fails and its re-read finds the work done.
    async fn bootstrap_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<(), StoreError> {
        // Also for a deployment from before the registry, whose key is already in place.
        self.register_tenant(tenant).await?;
        for _ in 0..WRITE_TRIES {
            let marker = self
                .get_live(tenant_pk(tenant), BOOTSTRAP_KEY_SK.to_string())
                .await?;
            let replaced = match &marker {
                None => None,
                Some(marker) => Some((
                    item::string(marker, KEY_HASH)?.to_string(),
                    ApiKeyId(item::string(marker, ID)?.to_string()),
                )),
            };
            if replaced.as_ref().map(|(hash, _)| hash.as_str()) == Some(key_hash) {
                return Ok(());
            }
            let existing = self
                .get_live(api_key_pk(key_hash), API_KEY_SK.to_string())
                .await?;
            let (id, mut items) = match existing {
                None => {
                    let id = ApiKeyId::generate();
                    let items = self.new_key(tenant, &id, key_hash, label)?;
                    (id, items)
                }
                Some(found) => self.adopt(tenant, key_hash, &found)?,
            };
            let moved = Put::builder()
                .table_name(&self.table)
                .item(PK, s(tenant_pk(tenant)))
                .item(SK, s(BOOTSTRAP_KEY_SK))
                .item(KEY_HASH, s(key_hash))
                .item(ID, s(id.as_str()));
            let moved = match &replaced {
                None => moved
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PK),
                Some((hash, _)) => moved
                    .condition_expression("#a = :a")
                    .expression_attribute_names("#a", KEY_HASH)
                    .expression_attribute_values(":a", s(hash.as_str())),
            };
            items.push(
                TransactWriteItem::builder()
                    .put(moved.build().map_err(DynamoError::Build)?)
                    .build(),
            );
            if let Some((hash, old_id)) = &replaced {
                // The replaced key may have been revoked meanwhile; a hash added again since as another
                // key (another id) is not the deployment's and stays. Should that change before the
                // transaction, its condition fails and the next try reads it again.
                let by_hash = key(api_key_pk(hash), API_KEY_SK.to_string());
                let still_the_replaced = match self
                    .get_live(api_key_pk(hash), API_KEY_SK.to_string())
                    .await?
                {
                    Some(found) => item::optional_string(&found, ID)? == Some(old_id.as_str()),
                    None => false,
                };
                if still_the_replaced {
                    items.push(self.delete(by_hash, DeleteIf::AbsentOr(ID, old_id.as_str()))?);
                }
                items.push(self.delete(
                    key(tenant_pk(tenant), tenant_key_sk(old_id)),
                    DeleteIf::Always,
                )?);
            }
            if let Transaction::Committed = self.transact(items).await? {
                return Ok(());
            }
        }
        Err(DynamoError::Contended("the tenant's deployment key").into())
    }
}

impl DynamoStore {
    /// The writes of a new key: its hash item (on the condition the hash is new), its tenant's entry
    /// and the any-key marker.
    fn new_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        key_hash: &str,
        label: &str,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let now = Utc::now();
        let by_hash = Put::builder()
            .table_name(&self.table)
            .item(PK, s(api_key_pk(key_hash)))
            .item(SK, s(API_KEY_SK))
            .item(TENANT, s(tenant.as_str()))
            .item(ID, s(id.as_str()))
            .item(LABEL, s(label))
            .item(CREATED_AT, item::time_value(&now))
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
        Ok(vec![
            TransactWriteItem::builder().put(by_hash).build(),
            self.tenant_entry(tenant, id, key_hash, label, &now)?,
            TransactWriteItem::builder().put(marker).build(),
            TransactWriteItem::builder()
                .put(self.tenant_registration(tenant)?)
                .build(),
        ])
    }

    /// The tenant's item in the tenant registry ([`TENANTS_PK`]); putting it again changes nothing.
    fn tenant_registration(&self, tenant: &TenantId) -> Result<Put, StoreError> {
        Ok(Put::builder()
            .table_name(&self.table)
            .item(PK, s(TENANTS_PK))
            .item(SK, s(tenant_pk(tenant)))
            .item(TENANT, s(tenant.as_str()))
            .build()
            .map_err(DynamoError::Build)?)
    }

    async fn register_tenant(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let put = self.tenant_registration(tenant)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(put.item().clone()))
            .send()
            .await;
        result.map_err(|e| request_failed("PutItem", e))?;
        Ok(())
    }

    /// Every tenant that has had an API key, in the order of their partition keys.
    pub(super) async fn registered_tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        let mut tenants = Vec::new();
        for found in self.query_prefix(TENANTS_PK.to_string(), "T#").await? {
            tenants.push(TenantId(item::string(&found, TENANT)?.to_string()));
        }
        Ok(tenants)
    }

    /// A key of the tenant becomes its deployment key as it is. A key from before key ids is given one
    /// (and its tenant's entry) on the way.
    fn adopt(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        found: &Item,
    ) -> Result<(ApiKeyId, Vec<TransactWriteItem>), StoreError> {
        if item::string(found, TENANT)? != tenant.as_str() {
            return Err(StoreError::Backend(BOOTSTRAP_KEY_OF_ANOTHER_TENANT.into()));
        }
        let by_hash = key(api_key_pk(key_hash), API_KEY_SK.to_string());
        if let Some(id) = item::optional_string(found, ID)? {
            return Ok((ApiKeyId::from(id), vec![self.still_there(by_hash)?]));
        }
        let id = ApiKeyId::generate();
        let label = item::string(found, LABEL)?;
        let created_at = item::time(found, CREATED_AT)?;
        let given_id = Update::builder()
            .table_name(&self.table)
            .set_key(Some(by_hash))
            .update_expression("SET #id = :id")
            .condition_expression("attribute_exists(#pk) AND attribute_not_exists(#id)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#id", ID)
            .expression_attribute_values(":id", s(id.as_str()))
            .build()
            .map_err(DynamoError::Build)?;
        let items = vec![
            TransactWriteItem::builder().update(given_id).build(),
            self.tenant_entry(tenant, &id, key_hash, label, &created_at)?,
        ];
        Ok((id, items))
    }

    fn tenant_entry(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        key_hash: &str,
        label: &str,
        created_at: &DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let entry = Put::builder()
            .table_name(&self.table)
            .item(PK, s(tenant_pk(tenant)))
            .item(SK, s(tenant_key_sk(id)))
            .item(ID, s(id.as_str()))
            .item(KEY_HASH, s(key_hash))
            .item(LABEL, s(label))
            .item(CREATED_AT, item::time_value(created_at))
            .build()
            .map_err(DynamoError::Build)?;
        Ok(TransactWriteItem::builder().put(entry).build())
    }

    fn delete(&self, key: Item, condition: DeleteIf) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder().table_name(&self.table).set_key(Some(key));
        let delete = match condition {
            DeleteIf::Always => delete,
            DeleteIf::Present => delete
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            DeleteIf::AbsentOr(attribute, value) => delete
                .condition_expression("attribute_not_exists(#pk) OR #a = :a")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#a", attribute)
                .expression_attribute_values(":a", s(value)),
        };
        Ok(TransactWriteItem::builder()
            .delete(delete.build().map_err(DynamoError::Build)?)
            .build())
    }

    /// A condition that the item exists when the transaction commits.
    fn still_there(&self, key: Item) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(DynamoError::Build)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}
