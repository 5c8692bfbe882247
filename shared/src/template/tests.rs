//! End-to-end tests of the public template API.

use serde_json::json;

use super::*;

/// A value full of everything that breaks naive escaping.
const NASTY: &str =
    "He said \"hi\" \\ C:\\dir\n</script><b>&amp;</b> 😀 \u{2028}\u{2029} \0 +%* ~ 'q' é\r\t";

const LOGZIO_BODY: &str = r#"{
  "alert_title": "{{alert_title}}",
  "alert_description": "{{alert_description}}",
  "alert_severity": "{{alert_severity}}",
  "alert_event_samples": "{{alert_samples}}",
  "tags": {{alert_tags_json}},
  "list": "{{#alert_tags}}{{.}},{{/alert_tags}}"
}"#;

fn catalogue() -> Catalogue {
    Catalogue::new(&[
        ("alert_title", VarKind::Value),
        ("alert_description", VarKind::Value),
        ("alert_severity", VarKind::Value),
        ("alert_samples", VarKind::Opaque),
        ("alert_tags", VarKind::List),
        ("alert_tags_json", VarKind::Opaque),
    ])
}

fn hostile() -> serde_json::Value {
    json!({
        "alert_title": NASTY,
        "alert_description": "",
        "alert_severity": "</",
        "alert_samples": [{"message": NASTY, "count": 3, "ok": false}, {"nested": {"list": [NASTY, null]}}, []],
        "alert_tags": [NASTY, "", "b"],
        "alert_tags_json": [NASTY, "", "b"],
    })
}

fn render(source: &str, escaping: Escaping, context: &serde_json::Value) -> String {
    Template::compile(source, escaping)
        .unwrap()
        .render(context, 1 << 20)
        .unwrap()
}

fn compile_error(source: &str) -> (usize, usize, String) {
    let e = Template::compile(source, Escaping::Json).unwrap_err();
    (e.line, e.column, e.message)
}

#[test]
fn template_is_send_sync_and_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Template>();
    let t = Template::compile("{{a}}", Escaping::Url).unwrap();
    assert_eq!(t.escaping(), Escaping::Url);
    assert_eq!(t.source(), "{{a}}");
    assert_eq!(
        t.clone().render(&json!({"a": "x y"}), 100).unwrap(),
        "x%20y"
    );
}

#[test]
fn logzio_body_renders_valid_json() {
    let template = Template::compile(LOGZIO_BODY, Escaping::Json).unwrap();
    template.check_variables(&catalogue()).unwrap();
    template.check_json_output(&hostile()).unwrap();

    let samples = json!([{"message": "disk \"full\"", "host": "db-1"}]);
    let context = json!({
        "alert_title": "Disk \"full\" on db-1",
        "alert_description": "Line 1\nLine 2 \\ done",
        "alert_severity": "HIGH",
        "alert_samples": samples,
        "alert_tags": ["prod", "db"],
        "alert_tags_json": ["prod", "db"],
    });
    let out = template.render(&context, 10_000).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        parsed,
        json!({
            "alert_title": "Disk \"full\" on db-1",
            "alert_description": "Line 1\nLine 2 \\ done",
            "alert_severity": "HIGH",
            "alert_event_samples": serde_json::to_string(&samples).unwrap(),
            "tags": ["prod", "db"],
            "list": "prod,db,",
        })
    );

    // With the hostile sample, every string round-trips.
    let out = template.render(&hostile(), 10_000).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["alert_title"], NASTY);
    assert_eq!(parsed["tags"], json!([NASTY, "", "b"]));
    assert_eq!(parsed["list"], format!("{NASTY},,b,"));
}

#[test]
fn each_escaping_handles_hostile_values() {
    let ctx = json!({"v": NASTY});
    let json_out = render("\"{{v}}\"", Escaping::Json, &ctx);
    assert_eq!(serde_json::from_str::<String>(&json_out).unwrap(), NASTY);
    assert!(!json_out.contains('\n') && !json_out.contains('\u{2028}') && !json_out.contains('\0'));

    let url = render("https://x.test/a?q={{v}}", Escaping::Url, &ctx);
    let encoded = url.strip_prefix("https://x.test/a?q=").unwrap();
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
        "{encoded}"
    );
    assert!(encoded.starts_with("He%20said%20%22hi%22%20%5C%20C%3A%5Cdir%0A%3C%2Fscript%3E"));

    let form = render("text={{v}}&n=1", Escaping::Form, &ctx);
    assert!(
        form.starts_with("text=He+said+%22hi%22+%5C+C%3A%5Cdir%0A%3C%2Fscript%3E"),
        "{form}"
    );
    assert!(
        form.contains("+%2B%25*+~+%27q%27+%C3%A9%0D%09&n=1"),
        "{form}"
    );

    let xml = render("<t a=\"{{v}}\">{{v}}</t>", Escaping::Xml, &ctx);
    let escaped = "He said &quot;hi&quot; \\ C:\\dir\n&lt;/script&gt;&lt;b&gt;&amp;amp;&lt;/b&gt; 😀 \u{2028}\u{2029}  +%* ~ &apos;q&apos; é\r\t";
    assert_eq!(xml, format!("<t a=\"{escaped}\">{escaped}</t>"));

    assert_eq!(render("{{v}}", Escaping::Plain, &ctx), NASTY);
}

#[test]
fn raw_tags_are_never_escaped() {
    let ctx = json!({"v": "<a href=\"x\">&</a>", "o": {"k": "\""}});
    for escaping in [
        Escaping::Json,
        Escaping::Url,
        Escaping::Form,
        Escaping::Xml,
        Escaping::Plain,
    ] {
        assert_eq!(
            render("{{{v}}}|{{& v}}", escaping, &ctx),
            "<a href=\"x\">&</a>|<a href=\"x\">&</a>"
        );
        assert_eq!(render("{{{o}}}", escaping, &ctx), "{\"k\":\"\\\"\"}");
    }
}

#[test]
fn values_are_formatted_then_escaped() {
    let ctx = json!({"n": 42, "f": -1.5, "b": true, "z": null, "l": ["a b", 1], "o": {"k": "v w"}});
    assert_eq!(
        render(
            "{{n}} {{f}} {{b}} [{{z}}] [{{missing}}]",
            Escaping::Plain,
            &ctx
        ),
        "42 -1.5 true [] []"
    );
    assert_eq!(
        render("{{l}}|{{o}}", Escaping::Url, &ctx),
        "%5B%22a%20b%22%2C1%5D%7C%7B%22k%22%3A%22v%20w%22%7D".replace("%7C", "|")
    );
    assert_eq!(
        render("\"{{l}}\"", Escaping::Json, &ctx),
        "\"[\\\"a b\\\",1]\""
    );
    assert_eq!(
        render("{{o}}", Escaping::Xml, &ctx),
        "{&quot;k&quot;:&quot;v w&quot;}"
    );
}

#[test]
fn sections_over_lists_objects_bools_and_empty() {
    let ctx = json!({
        "tags": ["a", "b", "c"],
        "people": [{"name": "Ann"}, {"name": "Bob", "role": "admin"}],
        "owner": {"name": "Cy", "team": {"name": "ops"}},
        "yes": true, "no": false, "empty": [], "blank": "", "zero": 0, "name": "outer",
    });
    assert_eq!(
        render("{{#tags}}{{.}};{{/tags}}", Escaping::Plain, &ctx),
        "a;b;c;"
    );
    assert_eq!(
        render(
            "{{#people}}{{name}}({{role}}){{/people}}",
            Escaping::Plain,
            &ctx
        ),
        "Ann()Bob(admin)"
    );
    assert_eq!(
        render(
            "{{#owner}}{{name}}/{{team.name}}{{/owner}}",
            Escaping::Plain,
            &ctx
        ),
        "Cy/ops"
    );
    assert_eq!(
        render(
            "{{#yes}}Y{{name}}{{/yes}}{{#no}}N{{/no}}",
            Escaping::Plain,
            &ctx
        ),
        "Youter"
    );
    assert_eq!(
        render(
            "[{{#empty}}E{{/empty}}{{#blank}}B{{/blank}}{{#missing}}M{{/missing}}{{#zero}}Z{{/zero}}]",
            Escaping::Plain,
            &ctx
        ),
        "[Z]"
    );
    assert_eq!(
        render(
            "{{^empty}}none{{/empty}}{{^tags}}none{{/tags}}{{^no}}!{{/no}}{{^missing}}?{{/missing}}",
            Escaping::Plain,
            &ctx
        ),
        "none!?"
    );
    // Nested lists keep outer items reachable.
    let nested = json!({"rows": [{"id": 1, "cells": ["x", "y"]}, {"id": 2, "cells": []}]});
    assert_eq!(
        render(
            "{{#rows}}{{id}}:{{#cells}}{{id}}{{.}} {{/cells}}{{^cells}}-{{/cells}}|{{/rows}}",
            Escaping::Plain,
            &nested
        ),
        "1:1x 1y |2:-|"
    );
    // The implicit iterator over a list of lists.
    assert_eq!(
        render(
            "{{#.}}({{#.}}{{.}}{{/.}}){{/.}}",
            Escaping::Plain,
            &json!([[1, 2], ["a"]])
        ),
        "(12)(a)"
    );
}

#[test]
fn dotted_names_resolve_like_mustache() {
    let ctx = json!({"a": {"b": {"c": "deep"}}, "x": {"y": 1}, "a.b": "literal", "list": [{"m": "first"}]});
    assert_eq!(
        render(
            "{{a.b.c}}|{{a.b}}|{{a.z.c}}|{{x.y}}|{{list.0.m}}",
            Escaping::Plain,
            &ctx
        ),
        "deep|{\"c\":\"deep\"}||1|first"
    );
    assert_eq!(
        render(
            "{{#a.b}}{{c}}{{/a.b}}{{^a.z}}no{{/a.z}}",
            Escaping::Plain,
            &ctx
        ),
        "deepno"
    );
    // The first segment is found up the stack; the rest only inside it.
    let ctx = json!({"a": {"b": {}}, "b": {"c": "wrong"}});
    assert_eq!(render("{{#a}}[{{b.c}}]{{/a}}", Escaping::Plain, &ctx), "[]");
}

#[test]
fn standalone_lines_are_removed() {
    let source =
        "{\n  {{#items}}\n  \"{{.}}\": 1,\n  {{/items}}\n  {{! comment }}\r\n  \"end\": true\n}\n";
    assert_eq!(
        render(source, Escaping::Json, &json!({"items": ["a", "b"]})),
        "{\n  \"a\": 1,\n  \"b\": 1,\n  \"end\": true\n}\n"
    );
    // Not standalone when sharing the line with other content or another tag.
    assert_eq!(
        render(" x {{#t}}\n{{/t}}", Escaping::Plain, &json!({"t": true})),
        " x \n"
    );
    assert_eq!(
        render("{{#t}}{{/t}}\n", Escaping::Plain, &json!({"t": true})),
        "\n"
    );
    // Interpolations never make a line standalone.
    assert_eq!(
        render("  {{v}}\n", Escaping::Plain, &json!({"v": ""})),
        "  \n"
    );
}

#[test]
fn delimiters_can_be_changed() {
    let ctx = json!({"v": "x\"", "s": true});
    assert_eq!(
        render(
            "{{=<% %>=}}{\"a\": \"<%v%>\", \"b\": \"{{v}}\"<%#s%>!<%/s%>}",
            Escaping::Json,
            &ctx
        ),
        "{\"a\": \"x\\\"\", \"b\": \"{{v}}\"!}"
    );
    assert_eq!(
        render("{{=[ ]=}}[{v}] [&v] [={{ }}=]{{v}}", Escaping::Plain, &ctx),
        "x\" x\" x\""
    );
    assert_eq!(
        render("a\n  {{=| |=}}\n|v|", Escaping::Plain, &ctx),
        "a\nx\""
    );
}

#[test]
fn compile_errors_have_exact_positions() {
    assert_eq!(
        compile_error("{\n  \"a\": 1,\n    {{alert_title\n}"),
        (3, 5, "unclosed tag: `{{` has no matching `}}`".into())
    );
    assert_eq!(
        compile_error("{{#a}}\n{{#b}}\n{{/a}}"),
        (
            3,
            1,
            "`{{/a}}` does not close `{{#b}}` (opened at line 2, column 1)".into()
        )
    );
    assert_eq!(
        compile_error("é{{#list}}x"),
        (1, 2, "unclosed section `{{#list}}`".into())
    );
    assert_eq!(
        compile_error("ok\n\t{{/list}}"),
        (
            2,
            2,
            "`{{/list}}` closes a section that was never opened".into()
        )
    );
    assert_eq!(compile_error("a {{}}"), (1, 3, "empty tag name".into()));
    assert_eq!(
        compile_error("{{> header}}"),
        (1, 1, "partials are not supported".into())
    );
    assert_eq!(
        compile_error("x\n {{@JsonEncode(alert_title, x)}}"),
        (
            2,
            2,
            "`@JsonEncode` takes one variable, as in `{{@JsonEncode({{@alert.description}})}}`"
                .into()
        )
    );
    assert_eq!(
        compile_error("{\n\t\"n\": \"{{@JsonEncode({{@monitor.notes}}\"\n}"),
        (
            2,
            8,
            "unclosed function: `{{@JsonEncode(` has no matching `)}}`".into()
        )
    );
    assert_eq!(compile_error("{{=<%=}}"), (1, 1, "invalid delimiter tag: write it like `{{=<% %>=}}` (two delimiters without spaces or `=`)".into()));
    let deep = "{{#a}}".repeat(MAX_SECTION_DEPTH + 1);
    assert_eq!(
        compile_error(&deep).2,
        "sections are nested more than 64 deep"
    );
}

#[test]
fn unknown_variables_are_reported_with_positions() {
    let template =
        Template::compile("{\n  \"title\": \"{{alert_titel}}\"\n}", Escaping::Json).unwrap();
    let err = template.check_variables(&catalogue()).unwrap_err();
    assert_eq!((err.line, err.column), (2, 13));
    assert_eq!(
        err.message,
        "unknown variable `alert_titel` (did you mean `alert_title`?)"
    );
    assert_eq!(
        err.to_string(),
        "line 2, column 13: unknown variable `alert_titel` (did you mean `alert_title`?)"
    );

    let template = Template::compile(
        "{{#alert_samples}}{{host.name}}{{/alert_samples}} {{alert_samples.0.x}}",
        Escaping::Json,
    )
    .unwrap();
    assert_eq!(template.check_variables(&catalogue()), Ok(()));
    let template =
        Template::compile("{{#alert_tags}}{{host}}{{/alert_tags}}", Escaping::Json).unwrap();
    assert_eq!(
        template.check_variables(&catalogue()).unwrap_err().message,
        "unknown variable `host`"
    );
}

#[test]
fn json_check_catches_unquoted_strings() {
    let source = "{\n  \"id\": 1,\n  \"x\": {{alert_title}}\n}";
    let template = Template::compile(source, Escaping::Json).unwrap();
    let cases = [
        (hostile(), (3, 8), "expected value (in `{{alert_title}}`)"),
        // A value that starts like JSON fails just after it.
        (
            json!({"alert_title": "1 \"quoted\""}),
            (3, 8),
            "expected `,` or `}` (in `{{alert_title}}`)",
        ),
        // An empty value fails on the text after it.
        (
            json!({"alert_title": ""}),
            (4, 1),
            "expected value (after `{{alert_title}}`)",
        ),
    ];
    for (context, at, problem) in cases {
        let err = template.check_json_output(&context).unwrap_err();
        assert_eq!((err.line, err.column), at, "{context}");
        assert_eq!(
            err.message,
            format!("the body is not valid JSON when rendered with a sample alert: {problem}")
        );
    }
}

#[test]
fn json_check_passes_raw_json_values() {
    for source in [
        "{\"tags\": {{alert_tags_json}}}",
        "{\"tags\": {{{alert_tags_json}}}, \"samples\": {{& alert_samples}}}",
        "{\"t\": \"{{alert_title}}\", \"s\": \"{{alert_samples}}\", \"l\": \"{{alert_tags}}\"}",
        "{\"n\": [{{#alert_tags}}\"{{.}}\", {{/alert_tags}}\"end\"]}",
        LOGZIO_BODY,
    ] {
        let template = Template::compile(source, Escaping::Json).unwrap();
        assert_eq!(template.check_json_output(&hostile()), Ok(()), "{source}");
    }
}

/// Found by the `template` fuzz target: the check judges JSON grammar (RFC 8259), not what one parser makes of
/// it. A number such as `44444e44444224` can only come from the template's own literal text (alert values land
/// inside strings or as JSON serde_json produced), so the check accepts it, as it does `1e400`; a
/// `serde_json::Value` would refuse both as out of range, and refuses serde_json's private RawValue key too.
#[test]
fn json_check_judges_grammar_not_number_range() {
    for source in [
        "\t44444e44444224",
        "{\"n\": 1e400, \"t\": \"{{alert_title}}\"}",
        "{\"$serde_json::private::RawValue\": 1, \"t\": \"{{alert_title}}\"}",
    ] {
        let template = Template::compile(source, Escaping::Json).unwrap();
        assert_eq!(template.check_json_output(&hostile()), Ok(()), "{source}");
    }
    let template = Template::compile("{\"n\": 1e400x}", Escaping::Json).unwrap();
    assert!(template.check_json_output(&hostile()).is_err());
}

#[test]
fn json_check_catches_trailing_commas_from_lists() {
    let source = "{\"n\": [\n  {{#alert_tags}}\n  \"{{.}}\",\n  {{/alert_tags}}\n]}";
    let template = Template::compile(source, Escaping::Json).unwrap();
    let err = template.check_json_output(&hostile()).unwrap_err();
    assert_eq!((err.line, err.column), (5, 1));
    assert_eq!(
        err.message,
        "the body is not valid JSON when rendered with a sample alert: trailing comma before `]`"
    );
}

#[test]
fn output_is_capped_over_a_huge_list() {
    let template =
        Template::compile("{\"l\": [{{#l}}\"{{.}}\",{{/l}} 0]}", Escaping::Json).unwrap();
    let context = json!({"l": vec!["0123456789"; 100_000]});
    assert_eq!(
        template.render(&context, 64 * 1024),
        Err(RenderError::TooLarge { limit: 64 * 1024 })
    );
    assert_eq!(
        template.render(&context, 1024).unwrap_err().to_string(),
        "the rendered output exceeds 1024 bytes"
    );
    let out = template.render(&context, 2 << 20).unwrap();
    assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
    assert_eq!(out.len(), 7 + 13 * 100_000 + 4);
}

#[test]
fn nothing_panics_on_odd_input() {
    let context = json!({"a": [1, {"b": [[]]}], "s": "x", "n": null});
    let fragments = [
        "{{",
        "}}",
        "{{{",
        "}}}",
        "{{#a}}",
        "{{/a}}",
        "{{^s}}",
        "{{/s}}",
        "{{.}}",
        "{{a.1.b}}",
        "{{=| |=}}",
        "|x|",
        "|#a|",
        "|/a|",
        "{{!",
        "\n",
        "\r\n",
        " ",
        "é",
        "😀",
        "{{&",
        "{{@",
        "{{>",
        "=",
        "{",
        "}",
        "\"",
        "\\",
        "{{#.}}",
        "{{/.}}",
    ];
    let mut seed: u32 = 12345;
    for _ in 0..20_000 {
        let mut source = String::new();
        for _ in 0..(seed % 12) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            source.push_str(fragments[(seed >> 8) as usize % fragments.len()]);
        }
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        for escaping in [Escaping::Json, Escaping::Xml] {
            if let Ok(template) = Template::compile(&source, escaping) {
                let _ = template.render(&context, 4096);
                let _ = template.check_variables(&catalogue());
                let _ = template.check_json_output(&context);
            }
        }
    }
}

/// Uptrends' "message formatting" example: `@JsonEncode` writes JSON string content without quotes.
#[test]
fn uptrends_json_encode_matches_its_documentation() {
    let ctx = json!({"@monitor.notes": "Monitor notes that include\na line break or \"a quote\""});
    let body = r#"{ "Notes": "{{@JsonEncode({{@monitor.notes}})}}"}"#;
    let expected = r#"{ "Notes": "Monitor notes that include\na line break or \"a quote\""}"#;
    for escaping in [Escaping::Json, Escaping::Plain] {
        assert_eq!(render(body, escaping, &ctx), expected, "{escaping:?}");
    }
}

#[test]
fn bare_uptrends_variables_escape_like_mustache_variables() {
    let ctx = json!({"v": NASTY, "@alert.description": NASTY});
    for escaping in [
        Escaping::Json,
        Escaping::Url,
        Escaping::Form,
        Escaping::Xml,
        Escaping::Plain,
    ] {
        assert_eq!(
            render(
                "[{{@alert.description}}|{{{@alert.description}}}]",
                escaping,
                &ctx
            ),
            render("[{{v}}|{{{v}}}]", escaping, &ctx),
            "{escaping:?}"
        );
    }
}

/// XML entities back to text (the five that XML escaping writes).
fn xml_unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn json_string(content: &str) -> String {
    serde_json::from_str(&format!("\"{content}\"")).unwrap()
}

#[test]
fn functions_encode_once_in_their_own_context_and_layer_elsewhere() {
    let ctx = json!({"v": NASTY});
    let json = |source: &str, escaping| render(source, escaping, &ctx);

    // In its own context a function is that context's escaping, applied once.
    assert_eq!(
        json("{{@JsonEncode(v)}}", Escaping::Json),
        json("{{v}}", Escaping::Json)
    );
    assert_eq!(
        json("{{@XmlEncode(v)}}", Escaping::Xml),
        json("{{v}}", Escaping::Xml)
    );
    let url_encoded = json("{{@UrlEncode(v)}}", Escaping::Plain);
    assert_eq!(percent_decode(&url_encoded), NASTY);
    assert!(url_encoded.starts_with("He+said+%22hi%22+%5C+C%3A%5Cdir%0A%3C%2Fscript%3E"));
    for escaping in [Escaping::Url, Escaping::Form, Escaping::Json] {
        assert_eq!(
            json("{{@UrlEncode(v)}}", escaping),
            url_encoded,
            "{escaping:?}"
        );
    }

    // Elsewhere the function's output is escaped again for where it lands: decoding the context, then the
    // function, gives the value back.
    let json_in_xml = json("<n>{{@JsonEncode(v)}}</n>", Escaping::Xml);
    let inner = json_in_xml
        .strip_prefix("<n>")
        .unwrap()
        .strip_suffix("</n>")
        .unwrap();
    assert!(!inner.contains('<') && !inner.contains('"'), "{inner}");
    assert_eq!(json_string(&xml_unescape(inner)), NASTY);

    let json_in_url = json("https://x.test/?q={{@JsonEncode(v)}}", Escaping::Url);
    let query = json_in_url.strip_prefix("https://x.test/?q=").unwrap();
    assert_eq!(json_string(&percent_decode(query)), NASTY);

    let xml_in_json = json(r#"{"x": "{{@XmlEncode(v)}}"}"#, Escaping::Json);
    let parsed: serde_json::Value = serde_json::from_str(&xml_in_json).unwrap();
    let mut xml_escaped = String::new();
    Escaping::Xml.escape_into(&mut xml_escaped, NASTY);
    assert_eq!(parsed["x"], xml_escaped.as_str());
    // (XML 1.0 cannot hold U+0000: it is dropped, the rest comes back.)
    assert_eq!(
        xml_unescape(parsed["x"].as_str().unwrap()),
        NASTY.replace('\0', "")
    );

    let url_in_xml = json("<a href=\"?q={{@UrlEncode(v)}}\"/>", Escaping::Xml);
    assert!(url_in_xml.contains("+&apos;q&apos;+"), "{url_in_xml}");
}

#[test]
fn functions_take_the_text_of_any_value() {
    let ctx = json!({"n": 2.5, "b": true, "z": null, "l": ["a b", "c\"d"], "o": {"k": "<v>"}});
    assert_eq!(
        render(
            "{{@UrlEncode(n)}}|{{@UrlEncode(b)}}|{{@UrlEncode(z)}}|{{@UrlEncode(missing)}}|{{@UrlEncode(l)}}|{{@XmlEncode(o)}}",
            Escaping::Plain,
            &ctx
        ),
        "2.5|true|||a+b%2C+c%22d|{&quot;k&quot;:&quot;&lt;v&gt;&quot;}"
    );
    // Inside a JSON body an object is text too, escaped: it stays a string, not JSON.
    let out = render(r#"{"o": "{{@JsonEncode(o)}}"}"#, Escaping::Json, &ctx);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["o"],
        r#"{"k":"<v>"}"#
    );
}

#[test]
fn templates_know_whether_they_use_uptrends_names() {
    let uses = |source: &str| {
        Template::compile(source, Escaping::Json)
            .unwrap()
            .uses_at_names()
    };
    assert!(!uses(LOGZIO_BODY));
    assert!(uses("{{@alert.type}}"));
    assert!(uses(
        "{{#alert_tags}}{{#x}}{{@UrlEncode(@incident.key)}}{{/x}}{{/alert_tags}}"
    ));
    assert!(uses("{{^@incident.key}}none{{/@incident.key}}"));
    assert!(!uses("{{@JsonEncode({{alert_title}})}}"));
}

#[test]
fn both_syntaxes_mix_in_one_template() {
    let ctx = json!({"alert_tags": ["a", "b"], "@alert.type": "Ok", "alert_title": "T\"", "@incident.key": "k/1"});
    let body = r#"{"t": "{{@alert.type}}: {{alert_title}}", "k": "{{@UrlEncode({{@incident.key}})}}", "each": "{{#alert_tags}}{{.}}={{@alert.type}};{{/alert_tags}}", "ok": "{{#@alert.type}}yes{{/@alert.type}}"}"#;
    let out = render(body, Escaping::Json, &ctx);
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        parsed,
        json!({"t": "Ok: T\"", "k": "k%2F1", "each": "a=Ok;b=Ok;", "ok": "yes"})
    );
}

fn uptrends_catalogue() -> Catalogue {
    Catalogue::new(&[
        ("alert_title", VarKind::Value),
        ("@alert.description", VarKind::Value),
        ("@alert.type", VarKind::Value),
        ("@monitor.notes", VarKind::Value),
    ])
}

#[test]
fn unknown_uptrends_variables_are_reported_with_positions() {
    let check = |source: &str| {
        let template = Template::compile(source, Escaping::Json).unwrap();
        let err = template.check_variables(&uptrends_catalogue()).unwrap_err();
        (err.line, err.column, err.message)
    };
    assert_eq!(
        check("{\n  \"d\": \"{{@alert.descripton}}\"\n}"),
        (
            2,
            9,
            "unknown variable `@alert.descripton` (did you mean `@alert.description`?)".into()
        )
    );
    assert_eq!(
        check("{\"a\": 1,\n\"n\": \"{{@JsonEncode({{@monitor.note}})}}\"}"),
        (
            2,
            7,
            "unknown variable `@monitor.note` (did you mean `@monitor.notes`?)".into()
        )
    );
    assert_eq!(
        check("{{@UrlEncode(@monitor.name)}}"),
        (1, 1, "unknown variable `@monitor.name`".into())
    );
    // Known names pass, in every form.
    let fine = Template::compile(
        "{{@alert.type}}{{@JsonEncode({{@alert.description}})}}{{@XmlEncode(@monitor.notes)}}{{@UrlEncode(alert_title)}}",
        Escaping::Json,
    )
    .unwrap();
    assert_eq!(fine.check_variables(&uptrends_catalogue()), Ok(()));
}

#[test]
fn json_check_covers_uptrends_tags() {
    let hostile = json!({"alert_title": NASTY, "@alert.description": NASTY, "@alert.type": "Alert", "@monitor.notes": NASTY});
    let body = r#"{
  "description": "{{@alert.description}}",
  "notes": "{{@JsonEncode({{@monitor.notes}})}}",
  "xml": "<n>{{@XmlEncode({{@monitor.notes}})}}</n>",
  "link": "https://x.test/?q={{@UrlEncode({{@alert.description}})}}",
  "type": "{{@alert.type}}"
}"#;
    let template = Template::compile(body, Escaping::Json).unwrap();
    template.check_variables(&uptrends_catalogue()).unwrap();
    template.check_json_output(&hostile).unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(&template.render(&hostile, 1 << 20).unwrap()).unwrap();
    assert_eq!(parsed["description"], NASTY);
    assert_eq!(parsed["notes"], NASTY);
    assert_eq!(
        percent_decode(
            parsed["link"]
                .as_str()
                .unwrap()
                .strip_prefix("https://x.test/?q=")
                .unwrap()
        ),
        NASTY
    );

    // A function outside a JSON string cannot make a string: the check points at it.
    let template = Template::compile(
        "{\n  \"n\": {{@JsonEncode({{@monitor.notes}})}}\n}",
        Escaping::Json,
    )
    .unwrap();
    let err = template.check_json_output(&hostile).unwrap_err();
    assert_eq!((err.line, err.column), (2, 8));
    assert!(
        err.message
            .ends_with("(in `{{@JsonEncode({{@monitor.notes}})}}`)"),
        "{}",
        err.message
    );
}
