//! Server functions: each takes its inputs, finds the backend in context, calls it once.
//! Fixed endpoints so tests and scripts can rely on the URLs.

use crate::dto::{CourseMap, EngineStatus, ExerciseView, LessonView, QuizAnswers, QuizGrade};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ctx {
    use crate::backend::{BackendError, BackendHandle};
    use leptos::prelude::*;

    pub fn backend() -> Result<BackendHandle, ServerFnError> {
        use_context::<BackendHandle>()
            .ok_or_else(|| ServerFnError::new("the server is misconfigured: no backend in context"))
    }

    pub async fn session() -> Result<tower_sessions::Session, ServerFnError> {
        leptos_axum::extract::<tower_sessions::Session>()
            .await
            .map_err(|e| ServerFnError::new(format!("no learner session: {e}")))
    }

    /// The learner's message, with the HTTP status that fits it.
    pub fn to_server_error(err: BackendError) -> ServerFnError {
        let status = match err {
            BackendError::NotFound(_) => http::StatusCode::NOT_FOUND,
            BackendError::Invalid(_) => http::StatusCode::BAD_REQUEST,
            BackendError::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(status);
        }
        ServerFnError::new(err.to_string())
    }
}

#[server(prefix = "/fn", endpoint = "course_map")]
pub async fn load_course_map() -> Result<CourseMap, ServerFnError> {
    let session = ctx::session().await?;
    ctx::backend()?
        .0
        .course_map(&session)
        .await
        .map_err(ctx::to_server_error)
}

#[server(prefix = "/fn", endpoint = "lesson", input = leptos::server_fn::codec::Json)]
pub async fn lesson(slug: String) -> Result<LessonView, ServerFnError> {
    let session = ctx::session().await?;
    ctx::backend()?
        .0
        .lesson(&session, &slug)
        .await
        .map_err(ctx::to_server_error)
}

#[server(prefix = "/fn", endpoint = "submit_quiz", input = leptos::server_fn::codec::Json)]
pub async fn submit_quiz(
    lesson: String,
    quiz: String,
    answers: QuizAnswers,
) -> Result<QuizGrade, ServerFnError> {
    let session = ctx::session().await?;
    ctx::backend()?
        .0
        .submit_quiz(&session, &lesson, &quiz, answers)
        .await
        .map_err(ctx::to_server_error)
}

#[server(prefix = "/fn", endpoint = "engine_status")]
pub async fn check_engine() -> Result<EngineStatus, ServerFnError> {
    Ok(ctx::backend()?.0.engine_status().await)
}

#[server(prefix = "/fn", endpoint = "exercise", input = leptos::server_fn::codec::Json)]
pub async fn exercise(id: String) -> Result<ExerciseView, ServerFnError> {
    ctx::backend()?
        .0
        .exercise(&id)
        .map_err(ctx::to_server_error)
}
