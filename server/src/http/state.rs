//! The one state every handler and server function shares, and the UI port
//! ([`Backend`]) answered by the domain modules: [`crate::lessons`], [`crate::attempts`],
//! [`crate::learners`] and [`crate::cohort`]. Nothing here decides anything.

use crate::builds::Builds;
use crate::cohort::{instructors, record};
use crate::course::Course;
use crate::engine::Engine;
use crate::exercise::Exercises;
use crate::progress::ProgressSender;
use crate::store::Store;
use crate::{attempts, learners, lessons};
use app::backend::{Backend, BackendError};
use app::dto::{
    AttemptPair, AttemptRecord, BuildView, CourseMap, Dashboard, EngineStatus, ExerciseView,
    InstructorHome, LearnerRecord, LoginPage, Profile, QuizAnswers, QuizGrade, RegistryPage,
    ResumeOffer,
};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use tower_sessions::Session;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub course: Arc<Course>,
    pub engine: Arc<Engine>,
    pub exercises: Arc<Exercises>,
    pub builds: Arc<Builds>,
    pub store: Store,
    pub progress: ProgressSender,
    /// Lesson pages as rendered, shared by learners who see the same (`http::lesson_pages`).
    pub lesson_pages: Arc<super::lesson_pages::LessonPages>,
    /// Limits per client address and per person at the HTTP edge (`http::admission`).
    pub edge: Arc<super::admission::Edge>,
    /// How often each learner's drafts may be saved.
    pub drafts: Arc<crate::workbench::DraftGate>,
    /// The class registry (embedded, external or off).
    pub registry: Arc<crate::registry::Registry>,
    /// Pushes to it from the workbench, under way and recently finished.
    pub pushes: Arc<crate::pushes::Pushes>,
    /// Each learner's docker console.
    pub consoles: Arc<crate::console::Consoles>,
    /// The answers console exercises were set up with, per learner.
    pub set_ups: Arc<crate::console_work::SetUps>,
}

impl AppState {
    /// The course's base images and every exercise's, without repeats.
    pub fn base_images(&self) -> Vec<String> {
        self.exercises.base_images(&self.course)
    }

    /// What a push needs of the server.
    pub fn push_ports(&self) -> crate::pushes::PushPorts {
        crate::pushes::PushPorts {
            store: self.store.clone(),
            builds: self.builds.clone(),
            engine: self.engine.clone(),
            registry: self.registry.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Backend for AppState {
    async fn course_map(&self, session: &Session) -> Result<CourseMap, BackendError> {
        lessons::course_map(&self.store, &self.course, &self.exercises, session).await
    }

    async fn submit_quiz(
        &self,
        session: &Session,
        lesson: &str,
        quiz: &str,
        answers: QuizAnswers,
    ) -> Result<QuizGrade, BackendError> {
        let (store, course) = (&self.store, &self.course);
        lessons::submit_quiz(
            store,
            course,
            &self.progress,
            session,
            lesson,
            quiz,
            answers,
        )
        .await
    }

    async fn engine_status(&self) -> EngineStatus {
        self.engine.recent_status(&self.base_images()).await
    }

    async fn exercise(&self, session: &Session, id: &str) -> Result<ExerciseView, BackendError> {
        let (store, course, exercises) = (&self.store, &self.course, &self.exercises);
        attempts::exercise_view(store, course, exercises, &self.builds, session, id).await
    }

    async fn build(&self, session: &Session, id: &str) -> Result<BuildView, BackendError> {
        let learner = learners::build_owner(&self.store, session, id).await?;
        attempts::learner_build(&self.store, &self.builds, id, &learner).await
    }

    async fn profile(&self, session: &Session) -> Result<Profile, BackendError> {
        learners::profile(&self.store, &self.course, &self.exercises, session).await
    }

    async fn registry(&self, session: &Session) -> Result<RegistryPage, BackendError> {
        crate::pushes::registry_page(&self.store, &self.registry, session).await
    }

    async fn resume_offer(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<ResumeOffer, BackendError> {
        learners::resume_offer(&self.store, session, code).await
    }

    async fn login_page(&self, session: &Session) -> Result<LoginPage, BackendError> {
        Ok(LoginPage {
            csrf: crate::auth::page_csrf(session).await?,
            notice: crate::auth::take_notice(session).await,
        })
    }

    async fn instructor_home(&self, session: &Session) -> Result<InstructorHome, BackendError> {
        instructors::home(&self.store, &self.registry, session).await
    }

    async fn dashboard(&self, session: &Session, cohort: &str) -> Result<Dashboard, BackendError> {
        let (store, course, exercises) = (&self.store, &self.course, &self.exercises);
        instructors::dashboard(store, course, exercises, session, cohort).await
    }

    async fn learner_record(
        &self,
        session: &Session,
        cohort: &str,
        learner: &str,
    ) -> Result<LearnerRecord, BackendError> {
        let (store, course, exercises) = (&self.store, &self.course, &self.exercises);
        let registry = &self.registry;
        record::learner_record(store, course, exercises, registry, session, cohort, learner).await
    }

    async fn attempt_pair(
        &self,
        session: &Session,
        left: &str,
        right: &str,
    ) -> Result<AttemptPair, BackendError> {
        attempts::attempt_pair(&self.store, &self.exercises, session, left, right).await
    }

    async fn attempt_record(
        &self,
        session: &Session,
        attempt: &str,
    ) -> Result<AttemptRecord, BackendError> {
        attempts::attempt_record(&self.store, &self.exercises, session, attempt).await
    }
}
