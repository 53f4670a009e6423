//! How the domain modules fail, in the UI port's words ([`BackendError`]): the few errors
//! several of them give, written once, and [`internal`] for our own faults (logged here, with
//! what was being done; the person reads only that it failed on our side).

use app::backend::BackendError;

/// One of the learner's builds that does not exist, or is not theirs: the same answer.
pub fn no_such_build(id: &str) -> BackendError {
    BackendError::NotFound(format!("There is no build “{id}” of yours."))
}

pub fn no_such_lesson(slug: &str) -> BackendError {
    BackendError::NotFound(format!("There is no lesson called “{slug}”."))
}

/// An attempt outside the instructor's cohorts, or one that does not exist: the same answer.
pub fn no_such_attempt() -> BackendError {
    BackendError::NotFound("There is no such attempt in your cohorts.".into())
}

/// Our fault while `doing` something (“loading your progress”): the cause is logged, the
/// person is told to try again.
pub fn internal(doing: &str, e: impl std::fmt::Display) -> BackendError {
    tracing::error!("{doing}: {e}");
    BackendError::Internal(format!(
        "Something went wrong on our side while {doing}; please try again."
    ))
}

/// `result.or_internal("loading your progress")?`: [`internal`] for any error that is ours.
pub trait OrInternal<T> {
    fn or_internal(self, doing: &str) -> Result<T, BackendError>;
}

impl<T, E: std::fmt::Display> OrInternal<T> for Result<T, E> {
    fn or_internal(self, doing: &str) -> Result<T, BackendError> {
        self.map_err(|e| internal(doing, e))
    }
}
