//! Builds from submission to verdict: admit (limits, one active build per learner, a global
//! concurrency cap), build, inspect, run, grade, clean up — publishing every log line and
//! status change to whoever follows the build's events.

use crate::engine::build::{self as engine_build, BuildJob, BuildLimits, BuildProgress};
use crate::engine::context::{BuildContext, ContextError, ContextLimits};
use crate::engine::image::{image_facts, paths_exist as image_paths_exist, ImageConfigFacts};
use crate::engine::run::{self as engine_run, RunJob, RunLimits};
use crate::engine::Engine;
use crate::exercise::check::{Facts, RebuildFacts};
use crate::exercise::{Exercise, Exercises, RunStep, PLAYGROUND};
use crate::progress::ProgressSender;
use crate::store::{Attempt, Store};
use app::dto::{
    build_events_url, BuildAccepted, BuildFailure, BuildRequest, BuildStatus, BuildView,
    LayerReport, LogLine, LogPhase, StatusUpdate,
};
use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch, Semaphore};

mod turns;

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

/// What subscribers of a build hear.
#[derive(Clone, Debug)]
pub enum BuildEvent {
    Log(LogLine),
    Status(StatusUpdate),
    Done(Box<BuildView>),
}

/// One build and its audience.
pub struct BuildRecord {
    owner: String,
    /// Who sent it, as the admission layer counts addresses: at most half the queue may wait
    /// for one address.
    client: String,
    /// Bytes of the files it holds while it waits (counted against the queue's budget).
    context_bytes: usize,
    state: Mutex<RecordState>,
    events: broadcast::Sender<BuildEvent>,
    /// Set when the learner submits again: the build stops and cleans up.
    cancel: watch::Sender<bool>,
    /// Set once the build and its clean-up are over (the next build of its learner waits).
    done: watch::Sender<bool>,
}

struct RecordState {
    view: BuildView,
    created_at: i64,
    log: SharedLog,
    /// Image ids the build's log named, as they came: only candidates (a step's output is
    /// in the same stream); the engine's facts decide which are this build's.
    intermediate_ids: Vec<String>,
    /// This attempt's stage images, checked against the engine.
    stage_images: Vec<String>,
}

/// Lines the build record keeps from the build and the run together; past it one line says
/// so. The engine's byte cap alone let a step of empty lines make hundreds of thousands.
pub const MAX_LOG_LINES: usize = 5_000;
/// Bytes (text plus one per line) the record keeps from the build and the run together.
pub const MAX_LOG_BYTES: usize = 512 * 1024;
/// Lines of layerlab's own (a few per build) kept past the cap, so the end is still told.
const SERVER_LINES_PAST_CAP: usize = 200;
/// Lines per shared chunk of the log.
const LOG_CHUNK: usize = 256;

/// A build's log, bounded in lines and bytes, kept as chunks that event streams share: a
/// subscriber takes the chunks (reference counts), not a copy of every line.
#[derive(Default)]
struct SharedLog {
    sealed: Vec<Arc<[LogLine]>>,
    open: Vec<LogLine>,
    lines: usize,
    bytes: usize,
    /// Set once the cap was reached (and said).
    capped: bool,
}

/// What [`SharedLog::push`] did with a line.
#[derive(Debug, PartialEq)]
enum Kept {
    Yes,
    /// Not kept, and the line saying the log was cut was kept in its place.
    CapReached(LogLine),
    No,
}

impl SharedLog {
    fn push(&mut self, line: LogLine) -> Kept {
        let size = line.text.len() + 1;
        let learners = line.phase != LogPhase::Server;
        if self.capped {
            let room = self.lines < MAX_LOG_LINES + SERVER_LINES_PAST_CAP;
            if learners || !room {
                return Kept::No;
            }
        } else if learners && (self.lines + 1 > MAX_LOG_LINES || self.bytes + size > MAX_LOG_BYTES)
        {
            self.capped = true;
            let notice = LogLine {
                phase: LogPhase::Server,
                text: format!(
                    "[the log passed {MAX_LOG_LINES} lines or {} KiB; later lines of the build and the run are not shown]",
                    MAX_LOG_BYTES / 1024
                ),
            };
            self.keep(notice.clone());
            return Kept::CapReached(notice);
        }
        self.keep(line);
        Kept::Yes
    }

    fn keep(&mut self, line: LogLine) {
        self.lines += 1;
        self.bytes += line.text.len() + 1;
        self.open.push(line);
        if self.open.len() >= LOG_CHUNK {
            self.seal();
        }
    }

    fn seal(&mut self) {
        if !self.open.is_empty() {
            let chunk: Arc<[LogLine]> = std::mem::take(&mut self.open).into();
            self.sealed.push(chunk);
        }
    }

    /// Every line so far, shared: the open tail is sealed into a chunk of its own.
    fn chunks(&mut self) -> Vec<Arc<[LogLine]>> {
        self.seal();
        self.sealed.clone()
    }

    fn to_vec(&self) -> Vec<LogLine> {
        let mut all = Vec::with_capacity(self.lines);
        for chunk in &self.sealed {
            all.extend_from_slice(chunk);
        }
        all.extend_from_slice(&self.open);
        all
    }
}

impl BuildRecord {
    pub fn view(&self) -> BuildView {
        lock(&self.state).view.clone()
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Every line kept so far.
    pub fn log_lines(&self) -> Vec<LogLine> {
        lock(&self.state).log.to_vec()
    }

    /// Everything so far, plus a receiver for what comes next: nothing is missed or repeated
    /// because both are taken under the same lock the publisher holds. The log comes as
    /// shared chunks: many subscribers of a long log hold one copy of it.
    pub fn subscribe(
        &self,
    ) -> (
        BuildView,
        Vec<Arc<[LogLine]>>,
        broadcast::Receiver<BuildEvent>,
    ) {
        let mut state = lock(&self.state);
        (
            state.view.clone(),
            state.log.chunks(),
            self.events.subscribe(),
        )
    }

    /// Change the view; subscribers hear a `status` event only when status, step or queue
    /// position changed.
    fn update(&self, change: impl FnOnce(&mut BuildView)) {
        let mut state = lock(&self.state);
        let before = status_of(&state.view);
        change(&mut state.view);
        let after = status_of(&state.view);
        if after != before {
            let _ = self.events.send(BuildEvent::Status(after));
        }
    }

    /// Keep a line and tell subscribers, within the log's caps (past them one line says so,
    /// and the view is marked `log_truncated`).
    fn log(&self, phase: LogPhase, text: String) {
        let mut state = lock(&self.state);
        let line = LogLine { phase, text };
        match state.log.push(line.clone()) {
            Kept::Yes => {
                let _ = self.events.send(BuildEvent::Log(line));
            }
            Kept::CapReached(notice) => {
                state.view.log_truncated = true;
                let _ = self.events.send(BuildEvent::Log(notice));
            }
            Kept::No => {}
        }
    }

    fn finish(&self, view: BuildView) {
        let mut state = lock(&self.state);
        state.view = view;
        let _ = self
            .events
            .send(BuildEvent::Done(Box::new(state.view.clone())));
    }
}

/// The part of a view a `status` event carries.
pub fn status_of(view: &BuildView) -> StatusUpdate {
    StatusUpdate {
        status: view.status,
        step: view.step,
        queue_position: view.queue_position,
    }
}

pub(crate) use crate::sync::lock;

/// At most this many root filesystem archives are kept in memory.
const MAX_KEPT_EXPORTS: usize = 4;

/// At most this many paths of one layer are kept for a check (a Debian with Python has
/// ~20,000 in all).
const MAX_CHECKED_PATHS_PER_LAYER: usize = 200_000;

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
        lock(&self.records)
            .iter()
            .filter(|(_, r)| !lock(&r.state).view.status.is_finished())
            .map(|(id, _)| id.clone())
            .collect()
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

    /// Stop what the cancelled build left on the engine — its run and check containers, its
    /// build cgroup, its image if it got that far, the images of the steps it committed —
    /// and store it as `cancelled`.
    async fn cancelled(
        &self,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        context: &BuildContext,
    ) {
        if record.view().status.is_finished() {
            return;
        }
        let id = record.view().id;
        if let Ok(docker) = self.engine.client().await {
            crate::engine::cleanup::remove_build_containers(&docker, &id).await;
            crate::engine::cleanup::remove_build_images(
                &docker,
                &[id.clone(), format!("{id}-rebuild"), format!("{id}-fill")],
            )
            .await;
        }
        for build in [id.clone(), format!("{id}-rebuild"), format!("{id}-fill")] {
            crate::engine::BuildCgroup::of_build(&build)
                .remove_within(std::time::Duration::from_secs(20))
                .await;
        }
        // Its step containers are gone now (the cgroup is empty): the images they were made
        // from can go.
        self.remove_leftovers(record).await;
        // A build cancelled just as the engine started a step's container can have that
        // container's cgroup made (with its parent, ours, again) after the removal above:
        // look again a little later, when the engine has killed and removed it.
        let again = id.clone();
        tokio::spawn(async move {
            for wait in [1, 4, 15] {
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                crate::engine::BuildCgroup::of_build(&again)
                    .remove_within(std::time::Duration::from_secs(1))
                    .await;
            }
        });
        let failure = BuildFailure {
            code: "cancelled".into(),
            message: "You submitted a newer version, so this build was stopped.".into(),
            line: None,
        };
        record.log(LogPhase::Server, failure.message.clone());
        self.complete(record, exercise, context, |v| {
            v.status = BuildStatus::Cancelled;
            v.error = Some(failure);
            v.checks = None;
            v.run = None;
        })
        .await;
    }

    async fn pipeline(
        self: Arc<Self>,
        record: Arc<BuildRecord>,
        exercise: Option<Exercise>,
        context: BuildContext,
        previous_done: Option<watch::Receiver<bool>>,
    ) {
        let id = record.view().id;
        // This build's arguments, and the checks that judge it with them filled in.
        let exercise = exercise.map(|e| {
            let args = e.args_for_a_build();
            e.with_build_args(&args)
        });
        if let Some(mut previous) = previous_done {
            let _ = previous.wait_for(|d| *d).await;
        }
        let entry = self.turns.enter(&record.client);
        if !entry.at_once() {
            let position = entry.ahead();
            record.update(|v| v.queue_position = Some(position));
            record.log(
                LogPhase::Server,
                format!("Waiting for a free builder ({position} ahead of you)…"),
            );
        }
        let _builder = entry.wait().await;
        record.update(|v| {
            v.status = BuildStatus::Building;
            v.queue_position = None;
        });
        let docker = match self.engine.client().await {
            Ok(d) => d,
            Err(problem) => {
                let failure = BuildFailure {
                    code: "engine_unavailable".into(),
                    message: format!(
                        "Builds are unavailable right now: {}",
                        crate::engine::without_address(self.engine.host(), &problem)
                    ),
                    line: None,
                };
                return self
                    .fail(&record, exercise.as_ref(), &context, failure)
                    .await;
            }
        };
        if let Some(failure) = self.disk_too_full(&docker).await {
            return self
                .fail(&record, exercise.as_ref(), &context, failure)
                .await;
        }
        let exercise_id = exercise
            .as_ref()
            .map(|e| e.id.clone())
            .unwrap_or_else(|| PLAYGROUND.into());
        let attempt = format!("{}/{exercise_id}", record.owner);
        let image_labels = self.image_labels(&attempt);
        let container_labels = HashMap::from([
            (engine_build::ATTEMPT_LABEL.to_string(), attempt),
            (engine_build::BUILD_LABEL.to_string(), id.clone()),
            (engine_build::OWNER_LABEL.to_string(), record.owner.clone()),
            (
                engine_build::INSTANCE_LABEL.to_string(),
                self.store.instance.clone(),
            ),
            (
                engine_build::EXERCISE_LABEL.to_string(),
                exercise_id.clone(),
            ),
        ]);
        // The files the exercise provides go beside the learner's (the context as stored
        // with the attempt stays the learner's own).
        let context = match self
            .with_provided_files(&docker, exercise.as_ref(), &context, &container_labels)
            .await
        {
            Ok(with) => with,
            Err(failure) => {
                return self
                    .fail(&record, exercise.as_ref(), &context, failure)
                    .await;
            }
        };
        let tag = format!("layerlab/{exercise_id}:{id}");
        let job = BuildJob {
            build_id: &id,
            context: &context,
            tag: tag.clone(),
            labels: image_labels,
            network: exercise.as_ref().is_some_and(|e| e.build_network),
            build_args: exercise
                .as_ref()
                .map(|e| e.build_args.clone())
                .unwrap_or_default(),
            cache_from: Vec::new(),
            no_cache: record.view().no_cache,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
        };
        if job.no_cache {
            record.log(
                LogPhase::Server,
                "Building with --no-cache: every step runs anew.".into(),
            );
        }
        if !job.build_args.is_empty() {
            record.log(
                LogPhase::Server,
                format!(
                    "Building with {}",
                    job.build_args
                        .iter()
                        .map(|(k, v)| format!("--build-arg {k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
            );
        }
        // The images the log names are stored as they come, so that a server killed mid-build
        // leaves the next start a list to check and clean up (janitor).
        let (printed_tx, printed_rx) = watch::channel(Vec::<String>::new());
        let persist = tokio::spawn(persist_printed_images(
            self.store.clone(),
            id.clone(),
            printed_rx,
        ));
        let mut on_progress = |progress: BuildProgress| match progress {
            BuildProgress::Line(text) => record.log(LogPhase::Build, text),
            BuildProgress::Step(step) => record.update(|v| v.step = Some(step)),
            BuildProgress::Image(image) => {
                let mut state = lock(&record.state);
                if state.intermediate_ids.len() < MAX_PRINTED_IMAGES
                    && !state.intermediate_ids.contains(&image)
                {
                    state.intermediate_ids.push(image);
                    let ids = state.intermediate_ids.clone();
                    printed_tx.send_replace(ids);
                }
            }
            BuildProgress::Restarted(why) => record.log(LogPhase::Server, why),
            BuildProgress::LogTruncated => {
                record.log(
                    LogPhase::Server,
                    format!(
                        "[the log passed {} KiB; later lines are not shown]",
                        self.settings.build.max_log_bytes / 1024
                    ),
                );
                record.update(|v| v.log_truncated = true);
            }
        };
        // A check that the learner's build takes nothing from the cache needs the cache
        // filled first: the same files, built once as usual.
        let warmed = match exercise
            .as_ref()
            .filter(|e| e.checks.iter().any(|c| c.check.needs_warm_cache()))
        {
            Some(e) => Some(self.fill_cache(&docker, &record, e, &context).await),
            None => None,
        };
        let outcome = build_within_policy(&docker, self.engine.host(), job, &mut on_progress).await;
        if warmed.is_some() {
            // Only its step images' ids are needed from here on.
            self.remove_fill_build(&docker, &record, exercise.as_ref())
                .await;
        }
        drop(printed_tx);
        let _ = persist.await;
        let built = match outcome {
            Ok(built) => built,
            Err(failure) => {
                return self
                    .fail(&record, exercise.as_ref(), &context, failure)
                    .await
            }
        };
        let stage_images = self
            .own_stage_images(&docker, &record, &exercise_id, &built)
            .await;
        lock(&record.state).stage_images = stage_images;

        let (image, config) = match image_facts(&docker, &built.image_id).await {
            Ok(facts) => facts,
            Err(e) => {
                let failure = engine_build::engine_unavailable(self.engine.host(), &e);
                return self
                    .fail(&record, exercise.as_ref(), &context, failure)
                    .await;
            }
        };
        record.update(|v| v.image = Some(image.clone()));
        // The engine labels the image after the last step the log shows (layerlab's own
        // labels), which gives it a new id: say which id the result is about.
        record.log(
            LogPhase::Server,
            format!(
                "Built image {} (with layerlab's labels); reading its size and layers…",
                image
                    .id
                    .trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect::<String>()
            ),
        );
        let max_image = self.settings.build.max_image_bytes;
        // The stages this build made stay on the disk too (as the next build's cache): what
        // they add above their bases counts with the image.
        let own_stages = lock(&record.state).stage_images.clone();
        let stage_bytes = stage_bytes_added(&docker, &built, &own_stages).await;
        if image.size_bytes + stage_bytes > max_image {
            let remove = RemoveImageOptionsBuilder::new().force(true).build();
            let _ = docker.remove_image(&tag, Some(remove), None).await;
            let what = if stage_bytes > 0 {
                format!(
                    "The image is {} and the earlier stages it was built from add {} more",
                    app::dto::human_size(image.size_bytes),
                    app::dto::human_size(stage_bytes)
                )
            } else {
                format!("The image is {}", app::dto::human_size(image.size_bytes))
            };
            let failure = BuildFailure {
                code: "image_too_large".into(),
                message: format!(
                    "{what}, more than the {} this workshop keeps, so it was removed. Leave out build tools and files the program does not need (a multi-stage build helps).",
                    app::dto::human_size(max_image)
                ),
                line: None,
            };
            return self
                .fail(&record, exercise.as_ref(), &context, failure)
                .await;
        }

        let run = match run_plan(exercise.as_ref(), &config) {
            Some(RunStep {
                command,
                timeout,
                probe,
                stop,
            }) => {
                record.update(|v| v.status = BuildStatus::Running);
                let limits = RunLimits {
                    timeout: timeout.unwrap_or(self.settings.run.timeout),
                    ..self.settings.run.clone()
                };
                let job = RunJob {
                    image: &built.image_id,
                    command,
                    entrypoint: None,
                    env: Vec::new(),
                    labels: container_labels.clone(),
                    probe,
                    stop,
                    watch_health: None,
                    freeze_when_healthy: false,
                    limits: &limits,
                };
                let mut on_line = |line: String| record.log(LogPhase::Run, line);
                match engine_run::run(&docker, self.engine.host(), job, &mut on_line).await {
                    Ok(run) => Some(run),
                    Err(failure) => {
                        // The image is there: what can be judged without the run is.
                        let facts = Facts {
                            image: Some(&image),
                            config: Some(&config),
                            stages: Some(built.stages()),
                            ..Facts::default()
                        };
                        let checks = exercise.as_ref().map(|e| e.judge(facts));
                        return self
                            .fail_judged(&record, exercise.as_ref(), &context, failure, checks)
                            .await;
                    }
                }
            }
            None => None,
        };
        let mut extra = match &exercise {
            Some(e) => {
                self.check_facts(&docker, &record, e, &context, &built, &container_labels)
                    .await
            }
            None => ExtraFacts::default(),
        };
        if let Some(warmed) = warmed {
            extra.cache = Some(cache_taken(&docker, &built, &warmed).await);
        }
        let checks: Option<Vec<app::dto::CheckOutcome>> = exercise.as_ref().map(|e| {
            let facts = Facts {
                image: Some(&image),
                config: Some(&config),
                run: run.as_ref(),
                paths: Some(&extra.paths),
                commands: &extra.commands,
                stages: Some(built.stages()),
                rebuild: extra.rebuild.as_ref(),
                variants: &extra.variants,
                layer_paths: extra.layer_paths.as_ref(),
                texts: extra.texts.as_ref(),
                bases_under: extra.bases_under.as_deref(),
                cache: extra.cache.as_ref(),
            };
            e.judge(facts)
        });
        self.complete(&record, exercise.as_ref(), &context, |v| {
            v.status = BuildStatus::Succeeded;
            v.run = run;
            v.checks = checks;
        })
        .await;
        self.remove_superseded(&docker, &record, &exercise_id, &built.image_id, &tag)
            .await;
    }

    /// Why no build may start now for lack of disk, if so: the engine's data root has less
    /// free space than the floor (`--min-free-disk-mb`).
    pub async fn disk_too_full(&self, docker: &bollard::Docker) -> Option<BuildFailure> {
        let floor = self.settings.min_free_disk_bytes;
        if floor == 0 {
            return None;
        }
        let root = crate::engine::disk::engine_root(docker, self.engine.host()).await?;
        let free = crate::engine::disk::free_bytes(&root)?;
        (free < floor).then(|| {
            tracing::warn!(free, floor, root = %root.display(), "the engine's disk is below the floor: builds are refused");
            BuildFailure {
                code: "engine_disk_full".into(),
                message: format!(
                    "The build machine is almost out of disk space ({} free, it keeps at least {}), so no build can start right now. Your files are kept: try again in a few minutes, and tell your instructor if it keeps happening.",
                    app::dto::human_size(free),
                    app::dto::human_size(floor)
                ),
                line: None,
            }
        })
    }

    /// This build's stage images, as the engine knows them: the last image of each earlier
    /// stage, if the engine made it for this build (untagged, created since it started) or
    /// it is a stage image of one of this learner's earlier attempts at the exercise that
    /// this build took from the cache.
    async fn own_stage_images(
        &self,
        docker: &bollard::Docker,
        record: &BuildRecord,
        exercise_id: &str,
        built: &engine_build::Built,
    ) -> Vec<String> {
        let candidates = built.stage_images();
        if candidates.is_empty() {
            return Vec::new();
        }
        let mut own = crate::engine::image::made_since(docker, &candidates, built.started).await;
        let build_id = record.view().id;
        let earlier: Vec<String> = self
            .store
            .stage_images_besides(&record.owner, exercise_id, &build_id)
            .await
            .unwrap_or_default()
            .into_iter()
            .flat_map(|(_, images)| images)
            .collect();
        for candidate in &candidates {
            let already = own
                .iter()
                .any(|o| crate::engine::image::same_image(o, candidate));
            if let Some(kept) = earlier
                .iter()
                .find(|e| crate::engine::image::same_image(e, candidate))
            {
                if !already {
                    own.push(kept.clone());
                }
            }
        }
        own
    }

    /// Remove the images a build that did not succeed committed (its finished steps and
    /// stages): those its log named that the engine made after the build was submitted and
    /// that carry no tag. An image another one still needs (a child, a container) refuses
    /// removal, which is what we want.
    async fn remove_leftovers(&self, record: &BuildRecord) {
        let (printed, created_at) = {
            let mut state = lock(&record.state);
            state.stage_images.clear();
            (state.intermediate_ids.clone(), state.created_at)
        };
        if printed.is_empty() {
            return;
        }
        let Ok(docker) = self.engine.client().await else {
            return;
        };
        let since = std::time::UNIX_EPOCH
            + std::time::Duration::from_millis(u64::try_from(created_at).unwrap_or(0));
        let mut leftovers = crate::engine::image::made_since(&docker, &printed, since).await;
        let mut removed = 0;
        // The engine may still be removing the step container of a stopped step, which keeps
        // its image in use for a moment.
        for _ in 0..10 {
            removed += crate::engine::cleanup::remove_dangling(&docker, &leftovers).await;
            leftovers = crate::engine::image::made_since(&docker, &leftovers, since).await;
            if leftovers.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        if removed > 0 {
            tracing::info!(build = %record.view().id, removed, "removed the images of a build that did not succeed");
        }
        let _ = self.store.clear_stage_images(&record.view().id).await;
    }

    /// Labels on every image a learner builds: whose attempt (constant per learner and
    /// exercise, so a rebuild still hits the cache) and which installation made it (its
    /// janitor removes only its own).
    fn image_labels(&self, attempt: &str) -> HashMap<String, String> {
        HashMap::from([
            (engine_build::ATTEMPT_LABEL.to_string(), attempt.to_string()),
            (
                engine_build::INSTANCE_LABEL.to_string(),
                self.store.instance.clone(),
            ),
        ])
    }

    /// What some checks need beyond the build and the run: paths looked up in the image,
    /// extra commands run in it, and a second build after a change (for cache checks).
    async fn check_facts(
        &self,
        docker: &bollard::Docker,
        record: &BuildRecord,
        exercise: &Exercise,
        context: &BuildContext,
        built: &engine_build::Built,
        labels: &HashMap<String, String>,
    ) -> ExtraFacts {
        let mut extra = ExtraFacts::default();
        let checks = || exercise.checks.iter().map(|c| &c.check);
        let paths: Vec<String> = checks()
            .filter_map(|c| c.path().map(str::to_string))
            .collect();
        if !paths.is_empty() {
            match image_paths_exist(docker, &built.image_id, &paths).await {
                Ok(found) => extra.paths = found,
                Err(e) => tracing::warn!("looking up paths in the image: {e}"),
            }
        }
        for command in checks().filter_map(|c| c.command()) {
            record.log(
                LogPhase::Server,
                format!("Check: running `{}` in the image…", command.join(" ")),
            );
            let entrypoint = command.first().map(|c| vec![c.clone()]);
            let args = command.get(1..).map(<[String]>::to_vec);
            let job = self.check_job(&built.image_id, entrypoint, args, Vec::new(), labels);
            if let Some(run) = self.run_quietly(docker, job).await {
                extra.commands.push((command.to_vec(), run));
            }
        }
        for variant in checks().filter_map(|c| c.variant()) {
            let given = variant
                .env
                .iter()
                .cloned()
                .chain(variant.args.iter().map(|a| a.join(" ")))
                .collect::<Vec<_>>()
                .join(", ");
            let with = if given.is_empty() {
                String::new()
            } else {
                format!(" with {given}")
            };
            record.log(
                LogPhase::Server,
                match variant.watch_health {
                    Some(within) if variant.freeze => format!(
                        "Check: starting the container{with}, freezing its main process once the engine calls it healthy, and watching the health status (at most {} s)…",
                        within.as_secs()
                    ),
                    Some(within) => format!(
                        "Check: starting the container{with} and watching the engine's health status (at most {} s)…",
                        within.as_secs()
                    ),
                    None => format!("Check: running the image's own command{with}…"),
                },
            );
            let mut job = self.check_job(
                &built.image_id,
                None,
                variant.args.clone(),
                variant.env.clone(),
                labels,
            );
            job.watch_health = variant.watch_health;
            job.freeze_when_healthy = variant.freeze;
            let health_limits;
            if let Some(within) = variant.watch_health {
                // The wait the check allows, not the exercise's run time limit.
                health_limits = RunLimits {
                    timeout: within + std::time::Duration::from_secs(1),
                    ..self.settings.run.clone()
                };
                job.limits = &health_limits;
            }
            if let Some(run) = self.run_quietly(docker, job).await {
                extra.variants.push((variant, run));
            }
        }
        if checks().any(|c| c.needs_bases()) {
            extra.bases_under = crate::engine::image::bases_under(
                docker,
                &built.image_id,
                &self.settings.base_images,
            )
            .await;
        }
        if checks().any(|c| c.needs_layers()) {
            record.log(
                LogPhase::Server,
                "Check: reading every layer of the image…".into(),
            );
            // Every path of every layer: a check cannot judge from the biggest few (the
            // entries and their path bytes stay bounded).
            // (Bounded: past this many a layer's list is cut short, and a check that needs
            // it fails as not proven.)
            let limits = crate::engine::layers::LayerLimits {
                max_files_per_layer: MAX_CHECKED_PATHS_PER_LAYER,
                ..crate::engine::layers::LayerLimits::default()
            };
            let mut texts: Vec<String> = Vec::new();
            for text in checks().filter_map(|c| c.text_in_layers()) {
                if !texts.iter().any(|t| t == text) {
                    texts.push(text.to_string());
                }
            }
            // Shared with the layer explorer: at most two exports read at once on this
            // server, and none for longer than a build may take.
            let read = async {
                let _permit = self.explore_permits.acquire().await.ok();
                tokio::time::timeout(
                    self.settings.build.timeout,
                    crate::engine::layers::explore_finding(
                        docker,
                        &built.image_id,
                        &limits,
                        &texts,
                    ),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(crate::engine::layers::LayersError::Task(
                        "reading the layers took longer than a build may".into(),
                    ))
                })
            };
            match read.await {
                Ok((report, found)) => {
                    let mut in_layers = crate::exercise::check::TextsInLayers::default();
                    for f in found {
                        in_layers
                            .found
                            .entry(texts[f.text].clone())
                            .or_default()
                            .push((f.layer, f.path));
                    }
                    extra.texts = Some(in_layers);
                    let mut found = crate::exercise::check::LayerPaths::default();
                    for layer in &report.layers {
                        found.truncated |= layer.files_truncated;
                        for file in &layer.files {
                            if file.kind != app::dto::FileChange::Deleted {
                                found
                                    .paths
                                    .entry(file.path.trim_matches('/').to_string())
                                    .or_insert(layer.index + 1);
                            }
                        }
                    }
                    extra.layer_paths = Some(found);
                }
                Err(e) => tracing::warn!("reading the layers for a check: {e}"),
            }
        }
        if let Some(change) = checks().find_map(|c| c.rebuild_change()) {
            extra.rebuild = Some(
                self.rebuild_after_change(docker, record, exercise, context, built, change)
                    .await,
            );
        }
        extra
    }

    /// `context` with the files `exercise` provides beside the learner's (exported once per
    /// image and kept).
    async fn with_provided_files(
        &self,
        docker: &bollard::Docker,
        exercise: Option<&Exercise>,
        context: &BuildContext,
        labels: &HashMap<String, String>,
    ) -> Result<BuildContext, BuildFailure> {
        let provided = exercise.map(|e| e.provided.as_slice()).unwrap_or_default();
        if provided.is_empty() {
            return Ok(context.clone());
        }
        let unavailable = |path: &str, why: String| {
            BuildFailure {
            code: "provided_file_unavailable".into(),
            message: format!(
                "The exercise's file “{path}” could not be made on this engine: {why}. Your instructor has been told; try again later."
            ),
            line: None,
        }
        };
        let mut files = Vec::with_capacity(provided.len());
        for p in provided {
            let Some(id) = crate::engine::image::image_id(docker, &p.export).await else {
                tracing::error!(image = %p.export, "a provided file's image is missing");
                return Err(unavailable(
                    &p.path,
                    format!("the image {} is not on this engine", p.export),
                ));
            };
            // One export at a time, each image only once, and none for longer than a build.
            let mut kept = self.root_filesystems.lock().await;
            let bytes = match kept.get(&id) {
                Some(bytes) => bytes.clone(),
                None => {
                    let export = crate::engine::image::root_filesystem(docker, &id, labels.clone());
                    let exported = tokio::time::timeout(self.settings.build.timeout, export)
                        .await
                        .unwrap_or_else(|_| {
                            Err(anyhow::anyhow!("the export took longer than a build may"))
                        });
                    let bytes: Arc<[u8]> = exported
                        .map_err(|e| {
                            tracing::error!(image = %p.export, "exporting a provided file: {e:#}");
                            unavailable(&p.path, format!("{e:#}"))
                        })?
                        .into();
                    // A re-seeded image has a new ID: its old export is of no more use.
                    if kept.len() >= MAX_KEPT_EXPORTS {
                        kept.clear();
                    }
                    kept.insert(id, bytes.clone());
                    bytes
                }
            };
            files.push((p.path.clone(), bytes));
        }
        context.with_provided(files).map_err(|e| BuildFailure {
            code: e.code().into(),
            message: e.to_string(),
            line: None,
        })
    }

    /// A run of the built image for a check: the run limits, no probe, nothing to stop.
    fn check_job<'a>(
        &'a self,
        image: &'a str,
        entrypoint: Option<Vec<String>>,
        command: Option<Vec<String>>,
        env: Vec<String>,
        labels: &HashMap<String, String>,
    ) -> RunJob<'a> {
        RunJob {
            image,
            entrypoint,
            command,
            env,
            labels: labels.clone(),
            probe: None,
            stop: None,
            watch_health: None,
            freeze_when_healthy: false,
            limits: &self.settings.run,
        }
    }

    /// Run `job` without showing its output (the check that asked for it judges that).
    async fn run_quietly(
        &self,
        docker: &bollard::Docker,
        job: RunJob<'_>,
    ) -> Option<app::dto::RunFacts> {
        let mut quiet = |_line: String| {};
        engine_run::run(docker, self.engine.host(), job, &mut quiet)
            .await
            .ok()
    }

    async fn rebuild_after_change(
        &self,
        docker: &bollard::Docker,
        record: &BuildRecord,
        exercise: &Exercise,
        context: &BuildContext,
        first: &engine_build::Built,
        change: &str,
    ) -> RebuildFacts {
        let mut facts = RebuildFacts {
            changed: change.to_string(),
            rebuilt: Vec::new(),
            error: None,
        };
        let Some(changed) =
            context.with_appended(change, "\n# changed by layerlab's cache check\n")
        else {
            facts.error = Some(format!("there is no file called {change}"));
            return facts;
        };
        record.log(
            LogPhase::Server,
            format!(
                "Check: changing {change} and building again to see which steps the cache saves…"
            ),
        );
        let id = format!("{}-rebuild", record.view().id);
        let attempt = format!("{}/{}", record.owner, exercise.id);
        let tag = format!("layerlab/{}:{id}", exercise.id);
        let job = BuildJob {
            build_id: &id,
            context: &changed,
            tag: tag.clone(),
            labels: self.image_labels(&attempt),
            network: exercise.build_network,
            build_args: exercise.build_args.clone(),
            // Judged against the first build's own chain, whatever other learners built.
            cache_from: vec![first.image_id.clone()],
            no_cache: false,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
        };
        let mut on_progress = steps_only(record);
        match build_within_policy(docker, self.engine.host(), job, &mut on_progress).await {
            Ok(rebuilt) => {
                facts.rebuilt = rebuilt_steps(docker, first, &rebuilt).await;
                let remove = RemoveImageOptionsBuilder::new().force(true).build();
                let _ = docker.remove_image(&tag, Some(remove), None).await;
                // The rebuild's own new stage images are not kept.
                let stages = crate::engine::image::made_since(
                    docker,
                    &rebuilt.stage_images(),
                    rebuilt.started,
                )
                .await;
                crate::engine::cleanup::remove_dangling(docker, &stages).await;
            }
            Err(failure) => facts.error = Some(failure.message),
        }
        facts
    }

    /// Build `context` once as usual (tag `<id>-fill`), so that the cache holds every step
    /// before the learner's build runs.
    async fn fill_cache(
        &self,
        docker: &bollard::Docker,
        record: &BuildRecord,
        exercise: &Exercise,
        context: &BuildContext,
    ) -> Result<engine_build::Built, String> {
        record.log(
            LogPhase::Server,
            "Check: building your files once as usual first, so that the cache holds every step (as an earlier build would have left it)…".into(),
        );
        let id = format!("{}-fill", record.view().id);
        let attempt = format!("{}/{}", record.owner, exercise.id);
        let job = BuildJob {
            build_id: &id,
            context,
            tag: format!("layerlab/{}:{id}", exercise.id),
            labels: self.image_labels(&attempt),
            network: exercise.build_network,
            build_args: exercise.build_args.clone(),
            cache_from: Vec::new(),
            no_cache: false,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
        };
        // Its step images are noted with the build's own, so that a cancelled or failed
        // build removes them too.
        let mut made = Vec::new();
        let started = std::time::SystemTime::now();
        let mut log_steps = steps_only(record);
        let mut on_progress = |progress: BuildProgress| match progress {
            BuildProgress::Image(image) => {
                let mut state = lock(&record.state);
                if state.intermediate_ids.len() < MAX_PRINTED_IMAGES {
                    state.intermediate_ids.push(image.clone());
                }
                made.push(image);
            }
            other => log_steps(other),
        };
        let outcome = build_within_policy(docker, self.engine.host(), job, &mut on_progress).await;
        if outcome.is_err() {
            let own = crate::engine::image::made_since(docker, &made, started).await;
            crate::engine::cleanup::remove_dangling(docker, &own).await;
        }
        outcome.map_err(|failure| failure.message)
    }

    /// Remove the image [`Self::fill_cache`] made (its steps go with it unless the learner's
    /// build took them from the cache, which keeps them).
    async fn remove_fill_build(
        &self,
        docker: &bollard::Docker,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
    ) {
        let Some(exercise) = exercise else { return };
        let tag = format!("layerlab/{}:{}-fill", exercise.id, record.view().id);
        let remove = RemoveImageOptionsBuilder::new().force(true).build();
        let _ = docker.remove_image(&tag, Some(remove), None).await;
    }

    async fn fail(
        &self,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        context: &BuildContext,
        failure: BuildFailure,
    ) {
        let checks = exercise.map(|e| e.judge(Facts::default()));
        self.fail_judged(record, exercise, context, failure, checks)
            .await;
    }

    /// [`Self::fail`] with the checks already judged on what was known when it failed.
    async fn fail_judged(
        &self,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        context: &BuildContext,
        failure: BuildFailure,
        checks: Option<Vec<app::dto::CheckOutcome>>,
    ) {
        // Scripts following the log read why it ended there too (the workbench shows it once,
        // in the result, and leaves this line out).
        record.log(LogPhase::Server, failure.message.clone());
        self.remove_leftovers(record).await;
        self.complete(record, exercise, context, |v| {
            v.status = BuildStatus::Failed;
            v.error = Some(failure);
            v.checks = checks;
        })
        .await;
    }

    /// The end of every build: unlock hints, store the attempt, then tell the learner (`done`)
    /// and anyone watching the learner's cohort. Storing comes first, so a page loaded right
    /// after `done` already counts this attempt.
    async fn complete(
        &self,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        context: &BuildContext,
        change: impl FnOnce(&mut BuildView),
    ) {
        let (mut view, log, created_at, stage_images) = {
            let state = lock(&record.state);
            (
                state.view.clone(),
                state.log.to_vec(),
                state.created_at,
                state.stage_images.clone(),
            )
        };
        change(&mut view);
        view.queue_position = None;
        let mut attempt = Attempt {
            id: view.id.clone(),
            learner_id: record.owner.clone(),
            exercise: exercise.map_or(PLAYGROUND, |e| e.id.as_str()).to_string(),
            view,
            files: context.files().clone(),
            log,
            stage_images,
            created_at,
            finished_at: crate::store::now_ms(),
            details_kept: true,
        };
        if let Some(exercise) = exercise {
            let pending = u32::from(attempt.missed());
            match crate::workbench::unlocked_hints(&self.store, exercise, &record.owner, pending)
                .await
            {
                Ok(hints) => attempt.view.hints = hints,
                Err(e) => tracing::error!("reading attempts for hints: {e}"),
            }
        }
        if let Err(e) = self.store.save_attempt(&attempt).await {
            tracing::error!("could not store attempt {}: {e}", attempt.id);
            record.log(
                LogPhase::Server,
                "This attempt could not be saved to your history; the result below is still right."
                    .into(),
            );
        }
        record.finish(attempt.view);
        self.progress.publish(&record.owner);
    }

    /// Keep one image per learner and exercise: remove the older ones (and, for multi-stage
    /// builds, the unlabelled stage images their builds left). A rebuild that hit the cache
    /// made the same image again: only its older tags go.
    async fn remove_superseded(
        &self,
        docker: &bollard::Docker,
        record: &BuildRecord,
        exercise_id: &str,
        keep: &str,
        keep_tag: &str,
    ) {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!(
                "{}={}/{exercise_id}",
                engine_build::ATTEMPT_LABEL,
                record.owner
            )],
        )]);
        let options = ListImagesOptionsBuilder::new().filters(&filters).build();
        let Ok(images) = docker.list_images(Some(options)).await else {
            return;
        };
        for image in images {
            let old_tags: Vec<&String> =
                image.repo_tags.iter().filter(|t| *t != keep_tag).collect();
            if image.id == keep {
                for tag in old_tags {
                    let _ = docker
                        .remove_image(
                            tag,
                            None::<bollard::query_parameters::RemoveImageOptions>,
                            None,
                        )
                        .await;
                }
            } else {
                let remove = RemoveImageOptionsBuilder::new().force(true).build();
                if let Err(e) = docker.remove_image(&image.id, Some(remove), None).await {
                    tracing::debug!(image = %image.id, "could not remove a superseded image: {e}");
                }
            }
        }
        // Stage images of this learner's earlier attempts, from the store: this also finds
        // those of builds made before a restart.
        let current: Vec<String> = lock(&record.state).intermediate_ids.clone();
        let build_id = lock(&record.state).view.id.clone();
        match self
            .store
            .stage_images_besides(&record.owner, exercise_id, &build_id)
            .await
        {
            Ok(earlier) => {
                for (attempt, stages) in earlier {
                    let stale: Vec<String> = stages
                        .into_iter()
                        .filter(|s| !current.contains(s))
                        .collect();
                    crate::engine::cleanup::remove_dangling(docker, &stale).await;
                    let _ = self.store.clear_stage_images(&attempt).await;
                }
            }
            Err(e) => tracing::warn!("could not list earlier stage images: {e}"),
        }
    }
}

/// Build `job` as the build policy allows: judged before the engine sees anything, and the
/// image that comes back checked again (see `policy`).
async fn build_within_policy(
    docker: &bollard::Docker,
    host: &str,
    job: BuildJob<'_>,
    on: &mut (dyn FnMut(BuildProgress) + Send),
) -> Result<engine_build::Built, BuildFailure> {
    let approved = crate::policy::check(docker, host, &job).await?;
    let tag = job.tag.clone();
    let built = engine_build::build(docker, host, job, on).await?;
    crate::policy::verify_built(docker, host, &approved, &built.image_id, &tag).await?;
    Ok(built)
}

/// At most this many image ids a build's log may name are remembered (a step could print
/// many; the builder names one per step).
const MAX_PRINTED_IMAGES: usize = 512;

/// Store the image ids a running build's log has named, each time the list grows.
async fn persist_printed_images(
    store: crate::store::Store,
    attempt: String,
    mut printed: watch::Receiver<Vec<String>>,
) {
    while printed.changed().await.is_ok() {
        let ids = printed.borrow_and_update().clone();
        if let Err(e) = store.set_stage_images(&attempt, &ids).await {
            tracing::warn!("could not note the images of build {attempt}: {e}");
        }
    }
}

/// For a check's own build: only its step headers and cache hits go to the learner's log.
fn steps_only(record: &BuildRecord) -> impl FnMut(BuildProgress) + Send + '_ {
    move |progress| {
        if let BuildProgress::Line(text) = progress {
            if text.starts_with("Step ") || text.contains("Using cache") {
                record.log(LogPhase::Server, format!("  {text}"));
            }
        }
    }
}

/// What a learner's build (`built`) took from the cache that the build before it (`warmed`)
/// filled: its `RUN`/`COPY`/`ADD` steps the builder said it took from the cache (` --->
/// Using cache`, which only the builder's own framing can say), or whose image the engine
/// made before this build started (from whichever earlier build).
async fn cache_taken(
    docker: &bollard::Docker,
    built: &engine_build::Built,
    warmed: &Result<engine_build::Built, String>,
) -> crate::exercise::check::CacheFacts {
    let steps: Vec<_> = built
        .steps
        .iter()
        .filter(|s| !s.header.is_empty() && matches!(s.keyword.as_str(), "RUN" | "COPY" | "ADD"))
        .collect();
    let images: Vec<String> = steps.iter().map(|s| s.image.clone()).collect();
    let made_now = crate::engine::image::made_since(docker, &images, built.started).await;
    crate::exercise::check::CacheFacts {
        steps: steps.len(),
        cached: steps
            .iter()
            .filter(|s| {
                s.cached
                    || !made_now
                        .iter()
                        .any(|m| crate::engine::image::same_image(m, &s.image))
            })
            .map(|s| s.header.clone())
            .collect(),
        error: warmed.as_ref().err().cloned(),
    }
}

/// The RUN/COPY/ADD steps of `rebuilt` that the engine really built again: their image is
/// none of `first`'s and was made after the rebuild started. Both are the engine's facts
/// (ids and creation times), so no printed line can make a step look cached.
async fn rebuilt_steps(
    docker: &bollard::Docker,
    first: &engine_build::Built,
    rebuilt: &engine_build::Built,
) -> Vec<String> {
    let mut out = Vec::new();
    for step in &rebuilt.steps {
        if step.header.is_empty() || !matches!(step.keyword.as_str(), "RUN" | "COPY" | "ADD") {
            continue;
        }
        // A step of the first build's own chain was cached.
        if first
            .steps
            .iter()
            .any(|s| crate::engine::image::same_image(&s.image, &step.image))
        {
            continue;
        }
        // Otherwise: made by this rebuild, or taken from the cache another way (restored
        // from the first build's history under `--cache-from`, which makes a new image ID
        // with the history's old creation time).
        let made_now = match crate::engine::image::created(docker, &step.image).await {
            Some(created) => created >= rebuilt.started,
            // An image the engine no longer has cannot be judged cached.
            None => true,
        };
        if made_now {
            out.push(step.header.clone());
        }
    }
    out
}

/// Bytes the build's own stage images (`own`) add above the images their stages start
/// from: what a multi-stage build keeps on the disk besides its image.
async fn stage_bytes_added(
    docker: &bollard::Docker,
    built: &engine_build::Built,
    own: &[String],
) -> u64 {
    let size = |id: String| async move {
        if id.is_empty() {
            return 0;
        }
        docker
            .inspect_image(&id)
            .await
            .ok()
            .and_then(|i| i.size)
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0)
    };
    let last_stage = built.steps.last().map_or(0, |s| s.stage);
    let mut total = 0;
    for stage in 0..last_stage {
        let steps = || built.steps.iter().filter(|s| s.stage == stage);
        let base = steps()
            .find(|s| s.keyword == "FROM")
            .map(|s| s.image.clone());
        let last = steps()
            .rfind(|s| s.keyword != "FROM" && !s.image.is_empty())
            .map(|s| s.image.clone());
        let (Some(base), Some(last)) = (base, last) else {
            continue;
        };
        if !own
            .iter()
            .any(|o| crate::engine::image::same_image(o, &last))
        {
            continue;
        }
        total += size(last).await.saturating_sub(size(base).await);
    }
    total
}

/// Facts only some checks need.
#[derive(Default)]
struct ExtraFacts {
    paths: std::collections::BTreeMap<String, bool>,
    commands: Vec<(Vec<String>, app::dto::RunFacts)>,
    rebuild: Option<RebuildFacts>,
    variants: Vec<(crate::exercise::check::RunVariant, app::dto::RunFacts)>,
    layer_paths: Option<crate::exercise::check::LayerPaths>,
    texts: Option<crate::exercise::check::TextsInLayers>,
    bases_under: Option<Vec<String>>,
    cache: Option<crate::exercise::check::CacheFacts>,
}

/// What to run after a build: the exercise's run step, or for the playground the image's own
/// command when it has one.
fn run_plan(exercise: Option<&Exercise>, config: &ImageConfigFacts) -> Option<RunStep> {
    match exercise {
        Some(e) => e.run.clone(),
        None => (config.cmd.is_some() || config.entrypoint.is_some()).then_some(RunStep {
            command: None,
            timeout: None,
            probe: None,
            stop: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(phase: LogPhase, text: &str) -> LogLine {
        LogLine {
            phase,
            text: text.into(),
        }
    }

    #[test]
    fn the_log_is_capped_in_lines_says_so_once_and_still_tells_the_end() {
        let mut log = SharedLog::default();
        let mut capped = 0;
        for _ in 0..500_000 {
            match log.push(line(LogPhase::Build, "")) {
                Kept::CapReached(notice) => {
                    capped += 1;
                    assert!(notice.text.contains("5000 lines"), "{}", notice.text);
                }
                Kept::Yes | Kept::No => {}
            }
        }
        assert_eq!(capped, 1, "said once");
        assert_eq!(log.lines, MAX_LOG_LINES + 1, "the lines and the notice");
        assert_eq!(
            log.push(line(LogPhase::Run, "more")),
            Kept::No,
            "the run is cut too"
        );
        assert_eq!(
            log.push(line(LogPhase::Server, "the step failed")),
            Kept::Yes
        );
        let all = log.to_vec();
        assert_eq!(all.len(), MAX_LOG_LINES + 2);
        assert_eq!(all.last().map(|l| l.text.as_str()), Some("the step failed"));
        for _ in 0..10_000 {
            log.push(line(LogPhase::Server, "x"));
        }
        assert!(log.lines <= MAX_LOG_LINES + SERVER_LINES_PAST_CAP);
    }

    #[test]
    fn the_log_is_capped_in_bytes_and_subscribers_share_its_chunks() {
        let mut log = SharedLog::default();
        let long = "x".repeat(1023);
        for _ in 0..1000 {
            log.push(line(LogPhase::Build, &long));
        }
        assert!(log.bytes <= MAX_LOG_BYTES + 200, "{}", log.bytes);
        assert!(log.capped);
        let first = log.chunks();
        let second = log.chunks();
        assert_eq!(first.len(), second.len());
        assert!(first.iter().zip(&second).all(|(a, b)| Arc::ptr_eq(a, b)));
        let lines: usize = first.iter().map(|c| c.len()).sum();
        assert_eq!(lines, log.lines);
    }
}
