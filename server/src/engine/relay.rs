//! Calls the policy proxy relays to the engine as they came (after the policy decided and
//! rewrote them), and the lookups the proxy's decisions need. The proxy speaks the Docker
//! API on both sides, so what the CLI sends is sent on, byte for byte but for the path.

use super::Client;
use axum::body::Body;
use bollard::query_parameters::ListContainersOptionsBuilder;
use std::collections::HashMap;

/// The engine's Unix socket, from its address (`unix:///var/run/docker.sock`); `None` for an
/// engine reached otherwise (the console needs it on this host for now).
pub fn socket_of(host: &str) -> Option<std::path::PathBuf> {
    host.strip_prefix("unix://").map(std::path::PathBuf::from)
}

/// Send `request` (its path and query already the policy's) to the engine at `socket`; the
/// engine's answer, its body streamed as it comes (`docker logs -f` follows).
pub async fn send(
    socket: &std::path::Path,
    request: http::Request<Body>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    let stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
        format!(
            "the Docker engine cannot be reached at {}: {e}",
            socket.display()
        )
    })?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("the Docker engine did not answer: {e}"))?;
    tokio::spawn(async move {
        // Ends with the answer's body (or when the CLI goes, which drops it).
        let _ = connection.with_upgrades().await;
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("the Docker engine did not answer: {e}"))
}

impl Client {
    /// The full id of `owner`'s container that `typed` names — its name (or `engine_name`,
    /// what the engine calls the learner's name), its id or the start of its id, as `docker`
    /// accepts them — among `owner`'s containers only; `None` when no container of theirs (or
    /// more than one) answers to it.
    pub async fn own_container(
        &self,
        owner: &str,
        typed: &str,
        engine_name: &str,
    ) -> Result<Option<String>, String> {
        if typed.is_empty() {
            return Ok(None);
        }
        // Only containers the console made: a build's run and check containers carry the
        // learner's label too, but are layerlab's (a learner in them could change a grade).
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{}={owner}", super::builder::OWNER_LABEL),
                super::toolbox::CONSOLE_LABEL.to_string(),
            ],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let containers = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| e.to_string())?;
        let id_of = |c: &bollard::models::ContainerSummary| c.id.clone().unwrap_or_default();
        // A whole id or a name first, as the engine resolves them; then an id's start.
        let exact: Vec<String> = containers
            .iter()
            .filter(|c| {
                id_of(c) == typed
                    || c.names.iter().flatten().any(|n| {
                        let n = n.trim_start_matches('/');
                        n == typed || n == engine_name
                    })
            })
            .map(id_of)
            .collect();
        if let [one] = exact.as_slice() {
            return Ok(Some(one.clone()));
        }
        let by_prefix: Vec<String> = containers
            .iter()
            .map(id_of)
            .filter(|id| id.starts_with(typed))
            .collect();
        Ok(match by_prefix.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        })
    }
}

impl Client {
    /// The container a command run with `docker exec` (`exec`, its id as the engine gave it)
    /// runs in; `None` when the engine has no such command.
    pub async fn exec_container(&self, exec: &str) -> Result<Option<String>, String> {
        match self.docker.inspect_exec(exec).await {
            Ok(inspected) => Ok(inspected.container_id),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
}
