//! Endpoints on SQLite: the endpoint as a JSON document per version, its health in rows of its own
//! (`endpoint_health`, and `endpoint_circuit` for the breaker and slowdown) so a replace never overwrites
//! it. The document's secret values are sealed (`endpoint::sealed_document`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use crate::embedded::Database;
use crate::endpoint::circuit::OpenCircuit;
use crate::endpoint::health::{EndpointHealth, FailureNote};
use crate::endpoint::{Endpoint, open_document, sealed_document};
use crate::ids::{EndpointId, TenantId};
use crate::ports::store::{EndpointStore, StoreError};

#[async_trait]
impl EndpointStore for Database {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let doc = sealed_document(endpoint, &*self.sealer).await?;
        let (tenant, id, version) = (
            endpoint.tenant.0.clone(),
            endpoint.id.0.clone(),
            endpoint.version,
        );
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO endpoints (tenant, id, version, doc) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![tenant, id, version, doc])?;
            Ok(())
        })
        .await
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Option<Endpoint>, StoreError> {
        let (tenant_id, endpoint_id) = (tenant.0.clone(), id.0.clone());
        let stored = self
            .read(move |c| read_stored_endpoint(c, &tenant_id, &endpoint_id))
            .await?;
        match stored {
            Some(stored) => Ok(Some(self.endpoint_of(tenant, id, stored).await?)),
            None => Ok(None),
        }
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
        let tenant = tenant.0.clone();
        let stored = self
            .read(move |c| {
                let mut statement = c.prepare_cached(&format!(
                    "{ENDPOINT_WITH_HEALTH} WHERE e.tenant = ?1 ORDER BY e.id"
                ))?;
                let rows = statement.query_map([tenant], stored_from_row)?;
                let mut stored = Vec::new();
                for row in rows {
                    stored.push(row??);
                }
                Ok(stored)
            })
            .await?;
        let mut endpoints = Vec::with_capacity(stored.len());
        for stored in stored {
            endpoints.push(self.open_stored(stored).await?);
        }
        Ok(endpoints)
    }

    async fn replace_endpoint(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let doc = sealed_document(endpoint, &*self.sealer).await?;
        let (tenant, id, version) = (
            endpoint.tenant.0.clone(),
            endpoint.id.0.clone(),
            endpoint.version,
        );
        self.run(move |c| {
            let changed = c.prepare_cached("UPDATE endpoints SET version = ?1, doc = ?2 WHERE tenant = ?3 AND id = ?4 AND version = ?5")?.execute(
                params![version, doc, tenant, id, expected_version],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.run(move |c| {
            delete_health(c, &tenant, &id)?;
            let deleted = c
                .prepare_cached("DELETE FROM endpoints WHERE tenant = ?1 AND id = ?2")?
                .execute([&tenant, &id])?
                == 1;
            Ok(deleted)
        })
        .await
    }

    async fn note_failure(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        note: FailureNote<'_>,
    ) -> Result<Option<EndpointHealth>, StoreError> {
        let (tenant, id, at) = (tenant.0.clone(), id.0.clone(), note.at.to_rfc3339());
        let (outage, error) = (note.outage, note.error.to_string());
        let slowed_until = note.slowed_until.map(|t| t.to_rfc3339());
        self.run(move |c| {
            let exists: bool = c.prepare_cached("SELECT EXISTS (SELECT 1 FROM endpoints WHERE tenant = ?1 AND id = ?2)")?.query_row(
                [&tenant, &id],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(None);
            }
            c.prepare_cached("INSERT INTO endpoint_health (tenant, endpoint_id, failure_streak, failing_since, last_failure_at)
                 VALUES (?1, ?2, 1, ?3, ?3)
                 ON CONFLICT (tenant, endpoint_id) DO UPDATE
                   SET failure_streak = failure_streak + 1, last_failure_at = excluded.last_failure_at")?
                .execute([&tenant, &id, &at])?;
            // An outage grows the run; any other failure is an answer, which ends it and closes the circuit.
            c.prepare_cached("INSERT INTO endpoint_circuit (tenant, endpoint_id, outage_streak, last_error, slowed_until)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, endpoint_id) DO UPDATE
                   SET outage_streak = CASE WHEN ?3 = 1 THEN outage_streak + 1 ELSE 0 END,
                       opened_at = CASE WHEN ?3 = 1 THEN opened_at END,
                       probe_at = CASE WHEN ?3 = 1 THEN probe_at END,
                       probing = CASE WHEN ?3 = 1 THEN probing ELSE 0 END,
                       last_error = excluded.last_error,
                       slowed_until = CASE WHEN excluded.slowed_until > coalesce(slowed_until, '')
                                           THEN excluded.slowed_until ELSE slowed_until END")?
                .execute(params![tenant, id, u32::from(outage), error, slowed_until])?;
            let health = c
                .prepare_cached(&format!("{HEALTH} WHERE h.tenant = ?1 AND h.endpoint_id = ?2"))?
                .query_row([&tenant, &id], health_from_row)??;
            Ok(Some(health))
        })
        .await
    }

    async fn open_circuit(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        circuit: &OpenCircuit,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        let (opened_at, probe_at) = (
            circuit.opened_at.to_rfc3339(),
            circuit.probe_at.to_rfc3339(),
        );
        self.run(move |c| {
            // Read and written in one unit of the database thread: no other write comes between.
            let was_closed = c
                .prepare_cached(
                    "SELECT opened_at IS NULL FROM endpoint_circuit WHERE tenant = ?1 AND endpoint_id = ?2",
                )?
                .query_row([&tenant, &id], |r| r.get::<_, bool>(0))
                .optional()?
                .unwrap_or(false);
            c.prepare_cached(
                "UPDATE endpoint_circuit SET opened_at = ?3, probe_at = ?4, probing = 0
                 WHERE tenant = ?1 AND endpoint_id = ?2",
            )?
            .execute([tenant, id, opened_at, probe_at])?;
            Ok(was_closed)
        })
        .await
    }

    async fn claim_probe(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        seen_probe_at: DateTime<Utc>,
        lost_after: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        let (seen, lost_after) = (seen_probe_at.to_rfc3339(), lost_after.to_rfc3339());
        self.run(move |c| {
            let claimed = c
                .prepare_cached(
                    "UPDATE endpoint_circuit SET probe_at = ?4, probing = 1
                     WHERE tenant = ?1 AND endpoint_id = ?2 AND probe_at = ?3",
                )?
                .execute([tenant, id, seen, lost_after])?;
            Ok(claimed == 1)
        })
        .await
    }

    async fn clear_failures(&self, tenant: &TenantId, id: &EndpointId) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.run(move |c| {
            delete_health(c, &tenant, &id)?;
            Ok(())
        })
        .await
    }

    async fn disable_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (tenant, id, reason) = (tenant.0.clone(), id.0.clone(), reason.to_string());
        self.run(move |c| {
            let Some(doc) = c
                .query_row(
                    "SELECT doc FROM endpoints WHERE tenant = ?1 AND id = ?2",
                    [&tenant, &id],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
            else {
                return Ok(false);
            };
            // The document as stored, its sealed values left sealed: only these fields change.
            let mut doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&doc)?;
            if doc.get("enabled") != Some(&serde_json::Value::Bool(true)) {
                return Ok(false);
            }
            let version = doc
                .get("version")
                .and_then(|v| v.as_u64())
                .ok_or_else(|| StoreError::Corrupt(format!("endpoint {id} has no version")))?
                + 1;
            doc.insert("enabled".into(), false.into());
            doc.insert("disabled_reason".into(), reason.into());
            doc.insert("version".into(), version.into());
            doc.insert("updated_at".into(), serde_json::to_value(at)?);
            c.prepare_cached(
                "UPDATE endpoints SET version = ?1, doc = ?2 WHERE tenant = ?3 AND id = ?4",
            )?
            .execute(params![
                version,
                serde_json::Value::Object(doc).to_string(),
                tenant,
                id
            ])?;
            Ok(true)
        })
        .await
    }
}

/// Removes the endpoint's health rows: a success clears them, and so does deleting the endpoint.
fn delete_health(c: &rusqlite::Connection, tenant: &str, id: &str) -> rusqlite::Result<()> {
    for table in ["endpoint_health", "endpoint_circuit"] {
        c.prepare_cached(&format!(
            "DELETE FROM {table} WHERE tenant = ?1 AND endpoint_id = ?2"
        ))?
        .execute([tenant, id])?;
    }
    Ok(())
}

impl Database {
    /// Endpoints whose circuit is open (or half open): the rows of failing endpoints, never the endpoints.
    pub async fn open_circuits(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT COUNT(*) FROM endpoint_circuit WHERE opened_at IS NOT NULL",
            )?
            .query_row([], |r| r.get(0))?)
        })
        .await
    }
}

/// An endpoint's health, from its two rows (either may be absent).
const HEALTH: &str =
    "SELECT h.failure_streak, h.failing_since, h.last_failure_at, c.outage_streak, c.last_error,
            c.slowed_until, c.opened_at, c.probe_at, c.probing
     FROM endpoint_health h
     LEFT JOIN endpoint_circuit c ON c.tenant = h.tenant AND c.endpoint_id = h.endpoint_id";

/// An endpoint's document with its health beside it (absent when it has no failures).
const ENDPOINT_WITH_HEALTH: &str =
    "SELECT h.failure_streak, h.failing_since, h.last_failure_at, c.outage_streak, c.last_error,
            c.slowed_until, c.opened_at, c.probe_at, c.probing, e.doc
     FROM endpoints e
     LEFT JOIN endpoint_health h ON h.tenant = e.tenant AND h.endpoint_id = e.id
     LEFT JOIN endpoint_circuit c ON c.tenant = e.tenant AND c.endpoint_id = e.id";

/// An endpoint's row as read: its document, values still sealed, and its health.
pub(super) struct StoredEndpoint {
    doc: String,
    health: EndpointHealth,
}

fn stored_from_row(row: &Row<'_>) -> rusqlite::Result<Result<StoredEndpoint, StoreError>> {
    let doc: String = row.get(9)?;
    Ok(health_from_row(row)?.map(|health| StoredEndpoint { doc, health }))
}

/// The endpoint `tenant`/`id` as stored, with its health, read on `c`.
pub(super) fn read_stored_endpoint(
    c: &rusqlite::Connection,
    tenant: &str,
    id: &str,
) -> Result<Option<StoredEndpoint>, StoreError> {
    c.prepare_cached(&format!(
        "{ENDPOINT_WITH_HEALTH} WHERE e.tenant = ?1 AND e.id = ?2"
    ))?
    .query_row([tenant, id], stored_from_row)
    .optional()?
    .transpose()
}

impl Database {
    /// The endpoint `id` of a row read with [`read_stored_endpoint`], its sealed values opened once per
    /// stored document (outside the database thread: opening may wait).
    pub(super) async fn endpoint_of(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        stored: StoredEndpoint,
    ) -> Result<Endpoint, StoreError> {
        let mut endpoint = self
            .opened_endpoints
            .open(tenant, id, &stored.doc, &*self.sealer)
            .await?;
        endpoint.health = stored.health;
        Ok(endpoint)
    }

    /// The endpoint of a row, its sealed values opened (outside the database thread: opening may wait).
    async fn open_stored(&self, stored: StoredEndpoint) -> Result<Endpoint, StoreError> {
        let mut endpoint = open_document(&stored.doc, &*self.sealer).await?;
        endpoint.health = stored.health;
        Ok(endpoint)
    }
}

/// The health in the first nine columns of `row` (see [`HEALTH`]); all defaults when it has no failures.
fn health_from_row(row: &Row<'_>) -> rusqlite::Result<Result<EndpointHealth, StoreError>> {
    let Some(failure_streak) = row.get::<_, Option<u32>>(0)? else {
        return Ok(Ok(EndpointHealth::default()));
    };
    let text = |i: usize| row.get::<_, Option<String>>(i);
    let (since, last, last_error) = (text(1)?, text(2)?, text(4)?);
    let (slowed_until, opened_at, probe_at) = (text(5)?, text(6)?, text(7)?);
    let outage_streak: Option<u32> = row.get(3)?;
    let probing: Option<bool> = row.get(8)?;
    Ok((|| {
        let circuit = match (opened_at, probe_at) {
            (Some(opened_at), Some(probe_at)) => Some(OpenCircuit {
                opened_at: time(&opened_at)?,
                probe_at: time(&probe_at)?,
                probing: probing.unwrap_or(false),
            }),
            _ => None,
        };
        Ok(EndpointHealth {
            failure_streak,
            failing_since: since.as_deref().map(time).transpose()?,
            last_failure_at: last.as_deref().map(time).transpose()?,
            outage_streak: outage_streak.unwrap_or(0),
            last_error,
            slowed_until: slowed_until.as_deref().map(time).transpose()?,
            circuit,
        })
    })())
}

fn time(text: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("endpoint health time `{text}`: {e}")))
}
