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
use crate::state::ProgressSender;
use crate::store::{Attempt, Store};
use app::dto::{
    build_events_url, BuildAccepted, BuildFailure, BuildRequest, BuildStatus, BuildView,
    LayerReport, LogLine, LogPhase, StatusUpdate,
};
use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch, Semaphore};

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
            janitor_every: crate::janitor::SWEEP_EVERY,
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
    #[error("You started {limit} builds in the last minute, the most one person may. Try again in {retry_after} s.")]
    RateLimited { limit: usize, retry_after: u64 },
}

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
    log: Vec<LogLine>,
    intermediate_ids: Vec<String>,
}

impl BuildRecord {
    pub fn view(&self) -> BuildView {
        lock(&self.state).view.clone()
    }

    /// Everything so far, plus a receiver for what comes next: nothing is missed or repeated
    /// because both are taken under the same lock the publisher holds.
    pub fn subscribe(&self) -> (BuildView, Vec<LogLine>, broadcast::Receiver<BuildEvent>) {
        let state = lock(&self.state);
        (
            state.view.clone(),
            state.log.clone(),
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

    fn log(&self, phase: LogPhase, text: String) {
        let mut state = lock(&self.state);
        let line = LogLine { phase, text };
        state.log.push(line.clone());
        let _ = self.events.send(BuildEvent::Log(line));
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every build this server knows about.
pub struct Builds {
    engine: Arc<Engine>,
    exercises: Arc<Exercises>,
    settings: BuildSettings,
    records: Mutex<HashMap<String, Arc<BuildRecord>>>,
    /// Ids in the order they were submitted, for queue positions and eviction.
    order: Mutex<Vec<String>>,
    permits: Arc<Semaphore>,
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
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Arc::new(Builds {
            engine,
            exercises,
            settings,
            records: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            permits,
            store,
            progress,
            recent: Mutex::new(HashMap::new()),
            layer_reports: Mutex::new(std::collections::VecDeque::new()),
            explore_permits: Semaphore::new(2),
        })
    }

    /// Refuse a learner who started `rate_per_minute` builds in the last minute, saying when
    /// the oldest of them leaves the window. Accepted builds are counted in `submit`.
    fn check_rate(&self, owner: &str) -> Result<(), SubmitError> {
        let limit = self.settings.rate_per_minute;
        if limit == 0 {
            return Ok(());
        }
        let window = std::time::Duration::from_secs(60);
        let now = std::time::Instant::now();
        let mut recent = lock(&self.recent);
        recent.retain(|_, times| {
            times.retain(|t| now.duration_since(*t) < window);
            !times.is_empty()
        });
        match recent.get(owner) {
            Some(times) if times.len() >= limit => {
                let oldest = times.front().copied().unwrap_or(now);
                let wait = window.saturating_sub(now.duration_since(oldest));
                Err(SubmitError::RateLimited {
                    limit,
                    retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                })
            }
            _ => Ok(()),
        }
    }

    fn count_for_rate(&self, owner: &str) {
        if self.settings.rate_per_minute > 0 {
            lock(&self.recent)
                .entry(owner.to_string())
                .or_default()
                .push_back(std::time::Instant::now());
        }
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
        let docker = self
            .engine
            .client()
            .await
            .map_err(ExploreError::EngineUnavailable)?;
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
        self.check_rate(owner)?;
        self.engine
            .check()
            .await
            .map_err(SubmitError::EngineUnavailable)?;

        let id = uuid::Uuid::new_v4().simple().to_string();
        let (record, previous) = {
            let mut records = lock(&self.records);
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
            let record = Arc::new(BuildRecord {
                owner: owner.to_string(),
                state: Mutex::new(RecordState {
                    view,
                    created_at: crate::store::now_ms(),
                    log: Vec::new(),
                    intermediate_ids: Vec::new(),
                }),
                events,
                cancel: watch::channel(false).0,
                done: watch::channel(false).0,
            });
            records.insert(id.clone(), record.clone());
            (record, previous)
        };
        self.remember(&id);
        self.count_for_rate(owner);
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

    fn queue_position(&self, id: &str) -> usize {
        let order = lock(&self.order);
        let records = lock(&self.records);
        order
            .iter()
            .take_while(|other| other.as_str() != id)
            .filter(|other| {
                records
                    .get(other.as_str())
                    .is_some_and(|r| lock(&r.state).view.status == BuildStatus::Queued)
            })
            .count()
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
    /// build cgroup, its image if it got that far — and store it as `cancelled`. The images
    /// of steps it finished are kept with the attempt as stage images: the next build may
    /// reuse them from the cache, and the janitor removes those it does not.
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
            crate::janitor::remove_build_containers(&docker, &id).await;
            crate::janitor::remove_build_images(&docker, &[id.clone(), format!("{id}-rebuild")])
                .await;
        }
        for build in [id.clone(), format!("{id}-rebuild")] {
            crate::engine::BuildCgroup::of_build(&build)
                .remove_within(std::time::Duration::from_secs(20))
                .await;
        }
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
        if let Some(mut previous) = previous_done {
            let _ = previous.wait_for(|d| *d).await;
        }
        if self.permits.available_permits() == 0 {
            let position = self.queue_position(&id);
            record.update(|v| v.queue_position = Some(position));
            record.log(
                LogPhase::Server,
                format!("Waiting for a free builder ({position} ahead of you)…"),
            );
        }
        let Ok(_permit) = self.permits.clone().acquire_owned().await else {
            return;
        };
        record.update(|v| {
            v.status = BuildStatus::Building;
            v.queue_position = None;
        });
        let docker = match self.engine.client().await {
            Ok(d) => d,
            Err(problem) => {
                let failure = BuildFailure {
                    code: "engine_unavailable".into(),
                    message: format!("Builds are unavailable right now: {problem}"),
                    line: None,
                };
                return self
                    .fail(&record, exercise.as_ref(), &context, failure)
                    .await;
            }
        };
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
        let tag = format!("layerlab/{exercise_id}:{id}");
        let job = BuildJob {
            build_id: &id,
            context: &context,
            tag: tag.clone(),
            labels: image_labels,
            network: exercise.as_ref().is_some_and(|e| e.build_network),
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
        };
        let mut on_progress = |progress: BuildProgress| match progress {
            BuildProgress::Line(text) => record.log(LogPhase::Build, text),
            BuildProgress::Step(step) => record.update(|v| v.step = Some(step)),
            BuildProgress::Image(image) => lock(&record.state).intermediate_ids.push(image),
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
        let built =
            match engine_build::build(&docker, self.engine.host(), job, &mut on_progress).await {
                Ok(built) => built,
                Err(failure) => {
                    return self
                        .fail(&record, exercise.as_ref(), &context, failure)
                        .await
                }
            };
        lock(&record.state).intermediate_ids = built.intermediate_ids.clone();

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
        let max_image = self.settings.build.max_image_bytes;
        if image.size_bytes > max_image {
            let remove = RemoveImageOptionsBuilder::new().force(true).build();
            let _ = docker.remove_image(&tag, Some(remove), None).await;
            let failure = BuildFailure {
                code: "image_too_large".into(),
                message: format!(
                    "The image is {}, more than the {} this workshop keeps, so it was removed. Leave out build tools and files the program does not need (a multi-stage build helps).",
                    app::dto::human_size(image.size_bytes),
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
                    labels: container_labels.clone(),
                    probe,
                    stop,
                    limits: &limits,
                };
                let mut on_line = |line: String| record.log(LogPhase::Run, line);
                match engine_run::run(&docker, self.engine.host(), job, &mut on_line).await {
                    Ok(run) => Some(run),
                    Err(failure) => {
                        return self
                            .fail(&record, exercise.as_ref(), &context, failure)
                            .await
                    }
                }
            }
            None => None,
        };
        let extra = match &exercise {
            Some(e) => {
                self.check_facts(&docker, &record, e, &context, &built, &container_labels)
                    .await
            }
            None => ExtraFacts::default(),
        };
        let checks: Option<Vec<app::dto::CheckOutcome>> = exercise.as_ref().map(|e| {
            let facts = Facts {
                image: Some(&image),
                config: Some(&config),
                run: run.as_ref(),
                paths: Some(&extra.paths),
                commands: &extra.commands,
                stages: Some(built.stages()),
                rebuild: extra.rebuild.as_ref(),
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
            let job = RunJob {
                image: &built.image_id,
                entrypoint: command.first().map(|c| vec![c.clone()]),
                command: command.get(1..).map(<[String]>::to_vec),
                labels: labels.clone(),
                probe: None,
                stop: None,
                limits: &self.settings.run,
            };
            let mut quiet = |_line: String| {};
            if let Ok(run) = engine_run::run(docker, self.engine.host(), job, &mut quiet).await {
                extra.commands.push((command.to_vec(), run));
            }
        }
        if let Some(change) = checks().find_map(|c| c.rebuild_change()) {
            extra.rebuild = Some(
                self.rebuild_after_change(docker, record, exercise, context, change)
                    .await,
            );
        }
        extra
    }

    async fn rebuild_after_change(
        &self,
        docker: &bollard::Docker,
        record: &BuildRecord,
        exercise: &Exercise,
        context: &BuildContext,
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
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
        };
        let mut on_progress = |progress: BuildProgress| {
            if let BuildProgress::Line(text) = progress {
                if text.starts_with("Step ") || text.contains("Using cache") {
                    record.log(LogPhase::Server, format!("  {text}"));
                }
            }
        };
        match engine_build::build(docker, self.engine.host(), job, &mut on_progress).await {
            Ok(rebuilt) => {
                facts.rebuilt = rebuilt.rebuilt_steps();
                let remove = RemoveImageOptionsBuilder::new().force(true).build();
                let _ = docker.remove_image(&tag, Some(remove), None).await;
            }
            Err(failure) => facts.error = Some(failure.message),
        }
        facts
    }

    async fn fail(
        &self,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        context: &BuildContext,
        failure: BuildFailure,
    ) {
        let checks = exercise.map(|e| e.judge(Facts::default()));
        record.log(LogPhase::Server, failure.message.clone());
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
                state.log.clone(),
                state.created_at,
                state.intermediate_ids.clone(),
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
        };
        if let Some(exercise) = exercise {
            // One more hint after each attempt that does not pass; all stay open after that.
            let failed_before = match self.store.exercise_tallies(&record.owner).await {
                Ok(tallies) => tallies.get(&exercise.id).map_or(0, |t| t.failed),
                Err(e) => {
                    tracing::error!("reading attempts for hints: {e}");
                    0
                }
            };
            let failed = failed_before as usize + usize::from(attempt.missed());
            attempt.view.hints = exercise.hints.iter().take(failed).cloned().collect();
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
                    crate::janitor::remove_dangling(docker, &stale).await;
                    let _ = self.store.clear_stage_images(&attempt).await;
                }
            }
            Err(e) => tracing::warn!("could not list earlier stage images: {e}"),
        }
    }
}

/// Facts only some checks need.
#[derive(Default)]
struct ExtraFacts {
    paths: std::collections::BTreeMap<String, bool>,
    commands: Vec<(Vec<String>, app::dto::RunFacts)>,
    rebuild: Option<RebuildFacts>,
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
