//! Routing: which of a tenant's endpoints an alert is meant for. An endpoint names the alerts it takes
//! with label matchers in Alertmanager's syntax ([`matcher`]), evaluated against the labels an alert
//! carries ([`labels`]); an alert may also name the endpoints it is for ([`selection`]). An endpoint that
//! is not routed an alert gets no delivery at all; one that is may still filter it by severity or
//! message type (a `filtered` delivery, [`crate::delivery::decide`]). A tenant's endpoints are routed
//! through a [`table`] that indexes them by label. Plain domain: no storage, no HTTP.

pub mod labels;
pub mod matcher;
pub mod selection;
pub mod table;

use serde::{Deserialize, Serialize};

use crate::ids::EndpointId;
use labels::Labels;
use matcher::{Matcher, MatcherSet};

/// What routing decided for an accepted alert, kept with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingOutcome {
    /// How many endpoints got a delivery of the alert, sent or filtered.
    pub endpoints: usize,
    /// No endpoint was routed the alert: it went to the tenant's default endpoint when one is set
    /// (then `endpoints` is 1), and nowhere otherwise.
    pub unrouted: bool,
}

/// Why an endpoint is not routed an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRouted<'m> {
    /// The alert names its endpoints, and not this one.
    NotNamed,
    /// This matcher of the endpoint does not hold for the alert's labels.
    MatcherFails(&'m Matcher),
}

/// Whether the endpoint `id`, with its compiled `matchers`, is routed an alert with `labels` that named
/// the `named` endpoints, sorted (`None`: it named none, so every endpoint is considered).
pub fn route<'m>(
    id: &EndpointId,
    matchers: &'m MatcherSet,
    labels: &Labels<'_>,
    named: Option<&[EndpointId]>,
) -> Result<(), NotRouted<'m>> {
    if named.is_some_and(|named| named.binary_search(id).is_err()) {
        return Err(NotRouted::NotNamed);
    }
    match matchers.first_failing(labels) {
        Some(failing) => Err(NotRouted::MatcherFails(failing)),
        None => Ok(()),
    }
}

/// An enabled endpoint `id` named `name` that takes every alert, for the tests of routing.
#[cfg(test)]
pub(crate) fn test_endpoint(id: &str, name: &str) -> crate::endpoint::Endpoint {
    serde_json::from_value(serde_json::json!({
        "id": id, "tenant": "tn_1", "name": name, "url": "https://example.com/", "method": "POST",
        "headers": [], "content_type": "application/json", "body": "{}", "min_severity": "info",
        "message_types": {"error": {"mode": "default"}, "reminder": {"mode": "default"},
                          "ok": {"mode": "default"}},
        "secret": null, "verification_token": null, "enabled": true, "disabled_reason": null,
        "version": 1, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    }))
    .expect("a valid endpoint document")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_endpoints_and_matchers_both_decide() {
        let labels = Labels::from_pairs(vec![("team", "db"), ("severity", "high")]);
        let db = MatcherSet::parse(&[r#"team="db""#]).unwrap();
        let web = MatcherSet::parse(&[r#"severity=~"high|critical""#, r#"team="web""#]).unwrap();
        let every = MatcherSet::default();
        let id = |s: &str| EndpointId::from(s);
        assert_eq!(route(&id("ep_1"), &db, &labels, None), Ok(()));
        assert_eq!(route(&id("ep_1"), &every, &labels, None), Ok(()));
        let Err(NotRouted::MatcherFails(failing)) = route(&id("ep_2"), &web, &labels, None) else {
            panic!("team=\"web\" fails");
        };
        assert_eq!(failing.to_string(), r#"team="web""#);
        let named = [id("ep_2"), id("ep_3")];
        assert_eq!(
            route(&id("ep_1"), &db, &labels, Some(&named)),
            Err(NotRouted::NotNamed)
        );
        assert_eq!(route(&id("ep_3"), &every, &labels, Some(&named)), Ok(()));
    }
}
