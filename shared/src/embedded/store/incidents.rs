//! Incidents on SQLite: one row per (tenant, endpoint, incident key) with the incident's latest error
//! delivery, what was captured from an error's answer, and when an ok resolved it in a maintenance window.
//! The pruner deletes a row once its last change is past the history retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::embedded::Database;
use crate::endpoint::captures::CapturedValues;
use crate::ids::DeliveryId;
use crate::ports::store::{IncidentRecord, IncidentRef, IncidentStore, StoreError};

#[async_trait]
impl IncidentStore for Database {
    async fn note_error(
        &self,
        incident: IncidentRef<'_>,
        delivery_id: &DeliveryId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = owned(incident);
        let (delivery_id, at) = (delivery_id.0.clone(), at.timestamp_millis());
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO incidents (tenant, endpoint_id, incident_key, error_delivery_id, captured, updated_at)
                 VALUES (?1, ?2, ?3, ?4, '{}', ?5)
                 ON CONFLICT (tenant, endpoint_id, incident_key) DO UPDATE
                 SET error_delivery_id = excluded.error_delivery_id, updated_at = excluded.updated_at",
            )?
            .execute(params![key.0, key.1, key.2, delivery_id, at])?;
            Ok(())
        })
        .await
    }

    async fn keep_captured(
        &self,
        incident: IncidentRef<'_>,
        delivery_id: &DeliveryId,
        captured: &CapturedValues,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = owned(incident);
        let (delivery_id, at) = (delivery_id.0.clone(), at.timestamp_millis());
        let captured = serde_json::to_string(captured)?;
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO incidents (tenant, endpoint_id, incident_key, error_delivery_id, captured, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant, endpoint_id, incident_key) DO UPDATE
                 SET captured = excluded.captured,
                     error_delivery_id = coalesce(error_delivery_id, excluded.error_delivery_id),
                     updated_at = excluded.updated_at",
            )?
            .execute(params![key.0, key.1, key.2, delivery_id, captured, at])?;
            Ok(())
        })
        .await
    }

    async fn note_resolved(
        &self,
        incident: IncidentRef<'_>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let key = owned(incident);
        let at = at.timestamp_millis();
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO incidents (tenant, endpoint_id, incident_key, captured, resolved_at, updated_at)
                 VALUES (?1, ?2, ?3, '{}', ?4, ?4)
                 ON CONFLICT (tenant, endpoint_id, incident_key) DO UPDATE
                 SET resolved_at = excluded.resolved_at, updated_at = excluded.updated_at",
            )?
            .execute(params![key.0, key.1, key.2, at])?;
            Ok(())
        })
        .await
    }

    async fn get_incident(
        &self,
        incident: IncidentRef<'_>,
    ) -> Result<Option<IncidentRecord>, StoreError> {
        let key = owned(incident);
        self.read(move |c| {
            type Row = (Option<String>, String, Option<i64>, i64);
            let row: Option<Row> = c
                .prepare_cached(
                    "SELECT error_delivery_id, captured, resolved_at, updated_at FROM incidents
                     WHERE tenant = ?1 AND endpoint_id = ?2 AND incident_key = ?3",
                )?
                .query_row(params![key.0, key.1, key.2], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let Some((delivery_id, captured, resolved_at, updated_at)) = row else {
                return Ok(None);
            };
            Ok(Some(IncidentRecord {
                error_delivery_id: delivery_id.map(DeliveryId),
                captured: serde_json::from_str(&captured)?,
                resolved_at: resolved_at.map(time).transpose()?,
                updated_at: time(updated_at)?,
            }))
        })
        .await
    }
}

fn time(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Corrupt(format!("an incident's time {millis} is out of range")))
}

fn owned(incident: IncidentRef<'_>) -> (String, String, String) {
    (
        incident.tenant.0.clone(),
        incident.endpoint_id.0.clone(),
        incident.incident_key.to_string(),
    )
}
