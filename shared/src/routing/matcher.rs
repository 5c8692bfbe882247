//! Label matchers in Alertmanager's syntax, so that users can paste what their route tree has:
//! `team="db"`, `env=~"prod|staging"`, `service!="canary"`, `severity !~ "info|low"`.
//!
//! A matcher is a label name, one of `=`, `!=`, `=~`, `!~`, and a value, with any whitespace around each.
//! The name is a Prometheus label name, or any UTF-8 text in double quotes. The value may be quoted; in it
//! `\"`, `\n` and `\\` are escapes, another backslash is literal, and an unescaped `"` may only open and
//! close it. Regexes are fully anchored, as in Alertmanager: `=~"prod|staging"` does not match
//! `preprod`. A label the alert does not carry has the value `""`, so `x=""` holds without `x`. A label
//! with several values (bare tags) satisfies `=` and `=~` when one value does, `!=` and `!~` when none
//! does the opposite.
//!
//! Matchers are parsed and their regexes compiled once, when the endpoint is read or saved; evaluating
//! one against an alert allocates nothing.

use std::fmt;

use regex::{Regex, RegexBuilder};

use super::labels::Labels;

/// The longest matcher accepted, in bytes.
pub const MAX_MATCHER: usize = 1_024;
/// The most matchers an endpoint may have.
pub const MAX_MATCHERS: usize = 32;
/// The most memory one compiled regex may take.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// How a matcher compares a label's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }

    /// Whether it holds when some value holds (`=`, `=~`) rather than when no value fails (`!=`, `!~`).
    fn is_positive(self) -> bool {
        matches!(self, MatchOp::Equal | MatchOp::Regex)
    }
}

/// Why a matcher was refused. The text reads after "the matcher …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {MAX_MATCHER} bytes")]
    TooLong,
    #[error("has no operator: a label name, then one of =, !=, =~, !~, then a value")]
    NoOperator,
    #[error(
        "has {0:?} as its label name: letters, digits and _, not starting with a digit (quote any other name)"
    )]
    BadName(String),
    #[error("has a quote that is never closed")]
    UnclosedQuote,
    #[error("has a \" inside its value: escape it as \\\"")]
    StrayQuote,
    #[error("has a regex that does not compile: {0}")]
    BadRegex(String),
}

/// One compiled matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    name: String,
    op: MatchOp,
    value: String,
    /// For `=~` and `!~`: the value, anchored at both ends.
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.op, &self.value) == (&other.name, other.op, &other.value)
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// Parses and compiles one matcher.
    pub fn parse(text: &str) -> Result<Matcher, MatcherError> {
        if text.len() > MAX_MATCHER {
            return Err(MatcherError::TooLong);
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(MatcherError::Empty);
        }
        let (name, rest) = split_name(text)?;
        let rest = rest.trim_start();
        let (op, value) = [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ]
        .into_iter()
        .find_map(|(token, op)| rest.strip_prefix(token).map(|value| (op, value)))
        .ok_or(MatcherError::NoOperator)?;
        let value = parse_value(value.trim())?;
        Matcher::new(name, op, value)
    }

    /// A matcher from its parts; compiles the regex of `=~` and `!~`.
    pub fn new(name: String, op: MatchOp, value: String) -> Result<Matcher, MatcherError> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                RegexBuilder::new(&format!("^(?:{value})$"))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| MatcherError::BadRegex(regex_error(&e)))?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            name,
            op,
            value,
            regex,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn op(&self) -> MatchOp {
        self.op
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the labels satisfy it (see the module documentation for labels with several values).
    pub fn matches(&self, labels: &Labels<'_>) -> bool {
        let mut values = labels.values(&self.name).peekable();
        let missing = values.peek().is_none();
        let holds = |value: &str| match (self.op, &self.regex) {
            (MatchOp::Equal | MatchOp::NotEqual, _) => value == self.value,
            (_, Some(regex)) => regex.is_match(value),
            (_, None) => false,
        };
        let some_value_holds = if missing {
            holds("")
        } else {
            values.any(holds)
        };
        some_value_holds == self.op.is_positive()
    }
}

/// The canonical form: the name (quoted when it is not a plain label name), the operator, the quoted
/// value. It parses back to the same matcher.
impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_quoted(f, &self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

/// The matchers of one endpoint: all must hold. No matchers take every alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatcherSet {
    matchers: Vec<Matcher>,
}

/// A matcher of a list that was refused, with its place in the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the matcher {text:?} {error}")]
pub struct MatcherListError {
    pub index: usize,
    pub text: String,
    pub error: MatcherError,
}

impl MatcherSet {
    /// Parses every matcher of a list, stopping at the first refused.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<MatcherSet, MatcherListError> {
        let matchers = texts
            .iter()
            .enumerate()
            .map(|(index, text)| {
                Matcher::parse(text.as_ref()).map_err(|error| MatcherListError {
                    index,
                    text: text.as_ref().chars().take(100).collect(),
                    error,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(MatcherSet { matchers })
    }

    pub fn is_empty(&self) -> bool {
        self.matchers.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Matcher> {
        self.matchers.iter()
    }

    /// The first matcher the labels fail, or None when all hold.
    pub fn first_failing(&self, labels: &Labels<'_>) -> Option<&Matcher> {
        self.matchers.iter().find(|m| !m.matches(labels))
    }

    pub fn matches(&self, labels: &Labels<'_>) -> bool {
        self.first_failing(labels).is_none()
    }

    /// The `name="value"` pairs every matching alert must carry: what an index of endpoints by label
    /// can look alerts up by. An empty value is left out, since a missing label satisfies it.
    pub fn required_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.matchers
            .iter()
            .filter(|m| m.op == MatchOp::Equal && !m.value.is_empty())
            .map(|m| (m.name.as_str(), m.value.as_str()))
    }
}

/// Splits off the label name: a quoted string, or the text before the operator.
fn split_name(text: &str) -> Result<(String, &str), MatcherError> {
    if let Some(quoted) = text.strip_prefix('"') {
        let end = closing_quote(quoted).ok_or(MatcherError::UnclosedQuote)?;
        let name = unescape(&quoted[..end]);
        if name.is_empty() {
            return Err(MatcherError::BadName(name));
        }
        return Ok((name, &quoted[end + 1..]));
    }
    let end = text.find(['=', '!']).ok_or(MatcherError::NoOperator)?;
    let name = text[..end].trim_end();
    if !is_label_name(name) {
        return Err(MatcherError::BadName(name.to_string()));
    }
    Ok((name.to_string(), &text[end..]))
}

/// The value, unquoted and unescaped.
fn parse_value(text: &str) -> Result<String, MatcherError> {
    let inner = match text.strip_prefix('"') {
        Some(quoted) => {
            let end = closing_quote(quoted).ok_or(MatcherError::UnclosedQuote)?;
            if end + 1 != quoted.len() {
                return Err(MatcherError::StrayQuote);
            }
            &quoted[..end]
        }
        None => text,
    };
    if closing_quote(inner).is_some() {
        return Err(MatcherError::StrayQuote);
    }
    Ok(unescape(inner))
}

/// The byte offset of the first `"` not escaped by a backslash.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// OpenMetrics escapes: `\"`, `\n` and `\\`; a backslash before anything else is literal.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('"') => out.push('"'),
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            _ => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

fn write_quoted(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in text.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The regex crate's message, on one line.
fn regex_error(error: &regex::Error) -> String {
    error
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (String, MatchOp, String) {
        let m = Matcher::parse(text).unwrap_or_else(|e| panic!("{text:?} {e}"));
        (m.name, m.op, m.value)
    }

    #[test]
    fn matchers_parse_as_alertmanager_reads_them() {
        use MatchOp::*;
        let cases: &[(&str, (&str, MatchOp, &str))] = &[
            // Alertmanager's own examples, quoted and not, with whitespace around each token.
            ("alertname = Watchdog", ("alertname", Equal, "Watchdog")),
            (
                r#"severity =~ "warning|critical""#,
                ("severity", Regex, "warning|critical"),
            ),
            (r#"team="db""#, ("team", Equal, "db")),
            (r#"env=~"prod|staging""#, ("env", Regex, "prod|staging")),
            (r#"service!="canary""#, ("service", NotEqual, "canary")),
            (r#"  foo  !~  "bar"  "#, ("foo", NotRegex, "bar")),
            ("foo=bar", ("foo", Equal, "bar")),
            ("foo=~[a-zA-Z_:]*", ("foo", Regex, "[a-zA-Z_:]*")),
            // An empty value, quoted or not.
            (r#"foo="""#, ("foo", Equal, "")),
            ("foo=", ("foo", Equal, "")),
            ("foo!=", ("foo", NotEqual, "")),
            // Escapes: \" \n \\, and a lone backslash is literal.
            (r#"msg="say \"hi\"""#, ("msg", Equal, r#"say "hi""#)),
            (r#"msg="a\nb""#, ("msg", Equal, "a\nb")),
            (r#"path="C:\\dir""#, ("path", Equal, r"C:\dir")),
            (r#"re=~"\d+""#, ("re", Regex, r"\d+")),
            // UTF-8 values, and quoted UTF-8 names.
            (r#"city="Zürich""#, ("city", Equal, "Zürich")),
            ("mood=🙂", ("mood", Equal, "🙂")),
            (r#""foo.bar"="baz""#, ("foo.bar", Equal, "baz")),
            (r#""équipe" != "web""#, ("équipe", NotEqual, "web")),
            // Operators inside a value are part of it.
            (r#"expr="a=b!=c""#, ("expr", Equal, "a=b!=c")),
            ("url=http://x/?a=b", ("url", Equal, "http://x/?a=b")),
            ("_x1=y", ("_x1", Equal, "y")),
        ];
        for (text, (name, op, value)) in cases {
            assert_eq!(
                parsed(text),
                (name.to_string(), *op, value.to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_matchers_are_refused_with_the_reason() {
        use MatcherError::*;
        let cases: &[(&str, MatcherError)] = &[
            ("", Empty),
            ("   ", Empty),
            ("team", NoOperator),
            ("team db", NoOperator),
            (r#""team" db"#, NoOperator),
            (r#"=db"#, BadName(String::new())),
            ("1team=db", BadName("1team".into())),
            ("team-name=db", BadName("team-name".into())),
            ("foo.bar=baz", BadName("foo.bar".into())),
            (r#""" = "x""#, BadName(String::new())),
            (r#"team="db"#, UnclosedQuote),
            (r#""team=db"#, UnclosedQuote),
            (r#"team="d"b""#, StrayQuote),
            (r#"team=d"b"#, StrayQuote),
            (r#"team="db"x"#, StrayQuote),
        ];
        for (text, error) in cases {
            assert_eq!(Matcher::parse(text).as_ref().err(), Some(error), "{text:?}");
        }
        assert!(matches!(
            Matcher::parse(r#"env=~"prod|(staging""#),
            Err(BadRegex(message)) if message.contains("unclosed group")
        ));
        assert_eq!(
            Matcher::parse(&format!("a=\"{}\"", "x".repeat(MAX_MATCHER))),
            Err(TooLong)
        );
        let huge = format!("a=~\"{}\"", r"\w{100}".repeat(100));
        assert!(huge.len() <= MAX_MATCHER);
        assert!(
            matches!(Matcher::parse(&huge), Err(BadRegex(_))),
            "over the size limit"
        );
    }

    #[test]
    fn the_canonical_form_parses_back_to_the_same_matcher() {
        for text in [
            "team=db",
            r#"msg="say \"hi\" \\ now\n""#,
            r#""foo.bar"=~"a|b""#,
            "x!=",
            r#"path!~"C:\\.*""#,
        ] {
            let matcher = Matcher::parse(text).expect(text);
            let canonical = matcher.to_string();
            assert_eq!(
                Matcher::parse(&canonical).as_ref(),
                Ok(&matcher),
                "{canonical}"
            );
        }
        assert_eq!(
            Matcher::parse("team = db").unwrap().to_string(),
            r#"team="db""#
        );
    }

    fn labels<'a>(pairs: &[(&'a str, &'a str)]) -> Labels<'a> {
        Labels::from_pairs(pairs.to_vec())
    }

    #[test]
    fn matchers_hold_as_alertmanager_evaluates_them() {
        let alert = labels(&[
            ("team", "db"),
            ("env", "preprod"),
            ("severity", "high"),
            ("tag", "urgent"),
            ("tag", "disk"),
            ("empty", ""),
        ]);
        let cases: &[(&str, bool)] = &[
            (r#"team="db""#, true),
            (r#"team="DB""#, false),
            (r#"team!="web""#, true),
            (r#"team!="db""#, false),
            // Regexes are anchored at both ends.
            (r#"env=~"prod|staging""#, false),
            (r#"env=~".*prod""#, true),
            (r#"env=~"pre""#, false),
            (r#"env!~"prod|staging""#, true),
            (r#"severity=~"high|critical""#, true),
            // A missing label is "".
            (r#"service="""#, true),
            (r#"service!="""#, false),
            (r#"service!="canary""#, true),
            (r#"service=~".*""#, true),
            (r#"service=~".+""#, false),
            (r#"empty="""#, true),
            // Bare tags: one of the values.
            (r#"tag="urgent""#, true),
            (r#"tag="disk""#, true),
            (r#"tag="net""#, false),
            (r#"tag!="net""#, true),
            (r#"tag!="urgent""#, false),
            (r#"tag=~"dis.*""#, true),
            (r#"tag!~"dis.*""#, false),
            (r#"tag!~"net.*""#, true),
        ];
        for (text, holds) in cases {
            let matcher = Matcher::parse(text).expect(text);
            assert_eq!(matcher.matches(&alert), *holds, "{text}");
        }
    }

    #[test]
    fn a_set_holds_when_every_matcher_does_and_names_the_first_that_fails() {
        let set = MatcherSet::parse(&[
            r#"team="db""#,
            r#"env=~"prod|staging""#,
            r#"service!="canary""#,
        ])
        .expect("valid");
        let prod = labels(&[("team", "db"), ("env", "prod")]);
        assert!(set.matches(&prod));
        let canary = labels(&[("team", "db"), ("env", "prod"), ("service", "canary")]);
        assert_eq!(
            set.first_failing(&canary).map(ToString::to_string),
            Some(r#"service!="canary""#.to_string())
        );
        let web = labels(&[("team", "web"), ("env", "dev")]);
        assert_eq!(
            set.first_failing(&web).map(Matcher::name),
            Some("team"),
            "the first in the list"
        );
        assert!(
            MatcherSet::default().matches(&web),
            "no matchers take every alert"
        );
        assert_eq!(set.required_labels().collect::<Vec<_>>(), [("team", "db")]);
    }

    #[test]
    fn a_refused_matcher_is_named_with_its_place_in_the_list() {
        let error = MatcherSet::parse(&["team=db", "env=~\"(\""]).unwrap_err();
        assert_eq!(error.index, 1);
        assert_eq!(error.text, "env=~\"(\"");
        assert!(matches!(error.error, MatcherError::BadRegex(_)));
        assert!(
            error
                .to_string()
                .starts_with("the matcher \"env=~\\\"(\\\"\" has a regex")
        );
    }
}
