//! The endpoint port on DynamoDB: one item per endpoint in its tenant's partition, the endpoint as a JSON
//! document, replaced only while its version is the one the caller read. Endpoints never expire.

use async_trait::async_trait;

use super::item::{self, Item, n, s};
use super::layout::{ENDPOINT_PREFIX, PK, SK, endpoint_sk, tenant_pk};
use super::{DynamoStore, key, request_failed, written};
use crate::endpoint::Endpoint;
use crate::ids::{EndpointId, TenantId};
use crate::store::{EndpointStore, StoreError};

const DOC: &str = "doc";
const VERSION: &str = "version";

fn endpoint_item(endpoint: &Endpoint) -> Result<Item, StoreError> {
    Ok([
        (PK.to_string(), s(tenant_pk(&endpoint.tenant))),
        (SK.to_string(), s(endpoint_sk(&endpoint.id))),
        (VERSION.to_string(), n(endpoint.version)),
        (DOC.to_string(), item::json_value(endpoint)?),
    ]
    .into())
}

fn endpoint_from(found: &Item) -> Result<Endpoint, StoreError> {
    Ok(item::json(found, DOC)?)
}

#[async_trait]
impl EndpointStore for DynamoStore {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(endpoint_item(endpoint)?))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await
            .map_err(|e| request_failed("PutItem", e))?;
        Ok(())
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        self.get_live(tenant_pk(tenant), endpoint_sk(id))
            .await?
            .map(|found| endpoint_from(&found))
            .transpose()
    }

    /// Ordered by id, as the embedded store lists them.
    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
        self.query_prefix(tenant_pk(tenant), ENDPOINT_PREFIX)
            .await?
            .iter()
            .map(endpoint_from)
            .collect()
    }

    async fn replace_endpoint(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(endpoint_item(endpoint)?))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await;
        written("PutItem", result)
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        written("DeleteItem", result)
    }
}
