//! What a learner's console containers are at one moment, as a console exercise's checks
//! read them: their config, state, published ports, the end of their logs and their main
//! process.

use super::builder::{INSTANCE_LABEL, OWNER_LABEL};
use super::toolbox::{ports_of_label, Published, CONSOLE_LABEL, PORTS_LABEL};
use super::Client;
use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};
use futures::StreamExt;
use std::collections::HashMap;

/// At most this many of a learner's containers are read for a check.
pub const MAX_CONTAINERS: usize = 40;
/// Lines of a container's log read for a check, and the bytes kept of them.
const LOG_LINES: &str = "500";
const MAX_LOG_BYTES: usize = 64 * 1024;

/// What to read of each container, besides its listing (each costs a call per container):
/// only what the exercise's checks look at. `images` is for the caller (the learner's
/// images and their configuration).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reads {
    pub logs: bool,
    pub processes: bool,
    pub user: bool,
    pub images: bool,
    /// Each container's health: its state and its health check's command.
    pub health: bool,
}

/// One of a learner's console containers, as the engine names things.
#[derive(Clone, Debug, Default)]
pub struct ContainerState {
    pub id: String,
    /// Its name on the engine (the learner's, prefixed).
    pub name: String,
    /// The image as it was asked for (`Config.Image`).
    pub image: String,
    /// The id of the image it was made from.
    pub image_id: String,
    pub running: bool,
    pub ports: Vec<Published>,
    pub logs: String,
    /// PID 1 inside it: user (as the host names it) and command line.
    pub main_process: Option<(String, String)>,
    /// The user it was started as (`Config.User`: the image's `USER` or `docker run -u`),
    /// when one was named.
    pub user: Option<String>,
    /// `State.Health.Status` (`starting`, `healthy`, `unhealthy`), when it has a health check.
    pub health: Option<String>,
    /// What its health check runs as and with: the whole `Config.Healthcheck` (command,
    /// interval, timeout, retries, start period), the environment, user, working folder,
    /// entrypoint and command, and a hostname given by hand. Two containers with the same
    /// basis run the same check in the same way.
    pub health_basis: String,
    /// When it was made (ms since the epoch, the engine's clock; to the ms when its logs or
    /// health were read, else to the second).
    pub created_ms: i64,
}

impl Client {
    /// `owner`'s console containers (made through their console, of this `instance`), newest
    /// first, at most [`MAX_CONTAINERS`], with what `reads` asks for.
    pub async fn console_containers(
        &self,
        owner: &str,
        instance: &str,
        reads: Reads,
    ) -> Result<Vec<ContainerState>, String> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                CONSOLE_LABEL.to_string(),
                format!("{OWNER_LABEL}={owner}"),
                format!("{INSTANCE_LABEL}={instance}"),
            ],
        )]);
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| e.to_string())?;
        let reads = listed.into_iter().take(MAX_CONTAINERS).map(|c| async move {
            let id = c.id.clone().unwrap_or_default();
            let running = c.state == Some(bollard::models::ContainerSummaryStateEnum::RUNNING);
            let inspected = if reads.user || reads.health || reads.logs {
                self.docker
                    .inspect_container(
                        &id,
                        None::<bollard::query_parameters::InspectContainerOptions>,
                    )
                    .await
                    .ok()
            } else {
                None
            };
            let config = inspected.as_ref().and_then(|c| c.config.as_ref());
            let user = config
                .and_then(|c| c.user.clone())
                .filter(|u| !u.is_empty() && reads.user);
            let health = inspected
                .as_ref()
                .and_then(|c| c.state.as_ref()?.health.as_ref()?.status)
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty() && s != "none");
            let health_basis = config
                .map(|c| {
                    // (A hostname left to the engine is the id's start: not the learner's.)
                    let hostname = c.hostname.clone().filter(|h| !id.starts_with(h.as_str()));
                    serde_json::json!([
                        c.healthcheck,
                        c.env,
                        c.user,
                        c.working_dir,
                        c.entrypoint,
                        c.cmd,
                        hostname
                    ])
                    .to_string()
                })
                .unwrap_or_default();
            let main_process = if running && reads.processes {
                super::run::top(&self.docker, &id)
                    .await
                    .into_iter()
                    .find(|p| p.main)
                    .map(|p| (p.user, p.command))
            } else {
                None
            };
            ContainerState {
                id: id.clone(),
                name: c
                    .names
                    .unwrap_or_default()
                    .first()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                image: c.image.unwrap_or_default(),
                image_id: c.image_id.unwrap_or_default(),
                running,
                ports: c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(PORTS_LABEL))
                    .map(|p| ports_of_label(p))
                    .unwrap_or_default(),
                logs: if reads.logs {
                    self.log_tail(&id).await
                } else {
                    String::new()
                },
                main_process,
                user,
                health,
                health_basis,
                created_ms: inspected
                    .as_ref()
                    .and_then(|i| super::image::parse_rfc3339(i.created.as_deref()?))
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(c.created.unwrap_or(0).saturating_mul(1000), |d| {
                        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
                    }),
            }
        });
        Ok(futures::future::join_all(reads).await)
    }

    /// The TCP ports container `id` listens on, read by a helper that joins its network
    /// namespace (labelled as a console container of `instance` that no learner owns: none
    /// of them sees it, and leftovers are swept with consoles').
    pub async fn listening_ports(&self, id: &str, instance: &str) -> Result<Vec<u16>, String> {
        let labels = HashMap::from([
            (CONSOLE_LABEL.to_string(), "helper".to_string()),
            (INSTANCE_LABEL.to_string(), instance.to_string()),
        ]);
        super::run::listening_ports(&self.docker, id, &labels).await
    }

    /// The end of what container `id` printed (out and err together), bounded.
    async fn log_tail(&self, id: &str) -> String {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(LOG_LINES)
            .build();
        let mut logs = self.docker.logs(id, Some(options));
        let mut text = Vec::new();
        while let Some(Ok(chunk)) = logs.next().await {
            text.extend_from_slice(&chunk.into_bytes());
            if text.len() > MAX_LOG_BYTES {
                let cut = text.len() - MAX_LOG_BYTES;
                text.drain(..cut);
            }
        }
        super::strip_ansi(&String::from_utf8_lossy(&text))
    }
}
