//! Rendering a node tree against a JSON context stack, with output limits and an optional source map.

use std::fmt::Write as _;

use serde_json::Value;

use super::error::RenderError;
use super::escaping::{Escaping, EscapingWriter};
use super::tree::{self, JsonState, Node, Output, Path, Span};
use super::uptrends::Function;

/// Work allowed for every render, on top of one step per byte of the output limit. A step is a node visited,
/// a list item iterated or a context level searched.
const BASE_STEPS: usize = 1 << 20;
/// Work allowed for any render, whatever its output limit.
const MAX_STEPS: usize = 1 << 24;

/// Where a stretch of output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Literal text starting at this source byte; output bytes map one to one onto source bytes.
    Text { at: usize },
    /// The output of a tag.
    Tag(Span),
}

/// A stretch of output (`start..end`, byte offsets) and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    pub start: usize,
    pub end: usize,
    pub origin: Origin,
}

/// Receives the origin of every stretch of output. `()` ignores them at no cost.
pub(crate) trait Trace {
    fn record(&mut self, segment: Segment);
}

impl Trace for () {
    #[inline(always)]
    fn record(&mut self, _: Segment) {}
}

impl Trace for Vec<Segment> {
    fn record(&mut self, segment: Segment) {
        self.push(segment);
    }
}

/// A level of the context stack; levels live on the call stack, so rendering allocates nothing for them.
struct Frame<'v, 'f> {
    value: &'v Value,
    parent: Option<&'f Frame<'v, 'f>>,
}

struct Renderer<'t, T> {
    out: String,
    escaping: Escaping,
    max_bytes: usize,
    steps_left: usize,
    max_steps: usize,
    json: JsonState,
    /// Reused by Uptrends functions: a non-string value's text, and a function's output before it is escaped
    /// for the context. Empty (unallocated) until a function needs it.
    text: String,
    encoded: String,
    /// Reused for an array or object written as escaped JSON text. Empty until one is.
    json_text: Vec<u8>,
    trace: &'t mut T,
}

/// Renders `nodes` against `context`; fails if the output would exceed `max_bytes`.
pub(crate) fn render<T: Trace>(
    nodes: &[Node],
    escaping: Escaping,
    context: &Value,
    max_bytes: usize,
    capacity: usize,
    trace: &mut T,
) -> Result<String, RenderError> {
    let max_steps = BASE_STEPS.saturating_add(max_bytes).min(MAX_STEPS);
    let mut renderer = Renderer {
        out: String::with_capacity(capacity.min(max_bytes)),
        escaping,
        max_bytes,
        steps_left: max_steps,
        max_steps,
        json: tree::JSON_OUTSIDE,
        text: String::new(),
        encoded: String::new(),
        json_text: Vec::new(),
        trace,
    };
    let root = Frame {
        value: context,
        parent: None,
    };
    renderer.nodes(nodes, &root)?;
    Ok(renderer.out)
}

impl<T: Trace> Renderer<'_, T> {
    fn nodes(&mut self, nodes: &[Node], frame: &Frame<'_, '_>) -> Result<(), RenderError> {
        for node in nodes {
            self.charge(1)?;
            match node {
                Node::Text { text, at, json } => {
                    let start = self.out.len();
                    self.out.push_str(text);
                    self.json = json
                        .get(usize::from(self.json))
                        .copied()
                        .unwrap_or(tree::JSON_OUTSIDE);
                    self.trace.record(Segment {
                        start,
                        end: self.out.len(),
                        origin: Origin::Text { at: *at },
                    });
                }
                Node::Var { path, output, span } => {
                    let start = self.out.len();
                    if let Some(value) = self.lookup(frame, path)? {
                        match output {
                            Output::Encoded(function) => self.encoded(value, *function),
                            _ if path.name.ends_with("_json") => self.json_value(value),
                            Output::Escaped => self.value(value, false),
                            Output::Raw => self.value(value, true),
                        }
                    }
                    self.trace.record(Segment {
                        start,
                        end: self.out.len(),
                        origin: Origin::Tag(*span),
                    });
                }
                Node::Section {
                    path,
                    inverted,
                    children,
                    ..
                } => {
                    let value = self.lookup(frame, path)?;
                    if *inverted {
                        if !truthy(value) {
                            self.nodes(children, frame)?;
                        }
                    } else if let Some(Value::Array(items)) = value {
                        for item in items {
                            self.charge(1)?;
                            let inner = Frame {
                                value: item,
                                parent: Some(frame),
                            };
                            self.nodes(children, &inner)?;
                        }
                    } else if let Some(value) = value.filter(|v| truthy(Some(v))) {
                        let inner = Frame {
                            value,
                            parent: Some(frame),
                        };
                        self.nodes(children, &inner)?;
                    }
                }
            }
            if self.out.len() > self.max_bytes {
                return Err(RenderError::TooLarge {
                    limit: self.max_bytes,
                });
            }
        }
        Ok(())
    }

    #[inline]
    fn charge(&mut self, steps: usize) -> Result<(), RenderError> {
        self.steps_left = self
            .steps_left
            .checked_sub(steps)
            .ok_or(RenderError::TooManySteps {
                limit: self.max_steps,
            })?;
        Ok(())
    }

    /// Appends an interpolated value: strings as they are, numbers and booleans as JSON text, null as nothing,
    /// arrays and objects as compact JSON. Escaped unless `raw`, except that in a JSON template an array or
    /// object outside a JSON string is written as JSON (escaping it there could only produce invalid JSON).
    #[inline]
    fn value(&mut self, value: &Value, raw: bool) {
        let start = self.out.len();
        let escaping = if raw { Escaping::Plain } else { self.escaping };
        match value {
            Value::Null => {}
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            Value::String(s) => escaping.escape_into(&mut self.out, s),
            Value::Number(n) => {
                // Number text is ASCII digits, sign, point and exponent: only `+` could need escaping.
                let mut writer = EscapingWriter {
                    out: &mut self.out,
                    escaping,
                };
                let _ = write!(writer, "{n}");
            }
            // A list of strings reads as a comma-separated list, as Logz.io's `{{alert_tags}}` does.
            Value::Array(items)
                if !items.is_empty()
                    && items.iter().all(Value::is_string)
                    && !(escaping == Escaping::Json && self.json == tree::JSON_OUTSIDE) =>
            {
                for (i, item) in items.iter().filter_map(Value::as_str).enumerate() {
                    if i > 0 {
                        escaping.escape_into(&mut self.out, ", ");
                    }
                    escaping.escape_into(&mut self.out, item);
                }
            }
            Value::Array(_) | Value::Object(_) => {
                let as_json = escaping == Escaping::Json && self.json == tree::JSON_OUTSIDE;
                if as_json || escaping == Escaping::Plain {
                    let _ = write!(self.out, "{value}");
                } else {
                    // Written whole first, then escaped in one pass: far cheaper than escaping the many
                    // small pieces serde_json writes one by one.
                    let mut json = std::mem::take(&mut self.json_text);
                    json.clear();
                    if serde_json::to_writer(&mut json, value).is_ok()
                        && let Ok(text) = std::str::from_utf8(&json)
                    {
                        escaping.escape_into(&mut self.out, text);
                    }
                    self.json_text = json;
                }
            }
        }
        if self.escaping == Escaping::Json {
            let written = self.out.get(start..).unwrap_or_default();
            if raw {
                self.json = tree::json_state_after(self.json, written);
            } else if self.json == tree::JSON_AFTER_BACKSLASH && !written.is_empty() {
                self.json = tree::JSON_IN_STRING;
            }
        }
    }

    /// Appends a value encoded by an Uptrends function: its text (as a plain `{{{name}}}` would write it, a list of
    /// strings as `a, b`) encoded by the function, then escaped for the context unless the function is the
    /// context's own encoding.
    fn encoded(&mut self, value: &Value, function: Function) {
        let start = self.out.len();
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let text_ref: &str = match value {
            Value::String(s) => s,
            other => {
                write_text(&mut text, other);
                &text
            }
        };
        if function.is_native_to(self.escaping) {
            function.encode_into(&mut self.out, text_ref);
        } else {
            let mut encoded = std::mem::take(&mut self.encoded);
            encoded.clear();
            function.encode_into(&mut encoded, text_ref);
            self.escaping.escape_into(&mut self.out, &encoded);
            self.encoded = encoded;
        }
        self.text = text;
        // Like an escaped value, the output opens or closes no JSON string.
        if self.json == tree::JSON_AFTER_BACKSLASH && self.out.len() > start {
            self.json = tree::JSON_IN_STRING;
        }
    }

    /// Appends a `*_json` variable, which is raw JSON: compact JSON outside a JSON string; inside one (the
    /// Logz.io form `["{{alert_tags_json}}"]`), a list's items as JSON strings joined by `", "` without the
    /// outermost quotes, which the template supplies. Anything else inside a string is escaped JSON text.
    fn json_value(&mut self, value: &Value) {
        let start = self.out.len();
        let in_string = self.escaping == Escaping::Json && self.json == tree::JSON_IN_STRING;
        match value {
            Value::Array(items) if in_string => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str("\", \"");
                    }
                    match item {
                        Value::String(text) => Escaping::Json.escape_into(&mut self.out, text),
                        other => Escaping::Json.escape_into(&mut self.out, &other.to_string()),
                    }
                }
            }
            _ if in_string => Escaping::Json.escape_into(&mut self.out, &value.to_string()),
            Value::String(text) => self.out.push_str(text),
            _ => {
                let _ = write!(self.out, "{value}");
            }
        }
        if self.escaping == Escaping::Json {
            let written = self.out.get(start..).unwrap_or_default();
            self.json = tree::json_state_after(self.json, written);
        }
    }

    /// Mustache lookup: the first segment is searched up the context stack, the rest inside what it found.
    /// Each level searched beyond the first costs a step.
    #[inline]
    fn lookup<'v>(
        &mut self,
        frame: &Frame<'v, '_>,
        path: &Path,
    ) -> Result<Option<&'v Value>, RenderError> {
        let mut segments = path.segments.iter();
        let Some(head) = segments.next() else {
            return Ok(Some(frame.value));
        };
        let mut level = Some(frame);
        let mut found = None;
        let mut searched = 0;
        while let Some(current) = level {
            if let Some(value) = child(current.value, head) {
                found = Some(value);
                break;
            }
            searched += 1;
            level = current.parent;
        }
        if searched > 1 {
            self.charge(searched)?;
        }
        Ok(
            found
                .and_then(|value| segments.try_fold(value, |value, segment| child(value, segment))),
        )
    }
}

/// The text of a non-string value as a raw interpolation writes it: null as nothing, booleans and numbers as
/// JSON text, a non-empty list of strings as `a, b`, other lists and objects as compact JSON.
fn write_text(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            for (i, item) in items.iter().filter_map(Value::as_str).enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(item);
            }
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// A named member of an object, or an element of an array by decimal index.
#[inline]
fn child<'v>(value: &'v Value, segment: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment
            .parse::<usize>()
            .ok()
            .and_then(|index| items.get(index)),
        _ => None,
    }
}

/// Section truthiness: false, null, missing, empty lists and empty strings are falsy.
fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null | Value::Bool(false)) => false,
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parser::parse;
    use serde_json::json;

    fn run(source: &str, escaping: Escaping, context: &Value) -> String {
        let nodes = parse(source).unwrap();
        render(&nodes, escaping, context, 1 << 20, 64, &mut ()).unwrap()
    }

    #[test]
    fn lookup_walks_the_stack_then_the_path() {
        let ctx =
            json!({"a": {"b": {}}, "b": {"c": "ERROR"}, "x": "top", "list": [{"n": 1}, {"n": 2}]});
        assert_eq!(
            run("{{#a}}[{{b.c}}]{{x}}{{/a}}", Escaping::Plain, &ctx),
            "[]top"
        );
        assert_eq!(
            run("{{list.1.n}}{{list.9.n}}{{x.y}}", Escaping::Plain, &ctx),
            "2"
        );
    }

    #[test]
    fn values_are_formatted() {
        let ctx = json!({"s": "x", "i": -3, "f": 1.5, "t": true, "f0": false, "n": null,
                         "a": [1, "b"], "o": {"k": "v"}});
        assert_eq!(
            run(
                "{{s}}|{{i}}|{{f}}|{{t}}|{{f0}}|{{n}}|{{missing}}|{{a}}|{{o}}",
                Escaping::Plain,
                &ctx
            ),
            "x|-3|1.5|true|false|||[1,\"b\"]|{\"k\":\"v\"}"
        );
    }

    #[test]
    fn json_values_outside_strings_stay_json() {
        let ctx = json!({"a": ["x\"y"], "o": {"k": 1}});
        assert_eq!(
            run(
                r#"{"in": "{{a}}", "out": {{a}}, "o": {{o}}, "e": "\{{a}}"}"#,
                Escaping::Json,
                &ctx
            ),
            r#"{"in": "x\"y", "out": ["x\"y"], "o": {"k":1}, "e": "\x\"y"}"#
        );
        // A raw value that opens a string is followed.
        assert_eq!(
            run(
                r#"{{{q}}}{{a}}"#,
                Escaping::Json,
                &json!({"q": "\"", "a": [1]})
            ),
            "\"[1]"
        );
    }

    #[test]
    fn sections_follow_truthiness() {
        let ctx = json!({"t": true, "f": false, "z": 0, "e": "", "s": "x", "l": [], "o": {}});
        assert_eq!(
            run(
                "{{#t}}T{{/t}}{{#f}}F{{/f}}{{#z}}Z{{/z}}{{#e}}E{{/e}}{{#s}}S{{/s}}{{#l}}L{{/l}}{{#o}}O{{/o}}{{#m}}M{{/m}}",
                Escaping::Plain,
                &ctx
            ),
            "TZSO"
        );
        assert_eq!(
            run(
                "{{^t}}T{{/t}}{{^f}}F{{/f}}{{^e}}E{{/e}}{{^l}}L{{/l}}{{^m}}M{{/m}}",
                Escaping::Plain,
                &ctx
            ),
            "FELM"
        );
    }

    #[test]
    fn output_is_capped() {
        let nodes = parse("{{#l}}{{.}},{{/l}}").unwrap();
        let ctx = json!({"l": vec!["abcdef"; 10_000]});
        assert_eq!(
            render(&nodes, Escaping::Json, &ctx, 1000, 64, &mut ()),
            Err(RenderError::TooLarge { limit: 1000 })
        );
        assert_eq!(
            render(&nodes, Escaping::Json, &ctx, 70_000, 0, &mut ())
                .unwrap()
                .len(),
            70_000
        );
    }

    #[test]
    fn work_is_capped_even_without_output() {
        let source = "{{#l}}".repeat(8) + &"{{/l}}".repeat(8);
        let nodes = parse(&source).unwrap();
        let ctx = json!({"l": vec![0; 100]});
        assert!(matches!(
            render(&nodes, Escaping::Plain, &ctx, 1000, 64, &mut ()),
            Err(RenderError::TooManySteps { .. })
        ));
    }

    #[test]
    fn trace_maps_output_to_source() {
        let nodes = parse("ab{{x}}{{#l}}-{{/l}}").unwrap();
        let mut trace = Vec::new();
        let out = render(
            &nodes,
            Escaping::Plain,
            &json!({"x": "XY", "l": [1, 2]}),
            100,
            0,
            &mut trace,
        )
        .unwrap();
        assert_eq!(out, "abXY--");
        assert_eq!(
            trace,
            [
                Segment {
                    start: 0,
                    end: 2,
                    origin: Origin::Text { at: 0 }
                },
                Segment {
                    start: 2,
                    end: 4,
                    origin: Origin::Tag(Span { start: 2, end: 7 })
                },
                Segment {
                    start: 4,
                    end: 5,
                    origin: Origin::Text { at: 13 }
                },
                Segment {
                    start: 5,
                    end: 6,
                    origin: Origin::Text { at: 13 }
                },
            ]
        );
    }
}
