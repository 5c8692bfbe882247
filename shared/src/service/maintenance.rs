//! Maintenance windows in the use cases: listed, created (checked field by field, the endpoint it names
//! included) and deleted; each tenant's windows kept in the process for [`WINDOWS_PERIOD`], so a delivery
//! does not read them from the store; and what a window does to a message:
//!
//! - while a window covering the endpoint is open, its `error` and `reminder` deliveries are held on the
//!   queue until the window ends, without spending an attempt; an `ok` is sent as always, and noted as
//!   resolving its incident there;
//! - once the window is over, a held `error` or `reminder` whose incident an `ok` resolved meanwhile is
//!   `filtered` (`maintenance_resolved`); the others are delivered then.
//!
//! A window created or deleted through this process is seen at once; one written by another process
//! (another Lambda instance) within the period.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Service, ServiceError};
use crate::alert::{Alert, MessageType};
use crate::delivery::Delivery;
use crate::endpoint::Endpoint;
use crate::ids::{EndpointId, TenantId};
use crate::input_error::FieldError;
use crate::maintenance::{self, MAX_WINDOWS, MaintenanceWindow};
use crate::metrics::HoldReason;
use crate::ports::store::IncidentRef;

/// How long a tenant's windows are used before they are read again.
pub const WINDOWS_PERIOD: Duration = Duration::from_secs(5);
/// Tenants whose windows are kept at once; past it all are dropped and read again when needed.
const TENANTS_KEPT: usize = 10_000;
/// A held message comes back this long after its window ends, so the window is surely over.
const AFTER_THE_END: Duration = Duration::from_secs(1);

/// A tenant's windows as last read, and when.
type Read = (Instant, Arc<Vec<MaintenanceWindow>>);

/// Each tenant's windows as last read.
#[derive(Default)]
pub(super) struct KnownWindows {
    tenants: Mutex<HashMap<TenantId, Read>>,
}

impl KnownWindows {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Read>> {
        self.tenants.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, tenant: &TenantId) -> Option<Arc<Vec<MaintenanceWindow>>> {
        let tenants = self.lock();
        let (read_at, windows) = tenants.get(tenant)?;
        (read_at.elapsed() < WINDOWS_PERIOD).then(|| windows.clone())
    }

    fn keep(&self, tenant: &TenantId, windows: Arc<Vec<MaintenanceWindow>>) {
        let mut tenants = self.lock();
        if tenants.len() >= TENANTS_KEPT {
            tenants.clear();
        }
        tenants.insert(tenant.clone(), (Instant::now(), windows));
    }

    fn forget(&self, tenant: &TenantId) {
        self.lock().remove(tenant);
    }
}

/// What a maintenance window does to a message before its attempt.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum MaintenanceGate {
    Go,
    /// A window covering the endpoint is open: look again after this long.
    Hold(Duration),
    /// It was held by a window, and an `ok` resolved its incident meanwhile.
    Resolved,
}

impl Service {
    /// The tenant's windows, oldest first.
    pub async fn list_maintenance_windows(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<MaintenanceWindow>, ServiceError> {
        Ok(self.ports.maintenance.list_windows(tenant).await?)
    }

    /// Creates the window `body` describes (see [`maintenance::from_json`]); the endpoint it names must be
    /// one of the tenant's, and a tenant keeps at most [`MAX_WINDOWS`].
    pub async fn create_maintenance_window(
        &self,
        tenant: &TenantId,
        body: &Value,
    ) -> Result<MaintenanceWindow, ServiceError> {
        let id = format!("mw_{}", uuid::Uuid::now_v7().simple());
        let window = maintenance::from_json(body, id, self.clock.now())?;
        if let Some(endpoint) = &window.endpoint_id
            && self
                .ports
                .endpoints
                .get_endpoint(tenant, endpoint)
                .await?
                .is_none()
        {
            return Err(FieldError::invalid(
                "endpoint_id",
                format!("`endpoint_id`: there is no endpoint `{endpoint}`"),
            )
            .into());
        }
        if self.ports.maintenance.list_windows(tenant).await?.len() >= MAX_WINDOWS {
            return Err(ServiceError::Conflict(format!(
                "a tenant keeps at most {MAX_WINDOWS} maintenance windows; delete one first"
            )));
        }
        self.ports
            .maintenance
            .insert_window(tenant, &window)
            .await?;
        self.windows.forget(tenant);
        Ok(window)
    }

    pub async fn delete_maintenance_window(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(), ServiceError> {
        let deleted = self.ports.maintenance.delete_window(tenant, id).await?;
        self.windows.forget(tenant);
        if deleted {
            Ok(())
        } else {
            Err(ServiceError::NotFound("maintenance window"))
        }
    }

    /// The tenant's windows as kept, read again once their period is over.
    async fn known_windows(
        &self,
        tenant: &TenantId,
    ) -> Result<Arc<Vec<MaintenanceWindow>>, ServiceError> {
        if let Some(windows) = self.windows.fresh(tenant) {
            return Ok(windows);
        }
        let windows = Arc::new(self.ports.maintenance.list_windows(tenant).await?);
        self.windows.keep(tenant, windows.clone());
        Ok(windows)
    }

    /// Until when a window holds messages to `endpoint` at `at`, if one does.
    pub(super) async fn in_maintenance_until(
        &self,
        tenant: &TenantId,
        endpoint: &EndpointId,
        at: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, ServiceError> {
        let windows = self.known_windows(tenant).await?;
        Ok(maintenance::held_until(&windows, endpoint, at))
    }

    /// Notes an accepted `ok` as resolving its incident at the endpoint of each of `deliveries` that is in
    /// a window now, so the errors held there are not sent once it ends.
    pub(super) async fn note_resolved_in_maintenance(
        &self,
        alert: &Alert,
        deliveries: &[Delivery],
    ) -> Result<(), ServiceError> {
        let Some(key) = alert
            .content
            .incident_key
            .as_deref()
            .filter(|k| !k.is_empty())
        else {
            return Ok(());
        };
        if alert.content.message_type != MessageType::Ok {
            return Ok(());
        }
        let windows = self.known_windows(&alert.tenant).await?;
        let now = self.clock.now();
        for delivery in deliveries {
            if maintenance::held_until(&windows, &delivery.endpoint_id, now).is_none() {
                continue;
            }
            let incident = IncidentRef {
                tenant: &alert.tenant,
                endpoint_id: &delivery.endpoint_id,
                incident_key: key,
            };
            self.ports.incidents.note_resolved(incident, now).await?;
        }
        Ok(())
    }

    /// Whether `alert`'s delivery to `endpoint` is attempted now (see the module's documentation).
    pub(super) async fn maintenance_gate(
        &self,
        tenant: &TenantId,
        endpoint: &Endpoint,
        alert: &Alert,
    ) -> Result<MaintenanceGate, ServiceError> {
        if alert.content.message_type == MessageType::Ok {
            return Ok(MaintenanceGate::Go);
        }
        let windows = self.known_windows(tenant).await?;
        if windows.is_empty() {
            return Ok(MaintenanceGate::Go);
        }
        let now = self.clock.now();
        if let Some(end) = maintenance::held_until(&windows, &endpoint.id, now) {
            self.metrics.delivery_held(HoldReason::Maintenance);
            let wait = (end - now).to_std().unwrap_or_default() + AFTER_THE_END;
            return Ok(MaintenanceGate::Hold(wait));
        }
        // Held by a window when it came (its alert was accepted in one): resolved meanwhile?
        let held = maintenance::held_until(&windows, &endpoint.id, alert.received_at).is_some();
        let Some(key) = alert
            .content
            .incident_key
            .as_deref()
            .filter(|k| !k.is_empty())
        else {
            return Ok(MaintenanceGate::Go);
        };
        if !held {
            return Ok(MaintenanceGate::Go);
        }
        let incident = IncidentRef {
            tenant,
            endpoint_id: &endpoint.id,
            incident_key: key,
        };
        let resolved = self
            .ports
            .incidents
            .get_incident(incident)
            .await?
            .and_then(|record| record.resolved_at)
            .is_some_and(|at| at >= alert.received_at);
        Ok(if resolved {
            MaintenanceGate::Resolved
        } else {
            MaintenanceGate::Go
        })
    }
}

#[cfg(all(test, feature = "embedded"))]
#[path = "maintenance_tests.rs"]
mod tests;
