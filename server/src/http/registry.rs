//! The class registry's API for learners: their `docker login`.

use super::state::AppState;
use super::AppError;
use app::backend::BackendError;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/registry/login", get(login))
}

/// `GET /api/v1/registry/login`: `{"registry", "username", "password"}` for `docker login`;
/// the username is the learner's handle and namespace. Without a registry layerlab runs,
/// `503 registry_unavailable` says why; a visitor who is no learner yet gets 404.
async fn login(
    State(state): State<AppState>,
    session: Session,
) -> Result<impl IntoResponse, AppError> {
    let login = crate::learners::registry_login(&state.store, &state.registry, &session)
        .await
        .map_err(|e| match e {
            BackendError::Invalid(why) => AppError::RegistryUnavailable(why),
            other => other.into(),
        })?;
    // It holds a password: no cache keeps it.
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(login),
    ))
}
