//! `GET /healthz` and `GET /api/v1/status`.

use crate::state::AppState;
use app::dto::EngineStatus;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/status", get(status))
}

/// Up and serving; says nothing about the engine, so it stays cheap for probes.
async fn healthz() -> &'static str {
    "ok\n"
}

#[derive(Serialize)]
struct Status {
    server: ServerInfo,
    engine: EngineStatus,
    builds_available: bool,
    queue: Queue,
    /// The memo of rendered lesson pages (`--page-memo-mb`): how full it is.
    lesson_pages: crate::http::lesson_pages::Usage,
}

#[derive(Serialize)]
struct Queue {
    /// Builds waiting for a free builder.
    waiting: usize,
    /// Builds that may run at once.
    concurrency: usize,
}

#[derive(Serialize)]
struct ServerInfo {
    name: &'static str,
    version: &'static str,
}

async fn status(State(state): State<AppState>) -> Json<Status> {
    let mut engine = state.engine.status(&state.base_images()).await;
    // Only the API lists every image; the banner on each page needs just the base images.
    if engine.reachable {
        if let Ok(docker) = state.engine.client().await {
            engine.images = crate::engine::build::local_base_images(&docker).await;
        }
    }
    Json(Status {
        server: ServerInfo {
            name: "layerlab",
            version: env!("CARGO_PKG_VERSION"),
        },
        builds_available: engine.builds_available(),
        engine,
        queue: Queue {
            waiting: state.builds.queued(),
            concurrency: state.builds.settings().concurrency,
        },
        lesson_pages: state.lesson_pages.usage(),
    })
}
