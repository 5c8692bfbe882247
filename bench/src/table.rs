//! The one table the benchmark prints: a row per scenario with its figure, its baseline, their ratio and
//! whether the goal is met.

use crate::stats::{Figure, number};

/// Whether a row meets its goal; `None` when the row only reports.
pub struct Row {
    pub scenario: String,
    pub figure: Figure,
    pub baseline: Option<Figure>,
    pub ratio: Option<f64>,
    pub goal: String,
    pub met: Option<bool>,
}

pub fn print(rows: &[Row], failures: &[String]) {
    println!(
        "| scenario | figure: median [min–max] | baseline in the same run | ratio | goal | met |"
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.scenario,
            row.figure.describe(),
            row.baseline.as_ref().map_or("–".into(), Figure::describe),
            row.ratio.map_or("–".into(), |r| format!("{}×", number(r))),
            row.goal,
            match row.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            }
        );
    }
    for failure in failures {
        println!("| {failure} | failed to run | | | | **error** |");
    }
}
