//! The docker console in headless Chromium, against a real server and the real engine: with
//! the keyboard alone, a learner runs docker commands and reads what they printed, brings
//! back earlier ones with ↑, types to a running command, stops one with Ctrl-C, reloads and
//! finds the console as it was (a running command followed on); docked under a lesson too,
//! and on a phone.

use crate::support::browser as web;
use fantoccini::Client;
use serde_json::json;
use web::*;

const ENTER: &str = "\u{E007}";
const UP: &str = "\u{E013}";
const CTRL_C: &str = "\u{E009}c\u{E000}";

/// Wait until the exercise's verdict says `wanted`; else fail saying what each check said and
/// what the console showed last (the verdict line names only the first check to fix).
async fn verdict_says(c: &Client, wanted: &str) -> String {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let verdict = css(c, ".verdict-line")
            .await
            .text()
            .await
            .unwrap_or_default();
        if verdict.contains(wanted) {
            return verdict;
        }
        if std::time::Instant::now() >= deadline {
            let checks = text_of(c, "#checks").await;
            let shown = text_of(c, ".console-out").await;
            let tail: Vec<&str> = shown.lines().rev().take(15).collect();
            panic!(
                "the verdict says “{verdict}”, not “{wanted}”\nchecks: {checks}\nconsole, last lines first: {tail:?}"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Type `keys` into the console's command line (which has the focus).
async fn keys(c: &Client, keys: &str) {
    c.active_element()
        .await
        .expect("focus")
        .send_keys(keys)
        .await
        .expect("type");
}

/// Wait until `count` commands have ended (their end line is drawn).
async fn ended(c: &Client, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let done = eval(
            c,
            "return [...document.querySelectorAll('.console-end')].filter(e => e.textContent).length;",
        )
        .await;
        if done.as_u64() == Some(count as u64) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{count} commands never ended: {done}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The console's command line has the focus.
async fn assert_focus_on_the_console(c: &Client) {
    assert_eq!(
        eval(
            c,
            "return document.activeElement && document.activeElement.id;"
        )
        .await,
        json!("console-line")
    );
}

async fn input_value(c: &Client) -> String {
    eval(c, "return document.querySelector('#console-line').value;")
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learner_runs_docker_commands_in_the_console_with_the_keyboard() {
    crate::console_app::seeded_toolbox();
    let (server, driver, c) = hydrated("/console").await;
    wait_for_text(&c, ".console-state", "Ready").await;
    tab_to(&c, "#console-line", 40).await;

    keys(
        &c,
        &format!("docker run --name hi busybox echo hello from the browser{ENTER}"),
    )
    .await;
    wait_for_text(&c, ".console-out", "hello from the browser").await;
    ended(&c, 1).await;
    keys(
        &c,
        &format!("docker ps -a --format '{{{{.Names}}}} {{{{.Status}}}}'{ENTER}"),
    )
    .await;
    let shown = wait_for_text(&c, ".console-out", "hi Exited (0)").await;
    assert!(
        shown.contains("$ docker ps -a"),
        "the command is shown above its output: {shown}"
    );
    ended(&c, 2).await;

    // ↑ brings back the commands run, newest first.
    keys(&c, UP).await;
    keys(&c, UP).await;
    assert_eq!(
        input_value(&c).await,
        "docker run --name hi busybox echo hello from the browser"
    );
    eval(
        &c,
        "document.querySelector('#console-line').value = ''; return null;",
    )
    .await;

    // A running command reads what is typed (the line says so); Ctrl-C stops one.
    keys(&c, &format!("read -r x && echo \"you said $x\"{ENTER}")).await;
    css(&c, ".console-stop:not([disabled])").await;
    assert_eq!(
        eval(
            &c,
            "return document.querySelector('#console-line').placeholder;"
        )
        .await,
        json!("typing to the running command")
    );
    keys(&c, &format!("forty-two{ENTER}")).await;
    wait_for_text(&c, ".console-out", "you said forty-two").await;
    ended(&c, 3).await;
    keys(&c, &format!("echo counting; sleep 600{ENTER}")).await;
    wait_for_text(&c, ".console-out", "counting").await;
    keys(&c, CTRL_C).await;
    wait_for_text(&c, ".console-out", "interrupted (Ctrl-C)").await;
    ended(&c, 4).await;
    css(&c, ".console-stop[disabled]").await;
    // A refusal the policy gives reads as the CLI prints it.
    keys(&c, &format!("docker run --privileged busybox true{ENTER}")).await;
    wait_for_text(&c, ".console-out", "layerlab: ").await;
    ended(&c, 5).await;
    assert_eq!(
        eval(
            &c,
            "return document.querySelector('.console-out').getAttribute('role');"
        )
        .await,
        json!("log"),
        "screen readers follow the output as a log"
    );
    // A published port: a link to it appears above the output.
    keys(
        &c,
        &format!("docker run -d --name web -p 8080:80 busybox sh -c 'mkdir -p /www && echo hello through layerlab > /www/index.html && exec httpd -f -p 80 -h /www'{ENTER}"),
    )
    .await;
    ended(&c, 6).await;
    let ports = wait_for_text(&c, ".console-ports", "localhost:8080 → 80").await;
    assert!(ports.starts_with("Your published ports"), "{ports}");
    save_screenshot(&c, "console-desktop.png").await;

    // A reload finds the console as it was, and follows a command still running.
    keys(&c, &format!("echo first; sleep 3; echo second half{ENTER}")).await;
    wait_for_text(&c, ".console-out", "first").await;
    c.refresh().await.expect("reload");
    css(&c, "body[data-hydrated='true']").await;
    let again = wait_for_text(&c, ".console-out", "hello from the browser").await;
    assert!(again.contains("you said forty-two"), "{again}");
    wait_for_text(&c, ".console-out", "second half").await;
    // The port's link, kept across the reload, opens what the container serves.
    let href = css(&c, ".console-ports a")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    assert_eq!(href, "/console/ports/8080/");
    c.goto(&server.url(&href)).await.expect("follow the link");
    wait_for_text(&c, "body", "hello through layerlab").await;
    c.close().await.expect("close");

    // On a phone: the same console, nothing wider than the screen.
    let phone = driver.phone().await;
    phone.goto(&server.url("/console")).await.expect("open");
    css(&phone, "body[data-hydrated='true']").await;
    wait_for_text(&phone, ".console-state", "Ready").await;
    assert_no_horizontal_overflow(&phone, "the console on a phone").await;
    save_screenshot(&phone, "console-phone.png").await;
    phone.close().await.expect("close");
    let db = server.kill();
    crate::support::remove_consoles_in(&db.console_dir());
}

/// Docked under a lesson, closed until opened (from the keyboard), then the same console.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_docked_under_a_lesson_opens_from_the_keyboard() {
    crate::console_app::seeded_toolbox();
    let (server, _driver, c) = hydrated("/learn/anatomy-of-a-dockerfile").await;
    let state = text_of(&c, ".console-dock .console-state").await;
    assert!(state.is_empty() || !state.contains("Ready"), "{state}");
    tab_to(&c, ".console-dock > summary", 200).await;
    keys(&c, ENTER).await;
    wait_for_text(&c, ".console-dock .console-state", "Ready").await;
    tab_to(&c, "#console-line", 10).await;
    keys(
        &c,
        &format!("docker version --format 'client {{{{.Client.Version}}}}'{ENTER}"),
    )
    .await;
    wait_for_text(&c, ".console-dock .console-out", "client 20.10").await;
    save_screenshot(&c, "console-docked-lesson.png").await;

    // A lesson's "Try it in the console": the console opens with the command typed in and
    // the focus on it; Enter runs it.
    c.goto(&server.url("/learn/debugging-containers"))
        .await
        .expect("open the lesson");
    css(&c, "body[data-hydrated='true']").await;
    eval(
        &c,
        "document.querySelector('.try-it').scrollIntoView({block: 'center'}); return null;",
    )
    .await;
    save_screenshot(&c, "console-try-it-lesson.png").await;
    tab_to(&c, ".try-it-link", 300).await;
    keys(&c, ENTER).await;
    css(&c, "body[data-hydrated='true']").await;
    wait_for_text(&c, ".console-state", "Ready").await;
    let typed = input_value(&c).await;
    assert!(
        typed.starts_with("docker run --name api busybox"),
        "{typed}"
    );
    assert_focus_on_the_console(&c).await;
    keys(&c, ENTER).await;
    wait_for_text(&c, ".console-out", "starting").await;
    wait_for_text(&c, ".console-out", "exit status 3").await;
    let db = server.kill();
    crate::support::remove_consoles_in(&db.console_dir());
}

/// A console exercise in the browser, with the keyboard alone: the statement's "Try it" link
/// types the build into the page's own console, the learner runs it and their own command,
/// then Check my work shows every check passed; on a phone the page fits the screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_exercise_is_done_and_checked_in_the_page() {
    crate::console_app::seeded_toolbox();
    let (server, driver, c) = hydrated("/exercises/say-it-differently").await;
    let before = text_of(&c, "#checks").await;
    assert!(before.contains("Hej from the greeter"), "{before}");
    save_screenshot(&c, "console-exercise-start.png").await;
    tab_to(&c, ".try-it-link", 200).await;
    keys(&c, ENTER).await;
    css(&c, "body[data-hydrated='true']").await;
    wait_for_text(&c, ".console-state", "Ready").await;
    let typed = input_value(&c).await;
    assert!(typed.starts_with("printf 'FROM busybox:1.35"), "{typed}");
    assert_focus_on_the_console(&c).await;
    keys(&c, ENTER).await;
    wait_for_text_within(
        &c,
        ".console-out",
        "Successfully tagged greeter:latest",
        std::time::Duration::from_secs(60),
    )
    .await;
    keys(
        &c,
        &format!("docker run --name hej -e GREETING=Hej greeter{ENTER}"),
    )
    .await;
    wait_for_text(&c, ".console-out", "Hej from the greeter").await;
    ended(&c, 2).await;
    tab_to(&c, "#check-work", 200).await;
    keys(&c, ENTER).await;
    let verdict = verdict_says(&c, "Passed").await;
    assert!(verdict.contains("2 checks pass"), "{verdict}");
    let checks = text_of(&c, "#checks").await;
    assert!(!checks.contains('✗'), "{checks}");
    // The console is still there, with what was typed before the check.
    wait_for_text(&c, ".console-out", "Hej from the greeter").await;
    save_screenshot(&c, "console-exercise-passed.png").await;

    // An exercise that sets up a container and asks what the learner found in it.
    c.goto(&server.url("/exercises/find-the-line"))
        .await
        .expect("open");
    css(&c, "body[data-hydrated='true']").await;
    // Set up while a command runs: refused, and the page says why (not a bare error).
    wait_for_text(&c, ".console-state", "Ready").await;
    tab_to(&c, "#console-line", 200).await;
    keys(&c, &format!("sleep 30{ENTER}")).await;
    css(&c, ".console-stop:not([disabled])").await;
    tab_to(&c, "#set-up", 200).await;
    keys(&c, ENTER).await;
    let said = wait_for_text(&c, ".statement .error-box", "A command is running").await;
    assert!(said.contains("Ctrl-C"), "{said}");
    save_screenshot(&c, "console-exercise-refused.png").await;
    css(&c, "body[data-hydrated='true']").await;
    tab_to(&c, "#console-line", 200).await;
    keys(&c, CTRL_C).await;
    css(&c, ".console-stop[disabled]").await;
    tab_to(&c, "#set-up", 200).await;
    keys(&c, ENTER).await;
    wait_for_text(&c, ".setup-form", "Done").await;
    css(&c, "body[data-hydrated='true']").await;
    wait_for_text(&c, ".console-state", "Ready").await;
    tab_to(&c, "#console-line", 200).await;
    keys(&c, &format!("docker logs chatty | grep code{ENTER}")).await;
    let shown = wait_for_text(&c, ".console-out", "the code is").await;
    let code: String = shown
        .split("the code is ")
        .nth(1)
        .expect("a code")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{shown}");
    tab_to(&c, "#answer-found-the-code", 200).await;
    keys(&c, &format!("{code}{ENTER}")).await;
    let verdict = verdict_says(&c, "Passed").await;
    assert!(verdict.contains("the check passes"), "{verdict}");
    let kept = eval(
        &c,
        "return document.querySelector('#answer-found-the-code').value;",
    )
    .await;
    assert_eq!(kept, json!(code), "the answer is shown again");
    save_screenshot(&c, "console-exercise-answered.png").await;

    // Tag, push, remove, pull back and run, typed in the page; the registry and the engine
    // are what the check reads.
    c.goto(&server.url("/exercises/push-and-pull-back"))
        .await
        .expect("open");
    css(&c, "body[data-hydrated='true']").await;
    wait_for_text(&c, ".console-state", "Ready").await;
    tab_to(&c, "#set-up", 200).await;
    keys(&c, ENTER).await;
    wait_for_text(&c, ".setup-form", "Done").await;
    css(&c, "body[data-hydrated='true']").await;
    wait_for_text(&c, ".console-state", "Ready").await;
    tab_to(&c, "#console-line", 200).await;
    for (line, shows) in [
        (
            "docker tag greeter:1.0 $REGISTRY/greeter:1.0 && docker push $REGISTRY/greeter:1.0",
            "digest: sha256:",
        ),
        (
            "docker rmi greeter:1.0 $REGISTRY/greeter:1.0",
            "Deleted: sha256:",
        ),
        (
            "docker pull $REGISTRY/greeter:1.0",
            "Downloaded newer image",
        ),
        (
            "docker run --rm $REGISTRY/greeter:1.0",
            "Hello from greeter 1.0",
        ),
    ] {
        keys(&c, &format!("{line}{ENTER}")).await;
        wait_for_text(&c, ".console-out", shows).await;
        css(&c, ".console-stop[disabled]").await;
    }
    tab_to(&c, "#check-work", 200).await;
    keys(&c, ENTER).await;
    // `--rm` took the container and what it printed: the pull counts, the run does not.
    let verdict = verdict_says(&c, "Not passed").await;
    let checks = text_of(&c, "#checks").await;
    assert!(
        checks.contains("back into an engine that no longer held it")
            && checks.contains("None of your containers is made from"),
        "{checks}"
    );
    css(&c, "body[data-hydrated='true']").await;
    wait_for_text(&c, ".console-state", "Ready").await;
    tab_to(&c, "#console-line", 200).await;
    keys(
        &c,
        &format!("docker run --name from-the-registry $REGISTRY/greeter:1.0{ENTER}"),
    )
    .await;
    wait_for_text(&c, ".console-out", "Hello from greeter 1.0").await;
    css(&c, ".console-stop[disabled]").await;
    tab_to(&c, "#check-work", 200).await;
    keys(&c, ENTER).await;
    let verdict_after = verdict_says(&c, "Passed").await;
    assert!(
        verdict_after.contains("3 checks pass"),
        "{verdict} → {verdict_after}"
    );
    save_screenshot(&c, "console-exercise-pulled-back.png").await;
    c.close().await.expect("close");

    let phone = driver.phone().await;
    phone
        .goto(&server.url("/exercises/serve-from-the-console"))
        .await
        .expect("open");
    css(&phone, "body[data-hydrated='true']").await;
    wait_for_text(&phone, ".console-state", "Ready").await;
    assert_no_horizontal_overflow(&phone, "a console exercise on a phone").await;
    save_screenshot(&phone, "console-exercise-phone.png").await;
    phone
        .goto(&server.url("/exercises/push-and-pull-back"))
        .await
        .expect("open");
    css(&phone, "body[data-hydrated='true']").await;
    assert_no_horizontal_overflow(&phone, "the push exercise on a phone").await;
    save_screenshot(&phone, "console-exercise-push-phone.png").await;
    phone.close().await.expect("close");
    let db = server.kill();
    crate::support::remove_consoles_in(&db.console_dir());
}
