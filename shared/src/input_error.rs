//! What is wrong with something a caller sent: the field it concerns and a message a person can act on.

/// One rejected field of a request. `field` is a JSON path such as `headers.X-Token` or
/// `message_types.ok.body`; an empty string means the body as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub kind: FieldErrorKind,
    pub message: String,
    /// Where in a template the problem is, for template errors.
    pub position: Option<TextPosition>,
}

/// A 1-based line and column (in chars) in a field's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TextPosition {
    pub line: usize,
    pub column: usize,
}

/// The broad reason a field was rejected; the API maps it to an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Missing,
    Unknown,
    Invalid,
    Template,
    TargetNotAllowed,
}

impl FieldError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Invalid, field, message)
    }

    pub fn missing(field: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("`{field}` is required");
        Self::new(FieldErrorKind::Missing, field, message)
    }

    pub fn unknown(field: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("unknown field `{field}`");
        Self::new(FieldErrorKind::Unknown, field, message)
    }

    pub fn new(kind: FieldErrorKind, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            kind,
            message: message.into(),
            position: None,
        }
    }

    /// A template error in `field`, located where the template engine found it.
    pub fn template(field: impl Into<String>, error: &crate::template::TemplateError) -> Self {
        Self {
            position: Some(TextPosition {
                line: error.line,
                column: error.column,
            }),
            ..Self::new(
                FieldErrorKind::Template,
                field,
                format!("template error at {error}"),
            )
        }
    }
}

/// Reads typed fields out of a JSON object, naming the field in every error and refusing
/// fields it was not asked about.
pub struct ObjectReader<'a> {
    prefix: String,
    object: &'a serde_json::Map<String, serde_json::Value>,
}

impl<'a> ObjectReader<'a> {
    /// `value` must be a JSON object; `prefix` is its path (`""` for the body).
    pub fn new(
        prefix: &str,
        value: &'a serde_json::Value,
        allowed: &[&str],
    ) -> Result<Self, FieldError> {
        let object = value.as_object().ok_or_else(|| {
            let what = if prefix.is_empty() {
                "the body"
            } else {
                prefix
            };
            FieldError::invalid(prefix, format!("{what} must be a JSON object"))
        })?;
        let reader = Self {
            prefix: prefix.to_string(),
            object,
        };
        if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(FieldError::unknown(reader.path(unknown)));
        }
        Ok(reader)
    }

    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The raw value, `None` when absent or `null`.
    pub fn value(&self, name: &str) -> Option<&'a serde_json::Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    /// True when the field is present with an explicit `null`.
    pub fn is_null(&self, name: &str) -> bool {
        matches!(self.object.get(name), Some(serde_json::Value::Null))
    }

    pub fn has(&self, name: &str) -> bool {
        self.object.contains_key(name)
    }

    pub fn string(&self, name: &str, max_chars: usize) -> Result<Option<&'a str>, FieldError> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        let text = value.as_str().ok_or_else(|| {
            FieldError::invalid(
                self.path(name),
                format!("`{}` must be a string", self.path(name)),
            )
        })?;
        check_text(&self.path(name), text, max_chars)?;
        Ok(Some(text))
    }

    pub fn required_string(&self, name: &str, max_chars: usize) -> Result<&'a str, FieldError> {
        match self.string(name, max_chars)? {
            Some(text) if !text.trim().is_empty() => Ok(text),
            Some(_) => Err(FieldError::invalid(
                self.path(name),
                format!("`{}` must not be empty", self.path(name)),
            )),
            None => Err(FieldError::missing(self.path(name))),
        }
    }

    /// A number within `min..=max` (inclusive), `None` when absent or `null`.
    pub fn number_in(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, FieldError> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(FieldError::invalid(
                self.path(name),
                format!("`{}` must be a number from {min} to {max}", self.path(name)),
            )),
        }
    }

    /// A whole number within `min..=max`, `None` when absent or `null`.
    pub fn whole_number_in(
        &self,
        name: &str,
        min: u32,
        max: u32,
    ) -> Result<Option<u32>, FieldError> {
        let Some(value) = self.value(name) else {
            return Ok(None);
        };
        match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            _ => Err(FieldError::invalid(
                self.path(name),
                format!(
                    "`{}` must be a whole number from {min} to {max}",
                    self.path(name)
                ),
            )),
        }
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.value(name) {
            None => Ok(None),
            Some(value) => value.as_bool().map(Some).ok_or_else(|| {
                FieldError::invalid(
                    self.path(name),
                    format!("`{}` must be true or false", self.path(name)),
                )
            }),
        }
    }
}

/// Text fields refuse NUL and are bounded in length.
pub fn check_text(path: &str, text: &str, max_chars: usize) -> Result<(), FieldError> {
    if text.contains('\0') {
        return Err(FieldError::invalid(
            path,
            format!("`{path}` must not contain NUL characters"),
        ));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::invalid(
            path,
            format!("`{path}` is longer than {max_chars} characters"),
        ));
    }
    Ok(())
}
