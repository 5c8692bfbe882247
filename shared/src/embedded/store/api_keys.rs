//! API keys on SQLite: only the SHA-256 of each key is stored, with its tenant.

use async_trait::async_trait;
use chrono::Utc;
use rusqlite::{OptionalExtension, params};

use crate::embedded::Database;
use crate::ids::TenantId;
use crate::ports::store::{ApiKeyStore, StoreError};

#[async_trait]
impl ApiKeyStore for Database {
    async fn tenant_for_key(&self, key_hash: &str) -> Result<Option<TenantId>, StoreError> {
        let key_hash = key_hash.to_string();
        self.read(move |c| {
            Ok(
                c.prepare_cached("SELECT tenant FROM api_keys WHERE key_hash = ?1")?
                    .query_row([key_hash], |r| r.get::<_, String>(0))
                    .optional()?
                    .map(TenantId),
            )
        })
        .await
    }

    async fn add_key(
        &self,
        tenant: &TenantId,
        key_hash: &str,
        label: &str,
    ) -> Result<(), StoreError> {
        let (tenant, key_hash, label) = (tenant.0.clone(), key_hash.to_string(), label.to_string());
        self.run(move |c| {
            c.prepare_cached("INSERT OR IGNORE INTO api_keys (key_hash, tenant, label, created_at) VALUES (?1, ?2, ?3, ?4)")?.execute(
                params![key_hash, tenant, label, Utc::now().to_rfc3339()],
            )?;
            Ok(())
        })
        .await
    }

    async fn has_keys(&self) -> Result<bool, StoreError> {
        self.read(|c| {
            Ok(c.prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys)")?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }
}
