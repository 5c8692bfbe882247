//! Validation of an endpoint's `auth` and `ca_pem`: one object or a list, every field named in its error,
//! the token URL checked against the target policy, client certificates and CAs parsed and checked, masked
//! secrets resolved against the stored endpoint.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::input_error::{FieldError, FieldErrorKind, ObjectReader, check_text};
use crate::outbound::target_policy::TargetPolicy;

use super::auth::{
    ClientAuthentication, ClientCertificate, EndpointAuth, OAuth2ClientCredentials,
    client_certificate, oauth2,
};
use super::certificates::{self, CertificateError};
use super::{Endpoint, MASK};

const OAUTH2_FIELDS: &[&str] = &[
    "type",
    "token_url",
    "client_id",
    "client_secret",
    "scope",
    "audience",
    "client_auth",
];
const MTLS_FIELDS: &[&str] = &["type", "certificate_pem", "private_key_pem", "not_after"];
const MAX_AUTH_METHODS: usize = 4;
const MAX_PEM: usize = 64 * 1024;
const MAX_URL: usize = 4096;
const MAX_CLIENT_TEXT: usize = 1024;
const MAX_CLIENT_SECRET: usize = 4096;

/// `auth` as one object or a list of them; absent or `null` for none.
pub(super) fn auth(
    value: Option<&Value>,
    previous: Option<&Endpoint>,
    policy: &TargetPolicy,
    now: DateTime<Utc>,
) -> Result<Vec<EndpointAuth>, FieldError> {
    let items: Vec<(String, &Value)> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() > MAX_AUTH_METHODS => {
            return Err(FieldError::invalid(
                "auth",
                format!("`auth` has more than {MAX_AUTH_METHODS} methods"),
            ));
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| (format!("auth[{i}]"), item))
            .collect(),
        Some(item @ Value::Object(_)) => vec![("auth".to_string(), item)],
        Some(_) => {
            return Err(FieldError::invalid(
                "auth",
                "`auth` must be an object with a `type`, or a list of them",
            ));
        }
    };
    let previous = previous.map(|p| p.auth.as_slice()).unwrap_or_default();
    let mut methods: Vec<EndpointAuth> = Vec::with_capacity(items.len());
    for (path, item) in items {
        let method = one(&path, item, previous, policy, now)?;
        if methods.iter().any(|m| m.kind() == method.kind()) {
            return Err(FieldError::invalid(
                &path,
                format!("`{path}`: `{}` is given twice", method.kind()),
            ));
        }
        methods.push(method);
    }
    Ok(methods)
}

fn one(
    path: &str,
    item: &Value,
    previous: &[EndpointAuth],
    policy: &TargetPolicy,
    now: DateTime<Utc>,
) -> Result<EndpointAuth, FieldError> {
    let kind = item.get("type").and_then(Value::as_str);
    match kind {
        Some("oauth2_client_credentials") => {
            oauth2_credentials(path, item, oauth2(previous), policy).map(EndpointAuth::OAuth2)
        }
        Some("mtls") => mtls(path, item, client_certificate(previous), now).map(EndpointAuth::Mtls),
        _ if !item.is_object() => Err(FieldError::invalid(
            path,
            format!("`{path}` must be an object with a `type`"),
        )),
        None => Err(FieldError::missing(format!("{path}.type"))),
        Some(_) => Err(FieldError::invalid(
            format!("{path}.type"),
            format!("`{path}.type` must be oauth2_client_credentials or mtls"),
        )),
    }
}

fn oauth2_credentials(
    path: &str,
    item: &Value,
    previous: Option<&OAuth2ClientCredentials>,
    policy: &TargetPolicy,
) -> Result<OAuth2ClientCredentials, FieldError> {
    let reader = ObjectReader::new(path, item, OAUTH2_FIELDS)?;
    let token_url = reader.required_string("token_url", MAX_URL)?.trim();
    let url_field = reader.path("token_url");
    policy.check_url(token_url).map_err(|e| {
        FieldError::new(
            FieldErrorKind::TargetNotAllowed,
            &url_field,
            format!("`{url_field}`: {e}"),
        )
    })?;
    let client_id = reader.required_string("client_id", MAX_CLIENT_TEXT)?;
    check_text(&reader.path("client_id"), client_id, MAX_CLIENT_TEXT)?;
    let secret_field = reader.path("client_secret");
    let client_secret = match reader.required_string("client_secret", MAX_CLIENT_SECRET)? {
        MASK => match previous {
            Some(p) if p.token_url == token_url => p.client_secret.clone(),
            Some(_) => {
                return Err(FieldError::invalid(
                    &secret_field,
                    format!(
                        "`{secret_field}` is masked, but the token URL changed: give the secret again"
                    ),
                ));
            }
            None => {
                return Err(FieldError::invalid(
                    &secret_field,
                    format!("`{secret_field}` is masked but no earlier value exists"),
                ));
            }
        },
        text => {
            check_text(&secret_field, text, MAX_CLIENT_SECRET)?;
            text.to_string()
        }
    };
    let optional = |name: &str| -> Result<Option<String>, FieldError> {
        let text = reader.string(name, MAX_CLIENT_TEXT)?;
        if let Some(text) = text {
            check_text(&reader.path(name), text, MAX_CLIENT_TEXT)?;
        }
        Ok(text.filter(|t| !t.is_empty()).map(str::to_string))
    };
    let client_auth = match reader.string("client_auth", 16)? {
        None | Some("basic") => ClientAuthentication::Basic,
        Some("body") => ClientAuthentication::Body,
        Some(_) => {
            let field = reader.path("client_auth");
            return Err(FieldError::invalid(
                &field,
                format!("`{field}` must be basic or body"),
            ));
        }
    };
    Ok(OAuth2ClientCredentials {
        token_url: token_url.to_string(),
        client_id: client_id.to_string(),
        client_secret,
        scope: optional("scope")?,
        audience: optional("audience")?,
        client_auth,
    })
}

/// A client certificate: the chain parses, the key (or the stored one, when masked) belongs to it, and
/// it is valid now.
fn mtls(
    path: &str,
    item: &Value,
    previous: Option<&ClientCertificate>,
    now: DateTime<Utc>,
) -> Result<ClientCertificate, FieldError> {
    let reader = ObjectReader::new(path, item, MTLS_FIELDS)?;
    let certificate_pem = reader.required_string("certificate_pem", MAX_PEM)?;
    let key_field = reader.path("private_key_pem");
    let private_key_pem = match reader.required_string("private_key_pem", MAX_PEM)? {
        MASK => previous.map(|p| p.private_key_pem.clone()).ok_or_else(|| {
            FieldError::invalid(
                &key_field,
                format!("`{key_field}` is masked but no earlier value exists"),
            )
        })?,
        text => text.to_string(),
    };
    // Sent back as stored (a read view with the key masked): it passed these checks when it was saved,
    // and an endpoint whose certificate has since expired can still be edited.
    if let Some(stored) = previous
        .filter(|p| p.certificate_pem == certificate_pem && p.private_key_pem == private_key_pem)
    {
        return Ok(stored.clone());
    }
    let refused =
        |field: String, e: CertificateError| FieldError::invalid(&field, format!("`{field}` {e}"));
    let not_after = certificates::client_certificate_valid_until(certificate_pem, now)
        .map_err(|e| refused(reader.path("certificate_pem"), e))?;
    certificates::check_key_pair(certificate_pem, &private_key_pem).map_err(|e| match e {
        CertificateError::NoKey
        | CertificateError::NotPem(_)
        | CertificateError::UnsupportedKey(_)
        | CertificateError::KeyMismatch => refused(key_field.clone(), e),
        other => refused(reader.path("certificate_pem"), other),
    })?;
    Ok(ClientCertificate {
        certificate_pem: certificate_pem.to_string(),
        private_key_pem,
        not_after,
    })
}

/// `ca_pem`: one or more CA certificates, or absent for the usual roots.
pub(super) fn ca_pem(value: Option<&Value>) -> Result<Option<String>, FieldError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(pem)) if pem.len() <= MAX_PEM => certificates::parse_certificates(pem)
            .map(|_| Some(pem.clone()))
            .map_err(|e| FieldError::invalid("ca_pem", format!("`ca_pem` {e}"))),
        Some(_) => Err(FieldError::invalid(
            "ca_pem",
            format!("`ca_pem` must be PEM certificates of at most {MAX_PEM} bytes"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::endpoint::EndpointInput;
    use crate::outbound::target_policy::PortAllowance;

    fn auth_now(
        value: Option<&Value>,
        previous: Option<&Endpoint>,
        policy: &TargetPolicy,
    ) -> Result<Vec<EndpointAuth>, FieldError> {
        auth(value, previous, policy, chrono::Utc::now())
    }

    fn policy() -> TargetPolicy {
        TargetPolicy::strict()
    }

    fn credentials(secret: &str) -> Value {
        json!({"type": "oauth2_client_credentials", "token_url": "https://idp.example.com/oauth/token",
            "client_id": "alertwire", "client_secret": secret, "scope": "alerts:write"})
    }

    fn field_of(result: Result<Vec<EndpointAuth>, FieldError>) -> String {
        result.expect_err("refused").field
    }

    #[test]
    fn one_object_or_a_list_reads_the_same() {
        let single = auth_now(Some(&credentials("s1")), None, &policy()).unwrap();
        let listed = auth_now(Some(&json!([credentials("s1")])), None, &policy()).unwrap();
        assert_eq!(single, listed);
        let EndpointAuth::OAuth2(c) = &single[0] else {
            panic!("OAuth2")
        };
        assert_eq!(c.client_auth, ClientAuthentication::Basic);
        assert_eq!(c.scope.as_deref(), Some("alerts:write"));
        assert_eq!(c.audience, None);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let mut no_secret = credentials("x");
        no_secret.as_object_mut().unwrap().remove("client_secret");
        let mut bad_auth = credentials("x");
        bad_auth["client_auth"] = json!("jwt");
        let mut private = credentials("x");
        private["token_url"] = json!("http://169.254.169.254/latest/token");
        let mut unknown = credentials("x");
        unknown["grant"] = json!("password");
        let cases = [
            (json!("token"), "auth"),
            (json!({"token_url": "https://a.example"}), "auth.type"),
            (json!({"type": "basic"}), "auth.type"),
            (no_secret, "auth.client_secret"),
            (bad_auth, "auth.client_auth"),
            (private.clone(), "auth.token_url"),
            (unknown, "auth.grant"),
            (json!([credentials("a"), credentials("b")]), "auth[1]"),
            (json!([credentials("a"), private]), "auth[1].token_url"),
        ];
        for (input, field) in cases {
            assert_eq!(
                field_of(auth_now(Some(&input), None, &policy())),
                field,
                "{input}"
            );
        }
    }

    #[test]
    fn the_token_url_passes_the_same_policy_as_endpoint_urls() {
        let mut loopback = credentials("x");
        loopback["token_url"] = json!("http://127.0.0.1:8080/token");
        let refused = auth_now(Some(&loopback), None, &policy()).unwrap_err();
        assert_eq!(refused.kind, FieldErrorKind::TargetNotAllowed);
        let allowed = TargetPolicy::strict()
            .with_allowed_networks(vec!["127.0.0.0/8".parse().unwrap()])
            .with_allowed_ports(PortAllowance::Any);
        assert!(auth_now(Some(&loopback), None, &allowed).is_ok());
    }

    #[test]
    fn a_masked_secret_is_kept_only_for_the_same_token_url() {
        let body = json!({"name": "n", "url": "https://hooks.example.com/a",
            "auth": credentials("kept-secret")});
        let endpoint = EndpointInput::from_json(&body, None, &policy())
            .expect("valid")
            .into_endpoint("ep_1".into(), "tn_1".into(), None, chrono::Utc::now());
        let kept = auth_now(Some(&credentials(MASK)), Some(&endpoint), &policy()).unwrap();
        let EndpointAuth::OAuth2(c) = &kept[0] else {
            panic!("OAuth2")
        };
        assert_eq!(c.client_secret, "kept-secret");
        let mut moved = credentials(MASK);
        moved["token_url"] = json!("https://elsewhere.example/token");
        let refused = auth_now(Some(&moved), Some(&endpoint), &policy()).unwrap_err();
        assert_eq!(refused.field, "auth.client_secret");
        assert_eq!(
            field_of(auth_now(Some(&credentials(MASK)), None, &policy())),
            "auth.client_secret"
        );
    }
}
