//! The storage floor: what the rows of one accepted and delivered alert cost SQLite alone, with no
//! alertwire code around them, synced as `alertwire serve` syncs by default (WAL, `synchronous=FULL`).
//!
//! The subject writes those rows on alertwire's own schema: a file `Database::open` created, so every
//! table, index and trigger of the current schema version is there. The baseline writes the fewest rows
//! such an alert needs: four tables with primary keys only. Both take each alert through the three
//! steps of the embedded store:
//! - accept: the alert, its delivery and its task;
//! - lease: the task, as the worker's receive does;
//! - record: the attempt, the delivery's new status and the task's removal.
//!
//! The steps of a group of alerts share a transaction, each in a savepoint but the first, as the store's
//! group commit runs them (a first unit that fails is undone by rolling the transaction back). A group of
//! one is an alert arriving alone: its acceptance and its record are two commits, as in `alertwire serve`
//! when nothing else is in flight.
//!
//! The end-to-end CPU rows, measured on the server, can be read against these: what is above the floor
//! is alertwire's own code, its threads and its HTTP.

use rusqlite::{Connection, params};

use alertwire_shared::embedded::Database;

use crate::process_cpu::cpu_seconds;
use crate::stats::{Figure, ratio};
use crate::table::Row;
use crate::{BenchError, Settings};

/// The tables of the baseline: the fewest an accepted and delivered alert needs.
const FEWEST_ROWS: &str = "
    CREATE TABLE alerts (id TEXT PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE deliveries (id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, status TEXT NOT NULL,
                             updated_at TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE queue (seq INTEGER PRIMARY KEY, delivery_id TEXT NOT NULL, body TEXT NOT NULL,
                        visible_at INTEGER NOT NULL, receipt TEXT);
    CREATE TABLE attempts (delivery_id TEXT NOT NULL, number INTEGER NOT NULL, doc TEXT NOT NULL,
                           PRIMARY KEY (delivery_id, number)) WITHOUT ROWID;";

/// Where a run's tables come from.
enum Tables {
    /// alertwire's, as `Database::open` creates them.
    Alertwire,
    /// These, on a new file.
    Created(&'static str),
}

/// The tables and the statements of the three steps, each taking the same parameters on either schema.
struct Statements {
    tables: Tables,
    /// (alert id, document)
    alert: &'static str,
    /// (delivery id, alert id, now)
    delivery: &'static str,
    /// (delivery id, task body)
    task: &'static str,
    /// (seq, visible at, receipt)
    lease: &'static str,
    /// (delivery id, attempt document)
    attempt: &'static str,
    /// (delivery id, now)
    delivered: &'static str,
    /// (seq, receipt)
    removal: &'static str,
}

/// The embedded store's own statements (`store/alerts.rs`, `store/deliveries.rs`, `queue.rs`).
const ALERTWIRE: Statements = Statements {
    tables: Tables::Alertwire,
    alert: "INSERT INTO alerts (tenant, id, doc, receipt, idempotency_key, request_hash, enqueued)
            VALUES ('bench', ?1, ?2, '{}', NULL, NULL, 1)",
    delivery: "INSERT INTO deliveries (tenant, id, alert_id, endpoint_id, message_type, status, run,
                                       created_at, updated_at)
               VALUES ('bench', ?1, ?2, 'ep_bench', 'Error', 'pending', 0, ?3, ?3)",
    task: "INSERT INTO queue (queue, dedup, delivery_id, body, visible_at)
           VALUES ('main', ?1 || ':0', ?1, ?2, 0)",
    lease: "UPDATE queue SET receive_count = receive_count + 1, visible_at = ?2, leased = 1, receipt = ?3
            WHERE seq = ?1",
    attempt: "INSERT INTO attempts (tenant, delivery_id, doc) VALUES ('bench', ?1, ?2)",
    delivered: "UPDATE deliveries SET status = 'delivered', status_reason = NULL, next_attempt_at = NULL,
                                      updated_at = ?2
                WHERE tenant = 'bench' AND id = ?1 AND run = 0 AND status = 'pending'",
    removal: "DELETE FROM queue WHERE seq = ?1 AND receipt = ?2 AND queue = 'main'",
};

const FEWEST: Statements = Statements {
    tables: Tables::Created(FEWEST_ROWS),
    alert: "INSERT INTO alerts (id, doc) VALUES (?1, ?2)",
    delivery: "INSERT INTO deliveries (id, alert_id, status, updated_at) VALUES (?1, ?2, 'pending', ?3)",
    task: "INSERT INTO queue (delivery_id, body, visible_at) VALUES (?1, ?2, 0)",
    lease: "UPDATE queue SET visible_at = ?2, receipt = ?3 WHERE seq = ?1",
    attempt: "INSERT INTO attempts (delivery_id, number, doc) VALUES (?1, 1, ?2)",
    delivered: "UPDATE deliveries SET status = 'delivered', updated_at = ?2 WHERE id = ?1",
    removal: "DELETE FROM queue WHERE seq = ?1 AND receipt = ?2",
};

/// Alerts a commit: one arriving alone, and eight, about what a commit of `alertwire serve` holds under
/// the 16 clients of the end-to-end rows (6–7 alerts a sync, counted with `strace -c`).
const GROUPS: [usize; 2] = [1, 8];

pub fn run(settings: Settings) -> Result<Vec<Row>, BenchError> {
    let alerts = if settings.quick { 2_000 } else { 10_000 };
    let mut rows = Vec::new();
    for group in GROUPS {
        let mut baseline = Figure::new("µs");
        let mut subject = Figure::new("µs");
        for _ in 0..settings.runs {
            baseline.push(micros_per_alert(&FEWEST, alerts, group)?);
            subject.push(micros_per_alert(&ALERTWIRE, alerts, group)?);
        }
        let r = ratio(&subject, &baseline);
        rows.push(Row {
            scenario: format!(
                "storage floor: CPU time per accepted and delivered alert, its rows alone on alertwire's schema, {group} alert{} a commit (baseline: the fewest rows)",
                if group == 1 { "" } else { "s" }
            ),
            figure: subject,
            baseline: Some(baseline),
            ratio: Some(r),
            goal: "– (reported: SQLite's share of the end-to-end CPU rows)".into(),
            met: None,
        });
    }
    Ok(rows)
}

/// CPU time of this process per alert while `alerts` alerts go through the three steps on a fresh file.
fn micros_per_alert(
    statements: &Statements,
    alerts: usize,
    group: usize,
) -> Result<f64, BenchError> {
    let dir = crate::scratch_dir("storage-floor");
    let _ = std::fs::remove_dir_all(&dir);
    let connection = match statements.tables {
        Tables::Alertwire => {
            // Created, migrated and closed by the store itself; its threads end with the handle.
            drop(Database::open(&dir, false).map_err(|e| BenchError::Setup(e.to_string()))?);
            open(&dir.join("alertwire.db"))?
        }
        Tables::Created(tables) => {
            std::fs::create_dir_all(&dir).map_err(|e| BenchError::Setup(e.to_string()))?;
            let connection = open(&dir.join("fewest.db"))?;
            connection.execute_batch(tables).map_err(sqlite)?;
            connection
        }
    };
    let started = cpu_seconds(std::process::id())?;
    write_alerts(&connection, statements, alerts, group).map_err(sqlite)?;
    let used = cpu_seconds(std::process::id())? - started;
    // Every statement did its work: a statement that matched nothing would make the floor look cheap.
    let count = |sql: &str| connection.query_row(sql, [], |r| r.get::<_, i64>(0));
    let delivered =
        count("SELECT count(*) FROM deliveries WHERE status = 'delivered'").map_err(sqlite)?;
    let attempts = count("SELECT count(*) FROM attempts").map_err(sqlite)?;
    let queued = count("SELECT count(*) FROM queue").map_err(sqlite)?;
    if delivered != alerts as i64 || attempts != alerts as i64 || queued != 0 {
        return Err(BenchError::Unexpected(format!(
            "storage floor: {delivered} delivered and {attempts} attempts of {alerts} alerts, {queued} tasks left"
        )));
    }
    drop(connection);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(used * 1e6 / alerts as f64)
}

/// A connection with the store's pragmas.
fn open(path: &std::path::Path) -> Result<Connection, BenchError> {
    let connection = Connection::open(path).map_err(sqlite)?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(sqlite)?;
    Ok(connection)
}

/// Each commit records the alerts accepted by the commit before it, then accepts a group of new ones; an
/// alert alone has its record and its acceptance committed apart, as `alertwire serve` commits them when
/// nothing else is in flight.
fn write_alerts(
    c: &Connection,
    statements: &Statements,
    alerts: usize,
    group: usize,
) -> rusqlite::Result<()> {
    let alert_doc = format!(
        r#"{{"title":"disk full","description":"{}"}}"#,
        "d".repeat(500)
    );
    let task_body = format!(r#"{{"v":1,"delivery_id":"{}"}}"#, "t".repeat(160));
    let attempt_doc = format!(
        r#"{{"run":0,"number":1,"status":200,"body":"{}"}}"#,
        "r".repeat(300)
    );
    let now = "2026-12-07T04:30:00.000000+00:00";
    let id =
        |kind: &str, i: usize| format!("{kind}_{:032x}", 0x0193_0000_0000_0000u128 + i as u128);
    // Whether the next step is the first of its transaction, which the store runs without a savepoint.
    let first_in_commit = std::cell::Cell::new(false);
    let begin = || {
        first_in_commit.set(true);
        c.prepare_cached("BEGIN IMMEDIATE")?.execute([])
    };
    let in_savepoint = |work: &dyn Fn() -> rusqlite::Result<()>| {
        if first_in_commit.replace(false) {
            return work();
        }
        c.prepare_cached("SAVEPOINT unit")?.execute([])?;
        work()?;
        c.prepare_cached("RELEASE unit")?.execute([])?;
        Ok::<_, rusqlite::Error>(())
    };
    let run = |sql: &str, values: &[&dyn rusqlite::ToSql]| c.prepare_cached(sql)?.execute(values);
    let mut accepted = 0;
    let mut queued: Vec<(usize, i64)> = Vec::new();
    while accepted < alerts || !queued.is_empty() {
        begin()?;
        let leased = std::mem::take(&mut queued);
        if !leased.is_empty() {
            in_savepoint(&|| {
                for (_, seq) in &leased {
                    run(statements.lease, params![seq, 60_000, "lease"])?;
                }
                Ok(())
            })?;
        }
        for (i, seq) in &leased {
            let delivery = id("msg", *i);
            in_savepoint(&|| {
                run(statements.attempt, params![delivery, attempt_doc])?;
                run(statements.delivered, params![delivery, now])?;
                run(statements.removal, params![seq, "lease"])?;
                Ok(())
            })?;
        }
        if group == 1 {
            // An alert arriving alone is accepted in a commit of its own, and its record waits for none.
            c.prepare_cached("COMMIT")?.execute([])?;
            begin()?;
        }
        for _ in 0..group.min(alerts - accepted) {
            let (alert, delivery) = (id("alt", accepted), id("msg", accepted));
            in_savepoint(&|| {
                run(statements.alert, params![alert, alert_doc])?;
                run(statements.delivery, params![delivery, alert, now])?;
                run(statements.task, params![delivery, task_body])?;
                Ok(())
            })?;
            queued.push((accepted, c.last_insert_rowid()));
            accepted += 1;
        }
        c.prepare_cached("COMMIT")?.execute([])?;
    }
    Ok(())
}

fn sqlite(e: rusqlite::Error) -> BenchError {
    BenchError::Store(e.to_string())
}
