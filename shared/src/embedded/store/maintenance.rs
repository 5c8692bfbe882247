//! Maintenance windows on SQLite: one row per window of a tenant, the window as JSON.

use async_trait::async_trait;
use rusqlite::params;

use crate::embedded::Database;
use crate::ids::TenantId;
use crate::maintenance::MaintenanceWindow;
use crate::ports::store::{MaintenanceStore, StoreError};

#[async_trait]
impl MaintenanceStore for Database {
    async fn list_windows(&self, tenant: &TenantId) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let tenant = tenant.0.clone();
        self.read(move |c| {
            let docs: Vec<String> = c
                .prepare_cached(
                    "SELECT doc FROM maintenance_windows WHERE tenant = ?1 ORDER BY id LIMIT 1000",
                )?
                .query_map([tenant], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            docs.iter()
                .map(|doc| Ok(serde_json::from_str(doc)?))
                .collect()
        })
        .await
    }

    async fn insert_window(
        &self,
        tenant: &TenantId,
        window: &MaintenanceWindow,
    ) -> Result<(), StoreError> {
        let (tenant, id, doc) = (
            tenant.0.clone(),
            window.id.clone(),
            serde_json::to_string(window)?,
        );
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO maintenance_windows (tenant, id, doc) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tenant, id, doc])?;
            Ok(())
        })
        .await
    }

    async fn delete_window(&self, tenant: &TenantId, id: &str) -> Result<bool, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.to_string());
        self.run(move |c| {
            let deleted = c
                .prepare_cached("DELETE FROM maintenance_windows WHERE tenant = ?1 AND id = ?2")?
                .execute(params![tenant, id])?;
            Ok(deleted == 1)
        })
        .await
    }
}
