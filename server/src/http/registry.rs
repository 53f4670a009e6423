//! The class registry's API for learners: their `docker login`.

use super::state::AppState;
use super::AppError;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use tower_sessions::Session;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/registry/login", get(login))
}

/// `GET /api/v1/registry/login`: `{"registry", "username", "password"}` for `docker login`;
/// the username is the learner's handle and namespace.
async fn login(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<crate::registry::Credentials>, AppError> {
    let login = crate::learners::registry_login(&state.store, &state.registry, &session).await;
    Ok(Json(login.map_err(|e| {
        AppError::RegistryUnavailable(e.to_string())
    })?))
}
