//! An in-process client of the router that keeps the session cookie like a browser.

use super::*;
use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use tower::ServiceExt;

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

    /// Another tab of the same browser: the same cookie.
    pub fn same_browser(&self) -> TestClient {
        TestClient {
            router: self.router.clone(),
            cookie: self.cookie.clone(),
            db: self.db.clone(),
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
    /// The folder of the class registry this client's server started.
    pub fn registry_dir(&self) -> std::path::PathBuf {
        self.db.registry_dir()
    }

    /// Where this client's server makes its consoles' sockets.
    pub fn console_dir(&self) -> std::path::PathBuf {
        self.db.console_dir()
    }

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
        EventStream::new(res.into_body())
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
