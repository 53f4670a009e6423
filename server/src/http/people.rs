//! Form posts for learners and instructors (each carries the session's CSRF token and
//! answers with a redirect, so they work without JavaScript), the cohort CSV export and the
//! dashboard's live event stream.

use super::admission::{in_words, refusal, ClientAddress};
use super::state::AppState;
use super::AppError;
use crate::auth::{self, csrf_ok, INSTRUCTOR_KEY};
use crate::auth::{leave_notice, set_notice};
use crate::cohort::instructors::{self, LoggedIn};
use crate::failure::OrInternal;
use crate::learners;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use futures::stream::{self, Stream};
use serde::Deserialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me/name", post(set_name))
        .route("/me/join", post(join))
        .route("/resume", post(resume))
        .route("/instructor/login", post(login))
        .route("/instructor/logout", post(logout))
        .route("/instructor/cohorts", post(create_cohort))
        .route("/instructor/cohorts/{id}/export.csv", get(export_csv))
        .route("/api/v1/instructor/cohorts/{id}/events", get(cohort_events))
        .route(
            "/api/v1/instructor/attempts/{id}/layers",
            get(attempt_layers),
        )
}

/// The layer explorer for an attempt by a learner in one of the instructor's cohorts.
async fn attempt_layers(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<super::build_api::FormatQuery>,
) -> Result<axum::response::Response, AppError> {
    let (attempt, _, _) =
        crate::cohort::instructors::cohort_attempt(&state.store, &session, &id).await?;
    Ok(query.answer(
        &*super::build_api::explore(&state, &attempt.view).await?,
        app::markup::layers,
    ))
}

pub(super) async fn check_csrf(session: &Session, token: &str) -> Result<(), AppError> {
    if csrf_ok(session, token).await {
        Ok(())
    } else {
        Err(AppError::FormExpired)
    }
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

async fn set_name(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<NameForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let notice = learners::rename(&state.store, &state.progress, &session, &form.name).await?;
    leave_notice(&session, notice).await;
    Ok(Redirect::to("/me"))
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    code: String,
}

async fn join(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let notice = learners::join(&state.store, &state.progress, &session, &form.code).await?;
    leave_notice(&session, notice).await;
    Ok(Redirect::to("/me"))
}

/// Continue as the learner with this resume code: this session becomes theirs.
async fn resume(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let notice = learners::resume(&state.store, &session, &form.code).await?;
    leave_notice(&session, notice).await;
    Ok(Redirect::to("/me"))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    name: String,
    password: String,
    next: Option<String>,
}

/// An instructor's login. Failures make the next attempt from the same name or address wait
/// (whatever password it carries: a guess during the wait costs no password check); password
/// checks at once are bounded, as each takes argon2's memory and a core.
async fn login(
    State(state): State<AppState>,
    session: Session,
    client: Option<axum::Extension<ClientAddress>>,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let address = client.map_or(ClientAddress::Unknown, |c| c.0).key();
    let throttle = &state.edge.login;
    let login = instructors::LogIn {
        name: &form.name,
        password: form.password.clone(),
        address: &address,
    };
    let (code, message, seconds) = match instructors::log_in(&state.store, throttle, &session, login).await? {
        LoggedIn::Yes => {
            return Ok(Redirect::to(&auth::safe_next(form.next.as_deref())).into_response())
        }
        LoggedIn::No(notice) => {
            leave_notice(&session, notice).await;
            let back = match form.next.as_deref() {
                Some(next) => format!("/instructor/login?next={}", auth::url_encode(next)),
                None => "/instructor/login".into(),
            };
            return Ok(Redirect::to(&back).into_response());
        }
        LoggedIn::Throttled { seconds } => (
            "login_throttled",
            format!(
                "Too many failed logins for this name or from your address. Wait {} before trying again; each failure makes the wait longer, and logging in resets it.",
                in_words(seconds)
            ),
            seconds,
        ),
        LoggedIn::Busy => (
            "login_busy",
            "Too many logins are being checked right now. Try again in a second.".to_string(),
            1,
        ),
    };
    Ok(refusal(
        &headers,
        StatusCode::TOO_MANY_REQUESTS,
        code,
        &message,
        Some(seconds),
    ))
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(session: Session, Form(form): Form<TokenForm>) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    session
        .remove::<String>(INSTRUCTOR_KEY)
        .await
        .or_internal("logging you out")?;
    session.cycle_id().await.or_internal("logging you out")?;
    set_notice(&session, true, "You are logged out.").await;
    Ok(Redirect::to("/instructor/login"))
}

#[derive(Deserialize)]
struct CohortForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

async fn create_cohort(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CohortForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let (notice, next) = instructors::create_cohort(&state.store, &session, &form.name).await?;
    leave_notice(&session, notice).await;
    Ok(Redirect::to(&next))
}

async fn export_csv(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let cohort = crate::cohort::instructors::own_cohort(&state.store, &session, &id).await?;
    let dashboard =
        crate::cohort::dashboard(&state.store, &state.course, &state.exercises, &cohort)
            .await
            .or_internal("exporting the cohort")?;
    let file: String = cohort
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}-progress.csv\""),
            ),
        ],
        crate::cohort::csv(&dashboard),
    )
        .into_response())
}

/// `ready` once, then `progress` events (data: the learner's id as a JSON string) whenever a learner of this cohort finishes an
/// attempt, answers a quiz, joins or renames themselves. The dashboard reloads its matrix.
async fn cohort_events(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let cohort = crate::cohort::instructors::own_cohort(&state.store, &session, &id).await?;
    let instructor = crate::cohort::instructors::instructor(&state.store, &session).await?;
    let guard = super::build_api::open_stream(&state, &format!("instructor:{}", instructor.id))?;
    let receiver = state.progress.subscribe();
    let store = state.store.clone();
    let ready = json_event("ready", &cohort.id);
    let first = stream::once(async move { Ok::<_, Infallible>(ready) });
    // Whether the instructor's password is still the one this stream was opened under: a
    // reset (by another process) ends the stream at the next event or within a minute.
    let still_valid = {
        let store = state.store.clone();
        let (id, version) = (instructor.id.clone(), instructor.credential_version);
        move || {
            let (store, id) = (store.clone(), id.clone());
            async move {
                store
                    .instructor(&id)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|i| i.credential_version == version)
            }
        }
    };
    let live = stream::unfold((receiver, guard), move |(mut receiver, guard)| {
        let store = store.clone();
        let cohort = cohort.id.clone();
        let still_valid = still_valid.clone();
        async move {
            loop {
                let next = tokio::time::timeout(CREDENTIAL_RECHECK, receiver.recv()).await;
                if !still_valid().await {
                    return None;
                }
                let learner = match next {
                    Ok(Ok(learner)) => learner,
                    // Missed some: tell the page to reload everything.
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => String::new(),
                    Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                    Err(_) => continue,
                };
                let member = learner.is_empty()
                    || store
                        .learner(&learner)
                        .await
                        .ok()
                        .flatten()
                        .is_some_and(|l| l.cohort_id.as_deref() == Some(cohort.as_str()));
                if member {
                    let event = json_event("progress", &learner);
                    return Some((Ok(event), (receiver, guard)));
                }
            }
        }
    });
    use futures::StreamExt;
    Ok(Sse::new(first.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// How often an idle dashboard stream checks that its instructor's password is unchanged.
const CREDENTIAL_RECHECK: Duration = Duration::from_secs(30);

/// Event data is JSON (here a JSON string), like the build API's.
fn json_event(name: &str, data: &str) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("\"\""))
}
