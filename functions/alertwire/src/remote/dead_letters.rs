//! `alertwire dead-letters`: list them, and replay them with a progress bar. A large replay is sent in
//! batches of ids, so the bar moves as the server takes each batch and an interrupted replay can simply
//! be run again (what was replayed is no longer a dead letter).

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use super::ApiClient;
use super::deliveries::{print_list, query};
use super::endpoints::list_of;
use super::output;
use crate::cli::{DeadLettersCommand, DeliveryFilterArgs, ReplayArgs};

/// Ids per replay request.
const BATCH: usize = 100;
/// Dead letters read per page while collecting ids.
const PAGE: usize = 500;

pub async fn run(
    api: &ApiClient,
    as_json: bool,
    command: DeadLettersCommand,
) -> Result<(), String> {
    match command {
        DeadLettersCommand::List { endpoint, limit } => {
            let filter = DeliveryFilterArgs {
                endpoint,
                limit,
                ..Default::default()
            };
            let answer = api
                .get(&format!("/v1/dead-letters{}", query(&filter)))
                .await?;
            if as_json {
                output::json(&answer);
            } else {
                print_list(list_of(&answer, "dead_letters"), &answer["next_before"]);
            }
        }
        DeadLettersCommand::Replay(args) => {
            let replayed = replay(api, &args).await?;
            if as_json {
                output::json(&json!({ "replayed": replayed }));
            } else {
                println!("replayed {replayed} dead letters");
            }
        }
    }
    Ok(())
}

async fn replay(api: &ApiClient, args: &ReplayArgs) -> Result<u64, String> {
    let ids = if args.ids.is_empty() {
        collect_ids(api, args.endpoint.as_deref()).await?
    } else {
        args.ids.clone()
    };
    let bar = ProgressBar::new(ids.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} dead letters replayed ({eta} left)")
            .map_err(|e| e.to_string())?,
    );
    let mut replayed = 0;
    for batch in ids.chunks(BATCH) {
        let answer = api
            .post("/v1/dead-letters/replay", Some(&json!({ "ids": batch })))
            .await
            .inspect_err(|_| bar.abandon())?;
        replayed += answer["replayed"].as_u64().unwrap_or(0);
        bar.inc(batch.len() as u64);
    }
    bar.finish_and_clear();
    Ok(replayed)
}

/// Every dead letter's id (of one endpoint, if given), page by page.
async fn collect_ids(api: &ApiClient, endpoint: Option<&str>) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let filter = DeliveryFilterArgs {
            endpoint: endpoint.map(str::to_string),
            before: before.clone(),
            limit: Some(PAGE),
            ..Default::default()
        };
        let answer: Value = api
            .get(&format!("/v1/dead-letters{}", query(&filter)))
            .await?;
        ids.extend(
            list_of(&answer, "dead_letters")
                .iter()
                .filter_map(|d| d["id"].as_str().map(str::to_string)),
        );
        match answer["next_before"].as_str() {
            Some(next) => before = Some(next.to_string()),
            None => return Ok(ids),
        }
    }
}
