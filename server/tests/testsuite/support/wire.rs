//! Requests to a real server over TCP, and reading forms out of its pages.

use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;

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
