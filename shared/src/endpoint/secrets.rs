//! An endpoint's secrets: which sign a request, how a rotation retires the old one, and scrubbing them
//! from whatever is shown or stored.

use chrono::{DateTime, Utc};

use crate::webhook::signing::WebhookSecret;

use super::{Endpoint, MASK, RetiringSecret, Route};

impl Endpoint {
    /// The secrets that sign a request sent at `now`: the current one first, then those still in their
    /// grace period.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> impl Iterator<Item = &WebhookSecret> {
        let retiring = self
            .retiring_secrets
            .iter()
            .filter(move |r| r.until > now)
            .map(|r| &r.secret);
        self.secret.iter().chain(retiring)
    }

    /// The retiring secrets after `new_secret` replaces the current one: the current one joins them for
    /// `grace` unless it stays, and those whose grace ended, or that came back as `new_secret`, leave.
    pub fn retire_secret(
        &self,
        new_secret: Option<&WebhookSecret>,
        grace: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Vec<RetiringSecret> {
        let replaced = self
            .secret
            .as_ref()
            .filter(|current| Some(*current) != new_secret)
            .map(|current| RetiringSecret {
                secret: current.clone(),
                until: now + grace,
            });
        self.retiring_secrets
            .iter()
            .filter(|r| r.until > now && Some(&r.secret) != new_secret)
            .cloned()
            .chain(replaced)
            .collect()
    }

    /// This endpoint with `new_secret` in place of its secret, the old one signing beside it for `grace`.
    pub fn with_rotated_secret(
        &self,
        new_secret: WebhookSecret,
        grace: chrono::Duration,
        now: DateTime<Utc>,
    ) -> Endpoint {
        Endpoint {
            retiring_secrets: self.retire_secret(Some(&new_secret), grace, now),
            secret: Some(new_secret),
            version: self.version + 1,
            updated_at: now,
            ..self.clone()
        }
    }

    /// `text` with every secret value of this endpoint replaced by the mask: for what a receiver echoes
    /// back, error messages that quote a URL, and request echoes.
    pub fn scrub(&self, text: &str) -> String {
        self.secret_values()
            .iter()
            .filter(|secret| !secret.is_empty())
            .fold(text.to_string(), |text, secret| {
                text.replace(secret.as_str(), MASK)
            })
    }

    /// Every secret string this endpoint holds, for scrubbing echoes.
    pub fn secret_values(&self) -> Vec<String> {
        let mut values: Vec<String> = self.secret.iter().map(WebhookSecret::expose).collect();
        values.extend(self.retiring_secrets.iter().map(|r| r.secret.expose()));
        values.extend(self.verification_token.iter().cloned());
        values.extend(self.auth.iter().map(|auth| auth.secret_value().to_string()));
        let overrides = [
            &self.message_types.error,
            &self.message_types.reminder,
            &self.message_types.ok,
        ];
        let override_headers = overrides.into_iter().filter_map(|r| match r {
            Route::Override(o) => o.headers.as_deref(),
            _ => None,
        });
        for headers in std::iter::once(self.headers.as_slice()).chain(override_headers) {
            values.extend(headers.iter().filter(|h| h.secret).map(|h| h.value.clone()));
        }
        values
    }
}
