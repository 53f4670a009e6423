//! The one state every handler and server function shares, and how it answers the UI.

use crate::course::Course;
use crate::engine::Engine;
use app::backend::{Backend, BackendError};
use app::dto::{CourseMap, EngineStatus, LessonView, QuizAnswers, QuizGrade};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::sync::Arc;
use tower_sessions::Session;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub course: Arc<Course>,
    pub engine: Arc<Engine>,
    pub pool: SqlitePool,
}

/// Session key under which a learner's last grade per quiz is kept.
const GRADES_KEY: &str = "quiz_grades";

/// `"<lesson>/<quiz>"` → the learner's last grade.
type Grades = HashMap<String, QuizGrade>;

async fn grades(session: &Session) -> Result<Grades, BackendError> {
    session
        .get::<Grades>(GRADES_KEY)
        .await
        .map(Option::unwrap_or_default)
        .map_err(|e| internal("reading your session", e))
}

fn internal(doing: &str, e: impl std::fmt::Display) -> BackendError {
    tracing::error!("{doing}: {e}");
    BackendError::Internal(format!(
        "Something went wrong on our side while {doing}; please try again."
    ))
}

#[async_trait::async_trait]
impl Backend for AppState {
    fn course_map(&self) -> CourseMap {
        self.course.map()
    }

    async fn lesson(&self, session: &Session, slug: &str) -> Result<LessonView, BackendError> {
        let grades = grades(session).await?;
        self.course
            .lesson_view(slug, |quiz| grades.get(&format!("{slug}/{quiz}")).cloned())
            .ok_or_else(|| BackendError::NotFound(format!("There is no lesson called “{slug}”.")))
    }

    async fn submit_quiz(
        &self,
        session: &Session,
        lesson: &str,
        quiz: &str,
        answers: QuizAnswers,
    ) -> Result<QuizGrade, BackendError> {
        let spec = self.course.quiz(lesson, quiz).ok_or_else(|| {
            BackendError::NotFound(format!("Lesson “{lesson}” has no quiz called “{quiz}”."))
        })?;
        let grade = spec
            .grade(&answers)
            .map_err(|e| BackendError::Invalid(format!("This answer cannot be graded: {e}.")))?;
        let mut all = grades(session).await?;
        all.insert(format!("{lesson}/{quiz}"), grade.clone());
        session
            .insert(GRADES_KEY, all)
            .await
            .map_err(|e| internal("saving your answers", e))?;
        Ok(grade)
    }

    async fn engine_status(&self) -> EngineStatus {
        self.engine.status(&self.course.base_images).await
    }
}
