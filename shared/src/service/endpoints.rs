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
    /// Validates and stores a new endpoint (its fallback checked against the tenant's endpoints). Its answer
    /// shows the secret this once.
    pub async fn create_endpoint(
        &self,
        tenant: &TenantId,
        body: &Value,
    ) -> Result<Endpoint, ServiceError> {
        let input = EndpointInput::from_json(body, None, self.sender.policy())?;
        let id = EndpointId::generate();
        self.check_fallback(tenant, &id, input.fallback_endpoint_id.as_ref())
            .await?;
        let endpoint = input.into_endpoint(id, tenant.clone(), None, self.clock.now());
        self.ports.endpoints.insert_endpoint(&endpoint).await?;
        self.route_tables.forget(tenant);
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
        self.check_fallback(tenant, id, input.fallback_endpoint_id.as_ref())
            .await?;
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
        self.route_tables.forget(tenant);
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

    /// Deletes an endpoint, unless others name it as their fallback (a conflict naming them) or it is the
    /// tenant's operations endpoint.
    pub async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &EndpointId,
    ) -> Result<(), ServiceError> {
        self.check_no_one_falls_back_to(tenant, id).await?;
        self.check_not_named_in_settings(tenant, id).await?;
        if self.ports.endpoints.delete_endpoint(tenant, id).await? {
            self.route_tables.forget(tenant);
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
    use crate::endpoint::MASK;
    use crate::service::in_memory::{monday_morning, monday_service, service};

    fn acme() -> TenantId {
        TenantId::from("acme")
    }

    /// An endpoint definition with a secret header and a signing secret.
    fn definition(name: &str) -> Value {
        json!({"name": name, "url": "http://127.0.0.1:9/hook", "secret": "generate",
               "headers": {"Authorization": "Bearer s3cret", "X-Team": "ops"}})
    }

    /// GIVEN acme's endpoint from [`definition`].
    async fn created(service: &Service) -> Endpoint {
        service
            .create_endpoint(&acme(), &definition("pager"))
            .await
            .unwrap()
    }

    fn header<'a>(endpoint: &'a Endpoint, name: &str) -> &'a str {
        let spec = endpoint.headers.iter().find(|h| h.name == name).unwrap();
        spec.value.as_str()
    }

    fn is_not_found<T>(answer: Result<T, ServiceError>) -> bool {
        matches!(answer, Err(ServiceError::NotFound("endpoint")))
    }

    #[tokio::test]
    async fn a_created_endpoint_is_stored_at_version_one() {
        let service = monday_service();

        // WHEN an endpoint is created
        let endpoint = created(&service).await;

        // THEN it is stored as answered, at version 1, created at the clock's time, with a secret
        assert_eq!(endpoint.version, 1);
        assert_eq!(endpoint.created_at, monday_morning());
        assert!(endpoint.secret.is_some());
        assert_eq!(
            service.get_endpoint(&acme(), &endpoint.id).await.unwrap(),
            endpoint
        );
        assert_eq!(
            service.list_endpoints(&acme()).await.unwrap(),
            vec![endpoint]
        );
    }

    #[tokio::test]
    async fn an_invalid_definition_is_refused_naming_the_field_and_stores_nothing() {
        let service = monday_service();

        // WHEN an endpoint without a url is created
        let answer = service
            .create_endpoint(&acme(), &json!({"name": "pager"}))
            .await;

        // THEN it is refused on `url`, and no endpoint exists
        match answer {
            Err(ServiceError::Input(e)) => assert_eq!(e.field, "url"),
            other => panic!("expected an input error, got {other:?}"),
        }
        assert!(service.list_endpoints(&acme()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn validating_a_definition_stores_nothing() {
        let service = monday_service();

        // WHEN a good definition is validated THEN it passes and no endpoint exists
        service.validate_endpoint(&definition("pager")).unwrap();
        assert!(service.list_endpoints(&acme()).await.unwrap().is_empty());
        // AND a bad one is refused
        assert!(
            service
                .validate_endpoint(&json!({"name": "pager"}))
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_replace_bumps_the_version_and_keeps_masked_values() {
        let service = monday_service();
        let before = created(&service).await;

        // WHEN it is replaced with its secret header and signing secret masked, and a new name
        let body = json!({"name": "pager 2", "url": "http://127.0.0.1:9/hook", "secret": MASK,
                          "headers": {"Authorization": MASK, "X-Team": "sre"}});
        let replaced = service
            .replace_endpoint(&acme(), &before.id, &body)
            .await
            .unwrap();

        // THEN it is version 2 with the new name and header, the masked values as they were, and no new secret
        let after = replaced.endpoint;
        assert_eq!(after.version, 2);
        assert_eq!(after.name, "pager 2");
        assert_eq!(header(&after, "X-Team"), "sre");
        assert_eq!(header(&after, "Authorization"), "Bearer s3cret");
        assert_eq!(after.secret, before.secret);
        assert!(!replaced.secret_is_new);
        assert_eq!(
            service.get_endpoint(&acme(), &before.id).await.unwrap(),
            after
        );
    }

    #[tokio::test]
    async fn a_replace_with_a_generated_secret_says_it_is_new() {
        let service = monday_service();
        let before = created(&service).await;

        // WHEN it is replaced asking for a new secret
        let replaced = service
            .replace_endpoint(&acme(), &before.id, &definition("pager"))
            .await
            .unwrap();

        // THEN the secret changed, and the answer says so
        assert!(replaced.secret_is_new);
        assert_ne!(replaced.endpoint.secret, before.secret);
    }

    #[tokio::test]
    async fn a_rotation_bumps_the_version_and_keeps_the_old_secret_retiring() {
        let service = monday_service();
        let before = created(&service).await;

        // WHEN its secret is rotated
        let rotated = service
            .rotate_secret(&acme(), &before.id, &json!({}))
            .await
            .unwrap();

        // THEN it is version 2 with a new secret, the old one retiring beside it, as stored
        assert_eq!(rotated.version, 2);
        assert_ne!(rotated.secret, before.secret);
        assert_eq!(rotated.retiring_secrets.len(), 1);
        assert_eq!(
            Some(&rotated.retiring_secrets[0].secret),
            before.secret.as_ref()
        );
        assert_eq!(
            service.get_endpoint(&acme(), &before.id).await.unwrap(),
            rotated
        );
    }

    #[tokio::test]
    async fn a_deleted_endpoint_is_gone() {
        let service = monday_service();
        let endpoint = created(&service).await;

        // WHEN it is deleted
        service
            .delete_endpoint(&acme(), &endpoint.id)
            .await
            .unwrap();

        // THEN it is not found, and deleting it again is not found either
        assert!(is_not_found(
            service.get_endpoint(&acme(), &endpoint.id).await
        ));
        assert!(is_not_found(
            service.delete_endpoint(&acme(), &endpoint.id).await
        ));
        assert!(service.list_endpoints(&acme()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_unknown_endpoint_is_not_found_by_every_use_case() {
        let service = monday_service();
        let unknown = EndpointId::from("ep_unknown");

        // WHEN an endpoint that never existed is read, replaced, rotated or deleted THEN each is not found
        assert!(is_not_found(service.get_endpoint(&acme(), &unknown).await));
        let replace = service
            .replace_endpoint(&acme(), &unknown, &definition("x"))
            .await;
        assert!(is_not_found(replace));
        assert!(is_not_found(
            service.rotate_secret(&acme(), &unknown, &json!({})).await
        ));
        assert!(is_not_found(
            service.delete_endpoint(&acme(), &unknown).await
        ));
    }

    #[tokio::test]
    async fn another_tenant_can_neither_see_nor_change_an_endpoint() {
        let service = monday_service();
        let endpoint = created(&service).await;
        let globex = TenantId::from("globex");

        // WHEN another tenant reads, lists, replaces, rotates or deletes acme's endpoint
        // THEN it is not found to them
        assert!(is_not_found(
            service.get_endpoint(&globex, &endpoint.id).await
        ));
        assert!(service.list_endpoints(&globex).await.unwrap().is_empty());
        let replace = service
            .replace_endpoint(&globex, &endpoint.id, &definition("mine"))
            .await;
        assert!(is_not_found(replace));
        let rotate = service
            .rotate_secret(&globex, &endpoint.id, &json!({}))
            .await;
        assert!(is_not_found(rotate));
        assert!(is_not_found(
            service.delete_endpoint(&globex, &endpoint.id).await
        ));
        // AND acme's endpoint is unchanged
        assert_eq!(
            service.get_endpoint(&acme(), &endpoint.id).await.unwrap(),
            endpoint
        );
    }

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
