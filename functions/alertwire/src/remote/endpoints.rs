//! `alertwire endpoints`: list, show, create, test ("Run the test") and delete.

use serde_json::{Value, json};

use super::ApiClient;
use super::output::{self, cell};
use crate::cli::{EndpointCreateArgs, EndpointsCommand};

pub async fn run(api: &ApiClient, as_json: bool, command: EndpointsCommand) -> Result<(), String> {
    match command {
        EndpointsCommand::List => {
            let answer = api.get("/v1/endpoints").await?;
            if as_json {
                output::json(&answer);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list_of(&answer, "endpoints")
                .iter()
                .map(|e| {
                    vec![
                        cell(&e["id"]),
                        cell(&e["name"]),
                        cell(&e["method"]),
                        cell(&e["url"]),
                        health(e),
                    ]
                })
                .collect();
            output::table(&["ID", "NAME", "METHOD", "URL", "STATE"], &rows);
        }
        EndpointsCommand::Show { id } => {
            output::json(&api.get(&format!("/v1/endpoints/{id}")).await?);
        }
        EndpointsCommand::Create(args) => {
            let view = api.post("/v1/endpoints", Some(&create_body(args)?)).await?;
            if as_json {
                output::json(&view);
            } else {
                println!("created endpoint {}", cell(&view["id"]));
                if let Some(secret) = view["secret"].as_str().filter(|s| !s.contains('*')) {
                    println!("signing secret (shown only now): {secret}");
                }
            }
        }
        EndpointsCommand::Test { id } => {
            let report = api.post(&format!("/v1/endpoints/{id}/test"), None).await?;
            if as_json {
                output::json(&report);
            } else {
                print_test_report(&report);
            }
            if report["ok"] != true {
                return Err("the endpoint did not acknowledge the test (no 2XX answer)".into());
            }
        }
        EndpointsCommand::Delete { id } => {
            api.delete(&format!("/v1/endpoints/{id}")).await?;
            println!("deleted endpoint {id}");
        }
    }
    Ok(())
}

/// The create body: a JSON file (or `-` for stdin) with the flags laid over it.
fn create_body(args: EndpointCreateArgs) -> Result<Value, String> {
    let mut body = match &args.from_file {
        None => json!({}),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| format!("reading stdin: {e}"))?
            } else {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("reading {}: {e}", path.display()))?
            };
            serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", path.display()))?
        }
    };
    let object = body
        .as_object_mut()
        .ok_or("the endpoint file must hold a JSON object")?;
    let flags = [
        ("name", args.name),
        ("url", args.url),
        ("method", args.method),
        ("secret", args.secret),
        ("preset", args.preset),
    ];
    for (field, value) in flags {
        if let Some(value) = value {
            object.insert(field.into(), json!(value));
        }
    }
    Ok(body)
}

fn health(endpoint: &Value) -> String {
    if endpoint["enabled"] == false {
        return format!("disabled: {}", cell(&endpoint["disabled_reason"]));
    }
    match endpoint["health"]["failure_streak"].as_u64() {
        Some(streak) if streak > 0 => format!("enabled, {streak} failures in a row"),
        _ => "enabled".into(),
    }
}

fn print_test_report(report: &Value) {
    let request = &report["request"];
    println!("> {} {}", cell(&request["method"]), cell(&request["url"]));
    for pair in request["headers"].as_array().into_iter().flatten() {
        println!("> {}: {}", cell(&pair[0]), cell(&pair[1]));
    }
    println!(">\n{}\n", cell(&request["body"]));
    if let Some(response) = report["response"].as_object() {
        println!(
            "< {} ({} ms)",
            cell(&response["status"]),
            cell(&response["duration_ms"])
        );
        println!("{}", cell(&response["body"]));
    }
    if let Some(error) = report["error"].as_object() {
        println!(
            "! {}: {} ({} ms)",
            cell(&error["class"]),
            cell(&error["message"]),
            cell(&error["duration_ms"])
        );
    }
}

pub(super) fn list_of<'a>(answer: &'a Value, key: &str) -> &'a [Value] {
    answer[key]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}
