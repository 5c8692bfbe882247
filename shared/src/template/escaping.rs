//! Escaping of interpolated values for the place the rendered output lands (JSON string, URL, form, XML).

use std::fmt;

/// How interpolated values are escaped, chosen per template from where the output lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Content of a JSON string: `"`, `\`, control characters, U+2028 and U+2029 are escaped.
    Json,
    /// A URL component: everything but RFC 3986 unreserved characters is percent-encoded.
    Url,
    /// `application/x-www-form-urlencoded`: like `Url`, but a space becomes `+` and `*` is kept.
    Form,
    /// XML or HTML text and attribute values: `& < > " '` become entities, characters illegal in XML 1.0 are dropped.
    Xml,
    /// Values are inserted as they are.
    Plain,
}

impl Escaping {
    /// From a Content-Type: contains "json" → Json; "application/x-www-form-urlencoded" → Form;
    /// contains "xml" or "html" → Xml; anything else → Plain. Case-insensitive, parameters ignored.
    pub fn for_content_type(content_type: &str) -> Escaping {
        let media_type = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media_type.contains("json") {
            Escaping::Json
        } else if media_type == "application/x-www-form-urlencoded" {
            Escaping::Form
        } else if media_type.contains("xml") || media_type.contains("html") {
            Escaping::Xml
        } else {
            Escaping::Plain
        }
    }

    /// Appends `value` to `out`, escaped for this context.
    #[inline]
    pub fn escape_into(self, out: &mut String, value: &str) {
        match self {
            Escaping::Json => escape_json(out, value),
            Escaping::Url => escape_percent(out, value, &URL_KEEP, false),
            Escaping::Form => escape_percent(out, value, &FORM_KEEP, true),
            Escaping::Xml => escape_xml(out, value),
            Escaping::Plain => out.push_str(value),
        }
    }
}

/// A `fmt::Write` that escapes everything written through it, so values can be formatted straight into the output.
pub(crate) struct EscapingWriter<'o> {
    pub out: &'o mut String,
    pub escaping: Escaping,
}

impl fmt::Write for EscapingWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.escaping.escape_into(self.out, s);
        Ok(())
    }
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Bytes that end a clean run in JSON string content. 0xE2 may start U+2028/U+2029.
static JSON_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0xE2] = true;
    table
};

/// Bytes kept by Uptrends' `@UrlEncode` (as .NET's `HttpUtility.UrlEncode` did): letters, digits, `-_.!*'()`.
static UPTRENDS_URL_KEEP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'_' | b'.' | b'!' | b'*' | b'\'' | b'(' | b')');
        b += 1;
    }
    table
};

/// Bytes kept as they are in a URL component (RFC 3986 unreserved).
static URL_KEEP: [bool; 256] = unreserved(false);
/// Bytes kept as they are in a form value (unreserved and `*`).
static FORM_KEEP: [bool; 256] = unreserved(true);

const fn unreserved(keep_star: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_' || c == b'~';
        b += 1;
    }
    table[b'*' as usize] = keep_star;
    table
}

/// Bytes that end a clean run in XML: markup characters, C0 controls, and 0xEF (may start U+FFFE/U+FFFF).
static XML_SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = !(b == 0x09 || b == 0x0A || b == 0x0D);
        b += 1;
    }
    table[b'&' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'"' as usize] = true;
    table[b'\'' as usize] = true;
    table[0xEF] = true;
    table
};

fn push_run(out: &mut String, value: &str, from: usize, to: usize) {
    if let Some(run) = value.get(from..to) {
        out.push_str(run);
    }
}

fn hex(table: &[u8; 16], nibble: u8) -> char {
    char::from(table[usize::from(nibble & 0x0F)])
}

/// Bytes repeated in every lane of a word, for word-at-a-time scanning.
const fn lanes(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// Whether any byte of `word` is zero.
fn has_zero(word: u64) -> bool {
    word.wrapping_sub(lanes(1)) & !word & lanes(0x80) != 0
}

/// Whether any byte of `word` is below 0x20.
fn has_control(word: u64) -> bool {
    word.wrapping_sub(lanes(0x20)) & !word & lanes(0x80) != 0
}

fn json_word_is_clean(word: u64) -> bool {
    !(has_control(word)
        || has_zero(word ^ lanes(b'"'))
        || has_zero(word ^ lanes(b'\\'))
        || has_zero(word ^ lanes(0xE2)))
}

fn xml_word_is_clean(word: u64) -> bool {
    !(has_control(word)
        || has_zero(word ^ lanes(b'&'))
        || has_zero(word ^ lanes(b'<'))
        || has_zero(word ^ lanes(b'>'))
        || has_zero(word ^ lanes(b'"'))
        || has_zero(word ^ lanes(b'\''))
        || has_zero(word ^ lanes(0xEF)))
}

/// The index of the first byte at or after `from` flagged in `special`, or the length: whole 8-byte words
/// without any byte of interest (as told by `word_is_clean`) are skipped at once.
#[inline]
fn next_special(
    bytes: &[u8],
    from: usize,
    special: &[bool; 256],
    word_is_clean: impl Fn(u64) -> bool,
) -> usize {
    let mut i = from;
    while let Some(word) = bytes
        .get(i..i + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        if !word_is_clean(u64::from_le_bytes(word)) {
            break;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if special[usize::from(b)] {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

fn escape_json(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut run = 0;
    let mut i = next_special(bytes, 0, &JSON_SPECIAL, json_word_is_clean);
    while let Some(&b) = bytes.get(i) {
        let replacement = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0xE2 => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(0x80), Some(0xA8)) => "\\u2028",
                (Some(0x80), Some(0xA9)) => "\\u2029",
                _ => {
                    i = next_special(bytes, i + 1, &JSON_SPECIAL, json_word_is_clean);
                    continue;
                }
            },
            _ => "",
        };
        push_run(out, value, run, i);
        if replacement.is_empty() {
            out.push_str("\\u00");
            out.push(hex(HEX_LOWER, b >> 4));
            out.push(hex(HEX_LOWER, b));
            run = i + 1;
        } else {
            out.push_str(replacement);
            // U+2028/U+2029 are three bytes; their continuation bytes are never special.
            run = if b == 0xE2 { i + 3 } else { i + 1 };
        }
        i = next_special(bytes, run, &JSON_SPECIAL, json_word_is_clean);
    }
    push_run(out, value, run, bytes.len());
}

/// Uptrends' `@UrlEncode`: a space becomes `+`, letters, digits and `-_.!*'()` stay, every other byte is `%XX`
/// (so `Ben & Jerry's` becomes `Ben+%26+Jerry's`, as Uptrends documents).
pub(crate) fn escape_uptrends_url(out: &mut String, value: &str) {
    escape_percent(out, value, &UPTRENDS_URL_KEEP, true);
}

fn escape_percent(out: &mut String, value: &str, keep: &[bool; 256], space_as_plus: bool) {
    let bytes = value.as_bytes();
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if keep[usize::from(b)] {
            continue;
        }
        push_run(out, value, run, i);
        run = i + 1;
        if space_as_plus && b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(hex(HEX_UPPER, b >> 4));
            out.push(hex(HEX_UPPER, b));
        }
    }
    // Every byte not kept was encoded, so the remaining run is ASCII and ends on a char boundary.
    push_run(out, value, run, bytes.len());
}

/// Slack's mrkdwn escaping (<https://api.slack.com/reference/surfaces/formatting#escaping>): `&`, `<` and `>`
/// become `&amp;`, `&lt;` and `&gt;`, and nothing else is touched.
pub(crate) fn escape_slack(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn escape_xml(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut run = 0;
    let mut i = next_special(bytes, 0, &XML_SPECIAL, xml_word_is_clean);
    while let Some(&b) = bytes.get(i) {
        let (replacement, width) = match b {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' => ("&quot;", 1),
            b'\'' => ("&apos;", 1),
            // U+FFFE and U+FFFF are not XML characters: drop them.
            0xEF => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(0xBF), Some(0xBE | 0xBF)) => ("", 3),
                _ => {
                    i = next_special(bytes, i + 1, &XML_SPECIAL, xml_word_is_clean);
                    continue;
                }
            },
            // C0 controls other than tab, LF and CR are not XML characters: drop them.
            _ => ("", 1),
        };
        push_run(out, value, run, i);
        out.push_str(replacement);
        run = i + width;
        i = next_special(bytes, run, &XML_SPECIAL, xml_word_is_clean);
    }
    push_run(out, value, run, bytes.len());
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "a\"b\\c\nd</script>😀\u{2028}\u{2029}\0&<>' +%*~é\u{7}\u{FFFE}\u{FFFF}\t\r";

    fn esc(e: Escaping, s: &str) -> String {
        let mut out = String::new();
        e.escape_into(&mut out, s);
        out
    }

    #[test]
    fn json_escapes_string_content() {
        let got = esc(Escaping::Json, HOSTILE);
        assert_eq!(
            got,
            "a\\\"b\\\\c\\nd</script>😀\\u2028\\u2029\\u0000&<>' +%*~é\\u0007\u{FFFE}\u{FFFF}\\t\\r"
        );
        // Wrapped in quotes it is a JSON string that decodes back to the value.
        let decoded: String = serde_json::from_str(&format!("\"{got}\"")).unwrap();
        assert_eq!(decoded, HOSTILE);
        assert_eq!(
            esc(Escaping::Json, "\u{8}\u{c}\u{1f}\u{7f}"),
            "\\b\\f\\u001f\u{7f}"
        );
        // A lone 0xE2-led char that is not U+2028/9 stays as is.
        assert_eq!(esc(Escaping::Json, "→€\u{2027}"), "→€\u{2027}");
    }

    #[test]
    fn url_percent_encodes_all_but_unreserved() {
        assert_eq!(
            esc(Escaping::Url, HOSTILE),
            "a%22b%5Cc%0Ad%3C%2Fscript%3E%F0%9F%98%80%E2%80%A8%E2%80%A9%00%26%3C%3E%27%20%2B%25%2A~%C3%A9%07%EF%BF%BE%EF%BF%BF%09%0D"
        );
        assert_eq!(esc(Escaping::Url, "AZaz09-._~"), "AZaz09-._~");
    }

    #[test]
    fn form_uses_plus_for_space_and_keeps_star() {
        assert_eq!(
            esc(Escaping::Form, "a b+c*d%e&f=g~"),
            "a+b%2Bc*d%25e%26f%3Dg~"
        );
        assert_eq!(esc(Escaping::Form, "😀"), "%F0%9F%98%80");
    }

    #[test]
    fn uptrends_url_encoding_matches_its_documentation() {
        let mut out = String::new();
        escape_uptrends_url(&mut out, "Ben & Jerry's");
        assert_eq!(out, "Ben+%26+Jerry's");
        out.clear();
        escape_uptrends_url(&mut out, HOSTILE);
        assert_eq!(
            out,
            "a%22b%5Cc%0Ad%3C%2Fscript%3E%F0%9F%98%80%E2%80%A8%E2%80%A9%00%26%3C%3E'+%2B%25*%7E%C3%A9%07%EF%BF%BE%EF%BF%BF%09%0D"
        );
        // A form or query decoder gets the value back.
        let decoded: String = url::form_urlencoded::parse(format!("v={out}").as_bytes())
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(decoded, HOSTILE);
        out.clear();
        escape_uptrends_url(&mut out, "AZaz09-_.!*'()");
        assert_eq!(out, "AZaz09-_.!*'()");
    }

    #[test]
    fn xml_uses_entities_and_drops_illegal_characters() {
        assert_eq!(
            esc(Escaping::Xml, HOSTILE),
            "a&quot;b\\c\nd&lt;/script&gt;😀\u{2028}\u{2029}&amp;&lt;&gt;&apos; +%*~é\t\r"
        );
        assert_eq!(esc(Escaping::Xml, "\u{FFFD}\u{FFFE}x"), "\u{FFFD}x");
    }

    #[test]
    fn word_scanning_matches_byte_scanning() {
        // Every special byte at every position of a 20-byte clean string, for both word scanners.
        for special in [
            0u8, 0x1F, b'"', b'\\', b'&', b'<', b'>', b'\'', 0x7F, 0x80, 0xFF,
        ] {
            for at in 0..20 {
                let mut bytes = vec![b'a'; 20];
                bytes[at] = special;
                for (table, clean) in [
                    (&JSON_SPECIAL, json_word_is_clean as fn(u64) -> bool),
                    (&XML_SPECIAL, xml_word_is_clean as fn(u64) -> bool),
                ] {
                    let expected = bytes
                        .iter()
                        .position(|&b| table[usize::from(b)])
                        .unwrap_or(20);
                    assert_eq!(
                        next_special(&bytes, 0, table, clean),
                        expected,
                        "{special:#x} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn long_values_escape_like_short_ones() {
        let long = HOSTILE.repeat(7) + "tail without specials at all";
        for e in [Escaping::Json, Escaping::Xml] {
            assert_eq!(
                esc(e, &long),
                esc(e, HOSTILE).repeat(7) + "tail without specials at all"
            );
        }
    }

    #[test]
    fn plain_keeps_everything() {
        assert_eq!(esc(Escaping::Plain, HOSTILE), HOSTILE);
    }

    #[test]
    fn content_types_choose_escaping() {
        assert_eq!(
            Escaping::for_content_type("application/json"),
            Escaping::Json
        );
        assert_eq!(
            Escaping::for_content_type(" Application/Vnd.Api+JSON; charset=utf-8"),
            Escaping::Json
        );
        assert_eq!(
            Escaping::for_content_type("application/x-www-form-urlencoded; charset=UTF-8"),
            Escaping::Form
        );
        assert_eq!(Escaping::for_content_type("text/xml"), Escaping::Xml);
        assert_eq!(
            Escaping::for_content_type("application/soap+xml"),
            Escaping::Xml
        );
        assert_eq!(Escaping::for_content_type("TEXT/HTML"), Escaping::Xml);
        assert_eq!(Escaping::for_content_type("text/plain"), Escaping::Plain);
        assert_eq!(Escaping::for_content_type(""), Escaping::Plain);
        assert_eq!(
            Escaping::for_content_type("text/plain; note=json"),
            Escaping::Plain
        );
    }

    #[test]
    fn escaping_writer_streams_formatted_values() {
        use std::fmt::Write;
        let mut out = String::new();
        let value = serde_json::json!({"k": "a\"b"});
        write!(
            EscapingWriter {
                out: &mut out,
                escaping: Escaping::Json
            },
            "{value}"
        )
        .unwrap();
        assert_eq!(out, "{\\\"k\\\":\\\"a\\\\\\\"b\\\"}");
    }
}
