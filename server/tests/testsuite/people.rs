//! Learners, cohorts and instructors over HTTP, with the real database file and (for the
//! attempts) the real engine: isolation between learners, the instructor gate, CSRF, the CSV
//! export, the `instructor add` command, and progress surviving a killed server.

use crate::support;

use axum::http::StatusCode;
use serde_json::json;
use support::{
    cookie_pair, form_encode, form_value, http, ServerProcess, TestClient, LOCAL_ENGINE,
};

/// Add an instructor with the operator command, as an operator would (password on stdin).
fn add_instructor(database_url: &str, name: &str, password: &str) {
    let said = support::add_instructor_with(database_url, name, password, false);
    assert!(said.contains("added"), "{said}");
}

/// Log `c` in as `name`; panics unless it lands on `next`.
async fn log_in(c: &mut TestClient, name: &str, password: &str) {
    let csrf = c.csrf("/instructor/login").await;
    let res = c
        .post_form(
            "/instructor/login",
            &format!(
                "csrf={csrf}&name={}&password={}&next=%2Finstructor",
                form_encode(name),
                form_encode(password)
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.header("location"), Some("/instructor"));
}

/// Create a cohort as the logged-in instructor; its id and join code.
async fn create_cohort(c: &mut TestClient, name: &str) -> (String, String) {
    let csrf = c.csrf("/instructor").await;
    let res = c
        .post_form(
            "/instructor/cohorts",
            &format!("csrf={csrf}&name={}", form_encode(name)),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let id = res
        .header("location")
        .and_then(|l| l.strip_prefix("/instructor/cohorts/"))
        .expect("redirect to the cohort")
        .to_string();
    let page = c.get(&format!("/instructor/cohorts/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let code = page
        .body
        .split("Join code ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .expect("the join code on the dashboard")
        .to_string();
    (id, code)
}

/// A logged-in instructor with a new cohort, and a learner who joined it with its code:
/// (instructor, learner, cohort id).
pub(crate) async fn class_of_one(
    instructor: &str,
    password: &str,
    cohort: &str,
) -> (TestClient, TestClient, String) {
    let mut teacher = TestClient::new(LOCAL_ENGINE).await;
    add_instructor(&teacher.database_url(), instructor, password);
    log_in(&mut teacher, instructor, password).await;
    let (id, code) = create_cohort(&mut teacher, cohort).await;
    let mut learner = teacher.another();
    let csrf = learner.csrf("/me").await;
    learner
        .post_form("/me/join", &format!("csrf={csrf}&code={code}"))
        .await;
    (teacher, learner, id)
}

#[tokio::test]
async fn a_learner_cannot_read_another_learners_attempts() {
    let mut a = TestClient::new(LOCAL_ENGINE).await;
    let mut b = a.another();
    let dockerfile = "FROM busybox:latest\nCMD [\"echo\", \"mine\"]\n";
    let id = a.start_build(None, &[("Dockerfile", dockerfile)]).await;
    // While it runs (in memory) and after it is stored, B gets "not found" both ways.
    let res = b.get(&format!("/api/v1/builds/{id}")).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let (result, _) = a.finish_build(&id).await;
    assert_eq!(result["status"], "succeeded");
    for path in [
        format!("/api/v1/builds/{id}"),
        format!("/api/v1/builds/{id}/events"),
        format!("/instructor/attempts/{id}"),
    ] {
        let res = b.get(&path).await;
        assert_ne!(res.status, StatusCode::OK, "{path}: {}", res.body);
        assert!(!res.body.contains("mine"), "{path} leaks: {}", res.body);
    }
    // The server function that backs the attempt page says "log in", not the attempt.
    let res = b
        .post_json("/fn/attempt_record", &json!({"attempt": id}))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert!(!res.body.contains("mine"));
    let own = a.get(&format!("/api/v1/builds/{id}")).await;
    assert_eq!(own.status, StatusCode::OK);
    support::remove_image(&result["image"]);
}

#[tokio::test]
async fn instructor_pages_refuse_anonymous_and_learner_sessions() {
    let mut anonymous = TestClient::new(LOCAL_ENGINE).await;
    let mut learner = anonymous.another();
    learner.start_learning().await;
    for c in [&mut anonymous, &mut learner] {
        let page = c.get("/instructor/cohorts/abc").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(
            page.header("location"),
            Some("/instructor/login?next=/instructor/cohorts/abc")
        );
        assert_eq!(c.get("/instructor").await.status, StatusCode::SEE_OTHER);
        for path in [
            "/instructor/cohorts/abc/export.csv",
            "/api/v1/instructor/cohorts/abc/events",
        ] {
            let res = c.get(path).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(res.json()["error"]["code"], "login_required");
        }
        for (function, body) in [
            ("/fn/instructor_home", json!({})),
            ("/fn/dashboard", json!({"cohort": "abc"})),
            (
                "/fn/learner_record",
                json!({"cohort": "abc", "learner": "x"}),
            ),
        ] {
            let res = c.post_json(function, &body).await;
            assert_eq!(
                res.status,
                StatusCode::UNAUTHORIZED,
                "{function}: {}",
                res.body
            );
        }
        // The login page itself is open.
        assert_eq!(c.get("/instructor/login").await.status, StatusCode::OK);
    }

    // A wrong password gets a message, not a login.
    let url = anonymous.database_url();
    add_instructor(&url, "ada", "analytical-engine");
    let csrf = anonymous.csrf("/instructor/login").await;
    let res = anonymous
        .post_form(
            "/instructor/login",
            &format!("csrf={csrf}&name=ada&password=difference-engine"),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header("location"), Some("/instructor/login"));
    assert!(anonymous
        .get("/instructor/login")
        .await
        .body
        .contains("do not match an instructor"));
    assert_eq!(
        anonymous.get("/instructor").await.status,
        StatusCode::SEE_OTHER
    );

    // One instructor cannot open another's cohort.
    let mut ada = anonymous.another();
    log_in(&mut ada, "ada", "analytical-engine").await;
    let (cohort, _) = create_cohort(&mut ada, "Ada's class").await;
    add_instructor(&url, "grace", "compiler-first");
    let mut grace = anonymous.another();
    log_in(&mut grace, "grace", "compiler-first").await;
    let res = grace
        .post_json("/fn/dashboard", &json!({ "cohort": cohort }))
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let csv = grace
        .get(&format!("/instructor/cohorts/{cohort}/export.csv"))
        .await;
    assert_eq!(csv.status, StatusCode::NOT_FOUND);
    assert!(!grace.get("/instructor").await.body.contains("Ada's class"));

    // Logging out ends it.
    let csrf = ada.csrf("/instructor").await;
    let res = ada
        .post_form("/instructor/logout", &format!("csrf={csrf}"))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(ada.get("/instructor").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn state_changing_forms_need_the_sessions_token_and_our_origin() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    add_instructor(&c.database_url(), "ada", "analytical-engine");
    log_in(&mut c, "ada", "analytical-engine").await;
    let csrf = c.csrf("/instructor").await;
    for body in ["name=Forged", "csrf=wrong&name=Forged"] {
        let res = c.post_form("/instructor/cohorts", body).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(res.json()["error"]["code"], "csrf");
    }
    let res = c
        .post_form_with(
            "/instructor/cohorts",
            &format!("csrf={csrf}&name=Forged"),
            &[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:3000"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.json()["error"]["code"], "cross_site_request");
    let res = c
        .post_form_with(
            "/fn/submit_quiz",
            "lesson=x",
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(!c.get("/instructor").await.body.contains("Forged"));

    // A learner's forms too: the token of one session is worth nothing in another.
    let mut learner = c.another();
    let res = learner
        .post_form("/me/name", &format!("csrf={csrf}&name=Mallory"))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    // The same-origin post with the right token works.
    let own = learner.csrf("/me").await;
    let res = learner
        .post_form_with(
            "/me/name",
            &format!("csrf={own}&name=Ada+L"),
            &[
                ("origin", "http://127.0.0.1:3000"),
                ("host", "127.0.0.1:3000"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let me = learner.get("/me").await.body;
    assert_eq!(form_value(&me, "name").as_deref(), Some("Ada L"));

    // A visitor's form token (anyone can fetch one) starts a session only: once this learner
    // has one, a token fetched by another browser is refused, as is a tampered one.
    let minted = c.another().csrf("/me").await;
    assert_ne!(minted, own);
    assert!(minted.contains('.'), "a signed form token: {minted}");
    for token in [
        minted.clone(),
        format!("{minted}0"),
        minted.replace('.', ""),
    ] {
        let res = learner
            .post_form("/me/name", &format!("csrf={token}&name=Mallory"))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{token}");
    }
    let mut stranger = c.another();
    for token in [format!("{minted}0"), "1.2.3".to_string(), csrf.clone()] {
        let res = stranger
            .post_form("/me/name", &format!("csrf={token}&name=Mallory"))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{token}");
        assert!(!stranger.has_session(), "a refused form starts nothing");
    }
    let me = learner.get("/me").await.body;
    assert_eq!(form_value(&me, "name").as_deref(), Some("Ada L"));
}

/// A page shown before its learner had a session (form tokens in its forms), then a call of
/// the page's own script that starts the session (a console opened, a draft kept): the
/// page's forms still work. A form token made after the session started does not, nor,
/// once the session has its token, another page's.
#[tokio::test]
async fn a_page_shown_before_the_session_started_keeps_its_forms() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    let page = c.csrf("/me").await;
    assert!(!c.has_session(), "looking starts nothing");
    keep_a_draft(&mut c).await;
    assert!(c.has_session(), "the draft started the learner");
    // Form tokens count whole seconds: one made in a later second than the session's start.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let later = c.another().csrf("/me").await;
    assert!(later.contains('.') && later != page, "{later}");
    for token in [later.as_str(), "", "1.2.3"] {
        let res = c
            .post_form("/me/name", &format!("csrf={token}&name=Mallory"))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{token}: {}", res.body);
        assert_eq!(res.json()["error"]["code"], "csrf");
    }
    let res = c
        .post_form("/me/name", &format!("csrf={page}&name=Ada"))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let me = c.get("/me").await.body;
    assert_eq!(form_value(&me, "name").as_deref(), Some("Ada"));
    // The page's token became the session's: the next page shows the same one, and another
    // session's page token is worth nothing here.
    assert_eq!(form_value(&me, "csrf").as_deref(), Some(page.as_str()));
    let mut other = c.another();
    let theirs = other.csrf("/me").await;
    keep_a_draft(&mut other).await;
    let res = c
        .post_form("/me/name", &format!("csrf={theirs}&name=Mallory"))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(
        form_value(&c.get("/me").await.body, "name").as_deref(),
        Some("Ada")
    );
}

/// What the workbench's script sends as the learner types: it starts a learner's session.
async fn keep_a_draft(c: &mut TestClient) {
    let draft = json!({"files": {"Dockerfile": "FROM busybox:1.35\n"}});
    let res = c
        .send_text(
            "PUT",
            "/api/v1/drafts/hello-container",
            "application/json",
            &draft.to_string(),
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
}

#[tokio::test]
async fn the_csv_export_has_a_row_per_learner_and_item() {
    let mut teacher = TestClient::new(LOCAL_ENGINE).await;
    add_instructor(&teacher.database_url(), "ada", "analytical-engine");
    log_in(&mut teacher, "ada", "analytical-engine").await;
    let (cohort, code) = create_cohort(&mut teacher, "Evening, group 2").await;

    // Learner one: a name with a comma, joins with the code typed loosely, answers a quiz
    // fully right, and passes an exercise on the real engine.
    let mut one = teacher.another();
    let csrf = one.csrf("/me").await;
    one.post_form("/me/name", &format!("csrf={csrf}&name=Smith%2C+Ann"))
        .await;
    let loose = code.to_lowercase().replace('-', " ");
    let res = one
        .post_form(
            "/me/join",
            &format!("csrf={csrf}&code={}", form_encode(&loose)),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert!(one.get("/me").await.body.contains("You joined"));
    let grade = one
        .post_json(
            "/fn/submit_quiz",
            &json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                    "answers": [["which-image", ["last"]], ["ships", ["tool", "debian"]],
                                ["static", ["libc"]], ["target", ["--target build"]]]}),
        )
        .await
        .json();
    assert_eq!(
        (grade["correct"].as_u64(), grade["total"].as_u64()),
        (Some(4), Some(4))
    );
    let solution = std::fs::read_to_string(
        support::repo_root().join("exercises/hello-container/solution/Dockerfile"),
    )
    .expect("solution");
    let greet = std::fs::read_to_string(
        support::repo_root().join("exercises/hello-container/starter/greet.sh"),
    )
    .expect("starter");
    let (result, _) = one
        .build(
            Some("hello-container"),
            &[("Dockerfile", &solution), ("greet.sh", &greet)],
        )
        .await;
    assert_eq!(result["status"], "succeeded", "{result}");
    // Learner two joins and does nothing else; a third never joins.
    let mut two = teacher.another();
    let csrf = two.csrf("/me").await;
    two.post_form("/me/join", &format!("csrf={csrf}&code={code}"))
        .await;
    let mut outsider = teacher.another();
    outsider.get("/me").await;

    let res = teacher
        .get(&format!("/instructor/cohorts/{cohort}/export.csv"))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(res
        .header("content-disposition")
        .is_some_and(|d| d.contains("evening--group-2-progress.csv")));
    let lines: Vec<&str> = res.body.lines().collect();
    assert_eq!(
        lines[0],
        "\"learner_id\",\"learner\",\"kind\",\"item\",\"title\",\"status\",\"attempts\",\"detail\",\"last_seen\""
    );
    let dashboard = teacher
        .post_json("/fn/dashboard", &json!({ "cohort": cohort }))
        .await
        .json();
    let columns = dashboard["columns"].as_array().expect("columns").len();
    assert!(columns > 20, "every quiz and exercise: {columns}");
    assert_eq!(lines.len(), 1 + 2 * columns, "two learners × every item");
    let row = |item: &str| -> Vec<String> {
        lines
            .iter()
            .find(|l| l.contains("\"Smith, Ann\"") && l.contains(&format!(",\"{item}\",")))
            .unwrap_or_else(|| panic!("no row for {item}:\n{}", res.body))
            .trim_matches('"')
            .split("\",\"")
            .map(str::to_string)
            .collect()
    };
    let passed = row("hello-container");
    assert_eq!(passed[1], "Smith, Ann", "the name is one quoted field");
    assert!(passed.contains(&"exercise".to_string()) && passed.contains(&"passed".to_string()));
    assert!(passed.contains(&"1".to_string()), "one attempt: {passed:?}");
    assert!(row("multi-stage-builds/multi-stage").contains(&"passed".to_string()));
    assert!(row("non-root").contains(&"not_started".to_string()));
    assert_eq!(
        lines.iter().filter(|l| l.contains(",\"passed\",")).count(),
        2,
        "only learner one's two items passed"
    );
    support::remove_image(&result["image"]);
}

/// A real server process, killed with SIGKILL and started again on the same database file:
/// the session cookie still works, and the quiz answer and the build are still there.
#[tokio::test]
async fn progress_and_sessions_survive_a_killed_server() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    // Looking starts nothing; the first form sent (a name) starts the learner.
    let (status, cookie, body) = http("GET", &server.url("/me"), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(cookie.is_none(), "a page view starts no session");
    assert!(
        body.contains("id=\"no-resume-code\""),
        "no code before starting"
    );
    let csrf = form_value(&body, "csrf").expect("a csrf field on /me");
    let (status, cookie, _) = support::http_headers(
        "POST",
        &server.url("/me/name"),
        &[],
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={}&name=Ada", support::form_encode(&csrf)),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let set_cookie = cookie.expect("a session cookie");
    assert!(
        set_cookie.contains("Max-Age=5184000"),
        "sessions last 60 days of absence: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("cookie").to_string();
    let (_, _, body) = http("GET", &server.url("/me"), Some(&cookie), None).await;
    let resume_code = body
        .split("id=\"resume-code\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("a resume code")
        .to_string();

    let (status, _, _) = http(
        "POST",
        &server.url("/fn/submit_quiz"),
        Some(&cookie),
        Some(
            &json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                     "answers": [["which-image", ["last"]], ["ships", ["tool", "debian"]],
                                 ["static", ["libc"]], ["target", ["--target build"]]]}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, accepted) = http(
        "POST",
        &server.url("/api/v1/builds"),
        Some(&cookie),
        Some(&json!({"exercise": "hello-container", "files": {
            "Dockerfile": "FROM busybox:latest\nCMD [\"echo\", \"hello\"]\n"}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let id = serde_json::from_str::<serde_json::Value>(&accepted).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    let before =
        support::poll_build(&server.base_url, &cookie, &id, &["succeeded", "failed"]).await;

    let db = server.kill();
    let server = ServerProcess::start_on(LOCAL_ENGINE, db);
    let (status, _, after) = http(
        "GET",
        &server.url(&format!("/api/v1/builds/{id}")),
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&after).expect("json"),
        before
    );
    let (_, _, map) = http("GET", &server.url("/"), Some(&cookie), None).await;
    assert!(
        map.contains("data-lesson=\"multi-stage-builds\" data-done=\"true\""),
        "the quiz is still done"
    );
    assert!(
        map.contains("data-exercise=\"hello-container\" data-done=\"false\" data-status=\"tried\""),
        "the attempt still counts"
    );
    let (_, _, me) = http("GET", &server.url("/me"), Some(&cookie), None).await;
    assert!(me.contains(&resume_code), "the same learner");
    let (_, _, page) = http(
        "GET",
        &server.url("/exercises/hello-container"),
        Some(&cookie),
        None,
    )
    .await;
    assert!(page.contains("1 attempt"), "the exercise page counts it");
    assert!(
        page.contains("CMD [&quot;echo&quot;, &quot;hello&quot;]")
            || page.contains("CMD [\"echo\", \"hello\"]"),
        "the last attempt's Dockerfile is back in the editor"
    );

    // Another browser continues the same work with the resume code.
    let (_, fresh, offer) = http(
        "GET",
        &server.url(&format!("/resume/{resume_code}")),
        None,
        None,
    )
    .await;
    assert!(fresh.is_none(), "the offer alone starts nothing");
    let csrf = form_value(&offer, "csrf").expect("csrf on the resume page");
    let (status, moved, _) = support::http_headers(
        "POST",
        &server.url("/resume"),
        &[],
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={}&code={resume_code}", support::form_encode(&csrf)),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let moved = cookie_pair(moved);
    let (_, _, map) = http("GET", &server.url("/"), Some(&moved), None).await;
    assert!(map.contains("data-lesson=\"multi-stage-builds\" data-done=\"true\""));
    support::remove_image(&before["image"]);
}

/// Forty learners arriving and answering at the same moment: every request succeeds (no
/// "database is locked") and every answer is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_learners_at_once_all_get_their_answers_stored() {
    let first = TestClient::new(LOCAL_ENGINE).await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let mut c = first.another();
            tokio::spawn(async move {
                let me = c.get("/me").await;
                assert_eq!(me.status, StatusCode::OK, "learner {i}: {}", me.body);
                let res = c
                    .post_json(
                        "/fn/submit_quiz",
                        &json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                                "answers": [["which-image", ["last"]], ["ships", ["tool"]],
                                            ["static", ["libc"]], ["target", ["--target build"]]]}),
                    )
                    .await;
                assert_eq!(res.status, StatusCode::OK, "learner {i}: {}", res.body);
                let map = c.get("/").await;
                assert_eq!(map.status, StatusCode::OK);
                c
            })
        })
        .collect();
    let mut clients = Vec::new();
    for task in tasks {
        clients.push(task.await.expect("a learner's requests"));
    }
    let mut c = clients.pop().expect("a client");
    let page = c.get("/learn/multi-stage-builds").await.body;
    assert!(page.contains("3 of 4 right"), "the answer is kept");
    let (store, _) = layerlab_server::store::open(&c.database_url())
        .await
        .expect("open the database");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM quiz_answers")
        .fetch_one(&store.pool)
        .await
        .expect("count");
    assert_eq!(stored, 40);
    let learners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM learners")
        .fetch_one(&store.pool)
        .await
        .expect("count");
    assert_eq!(learners, 40);
}

/// SIGKILL while a learner's container runs: after a restart on the same database the
/// earlier attempt is intact, the cut-off one says "interrupted", and the janitor has
/// removed the container the dead server left running.
#[tokio::test]
async fn a_build_cut_off_by_a_killed_server_is_marked_interrupted_and_cleaned_up() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let cookie = support::start_learner(&server.base_url).await;
    let submit = |dockerfile: &'static str| {
        let (base, cookie) = (server.base_url.clone(), cookie.clone());
        async move { support::submit_on(&base, &cookie, dockerfile).await }
    };
    let base = server.base_url.clone();
    let wait_for = |id: String, wanted: &'static [&'static str]| {
        let (base, cookie) = (base.clone(), cookie.clone());
        async move { support::poll_build(&base, &cookie, &id, wanted).await }
    };
    let earlier = submit("FROM busybox:latest\nCMD [\"echo\", \"before the crash\"]\n").await;
    let earlier_view = wait_for(earlier.clone(), &["succeeded"]).await;
    let cut = submit("FROM busybox:latest\nCMD [\"sleep\", \"60\"]\n").await;
    wait_for(cut.clone(), &["running"]).await;
    // "running" is announced just before the container is created: wait for it to exist.
    let label = format!("label=org.layerlab.build={cut}");
    let mut running = false;
    for _ in 0..50 {
        running = !support::docker(&["ps", "-q", "--filter", &label]).is_empty();
        if running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(running, "the run container runs while the build runs");

    let db = server.kill();
    let server = ServerProcess::start_on(LOCAL_ENGINE, db);
    let (_, _, body) = http(
        "GET",
        &server.url(&format!("/api/v1/builds/{cut}")),
        Some(&cookie),
        None,
    )
    .await;
    let view: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(view["status"], "interrupted", "{view}");
    assert_eq!(view["error"]["code"], "interrupted");
    assert!(view["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("build again")));
    let (_, _, body) = http(
        "GET",
        &server.url(&format!("/api/v1/builds/{earlier}")),
        Some(&cookie),
        None,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).expect("json"),
        earlier_view
    );
    let mut left = String::from("?");
    for _ in 0..100 {
        left = support::docker(&["ps", "-aq", "--filter", &label]);
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        left.is_empty(),
        "the janitor removes the orphaned container: {left}"
    );
    assert!(
        support::docker(&["images", "-q", &format!("layerlab/playground:{cut}")]).is_empty(),
        "no image of the interrupted build is left"
    );
    support::remove_image(&earlier_view["image"]);
}

/// Whatever a learner types (their name, their files) reaches the instructor's pages as text,
/// never as markup.
#[tokio::test]
async fn learner_text_is_escaped_on_the_instructor_pages() {
    let mut teacher = TestClient::new(LOCAL_ENGINE).await;
    add_instructor(&teacher.database_url(), "ada", "analytical-engine");
    log_in(&mut teacher, "ada", "analytical-engine").await;
    let (cohort, code) = create_cohort(&mut teacher, "<b>bold</b> class").await;
    let mut learner = teacher.another();
    let csrf = learner.csrf("/me").await;
    let evil_name = "<script>alert('name')</script>";
    learner
        .post_form(
            "/me/name",
            &format!("csrf={csrf}&name={}", form_encode(evil_name)),
        )
        .await;
    learner
        .post_form("/me/join", &format!("csrf={csrf}&code={code}"))
        .await;
    let evil_file = "</pre><script>alert('file')</script>";
    let (result, _) = learner
        .build(
            None,
            &[
                ("Dockerfile", "FROM busybox:latest\nCMD [\"true\"]\n"),
                ("notes.txt", evil_file),
            ],
        )
        .await;
    let id = result["id"].as_str().expect("id").to_string();

    let dashboard = teacher
        .get(&format!("/instructor/cohorts/{cohort}"))
        .await
        .body;
    assert!(!dashboard.contains("<script>alert"), "{dashboard}");
    assert!(dashboard.contains("&lt;script&gt;alert"));
    assert!(!dashboard.contains("<b>bold</b>") && dashboard.contains("&lt;b&gt;bold"));
    let attempt = teacher.get(&format!("/instructor/attempts/{id}")).await;
    assert_eq!(attempt.status, StatusCode::OK, "{}", attempt.body);
    assert!(!attempt.body.contains("<script>alert('file')"));
    assert!(attempt.body.contains("&lt;/pre&gt;&lt;script&gt;alert"));
    support::remove_image(&result["image"]);
}

/// Multi-stage builds leave their earlier stages as untagged images. They are stored with the
/// attempt, so even after a restart the next build of the same exercise removes the old ones.
#[tokio::test]
async fn stage_images_of_a_superseded_attempt_are_removed_even_after_a_restart() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let cookie = support::start_learner(&server.base_url).await;
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        layerlab_server::store::now_ms()
    );
    let dockerfile = |word: String| {
        format!(
            "FROM busybox:latest AS tools\nRUN echo {word} > /made\nFROM busybox:latest\nCOPY --from=tools /made /made\nCMD [\"cat\", \"/made\"]\n"
        )
    };
    let first = support::build_on(
        &server.base_url,
        &cookie,
        &dockerfile(format!("first-{nonce}")),
    )
    .await;
    assert_eq!(first["status"], "succeeded", "{first}");
    let (store, _) = layerlab_server::store::open(&server.db.url())
        .await
        .expect("the database");
    let stored = store
        .attempt_any(first["id"].as_str().expect("id"))
        .await
        .expect("read")
        .expect("the attempt");
    let dangling: Vec<String> = stored
        .stage_images
        .iter()
        .filter(|id| {
            support::docker(&["image", "inspect", "--format", "{{len .RepoTags}}", id]) == "0"
                && support::docker(&["images", "-q", "--filter", "dangling=true", "--no-trunc"])
                    .lines()
                    .any(|d| {
                        d.trim_start_matches("sha256:")
                            .starts_with(id.trim_start_matches("sha256:"))
                    })
        })
        .cloned()
        .collect();
    assert!(
        !dangling.is_empty(),
        "the tools stage is left as a dangling image: {stored:?}"
    );
    drop(store);

    let db = server.kill();
    let server = ServerProcess::start_on(LOCAL_ENGINE, db);
    let second = support::build_on(
        &server.base_url,
        &cookie,
        &dockerfile(format!("second-{nonce}")),
    )
    .await;
    assert_eq!(second["status"], "succeeded", "{second}");
    // The clean-up runs right after `done`, so give it a moment.
    for image in &dangling {
        assert!(
            support::image_gone_within(image, 30).await,
            "the superseded stage image {image} was removed"
        );
    }
    support::remove_image(&second["image"]);
}

/// The layer explorer's JSON (and the HTML the page shows): the learner's own build, the
/// same for their instructor, nothing for anyone else, and a clear answer once the image is
/// gone. The HTML the islands swap in (a build's outcome, the dashboard) is just as private.
#[tokio::test]
async fn layers_are_served_to_the_learner_and_their_instructor_only() {
    let (mut teacher, mut learner, cohort) = class_of_one("grace", "compiler-1952", "layers").await;
    let dockerfile = "FROM busybox:latest\nRUN head -c 1048576 /dev/zero > /big && echo kept > /keep\nRUN rm /big\nCMD [\"cat\", \"/keep\"]\n";
    let (result, _) = learner.build(None, &[("Dockerfile", dockerfile)]).await;
    assert_eq!(result["status"], "succeeded", "{result:#}");
    let id = result["id"].as_str().expect("id").to_string();

    let own = learner.get(&format!("/api/v1/builds/{id}/layers")).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    let report = own.json();
    let layers = report["layers"].as_array().expect("layers");
    assert_eq!(
        layers.len() as u64,
        result["image"]["layers"].as_u64().expect("layer count"),
        "one entry per layer of the image"
    );
    let files_of = |needle: &str| -> Vec<(String, String)> {
        layers
            .iter()
            .find(|l| l["instruction"].as_str().unwrap_or("").contains(needle))
            .unwrap_or_else(|| panic!("a layer made by `{needle}`: {report:#}"))["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap_or("").to_string(),
                    f["kind"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    assert!(files_of("head -c").contains(&("/big".into(), "added".into())));
    assert!(files_of("head -c").contains(&("/keep".into(), "added".into())));
    assert!(files_of("rm /big").contains(&("/big".into(), "deleted".into())));
    assert_eq!(report["wasted_bytes"], 1_048_576, "{report:#}");
    assert_eq!(report["wasted"][0]["path"], "/big");
    let efficiency = report["efficiency"].as_f64().expect("efficiency");
    assert!(efficiency > 0.0 && efficiency < 1.0, "{efficiency}");

    // The instructor sees the same through their own route; another learner sees nothing.
    let theirs = teacher
        .get(&format!("/api/v1/instructor/attempts/{id}/layers"))
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert_eq!(theirs.json(), report);
    // The same report as the explorer's HTML, through both routes.
    for (client, path) in [
        (
            &mut learner,
            format!("/api/v1/builds/{id}/layers?format=html"),
        ),
        (
            &mut teacher,
            format!("/api/v1/instructor/attempts/{id}/layers?format=html"),
        ),
    ] {
        let html = client.get(&path).await;
        assert_eq!(html.status, StatusCode::OK, "{path}: {}", html.body);
        assert!(html
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")));
        assert!(
            html.body.contains(r#"<ol class="layer-list">"#),
            "{}",
            html.body
        );
        assert!(html.body.contains(r#"data-path="/big""#), "{}", html.body);
    }
    // The workbench's outcome and the dashboard, as HTML for the islands.
    let outcome = learner
        .post_json("/fn/build_outcome", &serde_json::json!({ "build": id }))
        .await;
    assert_eq!(outcome.status, StatusCode::OK, "{}", outcome.body);
    let outcome = outcome.json();
    assert_eq!(outcome["status"], "succeeded");
    assert_eq!(outcome["results"]["build"], id.as_str());
    assert_eq!(
        outcome["results"]["layers_url"],
        format!("/api/v1/builds/{id}/layers")
    );
    let head = outcome["results"]["head_html"].as_str().expect("html");
    assert!(head.contains(r#"<table class="history">"#), "{head}");
    let dashboard = teacher
        .post_json(
            "/fn/dashboard_html",
            &serde_json::json!({ "cohort": cohort }),
        )
        .await;
    assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
    assert!(dashboard.body.contains("matrix"), "{}", dashboard.body);

    let mut stranger = teacher.another();
    for path in [
        format!("/api/v1/builds/{id}/layers"),
        format!("/api/v1/instructor/attempts/{id}/layers"),
        format!("/api/v1/builds/{id}/layers?format=html"),
        format!("/api/v1/instructor/attempts/{id}/layers?format=html"),
    ] {
        let res = stranger.get(&path).await;
        assert_ne!(res.status, StatusCode::OK, "{path}: {}", res.body);
        assert!(!res.body.contains("/keep"), "{path} leaks: {}", res.body);
    }
    for (path, body) in [
        ("/fn/build_outcome", serde_json::json!({ "build": id })),
        (
            "/fn/dashboard_html",
            serde_json::json!({ "cohort": cohort }),
        ),
    ] {
        let res = stranger.post_json(path, &body).await;
        assert_ne!(res.status, StatusCode::OK, "{path}: {}", res.body);
        assert!(!res.body.contains("history"), "{path} leaks: {}", res.body);
    }

    // Once the image is gone (replaced or over the budget), the answer says so. (Reports are
    // cached by image id, so a new build of another file is used for this.)
    let (other, _) = learner
        .build(
            None,
            &[("Dockerfile", "FROM busybox:latest\nRUN echo gone > /g\n")],
        )
        .await;
    support::remove_image(&other["image"]);
    let res = learner
        .get(&format!(
            "/api/v1/builds/{}/layers",
            other["id"].as_str().unwrap_or("")
        ))
        .await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);
    assert_eq!(res.json()["error"]["code"], "image_removed");
    support::remove_image(&result["image"]);
}

/// Attempt history: the exercise page charts each attempt's size and layers and links a
/// comparison of two attempts (Dockerfile diff, layer tables); the learner's instructor can
/// open the same comparison, nobody else can.
#[tokio::test]
async fn attempts_are_charted_and_two_can_be_compared() {
    let (mut teacher, mut learner, cohort) =
        class_of_one("edsger", "goto-considered", "history").await;
    let root = support::repo_root().join("exercises/goodbye-neighbor");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("exercise file");
    let (greet, starter, solution) = (
        read("starter/greet.sh"),
        read("starter/Dockerfile"),
        read("solution/Dockerfile"),
    );
    let mut ids = Vec::new();
    for dockerfile in [&starter, &solution] {
        let (result, _) = learner
            .build(
                Some("goodbye-neighbor"),
                &[("Dockerfile", dockerfile.as_str()), ("greet.sh", &greet)],
            )
            .await;
        assert_eq!(result["status"], "succeeded", "{result:#}");
        ids.push(result["id"].as_str().expect("id").to_string());
    }

    let page = learner.get("/exercises/goodbye-neighbor").await.body;
    assert!(
        page.contains("data-points=\"2\""),
        "two attempts on the chart"
    );
    assert_eq!(
        page.matches("class=\"size-dot passed\"").count(),
        1,
        "{page}"
    );
    let compare = format!("/compare/{}/{}", ids[0], ids[1]);
    assert!(
        page.contains(&format!("href=\"{compare}\"")),
        "a link to compare them"
    );

    let diff = learner.get(&compare).await;
    assert_eq!(diff.status, StatusCode::OK, "{}", diff.body);
    let added = diff
        .body
        .split("<tr class=\"diff-line added\">")
        .nth(1)
        .unwrap_or_default()
        .replace("<!>", ""); // hydration markers for the empty left number
    assert!(
        added.starts_with("<td class=\"num\"></td><td class=\"num\">4</td>"),
        "the first added line is line 4 of the newer file: {added}"
    );
    assert!(diff.body.contains("ENV GREETING=goodbye"));
    assert_eq!(
        diff.body.matches("diff-line added").count(),
        2,
        "ENV and CMD are new"
    );
    assert_eq!(diff.body.matches("diff-line removed").count(), 0);
    assert_eq!(diff.body.matches("class=\"compare-side panel\"").count(), 2);
    assert!(
        diff.body.contains("href=\"/exercises/goodbye-neighbor\""),
        "back to the exercise"
    );

    let theirs = teacher.get(&compare).await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.body);
    assert!(theirs.body.contains("ENV GREETING=goodbye"));
    assert!(theirs
        .body
        .contains(&format!("/instructor/cohorts/{cohort}/learners/")));
    let record = teacher.get(&format!("/instructor/cohorts/{cohort}")).await;
    assert_eq!(record.status, StatusCode::OK);

    let mut stranger = teacher.another();
    let res = stranger.get(&compare).await;
    assert_ne!(res.status, StatusCode::OK, "{}", res.body);
    assert!(!res.body.contains("ENV GREETING"), "{}", res.body);
}

/// The instructor's record of a learner: attempts numbered oldest first (#1 is the first
/// build, as many as the dashboard counts), charted left to right, the compare page always
/// older-left newer-right (a fix reads as added lines, whichever way round the URL names
/// them) with times to the second; quiz answers in the words the learner saw.
#[tokio::test]
async fn the_instructor_reads_attempts_oldest_first_and_quiz_answers_in_words() {
    let (mut teacher, mut learner, cohort) =
        class_of_one("barbara", "liskov-substitution", "order").await;
    let grade = learner
        .post_json(
            "/fn/submit_quiz",
            &json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                    "answers": [["which-image", ["first"]], ["ships", ["tool", "debian"]],
                                ["static", ["libc"]], ["target", ["--target <b>x</b>"]]]}),
        )
        .await;
    assert_eq!(grade.status, StatusCode::OK, "{}", grade.body);

    let root = support::repo_root().join("exercises/goodbye-neighbor");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect("exercise file");
    let (greet, starter, solution) = (
        read("starter/greet.sh"),
        read("starter/Dockerfile"),
        read("solution/Dockerfile"),
    );
    let (mut ids, mut images) = (Vec::new(), Vec::new());
    for dockerfile in [
        starter.as_str(),
        "FROM busybox:latest\nRUNN nope\n",
        &solution,
    ] {
        let (result, _) = learner
            .build(
                Some("goodbye-neighbor"),
                &[("Dockerfile", dockerfile), ("greet.sh", &greet)],
            )
            .await;
        ids.push(result["id"].as_str().expect("id").to_string());
        images.push(result["image"].clone());
    }

    let dashboard = teacher
        .get(&format!("/instructor/cohorts/{cohort}"))
        .await
        .body;
    assert!(dashboard.contains("3 attempts"), "the dashboard counts 3");
    assert!(
        !dashboard.contains(">goodbye-neighbor<"),
        "columns are headed by titles, not ids"
    );
    let learners = dashboard
        .split("/learners/")
        .nth(1)
        .and_then(|r| r.split(['"', '#', '\\']).next())
        .expect("a learner link")
        .to_string();
    let page = teacher
        .get(&format!("/instructor/cohorts/{cohort}/learners/{learners}"))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let page = page.body.replace("<!>", "");

    // The table: newest on top, numbered as on the chart; #3 is the newest, #1 the oldest.
    let row = |n: usize| {
        let at = page
            .find(&format!("data-number=\"{n}\""))
            .unwrap_or_else(|| panic!("attempt #{n}: {page}"));
        page[..at].rfind("data-attempt=\"").map(|s| {
            let rest = &page[s + 14..];
            rest[..rest.find('"').unwrap_or(0)].to_string()
        })
    };
    assert_eq!(
        row(1).as_deref(),
        Some(ids[0].as_str()),
        "#1 is the first build"
    );
    assert_eq!(
        row(3).as_deref(),
        Some(ids[2].as_str()),
        "#3 is the last build"
    );
    assert!(page.find("data-number=\"3\"") < page.find("data-number=\"1\""));
    // The chart: two images (the failed build made none), #1 left of #3.
    let x_of = |label: &str| {
        let at = page
            .find(label)
            .unwrap_or_else(|| panic!("{label} on the chart"));
        let tag = &page[page[..at].rfind("<text").expect("a label")..at];
        let x = tag.split("x=\"").nth(1).and_then(|r| r.split('"').next());
        x.and_then(|x| x.parse::<f64>().ok()).expect("x")
    };
    assert!(
        x_of(">#1</text>") < x_of(">#3</text>"),
        "oldest on the left"
    );
    assert!(
        !page.contains(">#2</text>"),
        "the failed build has no point"
    );
    let compare = format!("/compare/{}/{}", ids[0], ids[2]);
    assert!(page.contains(&format!("href=\"{compare}\"")), "{page}");
    assert!(page.contains("Compare attempt 1 with 3"));

    // Named newest first, the comparison still puts the older attempt on the left.
    for path in [compare.clone(), format!("/compare/{}/{}", ids[2], ids[0])] {
        let diff = teacher.get(&path).await;
        assert_eq!(diff.status, StatusCode::OK, "{}", diff.body);
        let body = diff.body.replace("<!>", "");
        assert_eq!(body.matches("diff-line added").count(), 2, "{path}");
        assert_eq!(body.matches("diff-line removed").count(), 0, "{path}");
        let before = body.find("Before: attempt #1").expect("#1 on the left");
        let after = body.find("After: attempt #3").expect("#3 on the right");
        assert!(before < after);
        let time = body
            .split("<time>")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .expect("a time");
        assert_eq!(
            time.len(),
            "2026-11-23 19:56:36 UTC".len(),
            "to the second: {time}"
        );
    }

    // Quiz answers: the question and the options' text, the right answer when wrong.
    let quiz = page
        .split("class=\"learner-quiz\"")
        .nth(1)
        .expect("the quiz answers");
    assert!(quiz.contains("Check yourself: multi-stage builds (Multi-stage builds)"));
    assert!(quiz.contains("Which stage does <code>docker build -t app .</code> tag"));
    assert!(quiz.contains("The first stage"), "the chosen option's text");
    assert!(
        quiz.contains("Right answer: <span>The last stage</span>"),
        "{quiz}"
    );
    assert!(quiz.contains("<code>/usr/local/bin/tool</code>, Everything in the"));
    assert!(
        quiz.contains("--target &lt;b&gt;x&lt;/b&gt;"),
        "typed text escaped"
    );
    assert!(
        !quiz.contains("which-image:") && !quiz.contains(">last<"),
        "{quiz}"
    );

    // The learner's own page lists every exercise with its progress.
    let me = learner.get("/me").await.body.replace("<!>", "");
    let item = me
        .split("data-exercise=\"goodbye-neighbor\"")
        .nth(1)
        .and_then(|r| r.split("</li>").next())
        .expect("the exercise on /me");
    assert!(
        item.contains("status-pill passed") && item.contains("3 attempts"),
        "{item}"
    );
    assert!(item.contains("href=\"/exercises/goodbye-neighbor\""));
    assert!(
        me.contains("data-exercise=\"hello-container\""),
        "not started ones too"
    );
    assert!(me.contains("id=\"resume-url\"") && me.contains("Copy link"));
    assert!(!me.contains(" 1 exercises") && !me.contains(" 1 quizzes"));
    for image in &images {
        support::remove_image(image);
    }
}

/// Every page links the icon, and browsers that ask for `/favicon.ico` by habit get it.
#[tokio::test]
async fn the_favicon_is_served_and_linked() {
    let mut c = TestClient::new(LOCAL_ENGINE).await;
    for path in ["/favicon.ico", "/favicon.svg"] {
        let res = c.get(path).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert_eq!(res.header("content-type"), Some("image/svg+xml"));
        assert!(res.body.starts_with("<svg"));
    }
    for page in ["/", "/learn/tags-and-semver", "/me"] {
        let body = c.get(page).await.body;
        assert!(
            body.contains("rel=\"icon\" type=\"image/svg+xml\" href=\"/favicon.svg\""),
            "{page}"
        );
    }
}

/// An instructor sees what a learner of their cohort pushed to the class registry, read from
/// the registry, on the learner's page (without the learner's Delete buttons); an instructor
/// of another cohort sees nothing of it.
// Several threads: the docker CLI, run here and waited for, asks this server's token issuer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instructor_sees_their_learners_registry() {
    let (mut teacher, mut learner, cohort) =
        class_of_one("reg-teacher", "registry-pw", "Registry class").await;
    let (build, _) = learner
        .build(None, &[("Dockerfile", "FROM busybox\nCMD [\"true\"]\n")])
        .await;
    assert_eq!(build["status"], "succeeded", "{build}");
    let id = build["id"].as_str().expect("id");
    let answer = learner
        .post_json(
            &format!("/api/v1/builds/{id}/push"),
            &json!({ "tag": "team-app:1" }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let push = answer.json()["id"].as_str().expect("id").to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let view = learner.get(&format!("/api/v1/pushes/{push}")).await.json();
        if view["status"] != "pushing" {
            assert_eq!(view["status"], "pushed", "{view:#}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the push ended");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let dashboard = teacher.get(&format!("/instructor/cohorts/{cohort}")).await;
    let prefix = format!("/instructor/cohorts/{cohort}/learners/");
    let learner_page = dashboard
        .body
        .split(&prefix)
        .nth(1)
        .and_then(|rest| rest.split(['"', '#', '\\']).next())
        .map(|id| format!("{prefix}{id}"))
        .expect("a link to the learner");
    let page = teacher.get(&learner_page).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("learner-registry"), "a registry section");
    assert!(page.body.contains("/team-app"), "the repository");
    assert!(page.body.contains("data-tag=\"1\""), "the tag");
    assert!(
        !page.body.contains("/registry/delete"),
        "no Delete for the instructor"
    );

    // With the docker CLI, the instructor pulls what their learner pushed, and the registry
    // itself refuses them a push there.
    let home = teacher.get("/instructor").await;
    assert!(
        home.body.contains("/api/v1/instructor/registry/login"),
        "the home page says where the instructor's login is"
    );
    let login = teacher.get("/api/v1/instructor/registry/login").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let login = login.json();
    let learner_login = learner.get("/api/v1/registry/login").await.json();
    let address = learner_login["registry"]
        .as_str()
        .expect("registry")
        .to_string();
    let pushed = format!(
        "{address}/{}/team-app:1",
        learner_login["username"].as_str().expect("handle")
    );
    let username = login["username"].as_str().expect("username");
    assert!(username.starts_with("instructor-"), "{login}");
    assert!(
        home.body
            .contains(&format!("docker login {address} -u {username}")),
        "the login command on the home page"
    );
    let cli = crate::registry::Cli::new();
    cli.log_in(&login);
    cli.ok(&["pull", &pushed]);
    let mine = format!("{pushed}-changed");
    cli.ok(&["tag", &pushed, &mine]);
    let (ok, said) = cli.run(&["push", &mine]);
    assert!(!ok, "an instructor pushes nowhere: {said}");
    assert!(
        said.contains("denied") || said.contains("unauthorized"),
        "{said}"
    );
    cli.ok(&["rmi", &pushed, &mine]);
    // A reset of the instructor's password changes their registry password too: the old one
    // no longer logs in, the one given after logging in again does.
    support::add_instructor_with(
        &teacher.database_url(),
        "reg-teacher",
        "registry-pw-2",
        true,
    );
    let (ok, said) = crate::registry::Cli::new().run(&[
        "login",
        &address,
        "-u",
        username,
        "-p",
        login["password"].as_str().expect("password"),
    ]);
    assert!(
        !ok,
        "the old registry password is refused after a reset: {said}"
    );
    log_in(&mut teacher, "reg-teacher", "registry-pw-2").await;
    let renewed = teacher
        .get("/api/v1/instructor/registry/login")
        .await
        .json();
    assert_ne!(renewed["password"], login["password"]);
    let cli = crate::registry::Cli::new();
    cli.log_in(&renewed);
    cli.ok(&["pull", &pushed]);
    cli.ok(&["rmi", &pushed]);
    // A learner gets no instructor's login.
    let refused = learner.get("/api/v1/instructor/registry/login").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.body);

    // Another instructor: not their learner, on layerlab's pages or in the registry.
    let mut other = teacher.another();
    add_instructor(&other.database_url(), "other-teacher", "other-pw");
    log_in(&mut other, "other-teacher", "other-pw").await;
    let page = other.get(&learner_page).await;
    assert_ne!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("team-app"), "{}", page.body);
    let others = other.get("/api/v1/instructor/registry/login").await.json();
    assert_ne!(others["username"], login["username"]);
    let cli = crate::registry::Cli::new();
    cli.log_in(&others);
    let (ok, said) = cli.run(&["pull", &pushed]);
    assert!(!ok, "another instructor's pull is refused: {said}");
    assert!(
        said.contains("denied") || said.contains("unauthorized") || said.contains("not found"),
        "{said}"
    );
}
