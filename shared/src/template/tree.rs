//! The compiled node tree: text runs, interpolations and sections with pre-split dotted names.

use super::uptrends::Function;

/// A variable name as written in a tag, split on dots once at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    /// The name as written (trimmed), for messages and for matching `{{/name}}`.
    pub name: Box<str>,
    /// Dotted segments; empty for the implicit iterator `.`.
    pub segments: Box<[Box<str>]>,
}

impl Path {
    /// Parses a tag name: `.` or dot-separated non-empty segments without whitespace or control characters.
    /// An Uptrends name (`@alert.description`) is one segment, looked up as it is written.
    pub fn parse(name: &str) -> Result<Path, String> {
        if name.is_empty() {
            return Err("empty tag name".to_owned());
        }
        if name == "." {
            return Ok(Path {
                name: name.into(),
                segments: Box::default(),
            });
        }
        if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "invalid name `{name}`: names cannot contain spaces"
            ));
        }
        let segments: Box<[Box<str>]> = name.split('.').map(Box::from).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(format!("invalid name `{name}`: empty part between dots"));
        }
        if name == "@" {
            return Err("empty variable name after `@`".to_owned());
        }
        if name.starts_with('@') {
            return Ok(Path {
                name: name.into(),
                segments: Box::new([name.into()]),
            });
        }
        Ok(Path {
            name: name.into(),
            segments,
        })
    }

    /// The first dotted segment, or `None` for the implicit iterator.
    pub fn head(&self) -> Option<&str> {
        self.segments.first().map(|s| &**s)
    }
}

/// Where a tag sits in the template source (byte offsets of its opening and after its closing delimiter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
}

/// JSON lexical state of the output, tracked so that JSON values interpolated outside strings stay JSON.
pub(crate) type JsonState = u8;
pub(crate) const JSON_OUTSIDE: JsonState = 0;
pub(crate) const JSON_IN_STRING: JsonState = 1;
pub(crate) const JSON_AFTER_BACKSLASH: JsonState = 2;

/// The JSON lexical state after `text`, for each state before it.
pub(crate) fn json_transitions(text: &str) -> [JsonState; 3] {
    [JSON_OUTSIDE, JSON_IN_STRING, JSON_AFTER_BACKSLASH].map(|state| json_state_after(state, text))
}

/// Runs the JSON string/escape state machine over `text`.
pub(crate) fn json_state_after(mut state: JsonState, text: &str) -> JsonState {
    for b in text.bytes() {
        state = match (state, b) {
            (JSON_OUTSIDE, b'"') => JSON_IN_STRING,
            (JSON_OUTSIDE, _) => JSON_OUTSIDE,
            (JSON_IN_STRING, b'"') => JSON_OUTSIDE,
            (JSON_IN_STRING, b'\\') => JSON_AFTER_BACKSLASH,
            _ => JSON_IN_STRING,
        };
    }
    state
}

/// How an interpolated value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// Escaped for the template's context.
    Escaped,
    /// As it is.
    Raw,
    /// Encoded by an Uptrends function, then escaped for the context unless the function is its own escaping.
    Encoded(Function),
}

/// One node of a compiled template.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Literal text, copied from source offset `at`.
    Text {
        text: Box<str>,
        at: usize,
        json: [JsonState; 3],
    },
    /// `{{name}}` or `{{@name}}` (escaped for the template), `{{{name}}}` / `{{& name}}` (raw), or
    /// `{{@JsonEncode(…)}}`-style (encoded by the function).
    Var {
        path: Path,
        output: Output,
        span: Span,
    },
    /// `{{#name}}…{{/name}}`, or `{{^name}}…{{/name}}` when inverted.
    Section {
        path: Path,
        inverted: bool,
        span: Span,
        children: Vec<Node>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_on_dots() {
        let p = Path::parse("a.b.c").unwrap();
        assert_eq!(p.segments.len(), 3);
        assert_eq!(p.head(), Some("a"));
        let at = Path::parse("@alert.description").unwrap();
        assert_eq!(at.head(), Some("@alert.description"));
        let dot = Path::parse(".").unwrap();
        assert!(dot.segments.is_empty());
        assert_eq!(dot.head(), None);
    }

    #[test]
    fn bad_paths_are_rejected() {
        for bad in [
            "", "a..b", ".a", "a.", "a b", "..", "a\u{0}", "@a b", "@a.", "@",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn json_state_follows_strings_and_escapes() {
        assert_eq!(json_transitions(r#"{"a": ""#), [1, 0, 0]);
        assert_eq!(json_transitions(r#"\"x"#), [1, 1, 0]);
        assert_eq!(json_transitions(""), [0, 1, 2]);
        assert_eq!(json_state_after(JSON_IN_STRING, "\\"), JSON_AFTER_BACKSLASH);
    }
}
