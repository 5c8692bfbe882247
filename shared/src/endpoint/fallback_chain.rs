//! The fallback chain rule, as a pure function over a tenant's endpoints: a fallback names another
//! endpoint of the same tenant, never the endpoint itself, never closes a cycle, and no chain holds more
//! than [`MAX_FALLBACK_CHAIN`] endpoints.

use std::collections::BTreeMap;

use super::MAX_FALLBACK_CHAIN;
use crate::ids::EndpointId;
use crate::input_error::FieldError;

/// The field every refusal names.
pub const FIELD: &str = "fallback_endpoint_id";

/// Checks the fallback of `saved` against `links`: every endpoint of the tenant with its fallback, as they
/// would be once `saved` is stored. Only chains through `saved` are judged, so a refusal is always about
/// the fallback being saved. An id that is not in `links` is unknown, whoever it may belong to.
pub fn check(
    saved: &EndpointId,
    links: &BTreeMap<EndpointId, Option<EndpointId>>,
) -> Result<(), FieldError> {
    let Some(Some(fallback)) = links.get(saved) else {
        return Ok(());
    };
    if fallback == saved {
        return Err(FieldError::invalid(
            FIELD,
            format!("`{FIELD}` cannot name the endpoint itself"),
        ));
    }
    if !links.contains_key(fallback) {
        return Err(FieldError::invalid(
            FIELD,
            format!("`{FIELD}`: there is no endpoint `{fallback}`"),
        ));
    }
    for start in links.keys() {
        let (chain, cycle) = chain_from(start, links);
        if !chain.contains(&saved) {
            continue;
        }
        if cycle {
            return Err(FieldError::invalid(
                FIELD,
                format!("`{FIELD}` would make a cycle: {}", spelled(&chain)),
            ));
        }
        if chain.len() > MAX_FALLBACK_CHAIN {
            return Err(FieldError::invalid(
                FIELD,
                format!(
                    "`{FIELD}` would make a fallback chain of {} endpoints ({}); at most \
                     {MAX_FALLBACK_CHAIN} are allowed, the first one included",
                    chain.len(),
                    spelled(&chain)
                ),
            ));
        }
    }
    Ok(())
}

/// The endpoints from `start` following fallbacks, and whether the chain comes back to one of them (then
/// the last one is the endpoint it comes back to, spelled twice).
fn chain_from<'a>(
    start: &'a EndpointId,
    links: &'a BTreeMap<EndpointId, Option<EndpointId>>,
) -> (Vec<&'a EndpointId>, bool) {
    let mut chain = vec![start];
    let mut current = start;
    while let Some(Some(next)) = links.get(current) {
        let cycle = chain.contains(&next);
        chain.push(next);
        if cycle {
            return (chain, true);
        }
        current = next;
    }
    (chain, false)
}

fn spelled(chain: &[&EndpointId]) -> String {
    let names: Vec<&str> = chain.iter().map(|id| id.as_str()).collect();
    names.join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The links `a→b`, given as pairs; an endpoint without a fallback as `(x, "")`.
    fn links(pairs: &[(&str, &str)]) -> BTreeMap<EndpointId, Option<EndpointId>> {
        pairs
            .iter()
            .map(|(from, to)| {
                let to = (!to.is_empty()).then(|| EndpointId::from(*to));
                (EndpointId::from(*from), to)
            })
            .collect()
    }

    fn refusal(saved: &str, pairs: &[(&str, &str)]) -> Option<String> {
        check(&EndpointId::from(saved), &links(pairs))
            .err()
            .map(|e| {
                assert_eq!(e.field, FIELD);
                e.message
            })
    }

    /// A row: what it is, the endpoint saved, the links after the save, a part of the refusal expected.
    type Row<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], Option<&'a str>);

    #[test]
    fn the_chain_rule_as_a_table() {
        let rows: [Row<'_>; 10] = [
            ("no fallback", "a", &[("a", "")], None),
            ("a→b", "a", &[("a", "b"), ("b", "")], None),
            (
                "a→b→c, saving a",
                "a",
                &[("a", "b"), ("b", "c"), ("c", "")],
                None,
            ),
            (
                "a→b→c, saving b",
                "b",
                &[("a", "b"), ("b", "c"), ("c", "")],
                None,
            ),
            ("itself", "a", &[("a", "a")], Some("itself")),
            ("unknown", "a", &[("a", "x")], Some("no endpoint `x`")),
            (
                "a→b→a",
                "a",
                &[("a", "b"), ("b", "a")],
                Some("cycle: a → b → a"),
            ),
            (
                "a→b→c→d, saving a",
                "a",
                &[("a", "b"), ("b", "c"), ("c", "d"), ("d", "")],
                Some("4 endpoints (a → b → c → d)"),
            ),
            (
                "a→b→c→d, saving c, whose chain upstream makes it too long",
                "c",
                &[("a", "b"), ("b", "c"), ("c", "d"), ("d", "")],
                Some("4 endpoints (a → b → c → d)"),
            ),
            (
                "x→a and a→b→c: four through a",
                "a",
                &[("x", "a"), ("a", "b"), ("b", "c"), ("c", "")],
                Some("4 endpoints (x → a → b → c)"),
            ),
        ];
        for (row, saved, pairs, expected) in rows {
            let got = refusal(saved, pairs);
            match (expected, &got) {
                (None, None) => {}
                (Some(part), Some(message)) if message.contains(part) => {}
                _ => panic!("{row}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn chains_not_through_the_saved_endpoint_are_not_judged() {
        // Two separate chains of three; saving the end of one does not judge the other.
        let pairs = [("a", "b"), ("b", "c"), ("c", ""), ("x", "y"), ("y", "")];
        assert_eq!(refusal("x", &pairs), None);
    }
}
