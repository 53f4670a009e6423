//! Builds from submission to verdict: admit (limits, one active build per learner, a global
//! concurrency cap), build, inspect, run, grade, clean up — publishing every log line and
//! status change to whoever follows the build's events.
//!
//! Here: the settings, admission (`submit`: rates, the queue, one build per learner) and the
//! records kept; `record` is one build as its followers see it, `turns` who builds next,
//! `pipeline` a build's way from its turn to its verdict and clean-up, `checks` what the
//! exercise's checks need gathered on the engine beyond the image and its run.

use crate::engine::builder::{self as engine_build, BuildJob, BuildLimits, BuildProgress};
use crate::engine::context::{BuildContext, ContextError, ContextLimits};
use crate::engine::image::{image_facts, paths_exist as image_paths_exist, ImageConfigFacts};
use crate::engine::run::{self as engine_run, RunJob, RunLimits};
use crate::engine::{Client, Engine};
use crate::exercise::check::{Facts, RebuildFacts};
use crate::exercise::{Exercise, Exercises, RunStep, PLAYGROUND};
use crate::progress::ProgressSender;
use crate::store::{Attempt, Store};
use app::dto::{
    build_events_url, BuildAccepted, BuildFailure, BuildRequest, BuildStatus, BuildView,
    LayerReport, LogLine, LogPhase, StatusUpdate,
};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch, Semaphore};

mod checks;
pub mod console;
mod pipeline;
mod pull_back;
mod record;
mod turns;

pub use record::{status_of, BuildEvent, BuildRecord, MAX_LOG_BYTES, MAX_LOG_LINES};
use record::{RecordState, SharedLog};

/// Limits for every stage of a build.
#[derive(Clone, Debug)]
pub struct BuildSettings {
    pub context: ContextLimits,
    pub build: BuildLimits,
    pub run: RunLimits,
    /// Builds that may run on the engine at once; the rest wait in line.
    pub concurrency: usize,
    /// Finished builds kept in memory for their result pages.
    pub keep_finished: usize,
    /// Builds one learner may start in any minute; 0 means no limit.
    pub rate_per_minute: usize,
    /// Disk the images learners keep may take together; the janitor removes the oldest.
    pub max_kept_bytes: u64,
    /// Time between the janitor's sweeps.
    pub janitor_every: std::time::Duration,
    /// Another server sharing the database is gone once its heartbeat is this old (see
    /// `janitor::watch_servers`).
    pub server_dead_after: std::time::Duration,
    /// Free disk the engine must keep: below it, new builds are refused (0 = not checked).
    pub min_free_disk_bytes: u64,
    /// Builds that may wait for a builder at once; more are refused with `queue_full`.
    pub max_queued: usize,
    /// Bytes the files of waiting builds may take together (each holds its context in memory).
    pub max_queued_context_bytes: usize,
    /// The course's base images: what a build may start `FROM` (see `policy`).
    pub base_images: Vec<String>,
}

impl Default for BuildSettings {
    fn default() -> Self {
        BuildSettings {
            context: ContextLimits::default(),
            build: BuildLimits::default(),
            run: RunLimits::default(),
            concurrency: 2,
            keep_finished: 500,
            rate_per_minute: 12,
            max_kept_bytes: 10 * 1024 * 1024 * 1024,
            janitor_every: SWEEP_EVERY,
            server_dead_after: std::time::Duration::from_secs(30),
            min_free_disk_bytes: 2048 * 1024 * 1024,
            max_queued: 100,
            max_queued_context_bytes: 64 * 1024 * 1024,
            base_images: Vec::new(),
        }
    }
}

/// Why a build was not accepted. Each maps to one HTTP status and error code.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("There is no exercise called “{0}”.")]
    UnknownExercise(String),
    #[error("“{0}” is done in the docker console, not built here: type its commands in the console, then Check (POST /api/v1/exercises/{0}/check).")]
    ConsoleExercise(String),
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error("Builds are unavailable right now: {0}")]
    EngineUnavailable(String),
    #[error("The workshop's database is almost out of disk space ({} free, it keeps at least {}), so no new build can be saved right now. Your earlier work is kept; your files were not sent: try again later, and tell your instructor.", app::dto::human_size(*free), app::dto::human_size(*floor))]
    DatabaseDiskFull { free: u64, floor: u64 },
    #[error("You started {limit} builds in the last minute, the most one person may. Try again in {retry_after} s.")]
    RateLimited { limit: usize, retry_after: u64 },
    #[error("The build queue is full: {waiting} builds are waiting for a builder, the most this workshop lets wait. Your files were not kept; try again in {retry_after} s.")]
    QueueFull { waiting: usize, retry_after: u64 },
    #[error("{waiting} builds from your network address are already waiting for a builder, the most one address may keep waiting (half the queue, so that others still get in). Your files were not kept; try again in {retry_after} s.")]
    AddressQueueFull { waiting: usize, retry_after: u64 },
    #[error("The builds waiting for a builder already hold {} of files, the most this workshop keeps waiting; yours ({}) did not fit. Try again in {retry_after} s.", app::dto::human_size(*budget as u64), app::dto::human_size(*size as u64))]
    QueueMemoryFull {
        budget: usize,
        size: usize,
        retry_after: u64,
    },
}

/// What a refused build is told to wait before trying again when the queue is full: about
/// the time a few builds take to leave it.
pub const QUEUE_FULL_RETRY_AFTER: u64 = 30;

/// Why an attempt's layers cannot be shown. Each maps to one HTTP status and error code.
#[derive(Debug, thiserror::Error)]
pub enum ExploreError {
    #[error("This build is still going; its layers can be explored once it has finished.")]
    NotFinished,
    #[error("This attempt did not produce an image, so there are no layers to explore.")]
    NoImage,
    #[error("This attempt's image is no longer kept (a newer attempt replaced it, or the workshop freed space). Build it again to explore its layers.")]
    Removed,
    #[error("The layers could not be read: {0}")]
    Unreadable(String),
    #[error("Builds are unavailable right now: {0}")]
    EngineUnavailable(String),
}

pub(crate) use crate::sync::lock;

/// Build `job` as the build policy allows: judged before the engine sees anything, and the
/// image that comes back checked again (see `policy`).
impl Builds {
    pub(super) async fn build_within_policy(
        &self,
        docker: &Client,
        job: BuildJob<'_>,
        on: &mut (dyn FnMut(BuildProgress) + Send),
    ) -> Result<engine_build::Built, BuildFailure> {
        let owner = crate::policy::rules_of(&job).learner.map(str::to_string);
        let images = OwnPushes {
            client: docker,
            registry: &self.registry,
            store: &self.store,
            owner,
        };
        build_within_policy(docker, &images, job, on).await
    }
}

/// The engine, for the policy, where the learner's own pushes may be pulled only if they are
/// images this learner built here and pushed (`pushes`): an image pushed from their own
/// docker CLI could be anything (a layer that unpacks to far more than any build may make).
struct OwnPushes<'a> {
    client: &'a Client,
    registry: &'a crate::registry::Registry,
    /// Where the learner's confirmed pushes from layerlab are kept: read only when a build
    /// names one of their pushes.
    store: &'a Store,
    owner: Option<String>,
}

impl crate::policy::Images for OwnPushes<'_> {
    async fn inspect(
        &self,
        reference: &str,
    ) -> Result<Option<crate::policy::ImageInfo>, BuildFailure> {
        self.client.inspect(reference).await
    }

    async fn pull_own(
        &self,
        repository: &str,
        tag_or_digest: &str,
        login: &crate::engine::push::RegistryLogin,
    ) -> Result<Option<crate::policy::ImageInfo>, BuildFailure> {
        // `<registry>/<handle>/<name>` → `<handle>/<name>`, as the registry's API names it.
        let path = repository.split_once('/').map_or(repository, |(_, p)| p);
        match self.registry.tag(path, tag_or_digest).await {
            Ok(None) => Ok(None),
            Ok(Some(held)) if self.built_here(&held).await => {
                self.client.pull_own(repository, tag_or_digest, login).await
            }
            Ok(Some(_)) => Err(BuildFailure {
                code: crate::policy::IMAGE_NOT_ALLOWED.into(),
                message: format!(
                    "{repository}:{tag_or_digest} in your namespace is not an image you built here and pushed with Tag & push, so this workshop does not pull it: a build may start FROM your own pushes of your own builds only."
                ),
                line: None,
            }),
            Err(e) => Err(BuildFailure {
                code: "registry_unavailable".into(),
                message: format!("Your registry could not be read: {e}. Try again in a moment."),
                line: None,
            }),
        }
    }

    async fn release(&self, reference: &str) {
        self.client.release(reference).await;
    }
}

impl OwnPushes<'_> {
    /// Whether `held` is an image this learner built here and pushed from layerlab.
    async fn built_here(&self, held: &crate::registry::TagFacts) -> bool {
        let Some(owner) = &self.owner else {
            return false;
        };
        match self.store.pushes(owner).await {
            Ok(rows) => rows.iter().any(|r| held.is(&r.image_id)),
            Err(e) => {
                tracing::error!("reading a learner's pushes: {e}");
                false
            }
        }
    }
}

async fn build_within_policy(
    docker: &Client,
    images: &impl crate::policy::Images,
    job: BuildJob<'_>,
    on: &mut (dyn FnMut(BuildProgress) + Send),
) -> Result<engine_build::Built, BuildFailure> {
    let approved = crate::policy::check(images, &job).await?;
    let tag = job.tag.clone();
    // The learner's own pushes pulled for it leave the engine with the build, however it
    // ends (a newer submit drops this future): the engine keeps images by layerlab's names
    // only (their layers stay while the build's image uses them).
    let pulled = PulledNames {
        client: Some(docker.clone()),
        names: approved.pulled.clone(),
    };
    let built = engine_build::build(docker, job, on).await;
    pulled.release().await;
    let mut built = built?;
    crate::policy::verify_built(docker, &approved, &built.image_id, &tag).await?;
    built.own_base = approved
        .final_base
        .map(|(reference, _)| reference)
        .filter(|reference| approved.pulled.contains(reference));
    Ok(built)
}

/// Names of pulled images to take off the engine: by [`PulledNames::release`], or when
/// dropped, by a task of its own.
struct PulledNames {
    client: Option<Client>,
    names: Vec<String>,
}

impl PulledNames {
    async fn release(mut self) {
        if let Some(client) = self.client.take() {
            untag_all(&client, &self.names).await;
        }
    }
}

impl Drop for PulledNames {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let names = std::mem::take(&mut self.names);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { untag_all(&client, &names).await });
            }
        }
    }
}

async fn untag_all(client: &Client, names: &[String]) {
    for name in names {
        if let Err(e) = client.untag(name).await {
            tracing::debug!(%name, "a pulled image's name could not be taken off: {e}");
        }
    }
}

impl Builds {
    /// `owner`'s login to the class registry, for builds that start from their own pushes.
    /// The class registry's address (`127.0.0.1:5100`), if there is one.
    pub(crate) fn registry_address(&self) -> Option<String> {
        self.registry.address().map(str::to_string)
    }

    pub(crate) fn registry_login(&self, owner: &str) -> Option<crate::engine::push::RegistryLogin> {
        let credentials = self
            .registry
            .credentials(&crate::registry::handle_of(owner))?;
        Some(crate::engine::push::RegistryLogin {
            server: credentials.registry,
            username: credentials.username,
            password: credentials.password,
        })
    }
}

/// At most this many image ids a build's log may name are remembered (a step could print
/// many; the builder names one per step).
pub(super) const MAX_PRINTED_IMAGES: usize = 512;

/// How often the janitor's periodic sweep runs, unless configured.
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

/// Every build this server knows about.
pub struct Builds {
    engine: Arc<Engine>,
    exercises: Arc<Exercises>,
    settings: BuildSettings,
    records: Mutex<HashMap<String, Arc<BuildRecord>>>,
    /// Ids in the order they were submitted, for queue positions and eviction.
    order: Mutex<Vec<String>>,
    /// The builders, taken in turns by client address.
    turns: Arc<turns::Turns>,
    /// Where finished builds are kept as attempts.
    store: Store,
    /// Told about every finished attempt (the instructor dashboard listens).
    progress: ProgressSender,
    /// learner → when their recent builds were accepted (for the rate limit).
    recent: Mutex<HashMap<String, std::collections::VecDeque<std::time::Instant>>>,
    /// Layer reports made lately, newest last (an image never changes, so they stay right).
    layer_reports: Mutex<std::collections::VecDeque<(String, Arc<LayerReport>)>>,
    /// Exploring reads a whole image: a few at a time.
    explore_permits: Semaphore,
    /// Root filesystem archives exercises provide, by the image ID they were exported from
    /// (an ID never changes what it names; a re-seeded image gets a new one).
    root_filesystems: tokio::sync::Mutex<HashMap<String, Arc<[u8]>>>,
    /// The class registry, which `pushed` checks read.
    registry: Arc<crate::registry::Registry>,
    /// Builds whose push is being pulled back and run (`runs-when-pulled-back`).
    pulling_back: Mutex<std::collections::HashSet<String>>,
    /// What the last pull-backs found, by build and manifest digest: pushing the same image
    /// again under the same name is judged without pulling and running it again.
    pulled_back:
        Mutex<std::collections::VecDeque<((String, String), crate::exercise::check::PulledBack)>>,
}

/// Layer reports kept in memory.
const KEPT_LAYER_REPORTS: usize = 32;

impl Builds {
    pub fn new(
        engine: Arc<Engine>,
        exercises: Arc<Exercises>,
        settings: BuildSettings,
        store: Store,
        progress: ProgressSender,
        registry: Arc<crate::registry::Registry>,
    ) -> Arc<Self> {
        let turns = turns::Turns::new(settings.concurrency);
        Arc::new(Builds {
            engine,
            exercises,
            settings,
            records: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            turns,
            store,
            progress,
            recent: Mutex::new(HashMap::new()),
            layer_reports: Mutex::new(std::collections::VecDeque::new()),
            explore_permits: Semaphore::new(2),
            root_filesystems: tokio::sync::Mutex::new(HashMap::new()),
            registry,
            pulling_back: Mutex::default(),
            pulled_back: Mutex::default(),
        })
    }

    /// Refuse a learner who started `rate_per_minute` builds in the last minute, saying when
    /// the oldest of them leaves the window; otherwise count this one now (so parallel
    /// submits cannot all pass), to be given back with [`Builds::uncount_rate`] if refused later.
    fn check_rate(&self, owner: &str) -> Result<(), SubmitError> {
        // Counted even with no limit: the address limit looks at each learner's count.
        let limit = self.settings.rate_per_minute;
        let window = std::time::Duration::from_secs(60);
        let now = std::time::Instant::now();
        let mut recent = lock(&self.recent);
        recent.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < window);
            !times.is_empty()
        });
        match recent.get(owner) {
            Some(times) if limit > 0 && times.len() >= limit => {
                let oldest = times.front().copied().unwrap_or(now);
                let wait = window.saturating_sub(now.duration_since(oldest));
                Err(SubmitError::RateLimited {
                    limit,
                    retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                })
            }
            _ => {
                recent.entry(owner.to_string()).or_default().push_back(now);
                Ok(())
            }
        }
    }

    /// Builds `owner` started in the last minute.
    pub fn recent_builds(&self, owner: &str) -> usize {
        let window = std::time::Duration::from_secs(60);
        let now = std::time::Instant::now();
        lock(&self.recent).get(owner).map_or(0, |times| {
            times
                .iter()
                .filter(|t| now.duration_since(**t) < window)
                .count()
        })
    }

    /// Give back the build [`Builds::check_rate`] counted, when it was refused after all.
    fn uncount_rate(&self, owner: &str) {
        if let Some(times) = lock(&self.recent).get_mut(owner) {
            times.pop_back();
        }
    }

    /// Room in the queue for a build of `size` bytes, counting the builds waiting now but
    /// not `owner`'s own (a new submit cancels it). Called under the records lock, so two
    /// submits cannot both take the last place.
    fn check_queue(
        &self,
        records: &HashMap<String, Arc<BuildRecord>>,
        owner: &str,
        client: &str,
        size: usize,
    ) -> Result<(), SubmitError> {
        let (mut waiting, mut bytes, mut from_client) = (0, 0, 0);
        for record in records.values() {
            if record.owner == owner || *record.done.borrow() {
                continue;
            }
            if lock(&record.state).view.status == BuildStatus::Queued {
                // A build its learner replaced still holds its files until it has cleaned
                // up, but no longer a place in the line.
                bytes += record.context_bytes;
                if !*record.cancel.borrow() {
                    waiting += 1;
                    from_client += usize::from(record.client == client);
                }
            }
        }
        let retry_after = QUEUE_FULL_RETRY_AFTER;
        if waiting >= self.settings.max_queued {
            return Err(SubmitError::QueueFull {
                waiting,
                retry_after,
            });
        }
        // One address (a script's many learners) may not hold the whole queue.
        if from_client >= (self.settings.max_queued / 2).max(1) {
            return Err(SubmitError::AddressQueueFull {
                waiting: from_client,
                retry_after,
            });
        }
        if bytes + size > self.settings.max_queued_context_bytes {
            return Err(SubmitError::QueueMemoryFull {
                budget: self.settings.max_queued_context_bytes,
                size,
                retry_after,
            });
        }
        Ok(())
    }

    /// The layers of the image a finished build made: each layer's instruction, size and
    /// files, and the bytes later layers waste.
    pub async fn layers(&self, view: &BuildView) -> Result<Arc<LayerReport>, ExploreError> {
        if !view.status.is_finished() {
            return Err(ExploreError::NotFinished);
        }
        let image = view.image.as_ref().ok_or(ExploreError::NoImage)?;
        if let Some((_, report)) = lock(&self.layer_reports)
            .iter()
            .find(|(id, _)| *id == image.id)
        {
            return Ok(report.clone());
        }
        let docker = self.engine.client().await.map_err(|problem| {
            ExploreError::EngineUnavailable(crate::engine::without_address(
                self.engine.host(),
                &problem,
            ))
        })?;
        let _permit = self
            .explore_permits
            .acquire()
            .await
            .map_err(|e| ExploreError::Unreadable(e.to_string()))?;
        let limits = crate::engine::layers::LayerLimits::default();
        let report = crate::engine::layers::explore(&docker, &image.id, &limits)
            .await
            .map_err(|e| match e {
                crate::engine::layers::LayersError::NotFound(_) => ExploreError::Removed,
                other => ExploreError::Unreadable(other.to_string()),
            })?;
        let report = Arc::new(report);
        let mut kept = lock(&self.layer_reports);
        kept.push_back((image.id.clone(), report.clone()));
        if kept.len() > KEPT_LAYER_REPORTS {
            kept.pop_front();
        }
        Ok(report)
    }

    /// Ids of the builds not finished yet (the janitor leaves their containers alone).
    pub fn active_ids(&self) -> Vec<String> {
        let mut active: Vec<String> = lock(&self.records)
            .iter()
            .filter(|(_, r)| !lock(&r.state).view.status.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        // A finished build whose push is pulled back and run now has a container again.
        active.extend(lock(&self.pulling_back).iter().cloned());
        active
    }

    pub fn settings(&self) -> &BuildSettings {
        &self.settings
    }

    /// The build `id` if `owner` may see it. Someone else's build is "not found" too.
    pub fn get(&self, id: &str, owner: &str) -> Option<Arc<BuildRecord>> {
        lock(&self.records)
            .get(id)
            .filter(|r| r.owner == owner)
            .cloned()
    }

    /// The learner's build of `exercise` that is not over yet (a page loaded again follows
    /// it instead of offering to start another).
    pub fn running_for(&self, owner: &str, exercise: &str) -> Option<String> {
        lock(&self.records)
            .values()
            .filter(|r| r.owner == owner)
            .filter_map(|r| {
                let state = lock(&r.state);
                let view = &state.view;
                (!view.status.is_finished() && view.exercise.as_deref() == Some(exercise))
                    .then(|| (state.created_at, view.id.clone()))
            })
            .max()
            .map(|(_, id)| id)
    }

    /// Builds waiting for a free builder.
    pub fn queued(&self) -> usize {
        lock(&self.records)
            .values()
            .filter(|r| lock(&r.state).view.status == BuildStatus::Queued)
            .count()
    }

    /// Check the request, record it, and start it in the background.
    pub async fn submit(
        self: &Arc<Self>,
        owner: &str,
        client: &str,
        request: BuildRequest,
    ) -> Result<BuildAccepted, SubmitError> {
        let exercise = match request.exercise.as_deref() {
            None | Some(PLAYGROUND) => None,
            Some(id) => Some(
                self.exercises
                    .get(id)
                    .cloned()
                    .ok_or_else(|| SubmitError::UnknownExercise(id.to_string()))?,
            ),
        };
        if let Some(console) = exercise.as_ref().filter(|e| e.console.is_some()) {
            return Err(SubmitError::ConsoleExercise(console.id.clone()));
        }
        let context = BuildContext::new(request.files, &self.settings.context)?;
        let context_bytes: usize = context
            .files()
            .iter()
            .map(|(path, text)| path.len() + text.len())
            .sum();
        if let Some((free, floor)) = self.store.disk_too_full() {
            tracing::warn!(
                free,
                floor,
                "the database's disk is below the floor: builds are refused"
            );
            return Err(SubmitError::DatabaseDiskFull { free, floor });
        }
        self.check_rate(owner)?;
        if let Err(problem) = self.engine.check().await {
            self.uncount_rate(owner);
            return Err(SubmitError::EngineUnavailable(
                crate::engine::without_address(self.engine.host(), &problem),
            ));
        }

        let id = uuid::Uuid::new_v4().simple().to_string();
        let (record, previous) = {
            let mut records = lock(&self.records);
            if let Err(full) = self.check_queue(&records, owner, client, context_bytes) {
                drop(records);
                self.uncount_rate(owner);
                return Err(full);
            }
            // One build per learner: a newer submit stops the one still going, and starts
            // once that one has cleaned up.
            let previous = records
                .values()
                .filter(|r| r.owner == owner && !*r.done.borrow())
                .max_by_key(|r| lock(&r.state).created_at)
                .cloned();
            if let Some(previous) = &previous {
                previous.cancel.send_replace(true);
            }
            let (events, _) = broadcast::channel(4096);
            let mut view =
                BuildView::queued(&id, exercise.as_ref().map_or(PLAYGROUND, |e| e.id.as_str()));
            view.lint = app::lint::lint(context.dockerfile());
            view.no_cache = request.no_cache;
            let record = Arc::new(BuildRecord {
                owner: owner.to_string(),
                client: client.to_string(),
                context_bytes,
                state: Mutex::new(RecordState {
                    view,
                    created_at: crate::store::now_ms(),
                    log: SharedLog::default(),
                    intermediate_ids: Vec::new(),
                    stage_images: Vec::new(),
                }),
                events,
                cancel: watch::channel(false).0,
                done: watch::channel(false).0,
            });
            records.insert(id.clone(), record.clone());
            (record, previous)
        };
        self.remember(&id);
        // Stored now, so a server killed during the build leaves an attempt to mark interrupted.
        let (view, created_at) = {
            let state = lock(&record.state);
            (state.view.clone(), state.created_at)
        };
        let initial = Attempt {
            id: id.clone(),
            learner_id: owner.to_string(),
            exercise: exercise
                .as_ref()
                .map_or(PLAYGROUND, |e| e.id.as_str())
                .to_string(),
            view,
            files: context.files().clone(),
            log: Vec::new(),
            stage_images: Vec::new(),
            created_at,
            finished_at: created_at,
            details_kept: true,
        };
        if let Err(e) = self.store.save_attempt(&initial).await {
            tracing::error!("could not store the new attempt {id}: {e}");
        }
        let builds = self.clone();
        tokio::spawn(async move {
            let previous_done = previous.map(|p| {
                let id = lock(&p.state).view.id.clone();
                record.log(
                    LogPhase::Server,
                    format!("Stopping your previous build ({id}) first…"),
                );
                p.done.subscribe()
            });
            builds
                .supervise(record, exercise, context, previous_done)
                .await;
        });
        Ok(BuildAccepted {
            events: build_events_url(&id),
            id,
        })
    }

    fn remember(&self, id: &str) {
        let mut order = lock(&self.order);
        order.push(id.to_string());
        if order.len() <= self.settings.keep_finished {
            return;
        }
        let mut records = lock(&self.records);
        let excess = order.len() - self.settings.keep_finished;
        let mut dropped = 0;
        order.retain(|old| {
            if dropped == excess {
                return true;
            }
            let finished = records
                .get(old)
                .is_none_or(|r| lock(&r.state).view.status.is_finished());
            if finished {
                records.remove(old);
                dropped += 1;
                false
            } else {
                true
            }
        });
    }

    /// Run the pipeline until it ends or the learner submits again; then, once the build this
    /// one replaced is gone too, say this one is done.
    async fn supervise(
        self: Arc<Self>,
        record: Arc<BuildRecord>,
        exercise: Option<Exercise>,
        context: BuildContext,
        previous_done: Option<watch::Receiver<bool>>,
    ) {
        let mut cancel = record.cancel.subscribe();
        let work = self.clone().pipeline(
            record.clone(),
            exercise.clone(),
            context.clone(),
            previous_done.clone(),
        );
        let stop = async move {
            let _ = cancel.wait_for(|c| *c).await;
        };
        tokio::select! {
            () = work => {}
            () = stop => {
                self.cancelled(&record, exercise.as_ref(), &context).await;
            }
        }
        if let Some(mut previous) = previous_done {
            let _ = previous.wait_for(|d| *d).await;
        }
        record.done.send_replace(true);
    }
}
