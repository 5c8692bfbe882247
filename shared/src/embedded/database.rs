//! The database handle: opening (with an exclusive lock on the data directory for the serving process),
//! pragmas, schema, and group commit: one thread owns the connection and runs the work of concurrent
//! callers in one transaction, answering each of them only once that transaction is committed (and, with
//! `synchronous=FULL`, synced). Each caller's work is all or nothing: one that fails is rolled back alone
//! (the first of a batch by rolling the transaction back and beginning it again, the others to a savepoint
//! of their own); a failed commit fails every caller of the batch. Reads that need no transaction of
//! their own go to a few read-only connections instead (WAL lets them read beside the writer), so a read
//! never waits for another caller's commit and sync.

use std::fs::File;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::Connection;
use tokio::sync::{Notify, oneshot};

use super::hand_off::HandOff;
use super::schema::{SCHEMA_VERSION, SchemaError, Upgrade, check_version, upgrade};
use crate::endpoint::OpenedDocuments;
use crate::ports::secret_sealer::{SEALED_PREFIX, SecretSealer};
use crate::ports::store::{StoreError, WriteCondition, WriteTrouble};
use crate::sealing::{KeyFileError, LocalSealer};

/// Called once the batch a unit of work ran in is committed, with the commit's error if it failed.
type Completion = Box<dyn FnOnce(Option<&CommitFailure>) + Send>;
/// A caller's work, run on the database thread inside the batch's transaction, undone as [`Undo`] says if
/// it fails.
type Unit = Box<dyn FnOnce(&mut Connection, Undo) -> Completion + Send>;

/// How the writes of a unit of work that fails are taken back, leaving those of the units before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Undo {
    /// Nothing else is written in the transaction yet: rolling it back undoes the unit alone, so the unit
    /// needs no savepoint, whose statements SQLite runs and whose changed pages it copies into a statement
    /// journal first. A unit that comes alone (an alert while nothing else is in flight) skips them all.
    RollBack,
    /// Units before it wrote in the transaction: a savepoint of its own.
    ToSavepoint,
}

/// What a unit of work answers: its writes kept, or taken back with an answer all the same (a write that
/// turned out not to apply once it had begun).
pub(super) enum Written<T> {
    Kept(T),
    Undone(T),
}

/// The database file in a data directory.
pub(super) const DATABASE_FILE: &str = "alertwire.db";
/// The file a serving process holds locked in its data directory.
const LOCK_FILE: &str = "serve.lock";

/// Most units of work committed together.
const MAX_BATCH: usize = 256;
/// How long a connection waits for a lock another connection holds (recovery, `alertwire keys create`).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Read-only connections (and their threads) beside the writer.
const READERS: usize = 2;
/// Statements each connection keeps prepared. rusqlite's default of 16 is fewer than the writer runs for
/// one delivered alert, so statements were evicted and parsed again (1–2 % of the server's CPU).
const STATEMENT_CACHE: usize = 128;

#[derive(Clone)]
pub struct Database {
    units: mpsc::Sender<Unit>,
    /// None for an in-memory database, whose reads go through the writer (it has no file to share).
    readers: Option<Arc<Readers>>,
    /// Notified when tasks are queued, by the queue or by the store writing an alert with its tasks.
    queue_wakeup: Arc<Notify>,
    /// Whether an [`EmbeddedQueue`](super::EmbeddedQueue) works on this database, so the store may queue
    /// an alert's tasks in the alert's own transaction. Not when the store serves beside another queue.
    queue_attached: Arc<AtomicBool>,
    /// Where an alert's write hands its tasks to a worker that has caught up with the queue.
    pub(super) hand_off: Arc<HandOff>,
    /// Seals an endpoint's secret values before they are written, under the data directory's key file.
    pub(super) sealer: Arc<dyn SecretSealer>,
    /// The endpoints read lately, opened: an attempt reads its endpoint, seldom changed.
    pub(super) opened_endpoints: Arc<OpenedDocuments>,
    /// The database file; None in memory.
    path: Option<Arc<PathBuf>>,
    /// What failed the last commit (a full disk, an I/O error), until one goes through.
    trouble: Arc<LastCommit>,
    /// Held for the life of a serving process so two servers never share a queue.
    _lock: Option<Arc<File>>,
}

/// What a commit survives before it is answered: the trade between a synced write per commit and speed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Every commit is synced to the disk before it is answered (`synchronous=FULL`): an accepted alert
    /// survives power loss and a crash of the machine. The default.
    #[default]
    Machine,
    /// Commits are written to the write-ahead log and synced only at checkpoints (`synchronous=NORMAL`):
    /// an accepted alert survives a crash of the process (`kill -9`, a panic), but the last commits
    /// before a power loss or a crash of the machine may be lost. The database stays consistent either way.
    Process,
}

impl Durability {
    fn synchronous(self) -> &'static str {
        match self {
            Durability::Machine => "FULL",
            Durability::Process => "NORMAL",
        }
    }
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
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error("{path}: {source}")]
    Schema { path: PathBuf, source: SchemaError },
}

impl Database {
    /// Opens `dir/alertwire.db`, its secret values sealed under `dir/secrets.key` (created with the
    /// database; refused if missing once values are sealed). `exclusive` takes the serving lock
    /// (`alertwire serve`); tools such as `alertwire keys create` open without it.
    pub fn open(dir: &Path, exclusive: bool) -> Result<Self, OpenError> {
        Self::open_with(dir, exclusive, Durability::default())
    }

    /// [`Database::open`], its commits as durable as `durability` says.
    pub fn open_with(
        dir: &Path,
        exclusive: bool,
        durability: Durability,
    ) -> Result<Self, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = if exclusive {
            Some(Arc::new(take_serving_lock(dir)?))
        } else {
            None
        };
        let path = dir.join(DATABASE_FILE);
        let connection = Connection::open(&path)?;
        prepare_schema(&connection).map_err(|source| OpenError::Schema {
            path: path.clone(),
            source,
        })?;
        connection.pragma_update(None, "synchronous", durability.synchronous())?;
        if exclusive {
            give_free_pages_back(&connection)?;
        }
        let sealer = crate::sealing::load_or_create(dir, holds_sealed_values(&connection)?)?;
        let mut database = Self::prepare(connection, lock, Arc::new(sealer))?;
        // Opened after the writer has set WAL mode and created the schema.
        database.readers = Some(Arc::new(Readers::open(&path)?));
        database.path = Some(Arc::new(path));
        Ok(database)
    }

    /// A private in-memory database, for tests; its values sealed under a key that dies with it.
    pub fn in_memory() -> Result<Self, OpenError> {
        let connection = Connection::open_in_memory()?;
        prepare_schema(&connection).map_err(|source| OpenError::Schema {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::prepare(connection, None, Arc::new(LocalSealer::generate()))
    }

    fn prepare(
        connection: Connection,
        lock: Option<Arc<File>>,
        sealer: Arc<dyn SecretSealer>,
    ) -> Result<Self, OpenError> {
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let (units, queue) = mpsc::channel();
        let trouble = Arc::new(LastCommit::default());
        let last_commit = trouble.clone();
        std::thread::Builder::new()
            .name("alertwire-sqlite".into())
            .spawn(move || commit_in_groups(connection, queue, &last_commit))
            .map_err(OpenError::Thread)?;
        Ok(Self {
            units,
            readers: None,
            queue_wakeup: Arc::new(Notify::new()),
            queue_attached: Arc::new(AtomicBool::new(false)),
            hand_off: Arc::default(),
            sealer,
            opened_endpoints: Arc::default(),
            path: None,
            trouble,
            _lock: lock,
        })
    }

    /// Writes nothing that matters, to learn whether the store can write again after a failed commit.
    pub async fn probe_write(&self) -> Result<(), StoreError> {
        self.run(|c| {
            c.prepare_cached("UPDATE queue_depth SET tasks = tasks WHERE queue = 'main'")?
                .execute([])?;
            Ok(())
        })
        .await
    }

    /// Bytes the database takes on disk: its file and its write-ahead log; None in memory.
    pub fn disk_bytes(&self) -> Option<u64> {
        let path = self.path.as_ref()?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        Some(size(path) + size(Path::new(&wal)))
    }

    /// Notified whenever tasks are queued, so a worker need not poll hard.
    pub fn queue_wakeup(&self) -> Arc<Notify> {
        self.queue_wakeup.clone()
    }

    /// Marks this database as holding the task queue (done by [`EmbeddedQueue::new`](super::EmbeddedQueue)).
    pub(super) fn attach_queue(&self) {
        self.queue_attached.store(true, Ordering::Release);
    }

    /// Whether the task queue is in this database.
    pub(super) fn holds_queue(&self) -> bool {
        self.queue_attached.load(Ordering::Acquire)
    }

    /// Runs a read with a read-only connection on a reader thread, in a read transaction of its own: its
    /// statements see one snapshot, which holds every commit answered so far.
    pub async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let Some(readers) = self.readers.clone() else {
            return self.run(move |c| work(c)).await;
        };
        readers.run(work).await
    }

    /// Runs `work` with the connection on the database thread, inside a transaction it may share with
    /// the work of other callers; returns once that transaction is committed. Its writes are all or
    /// nothing: an error (or a panic) takes back what it wrote, and only that. `work` must not begin or end
    /// a transaction itself.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_then(work, |done| done).await
    }

    /// [`Database::run`], `committed` applied to what `work` returned on the database thread once the
    /// transaction is committed, whether or not the caller still waits for the answer (the client of a
    /// request may have gone away meanwhile).
    pub(super) async fn run_then<T, U, F, C>(&self, work: F, committed: C) -> Result<U, StoreError>
    where
        T: Send + 'static,
        U: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
        C: FnOnce(T) -> U + Send + 'static,
    {
        self.submit(move |c| work(c).map(Written::Kept), committed)
            .await
    }

    /// [`Database::run`] for work that may take back what it wrote and still answer
    /// ([`Written::Undone`]).
    pub(super) async fn run_undoable<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<Written<T>, StoreError> + Send + 'static,
    {
        self.submit(work, |done| done).await
    }

    /// Sends `work` to the database thread, to run in the next batch; answers once that batch is
    /// committed, with `committed` applied to what `work` answered.
    async fn submit<T, U, F, C>(&self, work: F, committed: C) -> Result<U, StoreError>
    where
        T: Send + 'static,
        U: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<Written<T>, StoreError> + Send + 'static,
        C: FnOnce(T) -> U + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let unit: Unit = Box::new(move |connection, undo| {
            let result = all_or_nothing(connection, undo, work);
            Box::new(move |commit_error| {
                let _ = reply.send(match commit_error {
                    None => result.map(committed),
                    Some(failure) => Err(failure.to_store_error()),
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

/// A read, run on a reader thread with its connection.
type Read = Box<dyn FnOnce(&Connection) + Send>;

/// The read-only connections, each owned by a thread of its own that takes reads from a shared channel:
/// cheaper than a blocking-pool thread per read, which the pool spawns and parks by the dozen under load.
struct Readers {
    reads: mpsc::Sender<Read>,
}

/// Locks `dir` for one process: a server for its whole life, a restore while it writes. Released when
/// the file is closed, by the process's exit too.
pub(super) fn take_serving_lock(dir: &Path) -> Result<File, OpenError> {
    let file = File::create(dir.join(LOCK_FILE)).map_err(OpenError::Lock)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::Locked(dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(OpenError::Lock(e)),
    }
}

/// The schema version check, pragmas and migrations, before anything else uses the connection. A file
/// from a newer alertwire is refused before the first write (switching it to WAL is one).
fn prepare_schema(connection: &Connection) -> Result<(), SchemaError> {
    let version = check_version(connection)?;
    // Pages freed by the pruner go back to the file system. Only a file with no table yet takes the
    // setting like this; an older one is converted by [`give_free_pages_back`].
    connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    // An accepted alert must survive power loss, not only a crash of this process, unless the operator
    // chose otherwise (`Durability::Process`, set after this).
    connection.pragma_update(None, "synchronous", Durability::Machine.synchronous())?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Each caller's savepoint inside a group's transaction keeps the pages it changes in a statement
    // journal; in memory, not in a temporary file opened and unlinked for every group.
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    if version < SCHEMA_VERSION
        && let Upgrade::Upgraded { from } = upgrade(connection)?
    {
        tracing::info!(from, to = SCHEMA_VERSION, "database schema upgraded");
    }
    Ok(())
}

/// A file made before the pruner (with `auto_vacuum = NONE`) is rebuilt once with `VACUUM` so that it
/// can give the pages of pruned history back; logged, as it takes a while on a large file.
fn give_free_pages_back(connection: &Connection) -> rusqlite::Result<()> {
    let mode: i64 = connection.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    if mode == 2 {
        return Ok(());
    }
    tracing::info!("rebuilding the database once so that pruned history frees disk space (VACUUM)");
    connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    connection.execute_batch("VACUUM")
}

/// Whether any endpoint document holds a sealed value, so its key must exist already.
pub(super) fn holds_sealed_values(connection: &Connection) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM endpoints WHERE instr(doc, ?1) > 0)",
        [format!("\"{SEALED_PREFIX}")],
        |r| r.get(0),
    )
}

impl Readers {
    fn open(path: &Path) -> Result<Self, OpenError> {
        let (reads, queue) = mpsc::channel::<Read>();
        let queue = Arc::new(Mutex::new(queue));
        let open_read_only = || -> Result<Connection, OpenError> {
            let connection = Connection::open(path)?;
            connection.pragma_update(None, "query_only", "ON")?;
            connection.busy_timeout(BUSY_TIMEOUT)?;
            connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            Ok(connection)
        };
        for n in 0..READERS {
            let connection = open_read_only()?;
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("alertwire-read-{n}"))
                .spawn(move || serve_reads(&connection, &queue))
                .map_err(OpenError::Thread)?;
        }
        Ok(Self { reads })
    }

    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let read: Read = Box::new(move |connection| {
            let _ = reply.send(in_snapshot(connection, work));
        });
        self.reads
            .send(read)
            .map_err(|_| StoreError::Backend("the database readers have stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the database read stopped".into()))?
    }
}

/// A reader thread: runs reads until every handle is dropped.
fn serve_reads(connection: &Connection, queue: &Mutex<mpsc::Receiver<Read>>) {
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .recv();
        let Ok(read) = next else { return };
        // A read that panics loses only its own answer.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| read(connection)));
    }
}

/// Runs `work` in a read transaction, so its statements see one snapshot.
fn in_snapshot<T>(
    connection: &Connection,
    work: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    // A read that panicked on this connection left its transaction open.
    if !connection.is_autocommit() {
        let _ = connection.execute_batch("ROLLBACK");
    }
    // Cached statements, as for the writer's savepoints: parsing them was most of a short read's parsing.
    execute_cached(connection, "BEGIN")?;
    let result = work(connection);
    // Ending a read transaction cannot lose anything; a failure to end it surfaces on the next begin.
    let _ = execute_cached(connection, "COMMIT");
    result
}

/// A commit that failed, as each unit of its batch is told.
struct CommitFailure {
    trouble: Option<WriteTrouble>,
    detail: String,
}

impl CommitFailure {
    fn new(error: &rusqlite::Error) -> Self {
        let trouble = match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => Some(WriteTrouble::DiskFull),
            Some(rusqlite::ErrorCode::SystemIoFailure) => Some(WriteTrouble::Io),
            _ => None,
        };
        Self {
            trouble,
            detail: error.to_string(),
        }
    }

    fn to_store_error(&self) -> StoreError {
        let detail = format!("the commit failed: {}", self.detail);
        match self.trouble {
            Some(trouble) => StoreError::Unwritable { trouble, detail },
            None => StoreError::Backend(detail),
        }
    }
}

/// What the last commit that wrote met: nothing (0), a full disk, an I/O error.
#[derive(Default)]
struct LastCommit(AtomicU8);

impl LastCommit {
    /// Records a commit's result. A commit that changed nothing says nothing about the disk (an idle
    /// worker's look at the queue), nor does a failure that is not the disk's.
    fn record(&self, failure: Option<&CommitFailure>, changed: bool) {
        let code = match failure.map(|f| f.trouble) {
            None if changed => 0,
            Some(Some(WriteTrouble::DiskFull)) => 1,
            Some(Some(WriteTrouble::Io)) => 2,
            _ => return,
        };
        self.0.store(code, Ordering::Relaxed);
    }
}

impl WriteCondition for Database {
    fn write_trouble(&self) -> Option<WriteTrouble> {
        match self.trouble.0.load(Ordering::Relaxed) {
            1 => Some(WriteTrouble::DiskFull),
            2 => Some(WriteTrouble::Io),
            _ => None,
        }
    }
}

/// The database thread: takes every unit of work waiting (up to [`MAX_BATCH`]), runs them in one
/// transaction, commits, then answers them all, and records what the commit met. Ends when every handle
/// is dropped.
fn commit_in_groups(mut connection: Connection, units: mpsc::Receiver<Unit>, last: &LastCommit) {
    while let Ok(first) = units.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match units.try_recv() {
                Ok(unit) => batch.push(unit),
                Err(_) => break,
            }
        }
        // If the transaction cannot begin, each unit's savepoint is a transaction of its own.
        let grouped = execute_cached(&connection, "BEGIN IMMEDIATE").is_ok();
        let changes_before = connection.total_changes();
        let completions: Vec<Completion> = batch
            .into_iter()
            .enumerate()
            .map(|(n, unit)| {
                let undo = if grouped && n == 0 {
                    Undo::RollBack
                } else {
                    Undo::ToSavepoint
                };
                unit(&mut connection, undo)
            })
            .collect();
        // Still in the transaction unless the first unit rolled it back and it could not begin again (the
        // units after it were then transactions of their own).
        let commit_failure = if !connection.is_autocommit() {
            let changed = connection.total_changes() != changes_before;
            let failure = execute_cached(&connection, "COMMIT")
                .err()
                .map(|e| CommitFailure::new(&e));
            last.record(failure.as_ref(), changed);
            if failure.is_some() {
                let _ = connection.execute_batch("ROLLBACK");
            }
            failure
        } else {
            None
        };
        for complete in completions {
            complete(commit_failure.as_ref());
        }
    }
}

/// Runs a statement without parameters, prepared once per connection.
fn execute_cached(connection: &Connection, sql: &str) -> rusqlite::Result<usize> {
    connection.prepare_cached(sql)?.execute([])
}

/// Runs a unit's `work` so that it is all or nothing: what it wrote is kept if it answers
/// [`Written::Kept`], taken back as `undo` says if it fails, panics or answers [`Written::Undone`].
fn all_or_nothing<T, F>(connection: &mut Connection, undo: Undo, work: F) -> Result<T, StoreError>
where
    F: FnOnce(&mut Connection) -> Result<Written<T>, StoreError>,
{
    // Cached statements: parsing these for every unit of work was a tenth of the thread's time.
    if undo == Undo::ToSavepoint {
        execute_cached(connection, "SAVEPOINT unit")?;
    }
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| work(connection)))
        .unwrap_or_else(|_| Err(StoreError::Backend("the database work panicked".into())));
    let keep = matches!(result, Ok(Written::Kept(_)));
    match undo {
        Undo::ToSavepoint => {
            if !keep {
                execute_cached(connection, "ROLLBACK TO unit")?;
            }
            execute_cached(connection, "RELEASE unit")?;
        }
        Undo::RollBack if !keep => {
            execute_cached(connection, "ROLLBACK")?;
            // The units after it share a transaction again; if it cannot begin, each is one of its own.
            let _ = execute_cached(connection, "BEGIN IMMEDIATE");
        }
        Undo::RollBack => {}
    }
    result.map(|written| match written {
        Written::Kept(answer) | Written::Undone(answer) => answer,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The `synchronous` setting of the connection that commits, as SQLite numbers it (2 FULL, 1 NORMAL).
    async fn synchronous_of(database: &Database) -> i64 {
        database
            .run(|c| Ok(c.pragma_query_value(None, "synchronous", |r| r.get(0))?))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn commits_are_synced_unless_the_operator_chose_process_durability() {
        let dir = std::env::temp_dir().join(format!(
            "alertwire-durability-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        ));
        // GIVEN a database opened by default THEN its commits are synced (FULL)
        let database = Database::open(&dir, false).unwrap();
        assert_eq!(synchronous_of(&database).await, 2);
        drop(database);

        // GIVEN the same file opened with process durability THEN commits wait for checkpoints (NORMAL)
        let database = Database::open_with(&dir, false, Durability::Process).unwrap();
        assert_eq!(synchronous_of(&database).await, 1);
        drop(database);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_read_that_panicked_mid_snapshot_leaves_its_connection_fit_for_the_next() {
        let connection = Connection::open_in_memory().unwrap();
        // GIVEN a read that panics inside its snapshot, as a reader thread catches it
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            in_snapshot(&connection, |c| -> Result<(), StoreError> {
                c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
                panic!("a read that fails");
            })
        }));
        assert!(panicked.is_err());
        // WHEN the connection's next read begins its snapshot THEN it runs
        let next = in_snapshot(&connection, |c| {
            Ok(c.query_row("SELECT 2", [], |r| r.get::<_, i64>(0))?)
        });
        assert_eq!(next.unwrap(), 2);
        assert!(connection.is_autocommit(), "the snapshot was ended");
    }

    #[test]
    fn sqlite_is_built_without_its_memory_statistics() {
        // `.cargo/config.toml` sets the option for rusqlite's bundled build: without it, every allocation
        // of SQLite's takes a global mutex.
        let connection = Connection::open_in_memory().unwrap();
        let options: Vec<String> = connection
            .prepare("PRAGMA compile_options")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
            "{options:?}"
        );
    }

    /// What a unit of work in [`undone_alone`] does after it wrote its row.
    #[derive(Clone, Copy)]
    enum Then {
        Keep,
        Fail,
        TakeBack,
        Panic,
    }

    /// Writes `row` into `marks`, then does what `then` says; answers the row.
    async fn mark(database: &Database, row: i64, then: Then) -> Result<i64, StoreError> {
        database
            .run_undoable(move |c| {
                c.execute("INSERT INTO marks (n) VALUES (?1)", [row])?;
                match then {
                    Then::Keep => Ok(Written::Kept(row)),
                    Then::TakeBack => Ok(Written::Undone(row)),
                    Then::Fail => Err(StoreError::Backend("a unit that fails".into())),
                    Then::Panic => panic!("a unit that panics"),
                }
            })
            .await
    }

    /// Runs the units `plan` lists as one batch, in its order, on a fresh database; answers what each
    /// answered and the rows committed.
    async fn undone_alone(plan: &[Then]) -> (Vec<Result<i64, StoreError>>, Vec<i64>) {
        let database = Database::in_memory().unwrap();
        database
            .run(|c| Ok(c.execute_batch("CREATE TABLE marks (n INTEGER NOT NULL)")?))
            .await
            .unwrap();
        // The database thread is held in a unit of its own until every unit of the plan waits behind it,
        // so that they are taken as one batch.
        let (started, has_started) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let holder = tokio::spawn({
            let database = database.clone();
            async move {
                database
                    .run(move |_| {
                        started.send(()).unwrap();
                        released.recv().unwrap();
                        Ok(())
                    })
                    .await
            }
        });
        while has_started.try_recv().is_err() {
            tokio::task::yield_now().await;
        }
        // Each unit is sent on its future's first poll: all of them, in the plan's order, before the
        // holder lets the thread go.
        let mut units: Vec<_> = plan
            .iter()
            .enumerate()
            .map(|(n, then)| Box::pin(mark(&database, n as i64, *then)))
            .collect();
        let mut answers: Vec<Option<Result<i64, StoreError>>> = plan.iter().map(|_| None).collect();
        let mut release = Some(release);
        std::future::poll_fn(|cx| {
            for (unit, answer) in units.iter_mut().zip(answers.iter_mut()) {
                if answer.is_none()
                    && let std::task::Poll::Ready(answered) = unit.as_mut().poll(cx)
                {
                    *answer = Some(answered);
                }
            }
            if let Some(release) = release.take() {
                release.send(()).unwrap();
            }
            if answers.iter().all(Option::is_some) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        let answers = answers.into_iter().flatten().collect();
        holder.await.unwrap().unwrap();
        let committed = database
            .run(|c| {
                let mut rows = c.prepare("SELECT n FROM marks ORDER BY n")?;
                let rows = rows.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<Vec<i64>, _>>()?)
            })
            .await
            .unwrap();
        (answers, committed)
    }

    #[tokio::test]
    async fn a_unit_that_fails_is_undone_alone_first_of_its_batch_or_not() {
        use Then::*;
        // GIVEN one batch whose first unit fails, and units after it that keep, fail, take their write back
        // and panic
        let (answers, committed) = undone_alone(&[Fail, Keep, Fail, TakeBack, Panic, Keep]).await;
        // THEN the failures and the panic answer errors, the take-back its answer
        let answered: Vec<Option<i64>> = answers.iter().map(|a| a.as_ref().ok().copied()).collect();
        assert_eq!(answered, [None, Some(1), None, Some(3), None, Some(5)]);
        // AND only the rows of the units that kept theirs are committed
        assert_eq!(committed, [1, 5]);

        // GIVEN a batch whose first unit takes its write back, then units that keep
        let (answers, committed) = undone_alone(&[TakeBack, Keep, Keep]).await;
        assert!(answers.iter().all(Result::is_ok));
        assert_eq!(committed, [1, 2]);

        // GIVEN a batch whose first unit keeps, then one that fails
        let (_, committed) = undone_alone(&[Keep, Fail]).await;
        assert_eq!(committed, [0]);

        // GIVEN a batch of one unit that fails
        let (_, committed) = undone_alone(&[Fail]).await;
        assert!(committed.is_empty());
    }
}
