//! The console's containers on the engine: each learner's toolbox (where their commands run,
//! the docker CLI in it pointed at their policy proxy), the commands run in it on a
//! pseudo-terminal, and finding, stopping and removing what consoles made. What to start and
//! when is [`crate::console`]'s business; how is this module's.

use super::builder::{INSTANCE_LABEL, OWNER_LABEL};
use super::Client;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    ResizeExecOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::stream::{BoxStream, StreamExt};
use std::collections::HashMap;
use std::path::Path;
use std::pin::Pin;

/// The label every container the console made carries.
pub const CONSOLE_LABEL: &str = "org.layerlab.console";

/// A port a console container publishes: `host` in the learner's console (their toolbox's
/// `localhost`, and the page's link), `container` inside it (TCP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    pub host: u16,
    pub container: u16,
}

/// The label a console container's published ports are kept in: `8080:80,8443:443`.
pub const PORTS_LABEL: &str = "org.layerlab.ports";

/// The label a console container made from an image by its id carries: the image as the
/// learner named it (`localhost:5000/you/greeter:1.0`), which `docker ps` and inspect show, as
/// the engine would show a container made from that name on a laptop.
pub const IMAGE_LABEL: &str = "org.layerlab.image";

/// The ports in a [`PORTS_LABEL`] (what does not read as one is left out).
pub fn ports_of_label(label: &str) -> Vec<Published> {
    label
        .split(',')
        .filter_map(|pair| {
            let (host, container) = pair.split_once(':')?;
            Some(Published {
                host: host.parse().ok().filter(|p| *p > 0)?,
                container: container.parse().ok().filter(|p| *p > 0)?,
            })
        })
        .collect()
}

/// The label a toolbox carries: the learner's id. (Not [`OWNER_LABEL`]: the learner's own
/// `docker ps` does not list their toolbox, and their docker commands cannot touch it.)
pub const TOOLBOX_LABEL: &str = "org.layerlab.toolbox";
/// On a toolbox: the server process that runs it (the `servers` row of the database), so a
/// server on the same engine and database leaves another live one's consoles alone.
pub const SERVER_LABEL: &str = "org.layerlab.server";

/// Where the learner's proxy socket's folder is mounted in the toolbox.
pub const PROXY_MOUNT: &str = "/run/layerlab";
/// The toolbox's home folder (memory-backed, bounded).
pub const HOME: &str = "/home/learner";

/// One learner's toolbox as it is made.
pub struct ToolboxSpec<'a> {
    pub name: &'a str,
    pub image: &'a str,
    pub owner: &'a str,
    pub instance: &'a str,
    /// The server process that runs it ([`SERVER_LABEL`]).
    pub server: &'a str,
    /// The folder holding the learner's proxy socket, on this host.
    pub folder: &'a Path,
    /// `uid:gid` its commands run as (never root).
    pub user: &'a str,
    pub memory_bytes: i64,
    pub cpus: f64,
    pub pids: i64,
    /// More `NAME=value` for its commands' environment.
    pub env: Vec<String>,
}

/// A command running on a pseudo-terminal in a toolbox: what it prints, and its keyboard.
pub struct CommandIo {
    pub exec: String,
    pub output: BoxStream<'static, Result<bytes::Bytes, String>>,
    pub input: Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// Which containers [`Client::labelled`] lists, and whether with what they wrote.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Running,
    All,
    WithSizes,
}

/// A container consoles made (a toolbox, or a learner's container made through the proxy).
#[derive(Debug, Clone)]
pub struct ConsoleObject {
    pub id: String,
    pub owner: String,
    pub toolbox: bool,
    /// A toolbox's server process ([`SERVER_LABEL`]), if it says.
    pub server: Option<String>,
    pub running: bool,
    /// A helper of a check (no owner) made less than [`HELPER_GRACE`] ago: at work, not
    /// left behind.
    pub fresh_helper: bool,
}

/// How long a check's helper container is taken to be at work (it is removed by the check
/// within seconds; one older was left by a server that stopped).
pub const HELPER_GRACE: i64 = 120;

/// A running console container that publishes ports (its [`PORTS_LABEL`]).
#[derive(Debug, Clone)]
pub struct Serving {
    pub id: String,
    pub ports: Vec<Published>,
}

/// A container's network namespace, held open: listen or connect inside it.
pub struct Namespace(super::netns::NetNs);

impl Namespace {
    /// A listener on `127.0.0.1:port` inside it.
    pub async fn listen(&self, port: u16) -> Result<tokio::net::TcpListener, String> {
        self.0.listen(port).await.map_err(|e| e.to_string())
    }

    /// A connection to `port` inside it, as a published port reaches a container: on an
    /// address of its own (not 127.0.0.1), so a server listening on every address answers
    /// and one listening on its loopback only does not.
    pub async fn connect(&self, port: u16) -> Result<tokio::net::TcpStream, String> {
        self.0
            .connect(super::netns::probe_address(), port)
            .await
            .map_err(|e| e.to_string())
    }
}

impl Client {
    /// The network namespace of container `id` (the engine on this host only).
    pub async fn namespace_of(&self, id: &str) -> Result<Namespace, String> {
        super::run::open_namespace(&self.docker, &self.host, id)
            .await
            .map(Namespace)
    }

    /// The ports container `id` publishes (none for a container that does not exist).
    pub async fn published_by(&self, id: &str) -> Result<Vec<Published>, String> {
        match self
            .docker
            .inspect_container(
                id,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(found) => Ok(found
                .config
                .and_then(|c| c.labels)
                .and_then(|l| l.get(PORTS_LABEL).map(|p| ports_of_label(p)))
                .unwrap_or_default()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(Vec::new()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `owner`'s running console containers that publish ports.
    pub async fn serving(&self, owner: &str, instance: &str) -> Result<Vec<Serving>, String> {
        let labels = [
            format!("{OWNER_LABEL}={owner}"),
            format!("{INSTANCE_LABEL}={instance}"),
            CONSOLE_LABEL.to_string(),
            PORTS_LABEL.to_string(),
        ];
        Ok(self
            .labelled(&labels, Listing::Running)
            .await?
            .into_iter()
            .filter_map(|c| {
                let ports = ports_of_label(c.labels?.get(PORTS_LABEL)?);
                Some(Serving { id: c.id?, ports })
            })
            .collect())
    }

    /// The server process whose label the toolbox `name` carries ([`SERVER_LABEL`]): `None`
    /// when there is no such container, `Some("")` when it carries none (one made before
    /// servers were labelled).
    pub async fn toolbox_server(&self, name: &str) -> Result<Option<(String, String)>, String> {
        match self
            .docker
            .inspect_container(
                name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
        {
            Ok(found) => {
                let server = found
                    .config
                    .and_then(|c| c.labels)
                    .and_then(|l| l.get(SERVER_LABEL).cloned())
                    .unwrap_or_default();
                Ok(Some((found.id.unwrap_or_else(|| name.to_string()), server)))
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Start `spec`'s toolbox: the stopped one of that name again, or a new one. Its id.
    pub async fn start_toolbox(&self, spec: &ToolboxSpec<'_>) -> Result<String, String> {
        let docker = &self.docker;
        let existing = docker
            .inspect_container(
                spec.name,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .ok();
        let id = match existing {
            Some(found) => {
                let labels = found
                    .config
                    .as_ref()
                    .and_then(|c| c.labels.clone())
                    .unwrap_or_default();
                let ours = labels.get(TOOLBOX_LABEL).map(String::as_str) == Some(spec.owner)
                    && labels.get(INSTANCE_LABEL).map(String::as_str) == Some(spec.instance);
                if !ours {
                    return Err(format!(
                        "a container named {} that layerlab did not make is in the way",
                        spec.name
                    ));
                }
                // (Another server made it since this one looked: theirs.)
                let server = labels.get(SERVER_LABEL).map(String::as_str).unwrap_or("");
                if !server.is_empty() && server != spec.server {
                    return Err(format!(
                        "the toolbox {} is another server's ({server}), made a moment ago",
                        spec.name
                    ));
                }
                found.id.unwrap_or_else(|| spec.name.to_string())
            }
            None => {
                let created = docker
                    .create_container(
                        Some(CreateContainerOptionsBuilder::new().name(spec.name).build()),
                        toolbox_config(spec),
                    )
                    .await
                    .map_err(|e| match &e {
                        bollard::errors::Error::DockerResponseServerError {
                            status_code: 404,
                            ..
                        } => format!(
                            "the console's toolbox image {} is missing: run `layerlab images seed {}`",
                            spec.image, spec.image
                        ),
                        _ => format!("the engine did not make the toolbox: {e}"),
                    })?;
                created.id
            }
        };
        docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await
            .map_err(|e| format!("the engine did not start the toolbox: {e}"))?;
        Ok(id)
    }

    /// Run `script` with `args` (bash's `$1`…) in toolbox `id` on a pseudo-terminal of
    /// `width`×`height`.
    pub async fn toolbox_command(
        &self,
        id: &str,
        script: &str,
        args: &[&str],
        (width, height): (u16, u16),
    ) -> Result<CommandIo, String> {
        let docker = &self.docker;
        let mut cmd = vec!["bash", "-c", script, "bash"];
        cmd.extend_from_slice(args);
        let exec = docker
            .create_exec(
                id,
                CreateExecOptions {
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(true),
                    cmd: Some(cmd),
                    env: Some(vec!["TERM=xterm-256color"]),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| format!("the engine did not run the command: {e}"))?
            .id;
        let started = docker
            .start_exec(
                &exec,
                Some(StartExecOptions {
                    detach: false,
                    tty: true,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(|e| format!("the engine did not run the command: {e}"))?;
        let StartExecResults::Attached { output, input } = started else {
            return Err("the engine did not attach to the command".into());
        };
        let resize = ResizeExecOptionsBuilder::new()
            .w(i32::from(width))
            .h(i32::from(height))
            .build();
        // (A command that ended at once can no longer be resized; nothing is lost.)
        let _ = docker.resize_exec(&exec, resize).await;
        let output = output
            .map(|chunk| chunk.map(|out| out.into_bytes()).map_err(|e| e.to_string()))
            .boxed();
        Ok(CommandIo {
            exec,
            output,
            input,
        })
    }

    /// The exit code of command `exec`, once it ended.
    pub async fn command_exit(&self, exec: &str) -> Option<i64> {
        let inspected = self.docker.inspect_exec(exec).await.ok()?;
        if inspected.running == Some(true) {
            return None;
        }
        inspected.exit_code
    }

    /// The containers carrying every one of `labels`.
    async fn labelled(
        &self,
        labels: &[String],
        listing: Listing,
    ) -> Result<Vec<bollard::models::ContainerSummary>, String> {
        let mut filters = HashMap::from([("label".to_string(), labels.to_vec())]);
        if listing == Listing::Running {
            filters.insert("status".to_string(), vec!["running".to_string()]);
        }
        let options = ListContainersOptionsBuilder::new()
            .all(listing != Listing::Running)
            .size(listing == Listing::WithSizes)
            .filters(&filters)
            .build();
        self.docker
            .list_containers(Some(options))
            .await
            .map_err(|e| e.to_string())
    }

    /// Every container consoles of `instance` made: toolboxes and learners' containers.
    pub async fn console_objects(&self, instance: &str) -> Result<Vec<ConsoleObject>, String> {
        let mut found = Vec::new();
        for (label, toolbox) in [(TOOLBOX_LABEL, true), (CONSOLE_LABEL, false)] {
            let labels = [label.to_string(), format!("{INSTANCE_LABEL}={instance}")];
            for container in self.labelled(&labels, Listing::All).await? {
                let labels = container.labels.unwrap_or_default();
                let owner = labels
                    .get(if toolbox { TOOLBOX_LABEL } else { OWNER_LABEL })
                    .cloned()
                    .unwrap_or_default();
                let helper = !toolbox && labels.get(CONSOLE_LABEL).is_some_and(|v| v == "helper");
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                let age = now - container.created.unwrap_or(0);
                found.push(ConsoleObject {
                    id: container.id.unwrap_or_default(),
                    owner,
                    toolbox,
                    server: labels.get(SERVER_LABEL).filter(|_| toolbox).cloned(),
                    running: container.state.is_some_and(|s| {
                        matches!(
                            s,
                            bollard::models::ContainerSummaryStateEnum::RUNNING
                                | bollard::models::ContainerSummaryStateEnum::PAUSED
                                | bollard::models::ContainerSummaryStateEnum::RESTARTING
                        )
                    }),
                    fresh_helper: helper && age < HELPER_GRACE,
                });
            }
        }
        Ok(found)
    }

    /// What each console container of `instance` wrote (its writable layer): (owner, id,
    /// bytes), toolboxes left out. The engine walks their files for it: not a call to make
    /// often.
    pub async fn console_disk(&self, instance: &str) -> Result<Vec<(String, String, u64)>, String> {
        let labels = [
            CONSOLE_LABEL.to_string(),
            format!("{INSTANCE_LABEL}={instance}"),
        ];
        Ok(self
            .labelled(&labels, Listing::WithSizes)
            .await?
            .into_iter()
            .filter_map(|c| {
                let owner = c.labels?.get(OWNER_LABEL)?.clone();
                Some((owner, c.id?, c.size_rw.unwrap_or(0).max(0) as u64))
            })
            .collect())
    }

    /// The ids of `owner`'s console containers that are running (paused ones count).
    pub async fn running_console_containers(
        &self,
        owner: &str,
        instance: &str,
    ) -> Result<Vec<String>, String> {
        Ok(self
            .console_objects(instance)
            .await?
            .into_iter()
            .filter(|o| !o.toolbox && o.running && o.owner == owner)
            .map(|o| o.id)
            .collect())
    }

    /// Stop these containers (a second to end, then killed). How many stopped.
    pub async fn stop_containers(&self, ids: &[String]) -> usize {
        let stops = ids.iter().map(|id| async move {
            let options = StopContainerOptionsBuilder::new().t(1).build();
            self.docker.stop_container(id, Some(options)).await.is_ok()
        });
        futures::future::join_all(stops)
            .await
            .into_iter()
            .filter(|stopped| *stopped)
            .count()
    }

    /// Remove these containers, running or not. How many went.
    pub async fn remove_containers(&self, ids: &[String]) -> usize {
        let removals = ids.iter().map(|id| async move {
            let options = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            self.docker
                .remove_container(id, Some(options))
                .await
                .is_ok()
        });
        futures::future::join_all(removals)
            .await
            .into_iter()
            .filter(|removed| *removed)
            .count()
    }
}

fn toolbox_config(spec: &ToolboxSpec<'_>) -> ContainerCreateBody {
    let (uid, gid) = spec.user.split_once(':').unwrap_or((spec.user, spec.user));
    ContainerCreateBody {
        image: Some(spec.image.to_string()),
        cmd: Some(vec!["sleep".into(), "infinity".into()]),
        user: Some(spec.user.to_string()),
        env: Some(
            vec![
                format!("DOCKER_HOST=unix://{PROXY_MOUNT}/docker.sock"),
                format!("HOME={HOME}"),
                "TERM=xterm-256color".into(),
                // (`docker build` goes to the classic builder, which the proxy builds with.)
                "DOCKER_BUILDKIT=0".into(),
            ]
            .into_iter()
            .chain(spec.env.iter().cloned())
            .collect(),
        ),
        working_dir: Some(HOME.into()),
        labels: Some(HashMap::from([
            (TOOLBOX_LABEL.to_string(), spec.owner.to_string()),
            (INSTANCE_LABEL.to_string(), spec.instance.to_string()),
            (SERVER_LABEL.to_string(), spec.server.to_string()),
        ])),
        host_config: Some(HostConfig {
            binds: Some(vec![format!("{}:{PROXY_MOUNT}", spec.folder.display())]),
            memory: Some(spec.memory_bytes),
            memory_swap: Some(spec.memory_bytes),
            nano_cpus: Some((spec.cpus * 1e9) as i64),
            pids_limit: Some(spec.pids),
            cap_drop: Some(vec!["ALL".into()]),
            security_opt: Some(vec!["no-new-privileges".into()]),
            // Its commands reach the engine through the proxy's socket only.
            network_mode: Some("none".into()),
            readonly_rootfs: Some(true),
            init: Some(true),
            tmpfs: Some(HashMap::from([
                (
                    HOME.to_string(),
                    format!("rw,nosuid,nodev,size=32m,mode=0700,uid={uid},gid={gid}"),
                ),
                (
                    "/tmp".to_string(),
                    "rw,nosuid,nodev,size=16m,mode=1777".to_string(),
                ),
            ])),
            log_config: Some(HostConfigLogConfig {
                typ: Some("json-file".into()),
                config: Some(HashMap::from([("max-size".to_string(), "1m".to_string())])),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
