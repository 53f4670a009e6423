//! Tag & push: a learner's successful build goes to their namespace in the class registry,
//! pushed by the engine with the learner's own registry credentials (so the registry, not
//! layerlab, decides what the push may reach). The learner follows it live, line by line as
//! `docker push` tells it; the result — the digest, the size — is read back from the registry
//! itself, and only a push the registry confirms is kept.

use crate::engine::push::{PushAs, PushError, PushProgress};
use crate::engine::Engine;
use crate::registry::Registry;
use crate::store::{PushRow, Store};
use crate::sync::lock;
use app::dto::{
    push_events_url, BuildStatus, BuildView, PushAccepted, PushStatus, PushView, RegistryPage,
    RegistryRepository, RegistryTag, RegistryView,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// The longest a push may take.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(300);
/// Finished pushes kept in memory for their followers.
const KEEP_FINISHED: usize = 500;
/// The longest repository path (`<handle>/<name>`), well inside the registry's 255.
const MAX_REPOSITORY_CHARS: usize = 160;

/// Why a push was not started. Each maps to one HTTP status and error code.
#[derive(Debug, thiserror::Error)]
pub enum PushRefused {
    /// What the learner typed is no `name:tag` the registry takes.
    #[error("{0}")]
    BadTag(String),
    #[error("This build has not finished yet: push it once it has succeeded.")]
    NotFinished,
    #[error(
        "This build did not succeed, so there is no image to push. Fix it, build again, then push."
    )]
    NotSucceeded,
    /// No registry this workshop runs (off, or external).
    #[error("{0}")]
    Unavailable(String),
    #[error("Your previous push is still going: wait for it to finish, then push again.")]
    Busy,
    #[error("Pushing is unavailable right now: {0}")]
    EngineUnavailable(String),
    #[error("The workshop is already pushing {0} images for others, the most it pushes at once: try again in a few seconds.")]
    Crowded(usize),
    #[error("Your registry holds {}, and each learner may keep at most {} there: delete tags you no longer need on your registry page (the space is freed right after), then push again.", app::dto::human_size(*used), app::dto::human_size(*limit))]
    OverQuota { used: u64, limit: u64 },
}

/// The least time between two collections a deletion starts.
const COLLECT_AT_MOST_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Pushes the engine makes at once, for all learners together.
pub const MAX_PUSHES_AT_ONCE: usize = 4;

/// Where a learner's push goes: `<handle>/<name>` and a tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub repository: String,
    pub tag: String,
}

/// Read what the learner typed (`my-app:1.0.0`, `my-app` for `latest`, or the whole
/// reference `127.0.0.1:5100/<handle>/my-app:1.0.0` as `docker push` takes it) as a target in
/// the learner's own namespace; anything else is refused with what to type instead.
pub fn parse_target(typed: &str, registry: &str, handle: &str) -> Result<Target, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Err("Type a name and a tag for the image, like my-app:1.0.0.".into());
    }
    let own = format!("{registry}/{handle}/");
    let rest = typed.strip_prefix(&own).unwrap_or(typed);
    if rest.contains('@') {
        return Err(
            "A push names a tag, not a digest: the registry gives the digest (type my-app:1.0.0)."
                .into(),
        );
    }
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (rest, "latest"),
    };
    let first = name.split('/').next().unwrap_or_default();
    let names_a_host = first.contains(':')
        || first == "localhost"
        || (first.contains('.') && first.bytes().any(|b| b.is_ascii_alphanumeric()));
    if name.contains('/') && names_a_host {
        return Err(format!(
            "Pushes from here go to the class registry, into your namespace: type only the name and tag (my-app:1.0.0); it becomes {own}my-app:1.0.0."
        ));
    }
    if first == handle || name.starts_with("learner-") {
        return Err(format!(
            "Type the name without a namespace (my-app:1.0.0): your namespace, {handle}/, is put in front of it."
        ));
    }
    if !name.split('/').all(crate::registry::is_path_component) {
        return Err(format!(
            "“{name}” cannot be an image name: use lowercase letters, digits, and . _ - between them (like my-app or web/api)."
        ));
    }
    let tag_ok = crate::registry::is_tag(tag);
    if !tag_ok {
        return Err(format!(
            "“{tag}” cannot be a tag: use up to 128 letters, digits, . _ and -, not starting with . or - (like 1.0.0 or devel)."
        ));
    }
    let repository = format!("{handle}/{name}");
    if repository.len() > MAX_REPOSITORY_CHARS {
        return Err(format!(
            "The name is too long: keep it under {} characters.",
            MAX_REPOSITORY_CHARS - handle.len() - 1
        ));
    }
    Ok(Target {
        repository,
        tag: tag.to_string(),
    })
}

/// What a push's followers receive.
#[derive(Clone, Debug)]
pub enum PushEvent {
    Line(String),
    Done(PushView),
}

/// One push as its followers see it.
pub struct PushRecord {
    owner: String,
    view: Mutex<PushView>,
    events: broadcast::Sender<PushEvent>,
}

/// The most lines a push keeps and shows.
const MAX_PUSH_LINES: usize = 2000;

impl PushRecord {
    pub fn view(&self) -> PushView {
        lock(&self.view).clone()
    }

    /// What happened so far, and the events from now on (none missed in between).
    pub fn subscribe(&self) -> (PushView, broadcast::Receiver<PushEvent>) {
        let view = lock(&self.view);
        (view.clone(), self.events.subscribe())
    }

    fn line(&self, line: String) {
        let mut view = lock(&self.view);
        // A run of the pulled-back image prints what the learner's program prints: the lines
        // kept are bounded (the last one says so).
        if view.lines.len() > MAX_PUSH_LINES {
            return;
        }
        let line = if view.lines.len() == MAX_PUSH_LINES {
            "(more lines were printed; the rest is not kept)".to_string()
        } else {
            line
        };
        view.lines.push(line.clone());
        let _ = self.events.send(PushEvent::Line(line));
    }

    fn finish(&self, change: impl FnOnce(&mut PushView)) {
        let mut view = lock(&self.view);
        change(&mut view);
        let _ = self.events.send(PushEvent::Done(view.clone()));
    }
}

/// The pushes under way and recently finished.
pub struct Pushes {
    records: Mutex<HashMap<String, Arc<PushRecord>>>,
    finished: Mutex<VecDeque<String>>,
    /// Learners with a push under way (one each).
    busy: Arc<Mutex<HashSet<String>>>,
    /// Pushes under way, for everyone together.
    permits: Arc<tokio::sync::Semaphore>,
    /// A tag was deleted since the registry's garbage was last collected.
    garbage: std::sync::atomic::AtomicBool,
    /// When a deletion last started a collection: at most one a minute that way (each holds
    /// back every push); the janitor collects what is left.
    last_started: Mutex<Option<std::time::Instant>>,
}

impl Default for Pushes {
    fn default() -> Self {
        Pushes {
            records: Mutex::default(),
            finished: Mutex::default(),
            busy: Arc::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_PUSHES_AT_ONCE)),
            garbage: std::sync::atomic::AtomicBool::new(false),
            last_started: Mutex::new(None),
        }
    }
}

/// Takes a learner's place as pusher; gives it back when dropped.
struct Busy {
    learners: Arc<Mutex<HashSet<String>>>,
    learner: String,
}

impl Drop for Busy {
    fn drop(&mut self) {
        lock(&self.learners).remove(&self.learner);
    }
}

/// What a push needs of the server.
#[derive(Clone)]
pub struct PushPorts {
    pub store: Store,
    pub builds: Arc<crate::builds::Builds>,
    pub engine: Arc<Engine>,
    pub registry: Arc<Registry>,
}

impl Pushes {
    /// The push `id`, if it is `owner`'s and still kept.
    pub fn get(&self, id: &str, owner: &str) -> Option<Arc<PushRecord>> {
        lock(&self.records)
            .get(id)
            .filter(|r| r.owner == owner)
            .cloned()
    }

    /// Start pushing `build` (the learner's own, as the caller checked) as `typed`.
    pub async fn start(
        self: &Arc<Self>,
        ports: PushPorts,
        learner: &str,
        build: &BuildView,
        typed: &str,
    ) -> Result<PushAccepted, PushRefused> {
        let registry = &ports.registry;
        let Some(address) = registry.address().map(str::to_string) else {
            return Err(PushRefused::Unavailable(
                "This workshop runs without a registry, so there is nowhere to push.".into(),
            ));
        };
        let handle = crate::registry::handle_of(learner);
        let credentials = registry.credentials(&handle).ok_or_else(|| {
            PushRefused::Unavailable(format!(
                "The registry at {address} is not run by this workshop, so it cannot push there for you; push with the docker CLI and your own login there."
            ))
        })?;
        let target = parse_target(typed, &address, &handle).map_err(PushRefused::BadTag)?;
        match build.status {
            BuildStatus::Succeeded => {}
            s if !s.is_finished() => return Err(PushRefused::NotFinished),
            _ => return Err(PushRefused::NotSucceeded),
        }
        let image = build
            .image
            .as_ref()
            .map(|i| i.id.clone())
            .ok_or(PushRefused::NotSucceeded)?;
        // The registry would refuse it too (its token would carry no push); said plainly here.
        if let Some((used, limit)) = registry.usage(&handle).await {
            if limit > 0 && used >= limit {
                return Err(PushRefused::OverQuota { used, limit });
            }
        }
        let docker = ports
            .engine
            .client()
            .await
            .map_err(|e| PushRefused::EngineUnavailable(e.to_string()))?;
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| PushRefused::Crowded(MAX_PUSHES_AT_ONCE))?;
        let busy = {
            let mut learners = lock(&self.busy);
            if !learners.insert(learner.to_string()) {
                return Err(PushRefused::Busy);
            }
            Busy {
                learners: self.busy.clone(),
                learner: learner.to_string(),
            }
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let reference = format!("{address}/{}:{}", target.repository, target.tag);
        let record = Arc::new(PushRecord {
            owner: learner.to_string(),
            view: Mutex::new(PushView {
                id: id.clone(),
                build: build.id.clone(),
                reference: reference.clone(),
                status: PushStatus::Pushing,
                lines: Vec::new(),
                digest: None,
                size_bytes: None,
                pull: None,
                error: None,
                checks: None,
            }),
            events: broadcast::channel(256).0,
        });
        lock(&self.records).insert(id.clone(), record.clone());
        let pushes = self.clone();
        let learner = learner.to_string();
        let build_id = build.id.clone();
        tokio::spawn(async move {
            let _held = (busy, permit);
            let job = Job {
                ports: &ports,
                record: &record,
                learner: &learner,
                build_id: &build_id,
                image: &image,
                address: &address,
                target: &target,
                credentials: &credentials,
            };
            let outcome = tokio::time::timeout(PUSH_TIMEOUT, job.run(&docker)).await;
            ports
                .registry
                .forget_usage(&crate::registry::handle_of(&learner));
            let outcome = outcome.unwrap_or_else(|_| {
                Err(format!(
                    "The push took longer than {} minutes and was stopped. Try again; if it keeps happening, tell your instructor.",
                    PUSH_TIMEOUT.as_secs() / 60
                ))
            });
            match outcome {
                Ok(done) => {
                    // The exercise's checks on the registry, judged again on what it holds now.
                    let log = |line: String| record.line(line);
                    // `name:tag` as the exercise's checks name it: without the namespace.
                    let repository = target
                        .repository
                        .split_once('/')
                        .map_or(target.repository.as_str(), |(_, name)| name);
                    let pushed = format!("{repository}:{}", target.tag);
                    let checks = ports
                        .builds
                        .rejudge_pushed(&learner, &build_id, &pushed, &log)
                        .await;
                    record.finish(|v| {
                        v.status = PushStatus::Pushed;
                        v.digest = Some(done.digest);
                        v.size_bytes = Some(done.size_bytes);
                        v.pull = Some(done.pull);
                        v.checks = checks;
                    })
                }
                Err(error) => record.finish(|v| {
                    v.status = PushStatus::Failed;
                    v.error = Some(error);
                }),
            }
            pushes.retire(&record.view().id);
        });
        Ok(PushAccepted {
            events: push_events_url(&id),
            id,
        })
    }

    /// Delete the learner's tag `typed` (`my-app:1.0.0`) from their namespace; the space its
    /// layers took is freed by the garbage collection that follows. The notice to show.
    pub async fn delete_tag(
        self: &Arc<Self>,
        registry: &Arc<Registry>,
        learner: &str,
        typed: &str,
    ) -> Result<String, PushRefused> {
        let Some(address) = registry.address() else {
            return Err(PushRefused::Unavailable(
                "This workshop runs without a registry.".into(),
            ));
        };
        let handle = crate::registry::handle_of(learner);
        let target = parse_target(typed, address, &handle).map_err(PushRefused::BadTag)?;
        let name = format!("{}:{}", target.repository, target.tag);
        match registry.delete_tag(&target.repository, &target.tag).await {
            Ok(()) => {}
            Err(crate::registry::DeleteError::NoSuchTag) => {
                return Err(PushRefused::BadTag(format!(
                    "Your registry holds no {name}: nothing was deleted."
                )))
            }
            Err(e) => return Err(PushRefused::Unavailable(format!("{name}: {e}."))),
        }
        self.garbage
            .store(true, std::sync::atomic::Ordering::SeqCst);
        registry.forget_usage(&handle);
        let now = std::time::Instant::now();
        let soon = {
            let mut last = lock(&self.last_started);
            let due = last.is_none_or(|at| now.duration_since(at) >= COLLECT_AT_MOST_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if !soon {
            return Ok(format!(
                "Deleted {address}/{name}. The space its layers took is freed at the next clean-up, once no other tag of yours uses them."
            ));
        }
        let (pushes, registry) = (self.clone(), registry.clone());
        tokio::spawn(async move {
            if let Some(Err(e)) = pushes.collect_garbage(&registry).await {
                tracing::warn!("collecting the registry's garbage: {e}");
            }
        });
        Ok(format!(
            "Deleted {address}/{name}. The space its layers took is freed once no other tag of yours uses them."
        ))
    }

    /// A place among the pushes under way, for one made in a docker console (held until it
    /// ends, so that no garbage collection runs under it); `None` when all are taken.
    pub fn console_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().try_acquire_owned().ok()
    }

    /// Collect the registry's garbage if a tag was deleted since the last collection, once
    /// no push of layerlab's is in flight (new ones wait meanwhile: they are refused as
    /// crowded for that moment). `None` when there was nothing to do.
    pub async fn collect_garbage(
        &self,
        registry: &Registry,
    ) -> Option<Result<crate::registry::Collected, String>> {
        if !self
            .garbage
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return None;
        }
        let _no_pushes = self
            .permits
            .acquire_many(MAX_PUSHES_AT_ONCE as u32)
            .await
            .ok()?;
        let collected = registry.collect_garbage().await?;
        match &collected {
            Ok(c) => tracing::info!(
                before = c.before_bytes,
                after = c.after_bytes,
                "collected the registry's garbage"
            ),
            Err(_) => self
                .garbage
                .store(true, std::sync::atomic::Ordering::SeqCst),
        }
        Some(collected)
    }

    /// Keep `id` for its followers among the last few finished pushes.
    fn retire(&self, id: &str) {
        let mut finished = lock(&self.finished);
        finished.push_back(id.to_string());
        while finished.len() > KEEP_FINISHED {
            if let Some(old) = finished.pop_front() {
                lock(&self.records).remove(&old);
            }
        }
    }
}

/// One push under way.
struct Job<'a> {
    ports: &'a PushPorts,
    record: &'a PushRecord,
    learner: &'a str,
    build_id: &'a str,
    image: &'a str,
    address: &'a str,
    target: &'a Target,
    credentials: &'a crate::registry::Credentials,
}

/// What the registry holds after a push.
struct Pushed {
    digest: String,
    size_bytes: u64,
    pull: String,
}

impl Job<'_> {
    async fn run(&self, docker: &crate::engine::Client) -> Result<Pushed, String> {
        let repository = format!("{}/{}", self.address, self.target.repository);
        let who = PushAs {
            server: self.address,
            username: &self.credentials.username,
            password: &self.credentials.password,
        };
        let mut layers = 0usize;
        let mut done = 0usize;
        let mut said_digest = None;
        let mut on = |step: PushProgress| {
            let line = match step {
                PushProgress::Repository(r) => format!("The push refers to repository [{r}]"),
                PushProgress::Preparing => {
                    layers += 1;
                    return;
                }
                PushProgress::LayerPushed => {
                    done += 1;
                    format!("Layer {done} of {layers}: pushed")
                }
                PushProgress::LayerThere => {
                    done += 1;
                    format!("Layer {done} of {layers}: already in the registry")
                }
                PushProgress::Digest { digest, size } => {
                    let line = format!("{}: digest: {digest} size: {size}", self.target.tag);
                    said_digest = Some(digest);
                    line
                }
            };
            self.record.line(line);
        };
        docker
            .push(self.image, &repository, &self.target.tag, &who, &mut on)
            .await
            .map_err(|e| match e {
                PushError::NoImage(_) => "This build's image is no longer kept (a newer build of this exercise replaced it, or the workshop freed space). Build it again, then push.".to_string(),
                PushError::Refused(said) => format!("The push did not complete: {said}. Nothing was kept; try again."),
            })?;
        // What the registry holds now is the result, not what the push printed.
        let registry = &self.ports.registry;
        let held = registry
            .tag(&self.target.repository, &self.target.tag)
            .await
            .map_err(|e| format!("The push ended, but the registry could not be read back: {e}."))?
            .ok_or_else(|| {
                "The push ended, but the registry holds no such tag: try again.".to_string()
            })?;
        // (The very manifest the engine pushed: not another pushed meanwhile from elsewhere,
        // even one with the same config.)
        if !held.is(self.image) || said_digest.as_deref() != Some(held.digest.as_str()) {
            return Err(format!(
                "The registry now holds another image under {}:{} (pushed at the same time from elsewhere?): push again.",
                self.target.repository, self.target.tag
            ));
        }
        self.ports
            .store
            .record_push(
                self.learner,
                &PushRow {
                    id: self.record.view().id,
                    build_id: self.build_id.to_string(),
                    repository: self.target.repository.clone(),
                    tag: self.target.tag.clone(),
                    digest: held.digest.clone(),
                    image_id: self.image.to_string(),
                    size_bytes: held.size_bytes,
                    pushed_at: crate::store::now_ms(),
                },
            )
            .await
            .map_err(|e| {
                tracing::error!("keeping a push: {e}");
                "The image is in the registry, but the workshop could not note the push; it will still show on your registry page.".to_string()
            })?;
        Ok(Pushed {
            pull: format!("docker pull {repository}@{}", held.digest),
            digest: held.digest,
            size_bytes: held.size_bytes,
        })
    }
}

/// The registry page of the session's learner: their namespace, or why it cannot be shown.
pub async fn registry_page(
    store: &Store,
    registry: &Registry,
    session: &tower_sessions::Session,
) -> Result<RegistryPage, app::backend::BackendError> {
    let csrf = crate::auth::page_csrf(session).await?;
    let notice = crate::auth::take_notice(session).await;
    let page = |problem: String| RegistryPage {
        view: None,
        problem: Some(problem),
        gives_login: registry.hands_out_logins(),
        csrf: csrf.clone(),
        notice: notice.clone(),
    };
    let Some(address) = registry.address() else {
        return Ok(page(
            "This workshop runs without a registry, so there is nowhere to push images. Ask your instructor if you expected one.".into(),
        ));
    };
    if !registry.hands_out_logins() {
        return Ok(page(format!(
            "The class registry at {address} is not run by this workshop, so it cannot list your images there; use the docker CLI with the login your instructor gave you."
        )));
    }
    let Some(learner) = crate::learners::known_learner_id(store, session).await? else {
        return Ok(page(
            "Nothing here yet: build an exercise, then use Tag & push under its result.".into(),
        ));
    };
    Ok(match namespace_view(store, registry, &learner).await {
        Ok(view) => RegistryPage {
            view: Some(view),
            problem: None,
            gives_login: true,
            csrf,
            notice,
        },
        Err(problem) => page(problem),
    })
}

/// The learner's namespace as the registry holds it, with when each tag was last pushed from
/// here (if it was) and the command to pull it; or why it cannot be read.
pub async fn namespace_view(
    store: &Store,
    registry: &Registry,
    learner: &str,
) -> Result<RegistryView, String> {
    let Some(address) = registry.address() else {
        return Err("This workshop runs without a registry.".into());
    };
    let handle = crate::registry::handle_of(learner);
    let held = registry.namespace(&handle).await.map_err(|e| {
        format!("Your registry cannot be read right now ({e}). Try again in a moment.")
    })?;
    let pushes = store.pushes(learner).await.map_err(|e| {
        tracing::error!("reading a learner's pushes: {e}");
        "Your pushes cannot be read right now; try again in a moment.".to_string()
    })?;
    let repositories = held
        .into_iter()
        .map(|repository| RegistryRepository {
            tags: repository
                .tags
                .into_iter()
                .map(|tag| {
                    // Newest first: the last push of this very manifest to this tag.
                    let pushed_at = pushes
                        .iter()
                        .find(|p| {
                            p.repository == repository.name
                                && p.tag == tag.tag
                                && p.digest == tag.digest
                        })
                        .map(|p| p.pushed_at);
                    RegistryTag {
                        pushed_at,
                        pushed: pushed_at.map(crate::when::format_time),
                        pull: format!("docker pull {address}/{}:{}", repository.name, tag.tag),
                        tag: tag.tag,
                        digest: tag.digest,
                        size_bytes: tag.size_bytes,
                    }
                })
                .collect(),
            name: repository.name,
        })
        .collect();
    let (used_bytes, quota_bytes) = registry.usage(&handle).await.unzip();
    Ok(RegistryView {
        registry: address.to_string(),
        namespace: handle,
        repositories,
        used_bytes,
        quota_bytes: quota_bytes.filter(|q| *q > 0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY: &str = "127.0.0.1:5100";
    const HANDLE: &str = "learner-abc";

    fn target(typed: &str) -> Result<(String, String), String> {
        parse_target(typed, REGISTRY, HANDLE).map(|t| (t.repository, t.tag))
    }

    #[test]
    fn what_learners_type_becomes_a_tag_in_their_namespace() {
        let ok = |typed: &str, repository: &str, tag: &str| {
            assert_eq!(
                target(typed),
                Ok((repository.to_string(), tag.to_string())),
                "{typed}"
            );
        };
        ok("my-app:1.0.0", "learner-abc/my-app", "1.0.0");
        ok("  my-app:devel ", "learner-abc/my-app", "devel");
        ok("my-app", "learner-abc/my-app", "latest");
        ok("web/api:v2", "learner-abc/web/api", "v2");
        ok(
            "127.0.0.1:5100/learner-abc/my-app:1.4",
            "learner-abc/my-app",
            "1.4",
        );
        ok("my_app.v2:1_0", "learner-abc/my_app.v2", "1_0");
    }

    #[test]
    fn anything_outside_the_namespace_or_malformed_is_refused_with_what_to_type() {
        let refused = |typed: &str, says: &str| {
            let error = target(typed).expect_err(typed);
            assert!(error.contains(says), "{typed}: {error}");
        };
        refused("", "Type a name");
        refused("My-App:1.0", "cannot be an image name");
        refused("../x:1", "cannot be an image name");
        refused("a//b:1", "cannot be an image name");
        refused("-app:1", "cannot be an image name");
        refused("a._b:1", "cannot be an image name");
        refused("a-_b:1", "cannot be an image name");
        refused("app:-1", "cannot be a tag");
        refused("app:.1", "cannot be a tag");
        refused(&format!("app:{}", "1".repeat(129)), "cannot be a tag");
        refused("app:1 0", "cannot be a tag");
        refused("docker.io/library/busybox:1", "into your namespace");
        refused("127.0.0.1:5100/learner-bob/app:1", "into your namespace");
        refused("localhost/app:1", "into your namespace");
        refused("learner-bob/app:1", "without a namespace");
        refused("learner-abc/app:1", "without a namespace");
        refused("app@sha256:abcd", "not a digest");
        refused(&format!("{}:1", "a".repeat(200)), "too long");
    }
}
