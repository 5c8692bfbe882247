//! API keys on SQLite: only the SHA-256 of each key is stored, with its tenant and public id; each
//! tenant's deployment key is remembered in `bootstrap_keys`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::embedded::Database;
use crate::ids::{ApiKeyId, TenantId};
use crate::ports::store::{
    ApiKeyRecord, ApiKeyStore, BOOTSTRAP_KEY_OF_ANOTHER_TENANT, Revocation, StoreError,
};

#[async_trait]
impl ApiKeyStore for Database {
    async fn tenant_for_key(&self, key_hash: &str) -> Result<Option<TenantId>, StoreError> {
        let key_hash = key_hash.to_string();
        self.read(move |c| Ok(tenant_of(c, &key_hash)?.map(TenantId)))
            .await
    }

    async fn add_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<Option<ApiKeyId>, StoreError> {
        let (tenant, key_hash, label) = (tenant.clone(), key_hash.to_string(), label.to_string());
        self.run(move |c| insert_key(c, &tenant, &key_hash, &label))
            .await
    }

    async fn has_keys(&self) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys)")?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }

    async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let tenant = tenant.0.clone();
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT id, label, created_at FROM api_keys WHERE tenant = ?1 ORDER BY created_at, id",
            )?;
            let rows = statement.query_map([tenant], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            rows.map(|row| {
                let (id, label, created_at) = row?;
                Ok(ApiKeyRecord {
                    id: ApiKeyId(id),
                    label,
                    created_at: DateTime::parse_from_rfc3339(&created_at)
                        .map_err(|e| StoreError::Corrupt(format!("api key created_at: {e}")))?
                        .with_timezone(&Utc),
                })
            })
            .collect()
        })
        .await
    }

    /// One write transaction: the count and the delete see the same keys.
    async fn revoke_key(&self, tenant: &TenantId, id: &ApiKeyId) -> Result<Revocation, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.0.clone());
        self.run(move |c| {
            let exists: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM api_keys WHERE tenant = ?1 AND id = ?2)",
                )?
                .query_row([&tenant, &id], |r| r.get(0))?;
            if !exists {
                return Ok(Revocation::NotFound);
            }
            let count: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM api_keys WHERE tenant = ?1")?
                .query_row([&tenant], |r| r.get(0))?;
            if count <= 1 {
                return Ok(Revocation::LastKey);
            }
            c.prepare_cached("DELETE FROM api_keys WHERE tenant = ?1 AND id = ?2")?
                .execute([&tenant, &id])?;
            Ok(Revocation::Revoked)
        })
        .await
    }

    /// One write transaction (the writer is alone): read the marker, add the new key, remove the old
    /// one, move the marker.
    async fn bootstrap_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<(), StoreError> {
        let (tenant, key_hash, label) = (tenant.clone(), key_hash.to_string(), label.to_string());
        self.run(move |c| {
            let marked: Option<(String, String)> = c
                .prepare_cached("SELECT key_hash, key_id FROM bootstrap_keys WHERE tenant = ?1")?
                .query_row([tenant.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if marked.as_ref().map(|(hash, _)| hash.as_str()) == Some(key_hash.as_str()) {
                return Ok(());
            }
            let existing: Option<(String, String)> = c
                .prepare_cached("SELECT tenant, id FROM api_keys WHERE key_hash = ?1")?
                .query_row([key_hash.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let id = match existing {
                Some((owner, _)) if owner != tenant.as_str() => {
                    return Err(StoreError::Backend(BOOTSTRAP_KEY_OF_ANOTHER_TENANT.into()));
                }
                Some((_, id)) => id,
                None => insert_key(c, &tenant, &key_hash, &label)?
                    .ok_or_else(|| StoreError::Backend("the new key was not added".into()))?
                    .0,
            };
            // The replaced key, unless it was revoked meanwhile (and its hash added again as another key).
            if let Some((_, replaced_id)) = marked {
                c.prepare_cached("DELETE FROM api_keys WHERE tenant = ?1 AND id = ?2")?
                    .execute([tenant.as_str(), replaced_id.as_str()])?;
            }
            c.prepare_cached(
                "INSERT INTO bootstrap_keys (tenant, key_hash, key_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant) DO UPDATE SET key_hash = excluded.key_hash, key_id = excluded.key_id",
            )?
            .execute([tenant.as_str(), key_hash.as_str(), id.as_str()])?;
            Ok(())
        })
        .await
    }
}

fn tenant_of(c: &Connection, key_hash: &str) -> Result<Option<String>, StoreError> {
    Ok(
        c.prepare_cached("SELECT tenant FROM api_keys WHERE key_hash = ?1")?
            .query_row([key_hash], |r| r.get(0))
            .optional()?,
    )
}

fn insert_key(
    c: &Connection,
    tenant: &TenantId,
    key_hash: &str,
    label: &str,
) -> Result<Option<ApiKeyId>, StoreError> {
    let id = ApiKeyId::generate();
    let added = c
        .prepare_cached(
            "INSERT OR IGNORE INTO api_keys (key_hash, tenant, label, created_at, id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![
            key_hash,
            tenant.as_str(),
            label,
            Utc::now().to_rfc3339(),
            id.as_str()
        ])?;
    Ok((added == 1).then_some(id))
}
