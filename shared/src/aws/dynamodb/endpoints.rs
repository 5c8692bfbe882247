//! The endpoint port on DynamoDB: one item per endpoint in its tenant's partition, the endpoint as a JSON
//! document, replaced only while its version is the one the caller read. Endpoints never expire. The
//! endpoint's health (failure streak, outage run, circuit, slowdown) lives in attributes of the same item
//! beside the document, so a replace (which updates only the document and version) never overwrites it.
//! The document's secret values are sealed (`endpoint::sealed_document`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::item::{self, Item, n, s, time_value};
use super::layout::{ENDPOINT_PREFIX, LAYOUT, PK, SK, WRITTEN_LAYOUT, endpoint_sk, tenant_pk};
use super::{DynamoError, DynamoStore, WRITE_TRIES, key, request_failed, written};
use crate::endpoint::circuit::OpenCircuit;
use crate::endpoint::health::{EndpointHealth, FailureNote};
use crate::endpoint::{Endpoint, sealed_document};
use crate::ids::{EndpointId, TenantId};
use crate::ports::store::{EndpointStore, StoreError};

const DOC: &str = "doc";
const VERSION: &str = "version";
const FAILURE_STREAK: &str = "failure_streak";
const FAILING_SINCE: &str = "failing_since";
const LAST_FAILURE_AT: &str = "last_failure_at";
const OUTAGE_STREAK: &str = "outage_streak";
const LAST_ERROR: &str = "last_error";
const SLOWED_UNTIL: &str = "slowed_until";
const OPENED_AT: &str = "opened_at";
const PROBE_AT: &str = "probe_at";
const PROBING: &str = "probing";
/// Every health attribute by the name expressions give it (no name a prefix of another), removed together
/// by a success.
const HEALTH_ATTRIBUTES: [(&str, &str); 9] = [
    ("#streak", FAILURE_STREAK),
    ("#since", FAILING_SINCE),
    ("#last", LAST_FAILURE_AT),
    ("#outage", OUTAGE_STREAK),
    ("#error", LAST_ERROR),
    ("#slowed", SLOWED_UNTIL),
    ("#opened", OPENED_AT),
    ("#probeat", PROBE_AT),
    ("#probing", PROBING),
];

impl DynamoStore {
    async fn endpoint_item(&self, endpoint: &Endpoint) -> Result<Item, StoreError> {
        Ok([
            (PK.to_string(), s(tenant_pk(&endpoint.tenant))),
            (SK.to_string(), s(endpoint_sk(&endpoint.id))),
            (VERSION.to_string(), n(endpoint.version)),
            (DOC.to_string(), self.sealed_doc(endpoint).await?),
            item::layout_attribute(),
        ]
        .into())
    }

    async fn sealed_doc(&self, endpoint: &Endpoint) -> Result<AttributeValue, StoreError> {
        Ok(s(sealed_document(endpoint, &*self.sealer).await?))
    }

    /// The endpoint of `tenant`'s item, its sealed values opened (or kept from an earlier read of the same
    /// document).
    async fn endpoint_from(&self, tenant: &TenantId, found: &Item) -> Result<Endpoint, StoreError> {
        item::check_layout(found)?;
        let doc = item::string(found, DOC)?;
        let id = item::string(found, SK)?
            .strip_prefix(ENDPOINT_PREFIX)
            .map(EndpointId::from)
            .ok_or_else(|| StoreError::Corrupt("an endpoint item's sort key".into()))?;
        let mut endpoint = self
            .opened_endpoints
            .open(tenant, &id, doc, &*self.sealer)
            .await?;
        endpoint.health = health_from(found)?;
        Ok(endpoint)
    }
}

fn health_from(found: &Item) -> Result<EndpointHealth, StoreError> {
    if !found.contains_key(FAILURE_STREAK) {
        return Ok(EndpointHealth::default());
    }
    let circuit = match (
        item::optional_time(found, OPENED_AT)?,
        item::optional_time(found, PROBE_AT)?,
    ) {
        (Some(opened_at), Some(probe_at)) => Some(OpenCircuit {
            opened_at,
            probe_at,
            probing: item::flag(found, PROBING)?,
        }),
        _ => None,
    };
    Ok(EndpointHealth {
        failure_streak: item::number(found, FAILURE_STREAK)?,
        failing_since: item::optional_time(found, FAILING_SINCE)?,
        last_failure_at: item::optional_time(found, LAST_FAILURE_AT)?,
        outage_streak: match found.get(OUTAGE_STREAK) {
            Some(_) => item::number(found, OUTAGE_STREAK)?,
            None => 0,
        },
        last_error: item::optional_string(found, LAST_ERROR)?.map(str::to_string),
        slowed_until: item::optional_time(found, SLOWED_UNTIL)?,
        circuit,
    })
}

#[async_trait]
impl EndpointStore for DynamoStore {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.endpoint_item(endpoint).await?))
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
        match self.get_live(tenant_pk(tenant), endpoint_sk(id)).await? {
            Some(found) => Ok(Some(self.endpoint_from(tenant, &found).await?)),
            None => Ok(None),
        }
    }

    /// Ordered by id, as the embedded store lists them.
    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
        let found = self
            .query_prefix(tenant_pk(tenant), ENDPOINT_PREFIX)
            .await?;
        let mut endpoints = Vec::with_capacity(found.len());
        for found in &found {
            endpoints.push(self.endpoint_from(tenant, found).await?);
        }
        Ok(endpoints)
    }

    async fn replace_endpoint(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        // Only the document and version: the health attributes beside them stay as they are.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                tenant_pk(&endpoint.tenant),
                endpoint_sk(&endpoint.id),
            )))
            .update_expression("SET #doc = :doc, #version = :version, #layout = :layout")
            .condition_expression("#version = :expected")
            .expression_attribute_names("#doc", DOC)
            .expression_attribute_names("#version", VERSION)
            .expression_attribute_names("#layout", LAYOUT)
            .expression_attribute_values(":layout", n(WRITTEN_LAYOUT))
            .expression_attribute_values(":doc", self.sealed_doc(endpoint).await?)
            .expression_attribute_values(":version", n(endpoint.version))
            .expression_attribute_values(":expected", n(expected_version))
            .send()
            .await;
        written("UpdateItem", result)
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

    async fn note_failure(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        note: FailureNote<'_>,
    ) -> Result<Option<EndpointHealth>, StoreError> {
        // An outage grows the run; any other failure is an answer, which ends it and closes the circuit.
        let mut expression = if note.outage {
            "ADD #streak :one, #outage :one SET #since = if_not_exists(#since, :at), #last = :at, #error = :error"
                .to_string()
        } else {
            "ADD #streak :one SET #since = if_not_exists(#since, :at), #last = :at, #error = :error, #outage = :zero, #probing = :no REMOVE #opened, #probeat"
                .to_string()
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":at", time_value(&note.at))
            .expression_attribute_values(":error", s(note.error));
        if !note.outage {
            update = update
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":no", AttributeValue::Bool(false));
        }
        if let Some(slowed_until) = note.slowed_until {
            let (set, rest) = expression.split_at(expression.find(" SET ").map_or(0, |i| i + 5));
            expression = format!("{set}#slowed = :slowed, {rest}");
            update = update.expression_attribute_values(":slowed", time_value(&slowed_until));
        }
        // DynamoDB refuses names an expression does not use.
        for (name, attribute) in HEALTH_ATTRIBUTES {
            if expression.contains(name) {
                update = update.expression_attribute_names(name, attribute);
            }
        }
        let result = update
            .update_expression(expression)
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(health_from(&output.attributes.unwrap_or_default())?)),
            Err(e) => written("UpdateItem", Err::<(), _>(e)).map(|_| None),
        }
    }

    async fn open_circuit(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        circuit: &OpenCircuit,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .update_expression("SET #opened = :opened, #probe = :probe, #probing = :no")
            // The item as it was: without `opened_at` when this write opened the circuit. (ALL_OLD, not
            // UPDATED_OLD, which on moto came back without it.)
            .return_values(ReturnValue::AllOld)
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#opened", OPENED_AT)
            .expression_attribute_names("#probe", PROBE_AT)
            .expression_attribute_names("#probing", PROBING)
            .expression_attribute_values(":opened", time_value(&circuit.opened_at))
            .expression_attribute_values(":probe", time_value(&circuit.probe_at))
            .expression_attribute_values(":no", AttributeValue::Bool(false))
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .attributes
                .is_none_or(|old| !old.contains_key(OPENED_AT))),
            Err(e) => written::<(), _, _>("UpdateItem", Err(e)).map(|_| false),
        }
    }

    async fn claim_probe(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        seen_probe_at: DateTime<Utc>,
        lost_after: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .update_expression("SET #probe = :lost, #probing = :yes")
            .condition_expression("#probe = :seen")
            .expression_attribute_names("#probe", PROBE_AT)
            .expression_attribute_names("#probing", PROBING)
            .expression_attribute_values(":seen", time_value(&seen_probe_at))
            .expression_attribute_values(":lost", time_value(&lost_after))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        written("UpdateItem", result)
    }

    async fn clear_failures(&self, tenant: &TenantId, id: &EndpointId) -> Result<(), StoreError> {
        let names = HEALTH_ATTRIBUTES.map(|(name, _)| name).join(", ");
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(tenant_pk(tenant), endpoint_sk(id))))
            .update_expression(format!("REMOVE {names}"))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        for (name, attribute) in HEALTH_ATTRIBUTES {
            update = update.expression_attribute_names(name, attribute);
        }
        written("UpdateItem", update.send().await).map(|_| ())
    }

    async fn disable_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // Read, change, write back on the version read; a concurrent replace makes it read again.
        for _ in 0..WRITE_TRIES {
            let Some(mut endpoint) = self.get_endpoint(tenant, id).await? else {
                return Ok(false);
            };
            if !endpoint.enabled {
                return Ok(false);
            }
            let read_version = endpoint.version;
            endpoint.enabled = false;
            endpoint.disabled_reason = Some(reason.to_string());
            endpoint.version += 1;
            endpoint.updated_at = at;
            if self.replace_endpoint(&endpoint, read_version).await? {
                return Ok(true);
            }
        }
        Err(DynamoError::Contended("an endpoint being disabled").into())
    }
}
