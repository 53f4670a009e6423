//! The HTTP edge attacked as a hostile learner (or a script) would, against a real server
//! process and, where builds are involved, the real engine: free identities, a flood of
//! builds, a spoofed `X-Forwarded-For`, a log of half a million empty lines, a pile of event
//! streams, password guessing, a password reset, what `/api/v1/status` tells a stranger, and
//! formulas in the CSV export. Each asserts the refusal, what the caller is told, and what
//! was (not) left behind.

use crate::support;

use axum::http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{ServerProcess, TestClient, TestDb, LOCAL_ENGINE};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    /// `name=value` of the session cookie it set, if it set one.
    fn cookie(&self) -> Option<String> {
        self.headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_string)
    }
    fn retry_after(&self) -> Option<u64> {
        self.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
    }
}

type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

fn client() -> Client {
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http()
}

fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> axum::http::Request<http_body_util::Full<bytes::Bytes>> {
    let mut req = axum::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some((content_type, text)) => {
            req = req.header("content-type", content_type);
            bytes::Bytes::from(text)
        }
        None => bytes::Bytes::new(),
    };
    req.body(http_body_util::Full::new(body)).expect("request")
}

/// One request to a real server: status, headers and the whole body.
async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Reply {
    let res = client()
        .request(request(method, url, headers, body))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

const JSON: (&str, &str) = ("accept", "application/json");

/// Unique per run, so a build's first step never comes from an earlier run's cache.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// A new learner (started by their first form): their session cookie.
async fn new_learner(server: &ServerProcess, extra: &[(&str, &str)]) -> String {
    support::start_learner_with(&server.base_url, extra).await
}

/// The form token `/me` shows a visitor without a session.
async fn form_token(server: &ServerProcess) -> String {
    let page = send("GET", &server.url("/me"), &[("accept", "text/html")], None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.cookie().is_none(), "looking at /me starts nothing");
    support::form_value(&page.body, "csrf").expect("a csrf field")
}

/// A visitor's first form: an empty name sent to `/me/name`, without a cookie.
async fn first_form(server: &ServerProcess, token: &str, accept: &str) -> Reply {
    first_form_with(server, token, &[("accept", accept)]).await
}

async fn first_form_with(server: &ServerProcess, token: &str, headers: &[(&str, &str)]) -> Reply {
    send(
        "POST",
        &server.url("/me/name"),
        headers,
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={}&name=", support::form_encode(token)),
        )),
    )
    .await
}

async fn submit(server: &ServerProcess, cookie: &str, files: Value) -> Reply {
    send(
        "POST",
        &server.url("/api/v1/builds"),
        &[JSON, ("cookie", cookie)],
        Some((
            "application/json",
            json!({"exercise": null, "files": files}).to_string(),
        )),
    )
    .await
}

async fn submit_from(server: &ServerProcess, cookie: &str, files: Value, address: &str) -> Reply {
    send(
        "POST",
        &server.url("/api/v1/builds"),
        &[JSON, ("cookie", cookie), ("x-forwarded-for", address)],
        Some((
            "application/json",
            json!({"exercise": null, "files": files}).to_string(),
        )),
    )
    .await
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    let (store, _) = layerlab_server::store::open(&db.url())
        .await
        .expect("the database");
    let n = sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&store.pool)
        .await
        .expect("count");
    store.pool.close().await;
    n
}

/// The login page's CSRF token for a visitor without a session: (no cookie, token). Showing
/// the form starts no session; logging in does.
async fn login_form(server: &ServerProcess, extra: &[(&str, &str)]) -> (String, String) {
    let reply = send("GET", &server.url("/instructor/login"), extra, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.cookie().is_none(), "the login page starts no session");
    let cookie = String::new();
    let csrf = support::form_value(&reply.body, "csrf").expect("a csrf field");
    (cookie, csrf)
}

async fn log_in(
    server: &ServerProcess,
    session: &(String, String),
    name: &str,
    password: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut headers = Vec::new();
    if !session.0.is_empty() {
        headers.push(("cookie", session.0.as_str()));
    }
    headers.extend_from_slice(extra);
    send(
        "POST",
        &server.url("/instructor/login"),
        &headers,
        Some((
            "application/x-www-form-urlencoded",
            format!(
                "csrf={}&name={}&password={}",
                session.1,
                support::form_encode(name),
                support::form_encode(password)
            ),
        )),
    )
    .await
}

/// Hole 5: a visitor without a cookie who sends something (an answer, a build, a form) is a
/// new learner. 300 first forms from one address: the first 100 (the default per hour) start
/// learners, the rest are told why not and when to come back, and no learner row or session
/// is made for them. Someone who already has a session, and everything that only reads (pages,
/// health, status, static files), are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_script_making_hundreds_of_learners_from_one_address_is_refused_past_the_limit() {
    let db = Arc::new(TestDb::new());
    let server = Arc::new(ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &[]));
    let existing = new_learner(&server, &[]).await;
    let token = Arc::new(form_token(&server).await);
    let (mut admitted, mut refused) = (1usize, Vec::new());
    for _ in 0..15 {
        let batch: Vec<_> = (0..20)
            .map(|_| {
                let (server, token) = (server.clone(), token.clone());
                tokio::spawn(async move { first_form(&server, &token, "application/json").await })
            })
            .collect();
        for task in batch {
            let reply = task.await.expect("a request");
            match reply.status {
                StatusCode::SEE_OTHER => {
                    assert!(reply.cookie().is_some(), "a learner gets a session");
                    admitted += 1;
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    assert!(reply.cookie().is_none(), "a refusal makes no session");
                    refused.push(reply);
                }
                other => panic!("unexpected {other}: {}", reply.body),
            }
        }
    }
    // The bucket refills 100 per hour: a few seconds of test may add one.
    assert!((100..=101).contains(&admitted), "{admitted} learners made");
    assert_eq!(admitted + refused.len(), 301);
    let first = &refused[0];
    assert_eq!(first.code(), "too_many_new_learners");
    let wait = first.retry_after().expect("Retry-After");
    assert!((1..=3600).contains(&wait), "{wait}");
    let message = first.message();
    assert!(
        message.contains("new learners") && message.contains("network address"),
        "{message}"
    );
    assert!(message.contains("try again in"), "{message}");
    // A browser's form gets the same as a page, and nothing is made for it.
    let page = first_form(&server, &token, "text/html").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.body.contains("Please wait") && page.body.contains("new learners"));
    assert!(page.cookie().is_none() && page.retry_after().is_some());
    // It looks like the site (our stylesheet, allowed by its policy) and runs no script.
    assert!(page.body.contains("href=\"/style/layerlab.css\""));
    let policy = page
        .headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        policy.contains("style-src 'self'") && !policy.contains("script-src"),
        "{policy}"
    );
    // A build or an answer from a new visitor is refused the same way.
    let build = submit(&server, "", json!({"Dockerfile": "FROM busybox:latest\n"})).await;
    assert_eq!(
        build.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        build.body
    );
    assert_eq!(build.code(), "too_many_new_learners");
    // The learner who was already here goes on; reading still answers everyone, and starts
    // nothing.
    let home = send("GET", &server.url("/"), &[("cookie", &existing)], None).await;
    assert_eq!(home.status, StatusCode::OK);
    for path in [
        "/",
        "/me",
        "/learn/anatomy-of-a-dockerfile",
        "/healthz",
        "/api/v1/status",
        "/style/layerlab.css",
    ] {
        let reply = send("GET", &server.url(path), &[("accept", "text/html")], None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.cookie().is_none(), "{path} makes no session");
    }
    // Left behind: one learner row per admitted learner, none for the refused.
    let learners = count(&db, "SELECT COUNT(*) FROM learners").await;
    assert_eq!(learners as usize, admitted, "no learner row for a refusal");
}

/// Hole 5, the other way round: a crawler, a link checker, or a class looking around before it
/// starts, makes hundreds of requests without a cookie to every page and every read there is
/// (pages, the server functions the pages call, a build's view, the API). None of them starts
/// a session or a learner, so none spends the address's allowance: with an allowance of 3,
/// three learners can still start afterwards, and the fourth is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn page_views_and_reads_start_nobody_and_spend_no_allowance() {
    let db = Arc::new(TestDb::new());
    let server = Arc::new(ServerProcess::start_with(
        LOCAL_ENGINE,
        db.clone(),
        &["--new-learners-per-address=3"],
    ));
    let root = support::repo_root();
    let lessons: Vec<String> = std::fs::read_dir(root.join("content/lessons"))
        .expect("content/lessons/")
        .filter_map(|e| {
            let path = e.expect("entry").path();
            Some(path.file_name()?.to_str()?.strip_suffix(".md")?.to_string())
        })
        .collect();
    let exercises: Vec<String> = std::fs::read_dir(root.join("exercises"))
        .expect("exercises/")
        .filter_map(|e| {
            let e = e.expect("entry");
            e.path()
                .is_dir()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    let mut pages = vec![
        "/".to_string(),
        "/me".into(),
        "/playground".into(),
        "/instructor/login".into(),
        "/instructor".into(),
        "/instructor/cohorts/nope".into(),
        "/compare/a/b".into(),
        "/resume/AAAA-BBBB-CCCC".into(),
        "/no-such-page".into(),
        "/api/v1/status".into(),
        "/api/v1/builds/nope".into(),
        "/api/v1/builds/nope/events".into(),
        "/api/v1/builds/nope/layers".into(),
    ];
    pages.extend(lessons.iter().map(|l| format!("/learn/{l}")));
    pages.extend(exercises.iter().map(|e| format!("/exercises/{e}")));
    let some_exercise = exercises.first().cloned().unwrap_or_default();
    let reads: Vec<(String, Value)> = vec![
        ("course_map".into(), json!({})),
        ("engine_status".into(), json!({})),
        ("exercise".into(), json!({"id": some_exercise})),
        ("profile".into(), json!({})),
        ("resume_offer".into(), json!({"code": "AAAA-BBBB-CCCC"})),
        ("login_page".into(), json!({})),
        ("build_outcome".into(), json!({"build": "nope"})),
        ("attempt_pair".into(), json!({"left": "a", "right": "b"})),
    ];
    let mut seen = 0;
    for round in 0..6 {
        for path in &pages {
            let accept = if round % 2 == 0 {
                "text/html"
            } else {
                "application/json"
            };
            let reply = send("GET", &server.url(path), &[("accept", accept)], None).await;
            assert!(
                reply.status != StatusCode::TOO_MANY_REQUESTS,
                "{path} was refused: {}",
                reply.body
            );
            assert!(reply.cookie().is_none(), "GET {path} started a session");
            seen += 1;
        }
        for (name, args) in &reads {
            let path = format!("/fn/{name}");
            let body = if name == "course_map"
                || name == "engine_status"
                || name == "profile"
                || name == "login_page"
            {
                ("application/x-www-form-urlencoded", String::new())
            } else {
                ("application/json", args.to_string())
            };
            let reply = send("POST", &server.url(&path), &[JSON], Some(body)).await;
            assert!(
                reply.status != StatusCode::TOO_MANY_REQUESTS,
                "{path} was refused: {}",
                reply.body
            );
            assert!(reply.cookie().is_none(), "POST {path} started a session");
            seen += 1;
        }
    }
    assert!(seen > 100, "{seen} requests");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM learners").await, 0);
    if !db.is_postgres() {
        assert_eq!(count(&db, "SELECT COUNT(*) FROM tower_sessions").await, 0);
    }
    // The allowance is whole: three learners start, the fourth waits.
    let token = form_token(&server).await;
    for i in 0..3 {
        let reply = first_form(&server, &token, "application/json").await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "learner {i}: {}",
            reply.body
        );
    }
    let fourth = first_form(&server, &token, "application/json").await;
    assert_eq!(fourth.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(fourth.code(), "too_many_new_learners");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM learners").await, 3);
}

/// The queue is not first come, first served across addresses: one address (a script's
/// learners, or a school behind one NAT) that puts six builds in line while the only builder
/// is busy delays a build from another address by one build, not six. The address's own
/// builds keep their order, and every build succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pile_of_builds_from_one_address_does_not_hold_back_another() {
    let db = Arc::new(TestDb::new());
    let server = Arc::new(ServerProcess::start_with(
        LOCAL_ENGINE,
        db.clone(),
        &["--build-concurrency=1", "--trusted-proxies=1"],
    ));
    let (holder_at, pile_at, other_at) = ("198.51.100.201", "203.0.113.50", "198.51.100.77");
    let holder = new_learner(&server, &[("x-forwarded-for", holder_at)]).await;
    let tag = nonce();
    let held = submit_from(
        &server,
        &holder,
        json!({"Dockerfile": format!("FROM busybox:latest\nRUN echo turns-hold-{tag} && sleep 4\n")}),
        holder_at,
    )
    .await;
    assert_eq!(held.status, StatusCode::ACCEPTED, "{}", held.body);
    let held_id = held.json()["id"].as_str().expect("id").to_string();
    support::poll_build(&server.base_url, &holder, &held_id, &["building"]).await;

    let mut line: Vec<(String, String, String)> = Vec::new(); // (who, cookie, build id)
    for i in 0..6 {
        let cookie = new_learner(&server, &[("x-forwarded-for", pile_at)]).await;
        let files = json!({"Dockerfile": format!(
            "FROM busybox:latest\nRUN echo turns-pile-{i}-{tag} && sleep 1\n"
        )});
        let reply = submit_from(&server, &cookie, files, pile_at).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
        line.push((
            format!("pile {i}"),
            cookie,
            reply.json()["id"].as_str().expect("id").into(),
        ));
    }
    let other = new_learner(&server, &[("x-forwarded-for", other_at)]).await;
    let files = json!({"Dockerfile": format!("FROM busybox:latest\nRUN echo turns-other-{tag}\n")});
    let reply = submit_from(&server, &other, files, other_at).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let other_id = reply.json()["id"].as_str().expect("id").to_string();
    line.push(("other".into(), other.clone(), other_id.clone()));

    // What the other learner is told while waiting: one build ahead, not six.
    let deadline = Instant::now() + Duration::from_secs(20);
    let view = loop {
        let view =
            support::poll_build(&server.base_url, &other, &other_id, &["queued", "building"]).await;
        if !view["queue_position"].is_null() || Instant::now() > deadline {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(view["status"], "queued", "{view}");
    assert_eq!(view["queue_position"], 1, "{view}");

    // The order in which they got the builder.
    let mut started: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while started.len() < line.len() {
        assert!(Instant::now() < deadline, "started so far: {started:?}");
        for (who, cookie, id) in &line {
            if started.contains(who) {
                continue;
            }
            let url = server.url(&format!("/api/v1/builds/{id}"));
            let reply = send("GET", &url, &[JSON, ("cookie", cookie)], None).await;
            if reply.json()["status"] != "queued" {
                started.push(who.clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        started,
        ["pile 0", "other", "pile 1", "pile 2", "pile 3", "pile 4", "pile 5"],
        "the other address went second; the pile kept its own order"
    );
    for (who, cookie, id) in &line {
        let view =
            support::poll_build(&server.base_url, cookie, id, &["succeeded", "failed"]).await;
        assert_eq!(view["status"], "succeeded", "{who}: {view}");
        support::remove_image(&view["image"]);
    }
    let view = support::poll_build(
        &server.base_url,
        &holder,
        &held_id,
        &["succeeded", "failed"],
    )
    .await;
    support::remove_image(&view["image"]);
}

/// The other side of hole 5: forty learners behind one school NAT address, all new within a
/// minute, each building three times (a resubmit replaces the build before it), with every
/// default limit (the per-learner build rate included): every request is accepted and every
/// learner's last build succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_classroom_of_forty_behind_one_address_works_with_the_defaults() {
    let db = Arc::new(TestDb::new());
    let server = Arc::new(ServerProcess::start_with(
        LOCAL_ENGINE,
        db.clone(),
        &["--build-rate-per-minute=12"],
    ));
    let started = Instant::now();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let server = server.clone();
            tokio::spawn(async move {
                let cookie = new_learner(&server, &[]).await;
                let lesson = send(
                    "GET",
                    &server.url("/learn/anatomy-of-a-dockerfile"),
                    &[("cookie", &cookie)],
                    None,
                )
                .await;
                assert_eq!(lesson.status, StatusCode::OK, "learner {i}");
                let mut last = String::new();
                for attempt in 0..3 {
                    let files = json!({"Dockerfile": format!(
                        "FROM busybox:latest\nLABEL edge.classroom=\"{attempt}\"\nCMD [\"true\"]\n"
                    )});
                    let reply = submit(&server, &cookie, files).await;
                    assert_eq!(
                        reply.status,
                        StatusCode::ACCEPTED,
                        "learner {i}, build {attempt}: {}",
                        reply.body
                    );
                    last = reply.json()["id"].as_str().expect("id").to_string();
                }
                let view =
                    support::poll_build(&server.base_url, &cookie, &last, &["succeeded", "failed"])
                        .await;
                assert_eq!(view["status"], "succeeded", "learner {i}: {view}");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a learner");
    }
    println!(
        "40 learners × 3 builds from one address: {:?}",
        started.elapsed()
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM learners").await, 40);
}

/// Hole 5, the queue: with one builder held by a slow build and room for 4 waiting builds,
/// a flood of learners' submits gets 4 places and then `503 queue_full` with `Retry-After`;
/// a refused build leaves no attempt. A learner already waiting may still resubmit (it
/// replaces their own place). Then the byte budget: waiting builds of 300 KB each fit three
/// to a 1 MiB budget, the fourth is told the files did not fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_builds_meets_a_full_queue_with_retry_after() {
    let db = Arc::new(TestDb::new());
    let server = Arc::new(ServerProcess::start_with(
        LOCAL_ENGINE,
        db.clone(),
        &[
            "--build-concurrency=1",
            "--max-queued-builds=4",
            "--queued-context-mb=1",
            // Each learner below comes from an address of their own (a proxy says which),
            // so that the whole queue fills; one address may hold half of it (the end).
            "--trusted-proxies=1",
        ],
    ));
    let address = |i: usize| format!("198.51.100.{i}");
    let holder = new_learner(&server, &[("x-forwarded-for", "198.51.100.200")]).await;
    let hold = |tag: &str| json!({"Dockerfile": format!("FROM busybox:latest\nRUN echo edge-queue-{tag}-{} && sleep 6\n", nonce())});
    let held = submit_from(&server, &holder, hold("1"), "198.51.100.200").await;
    assert_eq!(held.status, StatusCode::ACCEPTED);
    let held_id = held.json()["id"].as_str().expect("id").to_string();
    support::poll_build(&server.base_url, &holder, &held_id, &["building"]).await;

    let small = json!({"Dockerfile": "FROM busybox:latest\nLABEL edge=flood\n"});
    let mut learners = Vec::new();
    for i in 0..10 {
        learners.push(new_learner(&server, &[("x-forwarded-for", &address(i))]).await);
    }
    let (mut accepted, mut full) = (Vec::new(), Vec::new());
    for (i, cookie) in learners.iter().enumerate() {
        let reply = submit_from(&server, cookie, small.clone(), &address(i)).await;
        match reply.status {
            StatusCode::ACCEPTED => accepted.push((cookie.clone(), reply.json()["id"].clone())),
            StatusCode::SERVICE_UNAVAILABLE => full.push(reply),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(accepted.len(), 4, "four places");
    assert_eq!(full.len(), 6);
    for reply in &full {
        assert_eq!(reply.code(), "queue_full");
        assert_eq!(reply.retry_after(), Some(30));
        let message = reply.message();
        assert!(
            message.contains("queue is full") && message.contains("try again in 30 s"),
            "{message}"
        );
    }
    // A learner already in line replaces their own build: no new place is needed.
    let (waiting, _) = &accepted[0];
    let again = submit_from(&server, waiting, small.clone(), &address(0)).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.body);
    // Refused builds were never stored: the holder's, four places and the resubmit.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM attempts").await, 6);
    for (cookie, id) in &accepted[1..] {
        let id = id.as_str().expect("id");
        support::poll_build(&server.base_url, cookie, id, &["succeeded", "failed"]).await;
    }

    // The byte budget: 300 KB of files per waiting build, 1 MiB for all of them.
    let held = submit_from(&server, &holder, hold("2"), "198.51.100.200").await;
    let held_id = held.json()["id"].as_str().expect("id").to_string();
    support::poll_build(&server.base_url, &holder, &held_id, &["building"]).await;
    let big = json!({
        "Dockerfile": "FROM busybox:latest\nCOPY a b c /data/\n",
        "a": "a".repeat(100_000), "b": "b".repeat(100_000), "c": "c".repeat(100_000),
    });
    let mut fitted = Vec::new();
    let mut refused = None;
    for (i, cookie) in learners.iter().enumerate().take(8).skip(4) {
        let reply = submit_from(&server, cookie, big.clone(), &address(i)).await;
        match reply.status {
            StatusCode::ACCEPTED => fitted.push((cookie, reply.json()["id"].clone())),
            StatusCode::SERVICE_UNAVAILABLE => refused = Some(reply),
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    assert_eq!(fitted.len(), 3, "three contexts of 300 KB fit in 1 MiB");
    let refused = refused.expect("the fourth did not fit");
    assert_eq!(refused.code(), "queue_full");
    assert!(refused.retry_after().is_some());
    assert!(
        refused.message().contains("1.00 MiB") && refused.message().contains("did not fit"),
        "{}",
        refused.message()
    );
    for (cookie, id) in fitted {
        let id = id.as_str().expect("id");
        support::poll_build(&server.base_url, cookie, id, &["succeeded", "failed"]).await;
    }
    // One address may keep at most half the queue waiting (2 of 4 here): a script's many
    // learners cannot take every place from everyone else.
    let held = submit_from(&server, &holder, hold("3"), "198.51.100.200").await;
    let held_id = held.json()["id"].as_str().expect("id").to_string();
    support::poll_build(&server.base_url, &holder, &held_id, &["building"]).await;
    let mut one_school = Vec::new();
    for _ in 0..4 {
        one_school.push(new_learner(&server, &[("x-forwarded-for", "203.0.113.9")]).await);
    }
    let mut statuses = Vec::new();
    let mut last = None;
    for cookie in &one_school {
        let reply = submit_from(&server, cookie, small.clone(), "203.0.113.9").await;
        statuses.push(reply.status.as_u16());
        last = Some(reply);
    }
    assert_eq!(
        statuses,
        [202, 202, 503, 503],
        "half the queue for one address"
    );
    let last = last.expect("a reply");
    assert_eq!(last.code(), "queue_full");
    assert_eq!(last.retry_after(), Some(30));
    assert!(
        last.message().contains("from your network address"),
        "{}",
        last.message()
    );
    // Another address still gets a place.
    let other = submit_from(&server, &learners[9], small.clone(), &address(9)).await;
    assert_eq!(other.status, StatusCode::ACCEPTED, "{}", other.body);
}

/// Hole 5, addresses: with no trusted proxy, `X-Forwarded-For` is the client's own text and
/// changes nothing (five learners claiming five addresses share 127.0.0.1's allowance of 3).
/// With one trusted proxy, the address it appended counts, and what a client put before it
/// does not.
#[tokio::test]
async fn forwarded_for_is_ignored_without_a_trusted_proxy_and_honoured_with_one() {
    let direct = ServerProcess::start_with(
        LOCAL_ENGINE,
        Arc::new(TestDb::new()),
        &["--new-learners-per-address=3"],
    );
    let token = form_token(&direct).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let spoof = format!("198.51.100.{i}");
        let reply = first_form_with(&direct, &token, &[JSON, ("x-forwarded-for", &spoof)]).await;
        statuses.push(reply.status.as_u16());
    }
    assert_eq!(
        statuses,
        [303, 303, 303, 429, 429],
        "spoofing changed nothing"
    );

    let proxied = ServerProcess::start_with(
        LOCAL_ENGINE,
        Arc::new(TestDb::new()),
        &["--new-learners-per-address=3", "--trusted-proxies=1"],
    );
    let token = form_token(&proxied).await;
    let from = |xff: &'static str| {
        let (proxied, token) = (&proxied, token.clone());
        async move {
            first_form_with(proxied, &token, &[JSON, ("x-forwarded-for", xff)])
                .await
                .status
                .as_u16()
        }
    };
    for _ in 0..3 {
        assert_eq!(from("203.0.113.1").await, 303);
    }
    assert_eq!(from("203.0.113.1").await, 429, "its own allowance is spent");
    assert_eq!(from("203.0.113.2").await, 303, "another school is apart");
    // The client writes an address of its own before the proxy's: the proxy's counts.
    assert_eq!(from("192.0.2.99, 203.0.113.1").await, 429);
    assert_eq!(from("192.0.2.99, 203.0.113.3").await, 303);
}

/// Hole 6: a step printing 500,000 empty lines (and a run printing as many) is cut at the
/// line cap, says so once, and the stored attempt and each event stream's backlog stay small.
#[tokio::test]
async fn half_a_million_empty_lines_leave_a_bounded_log_attempt_and_backlog() {
    let db = Arc::new(TestDb::new());
    let server = ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &[]);
    let cookie = new_learner(&server, &[]).await;
    let files = json!({"Dockerfile": format!(
        "FROM busybox:latest\nRUN echo edge-lines-{} && yes '' | head -n 500000\nCMD [\"sh\", \"-c\", \"yes '' | head -n 500000\"]\n",
        nonce()
    )});
    let reply = submit(&server, &cookie, files).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let id = reply.json()["id"].as_str().expect("id").to_string();
    let view = support::poll_build(&server.base_url, &cookie, &id, &["succeeded", "failed"]).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["log_truncated"], true);

    // Two event streams after the end: each sends the bounded backlog once.
    for _ in 0..2 {
        let events = send(
            "GET",
            &server.url(&format!("/api/v1/builds/{id}/events")),
            &[("cookie", &cookie), ("accept", "text/event-stream")],
            None,
        )
        .await;
        assert_eq!(events.status, StatusCode::OK);
        let lines = events.body.matches("event: log").count();
        let notices = events
            .body
            .matches("later lines of the build and the run are not shown")
            .count();
        println!(
            "event stream: {} bytes, {lines} log events",
            events.body.len()
        );
        assert!(lines <= 5_000 + 200, "{lines} log events");
        assert_eq!(notices, 1, "the cut is said once");
        assert!(events.body.len() < 400_000, "{} bytes", events.body.len());
    }
    let row = count(
        &db,
        &format!(
            "SELECT CAST(LENGTH(log) + LENGTH(result) + LENGTH(files) + COALESCE((SELECT LENGTH(content) FROM file_sets WHERE hash = attempts.files_hash), 0) AS BIGINT) FROM attempts WHERE id = '{id}'"
        ),
    )
    .await;
    println!("attempt row: {row} bytes (log + result + files)");
    assert!(row < 400_000, "the stored attempt is {row} bytes");
    support::remove_image(&view["image"]);
}

/// Hole 6, streams: one learner opens event streams on their running build until refused
/// (429 `too_many_streams`, the default cap of 8); another learner is not affected; closing
/// one frees a place.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_event_streams_from_one_learner_are_refused_past_the_cap() {
    let server = ServerProcess::start(LOCAL_ENGINE);
    let cookie = new_learner(&server, &[]).await;
    let files = json!({"Dockerfile": format!(
        "FROM busybox:latest\nRUN echo edge-streams-{} && sleep 25\n",
        nonce()
    )});
    let reply = submit(&server, &cookie, files).await;
    let id = reply.json()["id"].as_str().expect("id").to_string();
    let url = server.url(&format!("/api/v1/builds/{id}/events"));
    let open = || {
        client().request(request(
            "GET",
            &url,
            &[("cookie", &cookie), ("accept", "text/event-stream")],
            None,
        ))
    };
    let mut streams = Vec::new();
    for _ in 0..8 {
        let res = open().await.expect("a stream");
        assert_eq!(res.status(), StatusCode::OK);
        streams.push(res);
    }
    let refused = open().await.expect("an answer");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body = refused
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body["error"]["code"], "too_many_streams");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("8 live event streams"), "{message}");

    // Someone else's streams are counted apart.
    let other = new_learner(&server, &[]).await;
    let theirs = submit(
        &server,
        &other,
        json!({"Dockerfile": "FROM busybox:latest\n"}),
    )
    .await;
    let theirs = theirs.json()["id"].as_str().expect("id").to_string();
    let reply = send(
        "GET",
        &server.url(&format!("/api/v1/builds/{theirs}/events")),
        &[("cookie", &other), ("accept", "text/event-stream")],
        None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);

    // Closing one (the client goes away) frees its place once the server notices (at the
    // latest at its next keep-alive, every 15 s), while the build is still going.
    drop(streams.pop());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let res = open().await.expect("an answer");
        if res.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's place never came back"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(streams);
    support::poll_build(&server.base_url, &cookie, &id, &["succeeded", "failed"]).await;
}

/// Hole 7: guessing an instructor's password. Three failures are free; then each attempt
/// waits (429 `login_throttled`, `Retry-After`), even one with the right password, for the
/// name from any address and for the address with any name. Once the wait is over the
/// right password logs in and clears it. Parallel logins past the bound on password checks
/// get 429 `login_busy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_guessing_meets_backoff_and_parallel_checks_are_bounded() {
    let db = Arc::new(TestDb::new());
    let server = Arc::new(ServerProcess::start_with(
        LOCAL_ENGINE,
        db.clone(),
        &["--trusted-proxies=1"],
    ));
    // The server made its database; the operator adds an instructor beside it.
    support::add_instructor_with(&db.url(), "ada", "analytical-engine", false);
    let attacker = [("x-forwarded-for", "192.0.2.66")];
    let session = login_form(&server, &attacker).await;
    for guess in ["password", "12345678", "letmein!"] {
        let reply = log_in(&server, &session, "ada", guess, &attacker).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "a free failure");
    }
    // The third failure started a wait: the right password now waits too.
    let reply = log_in(
        &server,
        &session,
        "ada",
        "analytical-engine",
        &[attacker[0], JSON],
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.code(), "login_throttled");
    let wait = reply.retry_after().expect("Retry-After");
    assert!((1..=2).contains(&wait), "{wait}");
    assert!(reply.message().contains("Wait"), "{}", reply.message());
    let page = send(
        "GET",
        &server.url("/instructor"),
        &[("cookie", &session.0)],
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "not logged in");
    // The name waits from another address; the address waits for another name.
    let elsewhere = [("x-forwarded-for", "198.51.100.7")];
    let other = login_form(&server, &elsewhere).await;
    let browser = [elsewhere[0], ("accept", "text/html")];
    let reply = log_in(&server, &other, "ada", "analytical-engine", &browser).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the name waits"
    );
    assert!(reply.body.contains("Please wait"), "a browser gets a page");
    let reply = log_in(&server, &session, "grace", "whatever", &attacker).await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address waits"
    );
    // A fourth failure after the wait doubles it.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let reply = log_in(&server, &session, "ada", "wrong-again", &attacker).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let reply = log_in(
        &server,
        &session,
        "ada",
        "analytical-engine",
        &[attacker[0], JSON],
    )
    .await;
    assert_eq!(reply.code(), "login_throttled");
    let wait = reply.retry_after().expect("Retry-After");
    assert!((3..=4).contains(&wait), "doubled: {wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let reply = log_in(&server, &session, "ada", "analytical-engine", &attacker).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("/instructor")
    );
    // Success cleared the name: a typo now costs no wait.
    let fresh = login_form(&server, &elsewhere).await;
    let reply = log_in(&server, &fresh, "ada", "typo", &elsewhere).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let reply = log_in(&server, &fresh, "ada", "analytical-engine", &elsewhere).await;
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("/instructor")
    );

    // Twelve logins at once, from twelve addresses: at most two password checks run, the
    // others are told to try again in a second.
    let mut forms = Vec::new();
    for i in 0..12 {
        let address = format!("203.0.113.{}", 10 + i);
        let form = login_form(&server, &[("x-forwarded-for", &address)]).await;
        forms.push((address, form));
    }
    let tasks: Vec<_> = forms
        .into_iter()
        .map(|(address, form)| {
            let server = server.clone();
            tokio::spawn(async move {
                log_in(
                    &server,
                    &form,
                    "ada",
                    "analytical-engine",
                    &[("x-forwarded-for", &address), JSON],
                )
                .await
            })
        })
        .collect();
    let (mut ok, mut busy) = (0, 0);
    for task in tasks {
        let reply = task.await.expect("a login");
        match reply.status {
            StatusCode::SEE_OTHER => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(reply.code(), "login_busy");
                assert_eq!(reply.retry_after(), Some(1));
                assert!(reply.message().contains("Try again in a second"));
                busy += 1;
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    println!("12 parallel logins: {ok} checked, {busy} told to retry");
    assert!(ok >= 1 && busy >= 1, "{ok} checked, {busy} busy");
    assert_eq!(ok + busy, 12);
}

/// Hole 7: `layerlab instructor add NAME --reset` (another process) ends the sessions logged
/// in with the old password: pages send them to the login page, the CSV answers 401, an open
/// dashboard stream ends at its next event; the new password logs in, the old one does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_password_reset_ends_the_instructors_open_sessions() {
    let db = Arc::new(TestDb::new());
    let server = ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &[]);
    support::add_instructor_with(&db.url(), "ada", "analytical-engine", false);
    let session = login_form(&server, &[]).await;
    let reply = log_in(&server, &session, "ada", "analytical-engine", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let cookie = reply.cookie().unwrap_or(session.0.clone());
    let home = send(
        "GET",
        &server.url("/instructor"),
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(home.status, StatusCode::OK);
    let csrf = support::form_value(&home.body, "csrf").expect("csrf");
    let made = send(
        "POST",
        &server.url("/instructor/cohorts"),
        &[("cookie", &cookie)],
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={csrf}&name=Evening"),
        )),
    )
    .await;
    let cohort = made
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.strip_prefix("/instructor/cohorts/"))
        .expect("the cohort's page")
        .to_string();
    let events = client()
        .request(request(
            "GET",
            &server.url(&format!("/api/v1/instructor/cohorts/{cohort}/events")),
            &[("cookie", &cookie), ("accept", "text/event-stream")],
            None,
        ))
        .await
        .expect("the dashboard stream");
    assert_eq!(events.status(), StatusCode::OK);
    let mut events = events.into_body();

    support::add_instructor_with(&db.url(), "ada", "difference-engine", true);
    let page = send(
        "GET",
        &server.url("/instructor"),
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "the old session is over"
    );
    let csv = send(
        "GET",
        &server.url(&format!("/instructor/cohorts/{cohort}/export.csv")),
        &[("cookie", &cookie)],
        None,
    )
    .await;
    assert_eq!(csv.status, StatusCode::UNAUTHORIZED);
    // A learner's answer is an event: the stream checks the password and ends.
    let learner = new_learner(&server, &[]).await;
    send(
        "POST",
        &server.url("/fn/submit_quiz"),
        &[("cookie", &learner), JSON],
        Some((
            "application/json",
            json!({"lesson": "multi-stage-builds", "quiz": "multi-stage",
                   "answers": [["which-image", ["last"]], ["ships", ["tool"]], ["static", ["libc"]], ["target", ["--target build"]]]})
            .to_string(),
        )),
    )
    .await;
    let mut seen = String::new();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(frame) = events.frame().await {
            if let Ok(data) = frame.expect("a frame").into_data() {
                seen.push_str(&String::from_utf8_lossy(&data));
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the dashboard stream is still open: {seen}");
    assert!(!seen.contains("event: progress"), "{seen}");

    let old = login_form(&server, &[]).await;
    let reply = log_in(&server, &old, "ada", "analytical-engine", &[]).await;
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("/instructor/login"),
        "the old password is refused"
    );
    let new = login_form(&server, &[]).await;
    let reply = log_in(&server, &new, "ada", "difference-engine", &[]).await;
    assert_eq!(
        reply.headers.get("location").and_then(|v| v.to_str().ok()),
        Some("/instructor")
    );
}

/// Hole 8 and G: a stranger's `/api/v1/status` names the course's base images and whether
/// builds work, not the engine's address, version or any other image on it (here a tag made
/// for this test); an instructor's has all of that and the engine's isolation, as `docker
/// info` reports it. The server says the same isolation facts in its log at start-up.
#[tokio::test]
async fn a_stranger_learns_no_engine_address_or_other_images_an_instructor_learns_all() {
    let secret = format!("edge-secret-{}:latest", std::process::id());
    support::docker(&["tag", "busybox:latest", &secret]);
    let db = Arc::new(TestDb::new());
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let server = ServerProcess::start_logging(
        LOCAL_ENGINE,
        db.clone(),
        &[],
        log.reopen().expect("the log file").into(),
    );
    let public = send("GET", &server.url("/api/v1/status"), &[], None).await;
    assert_eq!(public.status, StatusCode::OK);
    let s = public.json();
    assert_eq!(s["builds_available"], true, "{s}");
    let bases = s["engine"]["base_images"].as_array().expect("base images");
    assert!(bases
        .iter()
        .any(|b| b["name"] == "busybox:latest" && b["present"] == true));
    let mut engine_keys: Vec<&String> = s["engine"].as_object().expect("engine").keys().collect();
    engine_keys.sort();
    assert_eq!(engine_keys, ["base_images", "reachable"], "{s}");
    for leak in [
        "docker.sock",
        "unix://",
        &secret,
        "isolation",
        "seccomp",
        "heartbeat",
    ] {
        assert!(!public.body.contains(leak), "{leak} in {}", public.body);
    }

    support::add_instructor_with(&db.url(), "ops", "runs-the-engine", false);
    let session = login_form(&server, &[]).await;
    let reply = log_in(&server, &session, "ops", "runs-the-engine", &[]).await;
    let cookie = reply.cookie().unwrap_or(session.0.clone());
    let full = send(
        "GET",
        &server.url("/api/v1/status"),
        &[("cookie", &cookie)],
        None,
    )
    .await;
    let s = full.json();
    assert_eq!(s["engine"]["docker_host"], LOCAL_ENGINE);
    assert!(s["engine"]["version"].is_string());
    let images: Vec<&str> = s["engine"]["images"]
        .as_array()
        .expect("images")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(images.contains(&secret.as_str()), "{images:?}");
    // The server processes on this database: this one, alive.
    let servers = s["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1, "{s}");
    assert_eq!(servers[0]["this_one"], true);
    assert_eq!(servers[0]["gone"], false);
    assert_eq!(servers[0]["pid"], json!(server.pid()));
    assert_eq!(servers[0]["stopped_at"], Value::Null);
    let isolation = &s["isolation"];
    let info = support::docker(&[
        "info",
        "--format",
        "{{json .SecurityOptions}}|{{.CgroupVersion}}",
    ]);
    let (options, cgroup) = info.split_once('|').expect("two fields");
    let options: Vec<String> = serde_json::from_str(options).expect("json");
    assert_eq!(isolation["security_options"], json!(options));
    assert_eq!(isolation["cgroup_version"], cgroup);
    let host_root = !options
        .iter()
        .any(|o| o == "name=userns" || o == "name=rootless");
    assert_eq!(isolation["builds_run_as_host_root"], host_root);
    assert_eq!(isolation["warning"].is_string(), host_root, "{isolation}");
    support::docker(&["image", "rm", &secret]);

    let text = std::fs::read_to_string(log.path()).expect("the server's log");
    let line = text
        .lines()
        .find(|l| l.contains("engine isolation:"))
        .unwrap_or_else(|| panic!("no isolation line at start-up:\n{text}"));
    assert!(
        line.contains("user namespaces (userns-remap)") && line.contains("cgroup v"),
        "{line}"
    );
    if host_root {
        assert!(
            line.contains("WARN") && line.contains("real root"),
            "{line}"
        );
    }
}

/// Hole 9: learners name themselves as formulas; the export quotes every field and no cell
/// a `,` or a `;` spreadsheet reads starts a formula. Names with a tab or a line break are
/// refused when set.
#[tokio::test]
async fn the_csv_export_quotes_every_field_and_defuses_formulas() {
    let mut teacher = TestClient::new(LOCAL_ENGINE).await;
    teacher
        .log_in_as_new_instructor("ada", "analytical-engine")
        .await;
    let csrf = teacher.csrf("/instructor").await;
    let made = teacher
        .post_form("/instructor/cohorts", &format!("csrf={csrf}&name=Formulas"))
        .await;
    let cohort = made
        .header("location")
        .and_then(|l| l.strip_prefix("/instructor/cohorts/"))
        .expect("the cohort")
        .to_string();
    let code = {
        let (store, _) = layerlab_server::store::open(&teacher.database_url())
            .await
            .expect("the database");
        sqlx::query_scalar::<_, String>("SELECT join_code FROM cohorts WHERE id = $1")
            .bind(&cohort)
            .fetch_one(&store.pool)
            .await
            .expect("the join code")
    };
    let names = [
        "=1+1",
        "+SUM(A1)",
        "-2+3",
        "@cmd",
        "Ann;=HYPERLINK(\"http://evil.example\")",
        "Bob,=1",
        "say \"hi\";-1",
    ];
    for name in names {
        let mut learner = teacher.another();
        let csrf = learner.csrf("/me").await;
        learner
            .post_form(
                "/me/name",
                &format!("csrf={csrf}&name={}", support::form_encode(name)),
            )
            .await;
        learner
            .post_form("/me/join", &format!("csrf={csrf}&code={code}"))
            .await;
        assert!(learner.get("/me").await.body.contains("You joined"));
    }
    // A tab or a line break in a name is tidied to a space when it is set; a bell is refused.
    for (typed, kept) in [
        ("tab\tname", Some("tab name")),
        ("two\nlines", Some("two lines")),
        ("bell\u{7}", None),
    ] {
        let mut learner = teacher.another();
        let csrf = learner.csrf("/me").await;
        learner
            .post_form(
                "/me/name",
                &format!("csrf={csrf}&name={}", support::form_encode(typed)),
            )
            .await;
        let me = learner.get("/me").await.body;
        match kept {
            Some(name) => assert_eq!(support::form_value(&me, "name").as_deref(), Some(name)),
            None => assert!(me.contains("control characters"), "{typed:?} was accepted"),
        }
    }
    let csv = teacher
        .get(&format!("/instructor/cohorts/{cohort}/export.csv"))
        .await
        .body;
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines.len() > names.len(), "{csv}");
    for line in &lines {
        assert!(
            line.starts_with('"') && line.ends_with('"'),
            "unquoted: {line}"
        );
    }
    for name in names {
        assert!(
            lines.iter().any(|l| l.contains(
                &name
                    .replace('"', "\"\"")
                    .replace(";=", ";'=")
                    .replace(";-", ";'-")
                    .replace(",=", ",'=")
            )),
            "{name} is not in the export"
        );
    }
    // Cells as a `;` or `,` spreadsheet splits them (quotes honoured or not).
    for separator in [';', ','] {
        for line in &lines {
            for cell in line.split(separator) {
                let value = cell.trim_start_matches('"');
                assert!(
                    !value.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "a formula when split on {separator:?}: {cell:?} in {line}"
                );
            }
        }
    }
}

/// Hole 5, builds: all learners behind one address share one allowance of builds per
/// minute past each learner's first few, so a script that makes many learners cannot
/// multiply the per-learner rate, and a few busy learners cannot use the allowance up for the
/// others behind the same address; another address keeps its own.
#[tokio::test]
async fn builds_from_one_address_are_bounded_whatever_the_number_of_learners() {
    let server = ServerProcess::start_with(
        LOCAL_ENGINE,
        Arc::new(TestDb::new()),
        &["--builds-per-address=5", "--trusted-proxies=1"],
    );
    let school = ("x-forwarded-for", "203.0.113.7");
    let busy = [
        new_learner(&server, &[school]).await,
        new_learner(&server, &[school]).await,
    ];
    let files =
        |n: usize| json!({"Dockerfile": format!("FROM busybox:latest\nCMD [\"echo\", \"{n}\"]\n")});
    let post = |cookie: String, n: usize, xff: &'static str| {
        let url = server.url("/api/v1/builds");
        async move {
            send(
                "POST",
                &url,
                &[JSON, ("cookie", &cookie), ("x-forwarded-for", xff)],
                Some((
                    "application/json",
                    json!({"exercise": null, "files": files(n)}).to_string(),
                )),
            )
            .await
        }
    };
    let mut statuses = Vec::new();
    let mut refusal = None;
    for n in 0..12 {
        let reply = post(busy[n % 2].clone(), n, "203.0.113.7").await;
        statuses.push(reply.status.as_u16());
        if reply.status == StatusCode::TOO_MANY_REQUESTS && refusal.is_none() {
            refusal = Some(reply);
        }
    }
    // Three each pass on their own; the next five share the address's allowance.
    assert_eq!(
        statuses,
        [202, 202, 202, 202, 202, 202, 202, 202, 202, 202, 202, 429],
        "two learners, one allowance"
    );
    let refusal = refusal.expect("a refusal");
    assert!(refusal.headers.get("retry-after").is_some(), "Retry-After");
    let body: Value = serde_json::from_str(&refusal.body).expect("JSON");
    assert_eq!(body["error"]["code"], "address_rate_limited", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("5")),
        "{body}"
    );
    // A learner of the same school who has not built yet still can: the busy ones cannot
    // use the allowance up for everyone.
    let quiet = new_learner(&server, &[school]).await;
    assert_eq!(
        post(quiet, 50, "203.0.113.7").await.status,
        StatusCode::ACCEPTED
    );
    // Another school behind the same proxy is not affected.
    let elsewhere = new_learner(&server, &[("x-forwarded-for", "203.0.113.8")]).await;
    assert_eq!(
        post(elsewhere, 99, "203.0.113.8").await.status,
        StatusCode::ACCEPTED
    );
    // A busy learner who writes another address in the header (with one trusted proxy,
    // only the proxy's own entry counts) is still refused.
    let spoofed = post(busy[1].clone(), 100, "198.51.100.1, 203.0.113.7").await;
    assert_eq!(
        spoofed.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        spoofed.body
    );
}
