//! Parser: builds the node tree from tokens, matching sections and enforcing the nesting limit.

use super::error::TemplateError;
use super::lexer::{self, TagKind, Token};
use super::tree::{self, Node, Output, Path, Span};
use super::uptrends;

/// Sections may be nested at most this deep.
pub const MAX_SECTION_DEPTH: usize = 64;

struct OpenSection {
    path: Path,
    inverted: bool,
    span: Span,
    children: Vec<Node>,
}

/// Compiles `source` into a node tree.
pub(crate) fn parse(source: &str) -> Result<Vec<Node>, TemplateError> {
    let mut root = Vec::new();
    let mut open: Vec<OpenSection> = Vec::new();
    for token in lexer::tokenize(source)? {
        let (kind, content, span, (open_delimiter, close_delimiter)) = match token {
            Token::Text { text, at } => {
                let siblings = open.last_mut().map_or(&mut root, |s| &mut s.children);
                siblings.push(Node::Text {
                    text: text.into(),
                    at,
                    json: tree::json_transitions(text),
                });
                continue;
            }
            Token::Tag {
                kind,
                content,
                span,
                delimiters,
            } => (kind, content, span, delimiters),
        };
        let fail = |message: String| TemplateError::at(source, span.start, message);
        let node = match kind {
            TagKind::Comment | TagKind::Delimiters => continue,
            TagKind::Partial => return Err(fail("partials are not supported".to_owned())),
            TagKind::Parent | TagKind::Block => {
                return Err(fail("template inheritance is not supported".to_owned()));
            }
            TagKind::At => Node::Var {
                path: uptrends::variable(content).map_err(fail)?,
                output: Output::Escaped,
                span,
            },
            TagKind::Call => {
                let (function, path) =
                    uptrends::call(content, open_delimiter, close_delimiter).map_err(fail)?;
                Node::Var {
                    path,
                    output: Output::Encoded(function),
                    span,
                }
            }
            TagKind::Escaped | TagKind::Raw => Node::Var {
                path: Path::parse(content).map_err(fail)?,
                output: if kind == TagKind::Raw {
                    Output::Raw
                } else {
                    Output::Escaped
                },
                span,
            },
            TagKind::Section | TagKind::Inverted => {
                if open.len() >= MAX_SECTION_DEPTH {
                    return Err(fail(format!(
                        "sections are nested more than {MAX_SECTION_DEPTH} deep"
                    )));
                }
                open.push(OpenSection {
                    path: Path::parse(content).map_err(fail)?,
                    inverted: kind == TagKind::Inverted,
                    span,
                    children: Vec::new(),
                });
                continue;
            }
            TagKind::Close => {
                let Some(section) = open.pop() else {
                    return Err(fail(format!(
                        "`{}` closes a section that was never opened",
                        tag_text(source, span)
                    )));
                };
                if *section.path.name != *content {
                    let (line, column) = super::error::line_column(source, section.span.start);
                    return Err(fail(format!(
                        "`{}` does not close `{}` (opened at line {line}, column {column})",
                        tag_text(source, span),
                        tag_text(source, section.span),
                    )));
                }
                Node::Section {
                    path: section.path,
                    inverted: section.inverted,
                    span: section.span,
                    children: section.children,
                }
            }
        };
        open.last_mut()
            .map_or(&mut root, |s| &mut s.children)
            .push(node);
    }
    match open.pop() {
        Some(section) => Err(TemplateError::at(
            source,
            section.span.start,
            format!("unclosed section `{}`", tag_text(source, section.span)),
        )),
        None => Ok(root),
    }
}

/// The tag as written in the source, shortened for messages.
pub(crate) fn tag_text(source: &str, span: Span) -> String {
    const MAX_CHARS: usize = 60;
    let text = source.get(span.start..span.end).unwrap_or_default();
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX_CHARS).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(source: &str) -> (usize, usize, String) {
        let e = parse(source).unwrap_err();
        (e.line, e.column, e.message)
    }

    #[test]
    fn sections_nest() {
        let nodes = parse("a{{#s}}b{{^t.u}}{{x}}{{/t.u}}{{/s}}").unwrap();
        assert_eq!(nodes.len(), 2);
        let Some(Node::Section {
            children,
            inverted: false,
            ..
        }) = nodes.get(1)
        else {
            panic!("expected a section: {nodes:?}");
        };
        let Some(Node::Section {
            path,
            inverted: true,
            children: inner,
            ..
        }) = children.get(1)
        else {
            panic!("expected an inverted section: {children:?}");
        };
        assert_eq!(&*path.name, "t.u");
        assert!(matches!(
            inner.first(),
            Some(Node::Var {
                output: Output::Escaped,
                ..
            })
        ));
    }

    #[test]
    fn structural_errors_have_positions() {
        assert_eq!(
            err("{{#a}}\n  {{/b}}"),
            (
                2,
                3,
                "`{{/b}}` does not close `{{#a}}` (opened at line 1, column 1)".into()
            )
        );
        assert_eq!(
            err("x {{/a}}"),
            (
                1,
                3,
                "`{{/a}}` closes a section that was never opened".into()
            )
        );
        assert_eq!(
            err("ok\n {{#a}}{{#b}}{{/b}}"),
            (2, 2, "unclosed section `{{#a}}`".into())
        );
        assert_eq!(err("{{ }}"), (1, 1, "empty tag name".into()));
        assert_eq!(err("{{#}}{{/}}"), (1, 1, "empty tag name".into()));
        assert_eq!(err("{{{}}}"), (1, 1, "empty tag name".into()));
        assert_eq!(
            err("\n{{> footer}}"),
            (2, 1, "partials are not supported".into())
        );
        assert_eq!(
            err("  {{@ }}"),
            (1, 3, "empty variable name after `@`".into())
        );
        assert_eq!(
            err("x\n  {{@Encode({{@alert.type}})}}"),
            (
                2,
                3,
                "unknown function `@Encode` (the functions are `@JsonEncode`, `@UrlEncode`, `@XmlEncode`, `@SlackEncode`)"
                    .into()
            )
        );
        assert_eq!(
            err("{{<p}}{{/p}}"),
            (1, 1, "template inheritance is not supported".into())
        );
        assert_eq!(
            err("{{a b}}"),
            (
                1,
                1,
                "invalid name `a b`: names cannot contain spaces".into()
            )
        );
        assert_eq!(
            err("{{a..b}}"),
            (1, 1, "invalid name `a..b`: empty part between dots".into())
        );
    }

    #[test]
    fn uptrends_tags_are_variables() {
        let nodes =
            parse("{{@alert.type}}{{{@incident.key}}}{{@UrlEncode({{alert_title}})}}").unwrap();
        let vars: Vec<(&str, Output)> = nodes
            .iter()
            .filter_map(|node| match node {
                Node::Var { path, output, .. } => Some((&*path.name, *output)),
                _ => None,
            })
            .collect();
        assert_eq!(
            vars,
            [
                ("@alert.type", Output::Escaped),
                ("@incident.key", Output::Raw),
                ("alert_title", Output::Encoded(uptrends::Function::Url))
            ]
        );
        let nodes = parse("{{#@alert.type}}x{{/@alert.type}}").unwrap();
        assert!(
            matches!(nodes.first(), Some(Node::Section { path, .. }) if &*path.name == "@alert.type")
        );
    }

    #[test]
    fn nesting_is_limited() {
        let ok = "{{#a}}".repeat(MAX_SECTION_DEPTH) + &"{{/a}}".repeat(MAX_SECTION_DEPTH);
        assert!(parse(&ok).is_ok());
        let deep = "{{#a}}".repeat(MAX_SECTION_DEPTH + 1);
        let (line, column, message) = err(&deep);
        assert_eq!((line, column), (1, 6 * MAX_SECTION_DEPTH + 1));
        assert_eq!(message, "sections are nested more than 64 deep");
        // Far deeper input is rejected the same way, without recursion.
        assert!(parse(&"{{#a}}".repeat(100_000)).is_err());
    }

    #[test]
    fn long_tags_are_shortened_in_messages() {
        let source = format!("{{{{/{}}}}}", "x".repeat(200));
        let message = err(&source).2;
        assert!(message.len() < 120, "{message}");
        assert!(message.contains('…'));
    }
}
