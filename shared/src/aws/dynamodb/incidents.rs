//! Incidents on DynamoDB: one item per (endpoint, incident key) in the tenant's partition,
//! `INC#<endpoint id>#<sha256 of the incident key>`, holding the incident's latest error delivery, what was
//! captured from an error's answer (a JSON string) and when an ok resolved it in a maintenance window. Each write is one
//! `UpdateItem` that creates the item or changes its part, and moves its expiry to the retention after
//! now, so an incident lives as long as its alerts after its last message.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::item::{self, n, s, time_value};
use super::layout::{EXPIRES_AT, LAYOUT, PK, SK, WRITTEN_LAYOUT, incident_sk, tenant_pk};
use super::{DynamoStore, request_failed};
use crate::endpoint::captures::CapturedValues;
use crate::ids::DeliveryId;
use crate::ports::store::{IncidentRecord, IncidentRef, IncidentStore, StoreError};

const ERROR_DELIVERY_ID: &str = "error_delivery_id";
const CAPTURED: &str = "captured";
const UPDATED_AT: &str = "updated_at";
const RESOLVED_AT: &str = "resolved_at";

impl DynamoStore {
    /// `SET` of `assignments` (besides the expiry, the time and the layout) on the incident's item,
    /// creating it if absent.
    async fn update_incident(
        &self,
        incident: IncidentRef<'_>,
        assignments: &str,
        values: Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(tenant_pk(incident.tenant)))
            .key(
                SK,
                s(incident_sk(incident.endpoint_id, incident.incident_key)),
            )
            .update_expression(format!(
                "SET {assignments}, #updated = :updated, #expires = :expires, #layout = :layout"
            ))
            .expression_attribute_names("#updated", UPDATED_AT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_names("#layout", LAYOUT)
            .expression_attribute_values(":updated", time_value(&at))
            .expression_attribute_values(":expires", n(self.expiry()))
            .expression_attribute_values(":layout", n(WRITTEN_LAYOUT));
        for (placeholder, name) in [
            ("#captured", CAPTURED),
            ("#delivery", ERROR_DELIVERY_ID),
            ("#resolved", RESOLVED_AT),
        ] {
            if assignments.contains(placeholder) {
                update = update.expression_attribute_names(placeholder, name);
            }
        }
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        update
            .send()
            .await
            .map_err(|e| request_failed("UpdateItem", e))?;
        Ok(())
    }
}

#[async_trait]
impl IncidentStore for DynamoStore {
    async fn note_error(
        &self,
        incident: IncidentRef<'_>,
        delivery_id: &DeliveryId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_incident(
            incident,
            "#delivery = :delivery",
            vec![(":delivery", s(delivery_id.as_str()))],
            at,
        )
        .await
    }

    async fn keep_captured(
        &self,
        incident: IncidentRef<'_>,
        delivery_id: &DeliveryId,
        captured: &CapturedValues,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_incident(
            incident,
            "#captured = :captured, #delivery = if_not_exists(#delivery, :delivery)",
            vec![
                (":captured", item::json_value(captured)?),
                (":delivery", s(delivery_id.as_str())),
            ],
            at,
        )
        .await
    }

    async fn note_resolved(
        &self,
        incident: IncidentRef<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.update_incident(
            incident,
            "#resolved = :resolved",
            vec![(":resolved", time_value(&at))],
            at,
        )
        .await
    }

    /// Strongly consistent: an `ok` reads what its error's attempt has just written.
    async fn get_incident(
        &self,
        incident: IncidentRef<'_>,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let Some(found) = self
            .get_live(
                tenant_pk(incident.tenant),
                incident_sk(incident.endpoint_id, incident.incident_key),
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(IncidentRecord {
            error_delivery_id: item::optional_string(&found, ERROR_DELIVERY_ID)?
                .map(DeliveryId::from),
            captured: match item::optional_string(&found, CAPTURED)? {
                Some(_) => item::json(&found, CAPTURED)?,
                None => CapturedValues::new(),
            },
            resolved_at: item::optional_time(&found, RESOLVED_AT)?,
            updated_at: item::time(&found, UPDATED_AT)?,
        }))
    }
}
