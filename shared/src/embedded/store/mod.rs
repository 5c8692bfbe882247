//! The storage ports on SQLite: keys, endpoints, alerts, deliveries with their attempts, and tenant
//! settings, one file each.

mod alerts;
mod api_keys;
mod deliveries;
mod digests;
mod endpoints;
mod incidents;
mod maintenance;
mod settings;

use rusqlite::OptionalExtension;

use crate::embedded::Database;
use crate::ids::TenantId;
use crate::ports::store::StoreError;

impl Database {
    /// Reads the JSON document `sql` selects for a tenant and an id.
    pub(super) async fn document<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<T>, StoreError> {
        let (tenant, id) = (tenant.0.clone(), id.to_string());
        self.read(move |c| read_document(c, sql, &tenant, &id))
            .await
    }
}

/// The JSON document `sql` selects for a tenant and an id, read on `c`.
fn read_document<T: serde::de::DeserializeOwned>(
    c: &rusqlite::Connection,
    sql: &str,
    tenant: &str,
    id: &str,
) -> Result<Option<T>, StoreError> {
    let doc: Option<String> = c
        .prepare_cached(sql)?
        .query_row([tenant, id], |r| r.get(0))
        .optional()?;
    Ok(doc.map(|d| serde_json::from_str(&d)).transpose()?)
}
