//! The port the UI's server functions call: the server crate implements it and provides it
//! through Leptos context, so `app` never depends on bollard, sqlx or the course loader.

use crate::dto::{CourseMap, EngineStatus, ExerciseView, LessonView, QuizAnswers, QuizGrade};
use std::sync::Arc;
use tower_sessions::Session;

/// What can go wrong when a learner asks for something, in words shown to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    /// No such lesson or quiz.
    NotFound(String),
    /// The request itself is wrong (e.g. an answer to a question that does not exist).
    Invalid(String),
    /// Something on our side failed; the message is safe to show.
    Internal(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(m) | Self::Invalid(m) | Self::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BackendError {}

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The course map, with what this learner has completed.
    async fn course_map(&self, session: &Session) -> Result<CourseMap, BackendError>;
    /// The lesson with the learner's last grade for each of its quizzes.
    async fn lesson(&self, session: &Session, slug: &str) -> Result<LessonView, BackendError>;
    /// Grade a submission and remember it for this learner.
    async fn submit_quiz(
        &self,
        session: &Session,
        lesson: &str,
        quiz: &str,
        answers: QuizAnswers,
    ) -> Result<QuizGrade, BackendError>;
    async fn engine_status(&self) -> EngineStatus;
    /// An exercise's statement, starter files and checks; `playground` gives the free one.
    fn exercise(&self, id: &str) -> Result<ExerciseView, BackendError>;
}

/// How the backend travels through Leptos context.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);
