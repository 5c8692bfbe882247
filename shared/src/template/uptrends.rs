//! The Uptrends front syntax: `{{@name}}` variables and the `{{@JsonEncode(…)}}`, `{{@UrlEncode(…)}}` and
//! `{{@XmlEncode(…)}}` functions, read into the same nodes as Mustache tags; and one function of ours in
//! the same form, `{{@SlackEncode(…)}}`, for Slack's mrkdwn text.
//!
//! A function takes one variable, written as Uptrends documents it (`{{@JsonEncode({{@monitor.notes}})}}`) or
//! shorter (`{{@JsonEncode(@monitor.notes)}}`); a Mustache name works too (`{{@UrlEncode({{alert_title}})}}`).

use super::escaping::{self, Escaping};
use super::tree::Path;

/// An encoding function: Uptrends' three, and Slack's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    /// `@JsonEncode`: JSON string content, without the surrounding quotes (the template writes them).
    Json,
    /// `@UrlEncode`: a space becomes `+`; letters, digits and `-_.!*'()` stay; the rest is `%XX`.
    Url,
    /// `@XmlEncode`: XML entities for `& < > " '`; characters illegal in XML 1.0 are dropped.
    Xml,
    /// `@SlackEncode` (alertwire's, not Uptrends'): `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`, the only
    /// escaping Slack's mrkdwn has, so that alert text cannot write `<!channel>` or a disguised
    /// `<https://…|link>`.
    Slack,
}

impl Function {
    const ALL: [(&'static str, Function); 4] = [
        ("JsonEncode", Function::Json),
        ("UrlEncode", Function::Url),
        ("XmlEncode", Function::Xml),
        ("SlackEncode", Function::Slack),
    ];

    fn from_name(name: &str) -> Option<Function> {
        Self::ALL
            .iter()
            .find(|(known, _)| *known == name)
            .map(|&(_, function)| function)
    }

    /// Appends `value` encoded by this function.
    pub(crate) fn encode_into(self, out: &mut String, value: &str) {
        match self {
            Function::Json => Escaping::Json.escape_into(out, value),
            Function::Url => escaping::escape_uptrends_url(out, value),
            Function::Xml => Escaping::Xml.escape_into(out, value),
            Function::Slack => escaping::escape_slack(out, value),
        }
    }

    /// Whether this function's output needs no second pass for the template's escaping: JsonEncode in a JSON
    /// body, XmlEncode in an XML/HTML body, UrlEncode in the URL, a form or a JSON body (its output is letters,
    /// digits and `-_.!*'()+%`), anything in a plain body. Elsewhere the output is escaped again for where it
    /// lands, so that nested encodings come out layered, never doubled or broken.
    pub(crate) fn is_native_to(self, escaping: Escaping) -> bool {
        matches!(
            (self, escaping),
            (_, Escaping::Plain)
                | (Function::Json, Escaping::Json)
                | (Function::Xml, Escaping::Xml)
                | (
                    Function::Url,
                    Escaping::Url | Escaping::Form | Escaping::Json
                )
        )
    }
}

/// The name of an `@` variable as it is looked up: the whole text, `@` included, as one segment.
pub(crate) fn variable(name: &str) -> Result<Path, String> {
    Path::parse(&format!("@{name}"))
}

/// If the content of an `@` tag (after the `@`) starts a function call `Name(`, the byte length of `Name(`.
pub(crate) fn call_opening(content: &str) -> Option<usize> {
    let name_len = content
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let rest = content.get(name_len..)?;
    let blanks = rest.bytes().take_while(|&b| b == b' ').count();
    (name_len > 0 && rest.get(blanks..)?.starts_with('(')).then_some(name_len + blanks + 1)
}

/// Where a call's arguments end: the offset in `after_paren` of the `)` that is followed (after blanks) by the
/// closing delimiter `close`, and the length through that delimiter.
pub(crate) fn call_end(after_paren: &str, close: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(found) = after_paren.get(from..)?.find(')') {
        let paren = from + found;
        let tail = after_paren.get(paren + 1..)?;
        let blanks = tail
            .bytes()
            .take_while(|&b| b == b' ' || b == b'\t')
            .count();
        if tail.get(blanks..)?.starts_with(close) {
            return Some((paren, paren + 1 + blanks + close.len()));
        }
        from = paren + 1;
    }
    None
}

/// Reads a call `Name(argument)` (the content of an `@` tag after the `@`, trimmed, inner delimiters `open` and
/// `close`) into its function and the path of its one variable.
pub(crate) fn call(content: &str, open: &str, close: &str) -> Result<(Function, Path), String> {
    let (name, argument) = content
        .strip_suffix(')')
        .and_then(|call| call.split_once('('))
        .ok_or_else(|| format!("invalid function call `@{content}`"))?;
    let name = name.trim_end();
    let Some(function) = Function::from_name(name) else {
        return Err(unknown_function(name));
    };
    let argument = argument.trim();
    let inner = argument
        .strip_prefix(open)
        .and_then(|a| a.strip_suffix(close))
        .map(str::trim)
        .unwrap_or(argument);
    let usage = || {
        format!(
            "`@{name}` takes one variable, as in `{open}@{name}({open}@alert.description{close}){close}`"
        )
    };
    if inner.is_empty() || inner.contains(open) || inner.contains(close) {
        return Err(usage());
    }
    let path = match inner.strip_prefix('@') {
        Some(at_name) => variable(at_name.trim_start()),
        None => Path::parse(inner),
    };
    path.map(|path| (function, path)).map_err(|_| usage())
}

fn unknown_function(name: &str) -> String {
    let known: Vec<&str> = Function::ALL.iter().map(|(known, _)| *known).collect();
    let hint = Function::ALL
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(known, _)| format!("did you mean `@{known}`? "))
        .unwrap_or_default();
    let custom = if name.eq_ignore_ascii_case("CustomField") {
        "custom fields have no equivalent here: use `{{alert_context.name}}`; ".to_owned()
    } else {
        String::new()
    };
    format!(
        "unknown function `@{name}` ({hint}{custom}the functions are `@{}`)",
        known.join("`, `@")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_openings() {
        assert_eq!(call_opening("JsonEncode({{@x}})"), Some(11));
        assert_eq!(call_opening("UrlEncode (x)"), Some(11));
        assert_eq!(call_opening("alert.description"), None);
        assert_eq!(call_opening("(x)"), None);
        assert_eq!(call_opening(""), None);
    }

    #[test]
    fn call_ends_skip_inner_parentheses() {
        assert_eq!(call_end("{{@x}})}}tail", "}}"), Some((6, 9)));
        assert_eq!(call_end("a) b ) }}", "}}"), Some((5, 9)));
        assert_eq!(call_end("x) }", "}}"), None);
        assert_eq!(call_end("<%x%>)%>", "%>"), Some((5, 8)));
    }

    #[test]
    fn calls_take_one_variable_in_any_documented_form() {
        for (content, name) in [
            ("JsonEncode({{@monitor.notes}})", "@monitor.notes"),
            ("JsonEncode({{ @monitor.notes }})", "@monitor.notes"),
            ("JsonEncode(@monitor.notes)", "@monitor.notes"),
            ("JsonEncode( {{alert_context.x}} )", "alert_context.x"),
            ("JsonEncode(alert_title)", "alert_title"),
        ] {
            let (function, path) = call(content, "{{", "}}").unwrap();
            assert_eq!(function, Function::Json, "{content}");
            assert_eq!(&*path.name, name, "{content}");
        }
        let (function, path) = call("XmlEncode(<%@alert.type%>)", "<%", "%>").unwrap();
        assert_eq!((function, &*path.name), (Function::Xml, "@alert.type"));
        let (function, _) = call("UrlEncode(x)", "{{", "}}").unwrap();
        assert_eq!(function, Function::Url);
    }

    #[test]
    fn bad_calls_say_what_is_expected() {
        assert_eq!(
            call("JsonEncode()", "{{", "}}").unwrap_err(),
            "`@JsonEncode` takes one variable, as in `{{@JsonEncode({{@alert.description}})}}`"
        );
        assert!(
            call("JsonEncode(a {{b}})", "{{", "}}")
                .unwrap_err()
                .starts_with("`@JsonEncode` takes one variable")
        );
        assert!(
            call("JsonEncode(two words)", "{{", "}}")
                .unwrap_err()
                .starts_with("`@JsonEncode` takes one variable")
        );
        assert_eq!(
            call("jsonencode(x)", "{{", "}}").unwrap_err(),
            "unknown function `@jsonencode` (did you mean `@JsonEncode`? the functions are `@JsonEncode`, `@UrlEncode`, `@XmlEncode`, `@SlackEncode`)"
        );
        assert_eq!(
            call("CustomField(team)", "{{", "}}").unwrap_err(),
            "unknown function `@CustomField` (custom fields have no equivalent here: use `{{alert_context.name}}`; the functions are `@JsonEncode`, `@UrlEncode`, `@XmlEncode`, `@SlackEncode`)"
        );
    }

    #[test]
    fn each_function_knows_its_own_context() {
        assert!(Function::Json.is_native_to(Escaping::Json));
        assert!(!Function::Json.is_native_to(Escaping::Xml));
        assert!(Function::Url.is_native_to(Escaping::Url));
        assert!(Function::Url.is_native_to(Escaping::Form));
        assert!(Function::Url.is_native_to(Escaping::Json));
        assert!(!Function::Url.is_native_to(Escaping::Xml));
        assert!(Function::Xml.is_native_to(Escaping::Xml));
        assert!(Function::Xml.is_native_to(Escaping::Plain));
        assert!(!Function::Slack.is_native_to(Escaping::Json));
    }

    #[test]
    fn slack_encoding_escapes_only_its_three_control_characters() {
        let mut out = String::new();
        Function::Slack.encode_into(
            &mut out,
            "<!channel> <https://evil.example|click> & \"*bold*\"",
        );
        assert_eq!(
            out,
            "&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; \"*bold*\""
        );
    }
}
