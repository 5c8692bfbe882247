//! Tenant settings on SQLite, as a JSON document per tenant, and the operational notices' debounce as one
//! row per notice.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use crate::embedded::Database;
use crate::ids::TenantId;
use crate::ports::store::{SettingsStore, StoreError};
use crate::tenant_settings::TenantSettings;

#[async_trait]
impl SettingsStore for Database {
    async fn get_settings(&self, tenant: &TenantId) -> Result<TenantSettings, StoreError> {
        let tenant = tenant.0.clone();
        self.read(move |c| {
            let doc: Option<String> = c
                .prepare_cached("SELECT doc FROM tenant_settings WHERE tenant = ?1")?
                .query_row([tenant], |r| r.get(0))
                .optional()?;
            Ok(match doc {
                Some(doc) => serde_json::from_str(&doc)?,
                None => TenantSettings::default(),
            })
        })
        .await
    }

    async fn put_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), StoreError> {
        let (tenant, doc) = (tenant.0.clone(), serde_json::to_string(settings)?);
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO tenant_settings (tenant, doc) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET doc = excluded.doc",
            )?
            .execute([tenant, doc])?;
            Ok(())
        })
        .await
    }

    async fn claim_notice(
        &self,
        tenant: &TenantId,
        key: &str,
        at: DateTime<Utc>,
        window: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let (tenant, key) = (tenant.0.clone(), key.to_string());
        let (at, cutoff) = (at.timestamp_millis(), (at - window).timestamp_millis());
        self.run(move |c| {
            let taken = c
                .prepare_cached(
                    "INSERT INTO operations_notices (tenant, key, sent_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant, key) DO UPDATE SET sent_at = excluded.sent_at
                     WHERE sent_at <= ?4",
                )?
                .execute(params![tenant, key, at, cutoff])?;
            Ok(taken == 1)
        })
        .await
    }
}
