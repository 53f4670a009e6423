//! Browser tests' tools: chromedriver and headless Chromium (through fantoccini) against a
//! real server process, waiting for elements (never sleeping), and screenshots for review.
//! Included by the browser test files with `#[path = "support/browser.rs"] mod web;`.
#![allow(dead_code)]

use crate::support::{self, ServerProcess, LOCAL_ENGINE};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(20);
/// The narrow width every page must fit without scrolling sideways.
pub const PHONE_WIDTH: u32 = 390;

/// Browsers at once in this process: the suite runs four tests at a time, and four Chromiums
/// beside their servers and builds are more than two cores answer in time.
const MOST_BROWSERS: usize = 2;

static BROWSERS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);
static BROWSER_ENDED: std::sync::Condvar = std::sync::Condvar::new();

/// One of the [`MOST_BROWSERS`] places, waited for; given back when dropped.
struct BrowserPlace;

impl BrowserPlace {
    fn wait() -> Self {
        let mut running = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= MOST_BROWSERS {
            running = BROWSER_ENDED
                .wait(running)
                .unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        BrowserPlace
    }
}

impl Drop for BrowserPlace {
    fn drop(&mut self) {
        let mut running = BROWSERS.lock().unwrap_or_else(|e| e.into_inner());
        *running -= 1;
        BROWSER_ENDED.notify_one();
    }
}

pub struct Chromedriver {
    child: Child,
    pub url: String,
    /// (Dropped after the child is killed: see [`Drop`].)
    _place: BrowserPlace,
}

impl Chromedriver {
    /// Start chromedriver, once one of the process's places for a browser is free (each test
    /// starts at most one).
    pub fn start() -> Self {
        let place = BrowserPlace::wait();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver ({e}); `./x test` installs chromium and chromium-driver")
            });
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not open port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _place: place,
        }
    }

    pub async fn browser(&self, javascript: bool) -> Client {
        self.browser_sized(javascript, None).await
    }

    /// A browser that lays pages out as a phone 390 px wide does (Chromium's device
    /// emulation: the viewport, not only the window, is 390 CSS px).
    pub async fn phone(&self) -> Client {
        self.browser_sized(true, Some((PHONE_WIDTH, 844))).await
    }

    async fn browser_sized(&self, javascript: bool, phone: Option<(u32, u32)>) -> Client {
        let profile = tempfile::tempdir().expect("profile dir").keep();
        let mut prefs = serde_json::Map::new();
        if !javascript {
            prefs.insert(
                "profile.managed_default_content_settings.javascript".into(),
                json!(2),
            );
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--window-size=1200,900", format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": prefs,
            }
        });
        let mut caps = caps;
        if let Some((width, height)) = phone {
            caps["goog:chromeOptions"]["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0, "touch": true}
            });
        }
        let serde_json::Value::Object(caps) = caps else {
            unreachable!("a JSON object")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("chromedriver opens a browser session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn chromium_binary() -> String {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).exists())
    .expect("no Chromium binary found; `./x test` installs Debian's chromium")
    .to_string()
}

/// Wait for an element; on timeout, fail with the URL and the page's text to show why.
pub async fn css(c: &Client, selector: &str) -> fantoccini::elements::Element {
    css_within(c, selector, WAIT).await
}

/// [`css`], waiting up to `wait` (for results that take the engine longer, such as a health
/// check watched for several seconds).
pub async fn css_within(
    c: &Client,
    selector: &str,
    wait: std::time::Duration,
) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(wait)
        .for_element(Locator::Css(selector))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let text = match c.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            panic!("waiting for `{selector}` on {url}: {e}\n--- page text ---\n{text}");
        }
    }
}

/// Press Tab until `selector` has the focus (at most `tabs` times).
pub async fn tab_to(c: &Client, selector: &str, tabs: usize) {
    for _ in 0..tabs {
        let there = c
            .execute(
                "return document.activeElement && document.activeElement.matches(arguments[0]);",
                vec![json!(selector)],
            )
            .await
            .expect("ask the focus");
        if there == json!(true) {
            return;
        }
        c.active_element()
            .await
            .expect("focus")
            .send_keys("\u{E004}")
            .await
            .expect("tab");
    }
    panic!("Tab never reaches {selector}");
}

/// Run a script in the page and read back its answer.
pub async fn eval(c: &Client, script: &str) -> serde_json::Value {
    c.execute(script, vec![]).await.expect("run a script")
}

/// Keep what the learner saw, for people reviewing a change: `target/screenshots/`.
pub async fn save_screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    let dir = support::repo_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    std::fs::write(dir.join(name), png).expect("write screenshot");
}

/// A server, chromedriver and a browser with JavaScript on, showing `path` once hydrated.
/// Fails first, and clearly, when the browser bundle was never built.
pub async fn hydrated(path: &str) -> (ServerProcess, Chromedriver, Client) {
    assert!(
        support::site_root().join("pkg/layerlab_bg.wasm").exists(),
        "the browser bundle is missing: run `./x wasm` (the README's test command does)"
    );
    let server = ServerProcess::start(LOCAL_ENGINE);
    let driver = Chromedriver::start();
    let c = driver.browser(true).await;
    c.goto(&server.url(path)).await.expect("open the page");
    css(&c, "body[data-hydrated='true']").await;
    (server, driver, c)
}

/// Select everything in a text field and type `text` over it, like a person would.
pub async fn type_over(c: &Client, selector: &str, text: &str) {
    let field = css(c, selector).await;
    field.click().await.expect("focus the editor");
    // Ctrl+A, release the modifier, then type.
    field
        .send_keys("\u{E009}a\u{E000}")
        .await
        .expect("select all");
    field.send_keys(text).await.expect("type");
}

pub async fn text_of(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.expect("text")
}

/// Type into a plain form field.
pub async fn fill(c: &Client, selector: &str, text: &str) {
    let field = css(c, selector).await;
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type into the field");
}

/// Wait until the text of `selector` contains `wanted`; returns that text.
pub async fn wait_for_text(c: &Client, selector: &str, wanted: &str) -> String {
    wait_for_text_within(c, selector, wanted, WAIT).await
}

/// [`wait_for_text`], waiting up to `wait` (for what the engine takes longer to make, such as
/// a build through the console on a loaded machine).
pub async fn wait_for_text_within(
    c: &Client,
    selector: &str,
    wanted: &str,
    wait: Duration,
) -> String {
    let deadline = Instant::now() + wait;
    loop {
        // The element may be redrawn between finding and reading it: read again.
        let text: String = css(c, selector).await.text().await.unwrap_or_default();
        if text.contains(wanted) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{selector} says “{text}”, not “{wanted}”"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until `selector` matches nothing (the page took something away).
pub async fn gone(c: &Client, selector: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.find(Locator::Css(selector)).await.is_ok() {
        assert!(Instant::now() < deadline, "{selector} is still there");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page as it is now must not be wider than the viewport (no sideways scrolling): fails
/// naming the elements that stick out past the right edge.
pub async fn assert_no_horizontal_overflow(c: &Client, what: &str) {
    let found = c
        .execute(
            r#"const w = document.documentElement.clientWidth;
               const wide = document.documentElement.scrollWidth;
               const out = [];
               for (const e of document.querySelectorAll('body *')) {
                 const r = e.getBoundingClientRect();
                 if (r.width > 0 && r.right > w + 1) {
                   // Only the outermost offender of each branch, and not ones clipped by a
                   // scrolling ancestor.
                   let clipped = false;
                   for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                     const o = getComputedStyle(p).overflowX;
                     if (o === 'auto' || o === 'scroll' || o === 'hidden') { clipped = true; break; }
                   }
                   if (!clipped && !(e.parentElement && e.parentElement.getBoundingClientRect().right > w + 1)) {
                     out.push(e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '') + ' → ' + Math.round(r.right) + 'px');
                   }
                 }
               }
               return {width: w, scroll: wide, out: out.slice(0, 10)};"#,
            vec![],
        )
        .await
        .expect("measure the page");
    let width = found["width"].as_f64().unwrap_or_default();
    let scroll = found["scroll"].as_f64().unwrap_or_default();
    assert!(
        scroll <= width + 1.0,
        "{what}: the page is {scroll} px wide in a {width} px viewport; sticking out: {}",
        found["out"]
    );
}
