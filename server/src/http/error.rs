//! The HTTP edge's one error type: logs what went wrong inside, tells the caller what to do.

use app::backend::BackendError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist (lesson, quiz, build).
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or breaks a rule; the message says which.
    #[error("{0}")]
    BadRequest(String),
    /// The request is bigger than we accept.
    #[error("{0}")]
    TooLarge(String),
    /// A specific status and error code, for API errors scripts tell apart
    /// (`bad_path`, `rate_limited`, `engine_unavailable`, …).
    #[error("{2}")]
    Coded(StatusCode, &'static str, String),
    /// Our fault; details are logged, not sent.
    #[error("{0}")]
    Internal(String),
    /// Too many requests: 429 with `Retry-After` (seconds).
    #[error("{1}")]
    RateLimited(u64, String),
    /// A status and code with `Retry-After` (seconds): a full queue, a limit per address.
    #[error("{3}")]
    Wait(StatusCode, &'static str, u64, String),
}

impl AppError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::Coded(status, code, _) => (*status, code),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::RateLimited(..) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Wait(status, code, ..) => (*status, code),
        }
    }
}

impl From<BackendError> for AppError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::NotFound(m) => Self::NotFound(m),
            BackendError::Invalid(m) => Self::BadRequest(m),
            BackendError::Internal(m) => Self::Internal(m),
            BackendError::Unauthorized(m) => {
                Self::Coded(StatusCode::UNAUTHORIZED, "login_required", m)
            }
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if status.is_server_error() {
            tracing::error!(%code, "{self}");
        }
        let mut response = (
            status,
            Json(json!({ "error": { "code": code, "message": self.to_string() } })),
        )
            .into_response();
        if let Self::RateLimited(seconds, _) | Self::Wait(_, _, seconds, _) = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}
