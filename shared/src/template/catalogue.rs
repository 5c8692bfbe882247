//! The catalogue of variables the service provides, and the save-time check that a template uses only those.

use std::collections::{BTreeMap, BTreeSet};

use super::error::TemplateError;
use super::tree::{Node, Path, Span};

/// What the service knows about a top-level variable name, for save-time checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    /// A scalar: string, number, bool or null.
    Value,
    /// A list of scalars (e.g. tags).
    List,
    /// Free JSON (objects, arrays of arbitrary objects): any name is allowed inside a section over it, and any
    /// dotted path below it (`{{alert_context.host}}`).
    Opaque,
    /// Named values declared per template owner (an endpoint's captures): only `name.field` with a declared
    /// field may be used ([`Catalogue::with_fields`]).
    Record,
}

/// The top-level variables a template may use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalogue {
    entries: BTreeMap<String, VarKind>,
    /// The declared fields of each [`VarKind::Record`] variable; none declared when absent.
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl Catalogue {
    pub fn new(entries: &[(&str, VarKind)]) -> Catalogue {
        Catalogue {
            entries: entries
                .iter()
                .map(|&(name, kind)| (name.to_owned(), kind))
                .collect(),
            fields: BTreeMap::new(),
        }
    }

    /// This catalogue with `fields` declared for the record variable `name`.
    pub fn with_fields<I, S>(&self, name: &str, fields: I) -> Catalogue
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut catalogue = self.clone();
        catalogue.fields.insert(
            name.to_owned(),
            fields.into_iter().map(Into::into).collect(),
        );
        catalogue
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The kind of a top-level variable, if known.
    pub fn kind(&self, name: &str) -> Option<VarKind> {
        self.entries.get(name).copied()
    }

    /// The known name closest to `name` (at most two edits away), to suggest on a typo.
    fn suggestion(&self, name: &str) -> Option<&str> {
        const MAX_LEN: usize = 64;
        if name.chars().count() > MAX_LEN {
            return None;
        }
        self.entries
            .keys()
            .filter(|known| known.chars().count() <= MAX_LEN)
            .map(|known| (edit_distance(name, known), known))
            .filter(|&(distance, _)| distance <= 2)
            .min_by_key(|&(distance, _)| distance)
            .map(|(_, known)| known.as_str())
    }
}

/// Which names may appear where a check is at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Outside any section: names must be known; `.` is meaningless.
    Root,
    /// Inside a section over a Value or List variable: names must be known, or `.`.
    Known,
    /// Inside a section over an Opaque variable: anything goes.
    Open,
}

/// Checks that every name used by `nodes` is known to `catalogue`.
pub(crate) fn check(
    source: &str,
    nodes: &[Node],
    catalogue: &Catalogue,
) -> Result<(), TemplateError> {
    walk(source, nodes, catalogue, Scope::Root)
}

/// Recursion is bounded by the parser's section nesting limit.
fn walk(
    source: &str,
    nodes: &[Node],
    catalogue: &Catalogue,
    scope: Scope,
) -> Result<(), TemplateError> {
    for node in nodes {
        match node {
            Node::Text { .. } => {}
            Node::Var { path, span, .. } => {
                resolve(source, path, *span, catalogue, scope)?;
            }
            Node::Section {
                path,
                inverted,
                span,
                children,
            } => {
                let inner = resolve(source, path, *span, catalogue, scope)?;
                // An inverted section renders only when there is nothing to push: names resolve as outside it.
                let inner = if *inverted { scope } else { inner };
                walk(source, children, catalogue, inner)?;
            }
        }
    }
    Ok(())
}

/// Checks one name in `scope`; returns the scope inside a section over it.
fn resolve(
    source: &str,
    path: &Path,
    span: Span,
    catalogue: &Catalogue,
    scope: Scope,
) -> Result<Scope, TemplateError> {
    if scope == Scope::Open {
        return Ok(Scope::Open);
    }
    let fail = |message: String| Err(TemplateError::at(source, span.start, message));
    let Some(head) = path.head() else {
        return match scope {
            Scope::Root => {
                fail("`.` (the current item) can only be used inside a section".to_owned())
            }
            _ => Ok(scope),
        };
    };
    let Some(kind) = catalogue.kind(head) else {
        let hint = catalogue
            .suggestion(head)
            .map(|known| format!(" (did you mean `{known}`?)"))
            .unwrap_or_default();
        return fail(format!("unknown variable `{head}`{hint}"));
    };
    let rest = path.segments.get(1..).unwrap_or_default();
    match kind {
        VarKind::Opaque => Ok(Scope::Open),
        VarKind::Value if !rest.is_empty() => fail(format!(
            "`{head}` is a single value: `{}` has nothing to look up",
            path.name
        )),
        VarKind::List if !(rest.is_empty() || is_index(rest)) => fail(format!(
            "`{head}` is a list of values: only an item number can follow it, as in `{head}.0`"
        )),
        VarKind::Value | VarKind::List => Ok(Scope::Known),
        VarKind::Record => {
            let declared = catalogue.fields.get(head);
            match rest {
                [field] if declared.is_some_and(|d| d.contains(field.as_ref())) => Ok(Scope::Known),
                [field] => {
                    let holds = declared
                        .filter(|d| !d.is_empty())
                        .map(|d| d.iter().map(String::as_str).collect::<Vec<_>>().join(", "))
                        .unwrap_or_else(|| "none".to_owned());
                    fail(format!(
                        "`{head}.{field}` is not declared (`{head}` holds: {holds})"
                    ))
                }
                _ => fail(format!(
                    "`{head}` holds named values: use one by its name, as in `{head}.<name>`"
                )),
            }
        }
    }
}

fn is_index(rest: &[Box<str>]) -> bool {
    matches!(rest, [index] if index.bytes().all(|b| b.is_ascii_digit()))
}

/// Levenshtein distance in chars (two rows; inputs are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        let mut row = current.iter_mut();
        if let Some(first) = row.next() {
            *first = i + 1;
        }
        let mut left = i + 1;
        for ((&cb, cell), window) in b.iter().zip(row).zip(previous.windows(2)) {
            let (diagonal, up) = match window {
                [d, u] => (*d, *u),
                _ => (0, 0),
            };
            let value = (diagonal + usize::from(ca != cb)).min(up + 1).min(left + 1);
            *cell = value;
            left = value;
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parser::parse;

    fn catalogue() -> Catalogue {
        Catalogue::new(&[
            ("alert_title", VarKind::Value),
            ("alert_severity", VarKind::Value),
            ("alert_tags", VarKind::List),
            ("alert_samples", VarKind::Opaque),
            ("alert_context", VarKind::Opaque),
        ])
    }

    fn run(source: &str) -> Result<(), (usize, usize, String)> {
        let nodes = parse(source).unwrap();
        check(source, &nodes, &catalogue()).map_err(|e| (e.line, e.column, e.message))
    }

    #[test]
    fn a_record_takes_only_its_declared_fields() {
        let catalogue = Catalogue::new(&[("captured", VarKind::Record)]);
        let check_with = |catalogue: &Catalogue, source: &str| {
            let nodes = parse(source).unwrap();
            check(source, &nodes, catalogue).map_err(|e| e.message)
        };
        let declared = catalogue.with_fields("captured", ["ticket_id", "key"]);
        assert_eq!(
            check_with(
                &declared,
                "/issues/{{captured.ticket_id}}{{#captured.key}}?k={{captured.key}}{{/captured.key}}"
            ),
            Ok(())
        );
        assert_eq!(
            check_with(&declared, "{{captured.ticket}}"),
            Err("`captured.ticket` is not declared (`captured` holds: key, ticket_id)".into())
        );
        assert_eq!(
            check_with(&catalogue, "{{captured.ticket_id}}"),
            Err("`captured.ticket_id` is not declared (`captured` holds: none)".into())
        );
        for whole in [
            "{{captured}}",
            "{{#captured}}x{{/captured}}",
            "{{captured.a.b}}",
        ] {
            assert_eq!(
                check_with(&declared, whole),
                Err(
                    "`captured` holds named values: use one by its name, as in `captured.<name>`"
                        .into()
                ),
                "{whole}"
            );
        }
    }

    #[test]
    fn contains_and_kind() {
        let c = catalogue();
        assert!(c.contains("alert_title"));
        assert!(!c.contains("alert"));
        assert_eq!(c.kind("alert_tags"), Some(VarKind::List));
        assert_eq!(Catalogue::default().kind("x"), None);
    }

    #[test]
    fn known_names_pass() {
        assert_eq!(
            run(
                "{{alert_title}} {{#alert_tags}}{{.}}, {{alert_severity}}{{/alert_tags}}{{^alert_tags}}none{{/alert_tags}}"
            ),
            Ok(())
        );
        assert_eq!(run("{{alert_context.host.name}} {{alert_tags.0}}"), Ok(()));
        assert_eq!(
            run("{{#alert_samples}}{{anything}}{{#deep}}{{x.y}}{{.}}{{/deep}}{{/alert_samples}}"),
            Ok(())
        );
        assert_eq!(
            run("{{#alert_title}}{{#.}}{{.}}{{/.}}{{/alert_title}}"),
            Ok(())
        );
    }

    #[test]
    fn unknown_names_fail_with_position() {
        assert_eq!(
            run("{\n  \"t\": \"{{alret_title}}\"\n}"),
            Err((
                2,
                9,
                "unknown variable `alret_title` (did you mean `alert_title`?)".into()
            ))
        );
        assert_eq!(
            run("{{ nope.x }}"),
            Err((1, 1, "unknown variable `nope`".into()))
        );
        assert_eq!(
            run("{{#alert_tags}}\n{{host}}{{/alert_tags}}"),
            Err((2, 1, "unknown variable `host`".into()))
        );
        assert_eq!(
            run("x{{#nope}}{{/nope}}"),
            Err((1, 2, "unknown variable `nope`".into()))
        );
        // Inverted sections over an opaque variable do not open it up.
        assert_eq!(
            run("{{^alert_samples}}{{host}}{{/alert_samples}}"),
            Err((1, 19, "unknown variable `host`".into()))
        );
    }

    #[test]
    fn shapes_are_respected() {
        assert_eq!(
            run("{{.}}"),
            Err((
                1,
                1,
                "`.` (the current item) can only be used inside a section".into()
            ))
        );
        assert_eq!(
            run("{{alert_title.x}}"),
            Err((
                1,
                1,
                "`alert_title` is a single value: `alert_title.x` has nothing to look up".into()
            ))
        );
        assert_eq!(
            run("{{alert_tags.name}}"),
            Err((1, 1, "`alert_tags` is a list of values: only an item number can follow it, as in `alert_tags.0`".into()))
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("alret", "alert"), 2);
        assert_eq!(edit_distance("é", "e"), 1);
    }
}
