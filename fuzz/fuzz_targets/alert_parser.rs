//! Fuzzes the alert parser: arbitrary bytes, read as JSON, through `AlertContent::from_json`. An alert it accepts
//! is rendered with the default body and with a body using sections and raw JSON variables; both are JSON
//! templates the save-time check accepts, so each must render JSON that parses, whatever the alert holds.

#![no_main]

use std::sync::OnceLock;

use alertwire_shared::alert::AlertContent;
use alertwire_shared::ids::{AlertId, TenantId};
use alertwire_shared::render_context::{self, DeliveryFacts};
use alertwire_shared::template::{Escaping, Template};
use alertwire_shared::webhook::request::MAX_BODY_BYTES;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const SECTIONS_BODY: &str = r#"{"text": "[{{alert_severity}}] {{alert_title}}: {{alert_description}}",
 "tags": [{{#alert_tags}}"{{.}}",{{/alert_tags}} "end"],
 "first": "{{alert_samples.0}}", "samples": {{alert_samples_json}}, "context": {{alert_context_json}},
 "region": "{{alert_context.region}}", "link": "{{alert_app_url}}", "html": "{{alert_event_html}}",
 "from": "{{alert_timeframe_start}}", "from_ms": "{{alert_timeframe_start_epoch_millis}}"}"#;

fn templates() -> &'static [Template] {
    static TEMPLATES: OnceLock<Vec<Template>> = OnceLock::new();
    TEMPLATES.get_or_init(|| {
        [render_context::DEFAULT_JSON_BODY, SECTIONS_BODY]
            .iter()
            .map(|source| {
                let template = Template::compile(source, Escaping::Json).expect("compiles");
                template
                    .check_json_output(&render_context::hostile_context())
                    .expect("passes the save-time check");
                template
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(content) = AlertContent::from_json(&body) else {
        return;
    };
    let alert = content.into_alert(
        AlertId::from("al_fuzz"),
        TenantId::from("fuzz"),
        chrono::Utc::now(),
    );
    let context = render_context::context(
        &alert,
        &DeliveryFacts {
            delivery_id: "dl_fuzz",
            attempt: 1,
            endpoint_id: "ep_fuzz",
            endpoint_name: "fuzz",
            verification_token: None,
            fallback_of: None,
            captured: None,
            digest: None,
        },
    );
    for template in templates() {
        // Too large or too much work is a clean refusal; anything rendered must be JSON.
        if let Ok(output) = template.render(&context, MAX_BODY_BYTES)
            && let Err(e) = serde_json::from_str::<Value>(&output)
        {
            panic!("an accepted alert rendered invalid JSON ({e}): {output:?}");
        }
    }
});
