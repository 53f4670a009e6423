//! Shared by the integration tests: configuration pointing at the repository's content and a
//! fresh database, an in-process client that keeps the session cookie, and a real server
//! process for browser tests.
#![allow(dead_code)]

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

/// Where `./x wasm` puts the browser bundle (overridable for odd layouts).
pub fn site_root() -> PathBuf {
    std::env::var_os("LAYERLAB_SITE_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/site"))
}

/// A configuration with the repository's course, a database file in `db_dir`, and the given engine.
pub fn config(db_dir: &tempfile::TempDir, docker_host: &str) -> ServeConfig {
    let root = repo_root();
    let db = db_dir.path().join("layerlab.db");
    let args = [
        "layerlab".to_string(),
        "--addr=127.0.0.1:0".into(),
        format!("--database-url=sqlite://{}", db.display()),
        format!("--content-dir={}", root.join("content").display()),
        format!("--site-root={}", site_root().display()),
        format!("--style-dir={}", root.join("style").display()),
        format!("--docker-host={docker_host}"),
    ];
    Cli::try_parse_from(args)
        .expect("test configuration parses")
        .serve
}

pub const LOCAL_ENGINE: &str = "unix:///var/run/docker.sock";

/// Calls the router in-process, carrying the session cookie like a browser would.
pub struct TestClient {
    router: Router,
    cookie: Option<String>,
    _db: tempfile::TempDir,
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
        let db = tempfile::tempdir().expect("tempdir");
        let router = layerlab_server::build(&config(&db, docker_host))
            .await
            .expect("app builds");
        TestClient {
            router,
            cookie: None,
            _db: db,
        }
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

    pub fn has_session(&self) -> bool {
        self.cookie.is_some()
    }
}

/// A real `layerlab` process on a free port; killed when dropped.
pub struct ServerProcess {
    child: std::process::Child,
    pub base_url: String,
    _db: tempfile::TempDir,
}

impl ServerProcess {
    pub fn start(docker_host: &str) -> Self {
        use std::io::BufRead;
        let db = tempfile::tempdir().expect("tempdir");
        let config = config(&db, docker_host);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_layerlab"))
            .arg("serve")
            .arg(format!("--addr={}", config.addr))
            .arg(format!("--database-url={}", config.database_url))
            .arg(format!("--content-dir={}", config.content_dir.display()))
            .arg(format!("--site-root={}", config.site_root.display()))
            .arg(format!("--style-dir={}", config.style_dir.display()))
            .arg(format!("--docker-host={}", config.docker_host))
            .stdout(std::process::Stdio::piped())
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
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
