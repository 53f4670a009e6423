//! Several layerlab servers on one database: each writes a heartbeat, and a server marks
//! interrupted — and removes from the engine — only the builds of a server that is gone,
//! never a live one's and never its own. Real engine, real server processes.

use crate::support::{self, ServerProcess, TestDb, LOCAL_ENGINE};
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The build's view as `server` answers it.
async fn build_on(server: &ServerProcess, cookie: &str, id: &str) -> Value {
    let (status, _, body) = support::http(
        "GET",
        &server.url(&format!("/api/v1/builds/{id}")),
        Some(cookie),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// Polls until the build's status (as `server` says it) is one of `wanted`.
async fn until_status(server: &ServerProcess, cookie: &str, id: &str, wanted: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = build_on(server, cookie, id).await;
        if wanted.iter().any(|w| view["status"] == *w) {
            return view;
        }
        assert!(Instant::now() < deadline, "waited for {wanted:?}: {view}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A second server on `db`: its own registry and console folders (in the folder returned, to
/// keep while it runs), a 3 s heartbeat limit, and `flag`.
fn second_server(db: &Arc<TestDb>, flag: &str) -> (ServerProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a folder for B");
    let flags = [
        format!("--registry-dir={}", dir.path().join("registry").display()),
        format!("--console-dir={}", dir.path().join("consoles").display()),
        "--server-dead-after=3".to_string(),
        flag.to_string(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    (
        ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &flags),
        dir,
    )
}

/// A new learner opens their console on `server` (their first request, which starts their
/// session): their cookie and handle.
async fn open_console(server: &ServerProcess, db: &TestDb) -> (String, String) {
    let (status, set_cookie, body) = support::http(
        "POST",
        &server.url("/api/v1/console"),
        None,
        Some(&serde_json::json!(null)),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    let handle = crate::console_app::handle_in(&db.console_dir());
    (support::cookie_pair(set_cookie), handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_takes_over_only_the_builds_of_one_that_went() {
    let db = Arc::new(TestDb::new());
    let a = ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &["--run-timeout=60"]);
    let cookie = support::start_learner(&a.base_url).await;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let marker = format!("servers-{}-{nanos}", std::process::id());
    // A's build runs its container for a few seconds.
    let first = support::submit_on(
        &a.base_url,
        &cookie,
        &format!("FROM busybox:latest\nRUN echo {marker}\nCMD [\"sh\", \"-c\", \"echo started; sleep 20; echo ended-{marker}\"]\n"),
    )
    .await;
    until_status(&a, &cookie, &first, &["running"]).await;

    // B starts on the same database (its own registry and console folders), sweeping every
    // second: A is alive, so its build is not B's to mark or to clean.
    let (b, _b_dir) = second_server(&db, "--janitor-every=1");
    // (B has swept at start-up, and sweeps each second: A's run must still be going for
    // this to say anything.)
    tokio::time::sleep(Duration::from_secs(2)).await;
    let view = build_on(&a, &cookie, &first).await;
    assert_eq!(
        view["status"], "running",
        "A's run ended before B swept: {view}"
    );
    // A form A showed is taken by B (the form tokens' key is the database's).
    let (status, _, page) =
        support::http_headers("GET", &a.url("/me"), &[("accept", "text/html")], None).await;
    assert_eq!(status, 200);
    let token = support::form_value(&page, "csrf").expect("a form token");
    let (status, _, body) = support::http_headers(
        "POST",
        &b.url("/me/name"),
        &[("accept", "text/html")],
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={}&name=Ada", support::form_encode(&token)),
        )),
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let view = until_status(&a, &cookie, &first, &["succeeded", "failed", "interrupted"]).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    let printed = view["run"]["output"].as_str().unwrap_or_default();
    assert!(printed.contains(&format!("ended-{marker}")), "{view}");
    // B reads it from the database as A left it.
    assert_eq!(build_on(&b, &cookie, &first).await["status"], "succeeded");

    // A is killed during a build, while B runs one of its own.
    let second = support::submit_on(
        &a.base_url,
        &cookie,
        &format!("FROM busybox:latest\nRUN echo {marker}-second && sleep 60\n"),
    )
    .await;
    until_status(&a, &cookie, &second, &["building"]).await;
    let own = support::submit_on(
        &b.base_url,
        &cookie,
        &format!("FROM busybox:latest\nRUN echo {marker}-b && sleep 4\n"),
    )
    .await;
    until_status(&b, &cookie, &own, &["building", "running"]).await;
    drop(a.kill());
    // B marks A's build interrupted at a heartbeat of its own (A's process is gone, and its
    // heartbeat stops), and not its own build.
    let view = until_status(&b, &cookie, &second, &["interrupted"]).await;
    assert_eq!(view["error"]["code"], "interrupted", "{view}");
    let view = until_status(&b, &cookie, &own, &["succeeded", "failed", "interrupted"]).await;
    assert_eq!(view["status"], "succeeded", "{view}");
}

/// A console another live server runs on the same engine and database is not this server's
/// to sweep, at its start or after; once that server is gone, its consoles are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_leaves_a_live_servers_consoles_alone() {
    crate::console_app::seeded_toolbox();
    let db = Arc::new(TestDb::new());
    let a = ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &[]);
    let (_, handle) = open_console(&a, &db).await;
    let toolbox = format!("layerlab-console-{handle}");
    let running = || crate::console_app::inspect(&toolbox, "{{.State.Running}}");
    assert_eq!(running().as_deref(), Some("true"));

    // B sweeps its consoles every 2 s.
    let (_b, _b_dir) = second_server(&db, "--console-idle-stop=8");
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(running().as_deref(), Some("true"), "B took A's console");
    assert!(db.console_dir().join(&handle).exists(), "A's socket folder");

    // A is killed: its console is anyone's to remove, and B's sweep does.
    drop(a.kill());
    let deadline = Instant::now() + Duration::from_secs(60);
    while running().is_some() {
        assert!(
            Instant::now() < deadline,
            "A's console outlived A by a minute"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One server runs a learner's console at a time: while A runs it, the same learner opening
/// it on B is told so (and A's toolbox is left alone); once A is gone, B takes it over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learners_console_is_run_by_one_server_at_a_time() {
    crate::console_app::seeded_toolbox();
    let db = Arc::new(TestDb::new());
    let a = ServerProcess::start_with(LOCAL_ENGINE, db.clone(), &[]);
    let (cookie, handle) = open_console(&a, &db).await;
    let toolbox = format!("layerlab-console-{handle}");
    let running = || crate::console_app::inspect(&toolbox, "{{.State.Running}}");
    let server_of = || {
        crate::console_app::inspect(&toolbox, "{{index .Config.Labels \"org.layerlab.server\"}}")
            .unwrap_or_default()
    };
    let a_id = server_of();
    assert!(!a_id.is_empty(), "A's toolbox names A");

    // (B's console sweeps come a minute apart: the takeover below is B's answer to the
    // learner, not a sweep.)
    let (b, _b_dir) = second_server(&db, "--console-idle-stop=600");
    let open_on_b = || async {
        support::http(
            "POST",
            &b.url("/api/v1/console"),
            Some(&cookie),
            Some(&serde_json::json!(null)),
        )
        .await
    };
    let (status, _, body) = open_on_b().await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("console_elsewhere"), "{body}");
    assert!(
        body.contains("another of this workshop's servers"),
        "{body}"
    );
    let (status, _, body) = support::http(
        "POST",
        &b.url("/api/v1/console/commands"),
        Some(&cookie),
        Some(&serde_json::json!({"line": "docker ps"})),
    )
    .await;
    assert_eq!(status, 409, "a command on B: {body}");
    assert_eq!(running().as_deref(), Some("true"));
    assert_eq!(server_of(), a_id, "A's toolbox is still A's");

    // A is killed: B takes the console over when the learner opens it there.
    drop(a.kill());
    let (status, _, body) = open_on_b().await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(running().as_deref(), Some("true"));
    let b_id = server_of();
    assert!(!b_id.is_empty() && b_id != a_id, "{a_id} → {b_id}");
    let (status, _, body) = support::http(
        "POST",
        &b.url("/api/v1/console/commands"),
        Some(&cookie),
        Some(&serde_json::json!({"line": "docker ps"})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
}
