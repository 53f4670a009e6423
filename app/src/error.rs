//! The one error the UI's server functions return ([`BackendError`]), on the server and in
//! the browser alike: the server's port answers with it, and it travels whole.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What can go wrong when a learner asks for something, in words shown to them. It is also
/// what every server function returns, whole (JSON), so the page knows which case it met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", content = "message", rename_all = "snake_case")]
pub enum BackendError {
    /// No such lesson or quiz.
    NotFound(String),
    /// The request itself is wrong (e.g. an answer to a question that does not exist).
    Invalid(String),
    /// Something on our side failed; the message is safe to show.
    Internal(String),
    /// Only a logged-in instructor may see this.
    Unauthorized(String),
    /// The page could not reach the server (the network, or the server is down).
    Unreachable(String),
    /// The call itself went wrong between the page and the server (it could not be encoded
    /// or decoded): a bug, or a page older than the server.
    Call(String),
}

impl BackendError {
    /// The error code, as the HTTP API names the same case.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "bad_request",
            Self::Internal(_) => "internal",
            Self::Unauthorized(_) => "login_required",
            Self::Unreachable(_) => "unreachable",
            Self::Call(_) => "bad_call",
        }
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(m)
            | Self::Invalid(m)
            | Self::Internal(m)
            | Self::Unauthorized(m)
            | Self::Unreachable(m)
            | Self::Call(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BackendError {}

impl FromServerFnError for BackendError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(e) => {
                Self::Unreachable(format!("The server could not be reached: {e}"))
            }
            other => Self::Call(other.to_string()),
        }
    }
}
