//! What a person sees in the browser (headless Chromium, a real server process, the real
//! engine), timed by the page itself (`performance.now()` and a `MutationObserver`):
//!
//! - from pressing Build to the first log line drawn, and to the verdict drawn, for a cold
//!   build of a small context in the playground, beside `docker build` + `docker run` of the
//!   same Dockerfile with the same limits and labels (the ratio is layerlab ÷ CLI);
//! - the longest main-thread task (Long Tasks API) while a build prints 200,000 lines.

use crate::table::{Figure, Goal};
use crate::web::{css, hydrated, type_over};
use std::process::Command;

const RUNS: usize = 3;

/// Watch the page: when the first log line and the verdict appear, after `#build` is pressed.
const WATCH: &str = r#"
    window.__t = {};
    const mark = () => {
      if (!window.__t.log && document.querySelector('.build-log .log-line')) window.__t.log = performance.now();
      if (!window.__t.verdict && document.querySelector('.verdict-line')) window.__t.verdict = performance.now();
    };
    new MutationObserver(mark).observe(document.body, {childList: true, subtree: true});
    window.__longest = 0;
    new PerformanceObserver(l => { for (const e of l.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })
      .observe({entryTypes: ['longtask']});
    window.__t.start = performance.now();
    document.querySelector('#build').click();
    return null;"#;

fn dockerfile(nonce: &str) -> String {
    format!(
        "FROM busybox:latest\nRUN echo {nonce} > /nonce\nRUN for i in $(seq 1 50); do echo line $i; done\nCMD [\"cat\", \"/nonce\"]\n"
    )
}

async fn press_build_and_wait(c: &fantoccini::Client, dockerfile: &str) -> serde_json::Value {
    type_over(c, "textarea.editor-input", dockerfile).await;
    c.execute(WATCH, vec![]).await.expect("watch the page");
    css(c, ".verdict-line").await;
    c.execute(
        "return {log: window.__t.log - window.__t.start, verdict: window.__t.verdict - window.__t.start, longest: window.__longest};",
        vec![],
    )
    .await
    .expect("read the marks")
}

/// The same Dockerfile by the docker CLI (build + run, as the `builds` part does), in ms.
fn cli_build_and_run(dockerfile: &str) -> f64 {
    let dir = tempfile::tempdir().expect("context dir");
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write the Dockerfile");
    let tag = "layerlab-bench-browser:latest";
    let (_, all) = crate::builds::cli_build_context(dir.path(), tag, "cli-bench/playground");
    let _ = Command::new("docker").args(["rmi", "-f", tag]).output();
    all.as_secs_f64() * 1000.0
}

pub async fn run() -> Vec<Figure> {
    let (server, _driver, c) = hydrated("/playground").await;
    let (mut first_line, mut verdict, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..RUNS {
        let nonce = format!("bench-{}-{i}-{}", std::process::id(), server.pid());
        let marks = press_build_and_wait(&c, &dockerfile(&nonce)).await;
        let cli = cli_build_and_run(&dockerfile(&format!("{nonce}-cli")));
        let seen = marks["verdict"].as_f64().unwrap_or(f64::NAN);
        first_line.push(marks["log"].as_f64().unwrap_or(f64::NAN));
        verdict.push(seen);
        ratio.push(seen / cli);
        c.refresh().await.expect("reload");
        css(&c, "body[data-hydrated='true']").await;
    }
    let mut longest = Vec::new();
    for _ in 0..RUNS {
        let marks = press_build_and_wait(
            &c,
            "FROM busybox:latest\nRUN seq 1 200000\nCMD [\"true\"]\n",
        )
        .await;
        longest.push(marks["longest"].as_f64().unwrap_or(f64::NAN));
        c.refresh().await.expect("reload");
        css(&c, "body[data-hydrated='true']").await;
    }
    let _ = c.close().await;
    drop(server);
    vec![
        Figure::new("browser", "Build pressed → first log line drawn", " ms").samples(first_line),
        Figure::new(
            "browser",
            "Build pressed → verdict drawn (cold build + run)",
            " ms",
        )
        .samples(verdict),
        Figure::new(
            "browser",
            "Build → verdict in the browser ÷ docker build + docker run (CLI)",
            "×",
        )
        .goal(Goal::AtMost(1.25))
        .samples(ratio),
        Figure::new(
            "browser",
            "Longest main-thread task while 200,000 log lines stream",
            " ms",
        )
        .goal(Goal::AtMost(200.0))
        .samples(longest),
    ]
}
