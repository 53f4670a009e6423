//! `GET /healthz` and `GET /api/v1/status`.

use super::state::AppState;
use app::dto::EngineStatus;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/v1/status", get(status))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

/// The site's icon: three stacked layers in the header's colours. Pages link the SVG; browsers
/// that ask for `/favicon.ico` by habit get the same picture.
const FAVICON_SVG: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1d2433"/><rect x="6" y="7" width="20" height="5" rx="1.5" fill="#7cb7ff"/><rect x="6" y="14" width="20" height="5" rx="1.5" fill="#4f94ef"/><rect x="6" y="21" width="20" height="5" rx="1.5" fill="#1f6feb"/></svg>"##;

async fn favicon() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON_SVG,
    )
}

/// Up and serving; says nothing about the engine, so it stays cheap for probes.
async fn healthz() -> &'static str {
    "ok\n"
}

/// What anyone may read: whether builds work, and which of the course's base images the
/// engine has. Not the engine's address, version or other images (they tell an attacker
/// where the engine is and what it holds).
#[derive(Serialize)]
struct PublicStatus {
    server: ServerInfo,
    engine: PublicEngine,
    registry: PublicRegistry,
    builds_available: bool,
    queue: Queue,
    /// The memo of rendered lesson pages (`--page-memo-mb`): how full it is.
    lesson_pages: crate::http::lesson_pages::Usage,
}

#[derive(Serialize)]
struct PublicEngine {
    reachable: bool,
    base_images: Vec<app::dto::BaseImageStatus>,
}

/// What an instructor reads: the whole engine status, every image a `FROM` can use, and how
/// the engine isolates builds from the host.
/// What anyone may know of the registry: whether pushing works, and where images go.
#[derive(Serialize)]
struct PublicRegistry {
    available: bool,
    address: Option<String>,
}

#[derive(Serialize)]
struct Status {
    server: ServerInfo,
    engine: EngineStatus,
    registry: crate::registry::RegistryStatus,
    builds_available: bool,
    queue: Queue,
    lesson_pages: crate::http::lesson_pages::Usage,
    /// The engine's isolation (user namespaces, rootless, seccomp, cgroups); null when the
    /// engine does not say.
    isolation: Option<crate::engine::Isolation>,
    /// The server processes serving from this database, oldest first, for a day after they
    /// went silent; empty when the database does not answer.
    servers: Vec<ServerShown>,
}

/// One server process, as the instructor's status shows it.
#[derive(Serialize)]
struct ServerShown {
    id: String,
    /// The one answering this request.
    this_one: bool,
    /// The machine's name (without its boot id).
    host: String,
    pid: i64,
    started_at: i64,
    heartbeat_at: i64,
    dead_after_ms: i64,
    stopped_at: Option<i64>,
    /// Taken for gone: its builds are marked interrupted by the others.
    gone: bool,
}

async fn servers(store: &crate::store::Store) -> Vec<ServerShown> {
    let now = crate::store::now_ms();
    store
        .servers()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| ServerShown {
            this_one: s.id == store.server,
            gone: s.id != store.server && s.is_gone(now),
            host: s
                .mark
                .host
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            pid: s.mark.pid,
            started_at: s.started_at,
            heartbeat_at: s.heartbeat_at,
            dead_after_ms: s.dead_after_ms,
            stopped_at: s.stopped_at,
            id: s.id,
        })
        .collect()
}

#[derive(Serialize)]
struct Queue {
    /// Builds waiting for a free builder.
    waiting: usize,
    /// Builds that may run at once.
    concurrency: usize,
    /// Builds that may wait at once.
    max_waiting: usize,
}

#[derive(Serialize)]
struct ServerInfo {
    name: &'static str,
    version: &'static str,
}

async fn status(State(state): State<AppState>, session: Session) -> Response {
    let mut engine = state.engine.status(&state.base_images()).await;
    let server = ServerInfo {
        name: "layerlab",
        version: env!("CARGO_PKG_VERSION"),
    };
    let settings = state.builds.settings();
    let queue = Queue {
        waiting: state.builds.queued(),
        concurrency: settings.concurrency,
        max_waiting: settings.max_queued,
    };
    let builds_available = engine.builds_available();
    let registry = state.registry.status().await;
    if crate::cohort::instructors::instructor(&state.store, &session)
        .await
        .is_err()
    {
        return Json(PublicStatus {
            server,
            engine: PublicEngine {
                reachable: engine.reachable,
                base_images: engine.base_images,
            },
            registry: PublicRegistry {
                available: registry.reachable,
                address: registry.address,
            },
            builds_available,
            queue,
            lesson_pages: state.lesson_pages.usage(),
        })
        .into_response();
    }
    // Only the API lists every image; the banner on each page needs just the base images.
    let mut isolation = None;
    if engine.reachable {
        if let Ok(docker) = state.engine.client().await {
            engine.images = crate::engine::builder::local_base_images(&docker).await;
        }
        isolation = state.engine.isolation().await.ok();
    }
    Json(Status {
        server,
        builds_available,
        engine,
        registry,
        queue,
        lesson_pages: state.lesson_pages.usage(),
        isolation,
        servers: servers(&state.store).await,
    })
    .into_response()
}
