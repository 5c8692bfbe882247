//! `alertwire keys create`: a new API key for a tenant, printed once.

use alertwire_shared::embedded::Database;
use alertwire_shared::ids::TenantId;
use alertwire_shared::ports::store::ApiKeyStore;
use alertwire_shared::service::{generate_api_key, hash_api_key};

use crate::cli::KeysCreateArgs;

pub async fn create(args: KeysCreateArgs) -> Result<(), String> {
    let tenant = args.tenant.trim();
    if tenant.is_empty()
        || tenant.len() > 100
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err("--tenant must be 1 to 100 letters, digits, `-`, `_` or `.`".into());
    }
    let database = Database::open(&args.data_dir, false).map_err(|e| e.to_string())?;
    let key = generate_api_key();
    database
        .add_key(&TenantId::from(tenant), &hash_api_key(&key), &args.label)
        .await
        .map_err(|e| e.to_string())?;
    println!("{key}");
    eprintln!("API key for tenant `{tenant}` created; it is shown only now.");
    Ok(())
}
