//! Layers every request passes: a state-changing request another site sent is refused, and
//! every response carries the security headers.

use super::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
        return AppError::CrossSite.into_response();
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
