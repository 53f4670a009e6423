//! The policy proxy: a Docker API on a Unix socket of one learner's, in front of the engine.
//! Each call is decided by [`crate::policy::api`] (the table of what goes through, scoped to
//! the learner) and only then relayed; what is refused gets the policy's words as the
//! daemon's error, which the docker CLI prints.

pub use super::door::Hook;
use super::door::{refusal, usable_image, Door};
use crate::engine::Engine;
use crate::policy::api::{decide, Decision, Scope};
use crate::policy::container::ContainerLimits;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Calls one learner's proxy relays at once; more wait their turn.
const MAX_CALLS_AT_ONCE: usize = 16;

/// The largest container configuration read (the CLI sends a few KiB).
const MAX_CREATE_BYTES: usize = 256 * 1024;

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
    /// by this user only, or by `socket_owner` only). The engine must be on this host's Unix
    /// socket.
    pub fn start(
        path: &Path,
        scope: Scope,
        engine: Arc<Engine>,
        limits: ContainerLimits,
        socket_owner: Option<(u32, u32)>,
        after_change: Option<Hook>,
        images: Option<(Arc<crate::builds::Builds>, Arc<crate::pushes::Pushes>)>,
    ) -> anyhow::Result<Self> {
        let socket = crate::engine::relay::socket_of(engine.host()).ok_or_else(|| {
            anyhow::anyhow!(
                "the docker console needs the engine on this host's Unix socket, not {}",
                engine.host()
            )
        })?;
        // The socket opens the learner's slice of the engine: it is made in a folder only this
        // user can write to (so no one can put a link or another socket in its place), and
        // made readable and writable by this user only.
        let folder = path
            .parent()
            .ok_or_else(|| anyhow::anyhow!("{} has no folder", path.display()))?;
        private_folder(folder)?;
        match std::fs::symlink_metadata(path) {
            Ok(_) => std::fs::remove_file(path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let listener = tokio::net::UnixListener::bind(path)?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        // (When the toolbox's commands run as another user than this server's.)
        if let Some((uid, gid)) = socket_owner {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
        }
        let door = Arc::new(Door {
            scope,
            engine,
            socket,
            limits,
            after_change,
            starting: tokio::sync::Mutex::new(()),
            builds: images.as_ref().map(|(b, _)| b.clone()),
            pushes: images.map(|(_, p)| p),
            building: Arc::default(),
            ping: tokio::sync::OnceCell::new(),
            pulling: Arc::new(tokio::sync::Semaphore::new(super::door::MAX_PULLS)),
            open: tokio::sync::watch::channel(()).0,
        });
        // A few calls at a time per learner (`logs -f` holds one as long as it follows).
        let app = axum::Router::new().fallback(relay).with_state(door).layer(
            tower::limit::GlobalConcurrencyLimitLayer::new(MAX_CALLS_AT_ONCE),
        );
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

/// A client of the engine, or the refusal saying it cannot be reached.
async fn engine_client(door: &Door) -> Result<crate::engine::Client, Response> {
    door.engine.client().await.map_err(|e| {
        refusal(
            503,
            format!("layerlab: the Docker engine cannot be reached: {e}"),
        )
    })
}

async fn relay(State(door): State<Arc<Door>>, mut request: Request) -> Response {
    let method = request.method().as_str().to_string();
    let asked = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut changes = false;
    // (An answer that names the learner's images: shown with their own names.)
    let mut names_images = false;
    // (A push or pull: sent with the learner's own login to the class registry.)
    let mut registry_auth = None;
    // (Held while a push streams: no garbage collection of the registry runs under it.)
    let mut push_permit = None;
    // (A pull of an image pushed from here: noted once its answer has streamed, holding one
    // of the learner's places for pulls until then.)
    let mut pulled = None;
    let mut _starting = None;
    let decision = decide(&method, &asked, &door.scope);
    let ping =
        matches!(&decision, Decision::Forward(p) if p.trim_start_matches('/').starts_with("_ping"));
    if let Some(headers) = door.ping.get().filter(|_| ping) {
        let mut answer = if method == "HEAD" {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from("OK"))
        };
        *answer.headers_mut() = headers.clone();
        return answer;
    }
    let path = match decision {
        Decision::Forward(path) => path,
        Decision::Refuse { status, message } => return refusal(status, message),
        Decision::Create { path, name } => {
            return match created(&door, request, &path, name.as_deref()).await {
                Ok(answer) => answer,
                Err((status, message)) => refusal(status, message),
            }
        }
        Decision::Build { query } => return super::images::build(&door, request, &query).await,
        Decision::Login => return super::images::login(&door, request).await,
        Decision::Pull { query } => {
            let client = match engine_client(&door).await {
                Ok(client) => client,
                Err(refused) => return refused,
            };
            let Ok(place) = door.pulling.clone().try_acquire_owned() else {
                return refusal(
                    429,
                    format!(
                        "layerlab: {} of your pulls are still running (a pull goes on after its docker pull is stopped, until the engine has it); pull again once one has ended.",
                        super::door::MAX_PULLS
                    ),
                );
            };
            match super::images::pull(&door, &client, &query).await {
                Ok(asked) => {
                    registry_auth = Some(asked.auth);
                    pulled = asked.pulled.map(|p| (p, client, place));
                    asked.path
                }
                Err((status, message)) => return refusal(status, message),
            }
        }
        Decision::Push { image, query } => {
            let client = match engine_client(&door).await {
                Ok(client) => client,
                Err(refused) => return refused,
            };
            match super::images::push(&door, &client, &image, &query).await {
                Ok(asked) => {
                    let Some(permit) = door.pushes.as_ref().and_then(|p| p.console_permit()) else {
                        return refusal(
                            503,
                            "layerlab: the class registry is taking as many pushes as it takes at once; push again in a moment.".into(),
                        );
                    };
                    push_permit = Some((permit, asked.pushed));
                    registry_auth = Some(asked.auth);
                    asked.path
                }
                Err((status, message)) => return refusal(status, message),
            }
        }
        Decision::TagImage { image, query } => {
            let client = match engine_client(&door).await {
                Ok(client) => client,
                Err(refused) => return refused,
            };
            return match super::images::tag(&door, &client, &image, &query).await {
                Ok(answer) => answer,
                Err((status, message)) => refusal(status, message),
            };
        }
        Decision::RemoveImage { image, query } => {
            let client = match engine_client(&door).await {
                Ok(client) => client,
                Err(refused) => return refused,
            };
            names_images = true;
            match super::images::removable(&door.scope, &client, &image).await {
                Ok(reference) => format!(
                    "/images/{}{}",
                    form_urlencoded::byte_serialize(reference.as_bytes()).collect::<String>(),
                    if query.is_empty() {
                        String::new()
                    } else {
                        format!("?{query}")
                    }
                ),
                Err((status, message)) => return refusal(status, message),
            }
        }
        Decision::OwnImage {
            image,
            before,
            after,
        } => {
            let client = match engine_client(&door).await {
                Ok(client) => client,
                Err(refused) => return refused,
            };
            match usable_image(&client, &door.scope, &image).await {
                Ok(Some((id, _))) => format!("{before}{id}{after}"),
                Ok(None) => return refusal(404, format!("No such image: {image}")),
                Err(e) => {
                    return refusal(
                        503,
                        format!("layerlab: the Docker engine did not answer: {e}"),
                    )
                }
            }
        }
        Decision::OwnExec {
            exec,
            before,
            after,
        } => match own_exec(&door, &exec).await {
            Ok(()) => format!("{before}{exec}{after}"),
            Err((status, message)) => return refusal(status, message),
        },
        Decision::OwnContainer {
            container,
            before,
            after,
        } => {
            let client = match engine_client(&door).await {
                Ok(client) => client,
                Err(refused) => return refused,
            };
            let engine_name = door.scope.engine_name(&container);
            match client
                .own_container(&door.scope.owner, &container, &engine_name)
                .await
            {
                Ok(Some(id)) => {
                    let (call, _) = after.split_once('?').unwrap_or((after.as_str(), ""));
                    changes = matches!(
                        call,
                        "/start" | "/restart" | "/unpause" | "/stop" | "/kill" | ""
                    );
                    if matches!(call, "/start" | "/restart" | "/unpause") {
                        _starting = Some(door.starting.lock().await);
                        if let Err((status, message)) = room_to_run(&door, &client, &id).await {
                            return refusal(status, message);
                        }
                    }
                    format!("{before}{id}{after}")
                }
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
    // Attaching to one of the learner's own containers is the one call whose connection
    // becomes the container's input and output (`docker run` without -d, `docker attach`).
    let attaching = crate::policy::api::is_attach(&path);
    let learner_side = attaching.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, mut body) = request.into_parts();
    if !attaching {
        strip_hop_by_hop(&mut parts.headers);
    }
    // Whatever login the CLI sent goes no further.
    parts.headers.remove("x-registry-auth");
    parts.headers.remove("x-registry-config");
    if let Some(auth) = registry_auth {
        parts.headers.insert("x-registry-auth", auth);
    }
    if crate::policy::api::is_exec_create(&path) {
        // `docker exec`: the command's configuration as the policy lets it run.
        let Ok(asked) = axum::body::to_bytes(body, MAX_CREATE_BYTES).await else {
            return refusal(
                413,
                "layerlab: the command's configuration is too large".into(),
            );
        };
        let checked = match crate::policy::container::exec(&asked) {
            Ok(checked) => checked.to_string(),
            Err(message) => return refusal(403, message),
        };
        parts.headers.remove(http::header::TRANSFER_ENCODING);
        parts
            .headers
            .insert(http::header::CONTENT_LENGTH, checked.len().into());
        body = Body::from(checked);
    }
    parts.uri = match path.parse() {
        Ok(uri) => uri,
        Err(_) => return refusal(400, "layerlab: a path the engine would not read".into()),
    };
    let mut answer = match crate::engine::relay::send(
        &door.socket,
        http::Request::from_parts(parts, body),
    )
    .await
    {
        Ok(answer) => answer,
        Err(e) => return refusal(503, format!("layerlab: {e}")),
    };
    if let Some(learner_side) = learner_side {
        if answer.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            let engine_side = hyper::upgrade::on(&mut answer);
            tokio::spawn(async move {
                let (Ok(learner), Ok(engine)) = (learner_side.await, engine_side.await) else {
                    return;
                };
                let mut learner = hyper_util::rt::TokioIo::new(learner);
                let mut engine = hyper_util::rt::TokioIo::new(engine);
                let _ = tokio::io::copy_bidirectional(&mut learner, &mut engine).await;
            });
        }
        return answer.map(Body::new);
    }
    if !answer.status().is_success() || names_images {
        return unprefixed(answer, &door.scope).await;
    }
    if let Some(hook) = door.after_change.as_ref().filter(|_| changes) {
        hook().await;
    }
    if ping && answer.status().is_success() {
        let mut kept = http::HeaderMap::new();
        for name in [
            "api-version",
            "docker-experimental",
            "ostype",
            "content-type",
            "cache-control",
            "pragma",
        ] {
            if let Some(value) = answer.headers().get(name) {
                kept.insert(name, value.clone());
            }
        }
        // (The classic builder is the one the console builds with.)
        kept.insert("builder-version", http::HeaderValue::from_static("1"));
        let _ = door.ping.set(kept.clone());
        *answer.headers_mut() = kept;
    }
    if let Some(((pulled, client, place), builds)) = pulled.zip(door.builds.clone()) {
        // The pull is read to its end (the CLI may leave); then the image gets the tag asked
        // for, and what the engine holds is noted as the learner's pull (a console exercise
        // asks for one).
        let owner = door.scope.owner.clone();
        let (parts, body) = answer.into_parts();
        return Response::from_parts(
            parts,
            Body::from_stream(pulled.answer(
                Body::new(body),
                client,
                owner,
                builds,
                (place, door.open.subscribe()),
            )),
        );
    }
    if let Some((permit, pushed)) = push_permit {
        // The push goes on as long as its answer streams: the place is given back after, and
        // what it pushed noted as the learner's (their registry page, later pulls).
        // (What the engine says it pushed, read from its lines: the registry read back after
        // must hold that very manifest, not one pushed meanwhile from elsewhere.)
        let (parts, body) = answer.into_parts();
        let seen = Arc::new(std::sync::Mutex::new(super::images::PushedDigest::default()));
        let reading = seen.clone();
        let body = futures::StreamExt::inspect(Body::new(body).into_data_stream(), move |chunk| {
            if let Ok(bytes) = chunk {
                crate::sync::lock(&reading).feed(bytes);
            }
        });
        let noted = pushed
            .zip(door.builds.clone())
            .map(|((repository, tag, id), builds)| {
                let owner = door.scope.owner.clone();
                async move {
                    let digest = crate::sync::lock(&seen).digest();
                    builds
                        .record_console_push(&owner, &repository, &tag, &id, digest.as_deref())
                        .await
                }
            });
        let then = async move {
            if let Some(noted) = noted {
                noted.await;
            }
            drop(permit);
        };
        return Response::from_parts(
            parts,
            Body::from_stream(after_stream(Body::from_stream(body), then)),
        );
    }
    if !crate::policy::api::is_shown(&path) {
        return answer.map(Body::new);
    }
    // A listing or an inspection: read whole (bounded), shown as the learner sees it.
    let (mut parts, body) = answer.into_parts();
    let bytes = match axum::body::to_bytes(Body::new(body), MAX_SHOWN_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refusal(
                502,
                "layerlab: the engine's answer is too large to show".into(),
            )
        }
    };
    let shown = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|value| crate::policy::api::as_shown(&path, &value, &door.scope));
    let Some(shown) = shown else {
        return refusal(
            502,
            "layerlab: the engine's answer could not be read".into(),
        );
    };
    let bytes = shown.to_string();
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, bytes.len().into());
    Response::from_parts(parts, Body::from(bytes))
}

/// The most of an engine's answer read to be shown (a listing of many containers).
const MAX_SHOWN_BYTES: usize = 8 * 1024 * 1024;

/// `POST /containers/create`: the container as the policy lets it be made, from an image the
/// learner may run, sharing namespaces only with their own containers, under their own name;
/// the engine's answer, or the refusal.
async fn created(
    door: &Door,
    request: Request,
    path: &str,
    name: Option<&str>,
) -> Result<Response, (u16, String)> {
    let (mut parts, body) = request.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let body = axum::body::to_bytes(body, MAX_CREATE_BYTES)
        .await
        .map_err(|_| {
            (
                413,
                "layerlab: the container's configuration is too large".to_string(),
            )
        })?;
    let scope = &door.scope;
    let mut create =
        crate::policy::container::create(&body, &scope.owner, &scope.instance, &door.limits)
            .map_err(|message| (403, message))?;
    let unreachable = |e: String| {
        (
            503,
            format!("layerlab: the Docker engine cannot be reached: {e}"),
        )
    };
    let client = door.engine.client().await.map_err(unreachable)?;
    // (Counted and made one at a time, like starts.)
    let _one_at_a_time = door.starting.lock().await;
    let kept = client
        .console_objects(&scope.instance)
        .await
        .map_err(unreachable)?
        .into_iter()
        .filter(|o| !o.toolbox && o.owner == scope.owner)
        .count();
    if kept >= door.limits.max_containers {
        return Err((
            403,
            format!(
                "layerlab: you have {kept} containers, the most one learner may keep; remove some first (docker ps -a lists them, docker rm NAME removes one)"
            ),
        ));
    }
    // The image: one of the course's base images, or one of the learner's own.
    let image = create.body["Image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some((id, found_as)) = usable_image(&client, scope, &image)
        .await
        .map_err(unreachable)?
    else {
        // (Not 404: the CLI would take it for a missing image and try to pull it.)
        return Err((
            403,
            format!(
                "No such image: {image} (layerlab: the console runs the course's base images ({}) and images you built)",
                scope.base_images.join(", ")
            ),
        ));
    };
    // By a name no one else can move (one of the learner's own, or a base image's), which
    // `docker ps` shows; otherwise by the id the check found.
    // (By id, the container keeps the name as typed, for `docker ps` and inspect to show.)
    let stable = found_as.starts_with(&scope.image_prefix()) || scope.is_base_image(&found_as);
    if !stable {
        create.body["Labels"][crate::policy::container::IMAGE_LABEL] =
            serde_json::Value::String(image.clone());
    }
    create.body["Image"] = serde_json::Value::String(if stable { found_as } else { id });
    // Namespaces shared with a container: only one of the learner's own, by its full id.
    for (field, typed) in std::mem::take(&mut create.joins) {
        let id = client
            .own_container(&scope.owner, &typed, &scope.engine_name(&typed))
            .await
            .map_err(unreachable)?
            .ok_or_else(|| (400, format!("No such container: {typed}")))?;
        create.body["HostConfig"][field] = serde_json::Value::String(format!("container:{id}"));
    }
    let target = match name {
        Some(name) => format!(
            "{path}?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("name", &scope.engine_name(name))
                .finish()
        ),
        None => path.to_string(),
    };
    let bytes = create.body.to_string().into_bytes();
    parts.uri = target.parse().map_err(|_| {
        (
            400,
            "layerlab: a path the engine would not read".to_string(),
        )
    })?;
    parts.headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, bytes.len().into());
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    let answer = crate::engine::relay::send(
        &door.socket,
        http::Request::from_parts(parts, Body::from(bytes)),
    )
    .await
    .map_err(|e| (503, format!("layerlab: {e}")))?;
    if !answer.status().is_success() {
        return Ok(unprefixed(answer, scope).await);
    }
    Ok(answer.map(Body::new))
}

/// The engine's error as the learner reads it: their containers' names as they typed them,
/// without the prefix the engine knows them by (`Conflict. The container name "/web" …`).
pub(super) async fn unprefixed(
    answer: http::Response<hyper::body::Incoming>,
    scope: &Scope,
) -> Response {
    let (mut parts, body) = answer.into_parts();
    let Ok(bytes) = axum::body::to_bytes(Body::new(body), MAX_ERROR_BYTES).await else {
        return refusal(
            502,
            "layerlab: the engine's error is too large to show".into(),
        );
    };
    let text = scope.unprefixed(&String::from_utf8_lossy(&bytes));
    parts.headers.remove(http::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(http::header::CONTENT_LENGTH, text.len().into());
    Response::from_parts(parts, Body::from(text))
}

/// The most of an engine's error read to be shown.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Whether the learner may have container `id` running: fewer than the most of their
/// containers that may run at once are running besides it.
async fn room_to_run(
    door: &Door,
    client: &crate::engine::Client,
    id: &str,
) -> Result<(), (u16, String)> {
    let running = client
        .running_console_containers(&door.scope.owner, &door.scope.instance)
        .await
        .map_err(|e| {
            (
                503,
                format!("layerlab: the Docker engine did not answer: {e}"),
            )
        })?;
    // A port in the console is one container's, as on a laptop.
    let engine_down = |e: String| {
        (
            503,
            format!("layerlab: the Docker engine did not answer: {e}"),
        )
    };
    let wanted = client.published_by(id).await.map_err(engine_down)?;
    if !wanted.is_empty() {
        let serving = client
            .serving(&door.scope.owner, &door.scope.instance)
            .await
            .map_err(engine_down)?;
        for other in serving.iter().filter(|s| s.id != id) {
            if let Some(taken) = wanted
                .iter()
                .find(|w| other.ports.iter().any(|p| p.host == w.host))
            {
                return Err((
                    409,
                    format!(
                        "driver failed programming external connectivity: Bind for 0.0.0.0:{} failed: port is already allocated (layerlab: another of your containers publishes it)",
                        taken.host
                    ),
                ));
            }
        }
    }
    let others = running.iter().filter(|r| r.as_str() != id).count();
    let most = door.limits.max_running;
    if others >= most {
        return Err((
            403,
            format!(
                "layerlab: you have {others} containers running, the most one learner may; stop one first (docker ps shows them, docker stop NAME stops one)"
            ),
        ));
    }
    Ok(())
}

/// Headers about this connection, not the call: an upgrade (attach, exec) is not relayed.
fn strip_hop_by_hop(headers: &mut http::HeaderMap) {
    for name in [
        http::header::CONNECTION,
        http::header::UPGRADE,
        http::header::TE,
        http::header::TRAILER,
        http::header::PROXY_AUTHORIZATION,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
}

/// Refuse a folder that someone else owns or others may write to.
fn private_folder(folder: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(folder)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        anyhow::bail!(
            "{} must be a folder of this user's that no one else can write to (mode 0700)",
            folder.display()
        );
    }
    Ok(())
}

/// Whether the command `exec` (`docker exec`) runs in one of the learner's own containers:
/// `Ok` if so, else the refusal (anyone else's is "No such exec instance", as the engine
/// says of one it does not have).
async fn own_exec(door: &Door, exec: &str) -> Result<(), (u16, String)> {
    let unreachable = |e: String| {
        (
            503,
            format!("layerlab: the Docker engine cannot be reached: {e}"),
        )
    };
    let client = door.engine.client().await.map_err(unreachable)?;
    let missing = || (404, format!("No such exec instance: {exec}"));
    let container = client
        .exec_container(exec)
        .await
        .map_err(unreachable)?
        .ok_or_else(missing)?;
    client
        .own_container(&door.scope.owner, &container, "")
        .await
        .map_err(unreachable)?
        .filter(|id| *id == container)
        .map(|_| ())
        .ok_or_else(missing)
}

/// `body` as it streams, then `then` run once it has all gone (not if the reader goes away
/// first: `then` is dropped with the stream).
fn after_stream(
    body: Body,
    then: impl std::future::Future<Output = ()> + Send + 'static,
) -> impl futures::Stream<Item = Result<bytes::Bytes, axum::Error>> + Send + 'static {
    futures::stream::unfold(
        (body.into_data_stream(), Some(Box::pin(then))),
        |(mut stream, then)| async move {
            use futures::StreamExt;
            match stream.next().await {
                Some(chunk) => Some((chunk, (stream, then))),
                None => {
                    if let Some(then) = then {
                        then.await;
                    }
                    None
                }
            }
        },
    )
}
