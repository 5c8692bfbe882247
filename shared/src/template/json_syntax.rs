//! A strict JSON (RFC 8259) syntax validator that reports the byte offset where the text stops being JSON.

/// Where and why a text is not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Byte offset of the offending byte; the text length when the text ends too early.
    pub offset: usize,
    pub message: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value (at the top, after `:` or after `,` in an array).
    Value,
    /// A value or `]` (right after `[`).
    ValueOrEnd,
    /// A key or `}` (right after `{`).
    KeyOrEnd,
    /// A key (after `,` in an object).
    Key,
    Colon,
    /// `,` or the end of the enclosing container (or of the text at the top).
    CommaOrEnd,
}

/// Checks that `text` is exactly one JSON value, surrounded by optional whitespace. Iterative: nesting depth
/// costs heap, not stack.
pub(crate) fn validate(text: &str) -> Result<(), SyntaxError> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Container> = Vec::new();
    let mut expect = Expect::Value;
    let mut i = 0;
    loop {
        while matches!(bytes.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            i += 1;
        }
        let fail = |message| Err(SyntaxError { offset: i, message });
        let byte = bytes.get(i).copied();
        match expect {
            Expect::Value | Expect::ValueOrEnd => match byte {
                None => return fail("the body ends where a value is expected"),
                Some(b']') if expect == Expect::ValueOrEnd => {
                    stack.pop();
                    i += 1;
                    expect = Expect::CommaOrEnd;
                }
                Some(b']') if stack.last() == Some(&Container::Array) => {
                    return fail("trailing comma before `]`");
                }
                Some(b'{') => {
                    stack.push(Container::Object);
                    i += 1;
                    expect = Expect::KeyOrEnd;
                }
                Some(b'[') => {
                    stack.push(Container::Array);
                    i += 1;
                    expect = Expect::ValueOrEnd;
                }
                Some(b'"') => {
                    i = string(bytes, i)?;
                    expect = Expect::CommaOrEnd;
                }
                Some(b'-' | b'0'..=b'9') => {
                    i = number(bytes, i)?;
                    expect = Expect::CommaOrEnd;
                }
                Some(b't' | b'f' | b'n') => {
                    let literal: &[u8] = match byte {
                        Some(b't') => b"true",
                        Some(b'f') => b"false",
                        _ => b"null",
                    };
                    if !bytes.get(i..).is_some_and(|rest| rest.starts_with(literal)) {
                        return fail("expected value");
                    }
                    i += literal.len();
                    expect = Expect::CommaOrEnd;
                }
                Some(_) => return fail("expected value"),
            },
            Expect::KeyOrEnd | Expect::Key => match byte {
                None => return fail("the body ends inside an object"),
                Some(b'}') if expect == Expect::KeyOrEnd => {
                    stack.pop();
                    i += 1;
                    expect = Expect::CommaOrEnd;
                }
                Some(b'}') => return fail("trailing comma before `}`"),
                Some(b'"') => {
                    i = string(bytes, i)?;
                    expect = Expect::Colon;
                }
                Some(_) => return fail("key must be a string"),
            },
            Expect::Colon => match byte {
                None => return fail("the body ends inside an object"),
                Some(b':') => {
                    i += 1;
                    expect = Expect::Value;
                }
                Some(_) => return fail("expected `:`"),
            },
            Expect::CommaOrEnd => match (stack.last(), byte) {
                (None, None) => return Ok(()),
                (None, Some(_)) => return fail("trailing characters after the JSON value"),
                (Some(Container::Object), None) => return fail("the body ends inside an object"),
                (Some(Container::Array), None) => return fail("the body ends inside a list"),
                (Some(Container::Object), Some(b',')) => {
                    i += 1;
                    expect = Expect::Key;
                }
                (Some(Container::Array), Some(b',')) => {
                    i += 1;
                    expect = Expect::Value;
                }
                (Some(Container::Object), Some(b'}')) | (Some(Container::Array), Some(b']')) => {
                    stack.pop();
                    i += 1;
                }
                (Some(Container::Object), Some(_)) => return fail("expected `,` or `}`"),
                (Some(Container::Array), Some(_)) => return fail("expected `,` or `]`"),
            },
        }
    }
}

/// Validates the string starting with the quote at `start`; returns the offset after its closing quote.
fn string(bytes: &[u8], start: usize) -> Result<usize, SyntaxError> {
    let mut i = start + 1;
    loop {
        let fail = |offset, message| Err(SyntaxError { offset, message });
        match bytes.get(i) {
            None => return fail(i, "the body ends inside a string"),
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => match bytes.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    let hex = bytes.get(i + 2..i + 6);
                    if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                        return fail(i, "invalid `\\u` escape in a string");
                    }
                    i += 6;
                }
                None => return fail(i + 1, "the body ends inside a string"),
                Some(_) => return fail(i, "invalid escape in a string"),
            },
            Some(&b) if b < 0x20 => {
                return fail(i, "control character (such as a newline) inside a string");
            }
            Some(_) => i += 1,
        }
    }
}

/// Validates the number starting at `start`; returns the offset after it.
fn number(bytes: &[u8], start: usize) -> Result<usize, SyntaxError> {
    let digits = |from: usize| {
        bytes.get(from..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let fail = |offset| {
        Err(SyntaxError {
            offset,
            message: "invalid number",
        })
    };
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return fail(i),
    }
    if bytes.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return fail(i + 1);
        }
        i += 1 + n;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return fail(i);
        }
        i += n;
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, &'static str) {
        let e = validate(text).unwrap_err();
        (e.offset, e.message)
    }

    #[test]
    fn accepts_json() {
        for ok in [
            "{}",
            "[]",
            " 0 ",
            "-0.5e+10",
            "1E-2",
            "\"\"",
            "true",
            "null",
            "false",
            r#"{"a": [1, {"b": null}, "c\"\\\/\b\f\n\r\t\u00e9"], "d": {}}"#,
            "[[[[[]]]]]",
            "\"é😀\u{2028}\"",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_with_offsets() {
        assert_eq!(err(""), (0, "the body ends where a value is expected"));
        assert_eq!(err(r#"{"x": Disk}"#), (6, "expected value"));
        assert_eq!(err(r#"{"x": 1 "y"}"#), (8, "expected `,` or `}`"));
        assert_eq!(err("[1 2]"), (3, "expected `,` or `]`"));
        assert_eq!(err("[1,]"), (3, "trailing comma before `]`"));
        assert_eq!(err(r#"{"a":1,}"#), (7, "trailing comma before `}`"));
        assert_eq!(err("{a:1}"), (1, "key must be a string"));
        assert_eq!(err(r#"{"a" 1}"#), (5, "expected `:`"));
        assert_eq!(
            err("\"a\nb\""),
            (2, "control character (such as a newline) inside a string")
        );
        assert_eq!(err(r#""\x""#), (1, "invalid escape in a string"));
        assert_eq!(err(r#""\u12G4""#), (1, "invalid `\\u` escape in a string"));
        assert_eq!(err("\"abc"), (4, "the body ends inside a string"));
        assert_eq!(err("\"abc\\"), (5, "the body ends inside a string"));
        assert_eq!(err("{\"a\": 1"), (7, "the body ends inside an object"));
        assert_eq!(err("[1"), (2, "the body ends inside a list"));
        assert_eq!(err("01"), (1, "trailing characters after the JSON value"));
        assert_eq!(err("-"), (1, "invalid number"));
        assert_eq!(err("1."), (2, "invalid number"));
        assert_eq!(err("1e"), (2, "invalid number"));
        assert_eq!(err("tru"), (0, "expected value"));
        assert_eq!(
            err("{} {}"),
            (3, "trailing characters after the JSON value")
        );
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let deep = "[".repeat(1_000_000) + &"]".repeat(1_000_000);
        assert_eq!(validate(&deep), Ok(()));
    }

    #[test]
    fn agrees_with_serde_json_on_generated_inputs() {
        // Small deterministic generator over JSON-ish fragments.
        let pieces = [
            "{", "}", "[", "]", "\"a\"", ":", ",", "1", "-", ".5", "e3", " ", "true", "nul",
            "\"\\", "0",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 9) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let ours = validate(&text).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }
}
