//! Each tenant's [`RouteTable`], kept in the process so that ingest reads a tenant's endpoints from the
//! store once per period, not once per alert. Every endpoint write this process makes drops its tenant's
//! table at once; a write made by another process (another Lambda instance) is seen within the period
//! (and the time one read takes). When a table ages out, one request reads it again while the others go
//! on with the aged one, so a burst of alerts does not read the endpoints once per request in flight.
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
    /// When a request began to read the aged table again; another one that began longer than a period
    /// ago is taken as abandoned (its request was dropped).
    refreshing_since: Option<Instant>,
}

/// What ingest routes on: the kept table, or a table to read now.
enum Wanted {
    Kept(Arc<RouteTable>),
    Read(Lookup),
}

/// What a read of a tenant's table starts from: the last table (for its parsed matchers) and the
/// generation to keep the new one under.
struct Lookup {
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
        let kept = tenants.get(tenant);
        Lookup {
            last: kept.and_then(|k| k.table.clone()),
            generation: kept.map_or(0, |k| k.generation),
        }
    }

    /// The table ingest routes on: the kept one while fresh, or while it is only aged and another request
    /// is reading it again; otherwise this request is to read it (and is marked as reading).
    fn for_ingest(&self, tenant: &TenantId) -> Wanted {
        let mut tenants = self.lock();
        let kept = tenants.entry(tenant.clone()).or_default();
        let period = self.period;
        if let (Some(table), Some(read_at)) = (&kept.table, kept.read_at) {
            let refreshing = kept.refreshing_since.is_some_and(|t| t.elapsed() < period);
            if read_at.elapsed() < period || refreshing {
                return Wanted::Kept(table.clone());
            }
        }
        kept.refreshing_since = Some(Instant::now());
        Wanted::Read(Lookup {
            last: kept.table.clone(),
            generation: kept.generation,
        })
    }

    /// A read of the tenant's table failed: the next request reads it.
    fn read_failed(&self, tenant: &TenantId) {
        if let Some(kept) = self.lock().get_mut(tenant) {
            kept.refreshing_since = None;
        }
    }

    /// Keeps `table`, read at `read_at`, unless a write dropped the tenant's table since `generation`.
    fn keep(&self, tenant: &TenantId, generation: u64, read_at: Instant, table: Arc<RouteTable>) {
        let mut tenants = self.lock();
        if tenants.len() >= TENANTS_KEPT && !tenants.contains_key(tenant) {
            tenants.clear();
        }
        let kept = tenants.entry(tenant.clone()).or_default();
        kept.refreshing_since = None;
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
        kept.refreshing_since = None;
    }
}

impl Service {
    /// The tenant's route table for ingest: the one kept, when read within the period (or while another
    /// request reads it again), or a new one read now.
    pub(super) async fn route_table(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<RouteTable>, ServiceError> {
        match self.route_tables.for_ingest(tenant) {
            Wanted::Kept(table) => Ok(table),
            Wanted::Read(lookup) => {
                let read = self.read_route_table(tenant, lookup).await;
                if read.is_err() {
                    self.route_tables.read_failed(tenant);
                }
                read
            }
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
        let Wanted::Read(lookup) = tables.for_ingest(&acme) else {
            panic!("nothing kept yet: read it");
        };
        // A write lands while the table is being read: what was read is not kept.
        tables.forget(&acme);
        tables.keep(&acme, lookup.generation, Instant::now(), Arc::default());
        let Wanted::Read(lookup) = tables.for_ingest(&acme) else {
            panic!("what was read before the write is not used");
        };
        assert!(lookup.last.is_none());
        tables.keep(&acme, lookup.generation, Instant::now(), Arc::default());
        assert!(matches!(tables.for_ingest(&acme), Wanted::Kept(_)));
        // A write drops it, but it stays the last table read, for its parsed matchers
        tables.forget(&acme);
        assert!(tables.lookup(&acme).last.is_some());
        assert!(matches!(tables.for_ingest(&acme), Wanted::Read(_)));
    }

    #[test]
    fn an_aged_table_is_read_again_by_one_request_while_the_others_use_it() {
        let tables = RouteTables::new(Duration::from_millis(50));
        let acme = TenantId::from("acme");
        let Wanted::Read(lookup) = tables.for_ingest(&acme) else {
            panic!("nothing kept yet: read it");
        };
        tables.keep(&acme, lookup.generation, Instant::now(), Arc::default());
        assert!(matches!(tables.for_ingest(&acme), Wanted::Kept(_)));
        std::thread::sleep(Duration::from_millis(60));
        // Aged: the first request reads it again, the next ones go on with the aged table meanwhile
        let Wanted::Read(lookup) = tables.for_ingest(&acme) else {
            panic!("aged: read it again");
        };
        assert!(matches!(tables.for_ingest(&acme), Wanted::Kept(_)));
        tables.keep(&acme, lookup.generation, Instant::now(), Arc::default());
        assert!(matches!(tables.for_ingest(&acme), Wanted::Kept(_)));
        // A write of this process: no request routes on the old table any more
        tables.forget(&acme);
        assert!(matches!(tables.for_ingest(&acme), Wanted::Read(_)));
        assert!(matches!(tables.for_ingest(&acme), Wanted::Read(_)));
    }
}
