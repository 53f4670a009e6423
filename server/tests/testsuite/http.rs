//! The HTTP surface through the real router (`oneshot`): pages, API, quiz grading with and
//! without JavaScript, and behaviour with the engine up and down.

use crate::support;

use serde_json::json;
use support::{TestClient, LOCAL_ENGINE};

const SEMVER_LESSON: &str = "/learn/tags-and-semver";

#[tokio::test]
async fn healthz_answers() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c.get("/healthz").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body.trim(), "ok");
}

fn docker_cli(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[tokio::test]
async fn status_reports_the_real_engine_as_the_docker_cli_sees_it() {
    let cli_version = docker_cli(&["version", "--format", "{{.Server.Version}}"])
        .expect("the Docker engine must be running for the tests (see README)");
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    // The whole picture is an instructor's (tests/edge.rs has what anyone else sees).
    c.log_in_as_new_instructor("operator", "status-of-the-engine")
        .await;
    let res = c.get("/api/v1/status").await;
    assert_eq!(res.status, 200);
    let s = res.json();
    assert_eq!(s["server"]["name"], "layerlab");
    assert_eq!(s["server"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(s["engine"]["reachable"], true, "{s}");
    assert_eq!(s["engine"]["version"], cli_version.as_str());
    assert!(s["engine"]["problem"].is_null());
    let images = s["engine"]["base_images"].as_array().expect("base_images");
    assert!(!images.is_empty(), "the course declares base images");
    for image in images {
        let name = image["name"].as_str().expect("name");
        let cli_has = docker_cli(&["image", "inspect", name]).is_some();
        assert_eq!(image["present"], cli_has, "{name}: API and CLI disagree");
    }
    let usable: Vec<&str> = s["engine"]["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(|i| i.as_str())
        .collect();
    assert!(usable.contains(&"busybox:latest"), "{usable:?}");
    assert!(
        usable.iter().all(|i| !i.starts_with("layerlab/")),
        "learners' build results are not offered as bases: {usable:?}"
    );
    assert_eq!(s["queue"]["concurrency"], 2);
}

#[tokio::test]
async fn with_no_engine_lessons_still_serve_and_the_page_says_why_builds_are_off() {
    let mut c = TestClient::new("unix:///nonexistent/docker.sock").await;
    let s = c.get("/api/v1/status").await.json();
    assert_eq!(s["engine"]["reachable"], false);
    assert_eq!(s["builds_available"], false);
    assert!(
        s["engine"]["problem"].is_null(),
        "why is for instructors: {s}"
    );
    let mut operator = c.another();
    operator
        .log_in_as_new_instructor("operator", "status-of-the-engine")
        .await;
    let s = operator.get("/api/v1/status").await.json();
    assert!(s["engine"]["problem"]
        .as_str()
        .expect("problem")
        .contains("/nonexistent/docker.sock"));

    let home = c.get("/").await;
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("Builds are unavailable"),
        "{}",
        home.body
    );
    // Where the engine is, is for instructors only (above), not for every visitor.
    assert!(
        !home.body.contains("/nonexistent/docker.sock"),
        "{}",
        home.body
    );
    assert!(home.body.contains("your instructor can see why"));
    assert!(home.body.contains("Tags and semantic versioning"));
    let lesson = c.get(SEMVER_LESSON).await;
    assert_eq!(lesson.status, 200);
    assert!(lesson.body.contains("Builds are unavailable"));
}

#[tokio::test]
async fn course_map_lists_every_lesson_in_course_order_with_links() {
    let course = layerlab_server::course::Course::load(&support::repo_root().join("content"))
        .expect("course");
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let home = c.get("/").await;
    assert_eq!(home.status, 200);
    assert!(
        home.body.contains("<title>Course map · layerlab</title>"),
        "{}",
        home.body
    );
    assert!(
        !home.body.contains("Loading the course"),
        "the page must arrive finished, without JavaScript"
    );
    let mut last = 0;
    for lesson in &course.lessons {
        let link = format!("href=\"/learn/{}\"", lesson.slug);
        let at = home
            .body
            .find(&link)
            .unwrap_or_else(|| panic!("no link to {}", lesson.slug));
        assert!(at > last, "{} is out of order", lesson.slug);
        last = at;
    }
    for module in &course.modules {
        assert!(
            home.body.contains(&module.title),
            "module {} missing",
            module.title
        );
    }
    assert!(
        home.body.contains("/pkg/layerlab.js"),
        "the page loads the hydration bundle"
    );
}

#[tokio::test]
async fn a_lesson_renders_with_its_quiz_but_not_its_answer_key() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c.get(SEMVER_LESSON).await;
    assert_eq!(res.status, 200);
    let html = &res.body;
    assert!(
        !html.contains("Loading the lesson"),
        "the page must arrive finished, for browsers without JavaScript"
    );
    assert!(html.contains("<h1>Tags and semantic versioning</h1>"));
    assert!(
        html.contains("<h2 id=\"major-minor-patch\">"),
        "headings get anchors"
    );
    assert!(html.contains("<table>"));
    assert!(html.contains("action=\"/learn/tags-and-semver/quiz/next-version\""));
    assert!(html.contains("method=\"post\""));
    assert!(html.contains("name=\"q.refactor\""));
    assert!(
        !html.contains("only PATCH moves"),
        "explanations appear only after grading"
    );
    assert!(!html.contains("data-verdict"), "nothing graded yet");
    assert!(
        html.contains("rel=\"prev\""),
        "links back to the previous lesson"
    );
    assert!(html.contains("<title>Tags and semantic versioning · layerlab</title>"));
    assert!(
        html.contains("<a href=\"/\" aria-current=\"page\">Course</a>"),
        "the header marks the course as where the learner is"
    );
    // The page's inline scripts carry the nonce its CSP allows, or the islands never hydrate.
    let (nonce, _) = page_without_nonce(&res);
    let scripts = html.matches("<script").count();
    assert!(scripts >= 2, "the hydration and data scripts");
    assert_eq!(
        html.matches(&format!("<script type=\"module\" nonce=\"{nonce}\">"))
            .count()
            + html.matches(&format!("<script nonce=\"{nonce}\">")).count(),
        scripts,
        "every inline script has this response's nonce"
    );
    // The quiz island's props name its questions; their HTML is in the page once, not again
    // in the props.
    let props = html
        .split("data-props=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the quiz island's props");
    assert!(
        props.contains("&quot;id&quot;:&quot;refactor&quot;"),
        "{props}"
    );
    assert!(
        !props.contains("legend_html") && !props.contains("typed-answer"),
        "{props}"
    );
}

/// The response's CSP nonce, and its page with that nonce replaced by `NONCE`.
fn page_without_nonce(res: &support::TestResponse) -> (String, String) {
    let csp = res.header("content-security-policy").expect("a CSP");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the CSP")
        .to_string();
    assert!(nonce.len() >= 16, "a nonce of 128 random bits: {nonce}");
    let page = res.body.replace(&nonce, "NONCE");
    assert!(
        page.contains("nonce=\"NONCE\""),
        "the scripts carry the CSP's nonce"
    );
    (nonce, page)
}

/// How many rendered lesson pages the server keeps (`/api/v1/status`).
async fn kept_pages(c: &mut TestClient) -> u64 {
    let status = c.get("/api/v1/status").await.json();
    status["lesson_pages"]["kept"]
        .as_u64()
        .expect("lesson_pages.kept")
}

#[tokio::test]
async fn learners_who_would_see_the_same_lesson_page_share_one_rendering_and_no_one_else() {
    let mut a = TestClient::new(LOCAL_ENGINE).await;
    let mut b = a.another();
    let first = a.get(SEMVER_LESSON).await;
    let again = a.get(SEMVER_LESSON).await;
    let theirs = b.get(SEMVER_LESSON).await;
    let (n1, p1) = page_without_nonce(&first);
    let (n2, p2) = page_without_nonce(&again);
    let (n3, p3) = page_without_nonce(&theirs);
    assert!(
        n1 != n2 && n2 != n3 && n1 != n3,
        "every response has its own nonce"
    );
    assert_eq!(p1, p2);
    assert_eq!(p1, p3, "two learners with no answers see the same page");
    assert_eq!(kept_pages(&mut a).await, 1, "rendered once, kept once");

    // A answers: A's page shows the grade, B's still does not.
    let answers =
        "q.refactor=1.14.1&q.new-endpoint=1.15.0&q.renamed-endpoint=major&q.latest=nothing";
    let res = a
        .post_form("/learn/tags-and-semver/quiz/next-version", answers)
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (_, mine) = page_without_nonce(&a.get(SEMVER_LESSON).await);
    assert!(mine.contains("4 of 4 right"), "{mine}");
    assert!(
        mine.contains("value=\"1.15.0\""),
        "A's typed answer is on A's page"
    );
    let (_, still) = page_without_nonce(&b.get(SEMVER_LESSON).await);
    assert_eq!(still, p1, "B's page does not change when A answers");
    assert!(!still.contains("value=\"1.15.0\"") && !still.contains("data-verdict"));
    assert_eq!(kept_pages(&mut a).await, 2);

    // B gives the same answers: B now sees what A sees, and nothing new is rendered.
    let res = b
        .post_form("/learn/tags-and-semver/quiz/next-version", answers)
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (_, same) = page_without_nonce(&b.get(SEMVER_LESSON).await);
    assert_eq!(same, mine);
    assert_eq!(kept_pages(&mut a).await, 2);

    // A changes one answer: A's page follows at once, B's stays.
    let other = answers.replace("1.15.0", "2.0.0");
    let res = a
        .post_form("/learn/tags-and-semver/quiz/next-version", &other)
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (_, changed) = page_without_nonce(&a.get(SEMVER_LESSON).await);
    assert!(changed.contains("3 of 4 right") && changed.contains("value=\"2.0.0\""));
    let (_, bs) = page_without_nonce(&b.get(SEMVER_LESSON).await);
    assert_eq!(bs, mine);
    assert_eq!(kept_pages(&mut a).await, 3);
}

#[tokio::test]
async fn with_no_page_memo_every_lesson_page_is_rendered_afresh_and_the_same() {
    let mut c = TestClient::with_args(LOCAL_ENGINE, &["--page-memo-mb", "0"]).await;
    let (_, first) = page_without_nonce(&c.get(SEMVER_LESSON).await);
    let (_, second) = page_without_nonce(&c.get(SEMVER_LESSON).await);
    assert_eq!(first, second);
    let mut d = TestClient::new(LOCAL_ENGINE).await;
    d.get(SEMVER_LESSON).await;
    let (_, kept) = page_without_nonce(&d.get(SEMVER_LESSON).await);
    assert_eq!(first, kept, "the memo changes nothing a learner sees");
    assert_eq!(kept_pages(&mut c).await, 0);
    let status = c.get("/api/v1/status").await.json();
    assert_eq!(status["lesson_pages"]["budget_bytes"], 0);
}

#[tokio::test]
async fn unknown_pages_and_lessons_are_404_with_a_way_back() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c.get("/learn/no-such-lesson").await;
    assert_eq!(res.status, 404);
    assert!(
        res.body
            .contains("There is no lesson called “no-such-lesson”"),
        "{}",
        res.body
    );
    assert!(res.body.contains("href=\"/\""));
    let res = c.get("/nowhere/at/all").await;
    assert_eq!(res.status, 404);
    assert!(res.body.contains("Nothing here"));
}

#[tokio::test]
async fn quiz_form_post_without_javascript_grades_and_shows_the_result_on_the_lesson() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c
        .post_form(
            "/learn/tags-and-semver/quiz/next-version",
            "q.refactor=1.14.1&q.new-endpoint=1.14.1&q.renamed-endpoint=major&q.latest=nothing",
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.header("location"),
        Some("/learn/tags-and-semver#quiz-next-version")
    );
    assert!(
        c.has_session(),
        "the grade is kept in the learner's session"
    );

    let page = c.get(SEMVER_LESSON).await.body;
    assert!(page.contains("3 of 4 right"), "{page}");
    let verdict = |q: &str| {
        let at = page
            .find(&format!("data-question=\"{q}\""))
            .unwrap_or_else(|| panic!("question {q}"));
        let rest = &page[at..];
        let end = rest.find("</fieldset>").expect("fieldset end");
        rest[..end].to_string()
    };
    assert!(verdict("refactor").contains("data-verdict=\"right\""));
    assert!(verdict("new-endpoint").contains("data-verdict=\"wrong\""));
    assert!(
        verdict("new-endpoint").contains("value=\"1.14.1\""),
        "the typed answer is shown again"
    );
    assert!(
        verdict("new-endpoint").contains("MINOR"),
        "the explanation is shown"
    );
    assert!(verdict("renamed-endpoint").contains("data-verdict=\"right\""));
    assert!(
        verdict("renamed-endpoint").contains("value=\"major\" checked"),
        "the choice stays checked"
    );
}

#[tokio::test]
async fn quiz_server_function_grades_as_json() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c
        .post_json(
            "/fn/submit_quiz",
            &json!({"lesson": "what-is-an-image", "quiz": "layers-check",
                    "answers": [["which-add", ["run", "copy", "add"]], ["count", ["4"]], ["deleted", ["full"]]]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let g = res.json();
    assert_eq!(g["correct"], 2);
    assert_eq!(g["total"], 3);
    assert_eq!(g["questions"][1]["id"], "count");
    assert_eq!(g["questions"][1]["correct"], false);
    assert!(g["questions"][1]["explanation_html"]
        .as_str()
        .expect("html")
        .contains("<strong>3</strong>"));

    // The same session sees the grade on the lesson page.
    let page = c.get("/learn/what-is-an-image").await.body;
    assert!(page.contains("2 of 3 right"));
}

/// A quiz with a blank answer is not graded, with JavaScript (the server function) or
/// without (the form post): nothing is stored, no explanation is sent, and the learner is told
/// which questions still need an answer.
#[tokio::test]
async fn a_quiz_with_blank_answers_is_refused_ungraded_and_names_the_blanks() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c
        .post_json(
            "/fn/submit_quiz",
            &json!({"lesson": "tags-and-semver", "quiz": "next-version",
                    "answers": [["refactor", ["1.14.1"]], ["new-endpoint", ["  "]],
                                ["renamed-endpoint", []]]}),
        )
        .await;
    assert!(res.status.is_client_error(), "{}: {}", res.status, res.body);
    assert!(
        res.body
            .contains("Answer every question first: questions 2, 3 and 4 have no answer yet."),
        "{}",
        res.body
    );
    assert!(!res.body.contains("1.15.0") && !res.body.contains("explanation"));

    // Without JavaScript: the lesson comes back (422) with the answer given kept, the
    // blanks marked, the first blank focused, and no verdict or explanation.
    let res = c
        .post_form(
            "/learn/tags-and-semver/quiz/next-version",
            "q.refactor=1.14.1&q.new-endpoint=&q.latest=nothing",
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let page = res.body;
    assert!(
        page.contains("Answer every question first: questions 2 and 3 have no answer yet."),
        "{page}"
    );
    let question = |q: &str| {
        let at = page
            .find(&format!("data-question=\"{q}\""))
            .unwrap_or_else(|| panic!("question {q}"));
        let rest = &page[at..];
        rest[..rest.find("</fieldset>").expect("fieldset end")].to_string()
    };
    assert!(question("refactor").contains("value=\"1.14.1\""));
    assert!(!question("refactor").contains("needs-answer"));
    assert!(question("new-endpoint").contains("This question needs an answer."));
    assert!(
        question("new-endpoint").contains("autofocus"),
        "the first blank takes the focus"
    );
    assert!(question("renamed-endpoint").contains("This question needs an answer."));
    assert!(question("latest").contains("value=\"nothing\" checked"));
    assert!(!page.contains("data-verdict") && !page.contains("**1.15.0**"));
    assert!(
        !page.contains("Nothing changes for callers"),
        "no explanation"
    );
    assert!(!page.contains("quiz-score"), "no score");

    // Nothing was stored: the lesson shows no grade.
    let lesson = c.get(SEMVER_LESSON).await.body;
    assert!(!lesson.contains("quiz-score") && !lesson.contains("data-verdict"));
    assert!(!lesson.contains("needs-answer"));
}

#[tokio::test]
async fn bad_quiz_submissions_get_specific_messages() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c
        .post_form("/learn/tags-and-semver/quiz/nope", "q.refactor=1")
        .await;
    assert_eq!(res.status, 404);
    assert!(res.json()["error"]["message"]
        .as_str()
        .expect("message")
        .contains("no quiz called “nope”"));

    let res = c
        .post_form(
            "/learn/tags-and-semver/quiz/next-version",
            "q.renamed-endpoint=mega",
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["code"], "bad_request");
    assert!(res.json()["error"]["message"]
        .as_str()
        .expect("message")
        .contains("no option `mega`"));

    let res = c
        .post_json("/fn/submit_quiz", &json!({"lesson": "tags-and-semver", "quiz": "next-version", "answers": [["ghost", ["x"]]]}))
        .await;
    assert!(
        res.status.is_server_error() || res.status.is_client_error(),
        "{}",
        res.status
    );
    assert!(res.body.contains("no question `ghost`"), "{}", res.body);
}

#[tokio::test]
async fn styles_are_served() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let res = c.get("/style/layerlab.css").await;
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/css")));
}

#[tokio::test]
async fn every_response_carries_security_headers_and_pages_a_csp_with_their_nonce() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let page = c.get("/").await;
    assert_eq!(page.status, 200);
    let csp = page
        .header("content-security-policy")
        .expect("a CSP")
        .to_string();
    let nonce = page
        .body
        .split("<script nonce=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("inline scripts carry a nonce");
    assert!(csp.contains(&format!("'nonce-{nonce}'")), "{csp}");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    for res in [
        page,
        c.get("/api/v1/status").await,
        c.get("/style/layerlab.css").await,
    ] {
        assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(res.header("x-frame-options"), Some("DENY"));
        assert!(res.header("content-security-policy").is_some());
    }
    // A body beyond the form limit is refused before any handler reads it.
    let big = format!("csrf=x&name={}", "a".repeat(300 * 1024));
    let res = c.post_form("/me/name", &big).await;
    assert_eq!(res.status, 413);
}

/// Building a router works out Leptos's route list, which used to park every resource first
/// polled meanwhile anywhere in the process, for good (leptos-rs/leptos#4773): pages served
/// by one router while another was built never finished. Routers now share one list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_finish_while_other_routers_are_built() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let builder = std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            for _ in 0..10 {
                TestClient::new(LOCAL_ENGINE).await;
            }
        });
    });
    let mut served = 0;
    while served < 20 || !builder.is_finished() {
        // The course map loads its data through a Leptos resource, as most pages do.
        let page = tokio::time::timeout(std::time::Duration::from_secs(20), c.get("/"))
            .await
            .expect("a page must finish while another router is being built");
        assert_eq!(page.status, 200);
        assert!(page.body.contains("</html>"), "a whole page");
        served += 1;
    }
    builder.join().expect("the routers were built");
}

async fn count(store: &layerlab_server::store::Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&store.pool)
        .await
        .expect(sql)
}

#[tokio::test]
async fn below_the_database_disk_floor_builds_are_refused_up_front_and_nothing_is_lost() {
    // A floor far above any real disk's free space.
    let mut c = TestClient::with_args(
        LOCAL_ENGINE,
        &["--min-free-database-disk-mb", "999999999999"],
    )
    .await;
    c.get("/").await;
    let url = c.database_url();
    let res = c
        .post_json(
            "/api/v1/builds",
            &json!({"exercise": null, "files": {"Dockerfile": "FROM busybox:latest\n"}}),
        )
        .await;
    let (store, _) = layerlab_server::store::open(&url).await.expect("open");
    if url.starts_with("sqlite:") {
        assert_eq!(res.status, 503, "{}", res.body);
        let error = &res.json()["error"];
        assert_eq!(error["code"], "database_disk_full", "{}", res.body);
        assert!(
            error["message"]
                .as_str()
                .unwrap_or_default()
                .contains("almost out of disk space"),
            "{}",
            res.body
        );
        assert_eq!(count(&store, "SELECT COUNT(*) FROM attempts").await, 0);
    } else {
        // PostgreSQL's disk is elsewhere: the floor is not checked (said at start-up).
        assert_eq!(res.status, 202, "{}", res.body);
    }
    // Lessons still serve.
    assert_eq!(c.get(SEMVER_LESSON).await.status, 200);
}

#[tokio::test]
async fn a_learner_rebuilding_over_and_over_leaves_details_only_for_the_newest() {
    let mut c = TestClient::with_args(LOCAL_ENGINE, &["--keep-attempt-details", "2"]).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let dockerfile = format!("FROM busybox:latest\nRUN echo {i} > /n\n");
        let id = c.start_build(None, &[("Dockerfile", &dockerfile)]).await;
        let (done, _) = c.finish_build(&id).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        ids.push(id);
    }
    // The same files again: stored once.
    let id = c
        .start_build(
            None,
            &[("Dockerfile", "FROM busybox:latest\nRUN echo 3 > /n\n")],
        )
        .await;
    c.finish_build(&id).await;
    ids.push(id);
    let (mut store, _) = layerlab_server::store::open(&c.database_url())
        .await
        .expect("open");
    store.keep_details = 2; // as the server was started
    assert_eq!(count(&store, "SELECT COUNT(*) FROM attempts").await, 5);
    assert_eq!(
        count(
            &store,
            "SELECT COUNT(*) FROM attempts WHERE details_kept = 1"
        )
        .await,
        2
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM file_sets").await,
        1,
        "the two newest have the same files"
    );
    // An older attempt still has its result, and its log says why the details are gone.
    let old = c.get(&format!("/api/v1/builds/{}", ids[0])).await;
    assert_eq!(old.status, 200, "{}", old.body);
    assert_eq!(old.json()["status"], "succeeded");
    // (The running server still has recent builds in memory; what a restarted one shows:)
    let stored = store
        .attempt_any(&ids[0])
        .await
        .expect("read")
        .expect("row");
    assert!(stored.files.is_empty() && !stored.details_kept);
    assert_eq!(stored.log.len(), 1, "{:?}", stored.log);
    assert!(
        stored.log[0].text.contains("were not kept")
            && stored.log[0].text.contains("newest 2 attempts"),
        "{:?}",
        stored.log
    );
    let newest = store
        .attempt_any(&ids[4])
        .await
        .expect("read")
        .expect("row");
    assert!(newest.files["Dockerfile"].contains("echo 3") && newest.log.len() > 1);
    // The comparison page says so instead of a diff against files that are gone; two kept
    // attempts still get their diff.
    let page = c.get(&format!("/compare/{}/{}", ids[0], ids[4])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("were not kept"), "{}", page.body);
    let page = c.get(&format!("/compare/{}/{}", ids[3], ids[4])).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("were not kept"), "{}", page.body);
    assert!(page.body.contains("echo 3"), "{}", page.body);
}

/// Drafts: kept per learner and exercise, back on the exercise page (newer than the last
/// build), sent as JSON or as a closing page's beacon (text/plain), refused with a clear code
/// when too big, for an unknown exercise, or faster than a learner types.
#[tokio::test]
async fn drafts_are_kept_returned_bounded_and_throttled() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let draft = json!({"files": {"Dockerfile": "FROM busybox:1.35\n# my draft\n", "greet.sh": "echo hi\n"}});
    let res = c
        .send_text(
            "PUT",
            "/api/v1/drafts/hello-container",
            "application/json",
            &draft.to_string(),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    assert!(
        c.has_session(),
        "a draft is a first action: it starts the learner"
    );
    let page = c
        .post_json("/fn/exercise", &json!({"id": "hello-container"}))
        .await;
    let view = page.json();
    let files = view["files"].as_array().expect("files");
    assert!(
        files
            .iter()
            .any(|f| f["content"].as_str().unwrap_or("").contains("# my draft")),
        "{view:#}"
    );
    assert!(view["draft_at"].is_string(), "{view:#}");

    // A beacon posts text/plain.
    let beacon = json!({"files": {"Dockerfile": "FROM busybox:1.35\n# from a beacon\n"}});
    let res = c
        .send_text(
            "POST",
            "/api/v1/drafts/playground",
            "text/plain;charset=UTF-8",
            &beacon.to_string(),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.body);
    let view = c
        .post_json("/fn/exercise", &json!({"id": "playground"}))
        .await
        .json();
    assert!(
        view["files"].to_string().contains("from a beacon"),
        "{view:#}"
    );

    // Another learner sees the starter, not this draft.
    let mut other = c.another();
    let view = other
        .post_json("/fn/exercise", &json!({"id": "hello-container"}))
        .await
        .json();
    assert!(!view.to_string().contains("# my draft"));

    // Refusals, each with its code.
    let big = json!({"files": {"Dockerfile": "#".repeat(300 * 1024)}});
    let res = c
        .send_text(
            "PUT",
            "/api/v1/drafts/hello-container",
            "application/json",
            &big.to_string(),
        )
        .await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "draft_too_large");
    let res = c
        .send_text(
            "PUT",
            "/api/v1/drafts/no-such-exercise",
            "application/json",
            &draft.to_string(),
        )
        .await;
    assert_eq!(res.status, 404);
    let res = c
        .send_text(
            "PUT",
            "/api/v1/drafts/hello-container",
            "application/json",
            "{\"files\": 3}",
        )
        .await;
    assert_eq!(res.status, 400);
    let bad_path = json!({"files": {"../etc/passwd": "x"}});
    let res = c
        .send_text(
            "PUT",
            "/api/v1/drafts/hello-container",
            "application/json",
            &bad_path.to_string(),
        )
        .await;
    assert_eq!(res.status, 400, "{}", res.body);
    // A burst far faster than typing runs out.
    let mut refused = 0;
    for i in 0..20 {
        let d = json!({"files": {"Dockerfile": format!("FROM busybox:1.35\n# {i}\n")}});
        let res = c
            .send_text(
                "PUT",
                "/api/v1/drafts/hello-container",
                "application/json",
                &d.to_string(),
            )
            .await;
        if res.status == 429 {
            refused += 1;
            assert!(res.header("retry-after").is_some());
        }
    }
    assert!(
        refused >= 10,
        "only {refused} of 20 quick saves were refused"
    );
}

/// Hints on request: one more each time, never past the exercise's count; a build that fails
/// before the checks opens none, one that reaches them and misses opens one.
#[tokio::test]
async fn hints_open_on_request_and_for_builds_that_reach_the_checks() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    c.start_learning().await;
    let (failed, _) = c
        .build(
            Some("goodbye-neighbor"),
            &[("Dockerfile", "FROM busybox:1.35\nRUNN x\n")],
        )
        .await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["hints"].as_array().map_or(0, Vec::len),
        0,
        "{failed:#}"
    );
    let starter = support::exercise_files("goodbye-neighbor", false);
    let files: Vec<(&str, &str)> = starter
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let (missed, _) = c.build(Some("goodbye-neighbor"), &files).await;
    assert_eq!(missed["status"], "succeeded");
    assert_eq!(
        missed["hints"].as_array().map_or(0, Vec::len),
        1,
        "{missed:#}"
    );
    let mut counts = Vec::new();
    for _ in 0..4 {
        let res = c
            .post_json("/api/v1/exercises/goodbye-neighbor/hints", &json!({}))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        counts.push(res.json()["hints"].as_array().map_or(0, Vec::len));
    }
    assert_eq!(
        counts,
        [2, 3, 3, 3],
        "one more each time, up to the three hints"
    );
    let res = c
        .post_json("/api/v1/exercises/playground/hints", &json!({}))
        .await;
    assert_eq!(res.status, 404);
    if let Some(image) = missed.get("image") {
        support::remove_image(image);
    }
}

/// The whole log of one's own build downloads as a text file; someone else's is not found.
/// Live lint: findings for a Dockerfile, one line for one too long to lint as you type.
#[tokio::test]
async fn a_build_log_downloads_for_its_owner_only_and_lint_answers_anyone() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    c.start_learning().await;
    let (result, log) = c
        .build(
            None,
            &[(
                "Dockerfile",
                "FROM busybox:1.35\nRUN echo \"\\033[31mred-marker\\033[0m\"\n",
            )],
        )
        .await;
    let id = result["id"].as_str().expect("id").to_string();
    let res = c.get(&format!("/api/v1/builds/{id}/log")).await;
    assert_eq!(res.status, 200);
    assert!(res
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/plain"));
    assert!(res
        .header("content-disposition")
        .unwrap_or("")
        .contains("attachment"));
    assert!(res.body.contains("red-marker"), "{}", res.body);
    assert!(!res.body.contains('\u{1b}'), "colour codes are removed");
    assert_eq!(
        res.body.lines().count(),
        log.len(),
        "every line the log had"
    );
    let mut stranger = c.another();
    stranger.start_learning().await;
    assert_eq!(
        stranger
            .get(&format!("/api/v1/builds/{id}/log"))
            .await
            .status,
        404
    );
    support::remove_image(&result["image"]);

    let mut visitor = c.another();
    let res = visitor
        .post_json(
            "/fn/lint",
            &json!({"dockerfile": "FROM busybox\nWORKDIR app\n"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let rules: Vec<String> = res
        .json()
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        rules.contains(&"from-latest".to_string())
            && rules.contains(&"workdir-relative".to_string()),
        "{rules:?}"
    );
    assert!(!visitor.has_session(), "linting starts no learner");
    let long = "FROM busybox:1.35\n".repeat(5000);
    let res = visitor
        .post_json("/fn/lint", &json!({"dockerfile": long}))
        .await;
    let findings = res.json();
    assert_eq!(findings.as_array().map_or(0, Vec::len), 1, "{findings}");
}
