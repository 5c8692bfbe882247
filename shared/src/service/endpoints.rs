//! Creating, reading, replacing and deleting endpoints.

use chrono::Utc;
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
        let endpoint =
            input.into_endpoint(EndpointId::generate(), tenant.clone(), None, Utc::now());
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
        let endpoint = input.into_endpoint(id.clone(), tenant.clone(), Some(&previous), Utc::now());
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
        let rotated = previous.with_rotated_secret(request.secret, request.grace, Utc::now());
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
