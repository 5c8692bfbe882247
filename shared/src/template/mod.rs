//! Mustache templates for webhook bodies and URLs: compiled once, rendered many times against a JSON context.
//!
//! Supported: `{{name}}` (escaped for the template's [`Escaping`]), `{{{name}}}` and `{{& name}}` (raw),
//! sections `{{#name}}…{{/name}}`, inverted sections `{{^name}}…{{/name}}`, comments `{{! … }}`, delimiter
//! changes `{{=<% %>=}}`, the implicit iterator `{{.}}`, dotted names with context-stack lookup (a numeric
//! segment indexes a list: `{{alert_samples.0.message}}`), and the standalone-line rules of the Mustache spec.
//! Partials, template inheritance and lambdas are not supported.
//!
//! Beside it, the Uptrends syntax (module `uptrends`): `{{@alert.description}}` names the context key
//! `@alert.description` as it is written, escaped like `{{name}}` (and `{{{@name}}}`, `{{#@name}}` work too);
//! `{{@JsonEncode({{@name}})}}`, `{{@UrlEncode(…)}}` and `{{@XmlEncode(…)}}` encode one variable explicitly. Both
//! compile to the same nodes, so they mix freely in one template.
//!
//! Values: strings as they are, numbers and booleans as JSON text, null or missing as nothing, arrays and
//! objects as compact JSON, then escaped. In a [`Escaping::Json`] template an array or object interpolated
//! outside a JSON string (`"tags": {{alert_tags_json}}`) is written as JSON, not escaped: escaping it there could
//! only produce invalid JSON.

mod catalogue;
mod error;
mod escaping;
mod json_check;
mod json_syntax;
mod lexer;
mod parser;
mod render;
mod tree;
mod uptrends;

#[cfg(test)]
mod tests;

pub use catalogue::{Catalogue, VarKind};
pub use error::{RenderError, TemplateError};
pub use escaping::Escaping;
pub use json_check::CHECK_MAX_BYTES;
pub use parser::MAX_SECTION_DEPTH;

use serde_json::Value;

use tree::Node;

/// A compiled template. Cheap to share between threads; rendering does not mutate it.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    escaping: Escaping,
    nodes: Vec<Node>,
    /// Initial output capacity: the literal text plus room for values.
    capacity: usize,
    /// Whether any tag names an `@` (Uptrends) variable.
    uses_at_names: bool,
    /// The first segment of every name in a tag, sorted, once each: every variable of the whole context
    /// the template can look up is among them (a tag inside a section may name one too).
    heads: Box<[Box<str>]>,
}

impl Template {
    /// Compiles `source`; interpolated values will be escaped with `escaping`.
    pub fn compile(source: &str, escaping: Escaping) -> Result<Template, TemplateError> {
        let nodes = parser::parse(source)?;
        let literal = literal_len(&nodes);
        let heads = heads(&nodes);
        // An Uptrends name is one segment starting with `@`; no other name's first segment does.
        let uses_at_names = heads.iter().any(|head| head.starts_with('@'));
        Ok(Template {
            source: source.to_owned(),
            escaping,
            nodes,
            capacity: literal * 2 + 256,
            uses_at_names,
            heads,
        })
    }

    /// Whether the template names any `@` (Uptrends) variable, so that a context without them would do.
    pub fn uses_at_names(&self) -> bool {
        self.uses_at_names
    }

    /// Whether rendering may look up the context's variable `name`: some tag's name starts with it. A
    /// context that holds only such variables renders the template as the whole context does.
    pub fn may_look_up(&self, name: &str) -> bool {
        self.heads
            .binary_search_by(|head| (**head).cmp(name))
            .is_ok()
    }

    pub fn escaping(&self) -> Escaping {
        self.escaping
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Every name must be known: outside sections, the first dotted segment must be in the catalogue (and a
    /// Value has no dotted path below it, a List only an item number); inside a section over a Value/List
    /// variable, names must still be known (or `.`); inside a section over an Opaque variable, any name is allowed.
    /// The error names the variable, with its line/column.
    pub fn check_variables(&self, catalogue: &Catalogue) -> Result<(), TemplateError> {
        catalogue::check(&self.source, &self.nodes, catalogue)
    }

    /// Renders against `context`; fails if the output would exceed `max_bytes` (no truncation), or if nested
    /// sections over long lists would take too long.
    pub fn render(&self, context: &Value, max_bytes: usize) -> Result<String, RenderError> {
        render::render(
            &self.nodes,
            self.escaping,
            context,
            max_bytes,
            self.capacity,
            &mut (),
        )
    }

    /// Renders with `hostile` (a sample alert full of quotes, backslashes, newlines, `</`, unicode, empty
    /// lists…) and parses the output as JSON. If it does not parse, the error points at the place in the
    /// template that produced the first offending byte, and names the tag involved, e.g. "the body is not valid
    /// JSON when rendered with a sample alert: expected `,` or `}` (after `{{alert_title}}`)".
    pub fn check_json_output(&self, hostile: &Value) -> Result<(), TemplateError> {
        json_check::check(&self.source, &self.nodes, self.escaping, hostile)
    }
}

/// Whether any variable or section in `nodes` has an `@` name (bounded nesting keeps recursion shallow).
/// The first segment of every tag's name in `nodes`, at any depth, sorted, once each.
fn heads(nodes: &[Node]) -> Box<[Box<str>]> {
    let mut heads = Vec::new();
    collect_heads(nodes, &mut heads);
    heads.sort_unstable();
    heads.dedup();
    heads.into_iter().map(Box::from).collect()
}

fn collect_heads<'n>(nodes: &'n [Node], heads: &mut Vec<&'n str>) {
    for node in nodes {
        match node {
            Node::Text { .. } => {}
            Node::Var { path, .. } => heads.extend(path.head()),
            Node::Section { path, children, .. } => {
                heads.extend(path.head());
                collect_heads(children, heads);
            }
        }
    }
}

/// Total length of the literal text, counted once per node (bounded nesting keeps recursion shallow).
fn literal_len(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|node| match node {
            Node::Text { text, .. } => text.len(),
            Node::Var { .. } => 0,
            Node::Section { children, .. } => literal_len(children),
        })
        .sum()
}
