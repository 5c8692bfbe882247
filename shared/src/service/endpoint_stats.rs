//! An endpoint's figures over the last 24 hours, read page by page from its deliveries through the store
//! port (so both backends answer it) and summarized by `delivery::stats`.

use chrono::{DateTime, Duration, Utc};

use super::{Service, ServiceError};
use crate::delivery::Delivery;
use crate::delivery::stats::{self, EndpointStats, WINDOW_HOURS};
use crate::ids::{EndpointId, TenantId};
use crate::ports::store::DeliveryFilter;

/// Deliveries read at most for one answer; a busier endpoint's figures cover its newest ones.
pub const STATS_DELIVERY_CAP: usize = 5_000;

/// Deliveries read per page.
const PAGE: usize = 500;

/// The figures, and whether they cover only the newest [`STATS_DELIVERY_CAP`] deliveries of the window.
#[derive(Debug, Clone, PartialEq)]
pub struct CappedStats {
    pub stats: EndpointStats,
    /// Deliveries created in the window that were summarized.
    pub deliveries: usize,
    pub capped: bool,
}

impl Service {
    /// The figures of the tenant's endpoint `id` over the deliveries created in the last 24 hours.
    pub async fn endpoint_stats(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<CappedStats, ServiceError> {
        self.get_endpoint(tenant, id).await?;
        let now = self.clock.now();
        let (recent, capped) = self
            .recent_deliveries(
                tenant,
                id,
                now - Duration::hours(WINDOW_HOURS as i64),
                STATS_DELIVERY_CAP,
            )
            .await?;
        Ok(CappedStats {
            stats: stats::summarize(&recent, now),
            deliveries: recent.len(),
            capped,
        })
    }

    /// The endpoint's deliveries created since `since`, newest first, at most `cap` of them; true when
    /// more were left unread.
    async fn recent_deliveries(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        since: DateTime<Utc>,
        cap: usize,
    ) -> Result<(Vec<Delivery>, bool), ServiceError> {
        let mut recent: Vec<Delivery> = Vec::new();
        loop {
            // One more than the cap, to tell a full window from a capped one.
            let limit = PAGE.min(cap + 1 - recent.len());
            let filter = DeliveryFilter {
                endpoint_id: Some(id.clone()),
                before: recent.last().map(|d| d.id.clone()),
                limit,
                ..DeliveryFilter::default()
            };
            let page = self
                .ports
                .deliveries
                .list_deliveries(tenant, &filter)
                .await?;
            let full = page.len() >= limit;
            let read = page.len();
            let before = recent.len();
            recent.extend(page.into_iter().take_while(|d| d.created_at >= since));
            let reached_older = recent.len() - before < read;
            if recent.len() > cap {
                recent.truncate(cap);
                return Ok((recent, true));
            }
            if reached_older || !full {
                return Ok((recent, false));
            }
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::clock::ManualClock;
    use crate::service::in_memory::{answering_endpoint, monday_morning, service};

    fn acme() -> TenantId {
        TenantId::from("acme")
    }

    /// GIVEN acme's endpoint with two deliveries made 25 hours ago and three made now.
    async fn two_old_and_three_new() -> (Service, EndpointId) {
        let clock = Arc::new(ManualClock::starting_at(monday_morning()));
        let service = service(clock.clone());
        let endpoint = answering_endpoint(&service, &acme(), 200).await;
        for n in 0..5 {
            if n == 2 {
                clock.advance(Duration::hours(25));
            }
            let body = json!({"title": format!("alert {n}")});
            service.accept_alert(&acme(), &body, None).await.unwrap();
        }
        (service, endpoint)
    }

    #[tokio::test]
    async fn only_the_deliveries_of_the_window_are_read() {
        let (service, endpoint) = two_old_and_three_new().await;
        let figures = service.endpoint_stats(&acme(), &endpoint).await.unwrap();
        assert_eq!((figures.deliveries, figures.capped), (3, false));
        assert_eq!(figures.stats.attempts, 0, "none attempted yet");
    }

    #[tokio::test]
    async fn a_busier_window_is_capped_to_its_newest_deliveries() {
        let (service, endpoint) = two_old_and_three_new().await;
        let since = service.clock.now() - Duration::hours(24);
        let tenant = acme();
        let read = |cap| service.recent_deliveries(&tenant, &endpoint, since, cap);
        let (newest, capped) = read(2).await.unwrap();
        assert_eq!((newest.len(), capped), (2, true));
        let (all, capped) = read(3).await.unwrap();
        assert_eq!(
            (all.len(), capped),
            (3, false),
            "exactly the cap is not capped"
        );
        assert_eq!(all[..2], newest[..]);
    }

    #[tokio::test]
    async fn another_tenants_endpoint_is_not_found() {
        let (service, endpoint) = two_old_and_three_new().await;
        let other = TenantId::from("other");
        let answer = service.endpoint_stats(&other, &endpoint).await;
        assert!(matches!(answer, Err(ServiceError::NotFound("endpoint"))));
    }
}
