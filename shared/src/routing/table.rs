//! A tenant's endpoints ready for routing: each endpoint's matchers parsed once, and the endpoints indexed
//! by a `name="value"` pair their equality matchers require. An alert then evaluates only the endpoints
//! indexed under one of its own labels and those with no equality matcher, so ingest does not grow with
//! the endpoints an alert cannot match. Built from a list of endpoints; keeping it is the caller's affair.

use std::collections::HashMap;

use super::labels::Labels;
use super::matcher::MatcherSet;
use super::{NotRouted, route};
use crate::endpoint::Endpoint;
use crate::ids::EndpointId;

/// The tenant's endpoints, in the order the store lists them, with their parsed matchers.
#[derive(Debug, Default)]
pub struct RouteTable {
    endpoints: Vec<Endpoint>,
    matchers: Vec<MatcherSet>,
    /// By label name, then value: positions of the endpoints that require `name="value"` (each endpoint
    /// under one such pair).
    by_label: HashMap<String, HashMap<String, Vec<usize>>>,
    /// Positions of the endpoints with no equality matcher to index them by: always evaluated.
    unindexed: Vec<usize>,
}

impl RouteTable {
    /// The table of `endpoints`, taking the parsed matchers of the endpoints whose version is unchanged
    /// from the `previous` table, so that regexes are compiled once per endpoint version. An endpoint
    /// whose matchers no longer parse (saved under older rules) is routed as if it had none: its
    /// attempts then say what is wrong, rather than its alerts vanishing.
    pub fn new(endpoints: Vec<Endpoint>, previous: Option<&RouteTable>) -> Self {
        let parsed: HashMap<(&EndpointId, u64), &MatcherSet> = previous
            .map(|p| {
                p.endpoints
                    .iter()
                    .zip(&p.matchers)
                    .map(|(e, m)| ((&e.id, e.version), m))
                    .collect()
            })
            .unwrap_or_default();
        let mut table = Self {
            matchers: Vec::with_capacity(endpoints.len()),
            ..Self::default()
        };
        for (position, endpoint) in endpoints.iter().enumerate() {
            let matchers = match parsed.get(&(&endpoint.id, endpoint.version)) {
                Some(matchers) => (*matchers).clone(),
                None => MatcherSet::parse(&endpoint.matchers).unwrap_or_else(|e| {
                    tracing::warn!(endpoint = %endpoint.id, error = %e, "endpoint matchers do not parse");
                    MatcherSet::default()
                }),
            };
            match matchers.required_labels().next() {
                Some((name, value)) => table
                    .by_label
                    .entry(name.to_string())
                    .or_default()
                    .entry(value.to_string())
                    .or_default()
                    .push(position),
                None => table.unindexed.push(position),
            }
            table.matchers.push(matchers);
        }
        table.endpoints = endpoints;
        table
    }

    /// Every endpoint of the tenant.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The endpoints an alert with `labels` is routed to, in the table's order: those it names (all when
    /// `named`, sorted, is `None`) whose matchers all hold.
    pub fn routed(&self, labels: &Labels<'_>, named: Option<&[EndpointId]>) -> Vec<&Endpoint> {
        let mut candidates = self.unindexed.clone();
        if !self.by_label.is_empty() {
            for (name, value) in labels.pairs() {
                if let Some(positions) = self.by_label.get(name).and_then(|v| v.get(value)) {
                    candidates.extend_from_slice(positions);
                }
            }
            candidates.sort_unstable();
            candidates.dedup();
        }
        candidates
            .into_iter()
            .filter(|&p| route(&self.endpoints[p].id, &self.matchers[p], labels, named).is_ok())
            .map(|p| &self.endpoints[p])
            .collect()
    }

    /// Why the endpoint at `position` is not routed an alert with `labels`; `None` when it is.
    pub fn why_not<'t>(
        &'t self,
        position: usize,
        labels: &Labels<'_>,
        named: Option<&[EndpointId]>,
    ) -> Option<NotRouted<'t>> {
        route(
            &self.endpoints[position].id,
            &self.matchers[position],
            labels,
            named,
        )
        .err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(id: &str, matchers: &[&str]) -> Endpoint {
        let mut endpoint = super::super::test_endpoint(id, id);
        endpoint.matchers = matchers.iter().map(|m| m.to_string()).collect();
        endpoint
    }

    fn ids(routed: Vec<&Endpoint>) -> Vec<&str> {
        routed.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn the_index_finds_exactly_what_evaluating_every_endpoint_finds() {
        let mut endpoints = vec![
            endpoint("ep_all", &[]),
            endpoint("ep_db", &[r#"team="db""#]),
            endpoint("ep_db_prod", &[r#"env=~"prod.*""#, r#"team="db""#]),
            endpoint("ep_not_web", &[r#"team!="web""#]),
            endpoint("ep_empty", &[r#"team="""#]),
            endpoint("ep_bare", &[r#"tag="pager""#]),
        ];
        for team in 0..200 {
            endpoints.push(endpoint(
                &format!("ep_t{team:03}"),
                &[&format!("team=\"t{team}\"")],
            ));
        }
        let table = RouteTable::new(endpoints.clone(), None);
        let cases: [&[(&str, &str)]; 5] = [
            &[("team", "db"), ("env", "prod-eu")],
            &[("team", "db"), ("env", "dev")],
            &[("team", "web"), ("tag", "pager")],
            &[("env", "prod")],
            &[("team", "t7")],
        ];
        for pairs in cases {
            let labels = Labels::from_pairs(pairs.to_vec());
            let everyone: Vec<&str> = endpoints
                .iter()
                .zip(&table.matchers)
                .filter(|(e, m)| route(&e.id, m, &labels, None).is_ok())
                .map(|(e, _)| e.id.as_str())
                .collect();
            assert_eq!(ids(table.routed(&labels, None)), everyone, "{pairs:?}");
        }
        let labels = Labels::from_pairs(vec![("team", "db")]);
        assert_eq!(
            ids(table.routed(&labels, None)),
            ["ep_all", "ep_db", "ep_not_web"]
        );
        let named = [EndpointId::from("ep_all"), EndpointId::from("ep_t001")];
        assert_eq!(ids(table.routed(&labels, Some(&named))), ["ep_all"]);
        assert!(matches!(
            table.why_not(2, &labels, None),
            Some(NotRouted::MatcherFails(m)) if m.to_string() == r#"env=~"prod.*""#
        ));

        // A table read again takes the parsed matchers of unchanged endpoints, and parses changed ones
        let mut changed = endpoints.clone();
        changed[1].matchers = vec![r#"team="web""#.into()];
        changed[1].version += 1;
        let again = RouteTable::new(changed, Some(&table));
        assert_eq!(again.matchers[0], table.matchers[0]);
        assert_eq!(ids(again.routed(&labels, None)), ["ep_all", "ep_not_web"]);
    }

    #[test]
    fn an_endpoint_whose_matchers_do_not_parse_takes_every_alert() {
        let table = RouteTable::new(vec![endpoint("ep_old", &[r#"team=~"(""#])], None);
        let labels = Labels::from_pairs(vec![("team", "db")]);
        assert_eq!(ids(table.routed(&labels, None)), ["ep_old"]);
    }
}
