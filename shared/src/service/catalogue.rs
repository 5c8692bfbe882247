//! What an endpoint editor offers beside the template: the variable catalogue with descriptions and the
//! presets with the fields each fills, as data (`GET /v1/catalogue`).

use serde_json::{Value, json};

use super::Service;
use crate::digest::DEFAULT_DIGEST_BODY;
use crate::endpoint::presets::Preset;
use crate::render_context::{DEFAULT_JSON_BODY, DIGEST_VARIABLES, UPTRENDS_VARIABLES, VARIABLES};
use crate::template::VarKind;

impl Service {
    /// The variables (Mustache names, then Uptrends' `@` names, then those only a digest has), the default
    /// bodies and the presets, each with its digest template.
    pub fn catalogue(&self) -> Value {
        let described = |list: &[(&str, VarKind, &str)]| -> Vec<Value> {
            list.iter()
                .map(|(name, kind, description)| {
                    json!({
                        "name": name,
                        "kind": kind_name(*kind),
                        "description": description,
                        "insert": insertion(name, *kind),
                    })
                })
                .collect()
        };
        let variables = described(VARIABLES);
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
                    "digest_body": preset.digest_body(),
                })
            })
            .collect();
        json!({
            "variables": variables,
            "uptrends_variables": uptrends,
            "default_body": DEFAULT_JSON_BODY,
            "digest_variables": described(DIGEST_VARIABLES),
            "default_digest_body": DEFAULT_DIGEST_BODY,
            "presets": presets,
        })
    }
}

fn kind_name(kind: VarKind) -> &'static str {
    match kind {
        VarKind::Value => "value",
        VarKind::List => "list",
        VarKind::Opaque => "json",
        VarKind::Record => "record",
    }
}

/// The text an editor inserts for the variable: a section for lists, the variable itself otherwise.
fn insertion(name: &str, kind: VarKind) -> String {
    match kind {
        VarKind::List => format!("{{{{#{name}}}}}{{{{.}}}}{{{{/{name}}}}}"),
        VarKind::Value | VarKind::Opaque => format!("{{{{{name}}}}}"),
        VarKind::Record => format!("{{{{{name}.<name>}}}}"),
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::service::in_memory::monday_service;

    /// The catalogue's entry named `name` in its list `list`.
    fn entry(catalogue: &Value, list: &str, name: &str) -> Value {
        let entries = catalogue[list].as_array().unwrap();
        entries.iter().find(|v| v["name"] == name).unwrap().clone()
    }

    #[test]
    fn a_value_variable_is_inserted_as_itself() {
        let catalogue = monday_service().catalogue();
        assert_eq!(
            entry(&catalogue, "variables", "alert_title"),
            json!({"name": "alert_title", "kind": "value", "description": "the alert's title",
                   "insert": "{{alert_title}}"})
        );
    }

    #[test]
    fn a_list_variable_is_inserted_as_a_section() {
        let catalogue = monday_service().catalogue();
        let tags = entry(&catalogue, "variables", "alert_tags");
        assert_eq!(tags["kind"], "list");
        assert_eq!(tags["insert"], "{{#alert_tags}}{{.}}{{/alert_tags}}");
    }

    #[test]
    fn an_opaque_variable_is_of_kind_json() {
        let catalogue = monday_service().catalogue();
        let samples = entry(&catalogue, "variables", "alert_samples_json");
        assert_eq!(samples["kind"], "json");
        assert_eq!(samples["insert"], "{{alert_samples_json}}");
    }

    #[test]
    fn every_variable_is_listed_once_in_order() {
        let catalogue = monday_service().catalogue();
        let names = |list: &str| -> Vec<String> {
            let entries = catalogue[list].as_array().unwrap();
            entries
                .iter()
                .map(|v| v["name"].as_str().unwrap().to_string())
                .collect()
        };
        let variables: Vec<String> = VARIABLES.iter().map(|(n, _, _)| n.to_string()).collect();
        let uptrends: Vec<String> = UPTRENDS_VARIABLES
            .iter()
            .map(|(n, _, _)| n.to_string())
            .collect();
        assert_eq!(names("variables"), variables);
        assert_eq!(names("uptrends_variables"), uptrends);
    }

    #[test]
    fn an_uptrends_variable_is_inserted_in_braces() {
        let catalogue = monday_service().catalogue();
        let account = entry(&catalogue, "uptrends_variables", "@account.accountId");
        assert_eq!(account["insert"], "{{@account.accountId}}");
        assert_eq!(account["description"], "the tenant's id");
    }

    #[test]
    fn the_default_body_and_every_preset_with_its_fields_are_offered() {
        let catalogue = monday_service().catalogue();
        assert_eq!(catalogue["default_body"], DEFAULT_JSON_BODY);
        let presets = catalogue["presets"].as_array().unwrap();
        let names: Vec<&str> = presets
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["slack", "teams", "pagerduty", "opsgenie", "panther"]
        );
        let slack = &presets[0];
        assert_eq!(slack["title"], Preset::Slack.title());
        assert_eq!(
            slack["fields"],
            Value::Object(Preset::Slack.default_fields())
        );
    }
}
