//! Errors of the template engine, and turning byte offsets in a template into line/column positions.

/// A problem found in a template, located in its source (1-based line and column, columns counted in chars).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct TemplateError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl TemplateError {
    /// An error located at byte `offset` of `source` (clamped to the source, rounded down to a char boundary).
    pub(crate) fn at(source: &str, offset: usize, message: impl Into<String>) -> TemplateError {
        let (line, column) = line_column(source, offset);
        TemplateError {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Why a render did not produce output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("the rendered output exceeds {limit} bytes")]
    TooLarge { limit: usize },
    /// Nested sections over long lists would take too long, even when they produce little output.
    #[error("rendering needs more than {limit} steps (nested sections over long lists)")]
    TooManySteps { limit: usize },
}

/// 1-based line and column (in chars) of byte `offset` in `source`.
pub(crate) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset = offset.saturating_sub(1);
    }
    let before = source.get(..offset).unwrap_or_default();
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_chars() {
        let src = "ab\né€x\r\nyz";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 2), (1, 3));
        assert_eq!(line_column(src, 3), (2, 1));
        // "é€" is 5 bytes, 2 chars.
        assert_eq!(line_column(src, 8), (2, 3));
        assert_eq!(line_column(src, 11), (3, 1));
    }

    #[test]
    fn positions_never_panic_on_bad_offsets() {
        let src = "é€";
        assert_eq!(line_column(src, 1), (1, 1));
        assert_eq!(line_column(src, 4), (1, 2));
        assert_eq!(line_column(src, 999), (1, 3));
        assert_eq!(line_column("", 5), (1, 1));
    }

    #[test]
    fn display_names_the_position() {
        let e = TemplateError::at("x\n  {{", 4, "unclosed tag");
        assert_eq!(e.to_string(), "line 2, column 3: unclosed tag");
    }
}
