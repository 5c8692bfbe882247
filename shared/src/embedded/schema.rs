//! The SQLite schema of the embedded store and queue and its versions: the file's `PRAGMA user_version`
//! says which schema it holds, and opening it applies the migrations it lacks, in order, in one
//! transaction. A file from a newer alertwire is refused before anything is written to it.

use rusqlite::Connection;

/// The schema version this build reads and writes. Files from before versions hold 0.
pub const SCHEMA_VERSION: i64 = 6;

/// One step of the schema, from the version before `to` to `to`.
struct Migration {
    to: i64,
    what: &'static str,
    apply: fn(&Connection) -> rusqlite::Result<()>,
}

/// Every migration, in order; the last one's `to` is [`SCHEMA_VERSION`].
const MIGRATIONS: &[Migration] = &[
    Migration {
        to: 1,
        what: "the tables, indexes and columns of the releases before schema versions, completed",
        apply: |connection| {
            connection.execute_batch(SCHEMA)?;
            connection.execute_batch(QUEUE_DEPTH_TRIGGERS)?;
            add_missing_columns(connection)
        },
    },
    Migration {
        to: 2,
        what: "indexes of the pending deliveries and of the alerts not yet queued, so that start-up \
               recovery reads those, not the whole history",
        apply: |connection| connection.execute_batch(RECOVERY_INDEXES),
    },
    Migration {
        to: 3,
        what: "one record per attempt: a unique index on the delivery, run and attempt number (an \
               attempt recorded twice by an earlier release is kept once, as first recorded)",
        apply: |connection| connection.execute_batch(ATTEMPTS_ONCE),
    },
    Migration {
        to: 4,
        what: "incidents (an endpoint's latest error of each, what its answer gave, when an ok resolved it) \
               and maintenance windows",
        apply: |connection| connection.execute_batch(INCIDENTS),
    },
    Migration {
        to: 5,
        what: "digests: the digest delivery a folded alert's delivery links to, indexed, and each \
               endpoint's window of errors",
        apply: |connection| {
            add_missing_columns(connection)?;
            connection.execute_batch(DIGESTS)
        },
    },
    Migration {
        to: 6,
        what: "fewer pages written per alert: the queue without its receipt and delivery indexes or its \
               sequence row (a lease's receipt names its task's row), and attempts read by the index that \
               keeps them once",
        apply: |connection| {
            connection.execute_batch(LEANER_QUEUE)?;
            connection.execute_batch(QUEUE_DEPTH_TRIGGERS)
        },
    },
];

/// Every commit writes each page it changed, and an alert's two commits (its acceptance; its attempt with
/// its task's end) touched 14 and 16 B-trees, 32 pages an alert under light traffic. The queue had eight of them
/// in each. It keeps four: the table, its `dedup` key (which also finds a delivery's tasks, as
/// `<delivery id>:<run>`), `queue_ready` and the depth counter, plus `queue_leased` for the tasks leased.
/// - `receipt` is no longer unique, nor indexed: a receipt is `<seq>-<token>`, and the lease's token is
///   compared in the row its seq finds.
/// - `seq` is a plain rowid, no longer `AUTOINCREMENT`, whose counter row in `sqlite_sequence` every insert
///   rewrote. A new task still gets a seq above every queued one, so the order of the queue is kept; a seq
///   may come back once its task is gone, and a receipt naming the old task finds no token to match.
/// - Attempts are read by `attempts_once` (tenant, delivery, run, number), in that order; the index by seq
///   was a second copy of the same lookup.
///
/// The queue is a table of work in flight, small beside the history, so rebuilding it is cheap; its
/// depth triggers go with the old table and are made again on the new one.
const LEANER_QUEUE: &str = "
CREATE TABLE queue_v6 (
    seq           INTEGER PRIMARY KEY,
    queue         TEXT NOT NULL CHECK (queue IN ('main', 'dead')),
    dedup         TEXT NOT NULL UNIQUE,
    delivery_id   TEXT NOT NULL,
    body          TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    leased        INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT
);
INSERT INTO queue_v6 (seq, queue, dedup, delivery_id, body, visible_at, receive_count, leased, receipt)
    SELECT seq, queue, dedup, delivery_id, body, visible_at, receive_count, leased, receipt FROM queue;
DROP TABLE queue;
ALTER TABLE queue_v6 RENAME TO queue;
CREATE INDEX queue_ready ON queue (queue, visible_at, seq);
CREATE INDEX queue_leased ON queue (seq) WHERE leased = 1;
DROP INDEX IF EXISTS attempts_by_delivery;
";

/// The counters of [`SCHEMA`]'s `queue_depth`, kept by triggers on the queue: made with the table, and
/// again when the queue is rebuilt ([`LEANER_QUEUE`]).
const QUEUE_DEPTH_TRIGGERS: &str = "
CREATE TRIGGER IF NOT EXISTS queue_depth_on_insert AFTER INSERT ON queue BEGIN
    UPDATE queue_depth SET tasks = tasks + 1 WHERE queue = NEW.queue;
END;
CREATE TRIGGER IF NOT EXISTS queue_depth_on_delete AFTER DELETE ON queue BEGIN
    UPDATE queue_depth SET tasks = tasks - 1 WHERE queue = OLD.queue;
END;
CREATE TRIGGER IF NOT EXISTS queue_depth_on_move AFTER UPDATE OF queue ON queue
    WHEN OLD.queue <> NEW.queue BEGIN
    UPDATE queue_depth SET tasks = tasks - 1 WHERE queue = OLD.queue;
    UPDATE queue_depth SET tasks = tasks + 1 WHERE queue = NEW.queue;
END;
";

/// A folded alert's delivery names its digest delivery (`deliveries.digest_delivery_id`, one of
/// [`ADDED_COLUMNS`]), which finds them by it; one row per endpoint that folds errors, counting those of
/// its current window.
const DIGESTS: &str = "
CREATE INDEX IF NOT EXISTS deliveries_by_digest ON deliveries (tenant, digest_delivery_id, id)
    WHERE digest_delivery_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS digest_windows (
    tenant TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (tenant, endpoint_id)
) WITHOUT ROWID;
";

/// One row per incident of an endpoint (its latest error delivery, what was captured from an error's
/// answer, when an ok resolved it in a maintenance window); the pruner reads them by age. One row per
/// maintenance window of a tenant, as JSON.
const INCIDENTS: &str = "
CREATE TABLE IF NOT EXISTS incidents (
    tenant TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    incident_key TEXT NOT NULL,
    error_delivery_id TEXT,
    captured TEXT NOT NULL,
    resolved_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, endpoint_id, incident_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS incidents_by_age ON incidents (updated_at);
CREATE TABLE IF NOT EXISTS maintenance_windows (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
";

/// Two copies of a delivery's task can make the same attempt (a lease that ran out while the first was in
/// flight); the store records it once. The check in the writing transaction finds the first record; this
/// index makes a second one impossible whatever the code does. The expressions are spelled as the check
/// spells them, so that the check reads the index.
const ATTEMPTS_ONCE: &str = "
DELETE FROM attempts WHERE seq IN (
    SELECT later.seq FROM attempts later JOIN attempts earlier
        ON earlier.tenant = later.tenant AND earlier.delivery_id = later.delivery_id
        AND earlier.seq < later.seq
        AND json_extract(earlier.doc, '$.run') = json_extract(later.doc, '$.run')
        AND json_extract(earlier.doc, '$.number') = json_extract(later.doc, '$.number'));
CREATE UNIQUE INDEX IF NOT EXISTS attempts_once
    ON attempts (tenant, delivery_id, json_extract(doc, '$.run'), json_extract(doc, '$.number'));
";

/// Recovery at start and the search for stranded deliveries look for pending deliveries, for alerts whose
/// tasks were not queued and for leased tasks, across tenants: a few rows among months of history. Partial indexes hold
/// only those rows, so the lookups stay as cheap as the rows they find.
const RECOVERY_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (updated_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS alerts_not_enqueued ON alerts (tenant, id) WHERE enqueued = 0;
CREATE INDEX IF NOT EXISTS queue_leased ON queue (seq) WHERE leased = 1;
";

/// What opening did to the file's schema.
#[derive(Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// It was at [`SCHEMA_VERSION`] already.
    Current,
    /// It was empty and now holds the schema.
    Created,
    /// It was at `from` and is now at [`SCHEMA_VERSION`].
    Upgraded { from: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(
        "the database holds schema version {file}, and this alertwire knows versions up to {SCHEMA_VERSION}: it was written by a newer alertwire; run that release (or a later one), or restore a backup made for this one. Nothing was changed"
    )]
    Newer { file: i64 },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The file's schema version, read without writing anything; an error for a version newer than this
/// build's.
pub fn check_version(connection: &Connection) -> Result<i64, SchemaError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(SchemaError::Newer { file: version });
    }
    Ok(version)
}

/// Applies the migrations the file lacks, and its new version, in one transaction. The version is read
/// inside it, so that of two processes opening the file at once one migrates and the other finds it done.
/// A caller that read [`check_version`] at [`SCHEMA_VERSION`] need not call this: it only takes the
/// write lock to find nothing to do.
pub fn upgrade(connection: &Connection) -> Result<Upgrade, SchemaError> {
    connection.execute_batch("BEGIN IMMEDIATE")?;
    let migrated = migrate(connection);
    match migrated {
        Ok(_) => connection.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = connection.execute_batch("ROLLBACK");
        }
    }
    migrated
}

fn migrate(connection: &Connection) -> Result<Upgrade, SchemaError> {
    let from = check_version(connection)?;
    if from == SCHEMA_VERSION {
        return Ok(Upgrade::Current);
    }
    let empty: bool =
        connection.query_row("SELECT NOT EXISTS (SELECT 1 FROM sqlite_master)", [], |r| {
            r.get(0)
        })?;
    for migration in MIGRATIONS.iter().filter(|m| m.to > from) {
        if !empty {
            tracing::info!(
                to = migration.to,
                what = migration.what,
                "migrating the database"
            );
        }
        (migration.apply)(connection)?;
    }
    connection.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(if empty {
        Upgrade::Created
    } else {
        Upgrade::Upgraded { from }
    })
}

/// The schema of the releases before versions, every statement idempotent: migration 1 applies it to a
/// new file and to any file those releases wrote.
const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash   TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    label      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    id         TEXT
);
-- Each tenant's deployment key (`ALERTWIRE_API_KEY`): the hash last registered from the configuration and
-- the id of its key, so a new one replaces that key and the same one is not added again once revoked.
CREATE TABLE IF NOT EXISTS bootstrap_keys (
    tenant   TEXT PRIMARY KEY,
    key_hash TEXT NOT NULL,
    key_id   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
    tenant  TEXT NOT NULL,
    id      TEXT NOT NULL,
    version INTEGER NOT NULL,
    doc     TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE TABLE IF NOT EXISTS endpoint_health (
    tenant          TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    failure_streak  INTEGER NOT NULL,
    failing_since   TEXT NOT NULL,
    last_failure_at TEXT NOT NULL,
    PRIMARY KEY (tenant, endpoint_id)
);
-- The rest of an endpoint's health: its outage run, circuit and slowdown. A table of its own so that files
-- written before it existed open unchanged; its row comes and goes with the endpoint_health row.
CREATE TABLE IF NOT EXISTS endpoint_circuit (
    tenant        TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    outage_streak INTEGER NOT NULL,
    last_error    TEXT NOT NULL,
    slowed_until  TEXT,
    opened_at     TEXT,
    probe_at      TEXT,
    probing       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, endpoint_id)
);
CREATE TABLE IF NOT EXISTS alerts (
    tenant          TEXT NOT NULL,
    id              TEXT NOT NULL,
    doc             TEXT NOT NULL,
    receipt         TEXT NOT NULL,
    idempotency_key TEXT,
    request_hash    TEXT,
    enqueued        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, id)
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_by_idempotency_key
    ON alerts (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS unrouted_alerts (
    tenant TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    tenant          TEXT NOT NULL,
    id              TEXT NOT NULL,
    alert_id        TEXT NOT NULL,
    endpoint_id     TEXT NOT NULL,
    message_type    TEXT NOT NULL,
    status          TEXT NOT NULL,
    status_reason   TEXT,
    run             INTEGER NOT NULL,
    next_attempt_at TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    fallback_of          TEXT,
    fallback_delivery_id TEXT,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS deliveries_by_endpoint ON deliveries (tenant, endpoint_id, id);
CREATE INDEX IF NOT EXISTS deliveries_by_status ON deliveries (tenant, status, id);
CREATE INDEX IF NOT EXISTS deliveries_by_alert ON deliveries (tenant, alert_id);
CREATE TABLE IF NOT EXISTS tenant_settings (
    tenant TEXT PRIMARY KEY,
    doc    TEXT NOT NULL
);
-- When each operational notice was last sent (epoch milliseconds), for its debounce.
CREATE TABLE IF NOT EXISTS operations_notices (
    tenant  TEXT NOT NULL,
    key     TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE IF NOT EXISTS attempts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant      TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    doc         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (tenant, delivery_id, seq);
CREATE TABLE IF NOT EXISTS queue (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL CHECK (queue IN ('main', 'dead')),
    dedup         TEXT NOT NULL UNIQUE,
    delivery_id   TEXT NOT NULL,
    body          TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    leased        INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT UNIQUE
);
CREATE INDEX IF NOT EXISTS queue_ready ON queue (queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS queue_by_delivery ON queue (delivery_id);
-- How many tasks each queue holds, kept by triggers, so that reading the depth never walks the queue.
-- Counted once, when the table is new (a file from before it has tasks already); a file that has it
-- already skips the count, since the constant NOT EXISTS term is false.
CREATE TABLE IF NOT EXISTS queue_depth (
    queue TEXT PRIMARY KEY CHECK (queue IN ('main', 'dead')),
    tasks INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO queue_depth (queue, tasks)
    SELECT 'main', COUNT(*) FROM queue WHERE queue = 'main' AND NOT EXISTS (SELECT 1 FROM queue_depth)
    UNION ALL
    SELECT 'dead', COUNT(*) FROM queue WHERE queue = 'dead' AND NOT EXISTS (SELECT 1 FROM queue_depth);
"#;

/// Columns added to a table after it was first released, as `(table, column, type)`: a file created
/// before them gets them at open ([`add_missing_columns`]); a new file has them from `SCHEMA`.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[
    ("deliveries", "fallback_of", "TEXT"),
    ("deliveries", "fallback_delivery_id", "TEXT"),
    ("api_keys", "id", "TEXT"),
    ("deliveries", "digest_delivery_id", "TEXT"),
];

/// What the added columns need once present: keys from before key ids get one (random, as new ids are),
/// and the index that finds a tenant's key by id.
const AFTER_ADDED_COLUMNS: &str = "
UPDATE api_keys SET id = 'key_' || lower(hex(randomblob(16))) WHERE id IS NULL;
CREATE UNIQUE INDEX IF NOT EXISTS api_keys_by_id ON api_keys (tenant, id);
";

/// Adds every column of [`ADDED_COLUMNS`] its table lacks.
fn add_missing_columns(connection: &Connection) -> rusqlite::Result<()> {
    for (table, column, kind) in ADDED_COLUMNS {
        let present: bool = connection.query_row(
            "SELECT EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2)",
            [table, column],
            |r| r.get(0),
        )?;
        if !present {
            connection.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))?;
        }
    }
    connection.execute_batch(AFTER_ADDED_COLUMNS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(connection: &Connection) -> i64 {
        connection
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_new_file_gets_the_schema_at_the_current_version_and_an_old_one_is_upgraded_once() {
        let new = Connection::open_in_memory().unwrap();
        assert_eq!(upgrade(&new).unwrap(), Upgrade::Created);
        assert_eq!(version(&new), SCHEMA_VERSION);
        assert_eq!(upgrade(&new).unwrap(), Upgrade::Current);

        let old = Connection::open_in_memory().unwrap();
        old.execute_batch(
            "CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, tenant TEXT NOT NULL,
                 label TEXT NOT NULL, created_at TEXT NOT NULL);",
        )
        .unwrap();
        assert_eq!(upgrade(&old).unwrap(), Upgrade::Upgraded { from: 0 });
        assert_eq!(version(&old), SCHEMA_VERSION);
        let tables: i64 = old
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(tables > 10, "every table is made: {tables}");
    }

    /// A queue of version 5 (`AUTOINCREMENT`, receipts and delivery ids indexed) is rebuilt at open: its
    /// tasks keep their seq, order, lease and counts, the triggers count what comes after, and each new
    /// task still goes behind every queued one.
    #[test]
    fn a_version_5_queue_is_rebuilt_leaner_with_its_tasks_and_counters() {
        let file = Connection::open_in_memory().unwrap();
        for migration in MIGRATIONS.iter().filter(|m| m.to <= 5) {
            (migration.apply)(&file).unwrap();
        }
        file.execute_batch(
            "INSERT INTO queue (seq, queue, dedup, delivery_id, body, visible_at) VALUES
                 (3, 'main', 'msg_1:0', 'msg_1', '{}', 10);
             INSERT INTO queue (seq, queue, dedup, delivery_id, body, visible_at, receive_count, leased, receipt)
                 VALUES (5, 'main', 'msg_2:0', 'msg_2', '{}', 20, 2, 1, '5-abc');
             INSERT INTO queue (seq, queue, dedup, delivery_id, body, visible_at) VALUES
                 (7, 'dead', 'msg_3:1', 'msg_3', '{}', 30);
             PRAGMA user_version = 5;",
        )
        .unwrap();
        assert_eq!(upgrade(&file).unwrap(), Upgrade::Upgraded { from: 5 });

        let names = |sql: &str| -> Vec<String> {
            let mut statement = file.prepare(sql).unwrap();
            statement
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(
            names(
                "SELECT seq || ' ' || queue || ' ' || dedup || ' ' || receive_count || ' ' || leased
                 FROM queue ORDER BY seq"
            ),
            ["3 main msg_1:0 0 0", "5 main msg_2:0 2 1", "7 dead msg_3:1 0 0"]
        );
        assert_eq!(
            names("SELECT name FROM sqlite_master WHERE tbl_name = 'queue' ORDER BY name"),
            [
                "queue",
                "queue_depth_on_delete",
                "queue_depth_on_insert",
                "queue_depth_on_move",
                "queue_leased",
                "queue_ready",
                "sqlite_autoindex_queue_1",
            ]
        );
        assert!(
            names("SELECT name FROM sqlite_master WHERE name = 'attempts_by_delivery'").is_empty()
        );
        assert!(names("SELECT name FROM sqlite_sequence WHERE name = 'queue'").is_empty());

        file.execute_batch(
            "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at) VALUES ('main', 'msg_4:0', 'msg_4', '{}', 0);
             DELETE FROM queue WHERE seq = 3;
             UPDATE queue SET queue = 'dead' WHERE seq = 5;",
        )
        .unwrap();
        assert_eq!(
            names("SELECT CAST(seq AS TEXT) FROM queue WHERE dedup = 'msg_4:0'"),
            ["8"]
        );
        assert_eq!(
            names("SELECT queue || ' ' || tasks FROM queue_depth ORDER BY queue"),
            ["dead 2", "main 1"]
        );
    }

    #[test]
    fn an_attempt_recorded_twice_before_version_3_is_kept_once_and_cannot_be_recorded_twice_again()
    {
        let file = Connection::open_in_memory().unwrap();
        file.execute_batch(SCHEMA).unwrap();
        file.execute_batch(RECOVERY_INDEXES).unwrap();
        file.pragma_update(None, "user_version", 2).unwrap();
        let attempt = |run: u32, number: u32, status: u16| {
            format!(r#"{{"run": {run}, "number": {number}, "status_code": {status}}}"#)
        };
        // The chaos run's `[1, 1, 2]`: attempt 1 of run 0 recorded by two copies of the task.
        for doc in [
            attempt(0, 1, 503),
            attempt(0, 1, 502),
            attempt(0, 2, 200),
            attempt(1, 1, 200),
        ] {
            file.execute(
                "INSERT INTO attempts (tenant, delivery_id, doc) VALUES ('acme', 'msg_1', ?1)",
                [doc],
            )
            .unwrap();
        }
        assert_eq!(upgrade(&file).unwrap(), Upgrade::Upgraded { from: 2 });
        let kept: Vec<String> = file
            .prepare("SELECT doc FROM attempts ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            kept,
            [attempt(0, 1, 503), attempt(0, 2, 200), attempt(1, 1, 200)]
        );
        let again = file.execute(
            "INSERT INTO attempts (tenant, delivery_id, doc) VALUES ('acme', 'msg_1', ?1)",
            [attempt(0, 2, 500)],
        );
        let Err(rusqlite::Error::SqliteFailure(e, _)) = again else {
            panic!("a second record of an attempt was taken: {again:?}");
        };
        assert_eq!(e.extended_code, rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE);
        // Another delivery's attempt 2, and the same attempt of another tenant, are their own.
        for (tenant, delivery) in [("acme", "msg_2"), ("globex", "msg_1")] {
            file.execute(
                "INSERT INTO attempts (tenant, delivery_id, doc) VALUES (?1, ?2, ?3)",
                [tenant, delivery, &attempt(0, 2, 200)],
            )
            .unwrap();
        }
    }

    #[test]
    fn a_file_from_a_newer_version_is_refused_and_nothing_is_written() {
        let newer = Connection::open_in_memory().unwrap();
        newer
            .execute_batch(&format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1))
            .unwrap();
        let refused = upgrade(&newer);
        assert!(
            matches!(refused, Err(SchemaError::Newer { file }) if file == SCHEMA_VERSION + 1),
            "{refused:?}"
        );
        let tables: i64 = newer
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0);
        assert_eq!(version(&newer), SCHEMA_VERSION + 1);
    }

    #[test]
    fn a_file_from_before_the_added_columns_gets_them_at_open_and_keeps_its_rows() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE deliveries (tenant TEXT NOT NULL, id TEXT NOT NULL, alert_id TEXT NOT NULL,
                     endpoint_id TEXT NOT NULL, message_type TEXT NOT NULL, status TEXT NOT NULL,
                     status_reason TEXT, run INTEGER NOT NULL, next_attempt_at TEXT,
                     created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (tenant, id));
                 INSERT INTO deliveries VALUES ('acme', 'msg_1', 'al_1', 'ep_1', 'error', 'dead', NULL, 0,
                     NULL, '2026-01-05T09:00:00Z', '2026-01-05T09:00:00Z');",
            )
            .unwrap();
        connection.execute_batch(SCHEMA).unwrap();
        add_missing_columns(&connection).unwrap();
        // A second open finds them present and adds nothing.
        add_missing_columns(&connection).unwrap();
        let (id, fallback_of): (String, Option<String>) = connection
            .query_row(
                "SELECT id, fallback_of FROM deliveries WHERE fallback_delivery_id IS NULL",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((id.as_str(), fallback_of), ("msg_1", None));
    }

    #[test]
    fn keys_from_before_key_ids_get_distinct_ids_at_open_and_keep_them() {
        let connection = Connection::open_in_memory().unwrap();
        connection
            .execute_batch(
                "CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, tenant TEXT NOT NULL,
                     label TEXT NOT NULL, created_at TEXT NOT NULL);
                 INSERT INTO api_keys VALUES ('hash-a', 'acme', 'a', '2026-01-05T09:00:00Z'),
                     ('hash-b', 'acme', 'b', '2026-01-05T09:00:00Z');",
            )
            .unwrap();
        connection.execute_batch(SCHEMA).unwrap();
        add_missing_columns(&connection).unwrap();
        let ids = |c: &Connection| -> Vec<String> {
            c.prepare("SELECT id FROM api_keys ORDER BY key_hash")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let first = ids(&connection);
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|id| id.starts_with("key_")));
        assert_ne!(first[0], first[1]);
        add_missing_columns(&connection).unwrap();
        assert_eq!(ids(&connection), first, "a second open keeps the ids");
    }
}
