//! The query-plan check: every statement that the hot paths run (ingest, receive, settle, attempt record,
//! delivery read, list page, unrouted alerts page, a replay of dead letters), recovery at start, the
//! stranded search and a pruner pass run is recorded while they run, then planned with `EXPLAIN QUERY
//! PLAN`. None may scan a table that grows with the backlog or the history (a scan of a partial index of
//! the few rows that matter is not one), and a range search must stop after a bounded number of rows
//! (index order and a `LIMIT`, no sort of everything it found). A table named under an alias is checked
//! under it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use rusqlite::trace::{TraceEvent, TraceEventCodes};
use serde_json::json;

use super::{Database, EmbeddedQueue, QueueSettings};
use crate::alert::AlertContent;
use crate::delivery::{Attempt, Delivery, DeliveryStatus};
use crate::endpoint::EndpointInput;
use crate::endpoint::circuit::OpenCircuit;
use crate::endpoint::health::FailureNote;
use crate::ids::{AlertId, DeliveryId, EndpointId, TenantId};
use crate::outbound::target_policy::TargetPolicy;
use crate::ports::queue::{Task, TaskQueue};
use crate::ports::store::{
    AlertRecord, AlertStore, ApiKeyStore, DeliveryFilter, DeliveryStore, DigestStore,
    EndpointStore, IncidentRef, IncidentStore, MaintenanceStore, StatusChange,
};

/// Partial indexes that hold only rows about to be handled (pending deliveries, alerts not yet queued):
/// scanning one reads those rows, not the history.
const PARTIAL_INDEXES: &[&str] = &["deliveries_pending", "alerts_not_enqueued", "queue_leased"];

/// Ranges that read the rows of one thing, however long the history: a delivery's tasks are found by the
/// prefix of their unique `dedup` key, `<delivery id>:<run>`, one row for each of its runs still queued.
const ONE_KEYS_RANGES: &[&str] = &[
    "USING COVERING INDEX sqlite_autoindex_queue_1 (dedup>? AND dedup<?)",
    "USING INDEX sqlite_autoindex_queue_1 (dedup>? AND dedup<?)",
];

/// Index searches whose only term is a column of a handful of values: they read every row of that value
/// (every ready task, every dead letter), so they need a bound as a range does: a `LIMIT`, or a lone
/// `MIN`/`MAX` of the index's next column, which SQLite reads from the index's first row.
const BROAD_KEYS: &[&str] = &["queue_ready (queue=?)"];

/// Tables whose rows grow with alerts, deliveries or the backlog. A scan of any of them is a defect.
const GROWING_TABLES: &[&str] = &[
    "alerts",
    "unrouted_alerts",
    "deliveries",
    "attempts",
    "queue",
    "endpoints",
    "endpoint_health",
    "endpoint_circuit",
    "api_keys",
    "incidents",
    "maintenance_windows",
    "digest_windows",
];

static STATEMENTS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn record(event: TraceEvent<'_>) {
    if let TraceEvent::Stmt(statement, _) = event {
        let sql = statement.sql().into_owned();
        // Trigger bodies are reported as comments; their statements are planned with the one that fired.
        if !sql.trim_start().starts_with("--") {
            STATEMENTS.lock().unwrap().insert(sql);
        }
    }
}

/// Runs the hot paths once each on `database`, through the ports as the service calls them.
async fn run_hot_paths(database: &Database, queue: &EmbeddedQueue) {
    let tenant = TenantId::from("acme");
    database.add_key(&tenant, "hash-1", "key").await.unwrap();
    let input = EndpointInput::from_json(
        &json!({"name": "hook", "url": "https://example.com/hook"}),
        None,
        &TargetPolicy::default(),
    )
    .unwrap();
    let endpoint = input.into_endpoint(EndpointId::from("ep_1"), tenant.clone(), None, Utc::now());
    database.insert_endpoint(&endpoint).await.unwrap();

    // Ingest: authenticate, read the endpoints, write the alert, its delivery and its task.
    assert!(database.tenant_for_key("hash-1").await.unwrap().is_some());
    database.list_endpoints(&tenant).await.unwrap();
    for n in 0..4 {
        let mut alert = AlertContent::from_json(&json!({"title": "disk full"}))
            .unwrap()
            .into_alert(
                AlertId::from(format!("al_{n}").as_str()),
                tenant.clone(),
                Utc::now(),
            );
        // The first is unrouted (sent to a default endpoint), so its listing is written too.
        alert.routing = Some(crate::routing::RoutingOutcome {
            endpoints: 1,
            unrouted: n == 0,
        });
        let delivery = Delivery::pending(
            DeliveryId::from(format!("msg_{n}").as_str()),
            &alert,
            endpoint.id.clone(),
        );
        let tasks = [Task::DeliverV1 {
            tenant: tenant.clone(),
            delivery_id: delivery.id.clone(),
            run: 0,
            endpoint: None,
            attempts_before: 0,
        }];
        let key = format!("idem-{n}");
        database
            .record_alert(AlertRecord {
                alert: &alert,
                deliveries: std::slice::from_ref(&delivery),
                idempotency: Some((key.as_str(), "request-hash")),
                tasks: &tasks,
            })
            .await
            .unwrap();
    }

    // The worker: receive, read, send (not here), record the attempt, settle the task each way.
    let received = queue.receive(4).await.unwrap();
    assert_eq!(received.len(), 4);
    for (n, task) in received.iter().enumerate() {
        let Some(Task::DeliverV1 { delivery_id, .. }) = &task.task else {
            panic!("a task")
        };
        let delivery = database.get_delivery(&tenant, delivery_id).await.unwrap();
        let alert_id = delivery.unwrap().alert_id;
        database.get_alert(&tenant, &alert_id).await.unwrap();
        database
            .list_unrouted(&tenant, Some(&alert_id), 50)
            .await
            .unwrap();
        database.get_endpoint(&tenant, &endpoint.id).await.unwrap();
        let attempt = Attempt {
            number: 1,
            run: 0,
            resend: false,
            started_at: Utc::now(),
            duration_ms: 3,
            status_code: Some(if n == 0 { 200 } else { 500 }),
            response_headers: Vec::new(),
            response_body: None,
            response_body_truncated: false,
            error_class: None,
            error: None,
        };
        let status = if n == 0 {
            DeliveryStatus::Delivered
        } else {
            DeliveryStatus::Pending
        };
        let change = StatusChange {
            status,
            reason: None,
            next_attempt_at: None,
        };
        database
            .update_delivery(&tenant, delivery_id, 0, Some(&attempt), change)
            .await
            .unwrap();
        let now = Utc::now();
        let note = FailureNote {
            at: now,
            outage: n != 1,
            error: "the endpoint answered 500",
            slowed_until: (n == 1).then_some(now),
        };
        database
            .note_failure(&tenant, &endpoint.id, note)
            .await
            .unwrap();
        let circuit = OpenCircuit {
            opened_at: now,
            probe_at: now,
            probing: false,
        };
        database
            .open_circuit(&tenant, &endpoint.id, &circuit)
            .await
            .unwrap();
        database
            .claim_probe(&tenant, &endpoint.id, now, now)
            .await
            .unwrap();
        database
            .clear_failures(&tenant, &endpoint.id)
            .await
            .unwrap();
        match n {
            0 => queue.delete(&task.receipt).await.unwrap(),
            1 => queue
                .retry_later(&task.receipt, Duration::from_secs(1))
                .await
                .unwrap(),
            2 => queue.hold(task, Duration::from_secs(1)).await.unwrap(),
            _ => queue.dead_letter(task).await.unwrap(),
        }
    }
    queue.next_visible_in().await.unwrap();
    queue.depth().await.unwrap();

    // Incidents of an endpoint that captures: an error noted, its answer's values kept, an ok's look.
    let incident = IncidentRef {
        tenant: &tenant,
        endpoint_id: &endpoint.id,
        incident_key: "db-1",
    };
    let error = DeliveryId::from("msg_0");
    database
        .note_error(incident, &error, Utc::now())
        .await
        .unwrap();
    let captured = [("ticket_id".to_string(), "T-17".to_string())].into();
    database
        .keep_captured(incident, &error, &captured, Utc::now())
        .await
        .unwrap();
    database.note_resolved(incident, Utc::now()).await.unwrap();
    database.get_incident(incident).await.unwrap();

    // Maintenance windows: listed when they age out of the process, created, deleted.
    let window = crate::maintenance::from_json(
        &json!({"name": "upgrade", "start": "2026-12-06T22:00:00Z", "end": "2026-12-07T02:00:00Z"}),
        "mw_1".into(),
        Utc::now(),
    )
    .unwrap();
    database.insert_window(&tenant, &window).await.unwrap();
    database.list_windows(&tenant).await.unwrap();
    database.delete_window(&tenant, "mw_1").await.unwrap();

    // Digests: an error counted in a window (a new one, then the open one), a digest's folded alerts.
    for _ in 0..2 {
        database
            .count_error(
                &tenant,
                &endpoint.id,
                Utc::now(),
                chrono::Duration::minutes(1),
            )
            .await
            .unwrap();
    }
    database
        .digest_members(&tenant, &DeliveryId::from("msg_dg"), 100)
        .await
        .unwrap();
    database.is_recorded(&tenant, "key-1").await.unwrap();

    // The API's reads: a delivery, and list pages with each filter and a keyset cursor.
    let filters = [
        DeliveryFilter::default(),
        DeliveryFilter {
            endpoint_id: Some(endpoint.id.clone()),
            ..Default::default()
        },
        DeliveryFilter {
            status: Some(DeliveryStatus::Pending),
            ..Default::default()
        },
        DeliveryFilter {
            endpoint_id: Some(endpoint.id.clone()),
            status: Some(DeliveryStatus::Dead),
            ..Default::default()
        },
        DeliveryFilter {
            alert_id: Some(AlertId::from("al_1")),
            ..Default::default()
        },
    ];
    for filter in filters {
        for before in [None, Some(DeliveryId::from("msg_2"))] {
            let filter = DeliveryFilter {
                before,
                limit: 50,
                ..filter.clone()
            };
            database.list_deliveries(&tenant, &filter).await.unwrap();
            database.list_delivery_ids(&tenant, &filter).await.unwrap();
        }
    }

    // A replay of dead letters: their runs started again, their new tasks queued, their letters removed.
    let dead = [DeliveryId::from("msg_3")];
    database
        .start_resends(&tenant, &dead, Some(DeliveryStatus::Dead))
        .await
        .unwrap();
    queue.remove_dead_letters(&dead).await.unwrap();

    // What runs beside them over the whole history: recovery at start, the stranded search, a pruner pass.
    database.recover(10).await.unwrap();
    database
        .pending_unchanged_since(Utc::now(), 10)
        .await
        .unwrap();
    super::Pruner::new(
        database.clone(),
        crate::retention::Retention::parse(Some("1s"), Some("1s")).unwrap(),
        crate::metrics::Metrics::disabled(),
    )
    .prune(Utc::now() + chrono::Duration::days(1))
    .await
    .unwrap();
}

/// `EXPLAIN QUERY PLAN` of one statement, its parameters bound to NULL: the plan's detail lines.
fn plan(c: &rusqlite::Connection, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let nulls = std::iter::repeat_n(rusqlite::types::Null, statement.parameter_count());
    statement
        .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))?
        .collect()
}

/// Words that may follow a table's name in a statement and are not an alias of it.
const NOT_ALIASES: &[&str] = &[
    "WHERE",
    "ON",
    "JOIN",
    "LEFT",
    "INNER",
    "CROSS",
    "SET",
    "ORDER",
    "GROUP",
    "LIMIT",
    "VALUES",
    "USING",
    "INDEXED",
    "NOT",
    "UNION",
    "DEFAULT",
    "SELECT",
    "RETURNING",
    "AND",
    "OR",
    "WHEN",
];

/// The growing tables that `sql` names under another name (`FROM deliveries d`, `alerts AS a`), by that
/// name: the plan calls them by it.
fn aliases(sql: &str) -> Vec<(String, &'static str)> {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ','))
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let Some(table) = GROWING_TABLES.iter().find(|t| *t == word) else {
            continue;
        };
        let alias = match words.get(i + 1) {
            Some(w) if w.eq_ignore_ascii_case("AS") => words.get(i + 2),
            other => other,
        };
        if let Some(alias) = alias
            && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !NOT_ALIASES.iter().any(|k| k.eq_ignore_ascii_case(alias))
        {
            found.push((alias.to_string(), *table));
        }
    }
    found
}

/// What is wrong with a plan, if anything.
fn defect(sql: &str, plan: &[String]) -> Option<String> {
    let aliases = aliases(sql);
    let upper = sql.trim_start().to_ascii_uppercase();
    let first_of_index = upper.starts_with("SELECT MIN(") || upper.starts_with("SELECT MAX(");
    let bounded = upper.contains("LIMIT") && !plan.iter().any(|l| l.contains("TEMP B-TREE"));
    for line in plan {
        let mut words = line.split_whitespace();
        let (Some(operation), Some(named)) = (words.next(), words.next()) else {
            continue;
        };
        let table = aliases
            .iter()
            .find(|(alias, _)| alias == named)
            .map_or(named, |(_, table)| *table);
        if !GROWING_TABLES.contains(&table) {
            continue;
        }
        if PARTIAL_INDEXES
            .iter()
            .any(|index| line.contains(&format!("USING INDEX {index}")))
        {
            continue;
        }
        if operation == "SCAN" {
            return Some(format!("scans `{table}`: {line}"));
        }
        // `<expr>` is how a plan names an indexed expression, not a comparison.
        let conditions = line.replace("<expr>", "expr");
        let broad = BROAD_KEYS.iter().any(|key| line.ends_with(key));
        let ranged =
            conditions.contains('<') || conditions.contains('>') || (broad && !first_of_index);
        if operation == "SEARCH"
            && ranged
            && !ONE_KEYS_RANGES.iter().any(|r| line.contains(r))
            && !bounded
        {
            return Some(format!(
                "searches a range of `{table}` with no bound on the rows it reads: {line}"
            ));
        }
    }
    None
}

#[tokio::test]
async fn no_hot_path_statement_walks_a_growing_table() {
    let database = Database::in_memory().unwrap();
    let queue = EmbeddedQueue::new(
        database.clone(),
        QueueSettings {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 10,
        },
    );
    database
        .run(|c| {
            c.trace_v2(TraceEventCodes::SQLITE_TRACE_STMT, Some(record));
            Ok(())
        })
        .await
        .unwrap();
    run_hot_paths(&database, &queue).await;
    let statements: Vec<String> = STATEMENTS.lock().unwrap().iter().cloned().collect();
    assert!(
        statements.len() >= 15,
        "the trace saw only {} statements",
        statements.len()
    );
    let defects = database
        .run(move |c| {
            let mut defects = Vec::new();
            for sql in &statements {
                let detail = plan(c, sql)?;
                if let Some(defect) = defect(sql, &detail) {
                    defects.push(format!("{defect}\n    in: {}", sql.trim()));
                }
            }
            Ok(defects)
        })
        .await
        .unwrap();
    assert!(defects.is_empty(), "{}", defects.join("\n"));
}

#[test]
fn the_check_finds_what_it_must() {
    let scan = ["SCAN deliveries".to_string()];
    assert!(defect("SELECT * FROM deliveries", &scan).is_some());
    let range = ["SEARCH queue USING INDEX queue_ready (queue=? AND visible_at<?)".to_string()];
    assert!(
        defect(
            "UPDATE queue SET queue = 'dead' WHERE visible_at <= ?1",
            &range
        )
        .is_some()
    );
    assert!(
        defect(
            "SELECT seq FROM queue WHERE visible_at <= ?1 LIMIT ?2",
            &range
        )
        .is_none()
    );
    let sorted = [range[0].clone(), "USE TEMP B-TREE FOR ORDER BY".to_string()];
    assert!(defect("SELECT seq FROM queue ORDER BY seq LIMIT 1", &sorted).is_some());
    let lookup = ["SEARCH queue USING INTEGER PRIMARY KEY (rowid=?)".to_string()];
    assert!(defect("UPDATE queue SET leased = 1 WHERE seq = ?1", &lookup).is_none());
    // A table the statement names under an alias is planned under the alias.
    let aliased = ["SCAN d".to_string()];
    assert!(defect("SELECT d.id FROM deliveries d WHERE d.run = 0", &aliased).is_some());
    assert!(defect("SELECT d.id FROM deliveries AS d WHERE d.run = 0", &aliased).is_some());
    let searched = ["SEARCH a USING PRIMARY KEY (tenant=? AND id=?)".to_string()];
    assert!(
        defect(
            "SELECT a.doc FROM alerts a WHERE a.tenant = ?1 AND a.id = ?2",
            &searched
        )
        .is_none()
    );
    // An indexed expression is `<expr>` in a plan: equal to a value is no range, above one is.
    let on_expression =
        "SELECT 1 FROM attempts WHERE tenant = ?1 AND json_extract(doc, '$.run') = ?2";
    let equal = ["SEARCH attempts USING INDEX attempts_once (tenant=? AND <expr>=?)".to_string()];
    assert!(defect(on_expression, &equal).is_none());
    let above = ["SEARCH attempts USING INDEX attempts_once (tenant=? AND <expr>>?)".to_string()];
    assert!(defect(on_expression, &above).is_some());
    // Every dead letter read for one delivery's: the plan the replay's removal had.
    let every_dead = ["SEARCH queue USING INDEX queue_ready (queue=?)".to_string()];
    let removal = "DELETE FROM queue WHERE queue = 'dead' AND dedup >= ?1 || ':'";
    assert!(defect(removal, &every_dead).is_some());
    let first_ready = ["SEARCH queue USING COVERING INDEX queue_ready (queue=?)".to_string()];
    let soonest = "SELECT MIN(visible_at) FROM queue WHERE queue = 'main'";
    assert!(defect(soonest, &first_ready).is_none());
}
