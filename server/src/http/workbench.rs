//! The workbench's own requests besides builds: `PUT /api/v1/drafts/{exercise}` keeps what
//! the learner typed, `POST /api/v1/exercises/{id}/hints` unlocks one more hint, and
//! `GET /api/v1/builds/{id}/log` hands over a build's whole log as a text file.

use super::admission::ClientAddress;
use super::state::AppState;
use super::AppError;
use crate::learners::{build_owner, learner_id};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use std::collections::BTreeMap;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        // POST too: a page that is closing sends its last draft with a beacon, which posts.
        .route(
            "/api/v1/drafts/{exercise}",
            put(save_draft).post(save_draft),
        )
        .route("/api/v1/exercises/{id}/hints", post(reveal_hint))
        .route("/api/v1/builds/{id}/log", get(download_log))
        .layer(axum::extract::DefaultBodyLimit::max(
            super::build_api::MAX_BODY_BYTES,
        ))
}

/// `PUT /api/v1/drafts/{exercise}`: `{"files": {"Dockerfile": "…"}}`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Draft {
    files: BTreeMap<String, String>,
}

async fn save_draft(
    State(state): State<AppState>,
    session: Session,
    client: Option<axum::Extension<ClientAddress>>,
    Path(exercise): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, AppError> {
    // Read as JSON whatever the content type says: a beacon sends text/plain.
    let body = body.map_err(|_| {
        AppError::TooLarge(format!(
            "The request is larger than {} MiB.",
            super::build_api::MAX_BODY_BYTES / 1024 / 1024
        ))
    })?;
    let draft: Draft = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request must be JSON like {{\"files\": {{\"Dockerfile\": \"FROM busybox\"}}}}: {e}"
        ))
    })?;
    let learner = learner_id(&state.store, &session).await?;
    let address = client.map_or(ClientAddress::Unknown, |c| c.0).key();
    crate::workbench::save_draft(
        &state.store,
        &state.exercises,
        &state.drafts,
        &state.builds.settings().context,
        &learner,
        &address,
        &exercise,
        draft.files,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The hints now unlocked, as the workbench shows them.
#[derive(Debug, serde::Serialize)]
struct Hints {
    hints: Vec<String>,
    hints_html: String,
}

async fn reveal_hint(
    State(state): State<AppState>,
    session: Session,
    Path(exercise): Path<String>,
) -> Result<Json<Hints>, AppError> {
    let learner = learner_id(&state.store, &session).await?;
    let hints =
        crate::workbench::reveal_hint(&state.store, &state.exercises, &learner, &exercise).await?;
    let total = state.exercises.get(&exercise).map_or(0, |e| e.hints.len());
    Ok(Json(Hints {
        hints_html: app::markup::hints(&hints, total),
        hints,
    }))
}

/// The whole log the server kept of one of the learner's builds, as a file to save.
async fn download_log(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let learner = build_owner(&state.store, &session, &id).await?;
    let log = match state.builds.get(&id, &learner) {
        Some(record) => record.log_lines(),
        None => {
            crate::attempts::stored_attempt(&state.store, &id, &learner)
                .await?
                .log
        }
    };
    let mut text = String::with_capacity(log.iter().map(|l| l.text.len() + 1).sum());
    for line in &log {
        text.push_str(&app::ansi::plain(&line.text));
        text.push('\n');
    }
    let name = format!(
        "layerlab-build-{}.log",
        id.chars().take(12).collect::<String>()
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/plain; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        text,
    )
        .into_response())
}
