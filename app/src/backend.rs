//! The port the UI's server functions call: the server crate implements it and provides it
//! through Leptos context, so `app` never depends on bollard, sqlx or the course loader.

use crate::dto::{
    AttemptPair, AttemptRecord, BuildView, CourseMap, Dashboard, EngineStatus, ExerciseView,
    InstructorHome, LearnerRecord, LoginPage, Profile, QuizAnswers, QuizGrade, RegistryPage,
    ResumeOffer,
};
use std::sync::Arc;
use tower_sessions::Session;

pub use crate::error::BackendError;

#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The course map, with what this learner has completed.
    async fn course_map(&self, session: &Session) -> Result<CourseMap, BackendError>;
    /// Grade a submission and remember it for this learner.
    async fn submit_quiz(
        &self,
        session: &Session,
        lesson: &str,
        quiz: &str,
        answers: QuizAnswers,
    ) -> Result<QuizGrade, BackendError>;
    async fn engine_status(&self) -> EngineStatus;
    /// An exercise's statement, starter files and checks (with this learner's progress on
    /// it); `playground` gives the free one.
    async fn exercise(&self, session: &Session, id: &str) -> Result<ExerciseView, BackendError>;
    /// One of the learner's builds, running or stored.
    async fn build(&self, session: &Session, id: &str) -> Result<BuildView, BackendError>;

    /// The learner's name, cohort, resume code and totals.
    async fn profile(&self, session: &Session) -> Result<Profile, BackendError>;
    /// The learner's namespace in the class registry, or why it cannot be shown.
    async fn registry(&self, session: &Session) -> Result<RegistryPage, BackendError>;
    /// Whose work a resume code continues.
    async fn resume_offer(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<ResumeOffer, BackendError>;

    /// What the login form needs.
    async fn login_page(&self, session: &Session) -> Result<LoginPage, BackendError>;
    /// The logged-in instructor's cohorts.
    async fn instructor_home(&self, session: &Session) -> Result<InstructorHome, BackendError>;
    /// The progress matrix of one of the instructor's cohorts.
    async fn dashboard(&self, session: &Session, cohort: &str) -> Result<Dashboard, BackendError>;
    /// Every attempt and quiz answer of a learner in one of the instructor's cohorts.
    async fn learner_record(
        &self,
        session: &Session,
        cohort: &str,
        learner: &str,
    ) -> Result<LearnerRecord, BackendError>;
    /// One attempt of a learner in one of the instructor's cohorts, in full.
    async fn attempt_record(
        &self,
        session: &Session,
        attempt: &str,
    ) -> Result<AttemptRecord, BackendError>;
    /// Two attempts at the same exercise side by side: the learner's own, or (for their
    /// instructor) a learner's in one of their cohorts.
    async fn attempt_pair(
        &self,
        session: &Session,
        left: &str,
        right: &str,
    ) -> Result<AttemptPair, BackendError>;
}

/// How the backend travels through Leptos context.
#[derive(Clone)]
pub struct BackendHandle(pub Arc<dyn Backend>);
