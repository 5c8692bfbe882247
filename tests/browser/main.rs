//! The web console in a real browser (Debian's chromium through chromedriver): sign in (a wrong key first),
//! create an endpoint (a template error first, then "Run the test" against a receiver on 127.0.0.1),
//! an unreachable endpoint's test, an alert that fails until it is dead, its attempts timeline, and its
//! replay from the dead letters screen until it is delivered; an endpoint whose circuit opens, its figures
//! and its delivery limits; the route test and the default endpoint; OAuth2 credentials in the editor. Screenshots of each screen go to
//! `<target>/<profile>/console-screenshots/`; with `UPDATE_SCREENSHOTS=1` they are also copied to
//! `docs/screenshots/` for the README.

use std::path::PathBuf;
use std::time::Duration;

use alertwire_shared::endpoint::circuit::CircuitPolicy;
use alertwire_tests::browser::Browser;
use alertwire_tests::mtls_server::{MtlsServer, TestCa};
use alertwire_tests::serve_process::free_port;
use alertwire_tests::server::scratch_dir;
use alertwire_tests::token_server::{TokenPolicy, TokenServer};
use alertwire_tests::{Behaviour, Receiver, TestServer};
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(30);

/// The screens whose screenshots the README shows.
const README_SCREENS: &[&str] = &[
    "sign-in",
    "template-error",
    "endpoint-editor",
    "endpoints",
    "deliveries",
    "delivery-attempts",
    "dead-letters",
    "routing",
];

fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>")
        .join("console-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_flow_from_sign_in_to_a_replayed_dead_letter() {
    let server = TestServer::start().await;
    let healthy = Receiver::start(Behaviour::status(200)).await;
    let failing = Receiver::start(Behaviour::status(500)).await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-profile"),
        screenshot_dir(),
        1280,
        1400,
    )
    .await;

    // Sign in: a wrong key is refused with a clear message, the right one (typed, Enter) is accepted.
    browser.goto(&console).await;
    browser.fill("#api-key", "aw_wrong_key").await;
    browser.click("#sign-in button[type=submit]").await;
    browser
        .text_containing("#sign-in-message", "That API key was not accepted")
        .await;
    browser.screenshot("sign-in").await;
    browser
        .fill("#api-key", &format!("{}\u{E007}", server.api.key))
        .await;
    browser.text_containing("main h2", "Endpoints").await;
    let url = browser.client.current_url().await.unwrap();
    assert!(
        !url.as_str().contains(&server.api.key),
        "the key is never in the address: {url}"
    );

    // A new endpoint: a template error shows its line and column as you type.
    browser.click("#new-endpoint").await;
    browser.fill("#f-name", "ops receiver").await;
    browser.fill("#f-url", &healthy.url("/hook")).await;
    browser
        .fill("#f-body", "{\n  \"title\": \"{{#alert_title}}\"\n}")
        .await;
    let shown = browser
        .text_containing("#template-error", "line 2, column")
        .await;
    assert!(shown.starts_with("body (line 2, column"), "{shown}");
    browser
        .script("document.getElementById('f-body').scrollIntoView();")
        .await;
    browser.screenshot("template-error").await;
    browser
        .fill(
            "#f-body",
            "{\"title\": \"{{alert_title}}\", \"severity\": \"{{alert_severity}}\"}",
        )
        .await;
    browser
        .text_containing("#template-error", "The template is valid.")
        .await;

    // "Run the test" sends the sample to the receiver and shows its answer, before anything is saved.
    browser.click("#run-test").await;
    browser
        .text_containing("#test-message", "Test delivered: the endpoint answered 200")
        .await;
    browser
        .text_containing("#test-response-body", "{\"answer\":200}")
        .await;
    let request = browser.text_containing("#test-request", "POST ").await;
    let received = healthy.wait_for(1, SETTLE).await;
    assert!(
        request.contains(&received[0].body_text()),
        "the screen shows the body the receiver got: {request}"
    );
    let (_, endpoints) = server.api.get("/v1/endpoints").await;
    assert_eq!(
        endpoints["endpoints"],
        json!([]),
        "nothing saved by the test"
    );
    browser
        .script("document.getElementById('run-test').scrollIntoView();")
        .await;
    browser.screenshot("endpoint-editor").await;
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    browser.text_containing("#secret-value", "whsec_").await;

    // An unreachable endpoint's test says so.
    browser.click("nav a[href='#/endpoints']").await;
    browser.text_containing("main table", "ops receiver").await;
    browser.click("#new-endpoint").await;
    browser.fill("#f-name", "nobody home").await;
    browser
        .fill("#f-url", &format!("http://127.0.0.1:{}/", free_port()))
        .await;
    browser.click("#run-test").await;
    let message = browser
        .text_containing("#test-message", "could not be reached")
        .await;
    assert!(message.contains("(connect)"), "{message}");

    // The failing endpoint (made through the API): an alert to it dies after its attempts.
    server
        .api
        .create_endpoint(&json!({"name": "flaky receiver", "url": failing.url("/in")}))
        .await;
    browser.goto(&format!("{console}#/endpoints")).await;
    browser
        .text_containing("main table", "flaky receiver")
        .await;
    let ids = server
        .api
        .send_alert(&json!({"title": "db-7 disk full", "severity": "high"}))
        .await;
    for id in &ids {
        server.api.settled(id, SETTLE).await;
    }
    browser
        .refresh_until(
            "#refresh",
            "main table",
            "Failing: 10 failed attempts in a row",
            SETTLE,
        )
        .await;
    browser.screenshot("endpoints").await;

    browser.click("nav a[href='#/deliveries']").await;
    browser
        .refresh_until("#refresh", "#deliveries", "dead", SETTLE)
        .await;
    browser.text_containing("#deliveries", "delivered").await;
    browser
        .text_containing("#retention", "kept for 30 days, then deleted")
        .await;
    browser.screenshot("deliveries").await;
    browser.select("#filter-status", "dead").await;
    browser
        .text_containing("#deliveries", "flaky receiver")
        .await;
    let rows = browser
        .client
        .find_all(fantoccini::Locator::Css("#deliveries tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "the filter shows the dead delivery only");
    browser.click("#deliveries a.open-delivery").await;
    browser.text_containing("#delivery-status", "dead").await;
    let timeline = browser.text_containing("#attempts", "Attempt 10").await;
    assert_eq!(
        timeline.matches("Failed: answered 500").count()
            + timeline.matches("Failed (non2xx): answered 500").count(),
        10,
        "{timeline}"
    );
    assert!(timeline.contains("{\"answer\":500}"), "{timeline}");
    browser.screenshot("delivery-attempts").await;

    // The receiver recovers; replay every dead letter from the console.
    failing.set(Behaviour::status(200));
    browser.click("nav a[href='#/dead-letters']").await;
    browser.click("#select-all").await;
    browser.screenshot("dead-letters").await;
    browser.click("#replay").await;
    browser
        .text_containing("#replay-message", "Replayed 1 of 1")
        .await;
    let got = failing.wait_for(11, SETTLE).await;
    assert!(got[10].answer.is_success(), "the replay was answered 200");
    browser.goto(&format!("{console}#/deliveries")).await;
    browser
        .refresh_until("#refresh", "#deliveries", "delivered", SETTLE)
        .await;
    let (_, dead) = server.api.get("/v1/dead-letters").await;
    assert_eq!(dead["dead_letters"], json!([]), "{dead}");
    browser.goto(&format!("{console}#/dead-letters")).await;
    browser
        .text_containing("#no-dead-letters", "No dead letters.")
        .await;

    browser.close().await;
    update_readme_screenshots();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_screens_fit_a_390_pixel_wide_window() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let endpoint = server
        .api
        .create_endpoint(&json!({
            "name": "a receiver with a long address",
            "url": receiver.url("/a/very/long/path/that/would/overflow/a/narrow/screen/if/it/did/not/wrap"),
        }))
        .await;
    let ids = server.api.send_alert(&json!({"title": "narrow"})).await;
    server.api.settled(&ids[0], SETTLE).await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-narrow-profile"),
        screenshot_dir().join("narrow"),
        390,
        844,
    )
    .await;
    browser.goto(&console).await;
    browser.element("#api-key").await;
    let width = browser.script("return window.innerWidth;").await;
    assert_eq!(width, json!(390), "the window is a phone's width");
    let (fits, sizes) = browser.fits_the_width().await;
    browser.screenshot("sign-in").await;
    assert!(fits, "sign-in scrolls sideways at 390 px: {sizes}");
    browser
        .fill("#api-key", &format!("{}\u{E007}", server.api.key))
        .await;
    browser.text_containing("main h2", "Endpoints").await;
    let screens = [
        ("endpoints", "#/endpoints".to_string()),
        ("endpoint-editor", "#/endpoints/new".into()),
        (
            "endpoint-figures",
            format!("#/endpoints/{}", endpoint["id"].as_str().expect("an id")),
        ),
        ("deliveries", "#/deliveries".into()),
        ("delivery-attempts", format!("#/deliveries/{}", ids[0])),
        ("dead-letters", "#/dead-letters".into()),
    ];
    for (name, fragment) in screens {
        browser.goto(&format!("{console}{fragment}")).await;
        browser.element("main h2").await;
        // Let the screen's data arrive and lay out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (fits, sizes) = browser.fits_the_width().await;
        browser.screenshot(name).await;
        assert!(fits, "{name} scrolls sideways at 390 px: {sizes}");
    }
    browser.close().await;
}

/// With `UPDATE_SCREENSHOTS=1`, copies one screenshot of each main screen into `docs/screenshots/`.
fn update_readme_screenshots() {
    if std::env::var("UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&docs).expect("docs/screenshots");
    for name in README_SCREENS {
        let file = format!("{name}.png");
        std::fs::copy(screenshot_dir().join(&file), docs.join(&file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_is_usable_from_the_keyboard() {
    let server = TestServer::start().await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-keyboard-profile"),
        screenshot_dir().join("keyboard"),
        1280,
        900,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser.goto(&format!("{console}#/endpoints/new")).await;

    // The message-type tabs follow the arrow keys, as tabs do.
    let error_tab = browser.element("#tab-error").await;
    error_tab.send_keys("\u{E014}").await.expect("ArrowRight");
    let state = browser
        .script(
            "return {focused: document.activeElement.id,
                     selected: document.querySelector('[role=tab][aria-selected=true]').id,
                     panelShown: !document.getElementById('panel-reminder').hidden,
                     errorHidden: document.getElementById('panel-error').hidden};",
        )
        .await;
    assert_eq!(
        state,
        json!({"focused": "tab-reminder", "selected": "tab-reminder", "panelShown": true, "errorHidden": true})
    );

    // Tab moves focus through the controls, and the focused one is outlined.
    browser
        .element("#f-name")
        .await
        .click()
        .await
        .expect("focus");
    browser
        .element("#f-name")
        .await
        .send_keys("\u{E004}")
        .await
        .expect("Tab");
    let focused = browser
        .script(
            "const e = document.activeElement;
             return {id: e.id, outline: getComputedStyle(e).outlineStyle};",
        )
        .await;
    assert_eq!(focused["id"], "f-method", "{focused}");
    assert_ne!(focused["outline"], "none", "{focused}");
    browser.close().await;
}

/// An endpoint that answers 500 until its circuit opens: the console shows the open badge, the last error
/// and a chart with failed deliveries; its limits and fallback are edited, saved and shown, and a bad
/// limit is refused under its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_its_figures_and_the_endpoint_limits() {
    // Three outages open the circuit; probes come back every 5 s, so it stays open while looked at.
    let server = TestServer::with(|config| {
        config.circuit = CircuitPolicy {
            failures: 3,
            cooldown: Duration::from_secs(5),
            max_cooldown: Duration::from_secs(5),
            ..CircuitPolicy::default()
        }
    })
    .await;
    let steady = Receiver::start(Behaviour::status(200)).await;
    let failing = Receiver::start(Behaviour::status(500)).await;
    let steady_view = server
        .api
        .create_endpoint(&json!({"name": "steady receiver", "url": steady.url("/in")}))
        .await;
    let steady_id = steady_view["id"].as_str().expect("an id").to_string();
    let storm = server
        .api
        .create_endpoint(&json!({"name": "storm receiver", "url": failing.url("/in")}))
        .await;
    let id = storm["id"].as_str().expect("an id").to_string();
    for n in 0..3 {
        server
            .api
            .send_alert(&json!({"title": format!("storm {n}"), "severity": "critical"}))
            .await;
    }
    let started = std::time::Instant::now();
    let circuit = loop {
        let (_, endpoint) = server.api.get(&format!("/v1/endpoints/{id}")).await;
        if endpoint["health"]["circuit"]["state"] == "open" {
            break endpoint["health"]["circuit"].clone();
        }
        assert!(
            started.elapsed() < SETTLE,
            "the circuit never opened: {endpoint}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-storm-profile"),
        screenshot_dir().join("storm"),
        1280,
        1400,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser
        .refresh_until("#refresh", "main table", "Circuit open", SETTLE)
        .await;
    browser
        .text_containing("main table", "Circuit closed")
        .await;
    browser.screenshot("endpoints-circuit-open").await;

    // The endpoint's screen: the badge, since when, the last error, and failed deliveries in the chart.
    browser.goto(&format!("{console}#/endpoints/{id}")).await;
    browser
        .refresh_until("#refresh-status", "#circuit", "Circuit open", SETTLE)
        .await;
    browser.element("#circuit .badge.circuit-open").await;
    browser.element("#circuit-since").await;
    let last_error = circuit["last_error"].as_str().expect("a last error");
    browser
        .text_containing("#circuit-last-error", last_error)
        .await;
    let totals = browser.text_containing("#stats-totals", "failed").await;
    assert!(totals.starts_with("0 delivered, "), "{totals}");
    let chart = browser
        .script(
            "const bars = [...document.querySelectorAll('#stats-chart g')];
             return {hours: bars.length,
                     failed: bars.reduce((n, g) => n + Number(g.dataset.failed), 0),
                     drawn: [...document.querySelectorAll('#stats-chart rect.failed')]
                         .some((r) => r.getBBox().height > 0)};",
        )
        .await;
    assert_eq!(chart["hours"], 24, "{chart}");
    assert!(chart["failed"].as_u64() >= Some(1), "{chart}");
    assert_eq!(chart["drawn"], true, "a failed bar is drawn: {chart}");
    browser
        .text_containing("#stats-success-rate", "0.0 %")
        .await;
    browser.screenshot("endpoint-circuit-open").await;

    // The limits and the fallback: saved, shown again after a reload.
    browser.fill("#f-max-in-flight", "3").await;
    browser.fill("#f-rate-limit", "2.5").await;
    let choices = browser
        .script(&format!(
            "const select = document.getElementById('f-fallback');
             select.value = '{steady_id}';
             select.dispatchEvent(new Event('change', {{bubbles: true}}));
             return [...select.options].map((o) => o.value);"
        ))
        .await;
    assert_eq!(
        choices,
        json!(["", steady_id]),
        "none, or the tenant's other endpoint"
    );
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    let (_, saved) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(
        (
            &saved["max_in_flight"],
            &saved["rate_limit_per_second"],
            &saved["fallback_endpoint_id"]
        ),
        (&json!(3), &json!(2.5), &json!(steady_id)),
        "{saved}"
    );
    browser.goto(&format!("{console}#/endpoints")).await;
    browser.goto(&format!("{console}#/endpoints/{id}")).await;
    browser.element("#f-max-in-flight").await;
    let shown = browser
        .script(
            "return [document.getElementById('f-max-in-flight').value,
                     document.getElementById('f-rate-limit').value,
                     document.getElementById('f-fallback').value];",
        )
        .await;
    assert_eq!(shown, json!(["3", "2.5", steady_id]));
    browser
        .script("document.getElementById('limits').scrollIntoView();")
        .await;
    browser.screenshot("endpoint-limits").await;

    // A bad value: the API's 422 shows under the field, and nothing is saved.
    browser.fill("#f-max-in-flight", "0").await;
    browser.click("#save").await;
    let error = browser
        .text_containing("#f-max-in-flight-error", "max_in_flight")
        .await;
    assert!(error.contains("256"), "{error}");
    let invalid = browser
        .script("return document.getElementById('f-max-in-flight').getAttribute('aria-invalid');")
        .await;
    assert_eq!(invalid, json!("true"));
    browser
        .text_containing("#save-message", "max_in_flight")
        .await;
    let (_, unchanged) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(unchanged["max_in_flight"], 3, "{unchanged}");
    browser
        .script("document.getElementById('limits').scrollIntoView();")
        .await;
    browser.screenshot("endpoint-limits-error").await;

    // Fixed, the error goes; a bad rate is named under its own field.
    browser.fill("#f-max-in-flight", "4").await;
    browser.fill("#f-rate-limit", "0").await;
    browser.click("#save").await;
    browser
        .text_containing("#f-rate-limit-error", "rate_limit_per_second")
        .await;
    let cleared = browser
        .script("return document.getElementById('f-max-in-flight-error').textContent;")
        .await;
    assert_eq!(cleared, json!(""));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_routing_screen_says_which_endpoints_get_an_alert_and_sets_the_default_endpoint() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let mut ids = Vec::new();
    for (name, matchers) in [
        ("db chat", json!(["team=\"db\""])),
        (
            "web pager",
            json!(["team=\"web\"", "severity=~\"critical|high\""]),
        ),
        ("tickets", json!(["team=\"none\""])),
    ] {
        let view = server
            .api
            .create_endpoint(
                &json!({"name": name, "url": receiver.url("/in"), "matchers": matchers}),
            )
            .await;
        ids.push(view["id"].as_str().expect("an id").to_string());
    }
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-routing-profile"),
        screenshot_dir(),
        1280,
        1400,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser.goto(&format!("{console}#/routing")).await;
    browser.text_containing("main h2", "Routing").await;

    // A database alert: the db endpoint gets it; the others say which matcher does not hold
    browser.fill("#route-tags", "team=db").await;
    browser.click("#route-test button[type=submit]").await;
    browser
        .text_containing("#route-message", "1 endpoint would get this alert")
        .await;
    let table = browser.text_containing("#route-result", "Gets it").await;
    assert!(
        table.contains("Not routed: team=\"web\" does not hold"),
        "{table}"
    );
    browser.screenshot("routing").await;

    // With the tracker as default endpoint, an alert nobody's matchers take goes there
    browser.select("#default-endpoint", &ids[2]).await;
    browser.click("#save-default-endpoint").await;
    browser
        .text_containing("#default-endpoint-message", "Saved.")
        .await;
    let (_, settings) = server.api.get("/v1/settings").await;
    assert_eq!(
        settings["default_endpoint_id"],
        ids[2].as_str(),
        "{settings}"
    );
    browser.fill("#route-tags", "team=mobile").await;
    browser.click("#route-test button[type=submit]").await;
    browser
        .text_containing("#route-result", "Gets it as the default endpoint")
        .await;
    assert!(receiver.received().is_empty(), "a route test sends nothing");

    // An alert that no endpoint's routing takes is listed under the unrouted alerts
    server
        .api
        .send_alert(&json!({"title": "nobody's alert", "tags": ["team=mobile"]}))
        .await;
    browser.goto(&format!("{console}#/endpoints")).await;
    browser.goto(&format!("{console}#/routing")).await;
    let listed = browser.text_containing("#unrouted", "nobody's alert").await;
    assert!(listed.contains("The default endpoint"), "{listed}");
    browser.close().await;
}

/// OAuth2 client credentials set in the editor: saved, used for a delivery, shown again with the secret
/// masked (never as text), kept when the form is saved again, and a token URL the policy refuses is named
/// under its field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_credentials_are_set_in_the_editor_and_come_back_masked() {
    let client_secret = "editor-client-secret-2f7b";
    let tokens = TokenServer::start(TokenPolicy {
        client_id: "editor-client".into(),
        client_secret: client_secret.into(),
        lifetime: Duration::from_secs(3600),
        token_prefix: "editor-token".into(),
    })
    .await;
    let server = TestServer::start().await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-oauth2-profile"),
        screenshot_dir().join("oauth2"),
        1280,
        1400,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser.goto(&format!("{console}#/endpoints/new")).await;
    browser.fill("#f-name", "protected API").await;
    browser.fill("#f-url", &tokens.hook_url()).await;
    browser.click("#f-oauth").await;
    browser
        .fill("#f-oauth-token-url", &tokens.token_url())
        .await;
    browser.fill("#f-oauth-client-id", "editor-client").await;
    browser.fill("#f-oauth-client-secret", client_secret).await;
    browser.select("#f-oauth-client-auth", "body").await;
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    let (_, list) = server.api.get("/v1/endpoints").await;
    let saved = &list["endpoints"][0];
    let id = saved["id"].as_str().expect("an id").to_string();
    assert_eq!(
        saved["auth"],
        json!([{"type": "oauth2_client_credentials", "token_url": tokens.token_url(),
            "client_id": "editor-client", "client_secret": "********", "scope": null,
            "audience": null, "client_auth": "body"}])
    );
    let ids = server
        .api
        .send_alert(&json!({"title": "with a token"}))
        .await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");

    // Opened again: the section is on, the secret masked in a password field, and saving keeps it.
    browser.goto(&format!("{console}#/endpoints")).await;
    browser.goto(&format!("{console}#/endpoints/{id}")).await;
    browser.element("#f-oauth-client-secret").await;
    let shown = browser
        .script(
            "const secret = document.getElementById('f-oauth-client-secret');
             return {on: document.getElementById('f-oauth').checked,
                     hidden: document.getElementById('oauth-fields').hidden,
                     secret: secret.value, type: secret.type,
                     clientAuth: document.getElementById('f-oauth-client-auth').value,
                     page: document.body.innerText.includes('editor-client-secret')};",
        )
        .await;
    assert_eq!(
        shown,
        json!({"on": true, "hidden": false, "secret": "********", "type": "password",
            "clientAuth": "body", "page": false})
    );
    browser.fill("#f-name", "protected API, renamed").await;
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    let ids = server
        .api
        .send_alert(&json!({"title": "after the rename"}))
        .await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(
        delivery["status"], "delivered",
        "the kept secret still works: {delivery}"
    );
    assert_eq!(tokens.refused_clients(), 0);
    browser
        .script("document.getElementById('oauth-fields').scrollIntoView();")
        .await;
    browser.screenshot("endpoint-oauth2").await;

    // A token URL the target policy refuses: named under its field, nothing saved.
    browser
        .fill("#f-oauth-token-url", "http://169.254.169.254/token")
        .await;
    browser.fill("#f-oauth-client-secret", client_secret).await;
    browser.click("#save").await;
    browser
        .text_containing("#f-oauth-token-url-error", "auth.token_url")
        .await;
    let (_, unchanged) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(unchanged["auth"][0]["token_url"], tokens.token_url());
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_their_missing_rule_are_set_in_the_editor() {
    let server = TestServer::start().await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-captures-profile"),
        screenshot_dir().join("captures"),
        1280,
        1400,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser.goto(&format!("{console}#/endpoints/new")).await;
    browser.fill("#f-name", "tracker").await;
    browser.fill("#f-url", "http://127.0.0.1:9/issues").await;
    browser
        .fill(
            "#f-captures",
            "ticket_id = $.id\nlocation = header:Location",
        )
        .await;
    browser.select("#f-capture-missing", "skip").await;
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    let (_, list) = server.api.get("/v1/endpoints").await;
    let saved = &list["endpoints"][0];
    let id = saved["id"].as_str().expect("an id").to_string();
    assert_eq!(
        saved["captures"],
        json!({"ticket_id": "$.id", "location": "header:Location"})
    );
    assert_eq!(saved["capture_missing"], "skip");

    // Opened again: the captures and the rule are shown as saved.
    browser.goto(&format!("{console}#/endpoints")).await;
    browser.goto(&format!("{console}#/endpoints/{id}")).await;
    browser.element("#f-captures").await;
    let shown = browser
        .script(
            "return {captures: document.getElementById('f-captures').value,
                     missing: document.getElementById('f-capture-missing').value};",
        )
        .await;
    assert_eq!(
        shown,
        json!({"captures": "location = header:Location\nticket_id = $.id", "missing": "skip"})
    );
    browser
        .script("document.getElementById('incident').scrollIntoView();")
        .await;
    browser.screenshot("endpoint-captures").await;

    // A name the API refuses: shown under the captures, nothing saved.
    browser.fill("#f-captures", "Ticket = $.id").await;
    browser.click("#save").await;
    browser
        .text_containing("#f-captures-error", "captures.Ticket")
        .await;
    let (_, unchanged) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(unchanged["captures"]["ticket_id"], "$.id");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_is_set_in_the_editor_and_a_folded_delivery_links_to_its_digest() {
    let server = TestServer::start().await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-digest-profile"),
        screenshot_dir().join("digest"),
        1280,
        1400,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser.goto(&format!("{console}#/endpoints/new")).await;
    browser.fill("#f-name", "pager").await;
    browser.fill("#f-url", "http://127.0.0.1:9/hook").await;
    browser.click("#f-digest-on").await;
    browser.fill("#f-digest-after", "1").await;
    browser.fill("#f-digest-window", "120").await;
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    let (_, list) = server.api.get("/v1/endpoints").await;
    let saved = &list["endpoints"][0];
    let id = saved["id"].as_str().expect("an id").to_string();
    assert_eq!(saved["digest"]["after"], 1, "{saved}");
    assert_eq!(saved["digest"]["window_seconds"], 120, "{saved}");
    assert!(
        saved["digest"]["body"]
            .as_str()
            .unwrap()
            .contains("{{digest_count}}")
    );

    // Opened again: the digest is shown as saved.
    browser.goto(&format!("{console}#/endpoints")).await;
    browser.goto(&format!("{console}#/endpoints/{id}")).await;
    browser.element("#f-digest-after").await;
    let shown = browser
        .script(
            "return {on: document.getElementById('f-digest-on').checked,
                     after: document.getElementById('f-digest-after').value,
                     window: document.getElementById('f-digest-window').value};",
        )
        .await;
    assert_eq!(shown, json!({"on": true, "after": "1", "window": "120"}));
    browser
        .script("document.getElementById('digest').scrollIntoView();")
        .await;
    browser.screenshot("endpoint-digest").await;

    // "Test the digest" sends the digest's template with a sample storm.
    let receiver = Receiver::start(Behaviour::status(200)).await;
    browser.fill("#f-url", &receiver.url("/hook")).await;
    browser.click("#run-digest-test").await;
    browser
        .text_containing("#test-request", "\"count\": 25")
        .await;
    assert_eq!(receiver.received()[0].json()["digest"], true);

    // A window the API refuses: shown under it, nothing saved.
    browser.fill("#f-digest-window", "2").await;
    browser.click("#save").await;
    browser
        .text_containing("#f-digest-window-error", "digest.window_seconds")
        .await;
    let (_, unchanged) = server.api.get(&format!("/v1/endpoints/{id}")).await;
    assert_eq!(unchanged["digest"]["window_seconds"], 120);

    // A second error in the window is folded: its delivery links to the digest.
    let mut ids = Vec::new();
    for n in 0..2 {
        ids.push(
            server
                .api
                .send_alert(&json!({"title": format!("disk full {n}")}))
                .await,
        );
    }
    let folded = server.api.delivery(&ids[1][0]).await;
    let digest_id = folded["digest_delivery_id"]
        .as_str()
        .expect("folded")
        .to_string();
    browser
        .goto(&format!("{console}#/deliveries/{}", ids[1][0]))
        .await;
    browser.text_containing("#digest-link", &digest_id).await;
    browser.click("#digest-link").await;
    browser.text_containing("#delivery-status", "pending").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_window_is_made_shown_open_with_what_it_holds_and_deleted() {
    let server = TestServer::start().await;
    let receiver = Receiver::start(Behaviour::status(200)).await;
    let view = server
        .api
        .create_endpoint(&json!({"name": "db", "url": receiver.url("/hook")}))
        .await;
    let endpoint = view["id"].as_str().unwrap().to_string();
    // GIVEN a window open for a minute over db, made through the API, and an error it holds
    let now = chrono::Utc::now();
    let (status, _) = server
        .api
        .post(
            "/v1/maintenance-windows",
            &json!({"name": "upgrade", "endpoint_id": endpoint,
                "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end": (now + chrono::Duration::minutes(1)).to_rfc3339()}),
        )
        .await;
    assert_eq!(status, 201);
    let held = server
        .api
        .send_alert(&json!({"title": "db down", "incident_key": "db-1"}))
        .await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-maintenance-profile"),
        screenshot_dir().join("maintenance"),
        1280,
        1000,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser.goto(&format!("{console}#/maintenance")).await;
    browser.text_containing("main", "Open until").await;
    browser.text_containing("main", "upgrade").await;
    // The held error is listed, linked to its delivery.
    let link = format!("a[href='#/deliveries/{}']", held[0]);
    browser.element(&link).await;

    // WHEN a weekly window is made in the form
    browser.fill("#w-name", "weekends").await;
    browser.select("#w-kind", "weekly").await;
    browser.fill("#w-zone", "Europe/Berlin").await;
    browser.click("#w-day-sat").await;
    browser.click("#w-day-sun").await;
    browser.click("#create-window").await;
    browser.text_containing("main", "sat, sun").await;
    browser.screenshot("maintenance-windows").await;
    let (_, listed) = server.api.get("/v1/maintenance-windows").await;
    let windows = listed["maintenance_windows"].as_array().unwrap();
    assert_eq!(windows.len(), 2, "{listed}");
    assert_eq!(
        windows[1]["recurring"],
        json!({"time_zone": "Europe/Berlin", "days": ["sat", "sun"], "from": "22:00", "to": "02:00"})
    );

    // A bad time zone is refused naming the field, nothing made
    browser.fill("#w-name", "bad").await;
    browser.select("#w-kind", "weekly").await;
    browser.fill("#w-zone", "Mars/Olympus").await;
    browser.click("#w-day-mon").await;
    browser.click("#create-window").await;
    browser
        .text_containing("#window-message", "recurring.time_zone")
        .await;

    // WHEN the first window is deleted THEN one is left
    browser.click(".delete-window").await;
    browser.text_containing("#status", "Deleted upgrade").await;
    let (_, listed) = server.api.get("/v1/maintenance-windows").await;
    assert_eq!(listed["maintenance_windows"].as_array().unwrap().len(), 1);
    browser.close().await;
}

/// A client certificate, its key and the receiver's private CA set in the editor: delivered to an HTTPS
/// receiver that requires the certificate; opened again, the key is the mask and saving keeps it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_and_a_private_ca_are_set_in_the_editor_and_the_key_comes_back_masked() {
    let ca = TestCa::new("console test CA");
    let receiver = MtlsServer::start(&ca.server(), &ca).await;
    let client = ca.client("console-client");
    let server = TestServer::start().await;
    let console = format!("{}/console/", server.api.base);
    let browser = Browser::start(
        &scratch_dir("chromium-mtls-profile"),
        screenshot_dir().join("mtls"),
        1280,
        1400,
    )
    .await;
    browser.sign_in(&console, &server.api.key).await;
    browser.goto(&format!("{console}#/endpoints/new")).await;
    browser.fill("#f-name", "mutual TLS").await;
    browser.fill("#f-url", &receiver.url("/hook")).await;
    browser.click("#f-mtls").await;
    // PEM is pasted, not typed: set as a paste would, with its line breaks.
    let paste = |id: &str, text: &str| {
        format!(
            "const area = document.getElementById('{id}'); area.value = {};
             area.dispatchEvent(new Event('input', {{bubbles: true}}));",
            serde_json::to_string(text).unwrap()
        )
    };
    browser
        .script(&paste("f-mtls-certificate", &client.certificate_pem))
        .await;
    browser
        .script(&paste("f-mtls-key", &client.private_key_pem))
        .await;
    browser
        .script(&paste("f-ca-pem", &ca.certificate_pem()))
        .await;
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    let ids = server
        .api
        .send_alert(&json!({"title": "over mutual TLS"}))
        .await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(delivery["status"], "delivered", "{delivery}");
    assert_eq!(
        receiver.received()[0].client_certificate.as_deref(),
        Some(&client.der[..])
    );

    let (_, list) = server.api.get("/v1/endpoints").await;
    let id = list["endpoints"][0]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    browser.goto(&format!("{console}#/endpoints")).await;
    browser.goto(&format!("{console}#/endpoints/{id}")).await;
    browser.element("#f-mtls-key").await;
    let key_line = client.private_key_pem.lines().nth(1).unwrap().to_string();
    let shown = browser
        .script(&format!(
            "return {{on: document.getElementById('f-mtls').checked,
                      key: document.getElementById('f-mtls-key').value,
                      certificate: document.getElementById('f-mtls-certificate').value,
                      page: document.documentElement.outerHTML.includes({})}};",
            serde_json::to_string(&key_line).unwrap()
        ))
        .await;
    assert_eq!(shown["on"], true, "{shown}");
    assert_eq!(shown["key"], "********", "{shown}");
    assert_eq!(shown["certificate"], client.certificate_pem.as_str());
    assert_eq!(shown["page"], false, "the key is nowhere in the page");
    browser
        .text_containing("#f-mtls-certificate-hint", "Expires")
        .await;
    browser.fill("#f-name", "mutual TLS, renamed").await;
    browser.click("#save").await;
    browser.text_containing("#save-message", "Saved").await;
    let ids = server
        .api
        .send_alert(&json!({"title": "after the rename"}))
        .await;
    let delivery = server.api.settled(&ids[0], SETTLE).await;
    assert_eq!(
        delivery["status"], "delivered",
        "the kept key still works: {delivery}"
    );
    browser
        .script("document.getElementById('mtls-fields').scrollIntoView();")
        .await;
    browser.screenshot("endpoint-mtls").await;
    browser.close().await;
}
