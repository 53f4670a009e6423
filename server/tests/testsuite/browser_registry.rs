//! The class registry in headless Chromium, against a real server, the real engine and the
//! registry layerlab starts: Tag & push under a build, with the keyboard alone, the push's
//! lines as they come and its digest; the registry page listing it; both on a phone.

use crate::support;
use crate::support::browser as web;

use fantoccini::Locator;
use serde_json::json;
use web::*;

const EXERCISE: &str = "/exercises/hello-container";

#[tokio::test]
async fn a_build_is_tagged_and_pushed_with_the_keyboard_and_shows_in_the_registry() {
    let (server, driver, c) = hydrated(EXERCISE).await;
    let dockerfile = std::fs::read_to_string(
        support::repo_root().join("exercises/hello-container/solution/Dockerfile"),
    )
    .expect("the solution");
    type_over(&c, "textarea.editor-input", &dockerfile).await;
    c.active_element()
        .await
        .expect("focus")
        .send_keys("\u{E009}\u{E007}\u{E000}")
        .await
        .expect("ctrl+enter builds");
    css(&c, ".verdict-line[data-verdict='passed']").await;

    // From the editor, by the keyboard: Esc leaves it, Tab reaches the tag field.
    c.active_element()
        .await
        .expect("focus")
        .send_keys("\u{E00C}")
        .await
        .expect("esc");
    tab_to(&c, "#push-tag", 80).await;
    let field = c.active_element().await.expect("focus");
    // A tag the registry cannot take is refused with what to type, and nothing is pushed.
    field
        .send_keys("My App\u{E007}")
        .await
        .expect("type, enter");
    let refusal = wait_for_text(&c, ".push-problem", "cannot be").await;
    assert!(refusal.contains("lowercase"), "{refusal}");
    let field = css(&c, "#push-tag").await;
    field.clear().await.expect("clear");
    field
        .send_keys("my-app:1.0.0\u{E007}")
        .await
        .expect("type, enter");
    css(&c, ".push-result[data-status='pushed']").await;
    let digest = text_of(&c, ".push-digest").await;
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let log = text_of(&c, ".push-log").await;
    assert!(log.starts_with("The push refers to repository ["), "{log}");
    assert!(log.contains(&format!("1.0.0: digest: {digest}")), "{log}");
    assert!(
        c.find(Locator::Css(".push-problem:not([hidden])"))
            .await
            .is_err(),
        "the earlier refusal is gone"
    );
    let pull = text_of(&c, ".push-result .pull-command").await;
    assert!(
        pull.starts_with("docker pull ") && pull.ends_with(&digest),
        "{pull}"
    );
    let button = eval(
        &c,
        "return document.querySelector('.push-form button').disabled;",
    )
    .await;
    assert_eq!(button, json!(false), "the button works again");
    eval(&c, "document.querySelector('.push-panel').scrollIntoView()").await;
    save_screenshot(&c, "push-desktop.png").await;

    // The registry page, reached from the header: the tag, its digest, a pull command.
    c.goto(&server.url("/registry")).await.expect("open");
    let row = css(&c, "tr[data-tag='1.0.0']").await;
    assert_eq!(
        row.attr("data-digest").await.expect("attr").as_deref(),
        Some(digest.as_str())
    );
    let shown = text_of(&c, ".registry-repository h2").await;
    assert!(shown.ends_with("/my-app"), "{shown}");
    assert!(text_of(&c, "tr[data-tag='1.0.0'] .pull-command")
        .await
        .ends_with("/my-app:1.0.0"));
    save_screenshot(&c, "registry-desktop.png").await;
    // Reached from the learner's progress page too.
    c.goto(&server.url("/me")).await.expect("open");
    css(&c, ".registry-link a[href='/registry']").await;

    // The same on a phone, as the same learner: no sideways scrolling.
    let cookies = c.get_all_cookies().await.expect("cookies");
    let phone = driver.phone().await;
    phone.goto(&server.url("/healthz")).await.expect("open");
    for cookie in cookies {
        phone.add_cookie(cookie).await.expect("same learner");
    }
    phone.goto(&server.url("/registry")).await.expect("open");
    css(&phone, "tr[data-tag='1.0.0']").await;
    assert_no_horizontal_overflow(&phone, "/registry").await;
    save_screenshot(&phone, "registry-phone.png").await;
    // Coming back to the exercise shows the last build, with its Tag & push.
    phone.goto(&server.url(EXERCISE)).await.expect("open");
    css(&phone, "body[data-hydrated='true']").await;
    css(&phone, ".push-panel").await;
    assert_no_horizontal_overflow(&phone, EXERCISE).await;
    eval(
        &phone,
        "document.querySelector('.push-panel').scrollIntoView()",
    )
    .await;
    save_screenshot(&phone, "push-phone.png").await;
    phone.close().await.expect("close");
    c.close().await.expect("close");
}

/// The pulled-back check as the learner meets it (share-your-image): pushed as
/// `my-app:devel` with the keyboard, the push's lines show the pull back and what the pulled
/// image printed, and the exercise's checks are drawn again with it passing; on a phone too.
#[tokio::test]
async fn a_push_pulled_back_and_run_shows_its_lines_and_its_verdict() {
    let page = "/exercises/share-your-image";
    let (server, driver, c) = hydrated(page).await;
    let dockerfile = std::fs::read_to_string(
        support::repo_root().join("exercises/share-your-image/solution/Dockerfile"),
    )
    .expect("the solution");
    type_over(&c, "textarea.editor-input", &dockerfile).await;
    c.active_element()
        .await
        .expect("focus")
        .send_keys("\u{E009}\u{E007}\u{E000}")
        .await
        .expect("ctrl+enter builds");
    css(&c, ".verdict-line").await;
    c.active_element()
        .await
        .expect("focus")
        .send_keys("\u{E00C}")
        .await
        .expect("esc");
    tab_to(&c, "#push-tag", 80).await;
    c.active_element()
        .await
        .expect("focus")
        .send_keys("my-app:devel\u{E007}")
        .await
        .expect("type, enter");
    css(&c, ".push-result[data-status='pushed']").await;
    let log = text_of(&c, ".push-log").await;
    assert!(
        log.contains("Pulling `") && log.contains("back from your registry"),
        "{log}"
    );
    assert!(log.contains("my-app devel build: ready"), "{log}");
    let checks = wait_for_text(&c, "#checks", "Pulled back as").await;
    assert!(!checks.contains("Not checked yet"), "{checks}");
    eval(&c, "document.querySelector('.push-panel').scrollIntoView()").await;
    save_screenshot(&c, "push-pulled-back-desktop.png").await;
    eval(&c, "document.querySelector('#checks').scrollIntoView()").await;
    save_screenshot(&c, "checks-pulled-back-desktop.png").await;

    let cookies = c.get_all_cookies().await.expect("cookies");
    let phone = driver.phone().await;
    phone.goto(&server.url("/healthz")).await.expect("open");
    for cookie in cookies {
        phone.add_cookie(cookie).await.expect("same learner");
    }
    phone.goto(&server.url(page)).await.expect("open");
    css(&phone, "body[data-hydrated='true']").await;
    let checks = text_of(&phone, "#checks").await;
    assert!(checks.contains("Pulled back as"), "kept: {checks}");
    assert_no_horizontal_overflow(&phone, page).await;
    eval(&phone, "document.querySelector('#checks').scrollIntoView()").await;
    save_screenshot(&phone, "checks-pulled-back-phone.png").await;
    phone.close().await.expect("close");
    c.close().await.expect("close");
}
