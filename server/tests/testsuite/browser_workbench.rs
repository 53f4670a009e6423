//! The workbench as a learner meets it, in headless Chromium against a real server and the
//! real engine: readable results, a build that survives a reload, a huge log that never
//! blocks the page, a verdict where the learner looks, keyboard-only use, phone widths,
//! hints only for real tries, and drafts that survive leaving the page and another device.

use crate::support;

use crate::support::browser as web;

use fantoccini::{Client, Locator};
use serde_json::json;
use support::ServerProcess;
use web::*;

/// Contrast ratio (WCAG) of `selector`'s text against the first opaque background behind it,
/// both taken from the page's own computed styles.
async fn contrast(c: &Client, selector: &str) -> f64 {
    let script = r#"
        const el = document.querySelector(arguments[0]);
        if (!el) return -1;
        const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
        const lum = ([r, g, b]) => {
          const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
          return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
        };
        let bg = null;
        for (let e = el; e; e = e.parentElement) {
          const c = rgb(getComputedStyle(e).backgroundColor);
          if (c.length >= 3 && (c.length < 4 || c[3] > 0.9)) { bg = c; break; }
        }
        bg = bg || [255, 255, 255];
        const fg = rgb(getComputedStyle(el).color);
        const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);"#;
    let value = c
        .execute(script, vec![json!(selector)])
        .await
        .expect("measure contrast");
    let ratio = value.as_f64().unwrap_or(-1.0);
    assert!(ratio > 0.0, "no element `{selector}` to measure");
    ratio
}

async fn click(c: &Client, selector: &str) {
    css(c, selector).await.click().await.expect("click");
}

/// Open an exercise page and wait for it to hydrate.
async fn open(c: &Client, server: &ServerProcess, path: &str) {
    c.goto(&server.url(path)).await.expect("open the page");
    css(c, "body[data-hydrated='true']").await;
}

async fn editor_text(c: &Client) -> String {
    css(c, "textarea.editor-input")
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

#[tokio::test]
async fn the_verdict_pill_hints_and_result_text_are_where_the_learner_looks_and_readable() {
    let (server, driver, c) = hydrated("/exercises/goodbye-neighbor").await;
    css(&c, ".record[data-status='not_started']").await;
    // The starter follows the linter's advice (a pinned base image, which this machine has).
    css(&c, ".lint-summary").await;
    assert!(
        c.find(Locator::Css(".lint-list li[data-rule='from-latest']"))
            .await
            .is_err(),
        "the starter is told to pin its base image"
    );
    // Backticks in a check's description are code, not raw text.
    assert!(
        !text_of(&c, "#checks").await.contains('`'),
        "raw backticks in the check list"
    );

    // A careless build (an empty Dockerfile) fails before the checks: no hint for it.
    type_over(&c, "textarea.editor-input", " ").await;
    css(&c, ".lint-summary[data-lint='empty']").await;
    click(&c, "#build").await;
    css(&c, ".verdict-line[data-verdict='failed']").await;
    assert!(
        c.find(Locator::Css(".hints .hint-item")).await.is_err(),
        "a build that never reached the checks unlocked a hint"
    );
    // Start over puts the starter back, and says how to undo it.
    click(&c, "#start-over").await;
    css(&c, ".undo-bar #undo").await;

    // The starter reaches the checks and misses one: the verdict says so under Build, the
    // pill turns "tried" without a reload, and one hint opens.
    click(&c, "#build").await;
    let verdict = css(&c, ".verdict-line[data-verdict='missed']").await;
    assert_eq!(
        verdict.attr("data-passing").await.expect("attr").as_deref(),
        Some("1")
    );
    assert!(verdict
        .text()
        .await
        .expect("text")
        .contains("1 of 3 checks pass"));
    css(&c, ".record[data-status='tried'] .status-pill.tried").await;
    assert_eq!(
        c.find_all(Locator::Css(".hints .hint-item"))
            .await
            .expect("hints")
            .len(),
        1
    );
    // The verdict is above the fold, next to the button that made it.
    let visible = eval(
        &c,
        "const r = document.querySelector('.verdict-line').getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;",
    )
    .await;
    assert_eq!(visible, json!(true), "the verdict is out of sight");
    // What the container printed is readable on its light panel (it was 1.06:1).
    for selector in [
        ".run-output",
        ".run-verdict",
        ".verdict-line",
        ".check-message",
        ".history td",
    ] {
        let ratio = contrast(&c, selector).await;
        assert!(
            ratio >= 4.5,
            "`{selector}` has contrast {ratio:.2}:1, under 4.5:1"
        );
    }
    save_screenshot(&c, "workbench-verdict-missed.png").await;

    // Asking for a hint opens the next one.
    click(&c, "#reveal-hint").await;
    wait_for_text(&c, ".hints h3", "2 of 3").await;

    // Solved: every check passes, the pill says passed, and the next exercise is offered.
    let solution = std::fs::read_to_string(
        support::repo_root().join("exercises/goodbye-neighbor/solution/Dockerfile"),
    )
    .expect("solution");
    type_over(&c, "textarea.editor-input", &solution).await;
    // The result on screen is from other files now, and says so.
    css(&c, ".stale-note").await;
    click(&c, "#build").await;
    css(&c, ".verdict-line[data-verdict='passed']").await;
    css(&c, ".record[data-status='passed']").await;
    let next = css(&c, ".verdict-line a.next-exercise").await;
    assert_eq!(
        next.attr("href").await.expect("attr").as_deref(),
        Some("/exercises/cache-friendly")
    );
    assert!(c.find(Locator::Css(".stale-note")).await.is_err());
    save_screenshot(&c, "workbench-verdict-passed.png").await;
    c.close().await.expect("close");

    // On a phone: nothing sticks out sideways, and the header stays on one line.
    let phone = driver.phone().await;
    for path in ["/", "/learn/what-is-an-image", "/me", "/playground"] {
        open(&phone, &server, path).await;
        assert_no_horizontal_overflow(&phone, path).await;
        let one_line = eval(
            &phone,
            "const tops = [...document.querySelectorAll('.site-header a')].map(a => Math.round(a.getBoundingClientRect().top)); return Math.max(...tops) - Math.min(...tops) < 8;",
        )
        .await;
        assert_eq!(one_line, json!(true), "the header wraps on {path}");
    }
    // An exercise with its whole result (log, image, history, layers, run) on a phone.
    open(&phone, &server, "/exercises/goodbye-neighbor").await;
    click(&phone, "#build").await;
    css(&phone, ".verdict-line[data-verdict='missed']").await;
    css(&phone, ".results .history").await;
    assert_no_horizontal_overflow(&phone, "/exercises/goodbye-neighbor with a result").await;
    save_screenshot(&phone, "workbench-phone.png").await;
    phone.close().await.expect("close");
}

#[tokio::test]
async fn a_reload_during_a_build_follows_the_same_build_with_its_files_and_log() {
    let (_server, _driver, c) = hydrated("/playground").await;
    // (Long enough that a reload on a loaded machine still finds it running.)
    let marker = format!("reload-marker-{}", std::process::id());
    let dockerfile = format!(
        "FROM busybox:latest\nRUN echo {marker}-start && sleep 14 && echo {marker}-end\nCMD [\"echo\", \"{marker}-ran\"]\n"
    );
    type_over(&c, "textarea.editor-input", &dockerfile).await;
    click(&c, "#build").await;
    wait_for_text(&c, ".build-log", &format!("{marker}-start")).await;
    let download = css(&c, "a.log-download").await;
    let href = download.attr("href").await.expect("attr").expect("href");
    let build = href
        .trim_start_matches("/api/v1/builds/")
        .trim_end_matches("/log")
        .to_string();

    c.refresh().await.expect("reload");
    css(&c, "body[data-hydrated='true']").await;
    // The running build's files, not the starter; Build is busy; the log comes back.
    assert!(
        editor_text(&c).await.contains(&marker),
        "the files of the running build are shown"
    );
    let button = css(&c, "#build").await;
    assert_eq!(button.text().await.expect("text"), "Building…");
    assert!(
        !button.is_enabled().await.expect("enabled"),
        "Build must wait for the running build"
    );
    wait_for_text(&c, ".build-log", &format!("{marker}-start")).await;
    // The same build ends, with its output.
    let results = css(&c, ".results[data-status='succeeded']").await;
    assert_eq!(
        results.attr("data-build").await.expect("attr").as_deref(),
        Some(build.as_str()),
        "the page followed a different build"
    );
    wait_for_text(&c, ".run-output", &format!("{marker}-ran")).await;
    assert!(css(&c, "#build").await.is_enabled().await.expect("enabled"));
    save_screenshot(&c, "workbench-reattached.png").await;
    c.close().await.expect("close");
}

/// The page's speed under a huge log (its longest main-thread task) is measured by the
/// benchmark (`./x bench browser`); here, what keeps it fast: a bounded window drawn, the rest
/// a download away, and the newest line kept in view without the learner's help.
#[tokio::test]
async fn a_huge_log_draws_a_bounded_window_follows_the_bottom_and_downloads_whole() {
    let (_server, _driver, c) = hydrated("/playground").await;
    type_over(
        &c,
        "textarea.editor-input",
        "FROM busybox:latest\nRUN seq 1 200000\nCMD [\"true\"]\n",
    )
    .await;
    click(&c, "#build").await;
    // Past the lines drawn at once, the log keeps following: it never offers to follow again.
    css(&c, ".log-skipped").await;
    assert_following(&c, "while the log streams").await;
    css(&c, ".verdict-line").await;
    // Once the build has ended, the newest line is in view.
    assert_following(&c, "after the build").await;
    let at_bottom = eval_until(
        &c,
        "const p = document.querySelector('.build-log'); return p.scrollHeight - p.scrollTop - p.clientHeight < 8;",
    )
    .await;
    assert!(at_bottom, "the log does not show its newest line");
    // Only a bounded window is drawn; the rest is a download away.
    let drawn = eval(
        &c,
        "return document.querySelectorAll('.build-log .log-line').length;",
    )
    .await;
    assert!(drawn.as_u64().unwrap_or(0) <= 1000, "{drawn} lines drawn");
    css(&c, ".log-skipped").await;
    let whole = eval(
        &c,
        "const a = document.querySelector('a.log-download'); return fetch(a.href).then(r => r.text()).then(t => t.split('\\n').length);",
    )
    .await;
    assert!(
        whole.as_u64().unwrap_or(0) > 4000,
        "the download holds only {whole} lines"
    );
    // Scrolled up, the log stays put and offers to follow again.
    eval(
        &c,
        "document.querySelector('.build-log').scrollTop = 0; return null;",
    )
    .await;
    css(&c, ".log-follow").await;
    // The log is not read aloud line by line.
    let live = eval(
        &c,
        "return document.querySelector('.build-log').closest('[aria-live]') === null;",
    )
    .await;
    assert_eq!(live, json!(true), "the build log is inside a live region");
    save_screenshot(&c, "workbench-huge-log.png").await;
    c.close().await.expect("close");
}

/// The build log follows its newest lines: the learner is not offered to follow again.
async fn assert_following(c: &Client, when: &str) {
    let offered = c.find(Locator::Css(".log-follow")).await.is_ok();
    assert!(!offered, "the log stopped following {when}");
}

/// Run `script` until it answers `true` (up to 10 s): whether it ever did.
async fn eval_until(c: &Client, script: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if eval(c, script).await == json!(true) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_exercise_can_be_solved_with_the_keyboard_alone() {
    let (_server, _driver, c) = hydrated("/exercises/goodbye-neighbor").await;
    // Tab from the top of the page until the editor has focus.
    tab_to(&c, ".editor-input", 60).await;
    // The focused editor shows a focus ring.
    let ring = eval(
        &c,
        "const s = getComputedStyle(document.querySelector('.code')); return s.outlineStyle !== 'none' || s.boxShadow !== 'none';",
    )
    .await;
    assert_eq!(ring, json!(true), "no focus ring on the editor");
    let solution = std::fs::read_to_string(
        support::repo_root().join("exercises/goodbye-neighbor/solution/Dockerfile"),
    )
    .expect("solution");
    let editor = c.active_element().await.expect("focus");
    editor
        .send_keys("\u{E009}a\u{E000}")
        .await
        .expect("select all");
    editor.send_keys(&solution).await.expect("type");
    // Tab indents inside the editor …
    editor.send_keys("\u{E004}").await.expect("tab");
    assert!(editor_text(&c).await.ends_with("  "), "Tab did not indent");
    editor
        .send_keys("\u{E003}\u{E003}")
        .await
        .expect("backspace");
    // … Esc then Tab leaves it, forward.
    editor
        .send_keys("\u{E00C}\u{E004}")
        .await
        .expect("esc, tab");
    let left = eval(
        &c,
        "return !document.activeElement.classList.contains('editor-input');",
    )
    .await;
    assert_eq!(left, json!(true), "Esc then Tab did not leave the editor");
    // Back in the editor, Ctrl+Enter builds.
    editor.click().await.expect("focus the editor");
    editor
        .send_keys("\u{E009}\u{E007}\u{E000}")
        .await
        .expect("ctrl+enter");
    css(&c, ".verdict-line[data-verdict='passed']").await;
    c.close().await.expect("close");
}

#[tokio::test]
async fn drafts_survive_leaving_by_a_link_and_come_back_on_another_device() {
    let (server, driver, c) = hydrated("/exercises/first-image").await;
    let marker = format!("# draft-{}", std::process::id());
    let original = editor_text(&c).await;
    type_over(
        &c,
        "textarea.editor-input",
        &format!("{marker}\n{original}"),
    )
    .await;
    // Leave at once by a link, before any build.
    click(&c, ".breadcrumb a[href='/']").await;
    css(&c, "a[data-exercise='first-image']").await;
    open(&c, &server, "/exercises/first-image").await;
    assert!(
        editor_text(&c).await.starts_with(&marker),
        "the draft was lost on leaving the page"
    );
    css(&c, ".draft-note").await;

    // Deleting a file and starting over can both be undone.
    click(&c, ".file-tab:not([data-path='Dockerfile'])").await;
    let files_before = c
        .find_all(Locator::Css(".file-tab"))
        .await
        .expect("tabs")
        .len();
    click(&c, ".file-actions .danger").await;
    click(&c, "#undo").await;
    assert_eq!(
        c.find_all(Locator::Css(".file-tab"))
            .await
            .expect("tabs")
            .len(),
        files_before,
        "undo did not bring the file back"
    );
    click(&c, ".file-tab[data-path='Dockerfile']").await;
    click(&c, "#start-over").await;
    assert!(!editor_text(&c).await.contains(&marker));
    click(&c, "#undo").await;
    assert!(
        editor_text(&c).await.starts_with(&marker),
        "undo of Start over"
    );

    // Another browser continues with the resume code and finds the draft.
    open(&c, &server, "/me").await;
    let code = text_of(&c, "#resume-code").await;
    let other = driver.browser(true).await;
    other.goto(&server.url("/me")).await.expect("open /me");
    fill(&other, "#resume-input", &code).await;
    click(&other, "form[action='/resume'] button").await;
    css(&other, ".notice.ok").await;
    open(&other, &server, "/exercises/first-image").await;
    assert!(
        editor_text(&other).await.starts_with(&marker),
        "the draft did not follow the learner to another device"
    );
    other.close().await.expect("close");
    c.close().await.expect("close");
}

#[tokio::test]
async fn a_service_shows_its_processes_and_the_engines_health_verdicts() {
    let (server, driver, c) = hydrated("/exercises/healthcheck").await;
    // The starter serves, but declares no health check.
    click(&c, "#build").await;
    css(&c, ".verdict-line[data-verdict='missed']").await;
    // What ran, as `docker top` lists it from the host: httpd, as root (marked).
    let processes = text_of(&c, ".processes").await;
    assert!(
        processes.contains("httpd") && processes.contains("root"),
        "{processes}"
    );
    css(&c, ".processes td.bad").await;
    let healthy = text_of(&c, "li.check[data-check='healthy']").await;
    assert!(healthy.contains("no HEALTHCHECK"), "{healthy}");
    let ratio = contrast(&c, ".processes td").await;
    assert!(ratio >= 4.5, "the process list has contrast {ratio:.2}:1");
    eval(&c, "document.querySelector('.processes').scrollIntoView()").await;
    save_screenshot(&c, "healthcheck-missed.png").await;

    // The solution: healthy when it works, unhealthy once the server is frozen (a hang), as
    // the engine itself reports, with what the last check printed.
    let solution = std::fs::read_to_string(
        support::repo_root().join("exercises/healthcheck/solution/Dockerfile"),
    )
    .expect("solution");
    type_over(&c, "textarea.editor-input", &solution).await;
    click(&c, "#build").await;
    // Healthy for 3 s, frozen, then unhealthy after three 2-second timeouts: ~20 s of checks.
    css_within(
        &c,
        ".verdict-line[data-verdict='passed']",
        std::time::Duration::from_secs(90),
    )
    .await;
    let notices = text_of(&c, "li.check[data-check='notices-a-hang']").await;
    assert!(
        notices.contains("Frozen at") && notices.contains("unhealthy"),
        "{notices}"
    );
    eval(&c, "document.querySelector('#checks').scrollIntoView()").await;
    save_screenshot(&c, "healthcheck-passed.png").await;
    c.close().await.expect("close");

    let phone = driver.phone().await;
    open(&phone, &server, "/exercises/healthcheck").await;
    click(&phone, "#build").await;
    css(&phone, ".verdict-line[data-verdict='missed']").await;
    css(&phone, ".processes").await;
    assert_no_horizontal_overflow(&phone, "/exercises/healthcheck with a result").await;
    eval(
        &phone,
        "document.querySelector('.processes').scrollIntoView()",
    )
    .await;
    save_screenshot(&phone, "healthcheck-phone.png").await;
    phone.close().await.expect("close");
}

#[tokio::test]
async fn a_provided_root_filesystem_is_listed_and_becomes_a_base_image() {
    let (server, driver, c) = hydrated("/exercises/own-base-image").await;
    // The archive is named and described, outside the editor's tabs.
    let provided = text_of(&c, ".provided").await;
    assert!(
        provided.contains("rootfs.tar") && provided.contains("read-only"),
        "{provided}"
    );
    let tabs = text_of(&c, "[role='tablist']").await;
    assert!(!tabs.contains("rootfs.tar"), "not an editable file: {tabs}");
    // The starter builds on busybox: the engine's layers say so.
    click(&c, "#build").await;
    css(&c, ".verdict-line[data-verdict='missed']").await;
    let scratch = text_of(&c, "li.check[data-check='from-scratch']").await;
    assert!(scratch.contains("those of busybox:1.35"), "{scratch}");
    eval(&c, "document.querySelector('.provided').scrollIntoView()").await;
    save_screenshot(&c, "own-base-image-missed.png").await;

    let solution = std::fs::read_to_string(
        support::repo_root().join("exercises/own-base-image/solution/Dockerfile"),
    )
    .expect("solution");
    type_over(&c, "textarea.editor-input", &solution).await;
    click(&c, "#build").await;
    css(&c, ".verdict-line[data-verdict='passed']").await;
    let output = text_of(&c, "li.check[data-check='greets']").await;
    assert!(
        output.contains("hello from a base image I made"),
        "{output}"
    );
    eval(&c, "document.querySelector('#checks').scrollIntoView()").await;
    save_screenshot(&c, "own-base-image-passed.png").await;
    c.close().await.expect("close");

    on_a_phone(
        &driver,
        &server,
        "/exercises/own-base-image",
        ".provided",
        "own-base-image-phone.png",
    )
    .await;
}

#[tokio::test]
async fn the_cache_can_be_ignored_from_the_keyboard_and_the_stale_step_runs_again() {
    let (server, driver, c) = hydrated("/exercises/stale-cache").await;
    // As sent, the step comes from the cache the same files just filled.
    click(&c, "#build").await;
    css(&c, ".verdict-line[data-verdict='missed']").await;
    let cached = text_of(&c, "li.check[data-check='every-step-ran']").await;
    assert!(cached.contains("came from the cache"), "{cached}");
    // Tab from Build & run reaches the box after Start over; Space ticks it.
    c.execute("document.querySelector('#start-over').focus()", vec![])
        .await
        .expect("focus");
    c.active_element()
        .await
        .expect("focus")
        .send_keys("\u{E004}")
        .await
        .expect("tab");
    let focused = eval(&c, "return document.activeElement.id;").await;
    assert_eq!(focused, json!("no-cache"), "Tab after Start over");
    c.active_element()
        .await
        .expect("focus")
        .send_keys(" ")
        .await
        .expect("space");
    let ticked = eval(&c, "return document.querySelector('#no-cache').checked;").await;
    assert_eq!(ticked, json!(true));
    save_screenshot(&c, "no-cache-ticked.png").await;
    click(&c, "#build").await;
    css(&c, ".verdict-line[data-verdict='passed']").await;
    let ran = text_of(&c, "li.check[data-check='every-step-ran']").await;
    assert!(ran.contains("ran anew"), "{ran}");
    let log = text_of(&c, ".build-log").await;
    assert!(
        log.contains("--no-cache"),
        "the log says how it was built: {log}"
    );
    eval(&c, "document.querySelector('#checks').scrollIntoView()").await;
    save_screenshot(&c, "no-cache-passed.png").await;
    c.close().await.expect("close");

    on_a_phone(
        &driver,
        &server,
        "/exercises/stale-cache",
        "#no-cache",
        "no-cache-phone.png",
    )
    .await;
}

/// `path` on a phone-sized screen: no sideways scrolling, `selector` scrolled into view and
/// saved as the screenshot `name`.
async fn on_a_phone(
    driver: &Chromedriver,
    server: &ServerProcess,
    path: &str,
    selector: &str,
    name: &str,
) {
    let phone = driver.phone().await;
    open(&phone, server, path).await;
    css(&phone, selector).await;
    assert_no_horizontal_overflow(&phone, path).await;
    eval(
        &phone,
        &format!("document.querySelector('{selector}').scrollIntoView()"),
    )
    .await;
    save_screenshot(&phone, name).await;
    phone.close().await.expect("close");
}
