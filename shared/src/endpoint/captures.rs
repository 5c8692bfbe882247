//! Captures: named values an endpoint takes from its 2XX answer to an incident's `error`, kept per
//! (endpoint, incident key) and given to the later messages of that incident as `{{captured.<name>}}`, so
//! that an `ok` can resolve the very ticket the `error` opened (`PATCH /issues/{{captured.ticket_id}}`).
//!
//! A capture names where its value is: a JSON pointer into a JSON answer (`/result/0/sys_id`), a simple
//! JSONPath (`$.id`, `$.result[0].sys_id`, `$['key']`), or a response header (`header:Location`). This
//! module parses and checks them and takes the values from an answer; keeping them is the store's
//! ([`crate::ports::store::IncidentStore`]), using them the attempt's ([`crate::service`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::input_error::FieldError;

/// The most captures one endpoint may declare.
pub const MAX_CAPTURES: usize = 10;
/// The longest source text of one capture.
const MAX_SOURCE: usize = 256;
/// A captured value longer than this is not kept (the capture counts as missing): it is meant for URLs and
/// ids, not documents.
pub const MAX_VALUE_BYTES: usize = 1024;
/// What names a response header in a capture's source.
const HEADER_PREFIX: &str = "header:";

/// What an `ok` or `reminder` does when a capture is missing: the error went dead, was never sent to this
/// endpoint, or its answer had no such value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MissingCapture {
    /// Send anyway; the variable renders empty.
    #[default]
    SendWithout,
    /// Send nothing: the delivery is `filtered` (`capture_missing`).
    Skip,
}

impl MissingCapture {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendWithout => "send_without",
            Self::Skip => "skip",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::SendWithout, Self::Skip]
            .into_iter()
            .find(|rule| rule.as_str() == text)
    }
}

/// Where a capture's value is in an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSource {
    /// An RFC 6901 pointer into the JSON body (a JSONPath is turned into one).
    Body(String),
    /// The first response header of this name (any case).
    Header(String),
}

impl CaptureSource {
    /// Parses a source as a user writes it; the error says what is wrong, without the field name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a capture needs a source: a JSON pointer (`/id`), a JSONPath (`$.id`) or `header:<name>`".into());
        }
        if text.len() > MAX_SOURCE {
            return Err(format!(
                "a capture's source is at most {MAX_SOURCE} characters"
            ));
        }
        if let Some(name) = text.strip_prefix(HEADER_PREFIX) {
            let name = name.trim();
            return if !name.is_empty() && http::HeaderName::from_bytes(name.as_bytes()).is_ok() {
                Ok(Self::Header(name.to_ascii_lowercase()))
            } else {
                Err(format!(
                    "`{text}`: `header:` must be followed by a header name"
                ))
            };
        }
        if text.starts_with('/') {
            return Ok(Self::Body(text.to_string()));
        }
        if let Some(path) = text.strip_prefix('$') {
            return json_path_to_pointer(path).map(Self::Body).ok_or_else(|| {
                format!(
                    "`{text}` is not a JSONPath this supports: `$` then `.name`, `[0]` or `['name']` steps"
                )
            });
        }
        Err(format!(
            "`{text}`: a capture's source starts with `/` (a JSON pointer), `$` (a JSONPath) or `header:`"
        ))
    }

    /// The value this source finds in an answer, as text: a string as it is, a number or boolean as JSON,
    /// an object or list as compact JSON. `None` for null, nothing found, or a value over
    /// [`MAX_VALUE_BYTES`].
    fn take(&self, body: Option<&Value>, headers: &[(String, String)]) -> Option<String> {
        let text = match self {
            Self::Header(name) => headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.clone()),
            Self::Body(pointer) => match body?.pointer(pointer)? {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            },
        }?;
        (!text.is_empty() && text.len() <= MAX_VALUE_BYTES).then_some(text)
    }
}

/// Response headers whose values are credentials: a capture of one is shown masked.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "set-cookie",
];

/// Whether the capture `source` takes a header that is secret: one of the credential headers, or one of
/// `secret_headers` (the names of the endpoint's own headers marked secret).
pub fn is_secret_source(source: &str, secret_headers: &[&str]) -> bool {
    match CaptureSource::parse(source) {
        Ok(CaptureSource::Header(name)) => {
            SECRET_HEADERS.contains(&name.as_str())
                || secret_headers.iter().any(|h| h.eq_ignore_ascii_case(&name))
        }
        _ => false,
    }
}

/// An endpoint's captures, by name, each with its source as the user wrote it.
pub type CaptureSpecs = BTreeMap<String, String>;

/// Values captured from one answer, by capture name.
pub type CapturedValues = BTreeMap<String, String>;

/// Reads `captures` (an object of name → source): at most [`MAX_CAPTURES`], names of lowercase letters,
/// digits and `_` starting with a letter, every source parsed. Errors name `captures.<name>`.
pub fn specs(value: Option<&Value>) -> Result<CaptureSpecs, FieldError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(CaptureSpecs::new());
    };
    let object = value.as_object().ok_or_else(|| {
        FieldError::invalid(
            "captures",
            "`captures` must be an object of names and sources, e.g. {\"ticket_id\": \"$.id\"}",
        )
    })?;
    if object.len() > MAX_CAPTURES {
        return Err(FieldError::invalid(
            "captures",
            format!("`captures` holds at most {MAX_CAPTURES} names"),
        ));
    }
    let mut specs = CaptureSpecs::new();
    for (name, source) in object {
        let field = format!("captures.{name}");
        if !is_capture_name(name) {
            return Err(FieldError::invalid(
                &field,
                format!(
                    "`{field}`: a capture's name is 1 to 64 lowercase letters, digits and `_`, starting with a letter"
                ),
            ));
        }
        let text = source.as_str().ok_or_else(|| {
            FieldError::invalid(
                &field,
                format!("`{field}` must be a string such as \"$.id\""),
            )
        })?;
        CaptureSource::parse(text)
            .map_err(|message| FieldError::invalid(&field, format!("`{field}`: {message}")))?;
        specs.insert(name.clone(), text.trim().to_string());
    }
    Ok(specs)
}

/// Reads `capture_missing`: `send_without` (the default) or `skip`.
pub fn missing_rule(value: Option<&Value>) -> Result<MissingCapture, FieldError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(MissingCapture::default());
    };
    value
        .as_str()
        .and_then(MissingCapture::parse)
        .ok_or_else(|| {
            FieldError::invalid(
                "capture_missing",
                "`capture_missing` must be `send_without` or `skip`",
            )
        })
}

/// The values `specs` find in an answer's body and headers. A body that is not JSON (or was cut short)
/// gives no body values; header captures still work.
pub fn take(
    specs: &CaptureSpecs,
    body: Option<&str>,
    headers: &[(String, String)],
) -> CapturedValues {
    let parsed = body.and_then(|text| serde_json::from_str::<Value>(text).ok());
    specs
        .iter()
        .filter_map(|(name, source)| {
            let source = CaptureSource::parse(source).ok()?;
            Some((name.clone(), source.take(parsed.as_ref(), headers)?))
        })
        .collect()
}

fn is_capture_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `.a.b[0]['c d']` (what follows `$`) as the pointer `/a/b/0/c d`; `None` if it is not that simple form.
fn json_path_to_pointer(path: &str) -> Option<String> {
    let mut pointer = String::new();
    let mut rest = path;
    if rest.is_empty() {
        return Some(pointer);
    }
    while !rest.is_empty() {
        let segment;
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            segment = &after[..end];
            if segment.is_empty()
                || !segment
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            {
                return None;
            }
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inside = &after[..end];
            segment = if let Some(quoted) = inside
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inside.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
            {
                quoted
            } else if !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit()) {
                inside
            } else {
                return None;
            };
            rest = &after[end + 1..];
        } else {
            return None;
        }
        pointer.push('/');
        pointer.push_str(&segment.replace('~', "~0").replace('/', "~1"));
    }
    Some(pointer)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sources_parse_as_pointers_jsonpaths_and_headers() {
        let body = |p: &str| Ok(CaptureSource::Body(p.to_string()));
        assert_eq!(CaptureSource::parse("$.id"), body("/id"));
        assert_eq!(
            CaptureSource::parse("/result/0/sys_id"),
            body("/result/0/sys_id")
        );
        assert_eq!(
            CaptureSource::parse("$.result[0].sys_id"),
            body("/result/0/sys_id")
        );
        assert_eq!(CaptureSource::parse("$['a/b'].c"), body("/a~1b/c"));
        assert_eq!(CaptureSource::parse("$[\"key\"]"), body("/key"));
        assert_eq!(
            CaptureSource::parse("header:X-Ticket-Id"),
            Ok(CaptureSource::Header("x-ticket-id".into()))
        );
        for bad in [
            "",
            "id",
            "$..id",
            "$.a[*]",
            "$.a[",
            "header:",
            "header:a b",
            "$.a b",
        ] {
            assert!(CaptureSource::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_taken_from_the_body_and_headers() {
        let specs: CaptureSpecs = [
            ("ticket_id", "$.id"),
            ("sys_id", "/result/0/sys_id"),
            ("number", "$.count"),
            ("nested", "$.meta"),
            ("location", "header:Location"),
            ("absent", "$.nope"),
            ("null", "$.gone"),
        ]
        .into_iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect();
        let body = json!({"id": "T-17", "result": [{"sys_id": "abc"}], "count": 3, "meta": {"a": 1}, "gone": null})
            .to_string();
        let headers = vec![("location".to_string(), "/issues/T-17".to_string())];
        let taken = take(&specs, Some(&body), &headers);
        let expected: CapturedValues = [
            ("ticket_id", "T-17"),
            ("sys_id", "abc"),
            ("number", "3"),
            ("nested", "{\"a\":1}"),
            ("location", "/issues/T-17"),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(taken, expected);

        // Not JSON, or cut short: only the header captures.
        let taken = take(&specs, Some("{\"id\": \"T-"), &headers);
        assert_eq!(taken.keys().collect::<Vec<_>>(), ["location"]);
        // A value too long for an id is not kept.
        let long = json!({"id": "x".repeat(MAX_VALUE_BYTES + 1)}).to_string();
        assert!(take(&specs, Some(&long), &[]).is_empty());
    }

    #[test]
    fn captures_of_credential_headers_or_of_headers_marked_secret_are_secret() {
        assert!(is_secret_source("header:Set-Cookie", &[]));
        assert!(is_secret_source("header:X-Session", &["x-session"]));
        assert!(!is_secret_source("header:Location", &["x-session"]));
        assert!(!is_secret_source("$.token", &["x-session"]));
    }

    #[test]
    fn specs_are_checked_and_errors_name_the_capture() {
        assert_eq!(specs(None).unwrap(), CaptureSpecs::new());
        let read = specs(Some(&json!({"ticket_id": " $.id "}))).unwrap();
        assert_eq!(read["ticket_id"], "$.id");
        let field = |value: Value| specs(Some(&value)).unwrap_err().field;
        assert_eq!(field(json!("$.id")), "captures");
        assert_eq!(field(json!({"Ticket": "$.id"})), "captures.Ticket");
        assert_eq!(field(json!({"ticket": 7})), "captures.ticket");
        assert_eq!(field(json!({"ticket": "id"})), "captures.ticket");
        let many: serde_json::Map<String, Value> = (0..=MAX_CAPTURES)
            .map(|i| (format!("c{i}"), json!("$.id")))
            .collect();
        assert_eq!(field(Value::Object(many)), "captures");
        assert_eq!(missing_rule(None).unwrap(), MissingCapture::SendWithout);
        assert_eq!(
            missing_rule(Some(&json!("skip"))).unwrap(),
            MissingCapture::Skip
        );
        assert_eq!(
            missing_rule(Some(&json!("drop"))).unwrap_err().field,
            "capture_missing"
        );
    }
}
