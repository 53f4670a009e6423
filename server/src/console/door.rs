//! What one learner's policy proxy holds (their scope, the engine, their limits, where their
//! builds and pushes go), and the answers and lookups both its doors share: the calls it
//! relays ([`super::proxy`]) and the image calls it makes itself ([`super::images`]).

use crate::engine::Engine;
use crate::policy::api::Scope;
use crate::policy::container::ContainerLimits;
use axum::response::{IntoResponse, Response};
use std::path::PathBuf;
use std::sync::Arc;

/// Called (and waited for) after a call that started, stopped or removed one of the
/// learner's containers succeeded: the console serves the ports it publishes before the CLI
/// hears back.
pub type Hook = Arc<dyn Fn() -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

pub(super) struct Door {
    pub(super) scope: Scope,
    pub(super) engine: Arc<Engine>,
    pub(super) socket: PathBuf,
    pub(super) limits: ContainerLimits,
    pub(super) after_change: Option<Hook>,
    /// Held from counting the learner's running containers to the engine's answer to a
    /// start: two starts at once cannot both fit under the cap.
    pub(super) starting: tokio::sync::Mutex<()>,
    /// Where `docker build` builds (the workbench's builds: its policy, limits and builders);
    /// `None`, it is refused.
    pub(super) builds: Option<Arc<crate::builds::Builds>>,
    /// The pushes under way, which a `docker push` joins.
    pub(super) pushes: Option<Arc<crate::pushes::Pushes>>,
    /// Held while one of the learner's builds runs: one at a time.
    pub(super) building: Arc<tokio::sync::Mutex<()>>,
    /// What the engine said to a ping (its API version, its OS), said again to every later
    /// one: each docker command begins with one.
    pub(super) ping: tokio::sync::OnceCell<http::HeaderMap>,
    /// Places for the learner's pulls ([`MAX_PULLS`] at once): a pull keeps one until it has
    /// been read to its end, even when its CLI has gone.
    pub(super) pulling: Arc<tokio::sync::Semaphore>,
    /// Dropped with the door (the console stopped or removed): the pulls still read end,
    /// and the engine stops them.
    pub(super) open: tokio::sync::watch::Sender<()>,
}

/// The most pulls one learner's console runs at once.
pub(super) const MAX_PULLS: usize = 2;

/// The engine's error form: `{"message": …}` with `status`.
pub(super) fn refusal(status: u16, message: String) -> Response {
    let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::FORBIDDEN);
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

/// The id of the image `typed` names (one of the learner's image names, a base image's, an
/// id or an id's start), and the name it was found by, if the learner may use it: one of
/// the course's base images, or one of their own (built by them, here); `None` for any
/// other, or none.
pub(super) async fn usable_image(
    client: &crate::engine::Client,
    scope: &Scope,
    typed: &str,
) -> Result<Option<(String, String)>, String> {
    for candidate in scope.image_candidates(typed) {
        let Some(info) = client.image_info(&candidate).await.map_err(|f| f.message)? else {
            continue;
        };
        let base = info.tags.iter().any(|t| scope.base_images.contains(t));
        if base || is_own(scope, &info) {
            return Ok(Some((info.id, candidate)));
        }
        // (Found, but not theirs: the next name, if any, is not tried in its place.)
        return Ok(None);
    }
    Ok(None)
}

/// Whether `info` is an image of the learner's own (built by them, here): by their console
/// (the database's account), or labelled theirs (the workbench's builds).
pub(super) fn is_own(scope: &Scope, info: &crate::policy::ImageInfo) -> bool {
    use crate::engine::builder::{ATTEMPT_LABEL, INSTANCE_LABEL, OWNER_LABEL};
    let label = |key: &str| info.labels.get(key).map(String::as_str);
    let built_by = label(ATTEMPT_LABEL)
        .and_then(|a| a.split('/').next())
        .or(label(OWNER_LABEL));
    let labelled =
        built_by == Some(scope.owner.as_str()) && label(INSTANCE_LABEL) == Some(&scope.instance);
    labelled || scope.built_own(&info.id, info.tags.iter().map(String::as_str))
}
