//! Online backup and restore of the embedded database, through SQLite's backup API.
//!
//! A backup holds one read transaction on the database for its whole length, so it copies one consistent
//! snapshot. In WAL mode, readers never block the writer, so `serve` goes on taking alerts. It copies a
//! few pages at a time, with a pause between steps, into a new file that takes the backup's name only
//! once it is complete and checked. The key file that seals endpoint secrets is not in the backup; keep
//! it apart.
//!
//! A restore writes a backup over the data directory's database in one go. It holds the serving lock
//! while it does, so it is refused while a server runs there, and no server can start meanwhile. The
//! next `serve` recovers the restored queue as after a crash, so pending deliveries resume.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, Progress};
use rusqlite::{Connection, MAIN_DB, OpenFlags};

use super::OpenError;
use super::database::{DATABASE_FILE, holds_sealed_values, take_serving_lock};
use super::schema::{SchemaError, check_version};
use crate::sealing::KEY_FILE;

/// Pages copied by one step of a backup (1 MiB of 4 KiB pages), and the pause after each.
const PAGES_PER_STEP: i32 = 256;
const PAUSE: Duration = Duration::from_millis(5);
/// How long the backup waits for a lock the server holds (only for the first read of the file).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a backup or restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub schema_version: i64,
    /// Deliveries in it, and those of them still pending (resumed by the next `serve`).
    pub deliveries: u64,
    pub pending: u64,
    pub took: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("there is no database in {0}: nothing to back up")]
    NoDatabase(PathBuf),
    #[error("{0} exists already: give a new file, a backup never overwrites one")]
    Exists(PathBuf),
    #[error("{path} is not an alertwire backup: {reason}")]
    NotABackup { path: PathBuf, reason: String },
    #[error(
        "the backup holds sealed endpoint secrets and {0} has no secrets.key: give the key of the data directory the backup was taken from with --secrets-key"
    )]
    MissingKey(PathBuf),
    #[error("another alertwire process is serving from {0}: stop it, then restore")]
    Serving(PathBuf),
    #[error(transparent)]
    Open(OpenError),
    #[error("{path}: {source}")]
    Schema { path: PathBuf, source: SchemaError },
    #[error("{path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Copies the database of `data_dir` into the new file `to`, while a server may be running there.
pub fn backup(data_dir: &Path, to: &Path) -> Result<Copied, BackupError> {
    let started = Instant::now();
    let database = data_dir.join(DATABASE_FILE);
    if !database.exists() {
        return Err(BackupError::NoDatabase(data_dir.to_path_buf()));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let source = Connection::open_with_flags(
        &database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite(&database))?;
    source
        .busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite(&database))?;
    // One snapshot for the whole copy: a step that finds the transaction open reads within it, and
    // never starts over because the server wrote meanwhile.
    source
        .execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
        .map_err(sqlite(&database))?;
    let schema_version = check_version(&source).map_err(|source| BackupError::Schema {
        path: database.clone(),
        source,
    })?;
    let partial = with_suffix(to, ".partial");
    let _ = std::fs::remove_file(&partial);
    let copied = copy_into(&source, &partial);
    let _ = source.execute_batch("COMMIT");
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let counts = check(&partial)?;
    File::open(&partial)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&partial, to))
        .map_err(io(to))?;
    Ok(Copied {
        bytes: std::fs::metadata(to).map_err(io(to))?.len(),
        schema_version,
        deliveries: counts.0,
        pending: counts.1,
        took: started.elapsed(),
    })
}

/// The snapshot `source` reads, copied into a new file at `path` that keeps no journal beside it.
fn copy_into(source: &Connection, path: &Path) -> Result<(), BackupError> {
    let mut target = Connection::open(path).map_err(sqlite(path))?;
    {
        let backup = Backup::new(source, &mut target).map_err(sqlite(path))?;
        backup
            .run_to_completion(PAGES_PER_STEP, PAUSE, None)
            .map_err(sqlite(path))?;
    }
    // The copy carries the server's WAL mode; a backup is one self-contained file.
    target
        .pragma_update(None, "journal_mode", "DELETE")
        .map_err(sqlite(path))?;
    Ok(())
}

/// Writes the backup `from` over the database of `data_dir`, refused while a server holds the directory.
/// `secrets_key`: the key file of the directory the backup was taken from, copied in beside it.
pub fn restore(
    data_dir: &Path,
    from: &Path,
    secrets_key: Option<&Path>,
) -> Result<Copied, BackupError> {
    let started = Instant::now();
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let _lock = take_serving_lock(data_dir).map_err(|e| match e {
        OpenError::Locked(dir) => BackupError::Serving(dir),
        other => BackupError::Open(other),
    })?;
    let counts = check(from)?;
    let (schema_version, sealed) = {
        let backup = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sqlite(from))?;
        let version = check_version(&backup).map_err(|source| BackupError::Schema {
            path: from.to_path_buf(),
            source,
        })?;
        (version, holds_sealed_values(&backup).map_err(sqlite(from))?)
    };
    let key_file = data_dir.join(KEY_FILE);
    match secrets_key {
        Some(key) => copy_key(key, &key_file)?,
        None if sealed && !key_file.exists() => {
            return Err(BackupError::MissingKey(data_dir.to_path_buf()));
        }
        None => {}
    }
    let database = data_dir.join(DATABASE_FILE);
    let mut target = Connection::open(&database).map_err(sqlite(&database))?;
    target
        .restore(MAIN_DB, from, None::<fn(Progress)>)
        .map_err(sqlite(&database))?;
    Ok(Copied {
        bytes: std::fs::metadata(from).map_err(io(from))?.len(),
        schema_version,
        deliveries: counts.0,
        pending: counts.1,
        took: started.elapsed(),
    })
}

/// Checks that `path` is a whole alertwire database; returns its deliveries and pending deliveries.
fn check(path: &Path) -> Result<(u64, u64), BackupError> {
    let not_a_backup = |reason: String| BackupError::NotABackup {
        path: path.to_path_buf(),
        reason,
    };
    if !path.exists() {
        return Err(not_a_backup("no such file".into()));
    }
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| not_a_backup(e.to_string()))?;
    let verdict: String = connection
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| not_a_backup(e.to_string()))?;
    if verdict != "ok" {
        return Err(not_a_backup(format!("the integrity check says {verdict}")));
    }
    connection
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE status = 'pending') FROM deliveries",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )
        .map_err(|e| not_a_backup(format!("it has no deliveries table ({e})")))
}

/// Copies the key file in, readable by its owner only.
fn copy_key(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::copy(from, to).map_err(io(from))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).map_err(io(to))?;
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn sqlite(path: &Path) -> impl Fn(rusqlite::Error) -> BackupError + '_ {
    move |source| BackupError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}
