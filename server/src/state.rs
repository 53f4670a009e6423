//! The one state every handler and server function shares, and how it answers the UI.

use crate::builds::Builds;
use crate::course::Course;
use crate::engine::Engine;
use crate::exercise::{playground_view, Exercises, PLAYGROUND};
use app::backend::{Backend, BackendError};
use app::dto::{
    BuildView, CourseMap, EngineStatus, ExerciseView, LessonView, QuizAnswers, QuizGrade,
};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tower_sessions::Session;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub course: Arc<Course>,
    pub engine: Arc<Engine>,
    pub exercises: Arc<Exercises>,
    pub builds: Arc<Builds>,
    pub pool: SqlitePool,
}

/// Session key holding the ids of exercises the learner has passed.
const PASSED_KEY: &str = "exercises_passed";

/// Remember a finished build that passed every check of its exercise. Called where the
/// learner reads a result (the `done` event, `GET /api/v1/builds/<id>`), and saved at once
/// because an event stream's response has left before the build ends.
pub async fn record_result(session: &Session, view: &BuildView) -> Result<(), BackendError> {
    let passed = view.status == app::dto::BuildStatus::Succeeded
        && view
            .checks
            .as_ref()
            .is_some_and(|c| !c.is_empty() && c.iter().all(|c| c.passed));
    let Some(exercise) = view.exercise.as_deref().filter(|e| *e != PLAYGROUND) else {
        return Ok(());
    };
    if !passed {
        return Ok(());
    }
    let mut done = passed_exercises(session).await?;
    if done.insert(exercise.to_string()) {
        session
            .insert(PASSED_KEY, done)
            .await
            .map_err(|e| internal("saving your progress", e))?;
        session
            .save()
            .await
            .map_err(|e| internal("saving your progress", e))?;
    }
    Ok(())
}

async fn passed_exercises(session: &Session) -> Result<BTreeSet<String>, BackendError> {
    session
        .get::<BTreeSet<String>>(PASSED_KEY)
        .await
        .map(Option::unwrap_or_default)
        .map_err(|e| internal("reading your session", e))
}

/// Session key holding the learner's id, which labels their builds.
const LEARNER_KEY: &str = "learner_id";

/// The learner behind this session, made up on first use. Until accounts exist (issue 5) the
/// session is the learner.
pub async fn learner_id(session: &Session) -> Result<String, BackendError> {
    if let Some(id) = session
        .get::<String>(LEARNER_KEY)
        .await
        .map_err(|e| internal("reading your session", e))?
    {
        return Ok(id);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    session
        .insert(LEARNER_KEY, id.clone())
        .await
        .map_err(|e| internal("starting your session", e))?;
    Ok(id)
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

impl AppState {
    /// The course's base images and every exercise's, without repeats.
    pub fn base_images(&self) -> Vec<String> {
        self.exercises.base_images(&self.course)
    }
}

#[async_trait::async_trait]
impl Backend for AppState {
    async fn course_map(&self, session: &Session) -> Result<CourseMap, BackendError> {
        let grades = grades(session).await?;
        let passed = passed_exercises(session).await?;
        let mut map = self.course.map(&self.exercises);
        for module in &mut map.modules {
            for lesson in &mut module.lessons {
                let quizzes = self.course.quiz_ids(&lesson.slug);
                lesson.done = !quizzes.is_empty()
                    && quizzes.iter().all(|q| {
                        grades
                            .get(&format!("{}/{q}", lesson.slug))
                            .is_some_and(|g| g.correct == g.total)
                    });
            }
            for exercise in &mut module.exercises {
                exercise.done = passed.contains(&exercise.id);
            }
        }
        Ok(map)
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
        self.engine.status(&self.base_images()).await
    }

    fn exercise(&self, id: &str) -> Result<ExerciseView, BackendError> {
        if id == PLAYGROUND {
            return Ok(playground_view());
        }
        self.exercises
            .get(id)
            .map(|e| e.view(&self.course))
            .ok_or_else(|| BackendError::NotFound(format!("There is no exercise called “{id}”.")))
    }
}
