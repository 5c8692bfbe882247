//! An endpoint with its templates compiled once per version, for rendering many deliveries. Its matchers
//! are parsed by the tenant's route table ([`crate::routing::table`]).

use std::sync::OnceLock;

use crate::alert::MessageType;
use crate::digest::DEFAULT_DIGEST_BODY;
use crate::input_error::FieldError;
use crate::template::{Escaping, Template};

use super::{Endpoint, HeaderSpec, HttpMethod, Route, RouteOverride};

/// One message type's effective request shape, templates compiled.
#[derive(Debug, Clone)]
pub struct CompiledRoute {
    pub method: HttpMethod,
    pub url: Template,
    pub headers: Vec<HeaderSpec>,
    pub body: Template,
}

/// An endpoint with every route compiled once.
#[derive(Debug, Clone)]
pub struct CompiledEndpoint {
    pub endpoint: Endpoint,
    routes: [Option<CompiledRoute>; 3],
    /// The digest's body: the endpoint's own, compiled with the rest; or [`DEFAULT_DIGEST_BODY`], compiled
    /// when first needed (a digest comes to an endpoint without one only as the fallback of a dead one).
    digest_body: OnceLock<Template>,
}

impl CompiledEndpoint {
    pub fn compile(endpoint: Endpoint) -> Result<Self, FieldError> {
        let route_for = |t: MessageType| compile_route(&endpoint, t);
        let routes = [
            route_for(MessageType::Error)?,
            route_for(MessageType::Reminder)?,
            route_for(MessageType::Ok)?,
        ];
        let digest_body = OnceLock::new();
        if let Some(digest) = &endpoint.digest {
            let own = Template::compile(
                &digest.body,
                Escaping::for_content_type(&endpoint.content_type),
            )
            .map_err(|e| FieldError::template(DIGEST_BODY_FIELD, &e))?;
            let _ = digest_body.set(own);
        }
        Ok(Self {
            endpoint,
            routes,
            digest_body,
        })
    }

    /// The digest's body template; a digest is sent with the method, URL and headers of the endpoint's
    /// `error` messages.
    pub fn digest_body(&self) -> &Template {
        self.digest_body.get_or_init(|| {
            Template::compile(
                DEFAULT_DIGEST_BODY,
                Escaping::for_content_type(&self.endpoint.content_type),
            )
            .expect("the default digest template compiles with every escaping")
        })
    }

    /// `None` when the message type is switched off.
    pub fn route(&self, message_type: MessageType) -> Option<&CompiledRoute> {
        let index = match message_type {
            MessageType::Error => 0,
            MessageType::Reminder => 1,
            MessageType::Ok => 2,
        };
        self.routes[index].as_ref()
    }
}

/// The field that holds the digest's template.
pub const DIGEST_BODY_FIELD: &str = "digest.body";

fn compile_route(
    endpoint: &Endpoint,
    message_type: MessageType,
) -> Result<Option<CompiledRoute>, FieldError> {
    let (prefix, overrides) = match endpoint.message_types.get(message_type) {
        Route::Off => return Ok(None),
        Route::Default => (String::new(), RouteOverride::default()),
        Route::Override(o) => (
            format!("message_types.{}.", message_type.as_str()),
            o.clone(),
        ),
    };
    let (url_field, url) = match overrides.url {
        Some(url) => (format!("{prefix}url"), url),
        None => ("url".to_string(), endpoint.url.clone()),
    };
    let (body_field, body) = match overrides.body {
        Some(body) => (format!("{prefix}body"), body),
        None => ("body".to_string(), endpoint.body.clone()),
    };
    let compile = |field: &str, source: &str, escaping| {
        Template::compile(source, escaping).map_err(|e| FieldError::template(field, &e))
    };
    Ok(Some(CompiledRoute {
        method: overrides.method.unwrap_or(endpoint.method),
        url: compile(&url_field, &url, Escaping::Url)?,
        headers: overrides
            .headers
            .unwrap_or_else(|| endpoint.headers.clone()),
        body: compile(
            &body_field,
            &body,
            Escaping::for_content_type(&endpoint.content_type),
        )?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_digest_template_compiles_for_every_content_type() {
        for content_type in [
            "application/json",
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
        ] {
            let escaping = Escaping::for_content_type(content_type);
            assert!(
                Template::compile(DEFAULT_DIGEST_BODY, escaping).is_ok(),
                "{content_type}"
            );
        }
    }
}
