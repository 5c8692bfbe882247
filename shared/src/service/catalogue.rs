//! What an endpoint editor offers beside the template: the variable catalogue with descriptions and the
//! presets with the fields each fills, as data (`GET /v1/catalogue`).

use serde_json::{Value, json};

use super::Service;
use crate::endpoint::presets::Preset;
use crate::render_context::{DEFAULT_JSON_BODY, UPTRENDS_VARIABLES, VARIABLES};
use crate::template::VarKind;

impl Service {
    /// The variables (Mustache names, then Uptrends' `@` names), the default body and the presets.
    pub fn catalogue(&self) -> Value {
        let variables: Vec<Value> = VARIABLES
            .iter()
            .map(|(name, kind, description)| {
                json!({
                    "name": name,
                    "kind": kind_name(*kind),
                    "description": description,
                    "insert": insertion(name, *kind),
                })
            })
            .collect();
        let uptrends: Vec<Value> = UPTRENDS_VARIABLES
            .iter()
            .map(|(name, _, description)| {
                json!({"name": name, "description": description, "insert": format!("{{{{{name}}}}}")})
            })
            .collect();
        let presets: Vec<Value> = Preset::ALL
            .iter()
            .map(|preset| {
                json!({
                    "name": preset.as_str(),
                    "title": preset.title(),
                    "fields": preset.default_fields(),
                })
            })
            .collect();
        json!({
            "variables": variables,
            "uptrends_variables": uptrends,
            "default_body": DEFAULT_JSON_BODY,
            "presets": presets,
        })
    }
}

fn kind_name(kind: VarKind) -> &'static str {
    match kind {
        VarKind::Value => "value",
        VarKind::List => "list",
        VarKind::Opaque => "json",
    }
}

/// The text an editor inserts for the variable: a section for lists, the variable itself otherwise.
fn insertion(name: &str, kind: VarKind) -> String {
    match kind {
        VarKind::List => format!("{{{{#{name}}}}}{{{{.}}}}{{{{/{name}}}}}"),
        VarKind::Value | VarKind::Opaque => format!("{{{{{name}}}}}"),
    }
}
