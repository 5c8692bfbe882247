//! The save-time check that a JSON body template renders valid JSON, with failures traced back to the source.

use serde_json::Value;

use super::error::TemplateError;
use super::escaping::Escaping;
use super::json_syntax::validate;
use super::parser::tag_text;
use super::render::{self, Origin, Segment};
use super::tree::Node;

/// Output limit while checking: sample alerts are small, so anything bigger is itself a problem.
pub const CHECK_MAX_BYTES: usize = 4 << 20;

const PREFIX: &str = "the body is not valid JSON when rendered with a sample alert";

/// Renders `nodes` with `hostile` and fails, at the template position that produced the first byte that is not
/// JSON, if the output does not parse.
pub(crate) fn check(
    source: &str,
    nodes: &[Node],
    escaping: Escaping,
    hostile: &Value,
) -> Result<(), TemplateError> {
    let mut trace: Vec<Segment> = Vec::new();
    let output = render::render(
        nodes,
        escaping,
        hostile,
        CHECK_MAX_BYTES,
        source.len() * 2,
        &mut trace,
    )
    .map_err(|e| {
        TemplateError::at(
            source,
            0,
            format!("the body cannot be rendered with a sample alert: {e}"),
        )
    })?;
    let Err(syntax) = validate(&output) else {
        return Ok(());
    };
    let (offset, note) = locate(source, &output, &trace, syntax.offset);
    Err(TemplateError::at(
        source,
        offset,
        format!("{PREFIX}: {}{note}", syntax.message),
    ))
}

/// Maps output offset `failed` to a source offset, with a note naming the tag involved, if any.
fn locate(source: &str, output: &str, trace: &[Segment], failed: usize) -> (usize, String) {
    let index = trace.partition_point(|segment| segment.end <= failed);
    let before = trace.get(..index).unwrap_or_default();
    match trace.get(index) {
        Some(&Segment {
            origin: Origin::Tag(span),
            ..
        }) => (span.start, format!(" (in `{}`)", tag_text(source, span))),
        Some(&Segment {
            start,
            origin: Origin::Text { at },
            ..
        }) => {
            let lead = output.get(start..failed).unwrap_or_default();
            let note = if is_blank(lead) {
                after_tag(source, output, before, start)
            } else {
                String::new()
            };
            (at + failed.saturating_sub(start), note)
        }
        // The output ended too early: point after whatever produced its last byte.
        None => match before.iter().rev().find(|s| s.end > s.start) {
            Some(&Segment {
                start,
                end,
                origin: Origin::Text { at },
            }) => {
                let note = if is_blank(output.get(start..end).unwrap_or_default()) {
                    after_tag(source, output, before, start)
                } else {
                    String::new()
                };
                (at + (end - start), note)
            }
            Some(&Segment {
                origin: Origin::Tag(span),
                ..
            }) => (span.end, format!(" (after `{}`)", tag_text(source, span))),
            None => (source.len(), after_tag(source, output, before, 0)),
        },
    }
}

/// The note for a failure at output offset `upto` when only whitespace separates it from the last tag's output.
fn after_tag(source: &str, output: &str, before: &[Segment], upto: usize) -> String {
    for segment in before.iter().rev() {
        match segment.origin {
            Origin::Tag(span) => return format!(" (after `{}`)", tag_text(source, span)),
            Origin::Text { .. } => {
                let text = output
                    .get(segment.start..segment.end.min(upto))
                    .unwrap_or_default();
                if !is_blank(text) {
                    return String::new();
                }
            }
        }
    }
    String::new()
}

fn is_blank(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parser::parse;
    use serde_json::json;

    fn check_json(source: &str, hostile: &Value) -> Result<(), TemplateError> {
        let nodes = parse(source).unwrap();
        check(source, &nodes, Escaping::Json, hostile)
    }

    #[test]
    fn failures_inside_a_value_point_at_its_tag() {
        let source = "{\n  \"a\": \"{{a}}\",\n  \"x\": {{alert_title}}\n}";
        let err =
            check_json(source, &json!({"a": "ok", "alert_title": "Disk \"full\""})).unwrap_err();
        assert_eq!((err.line, err.column), (3, 8));
        assert_eq!(
            err.message,
            format!("{PREFIX}: expected value (in `{{{{alert_title}}}}`)")
        );
    }

    #[test]
    fn failures_after_a_value_point_at_the_text_and_name_the_tag() {
        let source = "{\"x\": {{n}} , \"y\": {{t}}\n}";
        let err = check_json(source, &json!({"n": 1, "t": ""})).unwrap_err();
        assert_eq!((err.line, err.column), (2, 1));
        assert_eq!(
            err.message,
            format!("{PREFIX}: expected value (after `{{{{t}}}}`)")
        );
        let err = check_json("{\"x\": {{{n}}} \"y\": 1}", &json!({"n": 7})).unwrap_err();
        assert_eq!((err.line, err.column), (1, 15));
        assert_eq!(
            err.message,
            format!("{PREFIX}: expected `,` or `}}` (after `{{{{{{n}}}}}}`)")
        );
    }

    #[test]
    fn failures_in_plain_text_have_no_note() {
        let err = check_json("{\"a\": {{n}}, \"b\" 2}", &json!({"n": 1})).unwrap_err();
        assert_eq!((err.line, err.column), (1, 18));
        assert_eq!(err.message, format!("{PREFIX}: expected `:`"));
    }

    #[test]
    fn early_ends_point_at_the_end() {
        let err = check_json("{\"a\": [{{#l}}{{.}},{{/l}}]", &json!({"l": [1]})).unwrap_err();
        assert_eq!((err.line, err.column), (1, 26));
        assert_eq!(err.message, format!("{PREFIX}: trailing comma before `]`"));
        let err = check_json("{\"a\": 1\n", &json!({})).unwrap_err();
        assert_eq!((err.line, err.column), (2, 1));
        assert_eq!(
            err.message,
            format!("{PREFIX}: the body ends inside an object")
        );
        let err = check_json("{{{x}}}", &json!({"x": "{\"a"})).unwrap_err();
        assert_eq!((err.line, err.column), (1, 8));
        assert_eq!(
            err.message,
            format!("{PREFIX}: the body ends inside a string (after `{{{{{{x}}}}}}`)")
        );
        let err = check_json("{{#x}}{}{{/x}}", &json!({})).unwrap_err();
        assert_eq!((err.line, err.column), (1, 15));
        assert_eq!(
            err.message,
            format!("{PREFIX}: the body ends where a value is expected")
        );
    }

    #[test]
    fn oversized_renders_are_reported() {
        let err = check_json(
            "[{{#l}}{{#l}}{{#l}}1,{{/l}}{{/l}}{{/l}}1]",
            &json!({"l": vec![0; 200]}),
        )
        .unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
        assert!(
            err.message
                .starts_with("the body cannot be rendered with a sample alert"),
            "{}",
            err.message
        );
    }
}
