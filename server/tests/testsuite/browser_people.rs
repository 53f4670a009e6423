//! People's pages in a real browser (headless Chromium): a quiz that asks for every answer
//! before grading (with and without JavaScript) and hands the focus to its score, the
//! instructor's record of a learner and the compare page read oldest first, and `/me`, all
//! usable by keyboard and without sideways scrolling 390 px wide.

use crate::support;

use crate::support::browser as web;

use fantoccini::{Client, Locator};
use serde_json::json;
use std::process::{Command, Stdio};
use support::{ServerProcess, LOCAL_ENGINE};
use web::*;

const SEMVER_LESSON: &str = "/learn/tags-and-semver";

/// What has the keyboard focus: its `name`, or its class when it has none.
async fn focused(c: &Client) -> String {
    c.execute(
        "const e = document.activeElement; return e.getAttribute('name') || e.className;",
        vec![],
    )
    .await
    .expect("read the focus")
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Wait (at most a few seconds) until `wanted` (see [`focused`]) has the focus.
async fn wait_for_focus(c: &Client, wanted: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = focused(c).await;
        if now == wanted {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the focus is on “{now}”, not “{wanted}”"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn count(c: &Client, selector: &str) -> usize {
    c.find_all(Locator::Css(selector))
        .await
        .expect("find")
        .len()
}

#[tokio::test]
async fn a_quiz_with_blanks_is_not_graded_and_the_score_takes_the_focus() {
    let (server, driver, c) = hydrated(SEMVER_LESSON).await;
    // Keyboard only: type one answer and press Enter in its field.
    let refactor = css(&c, "input[name='q.refactor']").await;
    refactor
        .send_keys("1.14.1\u{E007}")
        .await
        .expect("type, Enter");
    let missing = wait_for_text(&c, "#quiz-next-version .quiz-missing", "questions").await;
    assert_eq!(
        missing,
        "Answer every question first: questions 2, 3 and 4 have no answer yet."
    );
    assert_eq!(
        count(&c, "#quiz-next-version .question.unanswered").await,
        3
    );
    assert_eq!(count(&c, "#quiz-next-version [data-verdict]").await, 0);
    assert_eq!(count(&c, "#quiz-next-version .explanation").await, 0);
    wait_for_focus(&c, "q.new-endpoint").await;
    save_screenshot(&c, "people-quiz-blank.png").await;

    // Still by keyboard: answer the rest (Space picks a focused option), Enter sends it.
    c.active_element()
        .await
        .expect("focus")
        .send_keys("1.15.0")
        .await
        .expect("type");
    for choice in [
        "input[name='q.renamed-endpoint'][value='major']",
        "input[name='q.latest'][value='nothing']",
    ] {
        css(&c, choice).await.send_keys(" ").await.expect("pick");
    }
    css(&c, "input[name='q.refactor']")
        .await
        .send_keys("\u{E007}")
        .await
        .expect("Enter");
    let score = wait_for_text(&c, "#quiz-next-version .quiz-score", "4 of 4 right").await;
    assert!(score.contains("well done"));
    gone(&c, "#quiz-next-version .quiz-missing").await;
    assert_eq!(
        count(&c, "#quiz-next-version .question.unanswered").await,
        0
    );
    wait_for_focus(&c, "quiz-score").await;
    let live = c
        .execute(
            "const s = document.querySelector('#quiz-next-version .quiz-score');
             return s.parentElement.getAttribute('role') + ' ' + s.getAttribute('tabindex');",
            vec![],
        )
        .await
        .expect("read the score's roles");
    assert_eq!(live, json!("status -1"), "the score is announced");
    save_screenshot(&c, "people-quiz-scored.png").await;
    c.close().await.expect("close");

    // A phone, the same refusal.
    let phone = driver.phone().await;
    phone
        .goto(&server.url("/learn/what-is-an-image"))
        .await
        .expect("open");
    css(&phone, "body[data-hydrated='true']").await;
    css(&phone, "#quiz-layers-check button[type='submit']")
        .await
        .click()
        .await
        .expect("submit blank");
    wait_for_text(
        &phone,
        "#quiz-layers-check .quiz-missing",
        "questions 1, 2 and 3",
    )
    .await;
    css(
        &phone,
        "#quiz-layers-check .question.unanswered .needs-answer",
    )
    .await;
    assert_no_horizontal_overflow(&phone, "a blank quiz at 390 px").await;
    save_screenshot(&phone, "people-quiz-blank-phone.png").await;
    phone.close().await.expect("close");

    // Without JavaScript: the form post comes back ungraded, the blank questions marked and
    // the first of them focused; the answer given is still there.
    let plain = driver.browser(false).await;
    plain.goto(&server.url(SEMVER_LESSON)).await.expect("open");
    css(&plain, "input[name='q.latest'][value='nothing']")
        .await
        .click()
        .await
        .expect("pick");
    css(&plain, "#quiz-next-version button[type='submit']")
        .await
        .click()
        .await
        .expect("submit");
    let missing = text_of(&plain, "#quiz-next-version .quiz-missing").await;
    assert_eq!(
        missing,
        "Answer every question first: questions 1, 2 and 3 have no answer yet."
    );
    assert_eq!(count(&plain, ".question.unanswered").await, 3);
    assert_eq!(count(&plain, "[data-verdict]").await, 0);
    assert!(css(&plain, "input[name='q.latest'][value='nothing']")
        .await
        .is_selected()
        .await
        .expect("checked"));
    wait_for_focus(&plain, "q.refactor").await;
    save_screenshot(&plain, "people-quiz-blank-nojs.png").await;
    plain.close().await.expect("close");
}

/// An instructor whose learner built `goodbye-neighbor` three times (starter, a typo, the
/// solution) and answered a quiz; the learner's session cookie and the page of their record.
async fn a_learner_with_history(
    server: &ServerProcess,
    driver: &Chromedriver,
) -> (Client, String, String) {
    let mut add = Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args([
            "instructor",
            "add",
            "ada",
            "--database-url",
            &server.db.url(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("instructor add");
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().expect("stdin");
        stdin.write_all(b"analytical-engine\n").expect("password");
    }
    assert!(add.wait().expect("wait").success());
    let teacher = driver.browser(true).await;
    log_in(&teacher, server).await;
    fill(&teacher, "#cohort-name", "Friday").await;
    css(&teacher, "#create-cohort")
        .await
        .click()
        .await
        .expect("create");
    let facts = text_of(&teacher, ".dashboard .cohort-facts").await;
    let code = facts
        .strip_prefix("Join code ")
        .and_then(|r| r.split(' ').next())
        .expect("a join code")
        .to_string();
    let dashboard = teacher.current_url().await.expect("url").to_string();

    let cookie = support::start_learner(&server.base_url).await;
    let (_, _, me) = support::http("GET", &server.url("/me"), Some(&cookie), None).await;
    let csrf = support::form_value(&me, "csrf").expect("csrf");
    let (status, _, body) = support::http_form(
        &server.url("/me/join"),
        &cookie,
        &format!("csrf={}&code={code}", support::form_encode(&csrf)),
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let (status, _, body) = support::http(
        "POST",
        &server.url("/fn/submit_quiz"),
        Some(&cookie),
        Some(
            &json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                     "answers": [["which-image", ["first"]], ["ships", ["tool", "debian"]],
                                 ["static", ["libc"]], ["target", ["--target build"]]]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let root = support::repo_root().join("exercises/goodbye-neighbor");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("exercise file");
    let greet = read("starter/greet.sh");
    let mut last = String::new();
    for dockerfile in [
        read("starter/Dockerfile"),
        "FROM busybox:latest\nRUNN oops\n".to_string(),
        read("solution/Dockerfile"),
    ] {
        let (status, _, body) = support::http(
            "POST",
            &server.url("/api/v1/builds"),
            Some(&cookie),
            Some(&json!({"exercise": "goodbye-neighbor",
                         "files": {"Dockerfile": dockerfile, "greet.sh": greet}})),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        let id = serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
            .as_str()
            .expect("id")
            .to_string();
        support::poll_build(&server.base_url, &cookie, &id, &["succeeded", "failed"]).await;
        last = id;
    }
    // The solution, pushed to the learner's namespace of the class registry.
    let (status, _, body) = support::http(
        "POST",
        &server.url(&format!("/api/v1/builds/{last}/push")),
        Some(&cookie),
        Some(&json!({"tag": "greeter:1.0.0"})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let push = serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, _, body) = support::http(
            "GET",
            &server.url(&format!("/api/v1/pushes/{push}")),
            Some(&cookie),
            None,
        )
        .await;
        if !body.contains("\"pushing\"") {
            assert!(body.contains("\"pushed\""), "{body}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the push ended");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    teacher
        .goto(&dashboard)
        .await
        .expect("back to the dashboard");
    let learner_link = css(&teacher, ".matrix tbody th a").await;
    let record = learner_link
        .attr("href")
        .await
        .expect("attr")
        .expect("href");
    (teacher, cookie, server.url(&record))
}

async fn log_in(c: &Client, server: &ServerProcess) {
    c.goto(&server.url("/instructor"))
        .await
        .expect("open /instructor");
    fill(c, "#login-name", "ada").await;
    fill(c, "#login-password", "analytical-engine").await;
    css(c, "#login").await.click().await.expect("log in");
    css(c, "#cohort-name").await;
}

/// `/instructor` with its registry login opened from the keyboard: it gives the instructor's
/// `docker login` command.
async fn open_registry_login(c: &Client, server: &ServerProcess) {
    c.goto(&server.url("/instructor")).await.expect("home");
    let summary = css(c, ".registry-login summary").await;
    summary
        .send_keys(" ")
        .await
        .expect("the summary takes a key");
    css(c, ".registry-login[open]").await;
    let said = text_of(c, ".registry-login").await;
    assert!(
        said.contains("docker login 127.0.0.1:") && said.contains(" -u instructor-"),
        "{said}"
    );
}

async fn scroll_to(c: &Client, selector: &str) {
    c.execute(
        "document.querySelector(arguments[0]).scrollIntoView();",
        vec![json!(selector)],
    )
    .await
    .expect("scroll");
}

/// Each `.x-label` of the chart: its text, its left edge on screen and its rendered size.
async fn chart_labels(c: &Client) -> Vec<(String, f64, f64)> {
    let found = c
        .execute(
            "return [...document.querySelectorAll('.attempt-chart text.x-label')].map(t => {
                const r = t.getBoundingClientRect();
                const px = parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a;
                return [t.textContent, r.left, px];
             });",
            vec![],
        )
        .await
        .expect("measure the labels");
    serde_json::from_value(found).expect("labels")
}

#[tokio::test]
async fn the_instructor_reads_attempts_oldest_first_on_desktop_and_phone() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let driver = Chromedriver::start();
    let (teacher, cookie, record) = a_learner_with_history(&server, &driver).await;

    teacher.goto(&record).await.expect("the learner's record");
    css(&teacher, ".attempt-chart").await;
    let labels = chart_labels(&teacher).await;
    let names: Vec<&str> = labels.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(names, ["#1", "#3"], "oldest first; the typo made no image");
    assert!(labels[0].1 < labels[1].1, "#1 left of #3: {labels:?}");
    for (name, _, px) in &labels {
        assert!(*px >= 11.0, "{name} is drawn {px} px high");
    }
    assert_eq!(
        text_of(
            &teacher,
            "table.attempts tbody tr:first-child td:first-child"
        )
        .await,
        "#3",
        "the table puts the newest on top"
    );
    let answer = text_of(&teacher, ".learner-quiz li[data-question='which-image']").await;
    assert!(
        answer.contains("Which stage does docker build -t app . tag"),
        "{answer}"
    );
    assert!(answer.contains("✗ The first stage"), "{answer}");
    assert!(answer.contains("Right answer: The last stage"), "{answer}");
    scroll_to(&teacher, "#exercise-goodbye-neighbor").await;
    save_screenshot(&teacher, "people-learner-record.png").await;
    scroll_to(&teacher, ".learner-quiz").await;
    save_screenshot(&teacher, "people-learner-quiz.png").await;
    // What the learner pushed, read from the registry, without their Delete buttons.
    let tag = text_of(&teacher, ".learner-registry tr[data-tag='1.0.0']").await;
    assert!(tag.contains("docker pull "), "{tag}");
    assert_eq!(count(&teacher, ".learner-registry form").await, 0);
    scroll_to(&teacher, ".learner-registry").await;
    save_screenshot(&teacher, "people-learner-registry.png").await;

    // Keyboard: the compare link is reachable and opens the older-left comparison.
    let link = css(&teacher, ".attempt-chart .compare-link").await;
    assert_eq!(link.text().await.expect("text"), "Compare attempt 1 with 3");
    let href = link.attr("href").await.expect("attr").expect("href");
    link.send_keys("\u{E007}").await.expect("Enter on the link");
    css(&teacher, ".compare-side").await;
    let sides = text_of(&teacher, ".compare-sides").await;
    assert!(
        sides.find("Before: attempt #1") < sides.find("After: attempt #3"),
        "{sides}"
    );
    assert!(count(&teacher, ".diff-line.added").await >= 1);
    assert_eq!(
        count(&teacher, ".diff-line.removed").await,
        0,
        "a fix adds lines"
    );
    let time = text_of(&teacher, ".compare-side .attempt-time").await;
    assert!(
        time.len() == "2026-11-23 19:56:36 UTC".len() && time.matches(':').count() == 2,
        "to the second: {time}"
    );
    save_screenshot(&teacher, "people-compare.png").await;
    // Named the other way round, the page still reads older → newer.
    let parts: Vec<&str> = href.trim_start_matches("/compare/").split('/').collect();
    teacher
        .goto(&server.url(&format!("/compare/{}/{}", parts[1], parts[0])))
        .await
        .expect("reversed");
    let sides = text_of(&teacher, ".compare-sides").await;
    assert!(sides.find("Before: attempt #1") < sides.find("After: attempt #3"));
    assert_eq!(count(&teacher, ".diff-line.removed").await, 0);
    // The instructor's own registry login, under their cohorts.
    open_registry_login(&teacher, &server).await;
    save_screenshot(&teacher, "people-instructor-home.png").await;
    teacher.close().await.expect("close");

    // 390 px wide: the record, the comparison and /me fit without scrolling sideways.
    let phone = driver.phone().await;
    log_in(&phone, &server).await;
    phone.goto(&record).await.expect("record");
    css(&phone, ".attempt-chart").await;
    assert_no_horizontal_overflow(&phone, "the learner's record at 390 px").await;
    for (name, _, px) in chart_labels(&phone).await {
        assert!(px >= 11.0, "{name} is drawn {px} px high on a phone");
    }
    scroll_to(&phone, "#exercise-goodbye-neighbor").await;
    save_screenshot(&phone, "people-learner-record-phone.png").await;
    scroll_to(&phone, ".learner-registry").await;
    save_screenshot(&phone, "people-learner-registry-phone.png").await;
    phone.goto(&server.url(&href)).await.expect("compare");
    css(&phone, ".compare-side").await;
    assert_no_horizontal_overflow(&phone, "the compare page at 390 px").await;
    save_screenshot(&phone, "people-compare-phone.png").await;
    open_registry_login(&phone, &server).await;
    assert_no_horizontal_overflow(&phone, "the instructor's home at 390 px").await;
    save_screenshot(&phone, "people-instructor-home-phone.png").await;
    phone.close().await.expect("close");

    // The learner's /me: a list of exercises, and a resume link to copy.
    let (name, value) = cookie.split_once('=').expect("name=value");
    for javascript in [true, false] {
        let me = if javascript {
            driver.phone().await
        } else {
            driver.browser(false).await
        };
        me.goto(&server.url("/")).await.expect("the site");
        // The learner's session, as if this browser had started it.
        me.execute(
            "document.cookie = arguments[0] + '=' + arguments[1] + '; path=/';",
            vec![json!(name), json!(value)],
        )
        .await
        .expect("the learner's cookie");
        me.goto(&server.url("/me")).await.expect("/me");
        let item = text_of(&me, ".my-exercises li[data-exercise='goodbye-neighbor']").await;
        assert!(
            item.contains("passed") && item.contains("3 attempts"),
            "{item}"
        );
        let url = css(&me, "#resume-url")
            .await
            .prop("value")
            .await
            .expect("value");
        let url = url.unwrap_or_default();
        assert!(url.contains("/resume/"), "{url}");
        let button = css(&me, ".copy-button").await;
        if javascript {
            css(&me, "body[data-hydrated='true']").await;
            assert!(url.starts_with("http://127.0.0.1:"), "a whole link: {url}");
            assert_no_horizontal_overflow(&me, "/me at 390 px").await;
            save_screenshot(&me, "people-me-phone.png").await;
            let button = css(&me, ".copy-button").await;
            assert!(button.is_displayed().await.expect("shown"));
            button.send_keys("\u{E007}").await.expect("Enter on Copy");
            let said = wait_for_text(&me, ".copy-state", ".").await;
            assert!(said == "Copied." || said.contains("Ctrl+C"), "{said}");
        } else {
            assert!(
                !button.is_displayed().await.expect("hidden"),
                "no dead button"
            );
            save_screenshot(&me, "people-me-nojs.png").await;
        }
        me.close().await.expect("close");
    }
}
