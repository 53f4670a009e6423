//! The one error the UI's server functions return ([`BackendError`]), on the server and in
//! the browser alike: the server's port answers with it, and it travels whole.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::Bytes;
use serde::{Deserialize, Serialize};

/// What can go wrong when a learner asks for something, in words shown to them. It is also
/// what every server function returns, whole (JSON), so the page knows which case it met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", content = "message")]
pub enum BackendError {
    /// No such lesson or quiz.
    #[serde(rename = "not_found")]
    NotFound(String),
    /// The request itself is wrong (e.g. an answer to a question that does not exist).
    #[serde(rename = "bad_request")]
    Invalid(String),
    /// Something on our side failed; the message is safe to show.
    #[serde(rename = "internal")]
    Internal(String),
    /// Only a logged-in instructor may see this.
    #[serde(rename = "login_required")]
    Unauthorized(String),
    /// The page could not reach the server (the network, or the server is down).
    #[serde(rename = "unreachable")]
    Unreachable(String),
    /// The call itself went wrong between the page and the server (it could not be encoded
    /// or decoded): a bug, or a page older than the server.
    #[serde(rename = "bad_call")]
    Call(String),
    /// The server's edge refused the call before it ran (too many requests, say): the
    /// API's `{"error": {"code", "message"}}`, its message kept.
    #[serde(rename = "refused")]
    Refused(String),
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
            Self::Refused(_) => "refused",
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
            | Self::Call(m)
            | Self::Refused(m) => f.write_str(m),
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

    /// Our own error, or the API's `{"error": {"code", "message"}}` that the server's edge
    /// answers with before a server function runs (a rate limit, say): its message is kept.
    fn de(data: Bytes) -> Self {
        #[derive(Deserialize)]
        struct Api {
            error: ApiError,
        }
        #[derive(Deserialize)]
        struct ApiError {
            message: String,
        }
        if let Ok(error) = serde_json::from_slice::<BackendError>(&data) {
            return error;
        }
        match serde_json::from_slice::<Api>(&data) {
            Ok(api) => Self::Refused(api.error.message),
            Err(e) => Self::Call(format!("the server's answer could not be read: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_travel_whole_with_the_apis_codes() {
        let error = BackendError::Unauthorized("Log in first.".into());
        let bytes = <BackendError as FromServerFnError>::ser(&error);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        assert_eq!(
            text,
            r#"{"code":"login_required","message":"Log in first."}"#
        );
        assert_eq!(error.code(), "login_required");
        assert_eq!(<BackendError as FromServerFnError>::de(bytes), error);
    }

    #[test]
    fn the_edges_refusal_keeps_its_message_and_garbage_says_so() {
        let refusal = Bytes::from_static(
            br#"{"error":{"code":"rate_limited","message":"Try again in 3 s."}}"#,
        );
        assert_eq!(
            <BackendError as FromServerFnError>::de(refusal),
            BackendError::Refused("Try again in 3 s.".into())
        );
        let garbage = <BackendError as FromServerFnError>::de(Bytes::from_static(b"<html>"));
        assert!(
            matches!(&garbage, BackendError::Call(m) if m.contains("could not be read")),
            "{garbage:?}"
        );
    }
}
