//! Creating the adapter's table: keys, the four delivery indexes, on-demand billing, and TTL on
//! `expires_at`. Used by tests and for development; production creates the same table from the template.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::layout::{DELIVERY_INDEXES, EXPIRES_AT, PK, SK};
use super::{DynamoError, request_failed};
use crate::ports::store::StoreError;

/// How long to wait for a new table to become active.
const ACTIVE_WAIT: Duration = Duration::from_secs(300);

/// Creates the table if it does not exist, waits until it is active and makes sure TTL is enabled on
/// `expires_at`. Safe to call again on an existing table (its definition is not compared).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attribute_definitions()?))
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .set_global_secondary_indexes(Some(indexes()?))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(request_failed("CreateTable", e).into()),
    }
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(ACTIVE_WAIT)
        .await
        .map_err(|e| request_failed("DescribeTable", e))?;
    enable_ttl(client, table).await
}

async fn enable_ttl(client: &Client, table: &str) -> Result<(), StoreError> {
    let described = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| request_failed("DescribeTimeToLive", e))?;
    let status = described
        .time_to_live_description
        .and_then(|d| d.time_to_live_status);
    if matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .map_err(DynamoError::Build)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(specification)
        .send()
        .await
        .map_err(|e| request_failed("UpdateTimeToLive", e))?;
    Ok(())
}

fn attribute_definitions() -> Result<Vec<AttributeDefinition>, StoreError> {
    let names = [PK, SK].into_iter().chain(
        DELIVERY_INDEXES
            .iter()
            .flat_map(|i| [i.key_attribute, i.sort_attribute]),
    );
    names
        .map(|name| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| DynamoError::Build(e).into())
        })
        .collect()
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| DynamoError::Build(e).into())
}

/// Every delivery index projects the whole delivery item (small, a few hundred bytes), so a listing needs
/// no extra read per delivery but its attempts.
fn indexes() -> Result<Vec<GlobalSecondaryIndex>, StoreError> {
    DELIVERY_INDEXES
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key_element(index.key_attribute, KeyType::Hash)?)
                .key_schema(key_element(index.sort_attribute, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| DynamoError::Build(e).into())
        })
        .collect()
}
