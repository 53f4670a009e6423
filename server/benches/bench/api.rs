//! A learner talking to a real layerlab process over loopback: submit a build through the
//! public API and read its Server-Sent Events as they arrive.

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::time::SystemTime;

pub struct Learner {
    client: Client<HttpConnector, Full<bytes::Bytes>>,
    base: String,
    pub cookie: Option<String>,
}

/// One event off the stream, with the wall-clock time its bytes arrived.
pub struct Event {
    pub name: String,
    pub data: serde_json::Value,
    pub arrived: SystemTime,
}

pub struct Events {
    body: hyper::body::Incoming,
    buffer: String,
    arrived: SystemTime,
}

impl Learner {
    pub fn new(base: &str) -> Self {
        Learner {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_string(),
            cookie: None,
        }
    }

    fn request(&self, method: &str, path: &str) -> http::request::Builder {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request
    }

    /// GET a page; returns its body (panics unless 200).
    pub async fn page(&mut self, path: &str) -> bytes::Bytes {
        let response = self
            .client
            .request(
                self.request("GET", path)
                    .body(Full::default())
                    .expect("request"),
            )
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        self.keep_cookie(&response);
        assert_eq!(response.status(), 200, "GET {path}");
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
    }

    /// DELETE `path`; returns the status and the body.
    pub async fn delete(&mut self, path: &str) -> (u16, String) {
        let response = self
            .client
            .request(
                self.request("DELETE", path)
                    .body(Full::default())
                    .expect("request"),
            )
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// POST a JSON body (e.g. a server function); returns the status and the body.
    pub async fn post_json(&mut self, path: &str, json: &serde_json::Value) -> (u16, String) {
        let response = self
            .client
            .request(
                self.request("POST", path)
                    .header("content-type", "application/json")
                    .body(Full::from(json.to_string()))
                    .expect("request"),
            )
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        self.keep_cookie(&response);
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn keep_cookie<B>(&mut self, response: &http::Response<B>) {
        if let Some(set) = response.headers().get("set-cookie") {
            self.cookie = set
                .to_str()
                .ok()
                .and_then(|s| s.split(';').next())
                .map(str::to_string);
        }
    }

    /// POST /api/v1/builds with these files (no exercise); returns the events stream, opened.
    pub async fn submit(&mut self, files: &[(String, String)]) -> Events {
        let files: serde_json::Map<String, serde_json::Value> = files
            .iter()
            .map(|(p, c)| (p.clone(), serde_json::Value::String(c.clone())))
            .collect();
        let body = serde_json::json!({"exercise": null, "files": files}).to_string();
        let response = self
            .client
            .request(
                self.request("POST", "/api/v1/builds")
                    .header("content-type", "application/json")
                    .body(Full::from(body))
                    .expect("request"),
            )
            .await
            .expect("POST /api/v1/builds");
        self.keep_cookie(&response);
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(
            status,
            202,
            "the build was refused: {}",
            String::from_utf8_lossy(&bytes)
        );
        let accepted: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        self.events(accepted["events"].as_str().expect("events URL"))
            .await
    }

    /// Open an event stream (a build's, a push's).
    pub async fn events(&mut self, path: &str) -> Events {
        let response = self
            .client
            .request(
                self.request("GET", path)
                    .body(Full::default())
                    .expect("request"),
            )
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        Events {
            body: response.into_body(),
            buffer: String::new(),
            arrived: SystemTime::now(),
        }
    }
}

impl Events {
    /// The next event; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some((name, data)) = crate::support::take_event(&mut self.buffer) {
                return Some(Event {
                    name,
                    data,
                    arrived: self.arrived,
                });
            }
            let frame = self.body.frame().await?.expect("body frame");
            self.arrived = SystemTime::now();
            if let Ok(data) = frame.into_data() {
                self.buffer.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}
