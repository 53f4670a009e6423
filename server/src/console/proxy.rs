//! The policy proxy: a Docker API on a Unix socket of one learner's, in front of the engine.
//! Each call is decided by [`crate::policy::api`] (the table of what goes through, scoped to
//! the learner) and only then relayed; what is refused gets the policy's words as the
//! daemon's error, which the docker CLI prints.

use crate::engine::Engine;
use crate::policy::api::{decide, Decision, Scope};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Door {
    scope: Scope,
    engine: Arc<Engine>,
    socket: PathBuf,
}

/// A running proxy: its socket is removed and its task stopped when this is dropped.
pub struct Proxy {
    path: PathBuf,
    task: tokio::task::AbortHandle,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Proxy {
    /// Serve `scope`'s slice of `engine` on a new Unix socket at `path` (readable and writable
    /// by this user only). The engine must be on this host's Unix socket.
    pub fn start(path: &Path, scope: Scope, engine: Arc<Engine>) -> anyhow::Result<Self> {
        let socket = crate::engine::relay::socket_of(engine.host()).ok_or_else(|| {
            anyhow::anyhow!(
                "the docker console needs the engine on this host's Unix socket, not {}",
                engine.host()
            )
        })?;
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        let listener = tokio::net::UnixListener::bind(path)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        let door = Arc::new(Door {
            scope,
            engine,
            socket,
        });
        let app = axum::Router::new().fallback(relay).with_state(door);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!("a console's proxy stopped: {e}");
            }
        });
        Ok(Proxy {
            path: path.to_path_buf(),
            task: task.abort_handle(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The engine's error form: `{"message": …}` with `status`.
fn refusal(status: u16, message: String) -> Response {
    let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::FORBIDDEN);
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}

async fn relay(State(door): State<Arc<Door>>, request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let asked = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let path = match decide(&method, &asked, &door.scope) {
        Decision::Forward(path) => path,
        Decision::Refuse { status, message } => return refusal(status, message),
        Decision::OwnContainer {
            container,
            before,
            after,
        } => {
            let client = match door.engine.client().await {
                Ok(client) => client,
                Err(e) => {
                    return refusal(
                        503,
                        format!("layerlab: the Docker engine cannot be reached: {e}"),
                    )
                }
            };
            match client.own_container(&door.scope.owner, &container).await {
                Ok(Some(id)) => format!("{before}{id}{after}"),
                Ok(None) => return refusal(404, format!("No such container: {container}")),
                Err(e) => {
                    return refusal(
                        503,
                        format!("layerlab: the Docker engine did not answer: {e}"),
                    )
                }
            }
        }
    };
    let (mut parts, body) = request.into_parts();
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return refusal(400, "layerlab: a path the engine would not read".into()),
    };
    match crate::engine::relay::send(&door.socket, http::Request::from_parts(parts, body)).await {
        Ok(answer) => answer.map(Body::new),
        Err(e) => refusal(503, format!("layerlab: {e}")),
    }
}
