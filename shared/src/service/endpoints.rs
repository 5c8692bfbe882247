//! Creating, reading, replacing and deleting endpoints.

use serde_json::Value;

use super::{Service, ServiceError};
use crate::endpoint::{Endpoint, EndpointInput, SecretRotation};
use crate::ids::{EndpointId, TenantId};

/// An endpoint as a replace left it, and whether the replace set a new signing secret (which its answer
/// shows this once).
pub struct ReplacedEndpoint {
    pub endpoint: Endpoint,
    pub secret_is_new: bool,
}

impl Service {
    /// Validates and stores a new endpoint. Its answer shows the secret this once.
    pub async fn create_endpoint(
        &self,
        tenant: &TenantId,
        body: &Value,
    ) -> Result<Endpoint, ServiceError> {
        let input = EndpointInput::from_json(body, None, self.sender.policy())?;
        let endpoint = input.into_endpoint(
            EndpointId::generate(),
            tenant.clone(),
            None,
            self.clock.now(),
        );
        self.ports.endpoints.insert_endpoint(&endpoint).await?;
        Ok(endpoint)
    }

    /// Checks an unsaved endpoint definition exactly as creating it would, storing nothing: the console
    /// calls it as the user types.
    pub fn validate_endpoint(&self, body: &Value) -> Result<(), ServiceError> {
        EndpointInput::from_json(body, None, self.sender.policy())?;
        Ok(())
    }

    pub async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<Endpoint, ServiceError> {
        self.ports
            .endpoints
            .get_endpoint(tenant, id)
            .await?
            .ok_or(ServiceError::NotFound("endpoint"))
    }

    pub async fn list_endpoints(&self, tenant: &TenantId) -> Result<Vec<Endpoint>, ServiceError> {
        Ok(self.ports.endpoints.list_endpoints(tenant).await?)
    }

    /// Replaces an endpoint. Masked values keep what was stored; a new secret is shown in this answer.
    pub async fn replace_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        body: &Value,
    ) -> Result<ReplacedEndpoint, ServiceError> {
        let previous = self.get_endpoint(tenant, id).await?;
        let input = EndpointInput::from_json(body, Some(&previous), self.sender.policy())?;
        let secret_is_new = input.secret.is_some() && input.secret != previous.secret;
        let endpoint = input.into_endpoint(
            id.clone(),
            tenant.clone(),
            Some(&previous),
            self.clock.now(),
        );
        if !self
            .ports
            .endpoints
            .replace_endpoint(&endpoint, previous.version)
            .await?
        {
            return Err(ServiceError::Conflict(
                "the endpoint was changed by another request; read it again and retry".into(),
            ));
        }
        if endpoint.enabled && !previous.enabled {
            // Re-enabled by the user: the failures that disabled it are history.
            self.ports.endpoints.clear_failures(tenant, id).await?;
        }
        Ok(ReplacedEndpoint {
            endpoint,
            secret_is_new,
        })
    }

    /// Puts a new signing secret in place (generated unless `secret` is given) while the old one keeps
    /// signing beside it for `grace`. Its answer shows the new secret this once.
    pub async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
        body: &Value,
    ) -> Result<Endpoint, ServiceError> {
        let request = SecretRotation::from_json(body)?;
        let previous = self.get_endpoint(tenant, id).await?;
        let rotated = previous.with_rotated_secret(request.secret, request.grace, self.clock.now());
        if !self
            .ports
            .endpoints
            .replace_endpoint(&rotated, previous.version)
            .await?
        {
            return Err(ServiceError::Conflict(
                "the endpoint was changed by another request; read it again and retry".into(),
            ));
        }
        Ok(rotated)
    }

    pub async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<(), ServiceError> {
        if self.ports.endpoints.delete_endpoint(tenant, id).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound("endpoint"))
        }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::service::in_memory::{monday_morning, service};

    #[tokio::test]
    async fn a_rotated_out_secret_signs_until_its_grace_ends_on_the_clock() {
        let clock = Arc::new(ManualClock::starting_at(monday_morning()));
        let service = service(clock.clone());
        let tenant = TenantId::from("acme");
        let body =
            json!({"name": "signed", "url": "http://127.0.0.1:9/hook", "secret": "generate"});
        let id = service.create_endpoint(&tenant, &body).await.unwrap().id;

        // GIVEN a rotation on Monday morning with an hour of grace
        service
            .rotate_secret(&tenant, &id, &json!({"grace_period_seconds": 3600}))
            .await
            .unwrap();
        let endpoint = service.get_endpoint(&tenant, &id).await.unwrap();
        assert_eq!(
            endpoint.retiring_secrets[0].until,
            monday_morning() + chrono::Duration::hours(1)
        );

        // WHEN a minute of the grace is left THEN both secrets sign
        clock.advance(chrono::Duration::minutes(59));
        assert_eq!(endpoint.signing_secrets(clock.now()).count(), 2);

        // WHEN the hour is over THEN only the new secret signs
        clock.advance(chrono::Duration::minutes(1));
        let signing: Vec<_> = endpoint.signing_secrets(clock.now()).collect();
        assert_eq!(signing, vec![endpoint.secret.as_ref().unwrap()]);
    }
}
