//! The database handle: opening (with an exclusive lock on the data directory for the serving process),
//! pragmas, schema, and group commit: one thread owns the connection and runs the work of concurrent
//! callers in one transaction, answering each of them only once that transaction is committed (and, with
//! `synchronous=FULL`, synced). Each caller's work runs in a savepoint of its own, so one that fails is
//! rolled back alone; a failed commit fails every caller of the batch.

use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::schema::SCHEMA;
use crate::store::StoreError;

/// Called once the batch a unit of work ran in is committed, with the commit's error if it failed.
type Completion = Box<dyn FnOnce(Option<&str>) + Send>;
/// A caller's work, run on the database thread inside the batch's transaction.
type Unit = Box<dyn FnOnce(&mut Connection) -> Completion + Send>;

/// Most units of work committed together.
const MAX_BATCH: usize = 256;

#[derive(Clone)]
pub struct Database {
    units: mpsc::Sender<Unit>,
    /// Held for the life of a serving process so two servers never share a queue.
    _lock: Option<Arc<File>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another alertwire process is serving from {0}")]
    Locked(PathBuf),
    #[error("cannot open the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot lock the data directory: {0}")]
    Lock(std::io::Error),
    #[error("cannot start the database thread: {0}")]
    Thread(std::io::Error),
}

impl Database {
    /// Opens `dir/alertwire.db`. `exclusive` takes the serving lock (`alertwire serve`); tools such as
    /// `alertwire keys create` open without it.
    pub fn open(dir: &Path, exclusive: bool) -> Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = if exclusive {
            let file = File::create(dir.join("serve.lock")).map_err(OpenError::Lock)?;
            match file.try_lock() {
                Ok(()) => Some(Arc::new(file)),
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(OpenError::Locked(dir.to_path_buf()));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(OpenError::Lock(e)),
            }
        } else {
            None
        };
        let connection = Connection::open(dir.join("alertwire.db"))?;
        Self::prepare(connection, lock)
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<Self, OpenError> {
        Self::prepare(Connection::open_in_memory()?, None)
    }

    fn prepare(connection: Connection, lock: Option<Arc<File>>) -> Result<Self, OpenError> {
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // An accepted alert must survive power loss, not only a crash of this process.
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(SCHEMA)?;
        let (units, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("alertwire-sqlite".into())
            .spawn(move || commit_in_groups(connection, queue))
            .map_err(OpenError::Thread)?;
        Ok(Self { units, _lock: lock })
    }

    /// Runs `work` with the connection on the database thread, inside a transaction it may share with
    /// the work of other callers; returns once that transaction is committed. `work` must not begin a
    /// transaction itself: it uses `savepoint()` where it needs its writes to be all or nothing.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let unit: Unit = Box::new(move |connection| {
            let result = in_savepoint(connection, work);
            Box::new(move |commit_error| {
                let _ = reply.send(match commit_error {
                    None => result,
                    Some(e) => Err(StoreError::Backend(format!("the commit failed: {e}"))),
                });
            })
        });
        self.units
            .send(unit)
            .map_err(|_| StoreError::Backend("the database thread has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the database thread has stopped".into()))?
    }
}

/// The database thread: takes every unit of work waiting (up to [`MAX_BATCH`]), runs them in one
/// transaction, commits, then answers them all. Ends when every handle is dropped.
fn commit_in_groups(mut connection: Connection, units: mpsc::Receiver<Unit>) {
    while let Ok(first) = units.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match units.try_recv() {
                Ok(unit) => batch.push(unit),
                Err(_) => break,
            }
        }
        // If the transaction cannot begin, each unit's savepoint is a transaction of its own.
        let grouped = connection.execute_batch("BEGIN IMMEDIATE").is_ok();
        let completions: Vec<Completion> = batch
            .into_iter()
            .map(|unit| unit(&mut connection))
            .collect();
        let commit_error = if grouped {
            connection.execute_batch("COMMIT").err().map(|e| {
                let _ = connection.execute_batch("ROLLBACK");
                e.to_string()
            })
        } else {
            None
        };
        for complete in completions {
            complete(commit_error.as_deref());
        }
    }
}

/// Runs `work` in a savepoint: released if it succeeds, rolled back if it fails or panics.
fn in_savepoint<T, F>(connection: &mut Connection, work: F) -> Result<T, StoreError>
where
    F: FnOnce(&mut Connection) -> Result<T, StoreError>,
{
    connection.execute_batch("SAVEPOINT unit")?;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(connection)))
        .unwrap_or_else(|_| Err(StoreError::Backend("the database work panicked".into())));
    let end = if result.is_ok() {
        "RELEASE unit"
    } else {
        "ROLLBACK TO unit; RELEASE unit"
    };
    connection.execute_batch(end)?;
    result
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
