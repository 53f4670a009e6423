//! The class registry's API for learners: their `docker login`, Tag & push from the
//! workbench (followed live), and what their namespace holds.

use super::build_api::{json_event, open_stream, FormatQuery};
use super::state::AppState;
use super::AppError;
use crate::learners::{build_owner, known_learner_id};
use crate::pushes::PushEvent;
use app::backend::BackendError;
use app::dto::{PushAccepted, PushRequest, PushView, RegistryView};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use tokio::sync::broadcast;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/registry/login", get(login))
        .route("/api/v1/instructor/registry/login", get(instructor_login))
        .route("/api/v1/registry", get(namespace))
        .route("/api/v1/registry/tag", axum::routing::delete(delete_tag))
        .route("/registry/delete", post(delete_tag_form))
        .route("/api/v1/builds/{id}/push", post(push))
        .route("/api/v1/pushes/{id}", get(show_push))
        .route("/api/v1/pushes/{id}/events", get(push_events))
}

/// `GET /api/v1/registry/login`: `{"registry", "username", "password"}` for `docker login`;
/// the username is the learner's handle and namespace. Without a registry layerlab runs,
/// `503 registry_unavailable` says why; a visitor who is no learner yet gets 404.
async fn login(
    State(state): State<AppState>,
    session: Session,
) -> Result<impl IntoResponse, AppError> {
    login_answer(crate::learners::registry_login(&state.store, &state.registry, &session).await)
}

/// A `docker login` as the API answers it, or why there is none (`503 registry_unavailable`
/// when layerlab runs no registry).
fn login_answer(
    login: Result<crate::registry::Credentials, BackendError>,
) -> Result<impl IntoResponse, AppError> {
    let login = login.map_err(|e| match e {
        BackendError::Invalid(why) => AppError::RegistryUnavailable(why),
        other => other.into(),
    })?;
    // It holds a password: no cache keeps it.
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(login),
    ))
}

/// `GET /api/v1/instructor/registry/login`: the logged-in instructor's
/// `{"registry", "username", "password"}`, which pulls from their cohorts' learners'
/// namespaces and pushes nowhere (the registry refuses the rest). 401 for anyone else.
async fn instructor_login(
    State(state): State<AppState>,
    session: Session,
) -> Result<impl IntoResponse, AppError> {
    login_answer(
        crate::cohort::instructors::registry_login(&state.store, &state.registry, &session).await,
    )
}

/// `POST /api/v1/builds/{id}/push` `{"tag": "my-app:1.0.0"}`: push the build's image to the
/// learner's namespace → `202 {"id", "events"}`.
async fn push(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    body: Result<Json<PushRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<PushAccepted>), AppError> {
    let Json(request) = body.map_err(|rejection| {
        AppError::BadRequest(format!(
            "The request must be JSON like {{\"tag\": \"my-app:1.0.0\"}}: {}",
            rejection.body_text()
        ))
    })?;
    let learner = build_owner(&state.store, &session, &id).await?;
    let build = crate::attempts::learner_build(&state.store, &state.builds, &id, &learner).await?;
    let accepted = state
        .pushes
        .start(state.push_ports(), &learner, &build, &request.tag)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// The push as it stands, if it is the caller's.
fn own_push(
    state: &AppState,
    learner: Option<String>,
    id: &str,
) -> Result<std::sync::Arc<crate::pushes::PushRecord>, AppError> {
    learner
        .and_then(|learner| state.pushes.get(id, &learner))
        .ok_or_else(|| AppError::NotFound(format!("There is no push “{id}” of yours.")))
}

/// `GET /api/v1/pushes/{id}`
/// (`?format=html`: its result as the Tag & push panel shows it.)
async fn show_push(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let learner = known_learner_id(&state.store, &session).await?;
    let view: PushView = own_push(&state, learner, &id)?.view();
    Ok(query.answer(&view, app::markup::push_result))
}

/// `GET /api/v1/pushes/{id}/events`: a `line` event for each line so far and to come, then
/// `done` with the whole result. The stream then ends.
async fn push_events(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let learner = known_learner_id(&state.store, &session).await?;
    let record = own_push(&state, learner.clone(), &id)?;
    let guard = open_stream(&state, learner.as_deref().unwrap_or_default())?;
    let (view, receiver) = record.subscribe();
    let finished = view.status != app::dto::PushStatus::Pushing;
    let backlog: Vec<Event> = view
        .lines
        .iter()
        .map(|line| json_event("line", line))
        .chain(finished.then(|| json_event("done", &view)))
        .collect();
    let live = stream::unfold(
        (receiver, finished, guard),
        |(mut receiver, ended, guard)| async move {
            if ended {
                return None;
            }
            loop {
                match receiver.recv().await {
                    Ok(PushEvent::Line(line)) => {
                        return Some((json_event("line", &line), (receiver, false, guard)))
                    }
                    Ok(PushEvent::Done(view)) => {
                        return Some((json_event("done", &view), (receiver, true, guard)))
                    }
                    // `done` still carries every line.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    let stream = stream::iter(backlog).chain(live).map(Ok);
    Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::default()))
}

/// `GET /api/v1/registry`: the learner's repositories and tags as the registry holds them,
/// with when each was pushed from here and the command to pull it.
async fn namespace(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<RegistryView>, AppError> {
    if !state.registry.hands_out_logins() {
        return Err(AppError::RegistryUnavailable(match state.registry.address() {
            None => "This workshop runs without a registry.".into(),
            Some(address) => format!("The registry at {address} is not run by this workshop, so it does not list your images there."),
        }));
    }
    let learner = known_learner_id(&state.store, &session)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(
                "You have nothing in the registry yet: push a build from an exercise's workbench."
                    .into(),
            )
        })?;
    Ok(Json(
        crate::pushes::namespace_view(&state.store, &state.registry, &learner)
            .await
            .map_err(AppError::RegistryUnavailable)?,
    ))
}

/// Which tag: `my-app:1.0.0`, in the learner's namespace.
#[derive(serde::Deserialize)]
struct TagQuery {
    name: String,
}

/// `DELETE /api/v1/registry/tag?name=my-app:1.0.0`: delete that tag of the learner's →
/// `{"deleted": "<registry>/<handle>/my-app:1.0.0", "message"}`; the registry's garbage
/// collection then frees what no other tag uses. `400 bad_tag` for no such tag.
async fn delete_tag(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<TagQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let learner = known_learner_id(&state.store, &session)
        .await?
        .ok_or_else(|| AppError::NotFound("You have no registry yet.".into()))?;
    let message = state
        .pushes
        .delete_tag(&state.registry, &learner, &query.name)
        .await?;
    Ok(Json(
        serde_json::json!({ "deleted": query.name, "message": message }),
    ))
}

#[derive(serde::Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    name: String,
}

/// The registry page's Delete button (a form, so it works without JavaScript): back to the
/// page, which says what happened.
async fn delete_tag_form(
    State(state): State<AppState>,
    session: Session,
    axum::Form(form): axum::Form<DeleteForm>,
) -> Result<axum::response::Redirect, AppError> {
    super::people::check_csrf(&session, &form.csrf).await?;
    let learner = known_learner_id(&state.store, &session)
        .await?
        .ok_or_else(|| AppError::NotFound("You have no registry yet.".into()))?;
    let outcome = state
        .pushes
        .delete_tag(&state.registry, &learner, &form.name)
        .await;
    match outcome {
        Ok(message) => crate::auth::set_notice(&session, true, message).await,
        Err(refused) => crate::auth::set_notice(&session, false, refused.to_string()).await,
    }
    Ok(axum::response::Redirect::to("/registry"))
}
