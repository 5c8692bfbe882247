//! The route test (`POST /v1/routing/test`), like `amtool config routes test`: for an alert as
//! `POST /v1/alerts` takes it, what each endpoint of the tenant would do with it and why. Decided by the
//! same routing, default endpoint and filters as ingest ([`super::ingest`]); writes nothing, sends nothing.

use serde_json::Value;

use super::{Service, ServiceError};
use crate::alert::AlertContent;
use crate::delivery::decide::filter_reason;
use crate::ids::{AlertId, EndpointId, TenantId};
use crate::routing::NotRouted;
use crate::routing::labels::Labels;
use crate::routing::selection::EndpointSelection;

/// Every endpoint of the tenant, in the order it lists them, with what it would do with the alert.
#[derive(Debug)]
pub struct RouteTest {
    pub endpoints: Vec<EndpointRoute>,
    /// No endpoint is routed the alert: it would go to the tenant's default endpoint, when one is set.
    pub unrouted: bool,
}

impl RouteTest {
    /// How many endpoints would get a delivery of the alert, sent or filtered.
    pub fn routed_endpoints(&self) -> usize {
        self.endpoints
            .iter()
            .filter(|e| e.delivery != WouldRecord::Nothing)
            .count()
    }
}

#[derive(Debug)]
pub struct EndpointRoute {
    pub endpoint_id: EndpointId,
    pub name: String,
    pub matchers: Vec<String>,
    /// Routing took the alert: the alert named this endpoint (or none) and every matcher holds.
    pub matched: bool,
    /// Why routing did not take it.
    pub not_routed: Option<RouteMiss>,
    /// It is the tenant's default endpoint and gets the alert because no endpoint was routed it.
    pub by_default: bool,
    pub delivery: WouldRecord,
    /// Why the delivery would be filtered (disabled, below `min_severity`, message type off).
    pub filter: Option<String>,
}

/// Why routing did not take an alert for an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteMiss {
    /// The alert names its endpoints, and not this one.
    NotNamed,
    /// The first of the endpoint's matchers that does not hold, in its canonical form.
    MatcherFails(String),
}

/// What ingest would record for an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WouldRecord {
    /// A pending delivery: it would be sent.
    Pending,
    /// A filtered delivery: kept, not sent.
    Filtered,
    /// Nothing: the endpoint is not routed the alert.
    Nothing,
}

impl WouldRecord {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Filtered => "filtered",
            Self::Nothing => "none",
        }
    }
}

impl Service {
    /// What each of the tenant's endpoints would do with the alert in `body`; the body is checked as
    /// `POST /v1/alerts` checks it (an unknown named endpoint is the same 422). The endpoints are read
    /// now, not taken from the route table kept for ingest, so an endpoint just changed elsewhere shows.
    pub async fn test_route(
        &self,
        tenant: &TenantId,
        body: &Value,
    ) -> Result<RouteTest, ServiceError> {
        let content = AlertContent::from_json(body)?;
        let selection = EndpointSelection::from_json(body)?;
        let table = self.current_route_table(tenant).await?;
        let named = match &selection {
            Some(selection) => Some(selection.resolve(table.endpoints())?),
            None => None,
        };
        let destinations = self
            .destinations(tenant, &content, &table, named.as_deref())
            .await?;
        let alert = content.into_alert(
            AlertId::from("al_route_test"),
            tenant.clone(),
            self.clock.now(),
        );
        let labels = Labels::of(&alert.content);
        let routes = table
            .endpoints()
            .iter()
            .enumerate()
            .map(|(position, endpoint)| {
                let not_routed = match table.why_not(position, &labels, named.as_deref()) {
                    None => None,
                    Some(NotRouted::NotNamed) => Some(RouteMiss::NotNamed),
                    Some(NotRouted::MatcherFails(m)) => {
                        Some(RouteMiss::MatcherFails(m.to_string()))
                    }
                };
                let gets_it = destinations.endpoints.iter().any(|d| d.id == endpoint.id);
                let filter = filter_reason(endpoint, &alert)
                    .filter(|_| gets_it)
                    .map(|f| f.reason());
                EndpointRoute {
                    endpoint_id: endpoint.id.clone(),
                    name: endpoint.name.clone(),
                    matchers: endpoint.matchers.clone(),
                    matched: gets_it && !destinations.unrouted,
                    not_routed,
                    by_default: gets_it && destinations.unrouted,
                    delivery: match (gets_it, &filter) {
                        (false, _) => WouldRecord::Nothing,
                        (true, Some(_)) => WouldRecord::Filtered,
                        (true, None) => WouldRecord::Pending,
                    },
                    filter,
                }
            })
            .collect();
        Ok(RouteTest {
            endpoints: routes,
            unrouted: destinations.unrouted,
        })
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::service::in_memory::{closed_port, endpoint_at, monday_service, stored_deliveries};

    fn acme() -> TenantId {
        TenantId::from("acme")
    }

    fn route<'t>(test: &'t RouteTest, id: &EndpointId) -> &'t EndpointRoute {
        test.endpoints
            .iter()
            .find(|e| &e.endpoint_id == id)
            .unwrap()
    }

    #[tokio::test]
    async fn says_which_endpoints_get_the_alert_and_why_the_others_do_not() {
        let service = monday_service();
        // GIVEN an endpoint per team, and one more for the db team that takes only high severities
        let port = closed_port();
        let db = endpoint_at(
            &service,
            &acme(),
            "db",
            port,
            json!({"matchers": [r#"team="db""#]}),
        )
        .await;
        let web = endpoint_at(
            &service,
            &acme(),
            "web",
            port,
            json!({"matchers": [r#"team="web""#]}),
        )
        .await;
        let db_pager = endpoint_at(
            &service,
            &acme(),
            "db-pager",
            port,
            json!({"matchers": [r#"team="db""#], "min_severity": "high"}),
        )
        .await;
        let alert = json!({"title": "Disk full", "severity": "medium", "tags": ["team=db"]});

        // WHEN the route is tested
        let test = service.test_route(&acme(), &alert).await.unwrap();

        // THEN the db endpoints are routed it (one filters it), the web one names the failing matcher
        assert!(!test.unrouted);
        assert_eq!(test.routed_endpoints(), 2);
        assert!(route(&test, &db).matched);
        assert_eq!(route(&test, &db).delivery, WouldRecord::Pending);
        assert_eq!(
            route(&test, &web).not_routed,
            Some(RouteMiss::MatcherFails(r#"team="web""#.into()))
        );
        assert_eq!(route(&test, &web).delivery, WouldRecord::Nothing);
        assert_eq!(route(&test, &db_pager).delivery, WouldRecord::Filtered);
        assert!(
            route(&test, &db_pager)
                .filter
                .as_deref()
                .unwrap()
                .contains("severity")
        );

        // AND naming one endpoint leaves the others out
        let named = json!({"title": "Disk full", "tags": ["team=db"], "endpoints": ["db-pager"]});
        let test = service.test_route(&acme(), &named).await.unwrap();
        assert_eq!(test.routed_endpoints(), 1);
        assert_eq!(route(&test, &db).not_routed, Some(RouteMiss::NotNamed));

        // AND nothing was written
        assert!(stored_deliveries(&service, &acme()).await.is_empty());
    }

    #[tokio::test]
    async fn an_unrouted_alert_shows_the_default_endpoint_taking_it() {
        let service = monday_service();
        let tickets = endpoint_at(
            &service,
            &acme(),
            "tickets",
            closed_port(),
            json!({"matchers": [r#"team="nobody""#]}),
        )
        .await;
        let alert = json!({"title": "Orphan", "tags": ["team=db"]});
        let test = service.test_route(&acme(), &alert).await.unwrap();
        assert!(test.unrouted);
        assert_eq!(test.routed_endpoints(), 0);

        // WHEN the endpoint is made the tenant's default endpoint
        service
            .put_settings(&acme(), &json!({"default_endpoint_id": tickets.as_str()}))
            .await
            .unwrap();

        // THEN it takes the alert, by default, though its own matcher fails
        let test = service.test_route(&acme(), &alert).await.unwrap();
        assert!(test.unrouted);
        assert_eq!(test.routed_endpoints(), 1);
        let taken = route(&test, &tickets);
        assert!(taken.by_default && !taken.matched);
        assert_eq!(taken.delivery, WouldRecord::Pending);
        assert_eq!(
            taken.not_routed,
            Some(RouteMiss::MatcherFails(r#"team="nobody""#.into()))
        );
    }
}
