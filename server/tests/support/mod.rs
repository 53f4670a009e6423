//! Shared by the integration tests: configuration pointing at the repository's content and a
//! fresh database, an in-process client that keeps the session cookie, and a real server
//! process for browser tests.
#![allow(dead_code)]

pub mod classroom;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use clap::Parser;
use http_body_util::BodyExt;
use layerlab_server::config::{Cli, ServeConfig};
use std::path::PathBuf;
use tower::ServiceExt;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A test server's database: a SQLite file in a folder of its own, or, when the tests run with
/// `LAYERLAB_TEST_DATABASE=postgres` (or a test asks for one), a fresh database on the
/// Postgres server `./x test` starts (`LAYERLAB_TEST_POSTGRES`). When the last handle goes,
/// so does everything the server left on the engine under its installation label (kept
/// learner images, containers of a killed server), and the Postgres database.
pub struct TestDb {
    dir: tempfile::TempDir,
    /// The Postgres database's name, if this is one.
    postgres: Option<String>,
}

/// The Postgres server the tests use, as a URL without a database (see `./x test`).
pub fn postgres_server() -> String {
    std::env::var("LAYERLAB_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "LAYERLAB_TEST_POSTGRES is not set: these tests need a PostgreSQL server. \
             `./x test` starts one and sets it; to use your own, set it to a URL such as \
             postgres://USER@HOST:PORT/postgres for a user who may create databases"
        )
    })
}

/// `postgres_server()` with another database name.
pub fn postgres_url(database: &str) -> String {
    let server = postgres_server();
    let (base, query) = server.split_once('?').unwrap_or((&server, ""));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{base}/{database}{query}")
}

/// Run `body` on a runtime of its own in a thread of its own: this may be called inside a
/// test's runtime, which cannot block.
fn blocking<T: Send + 'static>(
    body: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>
        + Send
        + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(body())
    })
    .join()
    .expect("the database thread")
}

/// Run one statement on the Postgres server's maintenance database.
fn postgres_admin(statement: String) -> Result<(), String> {
    blocking(move || {
        Box::pin(async move {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&postgres_server())
                .await
                .map_err(|e| format!("cannot reach the test Postgres server: {e}"))?;
            sqlx::query(&statement)
                .execute(&mut conn)
                .await
                .map(|_| ())
                .map_err(|e| format!("{statement}: {e}"))
        })
    })
}

impl TestDb {
    /// The database the suite runs on: SQLite unless `LAYERLAB_TEST_DATABASE=postgres`.
    pub fn new() -> Self {
        match std::env::var("LAYERLAB_TEST_DATABASE").as_deref() {
            Ok("postgres") => Self::postgres(),
            Ok("sqlite") | Err(_) => Self::sqlite(),
            Ok(other) => panic!("LAYERLAB_TEST_DATABASE={other}: use sqlite or postgres"),
        }
    }

    pub fn sqlite() -> Self {
        TestDb {
            dir: tempfile::tempdir().expect("tempdir"),
            postgres: None,
        }
    }

    /// A new, empty database on the test Postgres server.
    pub fn postgres() -> Self {
        let name = format!("layerlab_test_{}", uuid::Uuid::new_v4().simple());
        postgres_admin(format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("{e}"));
        TestDb {
            dir: tempfile::tempdir().expect("tempdir"),
            postgres: Some(name),
        }
    }

    /// The database's URL, as `--database-url` takes it.
    pub fn url(&self) -> String {
        match &self.postgres {
            Some(name) => postgres_url(name),
            None => format!("sqlite://{}", self.dir.path().join("layerlab.db").display()),
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }

    /// The installation id the server stored, if it started.
    fn instance(&self) -> Option<String> {
        if self.postgres.is_none() && !self.dir.path().join("layerlab.db").exists() {
            return None;
        }
        let url = self.url();
        blocking(move || {
            Box::pin(async move {
                sqlx::any::install_default_drivers();
                let pool = sqlx::AnyPool::connect(&url).await.ok()?;
                let id = sqlx::query_scalar::<_, String>(
                    "SELECT value FROM meta WHERE key = 'instance'",
                )
                .fetch_one(&pool)
                .await
                .ok();
                pool.close().await;
                id
            })
        })
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for TestDb {
    type Target = tempfile::TempDir;
    fn deref(&self) -> &tempfile::TempDir {
        &self.dir
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(instance) = self.instance() {
            remove_engine_objects(&instance);
        }
        if let Some(name) = &self.postgres {
            let _ = postgres_admin(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Remove the containers and images an installation left on the engine.
fn remove_engine_objects(instance: &str) {
    let filter = format!("label=org.layerlab.instance={instance}");
    let listed = |args: &[&str]| -> Vec<String> {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .map(|o| {
                let mut ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect();
                ids.dedup();
                ids
            })
            .unwrap_or_default()
    };
    for (list, remove) in [
        (vec!["ps", "-aq", "--filter", &filter], vec!["rm", "-f"]),
        (vec!["images", "-q", "--filter", &filter], vec!["rmi", "-f"]),
    ] {
        let ids = listed(&list);
        if !ids.is_empty() {
            let _ = std::process::Command::new("docker")
                .args(remove)
                .args(&ids)
                .output();
        }
    }
}

/// Where `./x wasm` puts the browser bundle (overridable for odd layouts).
pub fn site_root() -> PathBuf {
    std::env::var_os("LAYERLAB_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/site"))
}

/// A configuration with the repository's course, the database `db`, and the given engine.
pub fn config(db: &TestDb, docker_host: &str) -> ServeConfig {
    config_with(db, docker_host, &[])
}

/// [`config`] plus extra command-line flags (e.g. tighter limits).
pub fn config_with(db: &TestDb, docker_host: &str, extra: &[&str]) -> ServeConfig {
    let root = repo_root();
    let mut args = vec![
        "layerlab".to_string(),
        "--addr=127.0.0.1:0".into(),
        format!("--database-url={}", db.url()),
        format!("--content-dir={}", root.join("content").display()),
        format!("--site-root={}", site_root().display()),
        format!("--style-dir={}", root.join("style").display()),
        format!("--docker-host={docker_host}"),
        format!("--exercises-dir={}", root.join("exercises").display()),
    ];
    // Tests build back to back as one learner; the rate-limit test sets its own limit.
    if !extra
        .iter()
        .any(|a| a.starts_with("--build-rate-per-minute"))
    {
        args.push("--build-rate-per-minute=0".into());
    }
    args.extend(extra.iter().map(|a| a.to_string()));
    Cli::try_parse_from(args)
        .expect("test configuration parses")
        .serve
}

pub const LOCAL_ENGINE: &str = "unix:///var/run/docker.sock";

/// Calls the router in-process, carrying the session cookie like a browser would.
pub struct TestClient {
    router: Router,
    cookie: Option<String>,
    db: std::sync::Arc<TestDb>,
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestClient {
    pub async fn new(docker_host: &str) -> Self {
        Self::with_args(docker_host, &[]).await
    }

    pub async fn with_args(docker_host: &str, extra: &[&str]) -> Self {
        let db = TestDb::new();
        let router = layerlab_server::build(&config_with(&db, docker_host, extra))
            .await
            .expect("app builds");
        TestClient {
            router,
            cookie: None,
            db: std::sync::Arc::new(db),
        }
    }

    /// Another browser on the same server and database: no cookie yet.
    pub fn another(&self) -> TestClient {
        TestClient {
            router: self.router.clone(),
            cookie: None,
            db: self.db.clone(),
        }
    }

    /// The server's database, for operator commands run beside it.
    pub fn database_url(&self) -> String {
        self.db.url()
    }

    /// The CSRF token in the first form of `page` (which this session loads).
    pub async fn csrf(&mut self, page: &str) -> String {
        let res = self.get(page).await;
        assert_eq!(res.status, StatusCode::OK, "{page}: {}", res.body);
        form_value(&res.body, "csrf").unwrap_or_else(|| panic!("no csrf field on {page}"))
    }

    /// POST a form with extra headers (e.g. an `Origin`).
    pub async fn post_form_with(
        &mut self,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send_body(req, body.to_string()).await
    }

    pub async fn get(&mut self, path: &str) -> TestResponse {
        self.send(Request::get(path).header(header::ACCEPT, "text/html"))
            .await
    }

    pub async fn post_form(&mut self, path: &str, body: &str) -> TestResponse {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "text/html");
        self.send_body(req, body.to_string()).await
    }

    pub async fn post_json(&mut self, path: &str, body: &serde_json::Value) -> TestResponse {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json");
        self.send_body(req, body.to_string()).await
    }

    /// Any request with a body of this content type, as a page or a script would send it.
    pub async fn send_text(
        &mut self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> TestResponse {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ACCEPT, "application/json");
        self.send_body(req, body.to_string()).await
    }

    async fn send(&mut self, req: axum::http::request::Builder) -> TestResponse {
        self.send_body(req, String::new()).await
    }

    async fn send_body(
        &mut self,
        mut req: axum::http::request::Builder,
        body: String,
    ) -> TestResponse {
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let res: Response<Body> = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        if let Some(set) = res
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
        {
            self.cookie = set.split(';').next().map(str::to_string);
        }
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Open an SSE stream and hand over its events one at a time as they arrive.
    pub async fn events(&mut self, path: &str) -> EventStream {
        let mut req = Request::get(path).header(header::ACCEPT, "text/event-stream");
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        assert_eq!(res.status(), StatusCode::OK, "events of {path}");
        assert_eq!(
            res.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        EventStream {
            body: res.into_body(),
            buffer: String::new(),
        }
    }

    /// Submit files as a build; returns the build id (panics unless 202).
    pub async fn start_build(&mut self, exercise: Option<&str>, files: &[(&str, &str)]) -> String {
        self.start_build_with(exercise, files, false).await
    }

    /// [`Self::start_build`], with `docker build --no-cache` when `no_cache`.
    pub async fn start_build_with(
        &mut self,
        exercise: Option<&str>,
        files: &[(&str, &str)],
        no_cache: bool,
    ) -> String {
        let files: serde_json::Map<String, serde_json::Value> = files
            .iter()
            .map(|(p, c)| (p.to_string(), serde_json::Value::String(c.to_string())))
            .collect();
        let res = self
            .post_json(
                "/api/v1/builds",
                &serde_json::json!({"exercise": exercise, "files": files, "no_cache": no_cache}),
            )
            .await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
        let json = res.json();
        let id = json["id"].as_str().expect("an id").to_string();
        assert_eq!(json["events"], format!("/api/v1/builds/{id}/events"));
        id
    }

    /// Follow a build's events to `done`; returns the result and the log lines seen.
    pub async fn finish_build(&mut self, id: &str) -> (serde_json::Value, Vec<String>) {
        let mut events = self.events(&format!("/api/v1/builds/{id}/events")).await;
        let mut log = Vec::new();
        while let Some((name, data)) = events.next().await {
            match name.as_str() {
                "log" => log.push(data["text"].as_str().unwrap_or_default().to_string()),
                "done" => {
                    let fetched = self.get(&format!("/api/v1/builds/{id}")).await.json();
                    assert_eq!(fetched, data, "GET gives what `done` carried");
                    return (data, log);
                }
                _ => {}
            }
        }
        panic!("the event stream of {id} ended without `done`; log: {log:#?}");
    }

    /// Submit and wait: the result and the log.
    pub async fn build(
        &mut self,
        exercise: Option<&str>,
        files: &[(&str, &str)],
    ) -> (serde_json::Value, Vec<String>) {
        let id = self.start_build(exercise, files).await;
        self.finish_build(&id).await
    }

    /// [`Self::build`], with `docker build --no-cache` when `no_cache`.
    pub async fn build_with(
        &mut self,
        exercise: Option<&str>,
        files: &[(&str, &str)],
        no_cache: bool,
    ) -> (serde_json::Value, Vec<String>) {
        let id = self.start_build_with(exercise, files, no_cache).await;
        self.finish_build(&id).await
    }

    /// Become a learner as a browser does: `/me` starts nothing, its first form sent (an
    /// empty name) does.
    pub async fn start_learning(&mut self) {
        let csrf = self.csrf("/me").await;
        assert!(!self.has_session(), "looking at /me started a session");
        let res = self
            .post_form("/me/name", &format!("csrf={}&name=", form_encode(&csrf)))
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert!(self.has_session(), "the first form starts the session");
    }

    pub fn has_session(&self) -> bool {
        self.cookie.is_some()
    }
}

/// `layerlab instructor add NAME` (with `--reset` to give a new password) on `database_url`,
/// the password on standard input, as an operator runs it; panics unless it succeeds.
pub fn add_instructor_with(database_url: &str, name: &str, password: &str, reset: bool) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
        .args(["instructor", "add", name, "--database-url", database_url])
        .args(reset.then_some("--reset"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run layerlab instructor add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("write the password");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "instructor add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The course's exercises as the server loads them.
pub fn exercises() -> layerlab_server::exercise::Exercises {
    let root = repo_root();
    let course = layerlab_server::course::Course::load(&root.join("content"))
        .unwrap_or_else(|e| panic!("the course: {e}"));
    layerlab_server::exercise::Exercises::load(&root.join("exercises"), &course)
        .unwrap_or_else(|e| panic!("the exercises: {e:#}"))
}

/// An exercise's files as a learner would submit them: the starter, or the starter with
/// the solution's files over it (`solution/` holds only what changes).
pub fn exercise_files(id: &str, solution: bool) -> Vec<(String, String)> {
    let all = exercises();
    let exercise = all.get(id).unwrap_or_else(|| panic!("no exercise {id}"));
    let files = if solution {
        &exercise.solution
    } else {
        &exercise.starter
    };
    files.clone().into_iter().collect()
}

/// Every file under `dir`, as (path relative to `dir`, text).
pub fn read_tree(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                out.push((rel, std::fs::read_to_string(&path).expect("text")));
            }
        }
    }
    out
}

impl TestClient {
    /// Add an instructor to this server's database and log this client in as them.
    pub async fn log_in_as_new_instructor(&mut self, name: &str, password: &str) {
        add_instructor_with(&self.database_url(), name, password, false);
        let csrf = self.csrf("/instructor/login").await;
        let res = self
            .post_form(
                "/instructor/login",
                &format!(
                    "csrf={csrf}&name={}&password={}",
                    form_encode(name),
                    form_encode(password)
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(res.header("location"), Some("/instructor"));
    }
}

/// The `value` of the input named `name` in an HTML page.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let value = tag.split("value=\"").nth(1)?;
    Some(value[..value.find('"')?].to_string())
}

/// URL-encode a form field value.
pub fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A real `layerlab` process on a free port; killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub base_url: String,
    pub db: std::sync::Arc<TestDb>,
}

impl ServerProcess {
    pub fn start(docker_host: &str) -> Self {
        Self::start_on(docker_host, std::sync::Arc::new(TestDb::new()))
    }

    /// Start on an existing database folder (e.g. the one a killed server used).
    pub fn start_on(docker_host: &str, db: std::sync::Arc<TestDb>) -> Self {
        Self::start_with(docker_host, db, &[])
    }

    /// Start with extra command-line flags (e.g. tighter limits).
    pub fn start_with(docker_host: &str, db: std::sync::Arc<TestDb>, extra: &[&str]) -> Self {
        Self::start_logging(docker_host, db, extra, std::process::Stdio::inherit())
    }

    /// [`ServerProcess::start_with`], its log (standard error) going to `stderr`.
    pub fn start_logging(
        docker_host: &str,
        db: std::sync::Arc<TestDb>,
        extra: &[&str],
        stderr: std::process::Stdio,
    ) -> Self {
        use std::io::BufRead;
        let config = config(&db, docker_host);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
            .arg("serve")
            .args(
                (!extra.iter().any(|a| a.starts_with("--addr")))
                    .then(|| format!("--addr={}", config.addr)),
            )
            .arg(format!("--database-url={}", config.database_url))
            .arg(format!("--content-dir={}", config.content_dir.display()))
            .arg(format!(
                "--exercises-dir={}",
                config.exercises_dir.display()
            ))
            .arg(format!("--site-root={}", config.site_root.display()))
            .arg(format!("--style-dir={}", config.style_dir.display()))
            .arg(format!("--docker-host={}", config.docker_host))
            .arg("--build-rate-per-minute=0")
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the layerlab binary");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("layerlab is serving on ") {
                        break url.trim().to_string();
                    }
                }
                _ => {
                    let status = child.wait().ok();
                    panic!("layerlab exited before serving: {status:?}");
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        ServerProcess {
            child,
            base_url,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

impl ServerProcess {
    /// Kill the server (SIGKILL) and start it again on the same address and database, so
    /// pages open in a browser reconnect to it.
    pub fn restart(self, docker_host: &str) -> Self {
        let addr = self
            .base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let db = self.kill();
        Self::start_with(docker_host, db, &[&format!("--addr={addr}")])
    }

    /// Kill the process without warning (SIGKILL), as a crash would.
    pub fn kill(mut self) -> std::sync::Arc<TestDb> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.db.clone()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server-Sent Events read off a response body: `(event name, JSON data)`.
pub struct EventStream {
    body: Body,
    buffer: String,
}

impl EventStream {
    /// The next event, waiting for it; `None` when the stream ends. Fails the test after 5
    /// minutes of silence (keep-alive comments do not count as silence).
    pub async fn next(&mut self) -> Option<(String, serde_json::Value)> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() {
                    continue;
                }
                let json = serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("event {name} is not JSON ({e}): {data}"));
                return Some((name, json));
            }
            let frame =
                tokio::time::timeout(std::time::Duration::from_secs(300), self.body.frame())
                    .await
                    .expect("an event within 5 minutes")?;
            let frame = frame.expect("body frame");
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}

/// The docker CLI, for checking what layerlab reports against what Docker itself says.
pub fn docker(args: &[&str]) -> String {
    let out = std::process::Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs");
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Whether the engine no longer has `image` within `seconds`. Clean-up after a build runs
/// right after the learner is told the result, so a test gives it a moment.
pub async fn image_gone_within(image: &str, seconds: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let present = std::process::Command::new("docker")
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .output()
            .expect("the docker CLI runs")
            .status
            .success();
        if !present {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// One request to a real server over TCP: status, the session cookie it set (if any), body.
pub async fn http(
    method: &str,
    url: &str,
    cookie: Option<&str>,
    json: Option<&serde_json::Value>,
) -> (StatusCode, Option<String>, String) {
    let body = json.map(|v| ("application/json", v.to_string()));
    http_with(method, url, cookie, body).await
}

/// `name=value` of a `Set-Cookie` header (panics when there is none).
pub fn cookie_pair(set_cookie: Option<String>) -> String {
    set_cookie
        .expect("the server set a session cookie")
        .split(';')
        .next()
        .expect("a cookie")
        .to_string()
}

/// A request with a raw body (any bytes) to a real server.
pub async fn http_raw(
    url: &str,
    cookie: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(StatusCode, String), String> {
    use hyper_util::client::legacy::Client;
    let client: Client<_, http_body_util::Full<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let req = Request::post(url)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("request");
    let res = client.request(req).await.map_err(|e| e.to_string())?;
    let status = res.status();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Submit a playground Dockerfile to a real server; the build's id.
pub async fn submit_on(base_url: &str, cookie: &str, dockerfile: &str) -> String {
    let (status, _, body) = http(
        "POST",
        &format!("{base_url}/api/v1/builds"),
        Some(cookie),
        Some(&serde_json::json!({"exercise": null, "files": {"Dockerfile": dockerfile}})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    serde_json::from_str::<serde_json::Value>(&body).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Submit a playground Dockerfile to a real server and wait for its end; the final view.
pub async fn build_on(base_url: &str, cookie: &str, dockerfile: &str) -> serde_json::Value {
    let id = submit_on(base_url, cookie, dockerfile).await;
    poll_build(base_url, cookie, &id, &["succeeded", "failed"]).await
}

/// Ask a real server for build `id` until its status is one of `wanted` (4 minutes at most).
pub async fn poll_build(
    base_url: &str,
    cookie: &str,
    id: &str,
    wanted: &[&str],
) -> serde_json::Value {
    let url = format!("{base_url}/api/v1/builds/{id}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    loop {
        let (_, _, body) = http("GET", &url, Some(cookie), None).await;
        let view: serde_json::Value = serde_json::from_str(&body).expect("json");
        if wanted.contains(&view["status"].as_str().unwrap_or_default()) {
            return view;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "build {id} never reached {wanted:?}: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A form post to a real server.
pub async fn http_form(
    url: &str,
    cookie: &str,
    form: &str,
) -> (StatusCode, Option<String>, String) {
    let body = Some(("application/x-www-form-urlencoded", form.to_string()));
    http_with("POST", url, Some(cookie), body).await
}

async fn http_with(
    method: &str,
    url: &str,
    cookie: Option<&str>,
    body: Option<(&str, String)>,
) -> (StatusCode, Option<String>, String) {
    let mut headers = Vec::new();
    if body.as_ref().is_none_or(|(t, _)| *t != "application/json") {
        headers.push(("accept", "text/html"));
    }
    if let Some(c) = cookie {
        headers.push(("cookie", c));
    }
    http_headers(method, url, &headers, body).await
}

/// A request with these headers to a real server: status, the session cookie it set (if
/// any), body. A JSON body asks for JSON back.
pub async fn http_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> (StatusCode, Option<String>, String) {
    use hyper_util::client::legacy::Client;
    let client: Client<_, http_body_util::Full<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some((content_type, text)) => {
            req = req.header(header::CONTENT_TYPE, content_type);
            if content_type == "application/json" {
                req = req.header(header::ACCEPT, "application/json");
            }
            bytes::Bytes::from(text)
        }
        None => bytes::Bytes::new(),
    };
    let res = client
        .request(req.body(http_body_util::Full::new(body)).expect("request"))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status();
    let set = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, set, String::from_utf8_lossy(&bytes).into_owned())
}

/// A new learner on a real server, started as a browser starts one: looking at `/me` starts
/// nothing, sending its first form (an empty name) does. Their session cookie (`name=value`).
pub async fn start_learner(base_url: &str) -> String {
    start_learner_with(base_url, &[]).await
}

/// [`start_learner`] with extra headers on both requests (an `X-Forwarded-For`).
pub async fn start_learner_with(base_url: &str, headers: &[(&str, &str)]) -> String {
    let mut with_html = vec![("accept", "text/html")];
    with_html.extend_from_slice(headers);
    let (status, set, page) =
        http_headers("GET", &format!("{base_url}/me"), &with_html, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(set.is_none(), "looking at /me started a session");
    let csrf = form_value(&page, "csrf").expect("a csrf field on /me");
    let (status, set, body) = http_headers(
        "POST",
        &format!("{base_url}/me/name"),
        &with_html,
        Some((
            "application/x-www-form-urlencoded",
            format!("csrf={}&name=", form_encode(&csrf)),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    cookie_pair(set)
}

/// Remove the image a build result names (`result["image"]`), if any.
pub fn remove_image(image: &serde_json::Value) {
    if let Some(id) = image["id"].as_str() {
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", "-f", id])
            .output();
    }
}
