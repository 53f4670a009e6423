//! The docker console's API: open it, run a command line, type to the running command,
//! Ctrl-C, and the live `GET /api/v1/console/events` (Server-Sent Events, each a
//! [`ConsoleEvent`] as JSON, named `console`). The page uses these same endpoints.

use super::build_api::{json_event, open_stream};
use super::state::AppState;
use super::AppError;
use crate::learners::{known_learner_id, learner_id};
use app::dto::{ConsoleInput, ConsoleLine, ConsoleStarted};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use futures::stream::{self, Stream, StreamExt};
use std::convert::Infallible;
use tokio::sync::broadcast;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/console", post(open))
        .route("/api/v1/console/events", get(events))
        .route("/api/v1/console/commands", post(run))
        .route("/api/v1/console/input", post(input))
        .route("/api/v1/console/interrupt", post(interrupt))
        .route("/api/v1/exercises/{id}/check", post(check))
        .route("/exercises/{id}/check", post(check_form))
        .route("/api/v1/exercises/{id}/setup", post(set_up))
        .route("/exercises/{id}/setup", post(set_up_form))
        .route("/console/ports/{port}", get(port_root))
        .route("/console/ports/{port}/", any(port))
        .route("/console/ports/{port}/{*rest}", any(port))
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::console::MAX_LINE * 2 + 1024,
        ))
}

fn json<T>(body: Result<Json<T>, JsonRejection>, like: &str) -> Result<T, AppError> {
    body.map(|Json(t)| t).map_err(|rejection| match rejection {
        JsonRejection::BytesRejection(_) => AppError::TooLarge(format!(
            "A command line may be at most {} bytes.",
            crate::console::MAX_LINE
        )),
        other => AppError::BadRequest(format!(
            "The request must be JSON like {like}: {}",
            other.body_text()
        )),
    })
}

/// `POST /api/v1/exercises/{id}/check`: judge the learner's console against a console
/// exercise now; the attempt as a build's view (status `succeeded`, its `checks`).
async fn check(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<app::dto::BuildView>, AppError> {
    // `{"answers": {"check-id": "what the learner found"}}`, or nothing.
    let answers = if body.iter().all(u8::is_ascii_whitespace) {
        CheckBody::default()
    } else {
        serde_json::from_slice::<Option<CheckBody>>(&body)
            .map_err(|e| {
                AppError::BadRequest(format!(
                    "The request must be JSON like {{\"answers\": {{\"found-the-code\": \"123456\"}}}}, or empty: {e}"
                ))
            })?
            .unwrap_or_default()
    };
    let learner = learner_id(&state.store, &session).await?;
    Ok(Json(checked(&state, &learner, &id, answers.answers).await?))
}

#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckBody {
    #[serde(default)]
    answers: std::collections::BTreeMap<String, String>,
}

/// `POST /api/v1/exercises/{id}/setup`: make what a console exercise starts from (its
/// containers and images, out of the learner's sight) → 204.
async fn set_up(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    let learner = learner_id(&state.store, &session).await?;
    crate::console_work::set_up(
        &state.exercises,
        &state.consoles,
        &state.set_ups,
        &learner,
        &id,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The exercise page's Set up form.
async fn set_up_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<axum::response::Redirect, AppError> {
    form_token(&session, &form).await?;
    let learner = learner_id(&state.store, &session).await?;
    let done = in_turn(|| async {
        Ok(crate::console_work::set_up(
            &state.exercises,
            &state.consoles,
            &state.set_ups,
            &learner,
            &id,
        )
        .await?)
    })
    .await;
    back_to_the_page(&session, &id, done, "?set-up=1#console-line").await
}

/// The exercise page's Check form (it works without JavaScript): judged as
/// [`check`], then back to the page, which shows the attempt.
async fn check_form(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    axum::Form(form): axum::Form<Vec<(String, String)>>,
) -> Result<axum::response::Redirect, AppError> {
    form_token(&session, &form).await?;
    // `answer.<check id>` fields: what the learner found.
    let answers: std::collections::BTreeMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("answer.")?.to_string(), v.clone())))
        .collect();
    let learner = learner_id(&state.store, &session).await?;
    // A page waits its turn (a second after the learner's last check) rather than showing
    // an error for a double click.
    let done = in_turn(|| checked(&state, &learner, &id, answers.clone())).await;
    back_to_the_page(&session, &id, done.map(|_| ()), "#checks").await
}

/// Back to exercise `id`'s page (at `then`): when `done` failed, the page says why (kept in
/// the session for it) instead of a bare error. An unknown exercise stays an error.
async fn back_to_the_page(
    session: &Session,
    id: &str,
    done: Result<(), AppError>,
    then: &str,
) -> Result<axum::response::Redirect, AppError> {
    match done {
        Ok(()) => Ok(axum::response::Redirect::to(&format!(
            "/exercises/{id}{then}"
        ))),
        Err(e @ AppError::NotFound(_)) => Err(e),
        Err(e) => {
            let said = e.to_string();
            if e.parts().0.is_server_error() {
                tracing::warn!(exercise = %id, "a console exercise's form was refused: {said}");
            }
            let _ = session
                .insert(crate::console_work::FORM_PROBLEM_KEY, said)
                .await;
            Ok(axum::response::Redirect::to(&format!(
                "/exercises/{id}#checks"
            )))
        }
    }
}

/// A page's form carries the session's token (`csrf`).
async fn form_token(session: &Session, form: &[(String, String)]) -> Result<(), AppError> {
    let token = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    super::people::check_csrf(session, token).await
}

/// `call`, again while it is refused as too soon (for a few seconds).
async fn in_turn<T, F, Fut>(call: F) -> Result<T, AppError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    for _ in 0..10 {
        match call().await {
            Err(AppError::Console(crate::console::ConsoleError::TooSoon)) => {
                tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            }
            done => return done,
        }
    }
    call().await
}

async fn checked(
    state: &AppState,
    learner: &str,
    id: &str,
    answers: std::collections::BTreeMap<String, String>,
) -> Result<app::dto::BuildView, AppError> {
    let checker = crate::console_work::Checker {
        store: &state.store,
        registry: &state.registry,
        exercises: &state.exercises,
        consoles: &state.consoles,
        set_ups: &state.set_ups,
        progress: &state.progress,
    };
    Ok(crate::console_work::check(&checker, learner, id, answers).await?)
}

/// Start the learner's toolbox (the console panel opening): 204 once it runs.
async fn open(State(state): State<AppState>, session: Session) -> Result<StatusCode, AppError> {
    let learner = learner_id(&state.store, &session).await?;
    state.consoles.open(&learner).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn run(
    State(state): State<AppState>,
    session: Session,
    body: Result<Json<ConsoleLine>, JsonRejection>,
) -> Result<(StatusCode, Json<ConsoleStarted>), AppError> {
    let ConsoleLine { line } = json(body, r#"{"line": "docker ps"}"#)?;
    let learner = learner_id(&state.store, &session).await?;
    let id = state.consoles.run(&learner, &line).await?;
    Ok((StatusCode::ACCEPTED, Json(ConsoleStarted { id })))
}

async fn input(
    State(state): State<AppState>,
    session: Session,
    body: Result<Json<ConsoleInput>, JsonRejection>,
) -> Result<StatusCode, AppError> {
    let ConsoleInput { text } = json(body, r#"{"text": "yes\r"}"#)?;
    let learner = learner_id(&state.store, &session).await?;
    state.consoles.input(&learner, &text).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn interrupt(
    State(state): State<AppState>,
    session: Session,
) -> Result<StatusCode, AppError> {
    let learner = learner_id(&state.store, &session).await?;
    state.consoles.interrupt(&learner).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The console as it is, then live. A page that falls too far behind is ended (its browser
/// reconnects and begins again from the console as it is).
async fn events(
    State(state): State<AppState>,
    session: Session,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    // (Reads only: a stream starts no learner and no console; the page opens it first.)
    let learner = known_learner_id(&state.store, &session)
        .await?
        .ok_or(crate::console::ConsoleError::NotOpen)?;
    let guard = open_stream(&state, &learner)?;
    let (now, receiver) = state.consoles.subscribe(&learner)?;
    let backlog = stream::iter(now.into_iter().map(|e| json_event("console", &e)));
    let live = stream::unfold((receiver, guard), |(mut receiver, guard)| async move {
        match receiver.recv().await {
            Ok(event) => Some((json_event("console", &event), (receiver, guard))),
            Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => {
                None
            }
        }
    });
    Ok(Sse::new(backlog.chain(live).map(Ok).boxed()).keep_alive(KeepAlive::default()))
}

/// `/console/ports/8080` → `/console/ports/8080/`: relative links in the page then resolve
/// under it.
async fn port_root(Path(port): Path<u16>) -> axum::response::Redirect {
    axum::response::Redirect::permanent(&format!("/console/ports/{port}/"))
}

/// A page of what the learner's container serves on a port it publishes, for that learner
/// only: the request is sent on to the container (inside its own network namespace), the
/// answer comes back in a sandbox (a page of its own origin: it cannot reach layerlab as the
/// learner) and sets no cookies on layerlab's.
async fn port(
    State(state): State<AppState>,
    session: Session,
    Path(params): Path<Vec<(String, String)>>,
    request: axum::extract::Request,
) -> Result<axum::response::Response, AppError> {
    let port: u16 = params
        .iter()
        .find(|(k, _)| k == "port")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| AppError::NotFound("No such port.".into()))?;
    let learner = known_learner_id(&state.store, &session)
        .await?
        .ok_or_else(|| {
            AppError::NotFound(format!("No container of yours publishes port {port}."))
        })?;
    let stream = state.consoles.reach(&learner, port).await?;
    let prefix = format!("/console/ports/{port}");
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .strip_prefix(&prefix)
        .unwrap_or("/")
        .to_string();
    parts.uri = path
        .parse()
        .map_err(|_| AppError::BadRequest("That path cannot be sent on.".into()))?;
    parts.headers.remove(axum::http::header::COOKIE);
    if let Ok(host) = axum::http::HeaderValue::from_str(&format!("localhost:{port}")) {
        parts.headers.insert(axum::http::header::HOST, host);
    }
    let unreachable = |e: hyper::Error| {
        AppError::Console(crate::console::ConsoleError::Unavailable(format!(
            "Your container on port {port} did not answer: {e}"
        )))
    };
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(unreachable)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let answer = sender
        .send_request(axum::http::Request::from_parts(parts, body))
        .await
        .map_err(unreachable)?;
    let (mut parts, body) = answer.into_parts();
    parts.headers.remove(axum::http::header::SET_COOKIE);
    parts.headers.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("sandbox allow-scripts allow-forms allow-popups"),
    );
    parts.headers.insert(
        axum::http::header::X_CONTENT_TYPE_OPTIONS,
        axum::http::HeaderValue::from_static("nosniff"),
    );
    Ok(axum::response::Response::from_parts(
        parts,
        axum::body::Body::new(body),
    ))
}
