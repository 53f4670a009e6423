//! Server functions: each takes its inputs, finds the backend in context, calls it once.
//! Fixed endpoints so tests and scripts can rely on the URLs.

use crate::dto::{
    AttemptPair, AttemptRecord, BuildOutcome, CourseMap, Dashboard, EngineStatus, ExerciseView,
    InstructorHome, LearnerRecord, LoginPage, Profile, QuizAnswers, QuizGrade, RegistryPage,
    ResumeOffer,
};
pub use crate::error::BackendError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod ctx {
    use crate::backend::{BackendError, BackendHandle};
    use leptos::prelude::*;

    pub fn backend() -> Result<BackendHandle, BackendError> {
        use_context::<BackendHandle>().ok_or_else(|| {
            BackendError::Internal("The server is misconfigured: no backend in context.".into())
        })
    }

    pub async fn session() -> Result<tower_sessions::Session, BackendError> {
        leptos_axum::extract::<tower_sessions::Session>()
            .await
            .map_err(|e| BackendError::Internal(format!("Your session could not be read: {e}")))
    }

    /// The learner's message, with the HTTP status that fits it.
    pub fn to_server_error(err: BackendError) -> BackendError {
        let status = match err {
            BackendError::NotFound(_) => http::StatusCode::NOT_FOUND,
            BackendError::Invalid(_) => http::StatusCode::BAD_REQUEST,
            BackendError::Internal(_) => http::StatusCode::INTERNAL_SERVER_ERROR,
            BackendError::Unauthorized(_) => http::StatusCode::UNAUTHORIZED,
            BackendError::Unreachable(_) | BackendError::Call(_) | BackendError::Refused(_) => {
                http::StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(status);
        }
        err
    }
}

#[server(prefix = "/fn", endpoint = "course_map")]
pub async fn load_course_map() -> Result<CourseMap, BackendError> {
    let session = ctx::session().await?;
    ctx::backend()?
        .0
        .course_map(&session)
        .await
        .map_err(ctx::to_server_error)
}

#[server(prefix = "/fn", endpoint = "submit_quiz", input = leptos::server_fn::codec::Json)]
pub async fn submit_quiz(
    lesson: String,
    quiz: String,
    answers: QuizAnswers,
) -> Result<QuizGrade, BackendError> {
    let session = ctx::session().await?;
    ctx::backend()?
        .0
        .submit_quiz(&session, &lesson, &quiz, answers)
        .await
        .map_err(ctx::to_server_error)
}

#[server(prefix = "/fn", endpoint = "engine_status")]
pub async fn check_engine() -> Result<EngineStatus, BackendError> {
    Ok(ctx::backend()?.0.engine_status().await)
}

#[server(prefix = "/fn", endpoint = "exercise", input = leptos::server_fn::codec::Json)]
pub async fn exercise(id: String) -> Result<ExerciseView, BackendError> {
    let session = ctx::session().await?;
    ctx::backend()?
        .0
        .exercise(&session, &id)
        .await
        .map_err(ctx::to_server_error)
}

/// Calls one backend method with the session, mapping its error to an HTTP status.
#[cfg(feature = "ssr")]
macro_rules! with_session {
    ($method:ident $(, $arg:expr)*) => {{
        let session = ctx::session().await?;
        ctx::backend()?
            .0
            .$method(&session $(, $arg)*)
            .await
            .map_err(ctx::to_server_error)
    }};
}

#[server(prefix = "/fn", endpoint = "profile")]
pub async fn load_profile() -> Result<Profile, BackendError> {
    with_session!(profile)
}

#[server(prefix = "/fn", endpoint = "registry")]
pub async fn load_registry() -> Result<RegistryPage, BackendError> {
    with_session!(registry)
}

#[server(prefix = "/fn", endpoint = "resume_offer", input = leptos::server_fn::codec::Json)]
pub async fn load_resume_offer(code: String) -> Result<ResumeOffer, BackendError> {
    with_session!(resume_offer, &code)
}

#[server(prefix = "/fn", endpoint = "login_page")]
pub async fn load_login_page() -> Result<LoginPage, BackendError> {
    with_session!(login_page)
}

#[server(prefix = "/fn", endpoint = "instructor_home")]
pub async fn load_instructor_home() -> Result<InstructorHome, BackendError> {
    with_session!(instructor_home)
}

#[server(prefix = "/fn", endpoint = "dashboard", input = leptos::server_fn::codec::Json)]
pub async fn load_dashboard(cohort: String) -> Result<Dashboard, BackendError> {
    with_session!(dashboard, &cohort)
}

#[server(prefix = "/fn", endpoint = "learner_record", input = leptos::server_fn::codec::Json)]
pub async fn load_learner_record(
    cohort: String,
    learner: String,
) -> Result<LearnerRecord, BackendError> {
    with_session!(learner_record, &cohort, &learner)
}

#[server(prefix = "/fn", endpoint = "attempt_pair", input = leptos::server_fn::codec::Json)]
pub async fn load_attempt_pair(left: String, right: String) -> Result<AttemptPair, BackendError> {
    with_session!(attempt_pair, &left, &right)
}

#[server(prefix = "/fn", endpoint = "attempt_record", input = leptos::server_fn::codec::Json)]
pub async fn load_attempt_record(attempt: String) -> Result<AttemptRecord, BackendError> {
    with_session!(attempt_record, &attempt)
}

/// The dashboard under its heading as HTML, for the live page to swap in.
#[server(prefix = "/fn", endpoint = "dashboard_html", input = leptos::server_fn::codec::Json)]
pub async fn dashboard_html(cohort: String) -> Result<String, BackendError> {
    let dashboard: Dashboard = with_session!(dashboard, &cohort)?;
    Ok(crate::markup::dashboard(&dashboard))
}

/// One of the learner's builds as the workbench shows it once over: result panels, checks
/// and attempt chart as HTML (while it runs, only its status).
#[server(prefix = "/fn", endpoint = "build_outcome", input = leptos::server_fn::codec::Json)]
pub async fn load_build_outcome(build: String) -> Result<BuildOutcome, BackendError> {
    let view = with_session!(build, &build)?;
    let exercise = match view.exercise.as_deref() {
        Some(id) if id != crate::dto::PLAYGROUND && view.status.is_finished() => {
            Some(with_session!(exercise, id)?)
        }
        _ => None,
    };
    Ok(crate::markup::build_outcome(&view, exercise.as_ref()))
}

/// The linter's findings for a Dockerfile, as the learner types: the same linter the server
/// runs on every build, kept out of the browser bundle (it would be a tenth of it).
#[server(prefix = "/fn", endpoint = "lint", input = leptos::server_fn::codec::Json)]
pub async fn lint_dockerfile(
    dockerfile: String,
) -> Result<Vec<crate::lint::LintFinding>, BackendError> {
    Ok(crate::lint::lint_as_you_type(&dockerfile))
}
