//! A real browser for the console's end-to-end tests: Debian's chromium, headless with a fresh profile,
//! driven through chromedriver (started here on 127.0.0.1) with the WebDriver client fantoccini; and the
//! waits and screenshots the tests need.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::serve_process::free_port;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a wait for something on screen lasts before the test fails.
pub const SCREEN_TIMEOUT: Duration = Duration::from_secs(20);

/// Headless chromium does not make a window narrower than this.
const HEADLESS_MIN_WIDTH: u32 = 500;

/// chromedriver as a child process, ended when dropped.
struct Chromedriver(Child);

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Browser {
    pub client: Client,
    screenshots: PathBuf,
    _driver: Chromedriver,
}

impl Browser {
    /// Starts chromedriver and a headless chromium `width` × `height` with a fresh profile under `profile`;
    /// screenshots go to `screenshots`.
    pub async fn start(profile: &Path, screenshots: PathBuf, width: u32, height: u32) -> Browser {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: apt-get install chromium chromium-driver (tests/run.sh does)"
            );
        }
        let port = free_port();
        let driver = Chromedriver(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--no-proxy-server".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut options = json!({"binary": CHROMIUM, "args": args});
        if width < HEADLESS_MIN_WIDTH {
            // Headless windows are at least 500 px wide; a phone's width is emulated instead.
            options["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1, "touch": false, "mobile": true},
            });
        }
        let capabilities = json!({ "goog:chromeOptions": options });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let address = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&address)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session with chromium: {e}"),
            }
        };
        std::fs::create_dir_all(&screenshots).expect("a screenshot folder");
        Browser {
            client,
            screenshots,
            _driver: driver,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    /// Opens the console at `console` and signs in with `key` (typed, then Enter) to the endpoints screen.
    pub async fn sign_in(&self, console: &str, key: &str) {
        self.goto(console).await;
        self.fill("#api-key", &format!("{key}\u{E007}")).await;
        self.text_containing("main h2", "Endpoints").await;
    }

    /// The element once it is on screen.
    pub async fn element(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(SCREEN_TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("`{css}` never appeared: {e}"))
    }

    /// Clicks the element, finding it again if the screen replaced it in between.
    pub async fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            match self.element(css).await.click().await {
                Ok(()) => return,
                Err(e) if e.is_stale_element_reference() && started.elapsed() < SCREEN_TIMEOUT => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("`{css}` could not be clicked: {e}"),
            }
        }
    }

    /// Replaces the text of an input or textarea.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("`{css}` could not be cleared: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("`{css}` could not be typed in: {e}"));
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.element(css)
            .await
            .select_by_value(value)
            .await
            .expect("an option selected");
    }

    /// Waits until the element's visible text contains `expected`; answers the whole text.
    pub async fn text_containing(&self, css: &str, expected: &str) -> String {
        let started = Instant::now();
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if text.contains(expected) {
                return text;
            }
            assert!(
                started.elapsed() < SCREEN_TIMEOUT,
                "`{css}` never showed {expected:?}; it shows {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `button` until `css` contains `expected` (for screens refreshed by hand).
    pub async fn refresh_until(&self, button: &str, css: &str, expected: &str, timeout: Duration) {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && element.text().await.unwrap_or_default().contains(expected)
            {
                return;
            }
            assert!(
                started.elapsed() < timeout,
                "`{css}` never showed {expected:?}"
            );
            self.click(button).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    pub async fn script(&self, source: &str) -> Value {
        self.client
            .execute(source, Vec::new())
            .await
            .expect("the script runs")
    }

    /// True when the page is no wider than the window (no horizontal scrolling).
    pub async fn fits_the_width(&self) -> (bool, Value) {
        let sizes = self
            .script(
                "return {page: document.documentElement.scrollWidth, window: window.innerWidth};",
            )
            .await;
        (sizes["page"].as_u64() <= sizes["window"].as_u64(), sizes)
    }

    /// Saves a PNG of the window as `<name>.png` in the screenshot folder; answers its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.screenshots.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
