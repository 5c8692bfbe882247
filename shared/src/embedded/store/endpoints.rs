//! Endpoints on SQLite: the endpoint as a JSON document per version, its health in a row of its own so a
//! replace never overwrites it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use crate::embedded::Database;
use crate::endpoint::Endpoint;
use crate::endpoint::health::EndpointHealth;
use crate::ids::{EndpointId, TenantId};
use crate::ports::store::{EndpointStore, StoreError};

#[async_trait]
impl EndpointStore for Database {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let doc = serde_json::to_string(endpoint)?;
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
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "{ENDPOINT_WITH_HEALTH} WHERE e.tenant = ?1 AND e.id = ?2"
            ))?
            .query_row([tenant, id], endpoint_from_row)
            .optional()?
            .transpose()
        })
        .await
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, StoreError> {
        let tenant = tenant.0.clone();
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "{ENDPOINT_WITH_HEALTH} WHERE e.tenant = ?1 ORDER BY e.id"
            ))?;
            let rows = statement.query_map([tenant], endpoint_from_row)?;
            let mut endpoints = Vec::new();
            for row in rows {
                endpoints.push(row??);
            }
            Ok(endpoints)
        })
        .await
    }

    async fn replace_endpoint(
        &self,
        endpoint: &Endpoint,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        let doc = serde_json::to_string(endpoint)?;
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
            let tx = c.savepoint()?;
            tx.prepare_cached(
                "DELETE FROM endpoint_health WHERE tenant = ?1 AND endpoint_id = ?2",
            )?
            .execute([&tenant, &id])?;
            let deleted = tx
                .prepare_cached("DELETE FROM endpoints WHERE tenant = ?1 AND id = ?2")?
                .execute([&tenant, &id])?
                == 1;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }

    async fn note_failure(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        at: DateTime<Utc>,
    ) -> Result<Option<EndpointHealth>, StoreError> {
        let (tenant, id, at) = (tenant.0.clone(), id.0.clone(), at.to_rfc3339());
        self.run(move |c| {
            let tx = c.savepoint()?;
            let exists: bool = tx.prepare_cached("SELECT EXISTS (SELECT 1 FROM endpoints WHERE tenant = ?1 AND id = ?2)")?.query_row(
                [&tenant, &id],
                |r| r.get(0),
            )?;
            if !exists {
                return Ok(None);
            }
            let health = tx.prepare_cached("INSERT INTO endpoint_health (tenant, endpoint_id, failure_streak, failing_since, last_failure_at)
                 VALUES (?1, ?2, 1, ?3, ?3)
                 ON CONFLICT (tenant, endpoint_id) DO UPDATE
                   SET failure_streak = failure_streak + 1, last_failure_at = excluded.last_failure_at
                 RETURNING failure_streak, failing_since, last_failure_at")?.query_row(
                [&tenant, &id, &at],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            tx.commit()?;
            Ok(Some(health_from(Some(health))?))
        })
        .await
    }

    async fn clear_failures(&self, tenant: &TenantId, id: &EndpointId) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.run(move |c| {
            c.prepare_cached("DELETE FROM endpoint_health WHERE tenant = ?1 AND endpoint_id = ?2")?
                .execute([tenant, id])?;
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
            let tx = c.savepoint()?;
            let Some(doc) = tx
                .query_row(
                    "SELECT doc FROM endpoints WHERE tenant = ?1 AND id = ?2",
                    [&tenant, &id],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
            else {
                return Ok(false);
            };
            let mut endpoint: Endpoint = serde_json::from_str(&doc)?;
            if !endpoint.enabled {
                return Ok(false);
            }
            endpoint.enabled = false;
            endpoint.disabled_reason = Some(reason);
            endpoint.version += 1;
            endpoint.updated_at = at;
            tx.prepare_cached(
                "UPDATE endpoints SET version = ?1, doc = ?2 WHERE tenant = ?3 AND id = ?4",
            )?
            .execute(params![
                endpoint.version,
                serde_json::to_string(&endpoint)?,
                tenant,
                id
            ])?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}

/// An endpoint's document with its health beside it (absent when it has no failures).
const ENDPOINT_WITH_HEALTH: &str =
    "SELECT e.doc, h.failure_streak, h.failing_since, h.last_failure_at
     FROM endpoints e
     LEFT JOIN endpoint_health h ON h.tenant = e.tenant AND h.endpoint_id = e.id";

type HealthRow = (u32, String, String);

fn endpoint_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Endpoint, StoreError>> {
    let doc: String = row.get(0)?;
    let streak: Option<u32> = row.get(1)?;
    let health = match streak {
        Some(streak) => Some((streak, row.get(2)?, row.get(3)?)),
        None => None,
    };
    Ok((|| {
        let mut endpoint: Endpoint = serde_json::from_str(&doc)?;
        endpoint.health = health_from(health)?;
        Ok(endpoint)
    })())
}

fn health_from(row: Option<HealthRow>) -> Result<EndpointHealth, StoreError> {
    let Some((failure_streak, since, last)) = row else {
        return Ok(EndpointHealth::default());
    };
    let time = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("endpoint health time `{text}`: {e}")))
    };
    Ok(EndpointHealth {
        failure_streak,
        failing_since: Some(time(&since)?),
        last_failure_at: Some(time(&last)?),
    })
}
