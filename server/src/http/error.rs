//! The HTTP edge's one error type. Each case is named, and [`AppError::parts`] is the one place
//! that says which status, error code and wait it is answered with; [`error_body`] is the one
//! place the API's `{"error": {"code", "message"}}` is written. Errors of the domain modules
//! come in whole (`#[from]`), so their codes are chosen here and nowhere else. Our own faults
//! are logged by the [`log_server_errors`] layer, where the response leaves, not here.

use crate::builds::{ExploreError, SubmitError};
use crate::engine::context::ContextError;
use crate::pushes::PushRefused;
use crate::workbench::WorkbenchError;
use app::backend::BackendError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist (lesson, quiz, build), or is not the caller's.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed or breaks a rule; the message says which.
    #[error("{0}")]
    BadRequest(String),
    /// The request is bigger than we accept.
    #[error("{0}")]
    TooLarge(String),
    /// Only a logged-in instructor may do this: 401 `login_required`.
    #[error("{0}")]
    LoginRequired(String),
    /// A form whose token is missing or not this session's: 403 `csrf`.
    #[error(
        "This form has expired or did not come from layerlab. Reload the page and send it again."
    )]
    FormExpired,
    /// A state-changing request another site sent (its `Origin` or `Sec-Fetch-Site`): 403
    /// `cross_site_request`.
    #[error("This request came from another site and was refused.")]
    CrossSite,
    /// The person sent too many requests of this kind: 429 `rate_limited`, `Retry-After`.
    #[error("{message}")]
    RateLimited { retry_after: u64, message: String },
    /// Too many from the caller's network address (everyone behind it counts together): 429
    /// `address_rate_limited`, `Retry-After`.
    #[error("{message}")]
    AddressRateLimited { retry_after: u64, message: String },
    /// The person already holds as many live event streams as allowed: 429
    /// `too_many_streams`, `Retry-After`.
    #[error("{message}")]
    TooManyStreams { retry_after: u64, message: String },
    /// A build that was not accepted (its files, the queues, the engine, the disk).
    #[error(transparent)]
    Submit(#[from] SubmitError),
    /// A draft or a hint that was refused.
    #[error(transparent)]
    Workbench(#[from] WorkbenchError),
    /// An attempt's layers that cannot be shown.
    #[error(transparent)]
    Explore(#[from] ExploreError),
    /// A push that was not started.
    #[error(transparent)]
    Push(#[from] PushRefused),
    /// There is no registry layerlab runs (off, or an external one): 503
    /// `registry_unavailable`, saying which.
    #[error("{0}")]
    RegistryUnavailable(String),
    /// A console call that did not happen.
    #[error(transparent)]
    Console(#[from] crate::console::ConsoleError),
    /// A check asked of an exercise that is not done in the console: 409
    /// `not_a_console_exercise`.
    #[error("{0}")]
    NotConsoleExercise(String),
    /// Our fault; details are logged, not sent.
    #[error("{0}")]
    Internal(String),
}

impl From<crate::console_work::CheckError> for AppError {
    fn from(e: crate::console_work::CheckError) -> Self {
        use crate::console_work::CheckError as C;
        match e {
            C::UnknownExercise(_) => AppError::NotFound(e.to_string()),
            C::NotConsole(_) => AppError::NotConsoleExercise(e.to_string()),
            C::Console(e) => AppError::Console(e),
        }
    }
}

/// The status and code of a file set that was refused.
fn files(c: &ContextError) -> (StatusCode, &'static str) {
    let status = if c.is_too_large() {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, c.code())
}

impl AppError {
    /// The status, the error code scripts tell apart, and how long to wait (`Retry-After`).
    pub fn parts(&self) -> (StatusCode, &'static str, Option<u64>) {
        use StatusCode as S;
        let (status, code) = match self {
            Self::NotFound(_) => (S::NOT_FOUND, "not_found"),
            Self::BadRequest(_) => (S::BAD_REQUEST, "bad_request"),
            Self::TooLarge(_) => (S::PAYLOAD_TOO_LARGE, "too_large"),
            Self::LoginRequired(_) => (S::UNAUTHORIZED, "login_required"),
            Self::FormExpired => (S::FORBIDDEN, "csrf"),
            Self::CrossSite => (S::FORBIDDEN, "cross_site_request"),
            Self::RateLimited { retry_after, .. } => {
                return (S::TOO_MANY_REQUESTS, "rate_limited", Some(*retry_after))
            }
            Self::AddressRateLimited { retry_after, .. } => {
                return (
                    S::TOO_MANY_REQUESTS,
                    "address_rate_limited",
                    Some(*retry_after),
                )
            }
            Self::TooManyStreams { retry_after, .. } => {
                return (S::TOO_MANY_REQUESTS, "too_many_streams", Some(*retry_after))
            }
            Self::Submit(e) => match e {
                SubmitError::UnknownExercise(_) => (S::NOT_FOUND, "not_found"),
                SubmitError::ConsoleExercise(_) => (S::CONFLICT, "not_a_workbench_exercise"),
                SubmitError::Context(c) => files(c),
                SubmitError::RateLimited { retry_after, .. } => {
                    return (S::TOO_MANY_REQUESTS, "rate_limited", Some(*retry_after))
                }
                SubmitError::EngineUnavailable(_) => (S::SERVICE_UNAVAILABLE, "engine_unavailable"),
                SubmitError::DatabaseDiskFull { .. } => {
                    (S::SERVICE_UNAVAILABLE, "database_disk_full")
                }
                SubmitError::QueueFull { retry_after, .. }
                | SubmitError::AddressQueueFull { retry_after, .. }
                | SubmitError::QueueMemoryFull { retry_after, .. } => {
                    return (S::SERVICE_UNAVAILABLE, "queue_full", Some(*retry_after))
                }
            },
            Self::Workbench(e) => match e {
                WorkbenchError::UnknownExercise(_) | WorkbenchError::NoHints => {
                    (S::NOT_FOUND, "not_found")
                }
                WorkbenchError::Files(c) => files(c),
                WorkbenchError::TooSoon => return (S::TOO_MANY_REQUESTS, "rate_limited", Some(1)),
                WorkbenchError::AddressTooFast => {
                    return (S::TOO_MANY_REQUESTS, "address_rate_limited", Some(2))
                }
                WorkbenchError::DraftTooLarge => (S::PAYLOAD_TOO_LARGE, "draft_too_large"),
                WorkbenchError::DiskFull => (S::SERVICE_UNAVAILABLE, "database_disk_full"),
                WorkbenchError::Store(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
            Self::Explore(e) => match e {
                ExploreError::NotFinished => (S::CONFLICT, "not_finished"),
                ExploreError::NoImage => (S::NOT_FOUND, "no_image"),
                ExploreError::Removed => (S::GONE, "image_removed"),
                ExploreError::Unreadable(_) => (S::UNPROCESSABLE_ENTITY, "layers_unreadable"),
                ExploreError::EngineUnavailable(_) => {
                    (S::SERVICE_UNAVAILABLE, "engine_unavailable")
                }
            },
            Self::Push(e) => match e {
                PushRefused::BadTag(_) => (S::BAD_REQUEST, "bad_tag"),
                PushRefused::NotFinished => (S::CONFLICT, "not_finished"),
                PushRefused::NotSucceeded => (S::CONFLICT, "no_image"),
                PushRefused::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "registry_unavailable"),
                PushRefused::Busy => (S::CONFLICT, "push_in_progress"),
                PushRefused::EngineUnavailable(_) => (S::SERVICE_UNAVAILABLE, "engine_unavailable"),
                PushRefused::OverQuota { .. } => (S::INSUFFICIENT_STORAGE, "quota_exceeded"),
                PushRefused::Crowded(_) => {
                    return (S::SERVICE_UNAVAILABLE, "pushes_crowded", Some(5))
                }
            },
            Self::RegistryUnavailable(_) => (S::SERVICE_UNAVAILABLE, "registry_unavailable"),
            Self::Console(e) => {
                use crate::console::ConsoleError as C;
                match e {
                    C::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "console_unavailable"),
                    C::Busy => (S::CONFLICT, "command_running"),
                    C::NotOpen => (S::NOT_FOUND, "console_not_open"),
                    C::NoSuchPort(_) => (S::NOT_FOUND, "not_found"),
                    C::Idle => (S::CONFLICT, "no_command_running"),
                    C::BadInput(_) => (S::BAD_REQUEST, "bad_command"),
                    C::TooSoon => return (S::TOO_MANY_REQUESTS, "rate_limited", Some(1)),
                    C::TooMany { wait, .. } => {
                        return (S::TOO_MANY_REQUESTS, "rate_limited", Some(*wait))
                    }
                    C::SettingUp(_) => (S::CONFLICT, "setting_up"),
                    C::Elsewhere(_) => (S::CONFLICT, "console_elsewhere"),
                    C::Full(_) => return (S::SERVICE_UNAVAILABLE, "consoles_full", Some(60)),
                }
            }
            Self::NotConsoleExercise(_) => (S::CONFLICT, "not_a_console_exercise"),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
        };
        (status, code, None)
    }

    /// What the caller reads: our own faults say only that they happened.
    fn message(&self) -> String {
        match self {
            Self::Workbench(WorkbenchError::Store(_)) => {
                "Something went wrong on our side while keeping your work; please try again.".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<BackendError> for AppError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::NotFound(m) => Self::NotFound(m),
            BackendError::Invalid(m) => Self::BadRequest(m),
            BackendError::Internal(m)
            | BackendError::Unreachable(m)
            | BackendError::Call(m)
            | BackendError::Refused(m) => Self::Internal(m),
            BackendError::Unauthorized(m) => Self::LoginRequired(m),
        }
    }
}

/// The API's error answer: `{"error": {"code", "message"}}` with its status, and
/// `Retry-After` when a wait is known. Every JSON error of the server is written here.
pub fn error_body(
    status: StatusCode,
    code: &str,
    message: &str,
    retry_after: Option<u64>,
) -> Response {
    let mut response = (
        status,
        Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response();
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(seconds),
        );
    }
    response
}

/// A server error as it left, for [`log_server_errors`]: the code and the whole cause.
#[derive(Clone, Debug)]
struct ServerError {
    code: &'static str,
    cause: Arc<str>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code, retry_after) = self.parts();
        let mut response = error_body(status, code, &self.message(), retry_after);
        if status.is_server_error() {
            response.extensions_mut().insert(ServerError {
                code,
                cause: self.to_string().into(),
            });
        }
        response
    }
}

/// Log every server error an [`AppError`] answered with, once, as the response leaves.
pub async fn log_server_errors(request: Request<Body>, next: Next) -> Response {
    // Cheap on every request: both share their bytes with the request's.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    if let Some(e) = response.extensions().get::<ServerError>() {
        let path = uri.path();
        tracing::error!(code = %e.code, %method, %path, status = %response.status(), "{}", e.cause);
    }
    response
}
