//! Lexer: splits template source into text runs and tags, applying delimiter changes and standalone-line rules.

use super::error::TemplateError;
use super::tree::Span;
use super::uptrends;

/// What a tag does, from the sigil after its opening delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// `{{name}}`
    Escaped,
    /// `{{{name}}}` or `{{& name}}`
    Raw,
    /// `{{#name}}`
    Section,
    /// `{{^name}}`
    Inverted,
    /// `{{/name}}`
    Close,
    /// `{{! … }}`
    Comment,
    /// `{{=<% %>=}}`
    Delimiters,
    /// `{{> name}}`
    Partial,
    /// `{{< name}}` (template inheritance)
    Parent,
    /// `{{$ name}}` (template inheritance)
    Block,
    /// `{{@name}}`: an Uptrends variable.
    At,
    /// `{{@Function(…)}}`: an Uptrends function call; the content is `Function(…)`, inner tags included.
    Call,
}

impl TagKind {
    fn from_sigil(sigil: char) -> Option<TagKind> {
        Some(match sigil {
            '#' => TagKind::Section,
            '^' => TagKind::Inverted,
            '/' => TagKind::Close,
            '!' => TagKind::Comment,
            '=' => TagKind::Delimiters,
            '&' => TagKind::Raw,
            '>' => TagKind::Partial,
            '<' => TagKind::Parent,
            '$' => TagKind::Block,
            '@' => TagKind::At,
            _ => return None,
        })
    }

    /// Whether a tag of this kind alone on its line removes the line (Mustache "standalone" rule).
    fn may_stand_alone(self) -> bool {
        !matches!(
            self,
            TagKind::Escaped | TagKind::Raw | TagKind::At | TagKind::Call
        )
    }
}

/// One lexical unit of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'s> {
    /// Literal text starting at source byte `at`.
    Text { text: &'s str, at: usize },
    /// A tag; `content` is what stands between the sigil and the closing delimiter, trimmed; `delimiters` are
    /// the opening and closing delimiters in force (a call's argument may be written as a tag).
    Tag {
        kind: TagKind,
        content: &'s str,
        span: Span,
        delimiters: (&'s str, &'s str),
    },
}

/// Splits `source` into tokens.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token<'_>>, TemplateError> {
    let mut tokens = Vec::new();
    let mut open: &str = "{{";
    let mut close: &str = "}}";
    let mut cursor = 0;
    let mut at_line_start = true;
    loop {
        let rest = source.get(cursor..).unwrap_or_default();
        let Some(found) = rest.find(open) else {
            if !rest.is_empty() {
                tokens.push(Token::Text {
                    text: rest,
                    at: cursor,
                });
            }
            return Ok(tokens);
        };
        let start = cursor + found;
        let mut text = rest.get(..found).unwrap_or_default();
        let (kind, content, end) = read_tag(source, start, open, close)?;
        let mut next = end;
        let mut next_at_line_start = false;
        let alone = if kind.may_stand_alone() {
            standalone(source, text, at_line_start, end)
        } else {
            None
        };
        if let Some((keep, skip)) = alone {
            text = text.get(..keep).unwrap_or(text);
            next = end + skip;
            next_at_line_start = true;
        }
        if !text.is_empty() {
            tokens.push(Token::Text { text, at: cursor });
        }
        let in_force = (open, close);
        if kind == TagKind::Delimiters {
            (open, close) = new_delimiters(source, start, content)?;
        }
        tokens.push(Token::Tag {
            kind,
            content: content.trim(),
            span: Span { start, end },
            delimiters: in_force,
        });
        cursor = next;
        at_line_start = next_at_line_start;
    }
}

/// Reads the tag whose opening delimiter is at `start`: its kind, raw content and end offset.
fn read_tag<'s>(
    source: &'s str,
    start: usize,
    open: &str,
    close: &str,
) -> Result<(TagKind, &'s str, usize), TemplateError> {
    let after_open = start + open.len();
    let inner = source.get(after_open..).unwrap_or_default();
    let (kind, body_start, closer) = if inner.starts_with('{') {
        let mut closer = String::from("}");
        closer.push_str(close);
        (TagKind::Raw, after_open + 1, closer)
    } else {
        let trimmed = inner.trim_start();
        let sigil = trimmed.chars().next().and_then(TagKind::from_sigil);
        match sigil {
            // Every sigil is one ASCII byte.
            Some(kind) => (
                kind,
                after_open + (inner.len() - trimmed.len()) + 1,
                close.to_owned(),
            ),
            None => (TagKind::Escaped, after_open, close.to_owned()),
        }
    };
    let body = source.get(body_start..).unwrap_or_default();
    if kind == TagKind::At {
        let call = body.trim_start();
        if let Some(opening) = uptrends::call_opening(call) {
            let call_start = body_start + (body.len() - call.len());
            let after_paren = call.get(opening..).unwrap_or_default();
            let Some((paren, through_close)) = uptrends::call_end(after_paren, close) else {
                let name = call.get(..opening).unwrap_or_default();
                return Err(TemplateError::at(
                    source,
                    start,
                    format!("unclosed function: `{open}@{name}` has no matching `){close}`"),
                ));
            };
            let content = call.get(..opening + paren + 1).unwrap_or_default();
            return Ok((TagKind::Call, content, call_start + opening + through_close));
        }
    }
    let Some(length) = body.find(&closer) else {
        let opener = if closer.len() > close.len() {
            format!("{open}{{")
        } else {
            open.to_owned()
        };
        return Err(TemplateError::at(
            source,
            start,
            format!("unclosed tag: `{opener}` has no matching `{closer}`"),
        ));
    };
    let content = body.get(..length).unwrap_or_default();
    Ok((kind, content, body_start + length + closer.len()))
}

/// If a tag preceded by `text` and ending at `end` stands alone on its line, returns how much of `text` to keep
/// (up to the start of the line) and how many bytes after the tag to skip (trailing blanks and the newline).
fn standalone(source: &str, text: &str, at_line_start: bool, end: usize) -> Option<(usize, usize)> {
    let (line_start, indent) = match text.rfind('\n') {
        Some(newline) => (newline + 1, text.get(newline + 1..)?),
        None if at_line_start => (0, text),
        None => return None,
    };
    if !indent.bytes().all(is_blank) {
        return None;
    }
    let after = source.get(end..)?;
    let blanks = after.bytes().take_while(|&b| is_blank(b)).count();
    let tail = after.get(blanks..)?;
    let newline = if tail.is_empty() {
        0
    } else if tail.starts_with("\r\n") {
        2
    } else if tail.starts_with('\n') {
        1
    } else {
        return None;
    };
    Some((line_start, blanks + newline))
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses the content of `{{=<open> <close>=}}` (after the first `=`).
fn new_delimiters<'s>(
    source: &str,
    start: usize,
    content: &'s str,
) -> Result<(&'s str, &'s str), TemplateError> {
    let invalid = || {
        TemplateError::at(
            source,
            start,
            "invalid delimiter tag: write it like `{{=<% %>=}}` (two delimiters without spaces or `=`)",
        )
    };
    let inner = content.trim_end().strip_suffix('=').ok_or_else(invalid)?;
    let mut parts = inner.split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some(open), Some(close), None) if !open.contains('=') && !close.contains('=') => {
            Ok((open, close))
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<String> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|t| match t {
                Token::Text { text, .. } => format!("T({text})"),
                Token::Tag { kind, content, .. } => format!("{kind:?}({content})"),
            })
            .collect()
    }

    #[test]
    fn sigils_and_padding() {
        assert_eq!(
            kinds("a{{ x }}{{{y}}}{{& z}}{{#s}}{{^i}}{{/s}}{{! c }}{{>p}}{{@f(x)}}"),
            [
                "T(a)",
                "Escaped(x)",
                "Raw(y)",
                "Raw(z)",
                "Section(s)",
                "Inverted(i)",
                "Close(s)",
                "Comment(c)",
                "Partial(p)",
                "Call(f(x))"
            ]
        );
        assert_eq!(kinds("{{ # s }}{{ @x }}"), ["Section(s)", "At(x)"]);
    }

    #[test]
    fn uptrends_calls_span_their_inner_tags() {
        assert_eq!(
            kinds(r#"{"n": "{{@JsonEncode({{@monitor.notes}})}}", "t": "{{@alert.type}}"}"#),
            [
                r#"T({"n": ")"#,
                "Call(JsonEncode({{@monitor.notes}}))",
                r#"T(", "t": ")"#,
                "At(alert.type)",
                r#"T("})"#
            ]
        );
        assert_eq!(
            kinds("{{ @UrlEncode( @x ) }}{{@XmlEncode(y)}}\n"),
            ["Call(UrlEncode( @x ))", "Call(XmlEncode(y))", "T(\n)"]
        );
        // Calls never stand alone, and follow changed delimiters.
        assert_eq!(
            kinds("{{=<% %>=}}\n<%@JsonEncode(<%@x%>)%>\n"),
            ["Delimiters(<% %>=)", "Call(JsonEncode(<%@x%>))", "T(\n)"]
        );
        let err = tokenize("a\n {{@JsonEncode({{@x}}}").unwrap_err();
        assert_eq!((err.line, err.column), (2, 2));
        assert_eq!(
            err.message,
            "unclosed function: `{{@JsonEncode(` has no matching `)}}`"
        );
    }

    #[test]
    fn standalone_lines_are_removed() {
        assert_eq!(
            kinds("a\n  {{#s}}  \nb\n{{/s}}"),
            ["T(a\n)", "Section(s)", "T(b\n)", "Close(s)"]
        );
        assert_eq!(
            kinds("a\r\n{{! c }}\r\nb"),
            ["T(a\r\n)", "Comment(c)", "T(b)"]
        );
        // Another tag on the line: not standalone.
        assert_eq!(
            kinds(" {{x}} {{#s}}\n"),
            ["T( )", "Escaped(x)", "T( )", "Section(s)", "T(\n)"]
        );
        // Interpolations never stand alone.
        assert_eq!(kinds("  {{x}}\n"), ["T(  )", "Escaped(x)", "T(\n)"]);
    }

    #[test]
    fn delimiters_change() {
        assert_eq!(
            kinds("{{=<% %>=}}<%x%>{{y}}<%={{ }}=%>{{z}}"),
            [
                "Delimiters(<% %>=)",
                "Escaped(x)",
                "T({{y}})",
                "Delimiters({{ }}=)",
                "Escaped(z)"
            ]
        );
        assert_eq!(kinds("<%{x}%>"), ["T(<%{x}%>)"]);
        assert_eq!(
            kinds("{{=<% %>=}}<%{x}%>"),
            ["Delimiters(<% %>=)", "Raw(x)"]
        );
    }

    #[test]
    fn bad_delimiters_are_errors() {
        for bad in [
            "{{=<%=}}",
            "{{=a b c=}}",
            "{{=<% %>}}",
            "{{==a b==}}",
            "{{= =}}",
        ] {
            let err = tokenize(bad).unwrap_err();
            assert_eq!((err.line, err.column), (1, 1), "{bad}");
            assert!(err.message.starts_with("invalid delimiter tag"), "{bad}");
        }
    }

    #[test]
    fn unclosed_tags_point_at_the_opening() {
        let err = tokenize("{\n\"a\": 1,\n    {{title\n}").unwrap_err();
        assert_eq!((err.line, err.column), (3, 5));
        assert_eq!(err.message, "unclosed tag: `{{` has no matching `}}`");
        let err = tokenize("é {{{x}}").unwrap_err();
        assert_eq!((err.line, err.column), (1, 3));
        assert_eq!(err.message, "unclosed tag: `{{{` has no matching `}}}`");
    }
}
