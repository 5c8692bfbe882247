//! Digests on SQLite: one row per endpoint that folds errors, counting the errors of its current window;
//! a digest's folded alerts are the deliveries that link to it (`deliveries.digest_delivery_id`, indexed),
//! read with their alerts.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::alert::Alert;
use crate::digest::{DigestMember, DigestMembers, WindowCount};
use crate::embedded::Database;
use crate::ids::{DeliveryId, EndpointId, TenantId};
use crate::ports::store::{DigestStore, StoreError, stored_window};

#[async_trait]
impl DigestStore for Database {
    async fn count_error(
        &self,
        tenant: &TenantId,
        endpoint_id: &EndpointId,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<WindowCount, StoreError> {
        let (tenant, endpoint_id) = (tenant.0.clone(), endpoint_id.0.clone());
        let (at_ms, ends_ms) = (at.timestamp_millis(), (at + window).timestamp_millis());
        // One writer, one unit of work: the read and the write below are one step for every other caller.
        let (started_ms, ended_ms, errors) = self
            .run(move |c| {
                let open: Option<(i64, i64, i64)> = c
                    .prepare_cached(
                        "SELECT started_at, ends_at, errors FROM digest_windows
                         WHERE tenant = ?1 AND endpoint_id = ?2 AND ends_at > ?3",
                    )?
                    .query_row(params![tenant, endpoint_id, at_ms], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .optional()?;
                let counted = match open {
                    Some((started, ends, errors)) => {
                        c.prepare_cached(
                            "UPDATE digest_windows SET errors = errors + 1
                             WHERE tenant = ?1 AND endpoint_id = ?2",
                        )?
                        .execute(params![tenant, endpoint_id])?;
                        (started, ends, errors + 1)
                    }
                    None => {
                        c.prepare_cached(
                            "INSERT OR REPLACE INTO digest_windows
                             (tenant, endpoint_id, started_at, ends_at, errors) VALUES (?1, ?2, ?3, ?4, 1)",
                        )?
                        .execute(params![tenant, endpoint_id, at_ms, ends_ms])?;
                        (at_ms, ends_ms, 1)
                    }
                };
                Ok(counted)
            })
            .await?;
        stored_window(started_ms, ended_ms, u64::try_from(errors).unwrap_or(0))
    }

    async fn digest_members(
        &self,
        tenant: &TenantId,
        digest_id: &DeliveryId,
        listed: usize,
    ) -> Result<DigestMembers, StoreError> {
        let (tenant, digest_id) = (tenant.0.clone(), digest_id.0.clone());
        let limit = i64::try_from(listed).unwrap_or(i64::MAX);
        self.read(move |c| {
            let count: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM deliveries WHERE tenant = ?1 AND digest_delivery_id = ?2",
                )?
                .query_row(params![tenant, digest_id], |r| r.get(0))?;
            let mut statement = c.prepare_cached(
                "SELECT d.id, a.doc FROM deliveries d
                 JOIN alerts a ON a.tenant = d.tenant AND a.id = d.alert_id
                 WHERE d.tenant = ?1 AND d.digest_delivery_id = ?2
                 ORDER BY d.id LIMIT ?3",
            )?;
            let rows = statement.query_map(params![tenant, digest_id, limit], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?;
            let mut members = Vec::new();
            for row in rows {
                let (delivery_id, doc) = row?;
                let alert: Alert = serde_json::from_str(&doc)?;
                members.push(DigestMember::of(&alert, &DeliveryId(delivery_id)));
            }
            Ok(DigestMembers {
                count: u64::try_from(count).unwrap_or(0),
                listed: members,
            })
        })
        .await
    }
}
