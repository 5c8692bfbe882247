//! `alertwire deliveries` (list with filters, show with every attempt) and `alertwire resend`.

use serde_json::Value;

use super::ApiClient;
use super::endpoints::list_of;
use super::output::{self, cell};
use crate::cli::{DeliveriesCommand, DeliveryFilterArgs};

pub async fn run(api: &ApiClient, as_json: bool, command: DeliveriesCommand) -> Result<(), String> {
    match command {
        DeliveriesCommand::List(filter) => {
            let answer = api
                .get(&format!("/v1/deliveries{}", query(&filter)))
                .await?;
            if as_json {
                output::json(&answer);
            } else {
                print_list(list_of(&answer, "deliveries"), &answer["next_before"]);
            }
        }
        DeliveriesCommand::Show { id } => {
            let delivery = api.get(&format!("/v1/deliveries/{id}")).await?;
            if as_json {
                output::json(&delivery);
            } else {
                print_one(&delivery);
            }
        }
    }
    Ok(())
}

pub async fn resend(api: &ApiClient, as_json: bool, id: &str) -> Result<(), String> {
    let delivery = api
        .post(&format!("/v1/deliveries/{id}/resend"), None)
        .await?;
    if as_json {
        output::json(&delivery);
    } else {
        println!(
            "resending {id}: run {}, {}",
            cell(&delivery["run"]),
            cell(&delivery["status"])
        );
    }
    Ok(())
}

/// The filters as a query string, percent-encoded.
pub(super) fn query(filter: &DeliveryFilterArgs) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    let fields = [
        ("status", &filter.status),
        ("endpoint_id", &filter.endpoint),
        ("alert_id", &filter.alert),
        ("before", &filter.before),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            pairs.append_pair(name, value);
        }
    }
    if let Some(limit) = filter.limit {
        pairs.append_pair("limit", &limit.to_string());
    }
    let encoded = pairs.finish();
    if encoded.is_empty() {
        encoded
    } else {
        format!("?{encoded}")
    }
}

pub(super) fn print_list(deliveries: &[Value], next_before: &Value) {
    let rows: Vec<Vec<String>> = deliveries
        .iter()
        .map(|d| {
            vec![
                cell(&d["id"]),
                cell(&d["endpoint_id"]),
                cell(&d["status"]),
                cell(&d["attempt_count"]),
                cell(&d["updated_at"]),
                cell(&d["status_reason"]),
            ]
        })
        .collect();
    output::table(
        &["ID", "ENDPOINT", "STATUS", "ATTEMPTS", "UPDATED", "REASON"],
        &rows,
    );
    if let Some(next) = next_before.as_str() {
        println!("(more: --before {next})");
    }
}

fn print_one(delivery: &Value) {
    println!("delivery  {}", cell(&delivery["id"]));
    println!("alert     {}", cell(&delivery["alert_id"]));
    println!("endpoint  {}", cell(&delivery["endpoint_id"]));
    println!(
        "status    {} {}",
        cell(&delivery["status"]),
        delivery["status_reason"]
            .as_str()
            .map(|r| format!("({r})"))
            .unwrap_or_default()
    );
    let rows: Vec<Vec<String>> = list_of(delivery, "attempts")
        .iter()
        .map(|a| {
            vec![
                format!("{}.{}", cell(&a["run"]), cell(&a["number"])),
                cell(&a["started_at"]),
                cell(&a["status_code"]),
                cell(&a["error_class"]),
                cell(&a["duration_ms"]),
                one_line(a["response_body"].as_str().or(a["error"].as_str())),
            ]
        })
        .collect();
    println!();
    output::table(
        &["RUN.TRY", "STARTED", "STATUS", "ERROR", "MS", "ANSWER"],
        &rows,
    );
}

/// The first 80 characters of a response body or error, on one line.
fn one_line(text: Option<&str>) -> String {
    let text = text.unwrap_or("-").replace(['\r', '\n'], " ");
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
