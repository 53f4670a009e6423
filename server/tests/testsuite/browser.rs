//! A real browser (headless Chromium through chromedriver and fantoccini) against a real
//! server process: the course map, following a lesson link, and a quiz graded in place once
//! the page has hydrated — and the same quiz with JavaScript off, as a plain form post.

use crate::support;

use crate::support::browser as web;

use fantoccini::{Client, Locator};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{ServerProcess, LOCAL_ENGINE};
use web::*;

/// Answer the SemVer quiz, choosing `renamed` (`minor` is wrong, `major` right) for the
/// renamed endpoint, and submit.
async fn answer_semver_quiz(c: &Client, renamed: &str) {
    for (field, version) in [("q.refactor", "1.14.1"), ("q.new-endpoint", "1.15.0")] {
        css(c, &format!("input[name='{field}']"))
            .await
            .send_keys(version)
            .await
            .expect("type");
    }
    for choice in [
        format!("input[name='q.renamed-endpoint'][value='{renamed}']"),
        "input[name='q.latest'][value='nothing']".to_string(),
    ] {
        css(c, &choice).await.click().await.expect("choose");
    }
    css(c, "#quiz-next-version button[type='submit']")
        .await
        .click()
        .await
        .expect("submit");
}

async fn assert_semver_grades(c: &Client) {
    let score = css(c, "#quiz-next-version .quiz-score").await;
    assert_eq!(score.text().await.expect("text"), "3 of 4 right");
    for (q, verdict) in [
        ("refactor", "right"),
        ("new-endpoint", "right"),
        ("renamed-endpoint", "wrong"),
        ("latest", "right"),
    ] {
        css(
            c,
            &format!("fieldset[data-question='{q}'] [data-verdict='{verdict}']"),
        )
        .await;
    }
    let explanation = css(c, "fieldset[data-question='renamed-endpoint'] .explanation").await;
    assert!(explanation.text().await.expect("text").contains("2.0.0"));
}

#[tokio::test]
async fn hydrated_quiz_is_graded_in_place_and_plain_form_post_works_without_javascript() {
    // With JavaScript: follow the course map to the lesson, wait for hydration, answer.
    let (server, driver, c) = hydrated("/").await;
    css(&c, "a[data-lesson='tags-and-semver']")
        .await
        .click()
        .await
        .expect("follow the lesson link");
    css(&c, "article.lesson[data-lesson='tags-and-semver']").await;
    css(&c, "body[data-hydrated='true']").await;
    assert!(c
        .current_url()
        .await
        .expect("url")
        .path()
        .ends_with("/learn/tags-and-semver"));
    c.execute("window.__layerlab_same_page = true;", vec![])
        .await
        .expect("mark the page");
    answer_semver_quiz(&c, "minor").await;
    assert_semver_grades(&c).await;
    let same = c
        .execute("return window.__layerlab_same_page === true;", vec![])
        .await
        .expect("read mark");
    assert_eq!(same, json!(true), "grading must not reload the page");
    save_screenshot(&c, "quiz-graded.png").await;
    c.close().await.expect("close");

    // Without JavaScript: the same quiz as a plain form post and redirect.
    let c = driver.browser(false).await;
    c.goto(&server.url("/learn/tags-and-semver"))
        .await
        .expect("open lesson");
    css(&c, "article.lesson").await;
    let hydrated = c.find(Locator::Css("body[data-hydrated]")).await;
    assert!(
        hydrated.is_err(),
        "JavaScript is off, so nothing may hydrate"
    );
    answer_semver_quiz(&c, "minor").await;
    assert_semver_grades(&c).await;
    let url = c.current_url().await.expect("url");
    assert_eq!(url.path(), "/learn/tags-and-semver");
    assert_eq!(url.fragment(), Some("quiz-next-version"));
    c.close().await.expect("close");
}

#[tokio::test]
async fn workbench_streams_the_log_live_then_shows_layers_size_and_errors_on_their_line() {
    let (_server, _driver, c) = hydrated("/playground").await;
    css(&c, ".file-tab[data-path='Dockerfile']").await;

    let marker = format!("browser-marker-{}", std::process::id());
    let dockerfile = format!(
        "FROM busybox:latest\nWORKDIR /srv\nRUN echo {marker} && sleep 4 && echo finished > done.txt\nCMD [\"cat\", \"done.txt\"]\n"
    );
    type_over(&c, "textarea.editor-input", &dockerfile).await;
    // The highlighter follows the typing: keywords are marked.
    let keywords = c
        .find_all(Locator::Css(".highlight .tok-kw"))
        .await
        .expect("keywords");
    assert_eq!(
        keywords.len(),
        4,
        "FROM, WORKDIR, RUN and CMD are highlighted"
    );
    css(&c, "#build")
        .await
        .click()
        .await
        .expect("press Build & run");

    // The marker line arrives while the RUN step still sleeps: no result yet.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = match c.find(Locator::Css(".build-log")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if log.lines().any(|l| l.trim() == marker) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the marker never appeared in the log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        c.find(Locator::Css(".results")).await.is_err(),
        "log lines arrive before the build has finished"
    );
    let progress = text_of(&c, ".progress-label").await;
    assert!(
        progress.starts_with("Step 3/4"),
        "progress shows the step: {progress}"
    );

    let results = css(&c, ".results[data-status='succeeded']").await;
    let build_id = results
        .attr("data-build")
        .await
        .expect("attr")
        .expect("build id");
    let tag = format!("layerlab/playground:{build_id}");
    let facts = support::docker(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}} {{.Size}}",
        &tag,
    ]);
    let (layers, size) = facts.split_once(' ').expect("two numbers");
    assert_eq!(text_of(&c, ".layer-count").await, layers);
    let size_el = css(&c, ".image-size").await;
    assert_eq!(
        size_el.attr("data-bytes").await.expect("attr").as_deref(),
        Some(size)
    );
    assert!(size_el
        .text()
        .await
        .expect("text")
        .contains(&format!("({size} bytes)")));
    let rows = c
        .find_all(Locator::Css("table.history tbody tr"))
        .await
        .expect("rows");
    let cli_entries = support::docker(&[
        "history",
        "--format",
        "entry:{{.CreatedBy}}",
        "--no-trunc",
        &tag,
    ])
    .lines()
    .filter(|l| !l.contains("LABEL org.layerlab."))
    .count();
    assert_eq!(rows.len(), 4, "base image, WORKDIR, RUN, CMD");
    assert_eq!(
        rows.len(),
        cli_entries,
        "the same entries as `docker history`"
    );
    let empty = c
        .find_all(Locator::Css("table.history tr.empty-layer"))
        .await
        .expect("rows");
    assert_eq!(
        rows.len() - empty.len(),
        layers.parse::<usize>().expect("number")
    );
    assert_eq!(text_of(&c, ".run-output").await, "finished");
    save_screenshot(&c, "workbench-built.png").await;

    // The layer explorer: open it, expand the RUN step's layer, then its /srv directory.
    css(&c, ".explore-layers")
        .await
        .click()
        .await
        .expect("open the layer explorer");
    let run_layer = css(&c, ".layer-list .layer:last-child > details > summary").await;
    assert!(
        run_layer.text().await.expect("text").contains(&marker),
        "the top layer is the RUN step's"
    );
    let done = ".layer-list .layer:last-child li.file[data-path='/srv/done.txt']";
    assert!(
        !css(&c, done)
            .await
            .is_displayed()
            .await
            .expect("displayed?"),
        "files stay folded until asked for"
    );
    run_layer.click().await.expect("expand the layer");
    css(
        &c,
        ".layer-list .layer:last-child li.dir[data-path='/srv'] > details > summary",
    )
    .await
    .click()
    .await
    .expect("expand /srv");
    let file = css(&c, done).await;
    assert!(file.is_displayed().await.expect("displayed?"));
    assert!(file.text().await.expect("text").contains("added"));
    save_screenshot(&c, "layer-explorer.png").await;

    // A syntax error: the message, and its line marked in the editor.
    type_over(
        &c,
        "textarea.editor-input",
        "FROM busybox:latest\nRUNN echo oops\n",
    )
    .await;
    css(&c, "#build")
        .await
        .click()
        .await
        .expect("press Build & run");
    css(
        &c,
        ".results[data-status='failed'] .build-error[data-code='dockerfile_syntax']",
    )
    .await;
    assert_eq!(text_of(&c, ".gutter .line-number.error-line").await, "2");
    assert!(text_of(&c, ".build-error").await.contains("line 2"));
    save_screenshot(&c, "workbench-error.png").await;
    c.close().await.expect("close");
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", "-f", &tag])
        .output();
}

#[tokio::test]
async fn an_exercise_page_shows_its_statement_files_and_checks() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let driver = Chromedriver::start();
    let c = driver.browser(false).await;
    c.goto(&server.url("/")).await.expect("open /");
    css(&c, "a[data-exercise='first-image']")
        .await
        .click()
        .await
        .expect("follow the exercise link");
    css(&c, ".workbench[data-exercise='first-image']").await;
    assert!(text_of(&c, ".statement h1")
        .await
        .contains("serve a web page"));
    css(&c, ".file-tab[data-path='site/index.html']").await;
    css(&c, ".check[data-check='serves-the-page']").await;
    c.close().await.expect("close");
}

#[tokio::test]
async fn a_passed_quiz_and_a_passed_exercise_show_as_done_on_the_course_map() {
    let (server, _driver, c) = hydrated("/").await;
    css(&c, "a[data-lesson='tags-and-semver'][data-done='false']").await;
    css(&c, "a[data-exercise='goodbye-neighbor'][data-done='false']").await;

    // Every answer right.
    c.goto(&server.url("/learn/tags-and-semver"))
        .await
        .expect("open the lesson");
    css(&c, "body[data-hydrated='true']").await;
    answer_semver_quiz(&c, "major").await;
    assert_eq!(
        text_of(&c, "#quiz-next-version .quiz-score").await,
        "4 of 4 right — well done!"
    );

    // The exercise: first the starter as it is (a miss unlocks a hint), then solved.
    c.goto(&server.url("/exercises/goodbye-neighbor"))
        .await
        .expect("open the exercise");
    css(&c, "body[data-hydrated='true']").await;
    let solution = std::fs::read_to_string(
        support::repo_root().join("exercises/goodbye-neighbor/solution/Dockerfile"),
    )
    .expect("solution");
    css(&c, "#build")
        .await
        .click()
        .await
        .expect("build the starter");
    css(&c, ".check[data-check='says-goodbye'][data-passed='false'] a.learn-more[href^='/learn/cmd-entrypoint-and-debugging#']").await;
    assert_eq!(
        c.find_all(Locator::Css(".hints .hint-item"))
            .await
            .expect("hints")
            .len(),
        1,
        "one hint after one miss"
    );
    save_screenshot(&c, "exercise-hint.png").await;
    type_over(&c, "textarea.editor-input", &solution).await;
    css(&c, "#build")
        .await
        .click()
        .await
        .expect("press Build & run");
    css(&c, ".results[data-status='succeeded']").await;
    css(&c, ".check[data-check='says-goodbye'][data-passed='true']").await;
    css(
        &c,
        ".check[data-check='program-unchanged'][data-passed='true']",
    )
    .await;
    // The chart takes in each finished attempt without a reload.
    css(&c, ".attempt-chart[data-points='2'] circle.size-dot.passed").await;

    c.goto(&server.url("/")).await.expect("back to the map");
    css(&c, "a[data-lesson='tags-and-semver'][data-done='true']").await;
    css(&c, "a[data-exercise='goodbye-neighbor'][data-done='true']").await;
    css(&c, "a[data-exercise='first-image'][data-done='false']").await;
    save_screenshot(&c, "course-map-progress.png").await;

    // Back on the exercise: both attempts on the size and layers chart, the passing one green.
    c.goto(&server.url("/exercises/goodbye-neighbor"))
        .await
        .expect("open the exercise again");
    css(&c, ".attempt-chart[data-points='2']").await;
    let dots = c
        .find_all(Locator::Css(".attempt-chart circle.size-dot"))
        .await
        .expect("dots");
    assert_eq!(dots.len(), 2);
    let passed = c
        .find_all(Locator::Css(".attempt-chart circle.size-dot.passed"))
        .await
        .expect("passed dots");
    assert_eq!(passed.len(), 1, "only the second attempt passed");
    save_screenshot(&c, "attempt-chart.png").await;
    css(&c, ".attempt-chart a.compare-link")
        .await
        .click()
        .await
        .expect("compare the two attempts");
    css(&c, ".diff .diff-line.added").await;
    save_screenshot(&c, "compare.png").await;
    c.close().await.expect("close");
}

#[tokio::test]
async fn a_server_killed_during_a_build_leaves_a_clear_message_not_a_frozen_page() {
    let (server, _driver, c) = hydrated("/playground").await;
    let marker = format!("killed-marker-{}", std::process::id());
    type_over(
        &c,
        "textarea.editor-input",
        &format!("FROM busybox:latest\nRUN echo {marker} && sleep 20\n"),
    )
    .await;
    css(&c, "#build")
        .await
        .click()
        .await
        .expect("press Build & run");
    css(&c, ".progress[data-status='building']").await;
    drop(server);
    let problem = text_of(&c, ".bench > .error-box[role='alert']").await;
    assert!(
        problem.contains("Lost the connection to the server"),
        "the learner is told what happened: {problem}"
    );
    let button = css(&c, "#build").await;
    assert_eq!(button.text().await.expect("text"), "Build & run");
    assert_eq!(
        button.attr("disabled").await.expect("attr"),
        None,
        "the button works again"
    );
    save_screenshot(&c, "workbench-server-gone.png").await;
    c.close().await.expect("close");
}

/// Two browsers: an instructor logs in, creates a cohort and keeps its dashboard open; a
/// learner joins with the code and passes an exercise. The instructor's page shows the new
/// row and then the green cell without being reloaded; the cell leads to the attempt.
#[tokio::test]
async fn an_open_dashboard_turns_green_when_a_learner_passes() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let database = server.db.url();
    let mut add = Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args(["instructor", "add", "grace", "--database-url", &database])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("instructor add");
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().expect("stdin");
        stdin.write_all(b"cobol-and-compilers\n").expect("password");
    }
    assert!(add.wait().expect("wait").success());
    let driver = Chromedriver::start();

    // The instructor: a protected page sends them to the login form, and back after it.
    let teacher = driver.browser(true).await;
    teacher
        .goto(&server.url("/instructor"))
        .await
        .expect("open /instructor");
    fill(&teacher, "#login-name", "grace").await;
    fill(&teacher, "#login-password", "cobol-and-compilers").await;
    css(&teacher, "#login").await.click().await.expect("log in");
    fill(&teacher, "#cohort-name", "Thursday workshop").await;
    css(&teacher, "#create-cohort")
        .await
        .click()
        .await
        .expect("create the cohort");
    css(&teacher, "body[data-hydrated='true']").await;
    css(&teacher, ".live[data-live='true']").await;
    let dashboard_url = teacher.current_url().await.expect("the dashboard's url");
    let heading = text_of(&teacher, ".dashboard .cohort-facts").await;
    let code = heading
        .strip_prefix("Join code ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no join code in “{heading}”"))
        .to_string();
    // Proof that the page is never reloaded: a mark on the window survives only without one.
    teacher
        .execute("window.layerlabMark = 'still here'; return null;", vec![])
        .await
        .expect("set a mark");

    // The learner: a name, the code, then the exercise solved in the workbench.
    let learner = driver.browser(true).await;
    learner.goto(&server.url("/me")).await.expect("open /me");
    fill(&learner, "#display-name", "Lin").await;
    css(&learner, "form[action='/me/name'] button")
        .await
        .click()
        .await
        .expect("save the name");
    css(&learner, ".notice.ok").await;
    fill(&learner, "#join-code", &code).await;
    css(&learner, "form[action='/me/join'] button")
        .await
        .click()
        .await
        .expect("join");
    assert!(text_of(&learner, ".cohort-name")
        .await
        .contains("Thursday workshop"));
    save_screenshot(&learner, "profile.png").await;

    // The joined learner appears on the open dashboard, nothing passed yet.
    let row = css(&teacher, ".matrix tbody tr[data-learner]").await;
    let learner_id = row
        .attr("data-learner")
        .await
        .expect("attr")
        .expect("a learner id");
    assert!(text_of(&teacher, ".matrix tbody th").await.contains("Lin"));
    let cell = format!("td[data-learner='{learner_id}'][data-item='exercise:goodbye-neighbor']");
    css(&teacher, &format!("{cell}[data-status='not_started']")).await;

    learner
        .goto(&server.url("/exercises/goodbye-neighbor"))
        .await
        .expect("open the exercise");
    css(&learner, "body[data-hydrated='true']").await;
    let solution = std::fs::read_to_string(
        support::repo_root().join("exercises/goodbye-neighbor/solution/Dockerfile"),
    )
    .expect("solution");
    type_over(&learner, "textarea.editor-input", &solution).await;
    css(&learner, "#build")
        .await
        .click()
        .await
        .expect("Build & run");
    css(&learner, ".results[data-status='succeeded']").await;

    // The instructor's page turned green by itself.
    css(&teacher, &format!("{cell}[data-status='passed']")).await;
    let mark = teacher
        .execute("return window.layerlabMark || null;", vec![])
        .await
        .expect("read the mark");
    assert_eq!(mark, json!("still here"), "the dashboard was not reloaded");
    save_screenshot(&teacher, "dashboard-live.png").await;

    // Drill down: the cell leads to the learner's attempts, the attempt to its files and checks.
    css(&teacher, &format!("{cell} a"))
        .await
        .click()
        .await
        .expect("open the learner");
    css(&teacher, "#exercise-goodbye-neighbor tr.passed a")
        .await
        .click()
        .await
        .expect("open the attempt");
    css(
        &teacher,
        ".attempt .check.passed[data-check='says-goodbye']",
    )
    .await;
    assert!(text_of(&teacher, ".attempt-file pre")
        .await
        .contains("goodbye"));
    // The layer explorer is an island of its own on this page.
    css(&teacher, "body[data-hydrated='true']").await;
    css(&teacher, ".attempt .explore-layers")
        .await
        .click()
        .await
        .expect("open the layer explorer");
    css(&teacher, ".attempt .layer-list .layer").await;
    save_screenshot(&teacher, "attempt.png").await;

    // Logged out elsewhere (here: a request from the same browser), the open dashboard cannot
    // reload its matrix at the learner's next answer: it keeps the matrix and says why.
    teacher
        .goto(dashboard_url.as_str())
        .await
        .expect("back to the dashboard");
    css(&teacher, ".live[data-live='true']").await;
    let logged_out = teacher
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            fetch('/instructor').then(r => r.text()).then(html => {
                const page = new DOMParser().parseFromString(html, 'text/html');
                const fields = [...page.querySelectorAll("form[action='/instructor/logout'] input[name]")];
                return fetch('/instructor/logout', {method: 'POST',
                    body: new URLSearchParams(fields.map(i => [i.name, i.value]))});
            }).then(r => done(r.url), e => done(String(e)));"#,
            vec![],
        )
        .await
        .expect("log out");
    assert!(
        logged_out
            .as_str()
            .is_some_and(|u| u.ends_with("/instructor/login")),
        "logged out: {logged_out}"
    );
    let answered = learner
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            fetch('/fn/submit_quiz', {method: 'POST', headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({lesson: 'tags-and-semver', quiz: 'next-version',
                                      answers: [['refactor', ['1.14.1']], ['new-endpoint', ['1.15.0']],
                                                ['renamed-endpoint', ['major']], ['latest', ['nothing']]]})})
            .then(r => done(r.status), e => done(String(e)));"#,
            vec![],
        )
        .await
        .expect("answer a quiz");
    assert_eq!(answered, json!(200));
    let stale = text_of(&teacher, ".dashboard-stale").await;
    assert!(
        stale.contains("could not be brought up to date")
            && stale.contains("Log in as an instructor"),
        "{stale}"
    );
    css(&teacher, &format!("{cell}[data-status='passed']")).await;
    save_screenshot(&teacher, "dashboard-stale.png").await;

    // The server restarts: the dashboard's stream reconnects and is refused (still logged
    // out). The browser gives up on a refused stream; the page says so and keeps trying, so
    // once the instructor has logged in again it is live again without a reload.
    teacher
        .execute("window.layerlabMark = 'not reloaded'; return null;", vec![])
        .await
        .expect("set a mark");
    let server = server.restart(LOCAL_ENGINE);
    let stopped = wait_for_text(&teacher, ".dashboard-stale", "Live updates stopped").await;
    assert!(stopped.contains("Trying again in"), "{stopped}");
    assert_eq!(text_of(&teacher, ".live").await, "○ offline");
    save_screenshot(&teacher, "dashboard-offline.png").await;
    let logged_in = teacher
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            fetch('/instructor/login').then(r => r.text()).then(html => {
                const page = new DOMParser().parseFromString(html, 'text/html');
                const form = page.querySelector('form');
                const fields = new URLSearchParams([...form.querySelectorAll('input[name]')]
                    .map(i => [i.name, i.value]));
                fields.set('name', 'grace');
                fields.set('password', 'cobol-and-compilers');
                return fetch(form.getAttribute('action'), {method: 'POST', body: fields});
            }).then(r => done(r.url), e => done(String(e)));"#,
            vec![],
        )
        .await
        .expect("log in again");
    assert!(
        logged_in.as_str().is_some_and(|u| !u.contains("/login")),
        "logged in: {logged_in}"
    );
    css(&teacher, ".live[data-live='true']").await;
    gone(&teacher, ".dashboard-stale").await;
    assert_eq!(text_of(&teacher, ".live").await, "● live");
    let mark = teacher
        .execute("return window.layerlabMark || null;", vec![])
        .await
        .expect("read the mark");
    assert_eq!(
        mark,
        json!("not reloaded"),
        "the dashboard was not reloaded"
    );
    drop(server);
    learner.close().await.expect("close");
    teacher.close().await.expect("close");
}

#[tokio::test]
async fn the_editor_lints_as_the_learner_types_and_links_each_finding_to_its_lesson() {
    let (server, _driver, c) = hydrated("/playground").await;
    type_over(
        &c,
        "textarea.editor-input",
        "FROM busybox\nWORKDIR srv\nRUN cd /tmp && touch x\n",
    )
    .await;
    // Each finding is listed with its line and rule, and its line is underlined.
    let relative = css(
        &c,
        ".lint-list li[data-rule='workdir-relative'][data-line='2']",
    )
    .await;
    assert!(
        relative.text().await.expect("text").contains("line 2"),
        "the finding names its line"
    );
    css(&c, ".lint-list li[data-rule='from-latest'][data-line='1']").await;
    css(&c, ".lint-list li[data-rule='cd-in-run'][data-line='3']").await;
    let underlined = c
        .find_all(Locator::Css(".highlight .code-line.lint-warning"))
        .await
        .expect("underlined lines");
    assert_eq!(underlined.len(), 3, "lines 1, 2 and 3 are underlined");
    save_screenshot(&c, "editor-lint.png").await;

    // "why?" opens the lesson at the paragraph that explains it.
    let link = css(
        &c,
        ".lint-list li[data-rule='workdir-relative'] a.lint-lesson",
    )
    .await
    .attr("href")
    .await
    .expect("href")
    .expect("a link");
    let anchor = link.split_once('#').expect("an anchor").1.to_string();

    // Fixing the file clears the findings as the learner types.
    type_over(
        &c,
        "textarea.editor-input",
        "FROM busybox:1.36\nWORKDIR /srv\nRUN touch x\nUSER 1000\n",
    )
    .await;
    gone(&c, ".lint-list li[data-rule='workdir-relative']").await;
    css(&c, ".lint-summary.lint-clean").await;
    assert!(
        c.find(Locator::Css(".highlight .code-line.lint-warning"))
            .await
            .is_err(),
        "no underline left"
    );

    c.goto(&server.url(&link)).await.expect("open the lesson");
    css(&c, &format!("[id='{anchor}']")).await;
    c.close().await.expect("close");
}
