//! Every HTTP route: the public JSON API, form posts that work without JavaScript, static
//! files, and the Leptos pages and server functions. Each module brings its own router.

pub mod admission;
mod build_api;
mod console_api;
mod error;
mod guards;
mod learn;
pub mod lesson_pages;
mod people;
mod registry;
pub mod session_cache;
pub mod state;
mod status;
mod workbench;

pub use error::AppError;

use app::backend::BackendHandle;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use state::AppState;
use std::path::Path;
use std::sync::Arc;
use tower_http::services::ServeDir;
use tower_sessions::cookie::{time::Duration, SameSite};
use tower_sessions::Session;
use tower_sessions::{CachingSessionStore, Expiry, SessionManagerLayer};

/// Largest request body outside the build API.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

/// Name of the learner's session cookie.
pub const SESSION_COOKIE: &str = "layerlab_session";

pub fn router(
    state: AppState,
    sessions: crate::store::Sessions,
    style_dir: &Path,
    secure_cookies: bool,
) -> Router {
    let options = state.leptos_options.clone();
    let pkg_dir = Path::new(&*options.site_root).join(&*options.site_pkg_dir);
    let backend = BackendHandle(Arc::new(state.clone()));
    let provide_backend = move || provide_context(backend.clone());
    let sessions = CachingSessionStore::new(
        session_cache::SessionCache::new(session_cache::DEFAULT_CAPACITY),
        sessions,
    );
    let session_layer = SessionManagerLayer::new(sessions)
        .with_name(SESSION_COOKIE)
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_secure(secure_cookies)
        .with_expiry(Expiry::OnInactivity(Duration::days(60)));

    Router::new()
        .merge(status::router())
        .merge(learn::router())
        .merge(build_api::router())
        .merge(console_api::router())
        .merge(workbench::router())
        .merge(people::router())
        .merge(registry::router())
        .leptos_routes_with_context(&state, route_list(), provide_backend.clone(), {
            let options = options.clone();
            move || app::shell(options.clone())
        })
        .nest_service("/pkg", ServeDir::new(pkg_dir).precompressed_gzip())
        .nest_service("/style", ServeDir::new(style_dir))
        .fallback(leptos_axum::render_app_async_with_context(
            provide_backend,
            move || app::shell(options.clone()),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            instructor_gate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.edge.clone(),
            admission::edge,
        ))
        .layer(session_layer)
        .layer(axum::middleware::from_fn(guards::same_origin))
        .layer(axum::middleware::from_fn(guards::security_headers))
        .layer(axum::middleware::from_fn(error::log_server_errors))
        // Forms and JSON bodies are small; the build API raises its own limit.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .with_state(state)
}

/// The app's routes, worked out once per process. Leptos works them out by running the app
/// with a process-wide flag set that parks every resource first polled meanwhile, for good
/// (leptos-rs/leptos#4773): a second router built while another serves pages (the tests
/// build one per test, in parallel) would hang those pages forever. Every later router
/// waits here for the first list instead.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// Paths under `/instructor` other than the login page need an instructor in the session,
/// logged in since their last password change (checked in the database, as a reset is made
/// by another process): pages redirect to the login page, everything else (CSV, API)
/// answers 401.
pub async fn instructor_gate(
    State(state): State<AppState>,
    session: Session,
    request: Request<Body>,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let gated = path == "/instructor"
        || (path.starts_with("/instructor/") && path != "/instructor/login")
        || path.starts_with("/api/v1/instructor/");
    if !gated
        || crate::cohort::instructors::instructor(&state.store, &session)
            .await
            .is_ok()
    {
        return next.run(request).await;
    }
    let is_page =
        request.method() == Method::GET && !path.starts_with("/api/") && !path.ends_with(".csv");
    if is_page {
        let next_path = request.uri().path_and_query().map_or(path, |p| p.as_str());
        let target = format!(
            "/instructor/login?next={}",
            crate::auth::url_encode(next_path)
        );
        return Redirect::to(&target).into_response();
    }
    AppError::LoginRequired("Log in as an instructor at /instructor/login first.".into())
        .into_response()
}
