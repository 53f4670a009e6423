//! Form posts for learners and instructors (each carries the session's CSRF token and
//! answers with a redirect, so they work without JavaScript), the cohort CSV export and the
//! dashboard's live event stream.

use super::AppError;
use crate::auth::{self, csrf_ok, INSTRUCTOR_KEY};
use crate::state::{learner, set_notice, AppState, LEARNER_KEY};
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

/// Longest display name or cohort name accepted.
pub const MAX_NAME_CHARS: usize = 60;

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
    axum::extract::Query(query): axum::extract::Query<super::builds::LayersQuery>,
) -> Result<axum::response::Response, AppError> {
    let (attempt, _, _) = state.cohort_attempt(&session, &id).await?;
    Ok(query.answer(&*super::builds::explore(&state, &attempt.view).await?))
}

async fn check_csrf(session: &Session, token: &str) -> Result<(), AppError> {
    if csrf_ok(session, token).await {
        Ok(())
    } else {
        Err(AppError::Coded(
            StatusCode::FORBIDDEN,
            "csrf",
            "This form has expired or did not come from layerlab. Reload the page and send it again."
                .into(),
        ))
    }
}

fn internal(doing: &str, e: impl std::fmt::Display) -> AppError {
    tracing::error!("{doing}: {e}");
    AppError::Internal(format!(
        "Something went wrong while {doing}; please try again."
    ))
}

/// A name as people type it: trimmed, inner whitespace collapsed, no control characters.
fn clean_name(raw: &str) -> Result<Option<String>, String> {
    let name = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.chars().any(char::is_control) {
        return Err("A name cannot contain control characters.".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "A name can have at most {MAX_NAME_CHARS} characters."
        ));
    }
    Ok((!name.is_empty()).then_some(name))
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
    let me = learner(&state.store, &session).await?;
    match clean_name(&form.name) {
        Ok(name) => {
            state
                .store
                .set_display_name(&me.id, name.as_deref())
                .await
                .map_err(|e| internal("saving your name", e))?;
            state.progress.publish(&me.id);
            let text = match name {
                Some(n) => format!("Saved. Your instructor sees you as “{n}”."),
                None => "Your name was removed.".into(),
            };
            set_notice(&session, true, text).await;
        }
        Err(problem) => set_notice(&session, false, problem).await,
    }
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
    let me = learner(&state.store, &session).await?;
    let joined = state
        .store
        .join_cohort(&me.id, &form.code)
        .await
        .map_err(|e| internal("joining the cohort", e))?;
    match joined {
        Some(cohort) => {
            state.progress.publish(&me.id);
            set_notice(
                &session,
                true,
                format!(
                    "You joined “{}”. Your instructor can now follow your progress.",
                    cohort.name
                ),
            )
            .await;
        }
        None => {
            set_notice(
                &session,
                false,
                format!(
                    "No cohort has the join code “{}”. Check it with your instructor; letters and digits only, dashes optional.",
                    form.code.trim()
                ),
            )
            .await;
        }
    }
    Ok(Redirect::to("/me"))
}

/// Continue as the learner with this resume code: this session becomes theirs.
async fn resume(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CodeForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let found = state
        .store
        .learner_by_resume_code(&form.code)
        .await
        .map_err(|e| internal("looking up the code", e))?;
    let Some(found) = found else {
        set_notice(
            &session,
            false,
            format!("No learner has the resume code “{}”.", form.code.trim()),
        )
        .await;
        return Ok(Redirect::to("/me"));
    };
    // A new session id, so a cookie seen before this point is worth nothing.
    session
        .cycle_id()
        .await
        .map_err(|e| internal("switching your session", e))?;
    session
        .insert(LEARNER_KEY, found.id.clone())
        .await
        .map_err(|e| internal("switching your session", e))?;
    set_notice(
        &session,
        true,
        "Welcome back: this browser now continues your work.",
    )
    .await;
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

async fn login(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Result<Redirect, AppError> {
    check_csrf(&session, &form.csrf).await?;
    let found = state
        .store
        .instructor_by_name(form.name.trim())
        .await
        .map_err(|e| internal("checking your login", e))?;
    let password = form.password;
    let hash = found.as_ref().map_or_else(
        || auth::decoy_hash().to_string(),
        |i| i.password_hash.clone(),
    );
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(instructor) = found.filter(|_| verified) else {
        set_notice(
            &session,
            false,
            "That name and password do not match an instructor.",
        )
        .await;
        let back = match form.next.as_deref() {
            Some(next) => format!("/instructor/login?next={}", auth::url_encode(next)),
            None => "/instructor/login".into(),
        };
        return Ok(Redirect::to(&back));
    };
    session
        .cycle_id()
        .await
        .map_err(|e| internal("logging you in", e))?;
    session
        .insert(INSTRUCTOR_KEY, instructor.id)
        .await
        .map_err(|e| internal("logging you in", e))?;
    Ok(Redirect::to(&auth::safe_next(form.next.as_deref())))
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
        .map_err(|e| internal("logging you out", e))?;
    session
        .cycle_id()
        .await
        .map_err(|e| internal("logging you out", e))?;
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
    let instructor = state.instructor(&session).await?;
    let name = match clean_name(&form.name) {
        Ok(Some(name)) => name,
        Ok(None) => {
            set_notice(&session, false, "Give the cohort a name.").await;
            return Ok(Redirect::to("/instructor"));
        }
        Err(problem) => {
            set_notice(&session, false, problem).await;
            return Ok(Redirect::to("/instructor"));
        }
    };
    let cohort = state
        .store
        .create_cohort(&instructor.id, &name)
        .await
        .map_err(|e| internal("creating the cohort", e))?;
    set_notice(
        &session,
        true,
        format!(
            "Cohort “{}” created. Learners join with the code {}.",
            cohort.name, cohort.join_code
        ),
    )
    .await;
    Ok(Redirect::to(&format!("/instructor/cohorts/{}", cohort.id)))
}

async fn export_csv(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let cohort = state.own_cohort(&session, &id).await?;
    let dashboard =
        crate::cohort::dashboard(&state.store, &state.course, &state.exercises, &cohort)
            .await
            .map_err(|e| internal("exporting the cohort", e))?;
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
    let cohort = state.own_cohort(&session, &id).await?;
    let receiver = state.progress.subscribe();
    let store = state.store.clone();
    let ready = json_event("ready", &cohort.id);
    let first = stream::once(async move { Ok::<_, Infallible>(ready) });
    let live = stream::unfold(receiver, move |mut receiver| {
        let store = store.clone();
        let cohort = cohort.id.clone();
        async move {
            loop {
                let learner = match receiver.recv().await {
                    Ok(learner) => learner,
                    // Missed some: tell the page to reload everything.
                    Err(broadcast::error::RecvError::Lagged(_)) => String::new(),
                    Err(broadcast::error::RecvError::Closed) => return None,
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
                    return Some((Ok(event), receiver));
                }
            }
        }
    });
    use futures::StreamExt;
    Ok(Sse::new(first.chain(live)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Event data is JSON (here a JSON string), like the build API's.
fn json_event(name: &str, data: &str) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_tidied_and_bounded() {
        assert_eq!(
            clean_name("  Ada   Lovelace "),
            Ok(Some("Ada Lovelace".into()))
        );
        assert_eq!(clean_name("   "), Ok(None));
        assert!(clean_name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(clean_name("bell\u{7}").is_err());
    }
}
