//! `alertwire keys create|list|revoke`: a tenant's API keys in the local data directory; a new key is
//! printed once, a listed key shows its id, never the key.

use alertwire_shared::embedded::Database;
use alertwire_shared::ids::{ApiKeyId, TenantId};
use alertwire_shared::ports::store::{ApiKeyStore, Revocation};
use alertwire_shared::service::{generate_api_key, hash_api_key};

use crate::cli::{KeysCreateArgs, KeysListArgs, KeysRevokeArgs};

pub async fn create(args: KeysCreateArgs) -> Result<(), String> {
    let tenant = checked_tenant(&args.tenant)?;
    let database = Database::open(&args.data_dir, false).map_err(|e| e.to_string())?;
    let key = generate_api_key();
    let id = database
        .add_key(&tenant, &hash_api_key(&key), &args.label)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the new key collided with a stored one; run the command again")?;
    println!("{key}");
    eprintln!("API key {id} for tenant `{tenant}` created; it is shown only now.");
    Ok(())
}

pub async fn list(args: KeysListArgs) -> Result<(), String> {
    let tenant = checked_tenant(&args.tenant)?;
    let database = Database::open(&args.data_dir, false).map_err(|e| e.to_string())?;
    let keys = database
        .list_keys(&tenant)
        .await
        .map_err(|e| e.to_string())?;
    for key in keys {
        println!(
            "{}  {}  {}",
            key.id,
            key.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
            key.label
        );
    }
    Ok(())
}

pub async fn revoke(args: KeysRevokeArgs) -> Result<(), String> {
    let tenant = checked_tenant(&args.tenant)?;
    let database = Database::open(&args.data_dir, false).map_err(|e| e.to_string())?;
    let id = ApiKeyId(args.id);
    match database
        .revoke_key(&tenant, &id)
        .await
        .map_err(|e| e.to_string())?
    {
        Revocation::Revoked => {
            eprintln!("API key {id} of tenant `{tenant}` revoked.");
            Ok(())
        }
        Revocation::NotFound => Err(format!("tenant `{tenant}` has no API key {id}")),
        Revocation::LastKey => Err(format!(
            "{id} is the last API key of tenant `{tenant}`: create another before revoking it"
        )),
    }
}

fn checked_tenant(tenant: &str) -> Result<TenantId, String> {
    let tenant = tenant.trim();
    if tenant.is_empty()
        || tenant.len() > 100
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err("--tenant must be 1 to 100 letters, digits, `-`, `_` or `.`".into());
    }
    Ok(TenantId::from(tenant))
}
