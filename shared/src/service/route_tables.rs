//! Each tenant's [`RouteTable`], kept in the process so that ingest reads a tenant's endpoints from the
//! store once per period, not once per alert. Every endpoint write this process makes drops its tenant's
//! table at once; a write made by another process (another Lambda instance) is seen within the period.
//! A table kept a little stale only errs where the attempt corrects it: the attempt reads the endpoint
//! again, so a delivery to an endpoint disabled or deleted meanwhile is settled unsent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{Service, ServiceError};
use crate::ids::TenantId;
use crate::routing::table::RouteTable;

/// How long a tenant's route table is used before its endpoints are read again, by default.
pub const ROUTE_TABLE_PERIOD: Duration = Duration::from_secs(5);

/// Tenants whose tables are kept at once; past it every table is dropped and read again when needed.
const TENANTS_KEPT: usize = 10_000;

pub(super) struct RouteTables {
    period: Duration,
    tenants: Mutex<HashMap<TenantId, Kept>>,
}

#[derive(Default)]
struct Kept {
    /// Counts the writes that dropped this tenant's table: a table read before one is not kept.
    generation: u64,
    /// The last table read, used until the period is over or a write drops it (`read_at` is then
    /// `None`); a new table still takes its parsed matchers for the endpoints that did not change.
    table: Option<Arc<RouteTable>>,
    read_at: Option<Instant>,
}

/// What is kept of a tenant: its table while fresh, the last table, and the generation.
struct Lookup {
    fresh: Option<Arc<RouteTable>>,
    last: Option<Arc<RouteTable>>,
    generation: u64,
}

impl RouteTables {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            tenants: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Kept>> {
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lookup(&self, tenant: &TenantId) -> Lookup {
        let tenants = self.lock();
        let Some(kept) = tenants.get(tenant) else {
            return Lookup {
                fresh: None,
                last: None,
                generation: 0,
            };
        };
        let fresh = kept.read_at.is_some_and(|t| t.elapsed() < self.period);
        Lookup {
            fresh: kept.table.clone().filter(|_| fresh),
            last: kept.table.clone(),
            generation: kept.generation,
        }
    }

    /// Keeps `table`, read at `read_at`, unless a write dropped the tenant's table since `generation`.
    fn keep(&self, tenant: &TenantId, generation: u64, read_at: Instant, table: Arc<RouteTable>) {
        let mut tenants = self.lock();
        if tenants.len() >= TENANTS_KEPT && !tenants.contains_key(tenant) {
            tenants.clear();
        }
        let kept = tenants.entry(tenant.clone()).or_default();
        if kept.generation == generation {
            kept.table = Some(table);
            kept.read_at = Some(read_at);
        }
    }

    /// Drops the tenant's table: one of its endpoints was written.
    pub fn forget(&self, tenant: &TenantId) {
        let mut tenants = self.lock();
        let kept = tenants.entry(tenant.clone()).or_default();
        kept.generation += 1;
        kept.read_at = None;
    }
}

impl Service {
    /// The tenant's route table: the one kept, when read within the period, or a new one read now.
    pub(super) async fn route_table(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<RouteTable>, ServiceError> {
        let lookup = self.route_tables.lookup(tenant);
        match lookup.fresh {
            Some(table) => Ok(table),
            None => self.read_route_table(tenant, lookup).await,
        }
    }

    /// The tenant's route table read from the store now, and kept.
    pub(super) async fn current_route_table(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<RouteTable>, ServiceError> {
        let lookup = self.route_tables.lookup(tenant);
        self.read_route_table(tenant, lookup).await
    }

    async fn read_route_table(
        &self,
        tenant: &TenantId,
        lookup: Lookup,
    ) -> Result<Arc<RouteTable>, ServiceError> {
        let read_at = Instant::now();
        let endpoints = self.ports.endpoints.list_endpoints(tenant).await?;
        let table = Arc::new(RouteTable::new(endpoints, lookup.last.as_deref()));
        self.route_tables
            .keep(tenant, lookup.generation, read_at, table.clone());
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_read_before_a_write_is_not_kept_and_one_kept_ages_out() {
        let tables = RouteTables::new(Duration::from_millis(50));
        let acme = TenantId::from("acme");
        let generation = tables.lookup(&acme).generation;
        // A write lands while the table is being read: what was read is not kept.
        tables.forget(&acme);
        tables.keep(&acme, generation, Instant::now(), Arc::default());
        let lookup = tables.lookup(&acme);
        assert!(lookup.fresh.is_none() && lookup.last.is_none());
        tables.keep(&acme, lookup.generation, Instant::now(), Arc::default());
        assert!(tables.lookup(&acme).fresh.is_some());
        // It ages out, and a write drops it, but it stays the last table read
        std::thread::sleep(Duration::from_millis(60));
        assert!(tables.lookup(&acme).fresh.is_none());
        tables.forget(&acme);
        let lookup = tables.lookup(&acme);
        assert!(lookup.fresh.is_none() && lookup.last.is_some());
    }
}
