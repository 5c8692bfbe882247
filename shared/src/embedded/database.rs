//! The database handle: opening (with an exclusive lock on the data directory for the serving process),
//! pragmas, schema, and running blocking SQLite work off the async runtime.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::schema::SCHEMA;
use crate::store::StoreError;

#[derive(Clone)]
pub struct Database {
    connection: Arc<Mutex<Connection>>,
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
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
            _lock: lock,
        })
    }

    /// Runs `work` on a blocking thread with the connection.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("the database task failed: {e}")))?
    }
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
