//! An endpoint as the stores keep it: its JSON document with every secret value sealed (the signing
//! secret and those retiring, the verification token, the values of secret headers, the OAuth2 client
//! secret, the mTLS private key), opened again when read. Both store adapters go through here, so what is
//! sealed is decided once.

use serde_json::Value;

use super::Endpoint;
use crate::ports::secret_sealer::{SecretSealer, is_sealed};
use crate::ports::store::StoreError;

/// The document to store for `endpoint`: every secret value sealed, whatever it looks like.
pub async fn sealed_document(
    endpoint: &Endpoint,
    sealer: &dyn SecretSealer,
) -> Result<String, StoreError> {
    let mut doc = serde_json::to_value(endpoint).map_err(unreadable)?;
    for slot in secret_slots(&mut doc) {
        if let Value::String(plain) = slot {
            *slot = Value::String(sealer.seal(plain.as_bytes()).await?);
        }
    }
    Ok(doc.to_string())
}

/// The endpoint of a stored document, its sealed values opened. A plain value (stored before values
/// were sealed) is taken as it is; the next write seals it.
pub async fn open_document(doc: &str, sealer: &dyn SecretSealer) -> Result<Endpoint, StoreError> {
    let mut doc: Value = serde_json::from_str(doc).map_err(unreadable)?;
    for slot in secret_slots(&mut doc) {
        if let Value::String(text) = slot
            && is_sealed(text)
        {
            let plain = String::from_utf8(sealer.open(text).await?)
                .map_err(|_| StoreError::Corrupt("a sealed endpoint value is not text".into()))?;
            *slot = Value::String(plain);
        }
    }
    serde_json::from_value(doc).map_err(unreadable)
}

fn unreadable(e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("an endpoint document: {e}"))
}

/// Where an endpoint document holds secret values: the fields [`Endpoint::secret_values`] reads.
fn secret_slots(doc: &mut Value) -> Vec<&mut Value> {
    let mut slots = Vec::new();
    let Some(fields) = doc.as_object_mut() else {
        return slots;
    };
    for (name, value) in fields.iter_mut() {
        match name.as_str() {
            "secret" | "verification_token" => slots.push(value),
            "retiring_secrets" => slots.extend(
                value
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .filter_map(|retiring| retiring.get_mut("secret")),
            ),
            "auth" => slots.extend(
                value
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .filter_map(|auth| {
                        auth.as_object_mut()?
                            .iter_mut()
                            .find(|(name, _)| {
                                *name == "client_secret" || *name == "private_key_pem"
                            })
                            .map(|(_, value)| value)
                    }),
            ),
            "headers" => slots.extend(secret_header_values(value)),
            "message_types" => {
                let routes = value
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut());
                for headers in routes.filter_map(|route| route.get_mut("headers")) {
                    slots.extend(secret_header_values(headers));
                }
            }
            _ => {}
        }
    }
    slots
}

fn secret_header_values(headers: &mut Value) -> impl Iterator<Item = &mut Value> {
    headers
        .as_array_mut()
        .into_iter()
        .flatten()
        .filter(|header| header.get("secret") == Some(&Value::Bool(true)))
        .filter_map(|header| header.get_mut("value"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::auth::{
        ClientAuthentication, ClientCertificate, EndpointAuth, OAuth2ClientCredentials,
    };
    use crate::endpoint::{HeaderSpec, RetiringSecret, Route, RouteOverride};
    use crate::sealing::LocalSealer;
    use crate::webhook::signing::WebhookSecret;

    fn header(name: &str, value: &str, secret: bool) -> HeaderSpec {
        HeaderSpec {
            name: name.into(),
            value: value.into(),
            secret,
        }
    }

    /// An endpoint holding every kind of secret value, and a header that is not secret.
    fn endpoint_with_every_secret() -> Endpoint {
        let mut endpoint: Endpoint = serde_json::from_value(serde_json::json!({
            "id": "ep_1", "tenant": "t", "name": "n", "url": "https://example.com/hook",
            "method": "POST", "headers": [], "content_type": "application/json", "body": "{}",
            "min_severity": "info", "message_types": {"error": {"mode": "default"},
            "reminder": {"mode": "default"}, "ok": {"mode": "default"}}, "secret": null,
            "verification_token": null, "enabled": true, "disabled_reason": null, "version": 1,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        }))
        .expect("a valid endpoint document");
        endpoint.secret = Some(WebhookSecret::generate());
        endpoint.retiring_secrets = vec![RetiringSecret {
            secret: WebhookSecret::generate(),
            until: endpoint.created_at,
        }];
        endpoint.verification_token = Some("verify-token-plain".into());
        endpoint.auth = vec![
            EndpointAuth::OAuth2(OAuth2ClientCredentials {
                token_url: "https://idp.example.com/oauth/token".into(),
                client_id: "client-visible".into(),
                client_secret: "client-secret-plain".into(),
                scope: None,
                audience: None,
                client_auth: ClientAuthentication::Basic,
            }),
            EndpointAuth::Mtls(ClientCertificate {
                certificate_pem: "certificate-visible".into(),
                private_key_pem: "private-key-plain".into(),
                not_after: endpoint.created_at,
            }),
        ];
        endpoint.headers = vec![
            header("Authorization", "Bearer header-plain", true),
            header("X-Team", "team-visible", false),
        ];
        endpoint.message_types.ok = Route::Override(RouteOverride {
            headers: Some(vec![header("X-Ok-Key", "ok-header-plain", true)]),
            ..RouteOverride::default()
        });
        endpoint
    }

    #[tokio::test]
    async fn every_secret_value_is_sealed_and_opens_again() {
        let sealer = LocalSealer::generate();
        let endpoint = endpoint_with_every_secret();
        let doc = sealed_document(&endpoint, &sealer).await.unwrap();
        let secrets = endpoint.secret_values();
        assert_eq!(secrets.len(), 7);
        for secret in &secrets {
            assert!(!doc.contains(secret.as_str()), "{secret} is stored plain");
        }
        assert!(doc.contains("team-visible"), "a header that is not secret");
        assert!(doc.contains("client-visible"), "an OAuth2 client id");
        assert!(doc.contains("certificate-visible"), "a client certificate");
        assert_eq!(open_document(&doc, &sealer).await.unwrap(), endpoint);
    }

    #[tokio::test]
    async fn plain_values_from_before_sealing_still_read() {
        let endpoint = endpoint_with_every_secret();
        let plain_doc = serde_json::to_string(&endpoint).unwrap();
        let opened = open_document(&plain_doc, &LocalSealer::generate()).await;
        assert_eq!(opened.unwrap(), endpoint);
    }

    #[tokio::test]
    async fn a_value_that_looks_sealed_is_sealed_too() {
        let sealer = LocalSealer::generate();
        let mut endpoint = endpoint_with_every_secret();
        endpoint.verification_token = Some("sealed:v1:not-really".into());
        let doc = sealed_document(&endpoint, &sealer).await.unwrap();
        assert_eq!(open_document(&doc, &sealer).await.unwrap(), endpoint);
    }

    #[tokio::test]
    async fn a_document_under_another_key_is_corrupt_not_plain() {
        let doc = sealed_document(&endpoint_with_every_secret(), &LocalSealer::generate())
            .await
            .unwrap();
        let err = open_document(&doc, &LocalSealer::generate())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    }
}
