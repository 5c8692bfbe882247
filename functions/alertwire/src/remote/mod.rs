//! The everyday operations against a running alertwire, local or behind API Gateway, through its public
//! HTTP API only: endpoints, deliveries, resend and dead-letter replay. One module per resource.

mod client;
mod dead_letters;
mod deliveries;
mod endpoints;
mod output;

pub use client::ApiClient;

use crate::cli::{DeadLettersCommand, DeliveriesCommand, EndpointsCommand, RemoteArgs};

pub async fn endpoints(remote: RemoteArgs, command: EndpointsCommand) -> Result<(), String> {
    endpoints::run(&ApiClient::new(&remote)?, remote.json, command).await
}

pub async fn deliveries(remote: RemoteArgs, command: DeliveriesCommand) -> Result<(), String> {
    deliveries::run(&ApiClient::new(&remote)?, remote.json, command).await
}

pub async fn resend(remote: RemoteArgs, id: String) -> Result<(), String> {
    deliveries::resend(&ApiClient::new(&remote)?, remote.json, &id).await
}

pub async fn dead_letters(remote: RemoteArgs, command: DeadLettersCommand) -> Result<(), String> {
    dead_letters::run(&ApiClient::new(&remote)?, remote.json, command).await
}
