//! The API form of an endpoint, secrets masked.

use serde_json::{Map, Value, json};

use super::{Endpoint, HeaderSpec, MASK, Route, SECRET_MASK};

impl Endpoint {
    /// The API form. Secrets, the verification token and secret header values are masked unless
    /// `reveal_secret` (only in the answer that created or set the secret).
    pub fn to_view(&self, reveal_secret: bool) -> Value {
        let header_view = |headers: &[HeaderSpec]| {
            let mut map = Map::new();
            for h in headers {
                let value = if h.secret { MASK } else { h.value.as_str() };
                map.insert(h.name.clone(), json!({"value": value, "secret": h.secret}));
            }
            Value::Object(map)
        };
        let route_view = |route: &Route| match route {
            Route::Off => Value::Null,
            Route::Default => json!({}),
            Route::Override(o) => {
                let mut map = Map::new();
                if let Some(m) = o.method {
                    map.insert("method".into(), json!(m.as_str()));
                }
                if let Some(u) = &o.url {
                    map.insert("url".into(), json!(u));
                }
                if let Some(h) = &o.headers {
                    map.insert("headers".into(), header_view(h));
                }
                if let Some(b) = &o.body {
                    map.insert("body".into(), json!(b));
                }
                Value::Object(map)
            }
        };
        let secret = self.secret.as_ref().map(|s| {
            if reveal_secret {
                s.expose()
            } else {
                SECRET_MASK.to_string()
            }
        });
        json!({
            "id": self.id,
            "name": self.name,
            "url": self.url,
            "method": self.method.as_str(),
            "headers": header_view(&self.headers),
            "content_type": self.content_type,
            "body": self.body,
            "min_severity": self.min_severity,
            "message_types": {
                "error": route_view(&self.message_types.error),
                "reminder": route_view(&self.message_types.reminder),
                "ok": route_view(&self.message_types.ok),
            },
            "secret": secret,
            "verification_token": self.verification_token.as_ref().map(|_| MASK),
            "retiring_secrets": self.retiring_secrets.iter().map(|r| json!({
                "secret": SECRET_MASK,
                "until": r.until,
            })).collect::<Vec<_>>(),
            "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "health": self.health,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}
