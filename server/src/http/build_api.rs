//! The build API: `POST /api/v1/builds`, `GET /api/v1/builds/{id}` and the live
//! `GET /api/v1/builds/{id}/events` (Server-Sent Events). The UI uses these same endpoints.

use super::admission::{ClientAddress, StreamGuard};
use super::state::AppState;
use super::AppError;
use crate::builds::{status_of, BuildEvent};
use crate::learners::{build_owner, learner_id};
use app::dto::{BuildAccepted, BuildRequest, BuildView, StatusUpdate};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use tokio::sync::broadcast;
use tower_sessions::Session;

/// Largest request body accepted; the context limits inside it are checked separately.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/builds", post(submit))
        .route("/api/v1/builds/{id}", get(show))
        .route("/api/v1/builds/{id}/events", get(events))
        .route("/api/v1/builds/{id}/layers", get(layers))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// Builds a minute each learner may start whatever their address's allowance
/// (`--builds-per-address`) says; past them their builds count against it.
pub const BUILDS_A_MINUTE_PAST_THE_ADDRESS_LIMIT: usize = 3;

async fn submit(
    State(state): State<AppState>,
    session: Session,
    client: Option<axum::Extension<ClientAddress>>,
    body: Result<Json<BuildRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<BuildAccepted>), AppError> {
    let Json(request) = body.map_err(|rejection| match rejection {
        JsonRejection::BytesRejection(_) => AppError::TooLarge(format!(
            "The request is larger than {} MiB.",
            MAX_BODY_BYTES / 1024 / 1024
        )),
        other => AppError::BadRequest(format!(
            "The request must be JSON like {{\"exercise\": null, \"files\": {{\"Dockerfile\": \"FROM busybox\"}}}}: {}",
            other.body_text()
        )),
    })?;
    let learner = learner_id(&state.store, &session).await?;
    // Learners cost nothing to make, so their address is held to a limit of its own; but
    // each learner's first few builds a minute pass it, so that one learner (or a few)
    // behind a shared address cannot use it up for the others.
    let client = client.map_or(ClientAddress::Unknown, |c| c.0);
    let charged = state.builds.recent_builds(&learner) >= BUILDS_A_MINUTE_PAST_THE_ADDRESS_LIMIT;
    if !charged {
        // Not counted against the address.
    } else if let Err(wait) = state.edge.take_build(&client) {
        return Err(AppError::AddressRateLimited {
            retry_after: wait,
            message: format!(
                "Builds from your network address reached {} in the last minute, the most one address may start (everyone behind it counts together). Try again in {}.",
                state.edge.settings.builds_per_minute,
                super::admission::in_words(wait)
            ),
        });
    }
    let submitted = state.builds.submit(&learner, &client.key(), request).await;
    if submitted.is_err() && charged {
        state.edge.refund_build(&client);
    }
    let accepted = submitted?;

    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Json<BuildView>, AppError> {
    let learner = build_owner(&state.store, &session, &id).await?;
    Ok(Json(
        crate::attempts::learner_build(&state.store, &state.builds, &id, &learner).await?,
    ))
}

/// How an answer a page also shows is sent: JSON, or `?format=html` for the page's fragment
/// (the layer explorer's report, a push's result).
#[derive(Debug, Default, serde::Deserialize)]
pub struct FormatQuery {
    #[serde(default)]
    format: Option<String>,
}

impl FormatQuery {
    /// `value` as JSON, or as the page's HTML fragment (`html`) when asked for.
    pub fn answer<T: serde::Serialize>(
        &self,
        value: &T,
        html: impl FnOnce(&T) -> String,
    ) -> Response {
        if self.format.as_deref() == Some("html") {
            Html(html(value)).into_response()
        } else {
            Json(value).into_response()
        }
    }
}

/// The layer explorer's data for one of the learner's finished builds.
async fn layers(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(query): Query<FormatQuery>,
) -> Result<Response, AppError> {
    let learner = build_owner(&state.store, &session, &id).await?;
    let view = crate::attempts::learner_build(&state.store, &state.builds, &id, &learner).await?;
    Ok(query.answer(&*explore(&state, &view).await?, app::markup::layers))
}

/// The layers of a build's image, or why not, as an HTTP answer (learners and instructors).
pub async fn explore(
    state: &AppState,
    view: &BuildView,
) -> Result<std::sync::Arc<app::dto::LayerReport>, AppError> {
    Ok(state.builds.layers(view).await?)
}

/// The build so far (a `status` event, then every `log` line), then live events until `done`,
/// which carries the whole result. The stream then ends; clients should not reconnect. The
/// backlog is sent from the record's shared chunks, line by line as the client reads, and a
/// learner may hold only so many streams open at once.
async fn events(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let learner = build_owner(&state.store, &session, &id).await?;
    let guard = open_stream(&state, &learner)?;
    let Some(record) = state.builds.get(&id, &learner) else {
        // A build from before a restart: replay it from the store, then end.
        let attempt = crate::attempts::stored_attempt(&state.store, &id, &learner).await?;
        let first = status_event(&status_of(&attempt.view));
        let last = json_event("done", &attempt.view);
        let lines = attempt.log.into_iter().map(|line| json_event("log", &line));
        let events = std::iter::once(first)
            .chain(lines)
            .chain(std::iter::once(last));
        let stream = stream::iter(events).map(move |event| {
            let _open = &guard;
            Ok(event)
        });
        return Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::default()));
    };
    let (view, chunks, receiver) = record.subscribe();
    let finished = view.status.is_finished();
    let head = std::iter::once(status_event(&status_of(&view)));
    let lines = chunks
        .into_iter()
        .flat_map(|chunk| (0..chunk.len()).map(move |i| json_event("log", &chunk[i])));
    let tail = finished.then(|| json_event("done", &view));
    let backlog = head.chain(lines).chain(tail);
    let live = stream::unfold(
        (receiver, finished, guard),
        move |(mut receiver, ended, guard)| async move {
            if ended {
                return None;
            }
            loop {
                match receiver.recv().await {
                    Ok(event) => {
                        let done = matches!(event, BuildEvent::Done(_));
                        return Some((to_event(&event), (receiver, done, guard)));
                    }
                    // A subscriber this far behind misses lines; `done` still carries the result.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    let stream = stream::iter(backlog).chain(live).map(Ok);
    Ok(Sse::new(stream.boxed()).keep_alive(KeepAlive::default()))
}

/// A place for one more event stream of `person`, or 429 `too_many_streams`.
pub fn open_stream(state: &AppState, person: &str) -> Result<StreamGuard, AppError> {
    state.edge.open_stream(person).ok_or_else(|| {
        AppError::TooManyStreams {
            retry_after: 5,
            message: format!(
                "You already have {} live event streams open (one per open build or dashboard page), the most one person may. Close a tab you no longer need, or wait for its build to finish, then try again.",
                state.edge.settings.streams_per_person
            ),
        }
    })
}

fn to_event(event: &BuildEvent) -> Event {
    match event {
        BuildEvent::Log(line) => json_event("log", line),
        BuildEvent::Status(update) => status_event(update),
        BuildEvent::Done(view) => json_event("done", view.as_ref()),
    }
}

fn status_event(update: &StatusUpdate) -> Event {
    json_event("status", update)
}

pub(super) fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}
