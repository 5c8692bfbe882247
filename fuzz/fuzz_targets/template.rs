//! Fuzzes the template engine: compile arbitrary source for a chosen escaping, check its variables, render it
//! against the sample and the hostile context, and run the save-time JSON body check.
//!
//! Beyond "never panics, never hangs", it holds the engine to two promises: a render never exceeds its output
//! limit, and a JSON template the save-time check accepts renders JSON that serde_json's grammar accepts too (the check uses its own JSON validator, so this is a differential test of it).

#![no_main]

use std::sync::OnceLock;

use alertwire_shared::render_context;
use alertwire_shared::template::{Escaping, Template};
use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use serde_json::Value;

/// Output limit for the fuzzed renders: small, so limits are hit often and each run stays fast.
const MAX_OUTPUT: usize = 64 * 1024;

const ESCAPINGS: [Escaping; 5] = [
    Escaping::Json,
    Escaping::Url,
    Escaping::Form,
    Escaping::Xml,
    Escaping::Plain,
];

fn contexts() -> &'static (Value, Value) {
    static CONTEXTS: OnceLock<(Value, Value)> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        (
            render_context::sample_context(),
            render_context::hostile_context(),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, source)) = data.split_first() else {
        return;
    };
    let Ok(source) = std::str::from_utf8(source) else {
        return;
    };
    let escaping = ESCAPINGS[usize::from(selector) % ESCAPINGS.len()];
    let Ok(template) = Template::compile(source, escaping) else {
        return;
    };
    let _ = template.check_variables(render_context::catalogue());
    let (sample, hostile) = contexts();
    for context in [sample, hostile] {
        if let Ok(output) = template.render(context, MAX_OUTPUT) {
            assert!(output.len() <= MAX_OUTPUT, "render exceeded its limit");
        }
    }
    if escaping == Escaping::Json && template.check_json_output(hostile).is_ok() {
        let output = template
            .render(hostile, alertwire_shared::template::CHECK_MAX_BYTES)
            .expect("the check rendered it, so rendering succeeds");
        // serde_json as the reference for JSON grammar: `IgnoredAny` skips numbers without converting them (the
        // check does not judge their range, see the template unit test json_check_judges_grammar_…) and has no
        // special keys (a `Value` refuses `{"$serde_json::private::RawValue": 1}`).
        if let Err(e) = serde_json::from_str::<IgnoredAny>(&output) {
            panic!("the JSON check accepted output serde_json refuses ({e}): {output:?}");
        }
    }
});
