//! `alertwire backup` and `alertwire restore`: the embedded database copied out while `serve` runs, and
//! written back while it does not; what was copied is printed.

use alertwire_shared::embedded::backup::{self, Copied};

use crate::cli::{BackupArgs, RestoreArgs};

pub async fn backup(args: BackupArgs) -> Result<(), String> {
    let copied = tokio::task::spawn_blocking(move || backup::backup(&args.data_dir, &args.to))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    println!("backed up: {}", summary(&copied));
    eprintln!(
        "secrets.key is not in the backup: keep a copy of it apart (it stays the same from one backup to the next)."
    );
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> Result<(), String> {
    let copied = tokio::task::spawn_blocking(move || {
        backup::restore(&args.data_dir, &args.from, args.secrets_key.as_deref())
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    println!("restored: {}", summary(&copied));
    eprintln!("the next `alertwire serve` resumes the pending deliveries.");
    Ok(())
}

fn summary(copied: &Copied) -> String {
    format!(
        "{} bytes, schema version {}, {} deliveries ({} pending), in {} ms",
        copied.bytes,
        copied.schema_version,
        copied.deliveries,
        copied.pending,
        copied.took.as_millis()
    )
}
