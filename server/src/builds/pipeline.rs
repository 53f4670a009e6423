//! A build's way from its turn to its verdict: the engine builds within the policy, the image
//! is inspected and run, the checks judge it, and the attempt is stored; a build that fails or
//! is cancelled leaves nothing behind.

use super::checks::{cache_taken, ExtraFacts};
use super::*;
use app::dto::{ImageFacts, RunFacts};

/// Why a build stopped before its verdict, with the checks judged on what it had made.
struct Stopped {
    failure: BuildFailure,
    checks: Option<Vec<app::dto::CheckOutcome>>,
}

impl From<BuildFailure> for Stopped {
    /// Stopped before there was an image: every check is judged on nothing, and says so.
    fn from(failure: BuildFailure) -> Self {
        Stopped {
            failure,
            checks: None,
        }
    }
}

/// The cache-filling build's outcome (see `fill_cache`), for the check of what the cache gave.
type Warmed = Result<engine_build::Built, String>;

/// Say in the log how this build differs from a plain `docker build`.
fn log_build_options(record: &BuildRecord, job: &BuildJob<'_>) {
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
}

impl Builds {
    /// Stop what the cancelled build left on the engine — its run and check containers, its
    /// build cgroup, its image if it got that far, the images of the steps it committed —
    /// and store it as `cancelled`.
    pub(super) async fn cancelled(
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

    /// A build from its turn to its verdict, stage by stage; whichever stage stops it says
    /// why, with the checks judged on what had been made by then.
    pub(super) async fn pipeline(
        self: Arc<Self>,
        record: Arc<BuildRecord>,
        exercise: Option<Exercise>,
        context: BuildContext,
        previous_done: Option<watch::Receiver<bool>>,
    ) {
        // This build's arguments, and the checks that judge it with them filled in.
        let exercise = exercise.map(|e| {
            let args = e.args_for_a_build();
            e.with_build_args(&args)
        });
        let _builder = self.wait_for_turn(&record, previous_done).await;
        let exercise = exercise.as_ref();
        if let Err(stopped) = self.stages(&record, exercise, &context).await {
            let checks = stopped
                .checks
                .or_else(|| exercise.map(|e| e.judge(Facts::default())));
            self.fail_judged(&record, exercise, &context, stopped.failure, checks)
                .await;
        }
    }

    /// Wait for the learner's previous build to end, then for a builder; the learner sees
    /// their place in the queue meanwhile.
    async fn wait_for_turn(
        &self,
        record: &BuildRecord,
        previous_done: Option<watch::Receiver<bool>>,
    ) -> turns::Turn {
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
        let builder = entry.wait().await;
        record.update(|v| {
            v.status = BuildStatus::Building;
            v.queue_position = None;
        });
        builder
    }

    /// The stages, in order: connect, build, inspect, run, gather what the checks need,
    /// judge, and keep the verdict.
    async fn stages(
        &self,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        context: &BuildContext,
    ) -> Result<(), Stopped> {
        let docker = self.connect().await?;
        let exercise_id = exercise.map_or_else(|| PLAYGROUND.to_string(), |e| e.id.clone());
        let labels = self.container_labels(record, &exercise_id);
        let tag = format!("layerlab/{exercise_id}:{}", record.view().id);
        // The files the exercise provides go beside the learner's: what is built, and what a
        // check rebuilds, has them (the context stored with the attempt stays the learner's).
        let sent = self
            .with_provided_files(&docker, exercise, context, &labels)
            .await?;
        let (built, warmed) = self
            .build_stage(&docker, record, exercise, &sent, &labels, &tag)
            .await?;
        let (image, config) = self
            .inspect_stage(&docker, record, &exercise_id, &built, &tag)
            .await?;
        let run = self
            .run_stage(&docker, record, exercise, &built, &config, &labels)
            .await
            .map_err(|failure| {
                // The image is there: what can be judged without the run is.
                let facts = Facts {
                    image: Some(&image),
                    config: Some(&config),
                    stages: Some(built.stages()),
                    ..Facts::default()
                };
                Stopped {
                    failure,
                    checks: exercise.map(|e| e.judge(facts)),
                }
            })?;
        let mut extra = match exercise {
            Some(e) => {
                self.check_facts(&docker, record, e, &sent, &built, &labels)
                    .await
            }
            None => ExtraFacts::default(),
        };
        if let Some(warmed) = warmed {
            extra.cache = Some(cache_taken(&docker, &built, &warmed).await);
        }
        let checks = exercise.map(|e| {
            e.judge(Facts {
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
                registry: extra.registry.as_ref(),
                own_base: built.own_base.as_deref(),
                // Judged after a push of this build (`rejudge_pushed`).
                pulled_back: None,
            })
        });
        self.complete(record, exercise, context, |v| {
            v.status = BuildStatus::Succeeded;
            v.run = run;
            v.checks = checks;
        })
        .await;
        self.remove_superseded(&docker, record, &exercise_id, &built.image_id, &tag)
            .await;
        Ok(())
    }

    /// A connection to the engine, with room on its disk for a build.
    pub(super) async fn connect(&self) -> Result<Client, BuildFailure> {
        let docker = self.engine.client().await.map_err(|problem| BuildFailure {
            code: "engine_unavailable".into(),
            message: format!(
                "Builds are unavailable right now: {}",
                crate::engine::without_address(self.engine.host(), &problem)
            ),
            line: None,
        })?;
        match self.disk_too_full(&docker).await {
            Some(failure) => Err(failure),
            None => Ok(docker),
        }
    }

    /// The labels of every container this build starts (its runs and checks): whose, which
    /// build, which installation, which exercise.
    fn container_labels(&self, record: &BuildRecord, exercise_id: &str) -> HashMap<String, String> {
        self.labels_for(&record.owner, &record.view().id, exercise_id)
    }

    /// The labels of a container started for `owner`'s build `build` of `exercise_id`.
    pub(super) fn labels_for(
        &self,
        owner: &str,
        build: &str,
        exercise_id: &str,
    ) -> HashMap<String, String> {
        let attempt = format!("{owner}/{exercise_id}");
        HashMap::from([
            (engine_build::ATTEMPT_LABEL.to_string(), attempt),
            (engine_build::BUILD_LABEL.to_string(), build.to_string()),
            (engine_build::OWNER_LABEL.to_string(), owner.to_string()),
            (
                engine_build::INSTANCE_LABEL.to_string(),
                self.store.instance.clone(),
            ),
            (
                engine_build::EXERCISE_LABEL.to_string(),
                exercise_id.to_string(),
            ),
        ])
    }

    /// Build `context` (the learner's files with the exercise's provided ones) within the
    /// policy, its log and step images followed as they come; first filling the cache when a
    /// check needs it filled.
    async fn build_stage(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        context: &BuildContext,
        labels: &HashMap<String, String>,
        tag: &str,
    ) -> Result<(engine_build::Built, Option<Warmed>), BuildFailure> {
        let id = record.view().id;
        let attempt = labels[engine_build::ATTEMPT_LABEL].clone();
        let job = BuildJob {
            build_id: &id,
            context,
            tag: tag.to_string(),
            labels: self.image_labels(&attempt),
            network: exercise.is_some_and(|e| e.build_network),
            build_args: exercise.map(|e| e.build_args.clone()).unwrap_or_default(),
            cache_from: Vec::new(),
            no_cache: record.view().no_cache,
            limits: &self.settings.build,
            base_images: &self.settings.base_images,
            registry: self.registry_login(&record.owner),
            console_prefix: None,
            console_owner: None,
        };
        log_build_options(record, &job);
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
        let warmed = match exercise.filter(|e| e.checks.iter().any(|c| c.check.needs_warm_cache()))
        {
            Some(e) => Some(self.fill_cache(docker, record, e, context).await),
            None => None,
        };
        let outcome = self
            .build_within_policy(docker, job, &mut on_progress)
            .await;
        if warmed.is_some() {
            // Only its step images' ids are needed from here on.
            self.remove_fill_build(docker, record, exercise).await;
        }
        drop(printed_tx);
        let _ = persist.await;
        Ok((outcome?, warmed))
    }

    /// What the engine says of the image: its facts and configuration. An image that, with
    /// the stages it was built from, is bigger than the workshop keeps is removed.
    async fn inspect_stage(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise_id: &str,
        built: &engine_build::Built,
        tag: &str,
    ) -> Result<(ImageFacts, ImageConfigFacts), BuildFailure> {
        let stage_images = self
            .own_stage_images(docker, record, exercise_id, built)
            .await;
        lock(&record.state).stage_images = stage_images;
        let (image, config) = image_facts(docker, &built.image_id).await?;
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
        let stage_bytes = stage_bytes_added(docker, built, &own_stages).await;
        if image.size_bytes + stage_bytes <= max_image {
            return Ok((image, config));
        }
        let _ = docker.remove_image(tag).await;
        let what = if stage_bytes > 0 {
            format!(
                "The image is {} and the earlier stages it was built from add {} more",
                app::dto::human_size(image.size_bytes),
                app::dto::human_size(stage_bytes)
            )
        } else {
            format!("The image is {}", app::dto::human_size(image.size_bytes))
        };
        Err(BuildFailure {
            code: "image_too_large".into(),
            message: format!(
                "{what}, more than the {} this workshop keeps, so it was removed. Leave out build tools and files the program does not need (a multi-stage build helps).",
                app::dto::human_size(max_image)
            ),
            line: None,
        })
    }

    /// Run the image as the exercise (or, in the playground, the image's own command) says;
    /// `None` when there is nothing to run.
    async fn run_stage(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise: Option<&Exercise>,
        built: &engine_build::Built,
        config: &ImageConfigFacts,
        labels: &HashMap<String, String>,
    ) -> Result<Option<RunFacts>, BuildFailure> {
        let Some(RunStep {
            command,
            timeout,
            probe,
            stop,
        }) = run_plan(exercise, config)
        else {
            return Ok(None);
        };
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
            labels: labels.clone(),
            probe,
            stop,
            watch_health: None,
            freeze_when_healthy: false,
            limits: &limits,
        };
        let mut on_line = |line: String| record.log(LogPhase::Run, line);
        engine_run::run(docker, job, &mut on_line).await.map(Some)
    }

    /// Why no build may start now for lack of disk, if so: the engine's data root has less
    /// free space than the floor (`--min-free-disk-mb`).
    pub async fn disk_too_full(&self, docker: &Client) -> Option<BuildFailure> {
        let floor = self.settings.min_free_disk_bytes;
        if floor == 0 {
            return None;
        }
        let root = crate::engine::disk::engine_root(docker).await?;
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
    pub(super) async fn own_stage_images(
        &self,
        docker: &Client,
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
    pub(super) async fn remove_leftovers(&self, record: &BuildRecord) {
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
    pub(super) fn image_labels(&self, attempt: &str) -> HashMap<String, String> {
        // (The owner too, whose docker console lists the image; the engine's labels win over
        // a Dockerfile's `LABEL` of the same name.)
        let owner = attempt.split('/').next().unwrap_or_default();
        HashMap::from([
            (engine_build::ATTEMPT_LABEL.to_string(), attempt.to_string()),
            (engine_build::OWNER_LABEL.to_string(), owner.to_string()),
            (
                engine_build::INSTANCE_LABEL.to_string(),
                self.store.instance.clone(),
            ),
        ])
    }

    /// End the build as failed, with the checks judged on what was known when it failed;
    /// what it left on the engine goes.
    pub(super) async fn fail_judged(
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
    pub(super) async fn complete(
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
    pub(super) async fn remove_superseded(
        &self,
        docker: &Client,
        record: &BuildRecord,
        exercise_id: &str,
        keep: &str,
        keep_tag: &str,
    ) {
        let label = format!(
            "{}={}/{exercise_id}",
            engine_build::ATTEMPT_LABEL,
            record.owner
        );
        let Some(images) = docker.images_labelled(&label).await else {
            return;
        };
        // (An image the learner's console built on this one inherits its labels, as does
        // one they named in their console: theirs, whatever the workbench keeps.)
        let console_built = self
            .store
            .console_images(&record.owner)
            .await
            .unwrap_or_default();
        for image in images {
            let held = docker.holds_any(&image.tags) || console_built.contains(&image.id);
            match superseded(&image.id, &image.tags, keep, keep_tag, held) {
                Superseded::Untag(old_tags) => {
                    for tag in old_tags {
                        let _ = docker.untag(tag).await;
                    }
                }
                Superseded::Remove => {
                    if let Err(e) = docker.remove_image(&image.id).await {
                        tracing::debug!(image = %image.id, "could not remove a superseded image: {e}");
                    }
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

/// What becomes of an image of the learner's earlier builds of an exercise once a newer one
/// is kept.
#[derive(Debug, PartialEq)]
pub(super) enum Superseded<'a> {
    /// Take off these names of layerlab's (the image goes with its last name).
    Untag(Vec<&'a String>),
    /// Remove the image.
    Remove,
}

/// The image `id` named `tags`, when the build kept is `keep` (tagged `keep_tag`): the kept
/// image loses only its older names; an image `held` — by a push or pull in flight (a push
/// names it in the registry's name for a moment, a build pulling the learner's own push
/// too), or by the learner's console (a name they gave it there, or their console built it
/// on this one) — loses only layerlab's names, so that the push, the build or the console
/// using it is not cut short, and goes when its last name is taken off; any other is
/// removed.
pub(super) fn superseded<'a>(
    id: &str,
    tags: &'a [String],
    keep: &str,
    keep_tag: &str,
    held: bool,
) -> Superseded<'a> {
    let ours = |t: &&String| t.starts_with("layerlab/");
    let old_tags: Vec<&String> = tags
        .iter()
        .filter(ours)
        .filter(|t| *t != keep_tag)
        .collect();
    // (`learner-…-<installation>/web:1`: a name the learner gave it in their console.)
    let console_named = tags.iter().any(|t| t.starts_with("learner-"));
    if id == keep || held || console_named {
        Superseded::Untag(old_tags)
    } else {
        Superseded::Remove
    }
}

/// Store the image ids a running build's log has named, each time the list grows.
pub(super) async fn persist_printed_images(
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

/// Bytes the build's own stage images (`own`) add above the images their stages start
/// from: what a multi-stage build keeps on the disk besides its image.
pub(super) async fn stage_bytes_added(
    docker: &Client,
    built: &engine_build::Built,
    own: &[String],
) -> u64 {
    let size = |id: String| async move {
        if id.is_empty() {
            return 0;
        }
        docker.image_size(&id).await.unwrap_or(0)
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

/// What to run after a build: the exercise's run step, or for the playground the image's own
/// command when it has one.
pub(super) fn run_plan(exercise: Option<&Exercise>, config: &ImageConfigFacts) -> Option<RunStep> {
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
    use super::{superseded, Superseded};

    #[test]
    fn an_image_a_push_or_a_build_still_names_is_not_removed_under_it() {
        let tags = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let keep_tag = "layerlab/a:new";
        // An older image with only layerlab's names goes.
        let old = tags(&["layerlab/a:old"]);
        assert_eq!(
            superseded("sha256:old", &old, "sha256:new", keep_tag, false),
            Superseded::Remove
        );
        // A registry name nothing of layerlab's holds (an instructor's own pull on this
        // engine, a name a killed run left) keeps nothing.
        let left = tags(&["layerlab/a:old", "127.0.0.1:5100/learner-1/app:1"]);
        assert_eq!(
            superseded("sha256:old", &left, "sha256:new", keep_tag, false),
            Superseded::Remove
        );
        // One being pushed (or pulled for a build) loses only layerlab's names.
        let pushing = tags(&["layerlab/a:old", "127.0.0.1:5100/learner-1/app:1"]);
        assert_eq!(
            superseded("sha256:old", &pushing, "sha256:new", keep_tag, true),
            Superseded::Untag(vec![&pushing[0]])
        );
        // One the learner named in their console (or built on in it: `held`) is theirs too.
        let named = tags(&["layerlab/a:old", "learner-1-abcd/base:latest"]);
        assert_eq!(
            superseded("sha256:old", &named, "sha256:new", keep_tag, false),
            Superseded::Untag(vec![&named[0]])
        );
        // The kept image loses its older names only.
        let kept = tags(&["layerlab/a:old", keep_tag, "127.0.0.1:5100/learner-1/app:1"]);
        assert_eq!(
            superseded("sha256:new", &kept, "sha256:new", keep_tag, false),
            Superseded::Untag(vec![&kept[0]])
        );
    }
}
