//! Who may do what: instructor passwords (argon2), the instructor's mark in the session,
//! CSRF protection (a per-session token in every form, and a same-origin check on every
//! state-changing request), and the gate in front of every instructor page and API.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// Session key: the id of the instructor logged in with this session.
pub const INSTRUCTOR_KEY: &str = "instructor_id";
/// Session key: this session's CSRF token.
const CSRF_KEY: &str = "csrf_token";
/// The form field every state-changing form carries.
pub const CSRF_FIELD: &str = "csrf";

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to check against when the name is unknown, so a wrong name takes as long as a
/// wrong password.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not a password anyone has").unwrap_or_default())
}

/// This session's CSRF token, made on first use.
pub async fn csrf_token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    if let Some(token) = session.get::<String>(CSRF_KEY).await? {
        return Ok(token);
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    session.insert(CSRF_KEY, token.clone()).await?;
    Ok(token)
}

/// Does `given` match this session's token? Compared in constant time.
pub async fn csrf_ok(session: &Session, given: &str) -> bool {
    let Ok(Some(token)) = session.get::<String>(CSRF_KEY).await else {
        return false;
    };
    token.len() == given.len()
        && token
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The instructor logged in with this session, if any.
pub async fn instructor_id(session: &Session) -> Option<String> {
    session.get::<String>(INSTRUCTOR_KEY).await.ok().flatten()
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    (status, axum::Json(body)).into_response()
}

/// Refuse a state-changing request (POST, PUT, PATCH, DELETE) that a browser says comes from
/// another site: its `Origin` names a different host, or `Sec-Fetch-Site` says `cross-site`.
/// Requests without either header (curl, scripts) carry no ambient browser credentials and
/// pass; forms also check their token.
pub async fn same_origin(request: Request<Body>, next: Next) -> Response {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if unsafe_method && is_cross_site(&request) {
        return refuse(
            StatusCode::FORBIDDEN,
            "cross_site_request",
            "This request came from another site and was refused.",
        );
    }
    next.run(request).await
}

fn is_cross_site(request: &Request<Body>) -> bool {
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// Headers on every response: no MIME sniffing, no framing, no referrer to other sites, and a
/// closed Content-Security-Policy where the page did not set its own (pages set one with
/// their nonce; JSON, CSV and static files get this one).
pub async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(header::HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ));
    response
}

/// Paths under `/instructor` other than the login page need an instructor in the session:
/// pages redirect to the login page, everything else (CSV, API) answers 401.
pub async fn instructor_gate(session: Session, request: Request<Body>, next: Next) -> Response {
    let path = request.uri().path();
    let gated = path == "/instructor"
        || (path.starts_with("/instructor/") && path != "/instructor/login")
        || path.starts_with("/api/v1/instructor/");
    if !gated || instructor_id(&session).await.is_some() {
        return next.run(request).await;
    }
    let is_page =
        request.method() == Method::GET && !path.starts_with("/api/") && !path.ends_with(".csv");
    if is_page {
        let next_path = request.uri().path_and_query().map_or(path, |p| p.as_str());
        let target = format!("/instructor/login?next={}", url_encode(next_path));
        return Redirect::to(&target).into_response();
    }
    refuse(
        StatusCode::UNAUTHORIZED,
        "login_required",
        "Log in as an instructor at /instructor/login first.",
    )
}

/// Percent-encode everything but unreserved characters and `/`.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Only local paths are followed after login, never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(p) if p.starts_with("/instructor") && !p.starts_with("//") && !p.contains('\\') => {
            p.to_string()
        }
        _ => "/instructor".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2"), "{hash}");
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horse!", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(!verify_password("correct horse", decoy_hash()));
    }

    fn request(method: Method, headers: &[(&str, &str)]) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri("/x");
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(Body::empty()).expect("request")
    }

    #[test]
    fn cross_site_requests_are_recognised() {
        let host = ("host", "127.0.0.1:3000");
        assert!(!is_cross_site(&request(Method::POST, &[host])));
        assert!(!is_cross_site(&request(
            Method::POST,
            &[host, ("origin", "http://127.0.0.1:3000")]
        )));
        assert!(is_cross_site(&request(
            Method::POST,
            &[host, ("origin", "https://evil.example")]
        )));
        assert!(is_cross_site(&request(
            Method::POST,
            &[host, ("origin", "null")]
        )));
        assert!(is_cross_site(&request(
            Method::POST,
            &[host, ("sec-fetch-site", "cross-site")]
        )));
    }

    #[test]
    fn only_instructor_paths_are_followed_after_login() {
        assert_eq!(
            safe_next(Some("/instructor/cohorts/x")),
            "/instructor/cohorts/x"
        );
        assert_eq!(safe_next(Some("https://evil.example")), "/instructor");
        assert_eq!(safe_next(Some("//evil.example")), "/instructor");
        assert_eq!(safe_next(None), "/instructor");
        assert_eq!(url_encode("/a b?c=d"), "/a%20b%3Fc%3Dd");
    }
}
