//! The labels an alert is routed on: its `name=value` tags, its `severity`, `message_type` and `source`,
//! and its bare tags (without `=`) as values of the label `tag`.
//!
//! A label may have several values (an alert carries many bare tags); a missing label reads as the one
//! value `""`, as in Alertmanager, where `x=""` also matches an alert without `x`. The alert's own fields
//! are authoritative: a tag named `severity`, `message_type` or `source` is not a label.

use crate::alert::AlertContent;

/// The label that bare tags are values of: `tag="foo"` holds when the alert carries the bare tag `foo`.
pub const BARE_TAG: &str = "tag";
/// Labels that come from the alert's fields, never from its tags.
const FROM_FIELDS: [&str; 3] = ["severity", "message_type", "source"];

/// An alert's labels, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labels<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Labels<'a> {
    /// The labels of `alert`.
    pub fn of(alert: &'a AlertContent) -> Labels<'a> {
        let mut pairs = vec![
            ("severity", alert.severity.as_str()),
            ("message_type", alert.message_type.as_str()),
        ];
        if let Some(source) = &alert.source {
            pairs.push(("source", source.as_str()));
        }
        for tag in &alert.tags {
            match tag.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    if !FROM_FIELDS.contains(&name) {
                        pairs.push((name, value));
                    }
                }
                _ => pairs.push((BARE_TAG, tag.as_str())),
            }
        }
        Labels::from_pairs(pairs)
    }

    /// Labels from `(name, value)` pairs, in any order.
    pub fn from_pairs(mut pairs: Vec<(&'a str, &'a str)>) -> Labels<'a> {
        pairs.sort_unstable();
        pairs.dedup();
        Labels { pairs }
    }

    /// Every `(name, value)` pair, sorted.
    pub fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.pairs.iter().copied()
    }

    /// Every value of `name`; none when the alert does not carry it.
    pub fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        let start = self.pairs.partition_point(|(n, _)| *n < name);
        self.pairs[start..]
            .iter()
            .take_while(move |(n, _)| *n == name)
            .map(|(_, value)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{MessageType, Severity};

    fn alert(tags: &[&str], source: Option<&str>) -> AlertContent {
        AlertContent {
            title: "disk full".into(),
            description: String::new(),
            severity: Severity::High,
            message_type: MessageType::Error,
            incident_key: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            samples: Vec::new(),
            context: serde_json::Map::new(),
            link: None,
            source: source.map(str::to_string),
            timeframe_start: None,
            timeframe_end: None,
        }
    }

    fn values<'a>(labels: &'a Labels<'_>, name: &str) -> Vec<&'a str> {
        labels.values(name).collect()
    }

    #[test]
    fn an_alert_is_labelled_by_its_tags_and_fields() {
        let content = alert(
            &[
                "team=db", "env=prod", "urgent", "db", "a=b=c", "=odd", "team=db",
            ],
            Some("grafana"),
        );
        let labels = Labels::of(&content);
        assert_eq!(
            values(&labels, "team"),
            ["db"],
            "a repeated tag is one value"
        );
        assert_eq!(values(&labels, "env"), ["prod"]);
        assert_eq!(values(&labels, "a"), ["b=c"], "split at the first =");
        assert_eq!(values(&labels, BARE_TAG), ["=odd", "db", "urgent"]);
        assert_eq!(values(&labels, "severity"), ["high"]);
        assert_eq!(values(&labels, "message_type"), ["error"]);
        assert_eq!(values(&labels, "source"), ["grafana"]);
        assert!(values(&labels, "service").is_empty());
    }

    #[test]
    fn the_alert_fields_win_over_tags_of_the_same_name() {
        let content = alert(&["severity=low", "source=spoofed", "message_type=Ok"], None);
        let labels = Labels::of(&content);
        assert_eq!(values(&labels, "severity"), ["high"]);
        assert_eq!(values(&labels, "message_type"), ["error"]);
        assert!(
            values(&labels, "source").is_empty(),
            "no source field, no source label"
        );
    }
}
